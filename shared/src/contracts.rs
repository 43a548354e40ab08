//! Wire contracts shared between services (camelCase JSON, amounts as decimal numbers).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::paging::Pagination;
use crate::{Currency, OrderId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    Created,
    PaymentPending,
    PaymentSuccess,
    PaymentFailed,
    Cancelled,
    Delivered,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Created",
            Self::PaymentPending => "PaymentPending",
            Self::PaymentSuccess => "PaymentSuccess",
            Self::PaymentFailed => "PaymentFailed",
            Self::Cancelled => "Cancelled",
            Self::Delivered => "Delivered",
        }
    }

    /// Checkout is allowed only from these states.
    pub const fn is_payable(self) -> bool {
        matches!(self, Self::Created | Self::PaymentFailed)
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        [
            Self::Created,
            Self::PaymentPending,
            Self::PaymentSuccess,
            Self::PaymentFailed,
            Self::Cancelled,
            Self::Delivered,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| format!("unknown order status {raw:?}"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetailDto {
    pub product_id: String,
    pub product_name: String,
    #[serde(with = "crate::money::decimal_cents")]
    pub unit_price: i64,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDto {
    pub id: OrderId,
    pub user_id: UserId,
    pub name: String,
    #[serde(with = "crate::money::decimal_cents")]
    pub total_amount: i64,
    pub currency: Currency,
    pub status: OrderStatus,
    pub created_at_utc: DateTime<Utc>,
    pub updated_at_utc: DateTime<Utc>,
    pub order_details: Vec<OrderDetailDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchFilters {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    pub data: Vec<OrderDto>,
    pub pagination: Pagination,
    pub filters: SearchFilters,
}
