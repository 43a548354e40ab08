//! The port to the e-wallet's store of payment requests.

use std::future::Future;

use chrono::{DateTime, Utc};
use shared::contracts::EwalletStatusCode;

use super::domain::{EwalletRequest, PaymentRequestId};

pub use shared::store::StoreError as RepositoryError;

/// What a conditional insert found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    Inserted,
    /// A request with that id exists (a retry of the same call, or a reused key).
    Exists(Box<EwalletRequest>),
}

/// One firing's claim on a request: only the holder of `token` may settle it, and after
/// `lease_until` another firing may take it over (the holder died or timed out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub token: String,
    pub lease_until: DateTime<Utc>,
}

/// How a claimed request ends this firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The receiver took the webhook (2xx).
    Sent {
        outcome: EwalletStatusCode,
        transaction_id: String,
        at: DateTime<Utc>,
    },
    /// The receiver refused it for good (a 4xx other than 408/429).
    Rejected { status: u16, at: DateTime<Utc> },
    /// Not delivered this time: back to Pending for the next firing.
    Released { at: DateTime<Utc> },
}

/// What a refund found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// Paid back at this time (now, or by an earlier call: a refund happens once).
    Refunded(DateTime<Utc>),
    /// Only a payment that was sent as a success can be paid back.
    NotRefundable(Box<EwalletRequest>),
    NotFound,
}

pub trait EwalletRequestRepository: Send + Sync {
    /// Pays back a request that was sent as a success (or whose webhook is being delivered
    /// right now: the merchant may refund from inside that delivery), once: a repeated call
    /// answers the first refund's time.
    fn refund(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Refund, RepositoryError>> + Send;

    /// Stores `request` unless one with its id exists; then returns that one.
    fn insert_if_absent(
        &self,
        request: &EwalletRequest,
    ) -> impl Future<Output = Result<Insert, RepositoryError>> + Send;

    /// Records that the request's schedule exists, due at `due_at`.
    fn mark_scheduled(
        &self,
        id: PaymentRequestId,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    fn get(
        &self,
        id: PaymentRequestId,
    ) -> impl Future<Output = Result<Option<EwalletRequest>, RepositoryError>> + Send;

    /// Moves a Pending request (or a Sending one whose lease ended before `now`) to Sending
    /// under `claim`, counting the attempt. `false` when another firing holds it or it is
    /// settled or unknown: exactly one concurrent firing gets `true`.
    fn claim(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Ends the claim holding `token`. `false` when the claim was lost (its lease ended and
    /// another firing took the request over).
    fn settle(
        &self,
        id: PaymentRequestId,
        token: &str,
        settlement: &Settlement,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;
}
