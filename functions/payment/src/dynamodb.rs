//! The payments table: partition key `paymentId`; the sparse GSI `byExternalId` (keys
//! only) finds a payment by the e-wallet's id once it is set. `confirmingUntil` is the
//! confirm lease's end in Unix milliseconds (compared for equality in conditions).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::{PaymentProvider, PaymentStatus};
use shared::store::{self, Item};
use shared::{Currency, Money, OrderId, PaymentId, UserId};

use crate::domain::{ExternalId, IdempotencyKey, Payment, Transaction};
use crate::repository::{PaymentRepository, RepositoryError};

pub const BY_EXTERNAL_ID: &str = "byExternalId";
const PROVIDER_EWALLET: &str = "Ewallet";

#[derive(Debug, Clone)]
pub struct DynamoDbPaymentRepository {
    client: Client,
    table: String,
}

impl DynamoDbPaymentRepository {
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
struct PaymentItem {
    payment_id: String,
    // Absent (not null) until known: the GSI key must be a string or missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    user_id: String,
    order_id: String,
    amount_cents: i64,
    currency: String,
    provider: String,
    status: String,
    #[serde(default)]
    transactions: Vec<TransactionItem>,
    idempotency_key: String,
    created_at_utc: DateTime<Utc>,
    updated_at_utc: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirming_until: Option<i64>,
    #[serde(default)]
    order_confirmed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionItem {
    transaction_id: String,
    amount_cents: i64,
    transaction_time: DateTime<Utc>,
}

impl From<&Transaction> for TransactionItem {
    fn from(tx: &Transaction) -> Self {
        Self {
            transaction_id: tx.transaction_id.clone(),
            amount_cents: tx.amount_cents,
            transaction_time: tx.transaction_time,
        }
    }
}

impl From<&Payment> for PaymentItem {
    fn from(payment: &Payment) -> Self {
        Self {
            payment_id: payment.id.to_string(),
            external_id: payment.external_id.as_ref().map(|e| e.as_str().to_owned()),
            user_id: payment.user_id.to_string(),
            order_id: payment.order_id.to_string(),
            amount_cents: payment.amount.cents(),
            currency: payment.amount.currency().to_string(),
            provider: PROVIDER_EWALLET.to_owned(),
            status: payment.status.as_str().to_owned(),
            transactions: payment.transactions.iter().map(Into::into).collect(),
            idempotency_key: payment.idempotency_key.as_str().to_owned(),
            created_at_utc: payment.created_at,
            updated_at_utc: payment.updated_at,
            confirming_until: payment.confirming_until.map(|t| t.timestamp_millis()),
            order_confirmed: payment.order_confirmed,
        }
    }
}

impl TryFrom<PaymentItem> for Payment {
    type Error = RepositoryError;

    fn try_from(item: PaymentItem) -> Result<Self, Self::Error> {
        let key = item.payment_id.clone();
        let corrupt = |reason: String| RepositoryError::Corrupt {
            key: key.clone(),
            reason,
        };
        let provider = match item.provider.as_str() {
            PROVIDER_EWALLET => PaymentProvider::Ewallet,
            other => return Err(corrupt(format!("unknown provider {other:?}"))),
        };
        let currency = Currency::parse(&item.currency).map_err(|e| corrupt(e.to_string()))?;
        let confirming_until = item
            .confirming_until
            .map(|ms| {
                DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| corrupt(format!("confirmingUntil {ms} is out of range")))
            })
            .transpose()?;
        Ok(Payment {
            id: PaymentId::parse(&item.payment_id).map_err(|e| corrupt(e.to_string()))?,
            external_id: item
                .external_id
                .as_deref()
                .map(ExternalId::parse)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            user_id: UserId::parse(&item.user_id).map_err(|e| corrupt(e.to_string()))?,
            order_id: OrderId::parse(&item.order_id).map_err(|e| corrupt(e.to_string()))?,
            amount: Money::from_cents(item.amount_cents, currency),
            provider,
            status: item.status.parse::<PaymentStatus>().map_err(corrupt)?,
            transactions: item
                .transactions
                .into_iter()
                .map(|t| Transaction {
                    transaction_id: t.transaction_id,
                    amount_cents: t.amount_cents,
                    transaction_time: t.transaction_time,
                })
                .collect(),
            idempotency_key: IdempotencyKey::parse(&item.idempotency_key)
                .map_err(|e| corrupt(e.to_string()))?,
            created_at: item.created_at_utc,
            updated_at: item.updated_at_utc,
            confirming_until,
            order_confirmed: item.order_confirmed,
        })
    }
}

fn decode(item: Item) -> Result<Payment, RepositoryError> {
    Payment::try_from(store::decode::<PaymentItem>(item)?)
}

impl DynamoDbPaymentRepository {
    fn update(&self, id: PaymentId) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("paymentId", store::text(id.to_string()))
    }
}

