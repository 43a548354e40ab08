//! The test app: the real handlers and DynamoDB adapter against the emulator, and one
//! local HTTP server per test that plays the e-wallet and the order service's
//! confirm-payment, counts their calls and can be told to fail.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::post;
use chrono::Utc;
use lambda_http::{Body, Request, Response};
use payment::{
    DynamoDbPaymentRepository, HttpEwallet, HttpOrderConfirmation, Payment, PaymentRepository,
    RequestConfig, RequestDeps, ResolveDeps, WebhookConfig, WebhookDeps,
};
use serde_json::{Value, json};
use shared::api_key::ApiKey;
use shared::client::RetrySettings;
use shared::testing::{ApiRequest, local_env};
use shared::{CorrelationId, OrderId, PaymentId, UserId};
use tokio::sync::Notify;

pub const PAYMENTS_ROUTE: &str = "/api/internal/v1/users/{userId}/payments";
pub const WEBHOOK_ROUTE: &str = "/api/v1/payments/webhook";
pub const RESOLVE_ROUTE: &str = "/api/internal/v1/payments/{paymentId}/resolve";
pub const WEBHOOK_URL: &str = "https://webhook.test/api/v1/payments/webhook";

/// A call the fake services answered with success.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub body: Value,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
}

#[derive(Default)]
pub struct Fakes {
    /// Idempotency key → the payment request id handed out for it.
    ewallet_ids: Mutex<HashMap<String, String>>,
    ewallet_calls: Mutex<Vec<Call>>,
    ewallet_down: AtomicBool,
    confirm_calls: Mutex<Vec<Call>>,
    confirm_attempts: AtomicU32,
    confirm_down: AtomicBool,
    confirm_conflict: AtomicBool,
    /// While set, confirm-payment answers only once the gate is notified.
    confirm_gate: Mutex<Option<Arc<Notify>>>,
    /// The e-wallet's payment request ids that were paid back, one entry per refund call.
    refund_calls: Mutex<Vec<String>>,
    refunds_down: AtomicBool,
    /// How the e-wallet answers cancels.
    cancel_mode: Mutex<CancelMode>,
    /// Each cancel call answered with a 200.
    cancel_calls: Mutex<Vec<Call>>,
    /// Payment request id → when it was first cancelled (a repeat answers that time).
    cancelled: Mutex<HashMap<String, String>>,
}

/// How the fake e-wallet answers a cancel.
#[derive(Debug, Clone, Default)]
pub enum CancelMode {
    /// Not yet delivered: cancelled.
    #[default]
    Cancel,
    /// Its webhook was delivered with this verdict, for this amount (USD).
    Reported {
        status: &'static str,
        amount: &'static str,
    },
    /// Its webhook is being delivered right now: 409.
    Busy,
    /// 503.
    Down,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn call(path: String, headers: &HeaderMap, body: &Bytes) -> Call {
    Call {
        path,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
        idempotency_key: header(headers, "idempotency-key"),
        correlation_id: header(headers, "x-correlation-id"),
    }
}

async fn ewallet(State(fakes): State<Arc<Fakes>>, headers: HeaderMap, body: Bytes) -> AxumResponse {
    if fakes.ewallet_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    // Like the provider: only the merchant, with its key, gets a payment request.
    if header(&headers, "x-api-key") != Some(local_env("EWALLET_API_KEY")) {
        return (StatusCode::UNAUTHORIZED, "no or wrong X-Api-Key").into_response();
    }
    let key = header(&headers, "idempotency-key").unwrap_or_default();
    // Idempotent, like a real provider: the same key gets the same payment request id.
    let id = fakes
        .ewallet_ids
        .lock()
        .unwrap()
        .entry(key)
        .or_insert_with(|| format!("ewallet-{}", uuid::Uuid::new_v4()))
        .clone();
    fakes.ewallet_calls.lock().unwrap().push(call(
        "/api/payment/payment-requests".into(),
        &headers,
        &body,
    ));
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        json!({ "paymentRequestId": id }).to_string(),
    )
        .into_response()
}

