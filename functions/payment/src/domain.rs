//! A payment as the service sees it, the values it is made of, and the one decision the
//! webhook makes about a delivery.

use chrono::{DateTime, Duration, Utc};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use shared::contracts::{PaymentProvider, PaymentResponse, PaymentStatus};
use shared::{Money, OrderId, PaymentId, UserId, ValidationError};

/// How long the delivery that recorded (or took over) an outcome has to confirm the
/// order before another delivery may do it. Longer than the function's timeout, so a
/// live winner is never overtaken.
pub const CONFIRM_LEASE: Duration = Duration::seconds(30);

/// The most a deferred delivery is told to wait: the lease holder normally confirms
/// within a second or two, long before its lease ends, and a retry then gets a 200.
pub const MAX_RETRY_AFTER_SECS: u64 = 5;

const MAX_TOKEN_LEN: usize = 200;

/// 1-200 printable ASCII characters: safe in a header, a log line and a table key.
fn printable_token(raw: &str, field: &'static str) -> Result<String, ValidationError> {
    if raw.is_empty()
        || raw.len() > MAX_TOKEN_LEN
        || !raw.bytes().all(|b| (0x20..=0x7e).contains(&b))
    {
        return Err(ValidationError::new(
            field,
            "must be 1 to 200 printable ASCII characters",
        ));
    }
    Ok(raw.to_owned())
}

