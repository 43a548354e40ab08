use std::future::Future;

use chrono::{DateTime, Utc};
use shared::PaymentId;
use shared::contracts::PaymentStatus;

use crate::domain::{ExternalId, Payment, Transaction};

pub use shared::store::StoreError as RepositoryError;

/// An outcome to record: Requested → `outcome`, keeping what decided it and taking the
/// confirm lease until `lease_until`.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeRecord<'a> {
    pub id: PaymentId,
    pub outcome: PaymentStatus,
    pub evidence: Evidence<'a>,
    pub lease_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// What decided an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence<'a> {
    /// The e-wallet's transaction (from its webhook, or from a cancel that found the
    /// webhook delivered), appended to the payment's transactions.
    Transaction(&'a Transaction),
    /// The e-wallet cancelled the request at this time: no money moved.
    Cancelled(DateTime<Utc>),
}

/// A delivery's claim on confirming a payment in `status`: the lease goes to `lease_until`,
/// only if it is still the `observed` one (none, or an expired one).
#[derive(Debug, Clone, Copy)]
pub struct ConfirmationClaim {
    pub id: PaymentId,
    pub status: PaymentStatus,
    pub observed: Option<DateTime<Utc>>,
    pub lease_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// The payments the payment service needs, as the domain sees them. Every change is a
/// conditional write: `false` means the condition did not hold and nothing changed.
pub trait PaymentRepository: Send + Sync {
    /// Stores `payment` unless a payment with its id exists; `true` when it was stored.
    fn insert_if_absent(
        &self,
        payment: &Payment,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// One payment, read consistently.
    fn get(
        &self,
        id: PaymentId,
    ) -> impl Future<Output = Result<Option<Payment>, RepositoryError>> + Send;

    /// The payment the e-wallet knows as `external`.
    fn find_by_external_id(
        &self,
        external: &ExternalId,
    ) -> impl Future<Output = Result<Option<PaymentId>, RepositoryError>> + Send;

    /// Sets the e-wallet's id, only if none (or the same) is stored.
    fn set_external_id(
        &self,
        id: PaymentId,
        external: &ExternalId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Records the outcome with its evidence and takes the confirm lease in one write;
    /// only while the payment is Requested.
    fn record_outcome(
        &self,
        record: OutcomeRecord<'_>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Takes the confirm lease of a payment in the claim's status whose order is not
    /// confirmed, only if the lease is still the observed one.
    fn claim_confirmation(
        &self,
        claim: ConfirmationClaim,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// The e-wallet paid this success back (at `at`, or earlier: the first time stays).
    fn mark_refunded(
        &self,
        id: PaymentId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The order knows the outcome: no delivery needs to confirm it again.
    fn mark_order_confirmed(
        &self,
        id: PaymentId,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Gives up the lease held until `lease_until` (if it is still ours), so the next
    /// delivery confirms at once.
    fn release_confirmation(
        &self,
        id: PaymentId,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;
}
