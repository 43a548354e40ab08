use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use chrono::Utc;
use lambda_http::{Body, Request, Response};
use mocks::ewallet::domain::{NotificationUri, PaymentRequestId};
use mocks::ewallet::scheduler::schedule_name;
use mocks::ewallet::{
    CancelService, DelayRange, Dispatcher, DynamoDbEwalletRequests, EventBridgeWebhookScheduler,
    EwalletRequest, EwalletRequestRepository, HttpWebhookSender, NewPaymentRequest, OutcomeRule,
    PaymentRequestService, cancel, payment_request,
};
use shared::SystemClock;
use shared::api_key::ApiKey;
use shared::client::RetrySettings;
use shared::contracts::Webhook;
use shared::signature::WebhookSecret;
use shared::testing::local_env;
use shared::{CorrelationId, Currency, Money, OrderId};
use tokio::sync::Notify;

pub const SECRET: &[u8] = b"integration-test-webhook-secret";

pub type TestPaymentService =
    PaymentRequestService<DynamoDbEwalletRequests, EventBridgeWebhookScheduler, SystemClock>;
pub type TestDispatcher = Dispatcher<DynamoDbEwalletRequests, HttpWebhookSender, SystemClock>;
pub type TestCancelService = CancelService<DynamoDbEwalletRequests, SystemClock>;

pub const CANCEL_ROUTE: &str = "/api/payment/payment-requests/{paymentRequestId}/cancel";

pub struct TestApp {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub table: String,
    pub group: String,
    pub dispatcher_arn: String,
    pub role_arn: String,
    pub repo: DynamoDbEwalletRequests,
}

pub async fn spawn_app() -> TestApp {
    shared::telemetry::init();
    let config = shared::testing::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = local_env("EWALLET_REQUESTS_TABLE");
    TestApp {
        repo: DynamoDbEwalletRequests(shared::store::Table::new(dynamodb.clone(), &table)),
        dynamodb,
        scheduler: aws_sdk_scheduler::Client::new(&config),
        table,
        group: local_env("EWALLET_SCHEDULE_GROUP"),
        dispatcher_arn: local_env("EWALLET_DISPATCHER_ARN"),
        role_arn: local_env("EWALLET_SCHEDULER_ROLE_ARN"),
    }
}

impl TestApp {
    /// The payment-request endpoint with a fixed delay. Tests use long delays so the
    /// emulator's Scheduler (which fires due schedules) leaves theirs alone while they look.
    pub fn payment_service(&self, delay_secs: u32) -> TestPaymentService {
        PaymentRequestService {
            repo: self.repo.clone(),
            scheduler: EventBridgeWebhookScheduler::new(
                self.scheduler.clone(),
                &self.group,
                &self.dispatcher_arn,
                &self.role_arn,
            ),
            clock: SystemClock,
            delays: DelayRange::new(delay_secs, delay_secs).unwrap(),
            entropy: std::sync::Arc::new(shared::entropy::SystemEntropy),
            api_key: ApiKey::new(local_env("EWALLET_API_KEY")).unwrap(),
            // The addresses the tests and the sample events send webhooks to.
            webhook_urls: [
                "https://shop.example.com/api/v1/payments/webhook",
                "https://shop.example.com/hook",
                "http://127.0.0.1:3000/api/v1/payments/webhook",
            ]
            .iter()
            .map(|url| NotificationUri::parse(url).unwrap())
            .collect(),
        }
    }

    pub async fn request(&self, service: &TestPaymentService, request: Request) -> Response<Body> {
        let correlation_id = CorrelationId::from_headers(request.headers());
        let result = payment_request::handle(service, request, correlation_id.clone()).await;
        shared::http::respond(result, &correlation_id, "/api/payment/payment-requests")
    }

    /// The cancel endpoint with the local merchant key.
    pub fn cancel_service(&self) -> TestCancelService {
        CancelService {
            repo: self.repo.clone(),
            clock: SystemClock,
            api_key: ApiKey::new(local_env("EWALLET_API_KEY")).unwrap(),
        }
    }

    pub async fn cancel(&self, service: &TestCancelService, request: Request) -> Response<Body> {
        let correlation_id = CorrelationId::from_headers(request.headers());
        let result = cancel::handle(service, request, correlation_id.clone()).await;
        shared::http::respond(result, &correlation_id, CANCEL_ROUTE)
    }

    /// The merchant's cancel of `id`, with its key.
    pub fn cancel_request(&self, id: PaymentRequestId) -> Request {
        shared::testing::ApiRequest::new(
            "POST",
            CANCEL_ROUTE,
            &[("paymentRequestId", &id.to_string())],
        )
        .header("X-Api-Key", &local_env("EWALLET_API_KEY"))
        .build()
    }

