//! The payments table: partition key `paymentId`; the sparse GSI `byExternalId` (keys
//! only) finds a payment by the e-wallet's id once it is set. `confirmingUntil` is the
//! confirm lease's end in Unix milliseconds (compared for equality in conditions).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::{PaymentProvider, PaymentStatus};
use shared::store::{self, Key, Read, Table};
use shared::{Currency, Money, OrderId, PaymentId, UserId};

use crate::domain::{ExternalId, IdempotencyKey, Payment, Transaction};
use crate::repository::{
    ConfirmationClaim, Evidence, OutcomeRecord, PaymentRepository, RepositoryError,
};

pub const BY_EXTERNAL_ID: &str = "byExternalId";
const KEY: &str = "paymentId";

/// The adapter over one `Table` of this layout.
#[derive(Debug, Clone)]
pub struct DynamoDbPaymentRepository(pub Table);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentItem {
    payment_id: PaymentId,
    // Absent (not null) until known: the GSI key must be a string or missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_id: Option<ExternalId>,
    user_id: UserId,
    order_id: OrderId,
    amount_cents: i64,
    currency: Currency,
    provider: PaymentProvider,
    status: PaymentStatus,
    #[serde(default)]
    transactions: Vec<TransactionItem>,
    idempotency_key: IdempotencyKey,
    created_at_utc: DateTime<Utc>,
    updated_at_utc: DateTime<Utc>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "chrono::serde::ts_milliseconds_option"
    )]
    confirming_until: Option<DateTime<Utc>>,
    #[serde(default)]
    order_confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refunded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransactionItem {
    transaction_id: String,
    amount_cents: i64,
    transaction_time: DateTime<Utc>,
}

/// What the `byExternalId` index projects: the key only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdItem {
    payment_id: PaymentId,
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
            payment_id: payment.id,
            external_id: payment.external_id.clone(),
            user_id: payment.user_id,
            order_id: payment.order_id,
            amount_cents: payment.amount.cents(),
            currency: payment.amount.currency(),
            provider: payment.provider,
            status: payment.status,
            transactions: payment.transactions.iter().map(Into::into).collect(),
            idempotency_key: payment.idempotency_key.clone(),
            created_at_utc: payment.created_at,
            updated_at_utc: payment.updated_at,
            confirming_until: payment.confirming_until,
            order_confirmed: payment.order_confirmed,
            refunded_at: payment.refunded_at,
            cancelled_at: payment.cancelled_at,
        }
    }
}

impl From<PaymentItem> for Payment {
    fn from(item: PaymentItem) -> Self {
        Payment {
            id: item.payment_id,
            external_id: item.external_id,
            user_id: item.user_id,
            order_id: item.order_id,
            amount: Money::from_cents(item.amount_cents, item.currency),
            provider: item.provider,
            status: item.status,
            transactions: item
                .transactions
                .into_iter()
                .map(|t| Transaction {
                    transaction_id: t.transaction_id,
                    amount_cents: t.amount_cents,
                    transaction_time: t.transaction_time,
                })
                .collect(),
            idempotency_key: item.idempotency_key,
            created_at: item.created_at_utc,
            updated_at: item.updated_at_utc,
            confirming_until: item.confirming_until,
            order_confirmed: item.order_confirmed,
            refunded_at: item.refunded_at,
            cancelled_at: item.cancelled_at,
        }
    }
}

fn key(id: PaymentId) -> Key {
    Key::new(KEY, id)
}

