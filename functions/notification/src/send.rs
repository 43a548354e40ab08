//! POST /api/internal/v1/users/{userId}/emails/send `{ subject, body, to, bcc }`
//!
//! The caller's `Idempotency-Key` (a listener's job id) names the mail: the first call
//! logs it and sends it; a repeat answers the logged mail without sending it again (a
//! mail logged but not yet sent, because a call failed in between, is sent then).

use http::StatusCode;
use lambda_http::Request;
use shared::fulfilment::{SendEmailRequest, SendEmailResponse};
use shared::http::{ApiError, HandlerResult, idempotency_key, json, json_body, path_param};
use shared::{Clock, CorrelationId, Problem, UserId, ValidationError};
use uuid::Uuid;

use crate::repository::RepositoryError;
use crate::sender::SendError;
use crate::{EmailLog, EmailLogRepository, EmailSender, NotificationDeps};

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("invalid request")]
    Invalid(#[from] ValidationError),
    #[error("the idempotency key names another user's e-mail")]
    KeyReused,
    #[error("another request is sending this e-mail now")]
    Sending,
    #[error("too little time left to send before the caller stops waiting")]
    OutOfTime,
    #[error("e-mail log unavailable")]
    Store(#[from] RepositoryError),
    #[error("e-mail service unavailable")]
    Send(#[from] SendError),
}

impl ApiError for NotificationError {
    fn problem(&self) -> Problem {
        match self {
            Self::Invalid(err) => Problem::invalid_field(err),
            Self::KeyReused => {
                Problem::conflict("The idempotency key was used for another user's e-mail.")
            }
            Self::Sending => Problem::conflict(
                "Another request with this idempotency key is sending the e-mail; retry later.",
            ),
            Self::Store(_) | Self::Send(_) | Self::OutOfTime => Problem::unavailable(),
        }
    }
}

const MAX_RECIPIENTS: usize = 50;

/// How long a send claim holds: longer than send-email's whole invocation (its timeout,
/// 10 s), so a live holder is never overtaken; a dead one's claim is taken over by the
/// caller's next try (SQS redelivers after its 60 s visibility timeout).
pub const SEND_LEASE: chrono::Duration = chrono::Duration::seconds(30);

/// What a send needs at least (SES and the log's write, well under a second each): with
/// less time left before the caller stops waiting, no mail is started, so none is
/// abandoned half-way (SES takes no key, and a mail it sent unrecorded could go twice).
pub const SEND_NEEDS: std::time::Duration = std::time::Duration::from_secs(1);

fn address(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let ok = raw.len() <= 254
        && raw.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ValidationError::new(
            field,
            "must be an e-mail address such as user@example.com",
        ))
    }
}

/// The request, checked: a subject and a body of bounded size, 1 to 50 valid addresses.
pub fn validate(request: &SendEmailRequest) -> Result<(), ValidationError> {
    if request.subject.trim().is_empty()
        || request.subject.len() > 200
        || request.subject.chars().any(char::is_control)
    {
        return Err(ValidationError::new(
            "subject",
            "must be 1 to 200 characters on one line",
        ));
    }
    if request.body.trim().is_empty() || request.body.len() > 20_000 {
        return Err(ValidationError::new(
            "body",
            "must be 1 to 20000 characters",
        ));
    }
    if request.to.is_empty() || request.to.len() + request.bcc.len() > MAX_RECIPIENTS {
        return Err(ValidationError::new(
            "to",
            "must name 1 to 50 recipients (with bcc)",
        ));
    }
    for to in &request.to {
        address("to", to)?;
    }
    for bcc in &request.bcc {
        address("bcc", bcc)?;
    }
    Ok(())
}

/// The e-mail id that an idempotency key names.
pub fn email_id(idempotency_key: &str) -> String {
    const NAMESPACE: Uuid = Uuid::from_u128(0x2d7c_1e4a_8b3f_4c59_a6e0_9f1b_2c3d_4e5f);
    Uuid::new_v5(&NAMESPACE, idempotency_key.as_bytes()).to_string()
}

