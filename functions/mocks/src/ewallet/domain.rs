//! The e-wallet's own vocabulary: a payment request and its life cycle, when its webhook is
//! due, and which verdict its amount earns.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::{EwalletPaymentRequest, EwalletStatusCode};
use shared::{Money, OrderId, ValidationError};
use uuid::Uuid;

/// The longest `Idempotency-Key` accepted (the key only seeds an id; longer is abuse).
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The longest notification URI accepted.
const MAX_URI_LEN: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentRequestId(Uuid);

impl PaymentRequestId {
    /// A random id, for a request made without an Idempotency-Key (and for tests).
    #[allow(clippy::disallowed_methods)]
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The id a caller's idempotency key names: a retry of one call finds the same
    /// request. Keyed with the provider's secret, so that nobody else can compute it (an
    /// id derived from the key alone let a stranger who knew an order id pre-create that
    /// order's next payment requests and block its checkout).
    pub fn from_idempotency_key(secret: &shared::api_key::ApiKey, key: &IdempotencyKey) -> Self {
        let digest = secret.derive(key.0.as_bytes());
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// Hyphenated UUIDs only, as this provider hands them out.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("paymentRequestId", "must be a UUID");
        if raw.len() != 36 {
            return Err(bad());
        }
        Uuid::try_parse(raw).map(Self).map_err(|_| bad())
    }
}

