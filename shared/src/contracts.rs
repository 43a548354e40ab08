//! Wire contracts shared between services (camelCase JSON, amounts as decimal numbers).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::paging::Pagination;
use crate::{Currency, OrderId, PaymentId, UserId};

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetailDto {
    pub product_id: String,
    pub product_name: String,
    #[serde(with = "crate::money::decimal_cents")]
    pub unit_price: i64,
    #[serde(with = "crate::validation::whole_u32")]
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
    /// The payment of the order's current (or last) checkout attempt; none before checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    /// The fulfilment process of the order's decided payment, with its jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<crate::fulfilment::ProcessDto>,
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

// ---------------------------------------------------------------- checkout and payment

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentProvider {
    Ewallet,
}

/// `POST /api/v1/users/{userId}/orders/{orderId}/checkout`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutRequest {
    pub payment_provider: PaymentProvider,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutResponse {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub status: OrderStatus,
    pub payment_id: PaymentId,
    pub payment_status: PaymentStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaymentStatus {
    Requested,
    Success,
    Failed,
    Expired,
}

impl PaymentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "Requested",
            Self::Success => "Success",
            Self::Failed => "Failed",
            Self::Expired => "Expired",
        }
    }

    /// Expired is a failure for the order.
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Success)
    }
}

/// `POST /api/internal/v1/users/{userId}/payments` (order → payment service). The caller's
/// `Idempotency-Key` header names the checkout attempt: a retry gets the same payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentRequest {
    pub user_id: UserId,
    pub order_id: OrderId,
    #[serde(with = "crate::money::decimal_cents")]
    pub amount: i64,
    pub currency: Currency,
    pub payment_method: PaymentProvider,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResponse {
    pub payment_id: PaymentId,
    pub payment_status: PaymentStatus,
}

/// `POST /api/payment/payment-requests` (payment service → e-wallet provider).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EwalletPaymentRequest {
    #[serde(with = "crate::money::decimal_cents")]
    pub amount: i64,
    #[serde(default = "usd")]
    pub currency: Currency,
    pub notification_uri: String,
    pub merchant_data: MerchantData,
}

fn usd() -> Currency {
    Currency::USD
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantData {
    pub order_id: OrderId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EwalletPaymentResponse {
    pub payment_request_id: String,
}

/// `POST /api/payment/payment-requests/{paymentRequestId}/refunds` (payment service →
/// e-wallet): a successful payment paid back, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EwalletRefundResponse {
    pub payment_request_id: String,
    pub refunded_at: DateTime<Utc>,
}

/// `POST /api/payment/payment-requests/{paymentRequestId}/cancel` (payment service →
/// e-wallet), no body: makes a payment request's outcome definite.
///
/// - Not yet delivered (or its webhook was refused by the merchant for good, or the firing
///   delivering it died) → cancelled: `status` is `CANCELLED` with `cancelledAt`, and its
///   webhook is never sent. A repeated cancel answers the first one.
/// - Its webhook was delivered → nothing is cancelled: `status` is the delivered verdict
///   (`SUCCESS`, `FAILED` or `EXPIRED`) with the webhook's `transaction`.
///
/// A webhook being delivered right now is a 409 (retry later); an unknown id a 404.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EwalletCancelResponse {
    pub payment_request_id: String,
    pub status: EwalletCancelStatus,
    /// Only with `CANCELLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Only with a delivered verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<EwalletCancelTransaction>,
}

/// What a cancel found: cancelled now (or earlier), or the verdict already delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EwalletCancelStatus {
    Cancelled,
    Success,
    Failed,
    Expired,
}

impl From<EwalletStatusCode> for EwalletCancelStatus {
    fn from(code: EwalletStatusCode) -> Self {
        match code {
            EwalletStatusCode::Success => Self::Success,
            EwalletStatusCode::Failed => Self::Failed,
            EwalletStatusCode::Expired => Self::Expired,
        }
    }
}

/// The delivered webhook's transaction, as a cancel reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EwalletCancelTransaction {
    pub transaction_id: String,
    #[serde(with = "crate::money::decimal_cents")]
    pub amount: i64,
    pub currency: Currency,
    pub transaction_time: DateTime<Utc>,
}

/// The e-wallet's verdict, decided by the amount's cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EwalletStatusCode {
    Success,
    Failed,
    Expired,
}

impl EwalletStatusCode {
    pub const fn payment_status(self) -> PaymentStatus {
        match self {
            Self::Success => PaymentStatus::Success,
            Self::Failed => PaymentStatus::Failed,
            Self::Expired => PaymentStatus::Expired,
        }
    }
}

/// `POST /api/v1/payments/webhook` (e-wallet → payment service), signed; see `signature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub payment_request_id: String,
    #[serde(with = "crate::money::decimal_cents")]
    pub total_amount: i64,
    /// The amount's currency: the payment service checks both against its payment.
    pub currency: Currency,
    pub status_code: EwalletStatusCode,
    pub transaction: WebhookTransaction,
    /// The merchant's own reference for the payment, as it requested it (its
    /// `Idempotency-Key`): finds the payment when the merchant never stored the provider's
    /// id (the provider accepted, the merchant's write of the id failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTransaction {
    pub transaction_id: String,
    pub order_id: OrderId,
    pub transaction_time: DateTime<Utc>,
}

/// The Scheduler's input to the e-wallet's webhook dispatcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchWebhook {
    pub payment_request_id: String,
}

/// `POST /api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmPaymentRequest {
    pub is_confirmed: bool,
    pub payment_id: PaymentId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmPaymentResponse {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub status: OrderStatus,
}