pub async fn send<R: EmailLogRepository, S: EmailSender, C: Clock>(
    deps: &NotificationDeps<R, S, C>,
    user: UserId,
    idempotency_key: &str,
    request: SendEmailRequest,
    correlation_id: &CorrelationId,
    due_ms: Option<u64>,
) -> Result<EmailLog, NotificationError> {
    validate(&request)?;
    let now = deps.clock.now();
    let fresh = EmailLog {
        email_id: email_id(idempotency_key),
        user_id: user,
        tracking_id: idempotency_key.to_owned(),
        correlation_id: correlation_id.to_string(),
        subject: request.subject,
        body: request.body,
        from: deps.from.clone(),
        to: request.to,
        bcc: request.bcc,
        message_id: None,
        created_at_utc: now,
        updated_at_utc: now,
    };
    let mut log = if deps.log.insert_if_absent(&fresh).await? {
        fresh
    } else {
        let stored =
            deps.log
                .get(&fresh.email_id)
                .await?
                .ok_or_else(|| RepositoryError::Corrupt {
                    key: fresh.email_id.clone(),
                    reason: "the e-mail log record vanished".into(),
                })?;
        if stored.user_id != user {
            return Err(NotificationError::KeyReused);
        }
        stored
    };
    if let Some(message_id) = &log.message_id {
        tracing::info!(email_id = %log.email_id, %message_id, "e-mail already sent; not sent again");
        return Ok(log);
    }
    // Read after the log's calls, which may have been slow: what is left for SES is what counts.
    let time_left = shared::client::call_budget(
        due_ms,
        deps.clock.now().timestamp_millis(),
        std::time::Duration::ZERO,
        SEND_NEEDS,
    );
    if time_left < SEND_NEEDS {
        tracing::warn!(email_id = %log.email_id, time_left_ms = time_left.as_millis() as u64, "too little time left to send; not started");
        return Err(NotificationError::OutOfTime);
    }
    if !deps
        .log
        .claim_send(&log.email_id, now, now + SEND_LEASE)
        .await?
    {
        // Sent meanwhile, or another request is sending it right now.
        if let Some(stored) = deps.log.get(&log.email_id).await?
            && stored.message_id.is_some()
        {
            return Ok(stored);
        }
        tracing::warn!(email_id = %log.email_id, "another request is sending this e-mail");
        return Err(NotificationError::Sending);
    }
    let message_id = deps.sender.send(&log).await?;
    deps.log.mark_sent(&log.email_id, &message_id, now).await?;
    tracing::info!(email_id = %log.email_id, %message_id, "e-mail sent");
    log.message_id = Some(message_id);
    log.updated_at_utc = now;
    Ok(log)
}

