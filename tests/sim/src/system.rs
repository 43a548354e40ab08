//! The checkout wired as template.yaml wires it. The payment half: checkout, the payment
//! service's request, resolve and webhook, confirm-payment, the reconciler, and the mock
//! e-wallet with its scheduled, signed webhook. The fulfilment half: the processes
//! table's stream to the publisher, the topic, the three queues and their listeners, the
//! production and invoice mocks, send-email over SES, and process-status. The real
//! handlers and HTTP adapters run; only the stores, the network, Scheduler, the stream,
//! SNS, SQS and SES are simulated.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mocks::ewallet::domain::{DelayRange, NotificationUri, OutcomeRule};
use mocks::ewallet::memory::InMemoryEwalletRequests;
use mocks::ewallet::scheduler::{Scheduled, SchedulerError};
use mocks::ewallet::{
    CancelService, Dispatcher, HttpWebhookSender, PaymentRequestService, RefundService,
    WebhookSchedule, WebhookScheduler,
};
use order::memory::InMemoryOrderRepository;
use order::processes::memory::InMemoryProcessRepository;
use order::{CheckoutDeps, HttpPayments, OrderDeps};
use payment::gateway::{HttpEwallet, HttpOrderConfirmation};
use payment::memory::InMemoryPaymentRepository;
use payment::{RequestDeps, ResolveDeps, WebhookDeps};
use shared::api_key::ApiKey;
use shared::client::{ClientParts, RetrySettings, ServiceClient};
use shared::config::ConfigError;
use shared::entropy::SeededEntropy;
use shared::secrets::{LiveSecrets, SecretSource};
use shared::signature::WebhookSecrets;

use listeners::{HttpInvoice, HttpNotification, HttpProcessStatus, HttpProduction, Listener};
use mocks::records::memory::InMemoryRecords;
use mocks::records::{FailureRate, RecordService};
use notification::NotificationDeps;
use notification::memory::InMemoryEmailLog;
use shared::fulfilment::{InvoiceRequest, ProductionRequest};

use crate::fulfil::{Queue, Ses, SqsHandler, Stream, Topic};
use crate::http_function;
use crate::net::{Network, Outbound, Route, context, invoke};
use crate::store::Faulty;
use crate::template::template;
use crate::world::{FIRST_SECRET, Half, NEXT_SECRET, SimClock, World, lock, secret};

pub const PUBLIC: &str = "https://public.sim";
const INTERNAL: &str = "https://internal.sim";
const EWALLET: &str = "https://ewallet.sim";

/// template.yaml: the reconciler's `rate(1 minute)`.
pub const RECONCILER_PERIOD: Duration = Duration::from_secs(60);
/// Where the e-mails go (the template's RecipientDomain and SenderEmail).
const RECIPIENT_DOMAIN: &str = "customers.checkout.example";
const SENDER: &str = "orders@checkout.example";

/// The stores every instance shares, as the checker reads them.
#[derive(Debug, Default)]
pub struct Stores {
    pub orders: Arc<InMemoryOrderRepository>,
    pub processes: Arc<InMemoryProcessRepository>,
    pub payments: Arc<InMemoryPaymentRepository>,
    pub ewallet: Arc<InMemoryEwalletRequests>,
    pub productions: Arc<InMemoryRecords<ProductionRequest>>,
    pub invoices: Arc<InMemoryRecords<InvoiceRequest>>,
    pub emails: Arc<InMemoryEmailLog>,
}

/// The fulfilment half's AWS parts, as the checker reads them.
pub struct Fulfilment {
    pub stream: Arc<Stream>,
    pub queues: Vec<Arc<Queue>>,
    pub ses: Arc<Ses>,
    listeners: Vec<(Arc<Queue>, &'static str, &'static str, SqsHandler)>,
}

