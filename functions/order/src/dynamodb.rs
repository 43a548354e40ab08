//! The orders table: partition key `userId`, sort key `orderId`, so every read names one
//! user's partition. `nameKey` holds the case-folded name the search filters on.
//!
//! A PaymentPending order also carries `pendingShard` and `pendingUntilMs` (epoch
//! milliseconds: a number, so the index orders and compares it correctly), the keys of the
//! sparse `byPendingDeadline` index through which the reconciler finds overdue orders. Every
//! write that takes an order out of PaymentPending removes them.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::OrderStatus;
use shared::paging::{NameFilter, fold_case};
use shared::store::{self, Item, Key, Read, Table};
use shared::{Currency, Money, OrderId, PaymentId, UserId};

use crate::domain::pending_shard;
use crate::repository::{
    CheckoutAbandon, CheckoutStart, OrderRepository, Overdue, PaymentSettlement, RepositoryError,
    SearchHits, Transition,
};
use crate::{Order, OrderDetail};

const KEY: [&str; 2] = ["userId", "orderId"];
const PENDING_INDEX: &str = "byPendingDeadline";

#[derive(Debug, Clone)]
pub struct DynamoDbOrderRepository {
    table: Table,
}

impl DynamoDbOrderRepository {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }

    pub fn table(&self) -> &str {
        self.table.name()
    }
}

fn key(user: UserId, order: OrderId) -> Key {
    Key::new(KEY[0], user).and(KEY[1], order)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderItem {
    user_id: UserId,
    order_id: OrderId,
    name: String,
    name_key: String,
    total_cents: i64,
    currency: Currency,
    status: OrderStatus,
    created_at_utc: DateTime<Utc>,
    updated_at_utc: DateTime<Utc>,
    details: Vec<DetailItem>,
    // Orders written before attempts were counted have no attribute.
    #[serde(default)]
    checkout_attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_id: Option<PaymentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_shard: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_until_ms: Option<i64>,
}

/// An entry of the pending index: just the order's key.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OverdueItem {
    user_id: UserId,
    order_id: OrderId,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailItem {
    product_id: String,
    product_name: String,
    unit_price_cents: i64,
    quantity: u32,
}

impl From<&Order> for OrderItem {
    fn from(order: &Order) -> Self {
        Self {
            user_id: order.user_id,
            order_id: order.id,
            name: order.name.clone(),
            name_key: fold_case(&order.name),
            total_cents: order.total.cents(),
            currency: order.total.currency(),
            status: order.status,
            created_at_utc: order.created_at,
            updated_at_utc: order.updated_at,
            details: order
                .details
                .iter()
                .map(|d| DetailItem {
                    product_id: d.product_id.clone(),
                    product_name: d.product_name.clone(),
                    unit_price_cents: d.unit_price.cents(),
                    quantity: d.quantity,
                })
                .collect(),
            checkout_attempt: order.checkout_attempt,
            payment_id: order.payment_id,
            pending_shard: order.pending_until.map(|_| pending_shard(order.id)),
            pending_until_ms: order.pending_until.map(|until| until.timestamp_millis()),
        }
    }
}

impl From<OrderItem> for Order {
    fn from(item: OrderItem) -> Self {
        let currency = item.currency;
        Order {
            id: item.order_id,
            user_id: item.user_id,
            name: item.name,
            total: Money::from_cents(item.total_cents, currency),
            status: item.status,
            created_at: item.created_at_utc,
            updated_at: item.updated_at_utc,
            details: item
                .details
                .into_iter()
                .map(|d| OrderDetail {
                    product_id: d.product_id,
                    product_name: d.product_name,
                    unit_price: Money::from_cents(d.unit_price_cents, currency),
                    quantity: d.quantity,
                })
                .collect(),
            checkout_attempt: item.checkout_attempt,
            payment_id: item.payment_id,
            pending_until: item
                .pending_until_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis),
        }
    }
}

fn decode(item: Item) -> Result<Order, RepositoryError> {
    store::decode::<OrderItem>(Key::of_item(&item, &KEY), item).map(Order::from)
}

