//! The e-wallet requests table: partition key `paymentRequestId`, one item per request.
//! Every change after the insert is a conditional update, so concurrent firings of one
//! schedule cannot both deliver: `leaseUntil` (epoch milliseconds, a number so that the
//! condition compares it correctly) and `claimToken` name the firing that holds a request.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::EwalletStatusCode;
use shared::store::{self, Key, Read, Table};
use shared::{Currency, Money, OrderId};

use super::domain::{EwalletRequest, NotificationUri, PaymentRequestId, RequestStatus};
use super::repository::{
    Cancel, Claim, EwalletRequestRepository, Insert, Refund, RepositoryError, Settlement,
};

const KEY: &str = "paymentRequestId";

/// The adapter over one `Table` of this layout.
#[derive(Debug, Clone)]
pub struct DynamoDbEwalletRequests(pub Table);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestItem {
    payment_request_id: PaymentRequestId,
    amount_cents: i64,
    currency: Currency,
    notification_uri: NotificationUri,
    order_id: OrderId,
    status: RequestStatus,
    correlation_id: String,
    scheduled: bool,
    due_at: DateTime<Utc>,
    created_at_utc: DateTime<Utc>,
    updated_at_utc: DateTime<Utc>,
    #[serde(default)]
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<EwalletStatusCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejected_status: Option<u16>,
    /// Epoch seconds after which DynamoDB's TTL deletes the request (the table's
    /// TimeToLiveSpecification names this attribute).
    #[serde(default)]
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refunded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancelled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    merchant_reference: Option<String>,
}

/// How long the provider keeps a request: long after any webhook retry has ended.
pub const KEEP_REQUESTS: chrono::Duration = chrono::Duration::days(7);

impl From<&EwalletRequest> for RequestItem {
    fn from(request: &EwalletRequest) -> Self {
        Self {
            payment_request_id: request.id,
            amount_cents: request.amount.cents(),
            currency: request.amount.currency(),
            notification_uri: request.notification_uri.clone(),
            order_id: request.order_id,
            status: request.status,
            correlation_id: request.correlation_id.clone(),
            scheduled: request.scheduled,
            due_at: request.due_at,
            created_at_utc: request.created_at,
            updated_at_utc: request.created_at,
            attempts: request.attempts,
            outcome: request.outcome,
            transaction_id: request.transaction_id.clone(),
            sent_at: request.sent_at,
            rejected_status: request.rejected_status,
            expires_at: (request.created_at + KEEP_REQUESTS).timestamp(),
            refunded_at: request.refunded_at,
            cancelled_at: request.cancelled_at,
            merchant_reference: request.merchant_reference.clone(),
        }
    }
}

impl From<RequestItem> for EwalletRequest {
    fn from(item: RequestItem) -> Self {
        Self {
            id: item.payment_request_id,
            amount: Money::from_cents(item.amount_cents, item.currency),
            notification_uri: item.notification_uri,
            order_id: item.order_id,
            status: item.status,
            correlation_id: item.correlation_id,
            scheduled: item.scheduled,
            due_at: item.due_at,
            created_at: item.created_at_utc,
            attempts: item.attempts,
            outcome: item.outcome,
            transaction_id: item.transaction_id,
            sent_at: item.sent_at,
            rejected_status: item.rejected_status,
            refunded_at: item.refunded_at,
            cancelled_at: item.cancelled_at,
            merchant_reference: item.merchant_reference,
        }
    }
}

fn key(id: PaymentRequestId) -> Key {
    Key::new(KEY, id)
}

