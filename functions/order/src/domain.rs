use chrono::{DateTime, Utc};
use shared::contracts::{OrderDetailDto, OrderDto, OrderStatus};
use shared::{Money, OrderId, PaymentId, UserId};

#[derive(Debug, Clone, PartialEq)]
pub struct OrderDetail {
    pub product_id: String,
    pub product_name: String,
    pub unit_price: Money,
    pub quantity: u32,
}

impl OrderDetail {
    pub fn line_total(&self) -> Option<Money> {
        self.unit_price.checked_mul(self.quantity)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: OrderId,
    pub user_id: UserId,
    pub name: String,
    pub total: Money,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub details: Vec<OrderDetail>,
    /// How many checkouts were started; each attempt has its own payment.
    pub checkout_attempt: u32,
    /// The payment of the current (or last) checkout attempt.
    pub payment_id: Option<PaymentId>,
    /// While PaymentPending: when the reconciler takes over settling the attempt.
    pub pending_until: Option<DateTime<Utc>>,
}

/// How many partitions the index of pending orders spreads them over: a GSI partition
/// takes about 1,000 writes/s, and every checkout writes one entry and removes it.
pub const PENDING_SHARDS: u8 = 4;

/// The index partition of a pending order: fixed by its id, one of `PENDING_SHARDS`.
pub fn pending_shard(order: OrderId) -> u8 {
    order.as_uuid().as_bytes()[15] % PENDING_SHARDS
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NewOrderError {
    #[error("an order needs at least one line")]
    NoLines,
    #[error("order lines mix currencies or their total overflows")]
    BadTotal,
}

impl Order {
    /// A new order in state Created; its total is the sum of its lines.
    pub fn create(
        id: OrderId,
        user_id: UserId,
        name: impl Into<String>,
        details: Vec<OrderDetail>,
        now: DateTime<Utc>,
    ) -> Result<Self, NewOrderError> {
        let mut lines = details.iter().map(OrderDetail::line_total);
        let first = lines.next().ok_or(NewOrderError::NoLines)?;
        let total = lines
            .try_fold(first.ok_or(NewOrderError::BadTotal)?, |sum, line| {
                line.and_then(|line| sum.checked_add(line))
            })
            .ok_or(NewOrderError::BadTotal)?;
        Ok(Self {
            id,
            user_id,
            name: name.into(),
            total,
            status: OrderStatus::Created,
            created_at: now,
            updated_at: now,
            details,
            checkout_attempt: 0,
            payment_id: None,
            pending_until: None,
        })
    }

    /// The idempotency key of checkout attempt `attempt`: retries of one attempt are one
    /// payment, a new attempt (after a failed payment) is a new one.
    pub fn checkout_key(&self, attempt: u32) -> String {
        format!("checkout-{}-{attempt}", self.id)
    }

    /// Whether the order still waits for its attempt's payment at `now` and the attempt
    /// may be driven on: until `fence` before its deadline (orders from before deadlines
    /// existed have none and may always be).
    pub fn may_redrive(&self, now: DateTime<Utc>, fence: chrono::Duration) -> bool {
        self.pending_until.is_none_or(|until| now + fence < until)
    }

    pub fn to_dto(&self) -> OrderDto {
        OrderDto {
            id: self.id,
            user_id: self.user_id,
            name: self.name.clone(),
            total_amount: self.total.cents(),
            currency: self.total.currency(),
            status: self.status,
            created_at_utc: self.created_at,
            updated_at_utc: self.updated_at,
            order_details: self
                .details
                .iter()
                .map(|d| OrderDetailDto {
                    product_id: d.product_id.clone(),
                    product_name: d.product_name.clone(),
                    unit_price: d.unit_price.cents(),
                    quantity: d.quantity,
                })
                .collect(),
            payment_id: self.payment_id,
            process: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Currency;

    fn line(cents: i64, quantity: u32) -> OrderDetail {
        OrderDetail {
            product_id: "p".into(),
            product_name: "P".into(),
            unit_price: Money::from_cents(cents, Currency::USD),
            quantity,
        }
    }

    #[test]
    fn an_orders_total_is_the_sum_of_its_lines() {
        let order = Order::create(
            OrderId::new_random(),
            UserId::new_random(),
            "x",
            vec![line(10099, 1), line(5011, 2)],
            Utc::now(),
        )
        .unwrap();
        assert_eq!(order.total.cents(), 10099 + 2 * 5011);
        assert_eq!(order.status, OrderStatus::Created);
    }

    #[test]
    fn an_order_without_lines_cannot_be_created() {
        let err = Order::create(
            OrderId::new_random(),
            UserId::new_random(),
            "x",
            vec![],
            Utc::now(),
        );
        assert_eq!(err.unwrap_err(), NewOrderError::NoLines);
    }
}