impl PaymentRepository for DynamoDbPaymentRepository {
    #[tracing::instrument(skip(self, payment), fields(table = %self.0.name(), payment_id = %payment.id))]
    async fn insert_if_absent(&self, payment: &Payment) -> Result<bool, RepositoryError> {
        self.0
            .insert_if_absent(&key(payment.id), &PaymentItem::from(payment))
            .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn get(&self, id: PaymentId) -> Result<Option<Payment>, RepositoryError> {
        let row: Option<PaymentItem> = self.0.get(&key(id), Read::Latest).await?;
        Ok(row.map(Payment::from))
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn find_by_external_id(
        &self,
        external: &ExternalId,
    ) -> Result<Option<PaymentId>, RepositoryError> {
        let output = self
            .0
            .client()
            .query()
            .table_name(self.0.name())
            .index_name(BY_EXTERNAL_ID)
            .key_condition_expression("externalId = :external")
            .expression_attribute_values(":external", store::value(external)?)
            .limit(2)
            .send()
            .await
            .map_err(store::failed)?;
        let index_key = format!("externalId={external}");
        let mut ids = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| store::decode::<IdItem>(&index_key, item).map(|row| row.payment_id));
        match (ids.next().transpose()?, ids.next()) {
            (None, _) => Ok(None),
            (Some(id), None) => Ok(Some(id)),
            // Each payment sets its external id once; two sharing one cannot be told apart.
            (Some(_), Some(_)) => Err(RepositoryError::Corrupt {
                key: index_key,
                reason: "more than one payment has this external id".into(),
            }),
        }
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn set_external_id(
        &self,
        id: PaymentId,
        external: &ExternalId,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .update_expression("SET externalId = :external, updatedAtUtc = :now")
            .condition_expression(
                "attribute_exists(paymentId) AND (attribute_not_exists(externalId) OR externalId = :external)",
            )
            .expression_attribute_values(":external", store::value(external)?)
            .expression_attribute_values(":now", store::value(&now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, record), fields(table = %self.0.name(), payment_id = %record.id))]
    async fn record_outcome(&self, record: OutcomeRecord<'_>) -> Result<bool, RepositoryError> {
        let update = self
            .0
            .update(&key(record.id))
            .condition_expression("#status = :requested")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":outcome", store::value(&record.outcome)?)
            .expression_attribute_values(":requested", store::value(&PaymentStatus::Requested)?)
            .expression_attribute_values(":lease", store::epoch_millis(record.lease_until))
            .expression_attribute_values(":now", store::value(&record.now)?);
        let update = match record.evidence {
            Evidence::Transaction(transaction) => update
                .update_expression(
                    "SET #status = :outcome, \
                     transactions = list_append(if_not_exists(transactions, :empty), :tx), \
                     confirmingUntil = :lease, updatedAtUtc = :now",
                )
                .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
                .expression_attribute_values(
                    ":tx",
                    AttributeValue::L(vec![store::value(&TransactionItem::from(transaction))?]),
                ),
            Evidence::Cancelled(at) => update
                .update_expression(
                    "SET #status = :outcome, cancelledAt = :cancelled, \
                     confirmingUntil = :lease, updatedAtUtc = :now",
                )
                .expression_attribute_values(":cancelled", store::value(&at)?),
        };
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, claim), fields(table = %self.0.name(), payment_id = %claim.id))]
    async fn claim_confirmation(&self, claim: ConfirmationClaim) -> Result<bool, RepositoryError> {
        let lease_condition = match claim.observed {
            Some(_) => "confirmingUntil = :observed",
            None => "attribute_not_exists(confirmingUntil)",
        };
        let mut update = self
            .0
            .update(&key(claim.id))
            .update_expression("SET confirmingUntil = :lease, updatedAtUtc = :now")
            .condition_expression(format!(
                "#status = :status AND orderConfirmed = :false AND {lease_condition}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", store::value(&claim.status)?)
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":lease", store::epoch_millis(claim.lease_until))
            .expression_attribute_values(":now", store::value(&claim.now)?);
        if let Some(observed) = claim.observed {
            update = update.expression_attribute_values(":observed", store::epoch_millis(observed));
        }
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn mark_refunded(&self, id: PaymentId, at: DateTime<Utc>) -> Result<(), RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            // The first refund's time stays: a repeat records nothing new.
            .update_expression(
                "SET refundedAt = if_not_exists(refundedAt, :at), updatedAtUtc = :at",
            )
            .condition_expression("attribute_exists(paymentId)")
            .expression_attribute_values(":at", store::value(&at)?);
        store::update_existing(
            update,
            &key(id),
            "the payment vanished while it was refunded",
        )
        .await
    }

    async fn mark_order_confirmed(
        &self,
        id: PaymentId,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .update_expression(
                "SET orderConfirmed = :true, updatedAtUtc = :now REMOVE confirmingUntil",
            )
            .condition_expression("attribute_exists(paymentId)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", store::value(&now)?);
        store::update_existing(
            update,
            &key(id),
            "the payment vanished while its order was confirmed",
        )
        .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.0.name()))]
    async fn release_confirmation(
        &self,
        id: PaymentId,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .0
            .update(&key(id))
            .update_expression("SET updatedAtUtc = :now REMOVE confirmingUntil")
            .condition_expression("confirmingUntil = :lease AND orderConfirmed = :false")
            .expression_attribute_values(":lease", store::epoch_millis(lease_until))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", store::value(&now)?);
        store::update_if(update).await
    }
}
