//! The e-wallet requests table: partition key `paymentRequestId`, one item per request.
//! Every change after the insert is a conditional update, so concurrent firings of one
//! schedule cannot both deliver: `leaseUntil` (epoch milliseconds, a number so that the
//! condition compares it correctly) and `claimToken` name the firing that holds a request.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::store::{self, Item};
use shared::{Currency, Money, OrderId};

use super::domain::{
    EwalletRequest, NotificationUri, PaymentRequestId, RequestStatus, outcome_name, parse_outcome,
};
use super::repository::{Claim, EwalletRequestRepository, Insert, RepositoryError, Settlement};

#[derive(Debug, Clone)]
pub struct DynamoDbEwalletRequests {
    client: Client,
    table: String,
}

impl DynamoDbEwalletRequests {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestItem {
    payment_request_id: String,
    amount_cents: i64,
    currency: String,
    notification_uri: String,
    order_id: String,
    status: String,
    correlation_id: String,
    scheduled: bool,
    due_at: DateTime<Utc>,
    created_at_utc: DateTime<Utc>,
    updated_at_utc: DateTime<Utc>,
    #[serde(default)]
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejected_status: Option<u16>,
}

impl From<&EwalletRequest> for RequestItem {
    fn from(request: &EwalletRequest) -> Self {
        Self {
            payment_request_id: request.id.to_string(),
            amount_cents: request.amount.cents(),
            currency: request.amount.currency().to_string(),
            notification_uri: request.notification_uri.as_str().to_owned(),
            order_id: request.order_id.to_string(),
            status: request.status.as_str().to_owned(),
            correlation_id: request.correlation_id.clone(),
            scheduled: request.scheduled,
            due_at: request.due_at,
            created_at_utc: request.created_at,
            updated_at_utc: request.created_at,
            attempts: request.attempts,
            outcome: request.outcome.map(|o| outcome_name(o).to_owned()),
            transaction_id: None,
            sent_at: request.sent_at,
            rejected_status: request.rejected_status,
        }
    }
}

impl TryFrom<RequestItem> for EwalletRequest {
    type Error = RepositoryError;

    fn try_from(item: RequestItem) -> Result<Self, Self::Error> {
        let key = item.payment_request_id.clone();
        let corrupt = |reason: String| RepositoryError::Corrupt {
            key: key.clone(),
            reason,
        };
        let currency = Currency::parse(&item.currency).map_err(|e| corrupt(e.to_string()))?;
        Ok(Self {
            id: PaymentRequestId::parse(&item.payment_request_id)
                .map_err(|e| corrupt(e.to_string()))?,
            amount: Money::from_cents(item.amount_cents, currency),
            notification_uri: NotificationUri::parse(&item.notification_uri)
                .map_err(|e| corrupt(e.to_string()))?,
            order_id: OrderId::parse(&item.order_id).map_err(|e| corrupt(e.to_string()))?,
            status: item.status.parse().map_err(corrupt)?,
            correlation_id: item.correlation_id,
            scheduled: item.scheduled,
            due_at: item.due_at,
            created_at: item.created_at_utc,
            attempts: item.attempts,
            outcome: item
                .outcome
                .as_deref()
                .map(parse_outcome)
                .transpose()
                .map_err(corrupt)?,
            sent_at: item.sent_at,
            rejected_status: item.rejected_status,
        })
    }
}

fn decode(item: Item) -> Result<EwalletRequest, RepositoryError> {
    EwalletRequest::try_from(store::decode::<RequestItem>(item)?)
}

impl DynamoDbEwalletRequests {
    fn update(&self, id: PaymentRequestId) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("paymentRequestId", store::text(id.to_string()))
    }
}