/// The caller's name for one checkout attempt (`Idempotency-Key` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const HEADER: &'static str = "idempotency-key";
    const FIELD: &'static str = "Idempotency-Key";

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        printable_token(raw, Self::FIELD).map(Self)
    }

    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ValidationError> {
        let value = headers
            .get(Self::HEADER)
            .ok_or_else(|| ValidationError::new(Self::FIELD, "the header is required"))?;
        let raw = value.to_str().map_err(|_| {
            ValidationError::new(Self::FIELD, "must be 1 to 200 printable ASCII characters")
        })?;
        Self::parse(raw)
    }

    /// The payment this key names: the same key always gives the same id, the one the
    /// order service derives too (it records the id on the order before asking).
    pub fn payment_id(&self) -> PaymentId {
        PaymentId::for_idempotency_key(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The e-wallet's id of a payment request (`paymentRequestId`), our payment's `externalId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExternalId(String);

impl ExternalId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        printable_token(raw, "paymentRequestId").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Stored and read back through the same check as on the way in.
macro_rules! token_serde {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = ValidationError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(token: $name) -> Self {
                token.0
            }
        }
    };
}

token_serde!(IdempotencyKey);
token_serde!(ExternalId);

/// A payment movement the e-wallet reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub transaction_id: String,
    pub amount_cents: i64,
    pub transaction_time: DateTime<Utc>,
}

impl Transaction {
    pub fn new(
        transaction_id: &str,
        amount_cents: i64,
        transaction_time: DateTime<Utc>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            transaction_id: printable_token(transaction_id, "transaction.transactionId")?,
            amount_cents,
            transaction_time,
        })
    }
}

/// A validated payment request: who pays what for which order, under which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub key: IdempotencyKey,
    pub user_id: UserId,
    pub order_id: OrderId,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    /// Known once the e-wallet accepted the request; set once, never changed.
    pub external_id: Option<ExternalId>,
    pub user_id: UserId,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider: PaymentProvider,
    pub status: PaymentStatus,
    pub transactions: Vec<Transaction>,
    pub idempotency_key: IdempotencyKey,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// While in the future, one webhook delivery is confirming the order.
    pub confirming_until: Option<DateTime<Utc>>,
    /// The order service has been told the outcome (or no longer waits for it).
    pub order_confirmed: bool,
    /// A success that no order awaited, paid back through the e-wallet.
    pub refunded_at: Option<DateTime<Utc>>,
    /// The e-wallet cancelled the request before it was decided, or refused it (the payment is Failed).
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Payment {
    /// A payment in state Requested, not yet known to the e-wallet.
    pub fn requested(new: &NewPayment, now: DateTime<Utc>) -> Self {
        Self {
            id: new.key.payment_id(),
            external_id: None,
            user_id: new.user_id,
            order_id: new.order_id,
            amount: new.amount,
            provider: PaymentProvider::Ewallet,
            status: PaymentStatus::Requested,
            transactions: Vec::new(),
            idempotency_key: new.key.clone(),
            created_at: now,
            updated_at: now,
            confirming_until: None,
            order_confirmed: false,
            refunded_at: None,
            cancelled_at: None,
        }
    }

    /// Whether `new` asks for exactly this payment (a retry), not another one that
    /// happens to reuse the key.
    pub fn answers(&self, new: &NewPayment) -> bool {
        self.user_id == new.user_id && self.order_id == new.order_id && self.amount == new.amount
    }

    pub fn response(&self) -> PaymentResponse {
        PaymentResponse {
            payment_id: self.id,
            payment_status: self.status,
        }
    }
}

/// The end of a confirm lease taken at `now`, at the store's millisecond precision so
/// that the value read back compares equal to the one written.
pub fn lease_until(now: DateTime<Utc>) -> DateTime<Utc> {
    let until = now + CONFIRM_LEASE;
    DateTime::from_timestamp_millis(until.timestamp_millis()).unwrap_or(until)
}

/// What to do with a webhook delivery reporting `outcome`, given the stored payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The first outcome: record it and take the confirm lease in one write.
    Record,
    /// The outcome is recorded but nobody confirms it (the lease is absent or expired):
    /// take the lease from its `observed` holder.
    TakeOver { observed: Option<DateTime<Utc>> },
    /// The order already knows: nothing to do.
    AlreadyConfirmed,
    /// Another delivery holds a live lease; the provider should retry in a few seconds.
    InProgress { retry_after_secs: u64 },
    /// A different outcome is recorded; this one is not applied.
    Conflict { recorded: PaymentStatus },
}

pub fn decide(payment: &Payment, outcome: PaymentStatus, now: DateTime<Utc>) -> Decision {
    if payment.status == PaymentStatus::Requested {
        return Decision::Record;
    }
    if payment.status != outcome {
        return Decision::Conflict {
            recorded: payment.status,
        };
    }
    if payment.order_confirmed {
        return Decision::AlreadyConfirmed;
    }
    match payment.confirming_until {
        Some(until) if until > now => {
            let millis = u64::try_from((until - now).num_milliseconds()).unwrap_or(0);
            Decision::InProgress {
                retry_after_secs: millis.div_ceil(1000).clamp(1, MAX_RETRY_AFTER_SECS),
            }
        }
        observed => Decision::TakeOver { observed },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Currency;

    fn new_payment(key: &str) -> NewPayment {
        NewPayment {
            key: IdempotencyKey::parse(key).unwrap(),
            user_id: UserId::new_random(),
            order_id: OrderId::new_random(),
            amount: Money::from_cents(10099, Currency::USD),
        }
    }

    #[test]
    fn the_same_idempotency_key_always_names_the_same_payment() {
        let a = IdempotencyKey::parse("checkout-1").unwrap();
        let b = IdempotencyKey::parse("checkout-1").unwrap();
        let c = IdempotencyKey::parse("checkout-2").unwrap();
        assert_eq!(a.payment_id(), b.payment_id());
        assert_ne!(a.payment_id(), c.payment_id());
        assert_eq!(a.payment_id(), PaymentId::for_idempotency_key("checkout-1"));
    }

    #[test]
    fn idempotency_keys_are_1_to_200_printable_ascii_characters() {
        assert!(IdempotencyKey::parse("k").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(200)).is_ok());
        assert!(IdempotencyKey::parse("order 1/attempt:2").is_ok());
        for bad in ["", &"k".repeat(201), "a\nb", "tab\there", "ключ"] {
            let err = IdempotencyKey::parse(bad).unwrap_err();
            assert_eq!(err.field, "Idempotency-Key", "{bad:?}");
        }
    }

    #[test]
    fn a_missing_idempotency_key_header_is_rejected() {
        let err = IdempotencyKey::from_headers(&HeaderMap::new()).unwrap_err();
        assert_eq!(err.field, "Idempotency-Key");
    }

    #[test]
    fn a_retry_answers_the_payment_but_another_order_or_amount_does_not() {
        let new = new_payment("k");
        let payment = Payment::requested(&new, Utc::now());
        assert!(payment.answers(&new));
        let other_order = NewPayment {
            order_id: OrderId::new_random(),
            ..new.clone()
        };
        let other_amount = NewPayment {
            amount: Money::from_cents(10098, Currency::USD),
            ..new.clone()
        };
        assert!(!payment.answers(&other_order));
        assert!(!payment.answers(&other_amount));
    }

    fn recorded(status: PaymentStatus) -> Payment {
        Payment {
            status,
            ..Payment::requested(&new_payment("k"), Utc::now())
        }
    }

    #[test]
    fn the_first_outcome_is_recorded() {
        let payment = recorded(PaymentStatus::Requested);
        assert_eq!(
            decide(&payment, PaymentStatus::Success, Utc::now()),
            Decision::Record
        );
    }

    #[test]
    fn a_different_outcome_after_one_is_recorded_is_a_conflict() {
        let payment = recorded(PaymentStatus::Failed);
        assert_eq!(
            decide(&payment, PaymentStatus::Success, Utc::now()),
            Decision::Conflict {
                recorded: PaymentStatus::Failed
            }
        );
    }

    #[test]
    fn a_duplicate_after_confirmation_needs_nothing() {
        let payment = Payment {
            order_confirmed: true,
            ..recorded(PaymentStatus::Success)
        };
        assert_eq!(
            decide(&payment, PaymentStatus::Success, Utc::now()),
            Decision::AlreadyConfirmed
        );
    }

    #[test]
    fn a_duplicate_during_a_live_lease_is_told_to_retry_within_seconds() {
        let now = Utc::now();
        let leased = |millis| Payment {
            confirming_until: Some(now + Duration::milliseconds(millis)),
            ..recorded(PaymentStatus::Expired)
        };
        for (left_ms, retry_after_secs) in [(2_300, 3), (1, 1), (29_000, MAX_RETRY_AFTER_SECS)] {
            assert_eq!(
                decide(&leased(left_ms), PaymentStatus::Expired, now),
                Decision::InProgress { retry_after_secs },
                "{left_ms} ms left"
            );
        }
    }

    #[test]
    fn a_duplicate_after_the_lease_expired_takes_it_over() {
        let now = Utc::now();
        let expired = now - Duration::seconds(1);
        let payment = Payment {
            confirming_until: Some(expired),
            ..recorded(PaymentStatus::Success)
        };
        assert_eq!(
            decide(&payment, PaymentStatus::Success, now),
            Decision::TakeOver {
                observed: Some(expired)
            }
        );
        let released = recorded(PaymentStatus::Success);
        assert_eq!(
            decide(&released, PaymentStatus::Success, now),
            Decision::TakeOver { observed: None }
        );
    }

    #[test]
    fn a_lease_is_30_seconds_at_millisecond_precision() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T12:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            lease_until(now).to_rfc3339(),
            "2026-11-25T12:00:30.123+00:00"
        );
    }
}