impl OrderRepository for DynamoDbOrderRepository {
    #[tracing::instrument(skip(self, filter), fields(table = %self.table(), items_read))]
    async fn search(
        &self,
        user: UserId,
        filter: &NameFilter,
    ) -> Result<SearchHits, RepositoryError> {
        let mut hits = SearchHits::default();
        let mut start_key = None;
        loop {
            let mut query = self
                .table
                .client()
                .query()
                .table_name(self.table.name())
                .key_condition_expression("userId = :user")
                .expression_attribute_values(":user", AttributeValue::S(user.to_string()))
                .set_exclusive_start_key(start_key.take());
            if !filter.is_empty() {
                query = query
                    .filter_expression("contains(nameKey, :fragment)")
                    .expression_attribute_values(
                        ":fragment",
                        AttributeValue::S(filter.folded().to_owned()),
                    );
            }
            let page = query.send().await.map_err(store::failed)?;
            hits.items_read += u64::try_from(page.scanned_count()).unwrap_or(0);
            for item in page.items.unwrap_or_default() {
                hits.orders.push(decode(item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        tracing::Span::current().record("items_read", hits.items_read);
        Ok(hits)
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn get(&self, user: UserId, order: OrderId) -> Result<Option<Order>, RepositoryError> {
        // Strongly consistent: checkout decides on it (a stale PaymentFailed would start a
        // second attempt while the first is being paid), and a user sees their own writes.
        let row: Option<OrderItem> = self.table.get(&key(user, order), Read::Latest).await?;
        Ok(row.map(Order::from))
    }

    #[tracing::instrument(skip(self, order), fields(table = %self.table(), order_id = %order.id))]
    async fn insert_if_absent(&self, order: &Order) -> Result<bool, RepositoryError> {
        self.table
            .insert_if_absent(&key(order.user_id, order.id), &OrderItem::from(order))
            .await
    }

    #[tracing::instrument(skip(self, start), fields(table = %self.table(), order_id = %start.order.id, attempt = start.attempt))]
    async fn start_checkout(&self, start: CheckoutStart<'_>) -> Result<bool, RepositoryError> {
        let order = start.order;
        let previous_attempt = if order.checkout_attempt == 0 {
            // Orders written before attempts were counted have no attribute yet.
            "(attribute_not_exists(checkoutAttempt) OR checkoutAttempt = :previousAttempt)"
        } else {
            "checkoutAttempt = :previousAttempt"
        };
        let update = self
            .table
            .update(&key(order.user_id, order.id))
            .condition_expression(format!("#status = :previousStatus AND {previous_attempt}"))
            .update_expression(
                "SET #status = :pending, checkoutAttempt = :attempt, paymentId = :paymentId, \
                 pendingShard = :shard, pendingUntilMs = :until, updatedAtUtc = :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":previousStatus", store::value(&order.status)?)
            .expression_attribute_values(":previousAttempt", store::value(&order.checkout_attempt)?)
            .expression_attribute_values(":pending", store::value(&OrderStatus::PaymentPending)?)
            .expression_attribute_values(":attempt", store::value(&start.attempt)?)
            .expression_attribute_values(":paymentId", store::value(&start.payment_id)?)
            .expression_attribute_values(":shard", store::value(&pending_shard(order.id))?)
            .expression_attribute_values(":until", store::epoch_millis(start.pending_until))
            .expression_attribute_values(":now", store::value(&start.now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, abandon), fields(table = %self.table(), order_id = %abandon.order.id))]
    async fn abandon_checkout(
        &self,
        abandon: CheckoutAbandon<'_>,
    ) -> Result<bool, RepositoryError> {
        let order = abandon.order;
        let update = self
            .table
            .update(&key(order.user_id, order.id))
            .condition_expression("#status = :pending AND paymentId = :paymentId")
            .update_expression(
                "SET #status = :backTo, updatedAtUtc = :now REMOVE pendingShard, pendingUntilMs",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", store::value(&OrderStatus::PaymentPending)?)
            .expression_attribute_values(":paymentId", store::value(&abandon.payment_id)?)
            .expression_attribute_values(":backTo", store::value(&abandon.back_to)?)
            .expression_attribute_values(":now", store::value(&abandon.now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, settlement), fields(table = %self.table(), order_id = %settlement.order))]
    async fn settle_payment(
        &self,
        settlement: PaymentSettlement,
    ) -> Result<Transition, RepositoryError> {
        let PaymentSettlement {
            user,
            order,
            payment_id,
            to,
            now,
        } = settlement;
        let key = key(user, order);
        let result = self
            .table
            .update(&key)
            .condition_expression("#status = :pending AND paymentId = :paymentId")
            .update_expression(
                "SET #status = :to, updatedAtUtc = :now REMOVE pendingShard, pendingUntilMs",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", store::value(&OrderStatus::PaymentPending)?)
            .expression_attribute_values(":paymentId", store::value(&payment_id)?)
            .expression_attribute_values(":to", store::value(&to)?)
            .expression_attribute_values(":now", store::value(&now)?)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => Ok(Transition::Applied(decode(item)?)),
                None => Err(RepositoryError::Corrupt {
                    key: key.to_string(),
                    reason: "update returned no item".into(),
                }),
            },
            Err(err) if store::is_condition_failure(&err) => {
                // The old item comes back with the failed condition, saving a read.
                let old = match &err {
                    SdkError::ServiceError(e) => match e.err() {
                        UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                        _ => None,
                    },
                    _ => None,
                };
                let old = match old {
                    Some(item) => Some(decode(item)?),
                    // Emulators may not return the old item: read it.
                    None => self.get(user, order).await?,
                };
                Ok(match old {
                    None => Transition::NotFound,
                    Some(o) if o.status == to && o.payment_id == Some(payment_id) => {
                        Transition::AlreadyApplied(o)
                    }
                    Some(o) => Transition::Conflict(o),
                })
            }
            Err(err) => Err(store::failed(err)),
        }
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn overdue(
        &self,
        shard: u8,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Overdue>, RepositoryError> {
        let page = self
            .table
            .client()
            .query()
            .table_name(self.table.name())
            .index_name(PENDING_INDEX)
            .key_condition_expression("pendingShard = :shard AND pendingUntilMs < :now")
            .expression_attribute_values(":shard", store::value(&shard)?)
            .expression_attribute_values(":now", store::epoch_millis(now))
            .limit(limit)
            .send()
            .await
            .map_err(store::failed)?;
        page.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let key = Key::of_item(&item, &KEY);
                store::decode::<OverdueItem>(key, item).map(|o| Overdue {
                    user: o.user_id,
                    order: o.order_id,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip(self), fields(table = %self.table(), order_id = %overdue.order))]
    async fn defer(
        &self,
        overdue: Overdue,
        payment_id: PaymentId,
        retry_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .table
            .update(&key(overdue.user, overdue.order))
            .condition_expression("#status = :pending AND paymentId = :paymentId")
            .update_expression("SET pendingUntilMs = :retryAt")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", store::value(&OrderStatus::PaymentPending)?)
            .expression_attribute_values(":paymentId", store::value(&payment_id)?)
            .expression_attribute_values(":retryAt", store::epoch_millis(retry_at));
        store::update_if(update).await
    }
}