impl EwalletRequestRepository for DynamoDbEwalletRequests {
    #[tracing::instrument(skip(self, request), fields(table = %self.table, payment_request_id = %request.id))]
    async fn insert_if_absent(&self, request: &EwalletRequest) -> Result<Insert, RepositoryError> {
        if store::put_if_absent(
            &self.client,
            &self.table,
            &RequestItem::from(request),
            "paymentRequestId",
        )
        .await?
        {
            return Ok(Insert::Inserted);
        }
        let existing = self.get(request.id).await?.ok_or_else(|| {
            RepositoryError::Store("the existing request vanished while read".into())
        })?;
        Ok(Insert::Exists(Box::new(existing)))
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn mark_scheduled(
        &self,
        id: PaymentRequestId,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let update = self
            .update(id)
            .update_expression("SET scheduled = :yes, dueAt = :due, updatedAtUtc = :now")
            .condition_expression("attribute_exists(paymentRequestId)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":due", store::timestamp(due_at)?)
            .expression_attribute_values(":now", store::timestamp(now)?);
        if store::update_if(update).await? {
            Ok(())
        } else {
            Err(RepositoryError::Store(
                format!("payment request {id} vanished before it was marked scheduled").into(),
            ))
        }
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn get(&self, id: PaymentRequestId) -> Result<Option<EwalletRequest>, RepositoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("paymentRequestId", store::text(id.to_string()))
            // The claim decides who sends; a stale read would only cost a wasted claim, but
            // a retry must see its own first attempt.
            .consistent_read(true)
            .send()
            .await
            .map_err(store::failed)?;
        output.item.map(decode).transpose()
    }

    #[tracing::instrument(skip(self, claim), fields(table = %self.table))]
    async fn claim(
        &self,
        id: PaymentRequestId,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .update(id)
            .expression_attribute_names("#status", "status")
            .update_expression(
                "SET #status = :sending, leaseUntil = :lease, claimToken = :token, updatedAtUtc = :at \
                 ADD attempts :one",
            )
            .condition_expression(
                "attribute_exists(paymentRequestId) AND \
                 (#status = :pending OR (#status = :sending AND leaseUntil < :now))",
            )
            .expression_attribute_values(":sending", store::text(RequestStatus::Sending.as_str()))
            .expression_attribute_values(":pending", store::text(RequestStatus::Pending.as_str()))
            .expression_attribute_values(":lease", store::epoch_millis(claim.lease_until))
            .expression_attribute_values(":now", store::epoch_millis(now))
            .expression_attribute_values(":token", store::text(&claim.token))
            .expression_attribute_values(":at", store::timestamp(now)?)
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, token), fields(table = %self.table))]
    async fn settle(
        &self,
        id: PaymentRequestId,
        token: &str,
        settlement: &Settlement,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .update(id)
            .expression_attribute_names("#status", "status")
            .condition_expression("#status = :sending AND claimToken = :token")
            .expression_attribute_values(":sending", store::text(RequestStatus::Sending.as_str()))
            .expression_attribute_values(":token", store::text(token));
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
                .expression_attribute_values(":status", store::text(RequestStatus::Sent.as_str()))
                .expression_attribute_values(":outcome", store::text(outcome_name(*outcome)))
                .expression_attribute_values(":tx", store::text(transaction_id))
                .expression_attribute_values(":at", store::timestamp(*at)?),
            Settlement::Rejected { status, at } => update
                .update_expression(
                    "SET #status = :status, rejectedStatus = :code, updatedAtUtc = :at \
                     REMOVE leaseUntil, claimToken",
                )
                .expression_attribute_values(
                    ":status",
                    store::text(RequestStatus::Rejected.as_str()),
                )
                .expression_attribute_values(":code", AttributeValue::N(status.to_string()))
                .expression_attribute_values(":at", store::timestamp(*at)?),
            Settlement::Released { at } => update
                .update_expression(
                    "SET #status = :status, updatedAtUtc = :at REMOVE leaseUntil, claimToken",
                )
                .expression_attribute_values(
                    ":status",
                    store::text(RequestStatus::Pending.as_str()),
                )
                .expression_attribute_values(":at", store::timestamp(*at)?),
        };
        store::update_if(update).await
    }
}
