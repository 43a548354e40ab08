//! The port to the e-wallet's store of payment requests.

use std::future::Future;

use chrono::{DateTime, Utc};
use shared::contracts::EwalletStatusCode;

use super::domain::{EwalletRequest, PaymentRequestId, RequestStatus};

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

/// What a cancel found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// Cancelled at this time (now, or by an earlier call: a cancel happens once).
    Cancelled(DateTime<Utc>),
    /// Its webhook was delivered: the verdict stands and nothing is cancelled.
    Decided(Box<EwalletRequest>),
    /// A firing holds a live lease on it and is delivering its webhook now.
    Busy,
    NotFound,
}

impl Cancel {
    /// What a cancel whose condition did not hold found in `stored` (read after it).
    pub fn refused(
        id: PaymentRequestId,
        stored: Option<EwalletRequest>,
    ) -> Result<Self, RepositoryError> {
        let Some(request) = stored else {
            return Ok(Self::NotFound);
        };
        match request.status {
            RequestStatus::Cancelled => {
                request
                    .cancelled_at
                    .map(Self::Cancelled)
                    .ok_or_else(|| RepositoryError::Corrupt {
                        key: format!("paymentRequestId={id}"),
                        reason: "a cancelled request without cancelledAt".into(),
                    })
            }
            RequestStatus::Sent => Ok(Self::Decided(Box::new(request))),
            // Sending under a live lease, or changed between the write and the read (a
            // firing released it): either way the caller tries again later.
            RequestStatus::Pending | RequestStatus::Sending | RequestStatus::Rejected => {
                Ok(Self::Busy)
            }
        }
    }
}

pub trait EwalletRequestRepository: Send + Sync {
    /// Cancels a request whose webhook was not delivered: Pending, Rejected, or Sending
    /// under a lease that ended before `now` (its firing died). A cancelled request is
    /// never claimed again, so its webhook is never sent.
    fn cancel(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Cancel, RepositoryError>> + Send;

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