    /// A dispatcher that signs with `SECRET` and retries quickly.
    pub fn dispatcher(&self) -> TestDispatcher {
        Dispatcher {
            repo: self.repo.clone(),
            sender: HttpWebhookSender::new(RetrySettings {
                attempt_timeout: Duration::from_secs(2),
                max_retries: 3,
                min_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
            })
            .unwrap(),
            clock: SystemClock,
            secret: shared::secrets::LiveSecrets::fixed(shared::signature::WebhookSecrets::single(
                WebhookSecret::new(SECRET).unwrap(),
            )),
            outcomes: OutcomeRule::default(),
            lease: mocks::ewallet::dispatcher::LEASE,
            entropy: std::sync::Arc::new(shared::entropy::SystemEntropy),
        }
    }

    /// A scheduled, Pending request for `cents` whose webhook goes to `notification_uri`.
    pub async fn given_request(&self, cents: i64, notification_uri: &str) -> PaymentRequestId {
        let id = PaymentRequestId::new_random();
        self.given_request_with_id(id, cents, notification_uri)
            .await;
        id
    }

    pub async fn given_request_with_id(
        &self,
        id: PaymentRequestId,
        cents: i64,
        notification_uri: &str,
    ) {
        let now = Utc::now();
        let terms = NewPaymentRequest {
            amount: Money::from_cents(cents, Currency::USD),
            notification_uri: NotificationUri::parse(notification_uri).unwrap(),
            order_id: OrderId::new_random(),
        };
        let mut request = EwalletRequest::new(id, terms, "test-correlation-id", now, now);
        request.scheduled = true;
        self.repo.insert_if_absent(&request).await.unwrap();
    }

    pub async fn raw_item(&self, id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("paymentRequestId", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    pub async fn delete_item(&self, id: &str) {
        self.dynamodb
            .delete_item()
            .table_name(&self.table)
            .key("paymentRequestId", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .unwrap();
    }

    pub async fn get_schedule(&self, id: &str) -> Option<GetScheduleOutput> {
        let id = PaymentRequestId::parse(id).unwrap();
        self.scheduler
            .get_schedule()
            .group_name(&self.group)
            .name(schedule_name(id))
            .send()
            .await
            .ok()
    }

    /// How many schedules of the group carry this request's name.
    pub async fn schedules_named_for(&self, id: &str) -> usize {
        let id = PaymentRequestId::parse(id).unwrap();
        self.scheduler
            .list_schedules()
            .group_name(&self.group)
            .name_prefix(schedule_name(id))
            .send()
            .await
            .unwrap()
            .schedules()
            .len()
    }

    /// Tests clean up their schedules so the emulator never fires them. A schedule that
    /// is gone already (never made, or fired) is fine.
    pub async fn delete_schedule(&self, id: &str) {
        let id = PaymentRequestId::parse(id).unwrap();
        let result = self
            .scheduler
            .delete_schedule()
            .group_name(&self.group)
            .name(schedule_name(id))
            .send()
            .await;
        if let Err(err) = result {
            let missing = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception());
            assert!(missing, "deleting schedule {id}: {err:?}");
        }
    }
}

pub fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value.clone(),
        Some(AttributeValue::N(value)) => value.clone(),
        Some(AttributeValue::Bool(value)) => value.to_string(),
        other => panic!("{name}: {other:?}"),
    }
}

// ---------------------------------------------------------------- the webhook receiver

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Vec<u8>,
    pub webhook: Option<Webhook>,
    pub signature_ok: bool,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
}

#[derive(Default)]
struct ReceiverState {
    /// Statuses to answer next (then 200).
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
    /// While set, the receiver answers only once the gate is notified.
    gate: Mutex<Option<Arc<Notify>>>,
}

/// The webhook receiver played by the test: an HTTP server on 127.0.0.1 that checks the
/// signature with `SECRET`, records each POST, and answers as told.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ReceiverState::default());
        let app = Router::new()
            .route("/webhook", post(receive))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://127.0.0.1:{port}/webhook"),
            state,
            server,
        }
    }

    /// Answers these statuses to the next POSTs, then 200.
    pub fn answer(&self, statuses: impl IntoIterator<Item = u16>) {
        self.state.script.lock().unwrap().extend(statuses);
    }

    /// From now on the receiver holds its answer until the returned gate is notified, so a
    /// test can overlap other firings with one delivery in flight for certain.
    pub fn hold_answers(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        *self.state.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn posts(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A port on 127.0.0.1 where nothing listens (for a receiver that is down).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let signature_ok = shared::signature::verify(
        SECRET,
        headers
            .get(shared::signature::HEADER)
            .and_then(|v| v.to_str().ok()),
        &body,
        Utc::now().timestamp(),
    )
    .is_ok();
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.received.lock().unwrap().push(Received {
        body: body.to_vec(),
        webhook: serde_json::from_slice(&body).ok(),
        signature_ok,
        idempotency_key: header_text("idempotency-key"),
        correlation_id: header_text("x-correlation-id"),
    });
    let gate = state.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.notified().await;
    }
    let scripted = state.script.lock().unwrap().pop_front();
    let status = match (signature_ok, scripted) {
        (false, _) => 401,
        (true, Some(status)) => status,
        (true, None) => 200,
    };
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"received":{}}}"#, status.is_success()),
    )
}