async fn confirm_payment(
    State(fakes): State<Arc<Fakes>>,
    Path((user, order)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumResponse {
    fakes.confirm_attempts.fetch_add(1, Ordering::SeqCst);
    let gate = fakes.confirm_gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.notified().await;
    }
    if fakes.confirm_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    if fakes.confirm_conflict.load(Ordering::SeqCst) {
        return (StatusCode::CONFLICT, "not awaiting payment").into_response();
    }
    fakes.confirm_calls.lock().unwrap().push(call(
        format!("/api/internal/v1/users/{user}/orders/{order}/confirm-payment"),
        &headers,
        &body,
    ));
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({ "orderId": order, "userId": user, "status": "PaymentSuccess" }).to_string(),
    )
        .into_response()
}

impl Fakes {
    pub fn ewallet_calls(&self) -> Vec<Call> {
        self.ewallet_calls.lock().unwrap().clone()
    }

    /// The payment request id the e-wallet handed out for an idempotency key.
    pub fn payment_request_id(&self, key: &str) -> Option<String> {
        self.ewallet_ids.lock().unwrap().get(key).cloned()
    }

    pub fn confirm_calls(&self) -> Vec<Call> {
        self.confirm_calls.lock().unwrap().clone()
    }

    pub fn confirm_attempts(&self) -> u32 {
        self.confirm_attempts.load(Ordering::SeqCst)
    }

    pub fn set_ewallet_down(&self, down: bool) {
        self.ewallet_down.store(down, Ordering::SeqCst);
    }

    pub fn set_confirm_down(&self, down: bool) {
        self.confirm_down.store(down, Ordering::SeqCst);
    }

    pub fn set_confirm_conflict(&self, conflict: bool) {
        self.confirm_conflict.store(conflict, Ordering::SeqCst);
    }

    /// From now on confirm-payment holds its answer until the returned gate is notified,
    /// so a test can overlap other calls with one in flight for certain.
    pub fn hold_confirms(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        *self.confirm_gate.lock().unwrap() = Some(gate.clone());
        gate
    }
}

async fn refund(
    State(fakes): State<Arc<Fakes>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AxumResponse {
    if header(&headers, "x-api-key") != Some(local_env("EWALLET_API_KEY")) {
        return (StatusCode::UNAUTHORIZED, "no or wrong X-Api-Key").into_response();
    }
    if fakes.refunds_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    fakes.refund_calls.lock().unwrap().push(id.clone());
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({ "paymentRequestId": id, "refundedAt": "2026-11-25T12:00:00Z" }).to_string(),
    )
        .into_response()
}

async fn cancel(
    State(fakes): State<Arc<Fakes>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumResponse {
    if header(&headers, "x-api-key") != Some(local_env("EWALLET_API_KEY")) {
        return (StatusCode::UNAUTHORIZED, "no or wrong X-Api-Key").into_response();
    }
    let mode = fakes.cancel_mode.lock().unwrap().clone();
    let answer = match mode {
        CancelMode::Busy => return (StatusCode::CONFLICT, "being delivered").into_response(),
        CancelMode::Down => return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        CancelMode::Cancel => {
            let at = fakes
                .cancelled
                .lock()
                .unwrap()
                .entry(id.clone())
                .or_insert_with(|| Utc::now().to_rfc3339())
                .clone();
            json!({ "paymentRequestId": id, "status": "CANCELLED", "cancelledAt": at })
        }
        CancelMode::Reported { status, amount } => json!({
            "paymentRequestId": id,
            "status": status,
            "transaction": {
                "transactionId": format!("tx-{id}"),
                "amount": amount.parse::<serde_json::Number>().unwrap(),
                "currency": "USD",
                "transactionTime": "2026-11-25T12:00:00Z",
            },
        }),
    };
    fakes.cancel_calls.lock().unwrap().push(call(
        format!("/api/payment/payment-requests/{id}/cancel"),
        &headers,
        &body,
    ));
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        answer.to_string(),
    )
        .into_response()
}