type Orders = Faulty<InMemoryOrderRepository>;
type Processes = Faulty<InMemoryProcessRepository>;
type Requests = Faulty<InMemoryEwalletRequests>;
pub type ReconcilerDeps =
    order::reconciler::ReconcilerDeps<Orders, Processes, HttpPayments, SimClock>;
type DispatcherDeps = Dispatcher<Requests, HttpWebhookSender, SimClock>;

/// The whole system of one seed.
pub struct System {
    pub world: Arc<World>,
    pub stores: Arc<Stores>,
    pub network: Arc<Network>,
    pub reconciler: Arc<ReconcilerDeps>,
    pub fulfilment: Fulfilment,
    /// The dispatcher's secrets, read again when its instance recycles.
    dispatcher_secret: LiveSecrets,
}

/// Secrets Manager's webhook secret, as the functions read it.
#[derive(Debug)]
struct SimSecretsManager(Arc<World>);

impl SecretSource for SimSecretsManager {
    fn read(&self) -> shared::transport::BoxFuture<'_, Result<WebhookSecrets, ConfigError>> {
        Box::pin(std::future::ready(Ok(self.0.secret())))
    }
}

impl System {
    pub async fn build(
        world: Arc<World>,
        check: Arc<dyn Fn() + Send + Sync>,
        stores: Arc<Stores>,
    ) -> Self {
        let network = Network::new(world.clone());
        let timeout = |binary: &str| template().timeout(binary);
        let payment_deadline =
            chrono::Duration::seconds(template().parameter("PaymentDeadlineSeconds") as i64);
        let clock = || SimClock::instance(&world);
        let orders = faulty(&stores.orders, &world, "orders", &check);
        let processes = faulty(&stores.processes, &world, "processes", &check);
        let payments = faulty(&stores.payments, &world, "payments", &check);
        let requests = faulty(&stores.ewallet, &world, "ewallet_requests", &check);
        let client = |retry: RetrySettings| {
            let clock = clock();
            let transport = Outbound {
                network: network.clone(),
                clock: clock.clone(),
            };
            let parts = ClientParts {
                transport: Arc::new(transport),
                entropy: Arc::new(SeededEntropy::new(world.fork())),
                clock: Arc::new(clock),
            };
            ServiceClient::with_parts(parts, retry)
        };
        let api_key = || ApiKey::new(b"sim-merchant-api-key-0123456789".to_vec()).ok();
        let Some(key) = api_key() else {
            unreachable!("the simulation's key is long enough")
        };
        // Each function's instance reads the secret at its cold start.
        let secrets_manager: Arc<dyn SecretSource> = Arc::new(SimSecretsManager(world.clone()));
        let cold_start = || LiveSecrets::load(secrets_manager.clone(), world.now().timestamp());
        let (Ok(webhook_secret), Ok(dispatcher_secret)) = (cold_start().await, cold_start().await)
        else {
            unreachable!("the simulation's Secrets Manager always answers")
        };
        let payment_retry = payment::startup::retry_settings();
        let ewallet = |webhook_url: &str| {
            HttpEwallet::new(client(payment_retry), EWALLET, webhook_url, key.clone())
        };
        let webhook_url = format!("{PUBLIC}/api/v1/payments/webhook");
        let order_deps = OrderDeps {
            repo: orders.clone(),
            processes: processes.clone(),
            clock: clock(),
        };

        let dispatcher = Arc::new(Dispatcher {
            repo: requests.clone(),
            sender: HttpWebhookSender::over(client(
                mocks::ewallet::startup::dispatcher_retry_settings(),
            )),
            clock: clock(),
            secret: dispatcher_secret.clone(),
            outcomes: OutcomeRule::default(),
            lease: mocks::ewallet::dispatcher::LEASE,
            entropy: Arc::new(SeededEntropy::new(world.fork())),
        });
        let scheduler = SimScheduler {
            world: world.clone(),
            dispatcher: dispatcher.clone(),
            names: Mutex::new(BTreeSet::new()),
        };
        let Ok(notification_uri) = NotificationUri::parse(&webhook_url) else {
            unreachable!("the webhook URL is an https URL")
        };
        let deadline_secs = u32::try_from(template().parameter("PaymentDeadlineSeconds"))
            .unwrap_or_else(|_| unreachable!("the template bounds the deadline to a day"));
        let (fastest, slowest) = match (world.racing_ewallet, world.fast_ewallet) {
            (true, _) => (deadline_secs.saturating_sub(15), deadline_secs + 15),
            (false, true) => (0, 10),
            (false, false) => (3, 10),
        };
        let Ok(delays) = DelayRange::new(fastest, slowest) else {
            unreachable!("a delay range within a day")
        };

        let route = |method: &str, path: &str, function, handler| Route {
            method: method.into(),
            path: path.into(),
            function,
            timeout: timeout(function),
            handler,
            half: Half::Payment,
        };
        let routes = vec![
            route(
                "POST",
                "/api/v1/users/{userId}/orders/{orderId}/checkout",
                "order-checkout",
                http_function!(
                    CheckoutDeps {
                        repo: orders.clone(),
                        payments: HttpPayments::new(
                            client(order::startup::payments_retry_settings()),
                            INTERNAL
                        ),
                        clock: clock(),
                        payment_deadline,
                    },
                    order::checkout::handle
                ),
            ),
            route(
                "POST",
                "/api/internal/v1/users/{userId}/orders/{orderId}/confirm-payment",
                "order-confirm-payment",
                http_function!(order_deps.clone(), order::confirm::handle),
            ),
            route(
                "POST",
                "/api/internal/v1/users/{userId}/payments",
                "payment-request",
                http_function!(
                    RequestDeps {
                        repo: payments.clone(),
                        ewallet: ewallet(&webhook_url),
                        clock: clock(),
                    },
                    payment::request::handle
                ),
            ),
            route(
                "POST",
                "/api/internal/v1/payments/{paymentId}/resolve",
                "payment-resolve",
                http_function!(
                    ResolveDeps {
                        repo: payments.clone(),
                        ewallet: ewallet(&webhook_url),
                        clock: clock(),
                    },
                    payment::resolve::handle
                ),
            ),
            route(
                "POST",
                "/api/v1/payments/webhook",
                "payment-webhook",
                http_function!(
                    WebhookDeps {
                        repo: payments.clone(),
                        orders: HttpOrderConfirmation::new(client(payment_retry), INTERNAL),
                        refunds: ewallet(""),
                        secret: webhook_secret,
                        clock: clock(),
                    },
                    payment::webhook::handle
                ),
            ),
            route(
                "POST",
                "/api/payment/payment-requests",
                "ewallet-payment-request",
                http_function!(
                    PaymentRequestService {
                        repo: requests.clone(),
                        scheduler,
                        clock: clock(),
                        delays,
                        entropy: Arc::new(SeededEntropy::new(world.fork())),
                        api_key: key.clone(),
                        webhook_urls: vec![notification_uri],
                    },
                    mocks::ewallet::payment_request::handle
                ),
            ),
            route(
                "POST",
                "/api/payment/payment-requests/{paymentRequestId}/refunds",
                "ewallet-refund",
                http_function!(
                    RefundService {
                        repo: requests.clone(),
                        clock: clock(),
                        api_key: key.clone(),
                    },
                    mocks::ewallet::refund::handle
                ),
            ),
            route(
                "POST",
                "/api/payment/payment-requests/{paymentRequestId}/cancel",
                "ewallet-cancel",
                http_function!(
                    CancelService {
                        repo: requests.clone(),
                        clock: clock(),
                        api_key: key.clone(),
                    },
                    mocks::ewallet::cancel::handle
                ),
            ),
        ];
        let reconciler = Arc::new(ReconcilerDeps {
            orders: order_deps,
            payments: HttpPayments::new(
                client(order::startup::payments_retry_settings()),
                INTERNAL,
            ),
        });
        // The fulfilment half draws from its own stream (built last, so the payment half's
        // draws stay as they were).
        let (fulfilment, more_routes) = fulfilment(&world, &stores, &network, &check);
        let mut routes = routes;
        routes.extend(more_routes);
        network.install(routes);
        Self {
            world,
            stores,
            network,
            reconciler,
            fulfilment,
            dispatcher_secret,
        }
    }

