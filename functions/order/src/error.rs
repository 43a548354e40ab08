use shared::Problem;
use shared::ValidationError;
use shared::client::CallError;
use shared::contracts::OrderStatus;
use shared::http::ApiError;

use crate::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("invalid request")]
    Invalid(#[from] ValidationError),
    #[error("order not found")]
    NotFound,
    #[error("order is {} and cannot be checked out", .0.as_str())]
    NotPayable(OrderStatus),
    #[error("order is {} and not waiting for this payment", .0.as_str())]
    NotWaitingForPayment(OrderStatus),
    /// The payment service refused the request: no payment exists for the attempt.
    #[error("payment service refused the payment request")]
    PaymentRefused(#[source] CallError),
    /// The payment was asked for but its answer never came (timeout, 5xx, no budget
    /// left): it may exist, so the order keeps waiting for it.
    #[error("payment outcome unknown")]
    PaymentOutcomeUnknown(#[source] Option<CallError>),
    /// The attempt is past the point where checkout may drive it on: the reconciler settles it.
    #[error("payment being settled by the reconciler")]
    BeingSettled,
    #[error("order process or job not found")]
    ProcessNotFound,
    #[error("order store unavailable")]
    Store(#[from] RepositoryError),
}

impl ApiError for OrderError {
    fn problem(&self) -> Problem {
        match self {
            Self::Invalid(err) => Problem::invalid_field(err),
            // Another user's order is reported exactly like a missing one.
            Self::NotFound => Problem::not_found("No such order for this user."),
            Self::ProcessNotFound => {
                Problem::not_found("No such order process, or it has no such job.")
            }
            Self::NotPayable(status) => Problem::conflict(format!(
                "The order is {} and can be checked out only when Created or PaymentFailed.",
                status.as_str()
            )),
            Self::NotWaitingForPayment(status) => Problem::conflict(format!(
                "The order is {} and not waiting for this payment.",
                status.as_str()
            )),
            Self::PaymentOutcomeUnknown(_) => Problem {
                detail: "The payment was requested, but its outcome is not known yet. Checking \
                         out again continues the same payment; it never starts a second one."
                    .to_owned(),
                ..Problem::unavailable()
            },
            Self::BeingSettled => Problem {
                detail: "The payment of this order did not finish in time and is being settled; \
                         the order shows its outcome within a minute or two."
                    .to_owned(),
                ..Problem::unavailable()
            },
            // The provider's refusal, relayed by the payment service: the user's to know.
            Self::PaymentRefused(err) if err.status() == Some(422) => Problem::payment_refused(
                "The e-wallet refused this payment; nothing was charged. The order can be paid again.",
            ),
            Self::PaymentRefused(_) | Self::Store(_) => Problem::unavailable(),
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::PaymentOutcomeUnknown(_) => Some(RETRY_PENDING_CHECKOUT_SECS),
            Self::BeingSettled => Some(RETRY_SETTLING_CHECKOUT_SECS),
            _ => None,
        }
    }
}

/// When an order being settled by the reconciler (every minute) is worth looking at again.
pub const RETRY_SETTLING_CHECKOUT_SECS: u64 = 60;

/// When a checkout whose payment outcome is unknown is worth retrying.
pub const RETRY_PENDING_CHECKOUT_SECS: u64 = 5;

/// For the reconciler's invocations: a failed run is an error the runtime reports.
impl From<OrderError> for lambda_runtime::Diagnostic {
    fn from(err: OrderError) -> Self {
        Self {
            error_type: "OrderReconcilerFailed".to_owned(),
            error_message: shared::telemetry::ErrorChain(&err).to_string(),
        }
    }
}
