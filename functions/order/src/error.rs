use shared::Problem;
use shared::ValidationError;
use shared::http::ApiError;

use crate::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("invalid request")]
    Invalid(#[from] ValidationError),
    #[error("order not found")]
    NotFound,
    #[error("order store unavailable")]
    Store(#[from] RepositoryError),
}

impl ApiError for OrderError {
    fn problem(&self) -> Problem {
        match self {
            Self::Invalid(err) => Problem::invalid_field(err),
            // Another user's order is reported exactly like a missing one.
            Self::NotFound => Problem::not_found("No such order for this user."),
            Self::Store(_) => Problem::unavailable(),
        }
    }
}
