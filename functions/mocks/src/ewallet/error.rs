use shared::Problem;
use shared::ValidationError;
use shared::http::ApiError;

use super::repository::RepositoryError;
use super::scheduler::SchedulerError;

/// What can go wrong with the e-wallet's API (payment requests, refunds, cancels).
#[derive(Debug, thiserror::Error)]
pub enum EwalletError {
    #[error("invalid request")]
    Invalid(#[from] ValidationError),
    #[error("missing or wrong API key")]
    Unauthorized,
    #[error("no such payment request")]
    NotFound,
    #[error("only a payment sent as a success can be refunded")]
    NotRefundable,
    #[error("the payment request's webhook is being delivered")]
    Busy,
    #[error("the Idempotency-Key was used for a different payment request")]
    IdempotencyConflict,
    #[error("e-wallet request store unavailable")]
    Store(#[from] RepositoryError),
    #[error("webhook scheduling unavailable")]
    Schedule(#[from] SchedulerError),
}

impl ApiError for EwalletError {
    fn problem(&self) -> Problem {
        match self {
            Self::Invalid(err) => Problem::invalid_field(err),
            Self::NotFound => Problem::not_found("No such payment request."),
            Self::NotRefundable => Problem::conflict(
                "Only a payment request whose webhook reported SUCCESS can be refunded.",
            ),
            Self::Busy => Problem::conflict(
                "The payment request's webhook is being delivered right now; retry in a few seconds.",
            ),
            Self::Unauthorized => {
                Problem::unauthorized("Send the merchant's API key in the X-Api-Key header.")
            }
            Self::IdempotencyConflict => Problem::conflict(
                "This Idempotency-Key was used for a payment request with other terms; use a new key.",
            ),
            Self::Store(_) | Self::Schedule(_) => Problem::unavailable(),
        }
    }
}