    /// The operator's rotation of the webhook secret, if the seed has one (`Rotation`).
    async fn rotate(world: Arc<World>, dispatcher_secret: LiveSecrets) {
        let Some(rotation) = world.rotation else {
            return;
        };
        tokio::time::sleep(rotation.at).await;
        let (first, next) = (secret(FIRST_SECRET), secret(NEXT_SECRET));
        world.put_secret(
            WebhookSecrets::new(next.clone(), Some(first)),
            "rotated: the new one is current, the old one previous",
        );
        let recycle = {
            let (world, dispatcher_secret) = (world.clone(), dispatcher_secret.clone());
            async move {
                let Some(after) = rotation.dispatcher_recycles else {
                    return;
                };
                tokio::time::sleep(after).await;
                world.log("ewallet-webhook-dispatcher: a new instance reads the secret".into());
                dispatcher_secret.refresh(world.now().timestamp()).await;
            }
        };
        tokio::spawn(recycle);
        tokio::time::sleep(rotation.previous_dropped).await;
        world.put_secret(WebhookSecrets::single(next), "rotated: the old one removed");
    }

    /// Starts what AWS runs on its own: the stream's and the queues' pollers.
    pub fn start(&self) {
        tokio::spawn(Self::rotate(
            self.world.clone(),
            self.dispatcher_secret.clone(),
        ));
        tokio::spawn(self.fulfilment.stream.clone().run());
        for (queue, function, mapping, handler) in &self.fulfilment.listeners {
            let mapping = template().mapping(mapping);
            tokio::spawn(crate::fulfil::poll(
                self.world.clone(),
                queue.clone(),
                function,
                mapping,
                handler.clone(),
            ));
        }
    }