impl EwalletRequestRepository for DynamoDbEwalletRequests {
    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn cancel(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
    ) -> Result<Cancel, RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .expression_attribute_names("#status", "status")
            // A live lease means a firing is delivering the webhook right now: its verdict
            // may reach the merchant, so that request is not cancelled.
            .condition_expression(
                "#status IN (:pending, :rejected) OR (#status = :sending AND leaseUntil < :now_ms)",
            )
            .update_expression(
                "SET #status = :cancelled, cancelledAt = :now, updatedAtUtc = :now \
                 REMOVE leaseUntil, claimToken",
            )
            .expression_attribute_values(":pending", store::value(&RequestStatus::Pending)?)
            .expression_attribute_values(":rejected", store::value(&RequestStatus::Rejected)?)
            .expression_attribute_values(":sending", store::value(&RequestStatus::Sending)?)
            .expression_attribute_values(":cancelled", store::value(&RequestStatus::Cancelled)?)
            .expression_attribute_values(":now_ms", store::epoch_millis(now))
            .expression_attribute_values(":now", store::value(&now)?);
        if store::update_if(update).await? {
            return Ok(Cancel::Cancelled(now));
        }
        Cancel::refused(id, self.get(id).await?)
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn refund(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
    ) -> Result<Refund, RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .expression_attribute_names("#status", "status")
            // While Sending, the webhook being delivered is the one that reports the
            // capture: a merchant may refund from inside that delivery.
            .condition_expression("(#status = :sent AND outcome = :success) OR #status = :sending")
            .update_expression(
                "SET refundedAt = if_not_exists(refundedAt, :now), updatedAtUtc = :now",
            )
            .expression_attribute_values(":sent", store::value(&RequestStatus::Sent)?)
            .expression_attribute_values(":success", store::value(&EwalletStatusCode::Success)?)
            .expression_attribute_values(":sending", store::value(&RequestStatus::Sending)?)
            .expression_attribute_values(":now", store::value(&now)?);
        if store::update_if(update).await? {
            // Read back: a repeated refund answers the first one's time.
            if let Some(at) = self.get(id).await?.and_then(|r| r.refunded_at) {
                return Ok(Refund::Refunded(at));
            }
        }
        Ok(match self.get(id).await? {
            None => Refund::NotFound,
            Some(request) => Refund::NotRefundable(Box::new(request)),
        })
    }

    #[tracing::instrument(skip(self, request), fields(table = %self.0.name(), payment_request_id = %request.id))]
    async fn insert_if_absent(&self, request: &EwalletRequest) -> Result<Insert, RepositoryError> {
        if self
            .0
            .insert_if_absent(&key(request.id), &RequestItem::from(request))
            .await?
        {
            return Ok(Insert::Inserted);
        }
        let existing = self
            .get(request.id)
            .await?
            .ok_or_else(|| RepositoryError::Corrupt {
                key: key(request.id).to_string(),
                reason: "the existing request vanished while read".into(),
            })?;
        Ok(Insert::Exists(Box::new(existing)))
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn mark_scheduled(
        &self,
        id: PaymentRequestId,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .update_expression("SET scheduled = :yes, dueAt = :due, updatedAtUtc = :now")
            .condition_expression("attribute_exists(paymentRequestId)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":due", store::value(&due_at)?)
            .expression_attribute_values(":now", store::value(&now)?);
        store::update_existing(
            update,
            &key(id),
            "the request vanished before it was marked scheduled",
        )
        .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn get(&self, id: PaymentRequestId) -> Result<Option<EwalletRequest>, RepositoryError> {
        // The claim decides who sends; a stale read would only cost a wasted claim, but a
        // retry must see its own first attempt.
        let row: Option<RequestItem> = self.0.get(&key(id), Read::Latest).await?;
        Ok(row.map(EwalletRequest::from))
    }

    #[tracing::instrument(skip(self, claim), fields(table = %self.0.name()))]
    async fn claim(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .expression_attribute_names("#status", "status")
            .update_expression(
                "SET #status = :sending, leaseUntil = :lease, claimToken = :token, updatedAtUtc = :at \
                 ADD attempts :one",
            )
            .condition_expression(
                // The token's own claim holds too: an SDK retry of a claim that was
                // applied but whose answer was lost must not read as another firing's.
                "attribute_exists(paymentRequestId) AND \
                 (#status = :pending OR (#status = :sending AND (leaseUntil < :now OR claimToken = :token)))",
            )
            .expression_attribute_values(":sending", store::value(&RequestStatus::Sending)?)
            .expression_attribute_values(":pending", store::value(&RequestStatus::Pending)?)
            .expression_attribute_values(":lease", store::epoch_millis(claim.lease_until))
            .expression_attribute_values(":now", store::epoch_millis(now))
            .expression_attribute_values(":token", store::value(&claim.token)?)
            .expression_attribute_values(":at", store::value(&now)?)
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, token), fields(table = %self.0.name()))]
    async fn settle(
        &self,
        id: PaymentRequestId,
        token: &str,
        settlement: &Settlement,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .expression_attribute_names("#status", "status")
            .condition_expression("#status = :sending AND claimToken = :token")
            .expression_attribute_values(":sending", store::value(&RequestStatus::Sending)?)
            .expression_attribute_values(":token", store::value(&token)?);
        let update = match settlement {
            Settlement::Sent {
                outcome,
                transaction_id,
                at,
            } => update
                .update_expression(
                    "SET #status = :status, outcome = :outcome, transactionId = :tx, \
                     sentAt = :at, updatedAtUtc = :at REMOVE leaseUntil, claimToken",
                )
                .expression_attribute_values(":status", store::value(&RequestStatus::Sent)?)
                .expression_attribute_values(":outcome", store::value(outcome)?)
                .expression_attribute_values(":tx", store::value(transaction_id)?)
                .expression_attribute_values(":at", store::value(at)?),
            Settlement::Rejected { status, at } => update
                .update_expression(
                    "SET #status = :status, rejectedStatus = :code, updatedAtUtc = :at \
                     REMOVE leaseUntil, claimToken",
                )
                .expression_attribute_values(":status", store::value(&RequestStatus::Rejected)?)
                .expression_attribute_values(":code", store::value(status)?)
                .expression_attribute_values(":at", store::value(at)?),
            Settlement::Released { at } => update
                .update_expression(
                    "SET #status = :status, updatedAtUtc = :at REMOVE leaseUntil, claimToken",
                )
                .expression_attribute_values(":status", store::value(&RequestStatus::Pending)?)
                .expression_attribute_values(":at", store::value(at)?),
        };
        store::update_if(update).await
    }
}
