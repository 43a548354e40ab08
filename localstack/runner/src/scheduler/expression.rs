//! Schedule expressions, as EventBridge Scheduler reads them: when a one-time `at()`
//! schedule is due, and whether it is still worth firing.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// `at(yyyy-mm-ddThh:mm:ss)`, Scheduler's one-time expression.
const AT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Time zone names that mean UTC (the IANA aliases of `Etc/UTC`). Scheduler's default.
const UTC_NAMES: [&str; 12] = [
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "Etc/Universal",
    "Universal",
    "Etc/Zulu",
    "Zulu",
    "GMT",
    "Etc/GMT",
    "Etc/Greenwich",
    "Greenwich",
];

/// What a `ScheduleExpression` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// `at(...)`: once, at this wall-clock time of the schedule's time zone.
    At(NaiveDateTime),
    /// `rate(...)` or `cron(...)`: recurring, not fired locally.
    Recurring,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("`{0}` is not an at(), rate() or cron() expression")]
    Unknown(String),
    #[error("`{0}` is not at(yyyy-mm-ddThh:mm:ss)")]
    BadAt(String),
    #[error(
        "time zone `{0}` is not supported locally (only UTC): the schedule is not fired, \
         rather than fired at the wrong time"
    )]
    Timezone(String),
}

impl Expression {
    /// As strict as Scheduler's CreateSchedule, which the emulator does not check: an
    /// expression AWS would refuse is refused here too, not fired.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        if let Some(rest) = text.strip_prefix("at(") {
            return rest
                .strip_suffix(')')
                .and_then(|inner| NaiveDateTime::parse_from_str(inner, AT_FORMAT).ok())
                .map(Self::At)
                .ok_or_else(|| ExpressionError::BadAt(text.to_owned()));
        }
        if text.starts_with("rate(") || text.starts_with("cron(") {
            return Ok(Self::Recurring);
        }
        Err(ExpressionError::Unknown(text.to_owned()))
    }
}

/// The instant a one-time schedule is due: its wall-clock time read in `timezone`
/// (`ScheduleExpressionTimezone`; none means UTC, as in Scheduler).
pub fn due_time(
    at: NaiveDateTime,
    timezone: Option<&str>,
) -> Result<DateTime<Utc>, ExpressionError> {
    match timezone.map(str::trim) {
        None | Some("") => Ok(at.and_utc()),
        Some(zone) if UTC_NAMES.iter().any(|utc| utc.eq_ignore_ascii_case(zone)) => {
            Ok(at.and_utc())
        }
        Some(zone) => Err(ExpressionError::Timezone(zone.to_owned())),
    }
}

/// Where a schedule stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Due in this long.
    NotYet(TimeDelta),
    /// Due, this late.
    Now(TimeDelta),
    /// Due longer ago than the retry policy's `MaximumEventAgeInSeconds`: Scheduler would
    /// have dropped the event by now, so it is not fired.
    Expired(TimeDelta),
}

pub fn due(due: DateTime<Utc>, now: DateTime<Utc>, max_event_age: TimeDelta) -> Due {
    let late = now - due;
    if late < TimeDelta::zero() {
        Due::NotYet(-late)
    } else if late > max_event_age {
        Due::Expired(late)
    } else {
        Due::Now(late)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn time(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .expect("a valid test time")
    }

    #[test]
    fn an_at_expression_is_read_to_the_second() {
        assert_eq!(
            Expression::parse("at(2026-03-01T12:34:56)"),
            Ok(Expression::At(time(12, 34, 56)))
        );
    }

    #[test]
    fn an_at_expression_of_another_form_is_rejected() {
        for text in [
            "at(2026-03-01 12:34:56)",
            "at(2026-03-01T12:34)",
            "at(2026-03-01T12:34:56Z)",
            "at(2026-03-01T12:34:56.500)",
            "at(2026-02-30T12:00:00)",
            "at()",
            "at( 2026-03-01T12:34:56 )",
            "at(2026-03-01T12:34:56",
        ] {
            assert!(
                matches!(Expression::parse(text), Err(ExpressionError::BadAt(_))),
                "{text} should be rejected"
            );
        }
    }

    #[test]
    fn rate_and_cron_expressions_are_recurring_and_anything_else_is_unknown() {
        assert_eq!(
            Expression::parse("rate(5 minutes)"),
            Ok(Expression::Recurring)
        );
        assert_eq!(
            Expression::parse("cron(0 12 * * ? *)"),
            Ok(Expression::Recurring)
        );
        for text in ["every 5 minutes", " at(2026-03-01T12:34:56)", ""] {
            assert!(
                matches!(Expression::parse(text), Err(ExpressionError::Unknown(_))),
                "{text} should be unknown"
            );
        }
    }

    #[test]
    fn an_at_time_without_a_time_zone_or_in_utc_is_read_as_utc() {
        let utc = time(8, 0, 0).and_utc();
        assert_eq!(due_time(time(8, 0, 0), None), Ok(utc));
        assert_eq!(due_time(time(8, 0, 0), Some("UTC")), Ok(utc));
        assert_eq!(due_time(time(8, 0, 0), Some("Etc/UTC")), Ok(utc));
        assert_eq!(due_time(time(8, 0, 0), Some("utc")), Ok(utc));
    }

    #[test]
    fn an_at_time_in_another_time_zone_is_refused_rather_than_misread() {
        assert_eq!(
            due_time(time(8, 0, 0), Some("Europe/Paris")),
            Err(ExpressionError::Timezone("Europe/Paris".to_owned()))
        );
    }

    #[test]
    fn a_schedule_is_not_due_before_its_time() {
        let at = time(8, 0, 0).and_utc();
        let now = at - TimeDelta::milliseconds(300);
        assert_eq!(
            due(at, now, TimeDelta::hours(1)),
            Due::NotYet(TimeDelta::milliseconds(300))
        );
    }

    #[test]
    fn a_schedule_is_due_from_its_time_on() {
        let at = time(8, 0, 0).and_utc();
        assert_eq!(
            due(at, at, TimeDelta::hours(1)),
            Due::Now(TimeDelta::zero())
        );
        assert_eq!(
            due(at, at + TimeDelta::seconds(5), TimeDelta::hours(1)),
            Due::Now(TimeDelta::seconds(5))
        );
    }

    #[test]
    fn a_schedule_due_longer_ago_than_its_maximum_event_age_has_expired() {
        let at = time(8, 0, 0).and_utc();
        let max_age = TimeDelta::seconds(60);
        assert_eq!(due(at, at + max_age, max_age), Due::Now(max_age));
        assert_eq!(
            due(at, at + TimeDelta::seconds(61), max_age),
            Due::Expired(TimeDelta::seconds(61))
        );
    }
}