    /// One scheduled run of the reconciler (`rate(1 minute)`, no retries).
    pub async fn reconcile(&self) {
        let deps = self.reconciler.clone();
        let timeout = template().timeout("order-reconciler");
        let event =
            lambda_runtime::LambdaEvent::new(serde_json::json!({}), context(&self.world, timeout));
        let work = Box::pin(async move {
            order::reconciler::handle(&*deps, event)
                .await
                .map_err(|err| shared::telemetry::ErrorChain(&err).to_string())
        });
        let done = invoke(
            &self.world,
            Half::Payment,
            "order-reconciler",
            timeout,
            work,
        )
        .await;
        self.world.log(format!("order-reconciler -> {done:?}"));
    }
}

/// EventBridge Scheduler as the e-wallet uses it: one `at()` schedule per name, fired at
/// least once (late, or twice, when those faults are on), each firing an asynchronous
/// invoke of the dispatcher that Lambda retries (the template's `MaximumRetryAttempts`).
struct SimScheduler {
    world: Arc<World>,
    dispatcher: Arc<DispatcherDeps>,
    names: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for SimScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated Scheduler")
    }
}

impl WebhookScheduler for SimScheduler {
    async fn schedule(&self, schedule: &WebhookSchedule) -> Result<Scheduled, SchedulerError> {
        let world = &self.world;
        let faults = world.faults();
        let name = schedule.name();
        if world.chance(faults.schedule_create_fails) {
            world.log(format!("fault scheduler: creating {name} failed"));
            return Err(SchedulerError::Create {
                name,
                source: "injected: Scheduler unavailable".into(),
            });
        }
        if !lock(&self.names).insert(name.clone()) {
            return Ok(Scheduled::AlreadyExisted);
        }
        let Ok(input) = schedule.input() else {
            return Err(SchedulerError::Build("the schedule's input".into()));
        };
        let mut fire_in = (schedule.due_at - world.now()).to_std().unwrap_or_default();
        if world.chance(faults.schedule_late) {
            fire_in += Duration::from_secs(world.between(1, 120));
            world.log(format!("fault scheduler: {name} fires late"));
        }
        let firings = if world.chance(faults.schedule_twice) {
            world.log(format!("fault scheduler: {name} fires twice"));
            2
        } else {
            1
        };
        for firing in 0..firings as u64 {
            let (world, dispatcher, input) =
                (world.clone(), self.dispatcher.clone(), input.clone());
            let at = fire_in + Duration::from_millis(firing * world.between(1, 5_000));
            tokio::spawn(async move {
                tokio::time::sleep(at).await;
                fire(world, dispatcher, input).await;
            });
        }
        Ok(Scheduled::Created)
    }
}

