//! The orders table: partition key `userId`, sort key `orderId`, so every read names one
//! user's partition. `nameKey` holds the case-folded name the search filters on.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::contracts::OrderStatus;
use shared::paging::{NameFilter, fold_case};
use shared::store::{self, Item};
use shared::{Currency, Money, OrderId, PaymentId, UserId};

use crate::repository::{CheckoutStart, OrderRepository, RepositoryError, SearchHits, Transition};
use crate::{Order, OrderDetail};

#[derive(Debug, Clone)]
pub struct DynamoDbOrderRepository {
    client: Client,
    table: String,
}

impl DynamoDbOrderRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Built once per cold start from `ORDERS_TABLE` and the SDK's environment.
    pub async fn from_env() -> Result<Self, shared::config::ConfigError> {
        let table = shared::config::required("ORDERS_TABLE")?;
        let config = shared::aws::sdk_config();
        Ok(Self::new(Client::new(&config), table))
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderItem {
    user_id: String,
    order_id: String,
    name: String,
    name_key: String,
    total_cents: i64,
    currency: String,
    status: String,
    created_at_utc: DateTime<Utc>,
    updated_at_utc: DateTime<Utc>,
    details: Vec<DetailItem>,
    #[serde(default)]
    checkout_attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
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
            user_id: order.user_id.to_string(),
            order_id: order.id.to_string(),
            name: order.name.clone(),
            name_key: fold_case(&order.name),
            total_cents: order.total.cents(),
            currency: order.total.currency().to_string(),
            status: order.status.as_str().to_owned(),
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
            payment_id: order.payment_id.map(|p| p.to_string()),
        }
    }
}

impl TryFrom<OrderItem> for Order {
    type Error = RepositoryError;

    fn try_from(item: OrderItem) -> Result<Self, Self::Error> {
        let key = format!("{}/{}", item.user_id, item.order_id);
        let corrupt = |reason: String| RepositoryError::Corrupt {
            key: key.clone(),
            reason,
        };
        let currency = Currency::parse(&item.currency).map_err(|e| corrupt(e.to_string()))?;
        Ok(Order {
            id: OrderId::parse(&item.order_id).map_err(|e| corrupt(e.to_string()))?,
            user_id: UserId::parse(&item.user_id).map_err(|e| corrupt(e.to_string()))?,
            name: item.name,
            total: Money::from_cents(item.total_cents, currency),
            status: item.status.parse::<OrderStatus>().map_err(corrupt)?,
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
            payment_id: item
                .payment_id
                .as_deref()
                .map(PaymentId::parse)
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
        })
    }
}

fn key(user: UserId, order: OrderId) -> Item {
    Item::from([
        ("userId".to_owned(), AttributeValue::S(user.to_string())),
        ("orderId".to_owned(), AttributeValue::S(order.to_string())),
    ])
}

fn decode(item: Item) -> Result<Order, RepositoryError> {
    Order::try_from(store::decode::<OrderItem>(item)?)
}

impl OrderRepository for DynamoDbOrderRepository {
    #[tracing::instrument(skip(self, filter), fields(table = %self.table, items_read))]
    async fn search(
        &self,
        user: UserId,
        filter: &NameFilter,
    ) -> Result<SearchHits, RepositoryError> {
        let mut hits = SearchHits::default();
        let mut start_key = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
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

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn get(&self, user: UserId, order: OrderId) -> Result<Option<Order>, RepositoryError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("userId", AttributeValue::S(user.to_string()))
            .key("orderId", AttributeValue::S(order.to_string()))
            .send()
            .await
            .map_err(store::failed)?;
        output.item.map(decode).transpose()
    }

    #[tracing::instrument(skip(self, order), fields(table = %self.table, order_id = %order.id))]
    async fn insert_if_absent(&self, order: &Order) -> Result<bool, RepositoryError> {
        store::put_if_absent(
            &self.client,
            &self.table,
            &OrderItem::from(order),
            "orderId",
        )
        .await
    }

    #[tracing::instrument(skip(self, start), fields(table = %self.table, order_id = %start.order.id, attempt = start.attempt))]
    async fn start_checkout(&self, start: CheckoutStart<'_>) -> Result<bool, RepositoryError> {
        let order = start.order;
        let previous_attempt = if order.checkout_attempt == 0 {
            // Orders written before attempts were counted have no attribute yet.
            "(attribute_not_exists(checkoutAttempt) OR checkoutAttempt = :previousAttempt)"
        } else {
            "checkoutAttempt = :previousAttempt"
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(order.user_id, order.id)))
            .condition_expression(format!("#status = :previousStatus AND {previous_attempt}"))
            .update_expression(
                "SET #status = :pending, checkoutAttempt = :attempt, paymentId = :paymentId, updatedAtUtc = :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":previousStatus", store::text(order.status.as_str()))
            .expression_attribute_values(":previousAttempt", AttributeValue::N(order.checkout_attempt.to_string()))
            .expression_attribute_values(":pending", store::text(OrderStatus::PaymentPending.as_str()))
            .expression_attribute_values(":attempt", AttributeValue::N(start.attempt.to_string()))
            .expression_attribute_values(":paymentId", store::text(start.payment_id.to_string()))
            .expression_attribute_values(":now", store::timestamp(start.now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self, order), fields(table = %self.table, order_id = %order.id))]
    async fn abandon_checkout(
        &self,
        order: &Order,
        payment_id: PaymentId,
        back_to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(order.user_id, order.id)))
            .condition_expression("#status = :pending AND paymentId = :paymentId")
            .update_expression("SET #status = :backTo, updatedAtUtc = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":pending",
                store::text(OrderStatus::PaymentPending.as_str()),
            )
            .expression_attribute_values(":paymentId", store::text(payment_id.to_string()))
            .expression_attribute_values(":backTo", store::text(back_to.as_str()))
            .expression_attribute_values(":now", store::timestamp(now)?);
        store::update_if(update).await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table))]
    async fn settle_payment(
        &self,
        user: UserId,
        order: OrderId,
        payment_id: PaymentId,
        to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<Transition, RepositoryError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user, order)))
            .condition_expression("#status = :pending AND paymentId = :paymentId")
            .update_expression("SET #status = :to, updatedAtUtc = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":pending",
                store::text(OrderStatus::PaymentPending.as_str()),
            )
            .expression_attribute_values(":paymentId", store::text(payment_id.to_string()))
            .expression_attribute_values(":to", store::text(to.as_str()))
            .expression_attribute_values(":now", store::timestamp(now)?)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) => Ok(Transition::Applied(decode(item)?)),
                None => Err(RepositoryError::Corrupt {
                    key: format!("{user}/{order}"),
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
}
