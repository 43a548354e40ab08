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
    #[error("order process or job not found")]
    ProcessNotFound,
    #[error("payment service unavailable")]
    PaymentUnavailable(#[source] CallError),
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
            Self::PaymentUnavailable(_) | Self::Store(_) => Problem::unavailable(),
        }
    }
}