impl fmt::Display for PaymentRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The caller's `Idempotency-Key` header: printable ASCII, 1-255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// As the caller sent it (the webhook echoes it as the merchant's reference).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        if raw.is_empty()
            || raw.len() > MAX_IDEMPOTENCY_KEY_LEN
            || !raw.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ValidationError::new(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters without spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// Where the webhook goes: an absolute `http` or `https` URL with a host, no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotificationUri(String);

impl NotificationUri {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let bad = |reason: &str| ValidationError::new("notificationUri", reason);
        if raw.len() > MAX_URI_LEN {
            return Err(bad("must be at most 2048 characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| bad("must be an absolute http(s) URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must use the http or https scheme"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("must name a host"));
        }
        // Credentials in the URL would end up in the table and in logs.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry credentials"));
        }
        Ok(Self(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Stored and read back through the same check as on the way in.
impl TryFrom<String> for NotificationUri {
    type Error = ValidationError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<NotificationUri> for String {
    fn from(uri: NotificationUri) -> Self {
        uri.0
    }
}

/// A validated request, as the provider accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPaymentRequest {
    pub amount: Money,
    pub notification_uri: NotificationUri,
    pub order_id: OrderId,
}

impl NewPaymentRequest {
    /// The body's rules beyond its shape: a positive amount and a usable notification URI
    /// (the order id is a UUID by the contract's type).
    pub fn parse(body: EwalletPaymentRequest) -> Result<Self, ValidationError> {
        if body.amount <= 0 {
            return Err(ValidationError::new("amount", "must be greater than 0"));
        }
        Ok(Self {
            amount: Money::from_cents(body.amount, body.currency),
            notification_uri: NotificationUri::parse(&body.notification_uri)?,
            order_id: body.merchant_data.order_id,
        })
    }
}

/// Where a payment request is in its life: scheduled and waiting, being delivered by one
/// firing (which holds a lease), delivered, refused for good by the receiver, or
/// cancelled by the merchant before its webhook was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestStatus {
    Pending,
    Sending,
    Sent,
    Rejected,
    Cancelled,
}

impl RequestStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Sending => "Sending",
            Self::Sent => "Sent",
            Self::Rejected => "Rejected",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Nothing more will ever be sent for a settled request.
    pub const fn is_settled(self) -> bool {
        matches!(self, Self::Sent | Self::Rejected | Self::Cancelled)
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored payment request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EwalletRequest {
    pub id: PaymentRequestId,
    pub amount: Money,
    pub notification_uri: NotificationUri,
    pub order_id: OrderId,
    pub status: RequestStatus,
    /// The correlation id of the call that made the request; the webhook carries it on.
    pub correlation_id: String,
    /// Whether its schedule was created (a retry creates it when a first attempt failed to).
    pub scheduled: bool,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// How many firings claimed it.
    pub attempts: u32,
    pub outcome: Option<EwalletStatusCode>,
    /// The delivered webhook's transaction id (set with `Sent`).
    pub transaction_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The receiver's status when it refused the webhook for good.
    pub rejected_status: Option<u16>,
    /// When the merchant had a successful payment paid back.
    pub refunded_at: Option<DateTime<Utc>>,
    /// When the merchant cancelled the request before its webhook was delivered.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The merchant's reference (its Idempotency-Key), echoed in the webhook.
    pub merchant_reference: Option<String>,
}

impl EwalletRequest {
    pub fn new(
        id: PaymentRequestId,
        request: NewPaymentRequest,
        correlation_id: &str,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            amount: request.amount,
            notification_uri: request.notification_uri,
            order_id: request.order_id,
            status: RequestStatus::Pending,
            correlation_id: correlation_id.to_owned(),
            scheduled: false,
            due_at,
            created_at: now,
            attempts: 0,
            outcome: None,
            transaction_id: None,
            sent_at: None,
            rejected_status: None,
            refunded_at: None,
            cancelled_at: None,
            merchant_reference: None,
        }
    }

    /// Whether `other` asks for the same payment (a true retry of the same call).
    pub fn has_terms_of(&self, other: &NewPaymentRequest) -> bool {
        self.amount == other.amount
            && self.notification_uri == other.notification_uri
            && self.order_id == other.order_id
    }
}

/// The verdict by the amount's cents: .99 succeeds, .11 fails, anything else gets the
/// configured default (EXPIRED unless `EWALLET_DEFAULT_OUTCOME` says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeRule {
    pub default: EwalletStatusCode,
}

impl Default for OutcomeRule {
    fn default() -> Self {
        Self {
            default: EwalletStatusCode::Expired,
        }
    }
}

impl OutcomeRule {
    pub fn decide(&self, amount: Money) -> EwalletStatusCode {
        match amount.cents_part() {
            99 => EwalletStatusCode::Success,
            11 => EwalletStatusCode::Failed,
            _ => self.default,
        }
    }
}

/// Parses the default outcome: `SUCCESS`, `FAILED` or `EXPIRED`.
impl FromStr for OutcomeRule {
    type Err = UnknownOutcome;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        parse_outcome(raw).map(|default| Self { default })
    }
}

/// The wire spelling of a verdict (`SUCCESS`, `FAILED`, `EXPIRED`).
pub const fn outcome_name(code: EwalletStatusCode) -> &'static str {
    match code {
        EwalletStatusCode::Success => "SUCCESS",
        EwalletStatusCode::Failed => "FAILED",
        EwalletStatusCode::Expired => "EXPIRED",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of SUCCESS, FAILED, EXPIRED")]
pub struct UnknownOutcome(String);

pub fn parse_outcome(raw: &str) -> Result<EwalletStatusCode, UnknownOutcome> {
    [
        EwalletStatusCode::Success,
        EwalletStatusCode::Failed,
        EwalletStatusCode::Expired,
    ]
    .into_iter()
    .find(|code| outcome_name(*code) == raw)
    .ok_or_else(|| UnknownOutcome(raw.to_owned()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DelayRangeError {
    #[error("the minimum delay ({min} s) is greater than the maximum ({max} s)")]
    MinAboveMax { min: u32, max: u32 },
    #[error(
        "the maximum delay ({max} s) is over a day ({} s)",
        DelayRange::LIMIT_SECS
    )]
    OverADay { max: u32 },
}

/// How long after a request its webhook goes out: whole seconds, uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayRange {
    min: u32,
    max: u32,
}

impl DelayRange {
    /// A day: a one-time schedule further out makes no sense for a payment.
    pub const LIMIT_SECS: u32 = 86_400;

    pub fn new(min: u32, max: u32) -> Result<Self, DelayRangeError> {
        if min > max {
            return Err(DelayRangeError::MinAboveMax { min, max });
        }
        if max > Self::LIMIT_SECS {
            return Err(DelayRangeError::OverADay { max });
        }
        Ok(Self { min, max })
    }

    pub const fn min(&self) -> u32 {
        self.min
    }

    pub const fn max(&self) -> u32 {
        self.max
    }

    /// A delay drawn from `entropy` (seeded in a simulation).
    pub fn draw(&self, entropy: &dyn shared::entropy::Entropy) -> Duration {
        let span = u64::from(self.max - self.min) + 1;
        Duration::seconds(i64::from(self.min) + i64::try_from(entropy.below(span)).unwrap_or(0))
    }
}

/// When a webhook picked at `now` with `delay` is due: Scheduler's `at()` has whole
/// seconds, so the time is rounded up (never earlier than asked, even with no delay).
pub fn due_at(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    let exact = now + delay;
    match exact.duration_trunc(Duration::seconds(1)) {
        Ok(whole) if whole == exact => whole,
        Ok(whole) => whole + Duration::seconds(1),
        // Only for dates beyond chrono's range; keep the exact time.
        Err(_) => exact,
    }
}

/// The one-time schedule expression for `due` (UTC): `at(yyyy-mm-ddThh:mm:ss)`.
pub fn at_expression(due: DateTime<Utc>) -> String {
    format!("at({})", due.format("%Y-%m-%dT%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use shared::Currency;
    use shared::contracts::MerchantData;
    use shared::entropy::SeededEntropy;

    use super::*;

    fn usd(cents: i64) -> Money {
        Money::from_cents(cents, Currency::USD)
    }

    fn body(amount: i64, uri: &str) -> EwalletPaymentRequest {
        EwalletPaymentRequest {
            amount,
            currency: Currency::USD,
            notification_uri: uri.to_owned(),
            merchant_data: MerchantData {
                order_id: OrderId::new_random(),
            },
        }
    }

    #[test]
    fn an_amount_ending_in_99_succeeds_and_one_ending_in_11_fails() {
        let rule = OutcomeRule::default();
        assert_eq!(rule.decide(usd(10099)), EwalletStatusCode::Success);
        assert_eq!(rule.decide(usd(99)), EwalletStatusCode::Success);
        assert_eq!(rule.decide(usd(5011)), EwalletStatusCode::Failed);
        assert_eq!(rule.decide(usd(11)), EwalletStatusCode::Failed);
    }

    #[test]
    fn any_other_amount_expires_by_default() {
        let rule = OutcomeRule::default();
        for cents in [10000, 10098, 10010, 10001, 1, 11100] {
            assert_eq!(
                rule.decide(usd(cents)),
                EwalletStatusCode::Expired,
                "{cents}"
            );
        }
    }

    #[test]
    fn the_default_outcome_is_configurable_but_never_overrides_99_or_11() {
        let rule: OutcomeRule = "SUCCESS".parse().unwrap();
        assert_eq!(rule.decide(usd(10000)), EwalletStatusCode::Success);
        assert_eq!(rule.decide(usd(5011)), EwalletStatusCode::Failed);
        let rule: OutcomeRule = "FAILED".parse().unwrap();
        assert_eq!(rule.decide(usd(10000)), EwalletStatusCode::Failed);
        assert_eq!(rule.decide(usd(10099)), EwalletStatusCode::Success);
        let rule: OutcomeRule = "EXPIRED".parse().unwrap();
        assert_eq!(rule, OutcomeRule::default());
    }

    #[test]
    fn verdict_names_are_the_wire_spelling() {
        for code in [
            EwalletStatusCode::Success,
            EwalletStatusCode::Failed,
            EwalletStatusCode::Expired,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(outcome_name(code))
            );
            assert_eq!(parse_outcome(outcome_name(code)), Ok(code));
        }
    }

    #[test]
    fn an_unknown_default_outcome_is_refused() {
        for raw in ["", "success", "PAID", "EXPIRED ", "1"] {
            assert!(raw.parse::<OutcomeRule>().is_err(), "{raw:?}");
        }
    }

    #[test]
    fn a_delay_range_with_min_equal_to_max_always_picks_that_delay() {
        let range = DelayRange::new(7, 7).unwrap();
        let rng = SeededEntropy::new(1);
        for _ in 0..100 {
            assert_eq!(range.draw(&rng), Duration::seconds(7));
        }
        let zero = DelayRange::new(0, 0).unwrap();
        assert_eq!(zero.draw(&rng), Duration::zero());
    }

    #[test]
    fn delays_stay_within_the_range_and_reach_both_bounds() {
        let range = DelayRange::new(3, 10).unwrap();
        let rng = SeededEntropy::new(42);
        let picks: Vec<i64> = (0..2_000).map(|_| range.draw(&rng).num_seconds()).collect();
        assert!(picks.iter().all(|s| (3..=10).contains(s)));
        assert!(picks.contains(&3), "the minimum is never picked");
        assert!(picks.contains(&10), "the maximum is never picked");
    }

    #[test]
    fn a_minimum_above_the_maximum_or_a_delay_over_a_day_is_refused() {
        assert!(DelayRange::new(11, 10).is_err());
        assert!(DelayRange::new(0, 86_401).is_err());
        assert!(DelayRange::new(0, 86_400).is_ok());
    }

    #[test]
    fn the_due_time_is_rounded_up_to_the_next_whole_second() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + Duration::milliseconds(1);
        assert_eq!(
            due_at(now, Duration::seconds(3)),
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 4).unwrap()
        );
        assert_eq!(
            due_at(now, Duration::zero()),
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 1).unwrap()
        );
        let whole = Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 59).unwrap();
        assert_eq!(due_at(whole, Duration::zero()), whole);
        assert_eq!(
            due_at(whole, Duration::seconds(1)),
            Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn the_schedule_expression_is_at_with_the_utc_time_to_the_second() {
        let due = Utc.with_ymd_and_hms(2026, 1, 5, 7, 3, 9).unwrap();
        assert_eq!(at_expression(due), "at(2026-01-05T07:03:09)");
    }

    #[test]
    fn a_positive_amount_with_an_http_or_https_uri_is_accepted() {
        for uri in [
            "http://127.0.0.1:3000/api/v1/payments/webhook",
            "https://example.com/hook?x=1",
            "HTTPS://Example.COM",
        ] {
            let parsed = NewPaymentRequest::parse(body(10099, uri)).unwrap();
            assert_eq!(parsed.amount, usd(10099));
            assert!(
                parsed.notification_uri.as_str().starts_with("http"),
                "{uri}"
            );
        }
    }

    #[test]
    fn a_zero_or_negative_amount_is_refused_naming_the_amount() {
        for cents in [0, -1, -10099] {
            let err = NewPaymentRequest::parse(body(cents, "https://example.com")).unwrap_err();
            assert_eq!(err.field, "amount", "{cents}");
        }
    }

    #[test]
    fn a_notification_uri_that_is_not_an_absolute_http_url_is_refused() {
        let long = format!("https://example.com/{}", "a".repeat(2100));
        for uri in [
            "",
            "/api/v1/payments/webhook",
            "example.com/hook",
            "ftp://example.com/hook",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "mailto:a@example.com",
            "http://",
            "https://user:secret@example.com/hook",
            long.as_str(),
        ] {
            let err = NewPaymentRequest::parse(body(100, uri)).unwrap_err();
            assert_eq!(err.field, "notificationUri", "{uri}");
        }
    }

    #[test]
    fn an_order_id_that_is_not_a_uuid_does_not_parse_as_a_request() {
        let raw = r#"{"amount":1.99,"notificationUri":"https://example.com","merchantData":{"orderId":"42"}}"#;
        assert!(serde_json::from_str::<EwalletPaymentRequest>(raw).is_err());
    }

    #[test]
    fn the_same_idempotency_key_always_names_the_same_request() {
        let secret = shared::api_key::ApiKey::new("provider-secret-0001").unwrap();
        let a = IdempotencyKey::parse("checkout-123").unwrap();
        let b = IdempotencyKey::parse("checkout-124").unwrap();
        assert_eq!(
            PaymentRequestId::from_idempotency_key(&secret, &a),
            PaymentRequestId::from_idempotency_key(&secret, &a)
        );
        assert_ne!(
            PaymentRequestId::from_idempotency_key(&secret, &a),
            PaymentRequestId::from_idempotency_key(&secret, &b)
        );
    }

    #[test]
    fn without_the_providers_secret_nobody_can_derive_a_requests_id() {
        let key = IdempotencyKey::parse("checkout-5a2fb4b2-1").unwrap();
        let ours = shared::api_key::ApiKey::new("provider-secret-0001").unwrap();
        let guess = shared::api_key::ApiKey::new("provider-secret-0002").unwrap();
        assert_ne!(
            PaymentRequestId::from_idempotency_key(&ours, &key),
            PaymentRequestId::from_idempotency_key(&guess, &key)
        );
    }

    #[test]
    fn blank_long_or_odd_idempotency_keys_are_refused() {
        let long = "k".repeat(256);
        for raw in ["", "   ", "a b", "caf\u{e9}", long.as_str()] {
            assert_eq!(
                IdempotencyKey::parse(raw).unwrap_err().field,
                "Idempotency-Key"
            );
        }
    }

    #[test]
    fn payment_request_ids_are_hyphenated_uuids() {
        let id = PaymentRequestId::new_random();
        assert_eq!(PaymentRequestId::parse(&id.to_string()), Ok(id));
        for raw in ["", "42", "6962394a88484d1ab4614c3c830da6c3", "../x"] {
            assert!(PaymentRequestId::parse(raw).is_err(), "{raw}");
        }
    }
}