impl PaymentRepository for DynamoDbPaymentRepository {
    #[tracing::instrument(skip(self, payment), fields(table = %self.table, payment_id = %payment.id))]
    async fn insert_if_absent(&self, payment: &Payment) -> Result<bool, RepositoryError> {
        store::put_if_absent(
            &self.client,
            &self.table,
            &PaymentItem::from(payment),
            "paymentId",
        )
        .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn get(&self, id: PaymentId) -> Result<Option<Payment>, RepositoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("paymentId", store::text(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store::failed)?;
        output.item.map(decode).transpose()
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn find_by_external_id(
        &self,
        external: &ExternalId,
    ) -> Result<Option<PaymentId>, RepositoryError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_EXTERNAL_ID)
            .key_condition_expression("externalId = :external")
            .expression_attribute_values(":external", store::text(external.as_str()))
            .limit(2)
            .send()
            .await
            .map_err(store::failed)?;
        let ids: Vec<&str> = output
            .items()
            .iter()
            .filter_map(|item| item.get("paymentId").and_then(|v| v.as_s().ok()))
            .map(String::as_str)
            .collect();
        let corrupt = |reason: String| RepositoryError::Corrupt {
            key: format!("externalId={external}"),
            reason,
        };
        match ids.as_slice() {
            [] => Ok(None),
            // Each payment sets its external id once; two sharing one cannot be told apart.
            [_, _, ..] => Err(corrupt("more than one payment has this external id".into())),
            [id] => PaymentId::parse(id)
                .map(Some)
                .map_err(|e| corrupt(e.to_string())),
        }
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn set_external_id(
        &self,
        id: PaymentId,
        external: &ExternalId,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .update(id)
            .update_expression("SET externalId = :external, updatedAtUtc = :now")
            .condition_expression(
                "attribute_exists(paymentId) AND (attribute_not_exists(externalId) OR externalId = :external)",
            )
            .expression_attribute_values(":external", store::text(external.as_str()))
            .expression_attribute_values(":now", store::timestamp(now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, transaction), fields(table = %self.table))]
    async fn record_outcome(
        &self,
        id: PaymentId,
        outcome: PaymentStatus,
        transaction: &Transaction,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let tx = serde_dynamo::to_attribute_value(TransactionItem::from(transaction))
            .map_err(store::failed)?;
        let update = self
            .update(id)
            .update_expression(
                "SET #status = :outcome, \
                 transactions = list_append(if_not_exists(transactions, :empty), :tx), \
                 confirmingUntil = :lease, updatedAtUtc = :now",
            )
            .condition_expression("#status = :requested")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":outcome", store::text(outcome.as_str()))
            .expression_attribute_values(
                ":requested",
                store::text(PaymentStatus::Requested.as_str()),
            )
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":tx", AttributeValue::L(vec![tx]))
            .expression_attribute_values(":lease", store::epoch_millis(lease_until))
            .expression_attribute_values(":now", store::timestamp(now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn claim_confirmation(
        &self,
        id: PaymentId,
        status: PaymentStatus,
        observed: Option<DateTime<Utc>>,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let lease_condition = match observed {
            Some(_) => "confirmingUntil = :observed",
            None => "attribute_not_exists(confirmingUntil)",
        };
        let mut update = self
            .update(id)
            .update_expression("SET confirmingUntil = :lease, updatedAtUtc = :now")
            .condition_expression(format!(
                "#status = :status AND orderConfirmed = :false AND {lease_condition}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", store::text(status.as_str()))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":lease", store::epoch_millis(lease_until))
            .expression_attribute_values(":now", store::timestamp(now)?);
        if let Some(observed) = observed {
            update = update.expression_attribute_values(":observed", store::epoch_millis(observed));
        }
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn mark_order_confirmed(
        &self,
        id: PaymentId,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let update = self
            .update(id)
            .update_expression(
                "SET orderConfirmed = :true, updatedAtUtc = :now REMOVE confirmingUntil",
            )
            .condition_expression("attribute_exists(paymentId)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", store::timestamp(now)?);
        if store::update_if(update).await? {
            Ok(())
        } else {
            Err(RepositoryError::Corrupt {
                key: id.to_string(),
                reason: "the payment vanished while its order was confirmed".into(),
            })
        }
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn release_confirmation(
        &self,
        id: PaymentId,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .update(id)
            .update_expression("SET updatedAtUtc = :now REMOVE confirmingUntil")
            .condition_expression("confirmingUntil = :lease AND orderConfirmed = :false")
            .expression_attribute_values(":lease", store::epoch_millis(lease_until))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", store::timestamp(now)?);
        store::update_if(update).await
    }
}