/// One asynchronous invoke of the dispatcher, retried by Lambda when it fails.
async fn fire(world: Arc<World>, dispatcher: Arc<DispatcherDeps>, input: String) {
    let timeout = template().timeout("ewallet-webhook-dispatcher");
    for attempt in 0..=template().async_retries("EwalletWebhookDispatcherFunction") {
        let Ok(payload) = serde_json::from_str::<serde_json::Value>(&input) else {
            return;
        };
        let event = lambda_runtime::LambdaEvent::new(payload, context(&world, timeout));
        let deps = dispatcher.clone();
        let work = Box::pin(async move {
            mocks::ewallet::dispatcher::handle(&*deps, event)
                .await
                .map_err(|err| shared::telemetry::ErrorChain(&err).to_string())
        });
        let done = invoke(
            &world,
            Half::Payment,
            "ewallet-webhook-dispatcher",
            timeout,
            work,
        )
        .await;
        world.log(format!("ewallet-webhook-dispatcher {input} -> {done:?}"));
        if matches!(done, Some(Ok(_))) {
            return;
        }
        // Lambda's retries of a failed asynchronous invoke: about 1 and 2 minutes later.
        tokio::time::sleep(Duration::from_secs(60 * u64::from(attempt + 1))).await;
    }
    world.log(format!(
        "ewallet-webhook-dispatcher {input}: retries exhausted (OnFailure)"
    ));
    world.dead_letter(input);
}

fn faulty<T>(
    inner: &Arc<T>,
    world: &Arc<World>,
    name: &'static str,
    check: &Arc<dyn Fn() + Send + Sync>,
) -> Faulty<T> {
    faulty_in(Half::Payment, inner, world, name, check)
}

fn faulty_in<T>(
    half: Half,
    inner: &Arc<T>,
    world: &Arc<World>,
    name: &'static str,
    check: &Arc<dyn Fn() + Send + Sync>,
) -> Faulty<T> {
    Faulty {
        inner: inner.clone(),
        world: world.clone(),
        name,
        half,
        check: check.clone(),
    }
}

/// Wraps a listener as its runtime does: the batch handler over the listener's deps.
macro_rules! sqs_function {
    ($listener:expr) => {{
        let listener = Arc::new($listener);
        let handler: SqsHandler = Arc::new(move |event| {
            let listener = listener.clone();
            Box::pin(async move { listeners::handle(&*listener, event).await })
        });
        handler
    }};
}