pub async fn handle<R: EmailLogRepository, S: EmailSender, C: Clock>(
    deps: &NotificationDeps<R, S, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<NotificationError> {
    let user = UserId::parse(&path_param(&request, "userId")?)?;
    let key = idempotency_key(&request)?;
    let body: SendEmailRequest = json_body(&request)?;
    let due = shared::http::invocation_deadline_ms(&request, deps.clock.now().timestamp_millis());
    let log = send(deps, user, &key, body, &correlation_id, due).await?;
    Ok(json(
        StatusCode::OK,
        &SendEmailResponse {
            email_id: log.email_id,
            message_id: log.message_id.unwrap_or_default(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{FakeEmailSender, InMemoryEmailLog};
    use shared::clock::FixedClock;

    fn deps() -> NotificationDeps<InMemoryEmailLog, FakeEmailSender, FixedClock> {
        NotificationDeps {
            log: InMemoryEmailLog::default(),
            sender: FakeEmailSender::default(),
            clock: FixedClock::at(chrono::Utc::now()),
            from: "orders@checkout.example".into(),
        }
    }

    fn request() -> SendEmailRequest {
        SendEmailRequest {
            subject: "Your order is paid".into(),
            body: "Thank you.".into(),
            to: vec!["someone@checkout.example".into()],
            bcc: vec![],
        }
    }

    #[tokio::test]
    async fn a_repeated_request_sends_one_mail_and_logs_it_once_with_the_correlation_id() {
        let deps = deps();
        let user = UserId::new_random();
        let cid = CorrelationId::from_value(Some("cid-mail"));
        let first = send(&deps, user, "job-1", request(), &cid, None)
            .await
            .unwrap();
        let again = send(&deps, user, "job-1", request(), &cid, None)
            .await
            .unwrap();
        assert_eq!(first.email_id, again.email_id);
        assert_eq!(deps.sender.sent().len(), 1);
        assert_eq!(first.correlation_id, "cid-mail");
        assert_eq!(first.from, "orders@checkout.example");
    }

    #[tokio::test]
    async fn a_mail_logged_but_not_sent_is_sent_by_a_retry_once_the_claim_lapses() {
        let deps = deps();
        deps.sender.fail_next();
        let user = UserId::new_random();
        let cid = CorrelationId::generate();
        assert!(matches!(
            send(&deps, user, "job-2", request(), &cid, None).await,
            Err(NotificationError::Send(_))
        ));
        // SES's error may hide a mail it sent: the claim holds for its lease.
        assert!(matches!(
            send(&deps, user, "job-2", request(), &cid, None).await,
            Err(NotificationError::Sending)
        ));
        deps.clock
            .advance(SEND_LEASE + chrono::Duration::seconds(1));
        let sent = send(&deps, user, "job-2", request(), &cid, None)
            .await
            .unwrap();
        assert!(sent.message_id.is_some());
        assert_eq!(deps.sender.sent().len(), 1);
    }

    /// SES that holds each mail until the test lets it go.
    struct GatedSender {
        gate: tokio::sync::Notify,
        entered: tokio::sync::Notify,
        inner: FakeEmailSender,
    }

    impl EmailSender for GatedSender {
        async fn send(&self, mail: &EmailLog) -> Result<String, crate::sender::SendError> {
            self.entered.notify_one();
            self.gate.notified().await;
            self.inner.send(mail).await
        }
    }

    #[tokio::test]
    async fn a_second_request_while_the_first_is_sending_sends_nothing() {
        let deps = NotificationDeps {
            log: InMemoryEmailLog::default(),
            sender: GatedSender {
                gate: tokio::sync::Notify::new(),
                entered: tokio::sync::Notify::new(),
                inner: FakeEmailSender::default(),
            },
            clock: FixedClock::at(chrono::Utc::now()),
            from: "orders@checkout.example".into(),
        };
        let user = UserId::new_random();
        let cid = CorrelationId::generate();
        let first = send(&deps, user, "job-3", request(), &cid, None);
        let second = async {
            deps.sender.entered.notified().await;
            let second = send(&deps, user, "job-3", request(), &cid, None).await;
            deps.sender.gate.notify_one();
            second
        };
        let (first, second) = tokio::join!(first, second);
        assert!(first.unwrap().message_id.is_some());
        assert!(matches!(second, Err(NotificationError::Sending)));
        assert_eq!(deps.sender.inner.sent().len(), 1);
    }

    #[tokio::test]
    async fn with_too_little_time_before_the_caller_stops_waiting_no_mail_is_started() {
        let deps = deps();
        let user = UserId::new_random();
        let cid = CorrelationId::generate();
        let now_ms = deps.clock.now().timestamp_millis() as u64;
        let result = send(&deps, user, "job-4", request(), &cid, Some(now_ms + 500)).await;
        assert!(
            matches!(result, Err(NotificationError::OutOfTime)),
            "{result:?}"
        );
        assert!(deps.sender.sent().is_empty());
        // Nothing was claimed: a retry with time enough sends at once.
        let now_ms = deps.clock.now().timestamp_millis() as u64;
        let sent = send(&deps, user, "job-4", request(), &cid, Some(now_ms + 2_000))
            .await
            .unwrap();
        assert!(sent.message_id.is_some());
        assert_eq!(deps.sender.sent().len(), 1);
    }

    #[test]
    fn addresses_and_sizes_are_checked() {
        let mut bad = request();
        bad.to = vec!["not-an-address".into()];
        assert_eq!(validate(&bad).unwrap_err().field, "to");
        let mut bad = request();
        bad.to = vec![];
        assert_eq!(validate(&bad).unwrap_err().field, "to");
        let mut bad = request();
        bad.subject = "a\nBcc: x@y.z".into();
        assert_eq!(validate(&bad).unwrap_err().field, "subject");
        let mut bad = request();
        bad.bcc = vec!["a b@c.d".into()];
        assert_eq!(validate(&bad).unwrap_err().field, "bcc");
    }
}