impl Fakes {
    pub fn set_cancel_mode(&self, mode: CancelMode) {
        *self.cancel_mode.lock().unwrap() = mode;
    }

    pub fn cancel_calls(&self) -> Vec<Call> {
        self.cancel_calls.lock().unwrap().clone()
    }

    pub fn refund_calls(&self) -> Vec<String> {
        self.refund_calls.lock().unwrap().clone()
    }

    pub fn set_refunds_down(&self, down: bool) {
        self.refunds_down.store(down, Ordering::SeqCst);
    }
}

async fn spawn_fakes() -> (Arc<Fakes>, SocketAddr) {
    let fakes = Arc::new(Fakes::default());
    let router = Router::new()
        .route("/api/payment/payment-requests", post(ewallet))
        .route("/api/payment/payment-requests/{id}/refunds", post(refund))
        .route("/api/payment/payment-requests/{id}/cancel", post(cancel))
        .route(
            "/api/internal/v1/users/{user}/orders/{order}/confirm-payment",
            post(confirm_payment),
        )
        .with_state(fakes.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (fakes, addr)
}

pub struct TestApp {
    pub repo: DynamoDbPaymentRepository,
    pub fakes: Arc<Fakes>,
    pub request_deps: RequestDeps<DynamoDbPaymentRepository, HttpEwallet>,
    pub resolve_deps: ResolveDeps<DynamoDbPaymentRepository, HttpEwallet>,
    pub webhook_deps: WebhookDeps<DynamoDbPaymentRepository, HttpOrderConfirmation, HttpEwallet>,
    pub secret: String,
    /// A user no other test uses.
    pub user: UserId,
}

/// Quick retries: a test of a failing service should not wait for production backoff.
fn fast_retries() -> RetrySettings {
    RetrySettings {
        attempt_timeout: Duration::from_secs(3),
        max_retries: 1,
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    }
}

pub async fn spawn_app() -> TestApp {
    shared::telemetry::init();
    let sdk = shared::testing::sdk_config().await;
    let table = local_env("PAYMENTS_TABLE");
    // The deployed stack's secret, from Secrets Manager as the function reads it.
    let secrets = shared::secrets::webhook_secrets(&sdk, "WEBHOOK_SECRET_ARN")
        .await
        .unwrap();
    let secret = String::from_utf8(secrets.current().expose().to_vec()).unwrap();
    let (fakes, addr) = spawn_fakes().await;
    let base = format!("http://{addr}");
    let request_config = RequestConfig {
        payments_table: table.clone(),
        ewallet_api_url: base.clone(),
        webhook_url: WEBHOOK_URL.into(),
        ewallet_api_key: ApiKey::new(local_env("EWALLET_API_KEY")).unwrap(),
    };
    let request_deps =
        payment::startup::request_deps(&sdk, request_config.clone(), fast_retries()).unwrap();
    let resolve_deps =
        payment::startup::resolve_deps(&sdk, request_config, fast_retries()).unwrap();
    let webhook_deps = payment::startup::webhook_deps(
        &sdk,
        WebhookConfig {
            payments_table: table.clone(),
            internal_api_url: base.clone(),
            ewallet_api_url: base,
            ewallet_api_key: ApiKey::new(local_env("EWALLET_API_KEY")).unwrap(),
        },
        shared::secrets::LiveSecrets::fixed(secrets),
        fast_retries(),
    )
    .unwrap();
    TestApp {
        repo: DynamoDbPaymentRepository(shared::store::Table::new(Client::new(&sdk), table)),
        fakes,
        request_deps,
        resolve_deps,
        webhook_deps,
        secret,
        user: UserId::new_random(),
    }
}

/// What a payment request carries.
pub struct PaymentCall {
    pub user: UserId,
    pub order: OrderId,
    pub amount: &'static str,
    pub key: String,
}

impl PaymentCall {
    pub fn body(&self) -> String {
        // Written by hand: the amount is a decimal number exactly as a client sends it.
        format!(
            r#"{{"userId":"{}","orderId":"{}","amount":{},"currency":"USD","paymentMethod":"Ewallet"}}"#,
            self.user, self.order, self.amount
        )
    }

    pub fn request(&self) -> Request {
        ApiRequest::new(
            "POST",
            PAYMENTS_ROUTE,
            &[("userId", &self.user.to_string())],
        )
        .header("Idempotency-Key", &self.key)
        .header("X-Correlation-Id", "test-correlation-1")
        .body(&self.body())
        .build()
    }

    pub fn payment_id(&self) -> PaymentId {
        payment::IdempotencyKey::parse(&self.key)
            .unwrap()
            .payment_id()
    }
}

impl TestApp {
    /// A payment request of this test's user for a fresh order, under a fresh key.
    pub fn payment_call(&self, amount: &'static str) -> PaymentCall {
        PaymentCall {
            user: self.user,
            order: OrderId::new_random(),
            amount,
            key: format!("checkout-{}", uuid::Uuid::new_v4()),
        }
    }

    pub async fn request_payment(&self, request: Request) -> Response<Body> {
        let correlation_id = CorrelationId::from_headers(request.headers());
        let result =
            payment::request::handle(&self.request_deps, request, correlation_id.clone()).await;
        shared::http::respond(result, &correlation_id, PAYMENTS_ROUTE)
    }

    pub async fn webhook(&self, request: Request) -> Response<Body> {
        let correlation_id = CorrelationId::from_headers(request.headers());
        let result =
            payment::webhook::handle(&self.webhook_deps, request, correlation_id.clone()).await;
        shared::http::respond(result, &correlation_id, WEBHOOK_ROUTE)
    }

    pub async fn resolve(&self, request: Request) -> Response<Body> {
        let correlation_id = CorrelationId::from_headers(request.headers());
        let result =
            payment::resolve::handle(&self.resolve_deps, request, correlation_id.clone()).await;
        shared::http::respond(result, &correlation_id, RESOLVE_ROUTE)
    }

    /// The reconciler's resolve of payment `id`.
    pub fn resolve_request(&self, id: &str) -> Request {
        ApiRequest::new("POST", RESOLVE_ROUTE, &[("paymentId", id)])
            .header("X-Correlation-Id", "reconciler-run-1")
            .build()
    }

    pub async fn stored(&self, id: PaymentId) -> Option<Payment> {
        self.repo.get(id).await.unwrap()
    }

    /// A payment in state Requested that the (fake) e-wallet knows, made through the
    /// payment-request handler.
    pub async fn given_requested_payment(&self, amount: &'static str) -> Payment {
        let call = self.payment_call(amount);
        let response = self.request_payment(call.request()).await;
        assert_eq!(response.status(), 201, "{:?}", response.body());
        let payment = self.stored(call.payment_id()).await.unwrap();
        assert!(payment.external_id.is_some());
        payment
    }

    /// The webhook body the e-wallet would send for `payment`.
    pub fn webhook_body(&self, payment: &Payment, status: &str, amount: &str) -> String {
        format!(
            r#"{{"paymentRequestId":"{}","totalAmount":{amount},"currency":"USD","statusCode":"{status}","transaction":{{"transactionId":"tx-{}","orderId":"{}","transactionTime":"{}"}}}}"#,
            payment.external_id.as_ref().unwrap(),
            payment.id,
            payment.order_id,
            Utc::now().to_rfc3339(),
        )
    }

    pub fn sign(&self, body: &str, at: i64) -> String {
        shared::signature::sign(self.secret.as_bytes(), at, body.as_bytes())
    }

    pub fn webhook_request(&self, body: &str, signature: Option<&str>) -> Request {
        let mut request = ApiRequest::new("POST", WEBHOOK_ROUTE, &[])
            .header("X-Correlation-Id", "ewallet-delivery-1")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Ewallet-Signature", signature);
        }
        request.build()
    }

    /// A webhook request signed now with the local secret.
    pub fn signed_webhook(&self, body: &str) -> Request {
        let signature = self.sign(body, Utc::now().timestamp());
        self.webhook_request(body, Some(&signature))
    }
}
