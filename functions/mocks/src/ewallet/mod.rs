//! The mock e-wallet provider: `POST /api/payment/payment-requests` stores a request and
//! creates a one-time EventBridge Scheduler schedule a few seconds ahead; the schedule fires
//! the webhook dispatcher, which decides the verdict by the amount's cents and POSTs the
//! signed webhook to the request's `notificationUri`, once.

pub mod cancel;
pub mod config;
pub mod dispatcher;
pub mod domain;
pub mod dynamodb;
pub mod error;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod payment_request;
pub mod refund;
pub mod repository;
pub mod scheduler;
pub mod sender;
pub mod startup;

pub use cancel::CancelService;
pub use config::{DispatcherConfig, MerchantApiConfig, PaymentRequestConfig};
pub use dispatcher::{DispatchError, Dispatched, Dispatcher};
pub use domain::{
    DelayRange, EwalletRequest, NewPaymentRequest, OutcomeRule, PaymentRequestId, RequestStatus,
};
pub use dynamodb::DynamoDbEwalletRequests;
pub use error::EwalletError;
pub use payment_request::PaymentRequestService;
pub use refund::RefundService;
pub use repository::{EwalletRequestRepository, RepositoryError};
pub use scheduler::{EventBridgeWebhookScheduler, WebhookSchedule, WebhookScheduler};
pub use sender::{HttpWebhookSender, WebhookSender};