/// The fulfilment half: its routes, the stream, the topic, the queues and the listeners.
fn fulfilment(
    world: &Arc<World>,
    stores: &Arc<Stores>,
    network: &Arc<Network>,
    check: &Arc<dyn Fn() + Send + Sync>,
) -> (Fulfilment, Vec<Route>) {
    const F: Half = Half::Fulfilment;
    let clock = || SimClock::instance(world);
    let client = |retry: RetrySettings| {
        let clock = clock();
        let transport = Outbound {
            network: network.clone(),
            clock: clock.clone(),
        };
        let parts = ClientParts {
            transport: Arc::new(transport),
            entropy: Arc::new(SeededEntropy::new(world.fork_in(F))),
            clock: Arc::new(clock),
        };
        ServiceClient::with_parts(parts, retry)
    };
    let route = |method: &str, path: &str, function, handler| Route {
        method: method.into(),
        path: path.into(),
        function,
        timeout: template().timeout(function),
        handler,
        half: F,
    };
    let Ok(no_failures) = FailureRate::new(0.0) else {
        unreachable!("0 is a failure rate")
    };
    let ses = Ses::new(world, stores.emails.clone());
    let routes = vec![
        route(
            "POST",
            "/api/internal/v1/orderprocesses/{processId}/status",
            "order-process-status",
            http_function!(
                OrderDeps {
                    repo: faulty_in(F, &stores.orders, world, "orders", check),
                    processes: faulty_in(F, &stores.processes, world, "processes", check),
                    clock: clock(),
                },
                order::process_status::handle
            ),
        ),
        route(
            "POST",
            "/api/internal/v1/productions",
            "production-mock",
            http_function!(
                RecordService {
                    repo: faulty_in(F, &stores.productions, world, "productions", check),
                    clock: clock(),
                    failure_rate: no_failures,
                    faults: shared::fault::Faults::default(),
                },
                mocks::records::handle::<ProductionRequest, _, _>
            ),
        ),
        route(
            "POST",
            "/api/internal/v1/invoices",
            "invoice-mock",
            http_function!(
                RecordService {
                    repo: faulty_in(F, &stores.invoices, world, "invoices", check),
                    clock: clock(),
                    failure_rate: no_failures,
                    faults: shared::fault::Faults::default(),
                },
                mocks::records::handle::<InvoiceRequest, _, _>
            ),
        ),
        route(
            "POST",
            "/api/internal/v1/users/{userId}/emails/send",
            "notification-send-email",
            http_function!(
                NotificationDeps {
                    log: faulty_in(F, &stores.emails, world, "email_log", check),
                    sender: crate::fulfil::SesClient(ses.clone()),
                    clock: clock(),
                    from: SENDER.into(),
                },
                notification::send::handle
            ),
        ),
    ];
    let production = Queue::new(world, "production", "ProductionQueue");
    let invoice = Queue::new(world, "invoice", "InvoiceQueue");
    let notification = Queue::new(world, "notification", "NotificationQueue");
    let topic = Arc::new(Topic::new(
        world,
        vec![
            ("ProductionSubscription", production.clone()),
            ("InvoiceSubscription", invoice.clone()),
            ("NotificationSubscription", notification.clone()),
        ],
    ));
    let stream = Stream::new(world, stores.processes.clone(), topic);
    let retry = listeners::startup::retry_settings();
    let max_receive_count = template().parameter("MaxReceiveCount") as u32;
    let status = || HttpProcessStatus::new(client(retry), INTERNAL.into());
    let listeners = vec![
        (
            production.clone(),
            "production-listener",
            "ProductionListenerQueueMapping",
            sqs_function!(Listener {
                job: HttpProduction::new(client(retry), INTERNAL.into()),
                status: status(),
                max_receive_count,
            }),
        ),
        (
            invoice.clone(),
            "invoice-listener",
            "InvoiceListenerQueueMapping",
            sqs_function!(Listener {
                job: HttpInvoice::new(client(retry), INTERNAL.into()),
                status: status(),
                max_receive_count,
            }),
        ),
        (
            notification.clone(),
            "notification-listener",
            "NotificationListenerQueueMapping",
            sqs_function!(Listener {
                job: HttpNotification::new(
                    client(listeners::startup::email_retry_settings()),
                    INTERNAL.into(),
                    RECIPIENT_DOMAIN.into()
                ),
                status: status(),
                max_receive_count,
            }),
        ),
    ];
    let fulfilment = Fulfilment {
        stream,
        queues: vec![production, invoice, notification],
        ses,
        listeners,
    };
    (fulfilment, routes)
}
