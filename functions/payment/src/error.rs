use shared::Problem;
use shared::ValidationError;
use shared::contracts::PaymentStatus;
use shared::http::ApiError;
use shared::signature::SignatureError;

use crate::RepositoryError;
use crate::gateway::GatewayError;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("invalid request")]
    Invalid(#[from] ValidationError),
    #[error("webhook signature refused")]
    Signature(#[from] SignatureError),
    #[error("the idempotency key was used for a different payment request")]
    KeyReused,
    #[error("no payment for this e-wallet payment request")]
    NotFound,
    #[error("no payment with this id")]
    NoSuchPayment,
    #[error("the webhook does not match the payment: {0}")]
    Mismatch(&'static str),
    #[error("the payment is already {recorded:?}; a {received:?} outcome is not applied")]
    OutcomeConflict {
        recorded: PaymentStatus,
        received: PaymentStatus,
    },
    #[error("another delivery is confirming this payment")]
    ConfirmationInProgress { retry_after_secs: u64 },
    #[error("the e-wallet did not take the payment request")]
    Ewallet(#[source] GatewayError),
    /// The e-wallet refused the payment request for good: nothing was charged.
    #[error("the e-wallet refused the payment request")]
    Refused(#[source] GatewayError),
    /// Resolving a payment needs the e-wallet's answer; it was busy or failed, and
    /// nothing changed.
    #[error("the e-wallet did not settle the payment")]
    Unsettled(#[source] GatewayError),
    #[error("the order service did not take the confirmation")]
    OrderService(#[source] GatewayError),
    #[error("payment store unavailable")]
    Store(#[from] RepositoryError),
}

/// When a resolve the e-wallet could not settle may be tried again: a webhook being
/// delivered is done within seconds, and a firing that died frees its request after its
/// 60 s lease.
pub const UNSETTLED_RETRY_AFTER_SECS: u64 = 10;

impl ApiError for PaymentError {
    /// Another delivery is confirming: the provider retries after a few seconds. The
    /// e-wallet could not settle a resolve: the reconciler retries later.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::ConfirmationInProgress { retry_after_secs } => Some(*retry_after_secs),
            Self::Unsettled(_) => Some(UNSETTLED_RETRY_AFTER_SECS),
            _ => None,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Invalid(err) => Problem::invalid_field(err),
            Self::Signature(err) => Problem::unauthorized(format!("X-Ewallet-Signature: {err}.")),
            Self::KeyReused => Problem::conflict(
                "This Idempotency-Key was used for a payment request with another user, order or amount.",
            ),
            Self::NotFound => Problem::not_found("No payment for this paymentRequestId."),
            Self::NoSuchPayment => Problem::not_found("No payment with this paymentId."),
            Self::Mismatch(what) => Problem::conflict(format!(
                "The webhook's {what} does not match the payment's."
            )),
            Self::OutcomeConflict { recorded, .. } => Problem::conflict(format!(
                "The payment's outcome is already recorded as {}; another outcome is not applied.",
                recorded.as_str()
            )),
            Self::Refused(_) => Problem::payment_refused(
                "The e-wallet refused this payment request; nothing was charged.",
            ),
            Self::ConfirmationInProgress { .. }
            | Self::Ewallet(_)
            | Self::Unsettled(_)
            | Self::OrderService(_)
            | Self::Store(_) => Problem::unavailable(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_is_the_status_its_meaning_calls_for() {
        let cases: Vec<(PaymentError, u16)> = vec![
            (ValidationError::new("amount", "x").into(), 400),
            (SignatureError::Stale.into(), 401),
            (PaymentError::NotFound, 404),
            (PaymentError::NoSuchPayment, 404),
            (PaymentError::KeyReused, 409),
            (PaymentError::Mismatch("totalAmount"), 409),
            (
                PaymentError::OutcomeConflict {
                    recorded: PaymentStatus::Success,
                    received: PaymentStatus::Failed,
                },
                409,
            ),
            (
                PaymentError::ConfirmationInProgress {
                    retry_after_secs: 3,
                },
                503,
            ),
            (
                PaymentError::Ewallet(GatewayError::Unavailable("down")),
                503,
            ),
            (
                PaymentError::Unsettled(GatewayError::Unavailable("busy")),
                503,
            ),
            (
                PaymentError::Refused(GatewayError::Call(shared::client::CallError::Status {
                    url: "u".into(),
                    status: 422,
                    body: String::new(),
                })),
                422,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(err.problem().status, status, "{err}");
        }
    }

    #[test]
    fn an_unsettled_resolve_says_when_to_retry() {
        let err = PaymentError::Unsettled(GatewayError::Unavailable("busy"));
        assert_eq!(err.retry_after_secs(), Some(UNSETTLED_RETRY_AFTER_SECS));
        assert_eq!(
            PaymentError::Ewallet(GatewayError::Unavailable("down")).retry_after_secs(),
            None
        );
    }

    #[test]
    fn internals_never_reach_the_client() {
        let err = PaymentError::Store(RepositoryError::Corrupt {
            key: "secret-key".into(),
            reason: "table details".into(),
        });
        let problem = err.problem();
        assert!(!problem.detail.contains("secret-key"));
        assert!(!problem.detail.contains("table"));
    }
}
