//! Every sample event in `events/` goes through its handler: the files stay true to the code.

use chrono::Utc;
use order::memory::{FakePayments, InMemoryOrderRepository};
use order::{CheckoutDeps, OrderDeps, OrderRepository};
use shared::contracts::OrderStatus;
use shared::testing::{from_event_json, read_sample, sample_events as files_of};
use shared::{PaymentId, SystemClock, UserId};

use crate::helpers::spawn_app;

/// The status each sample event must produce. A file missing here fails the test.
const EXPECTED: &[(&str, u16)] = &[
    ("order-search/search-by-name.json", 200),
    ("order-search/bad-page-size.json", 400),
    ("order-search/malformed-user-id.json", 400),
    ("order-get/demo-order.json", 200),
    ("order-get/public-demo-order.json", 200),
    ("order-get/unknown-order.json", 404),
    ("order-get/malformed-order-id.json", 400),
    ("order-checkout/ewallet.json", 202),
    ("order-checkout/unknown-provider.json", 400),
    ("order-checkout/malformed-body.json", 400),
    ("order-confirm-payment/confirmed.json", 200),
    ("order-confirm-payment/other-payment.json", 409),
    ("order-confirm-payment/missing-payment-id.json", 400),
    ("order-process-status/job-completed.json", 200),
    ("order-process-status/unknown-job.json", 404),
    ("order-process-status/queued-is-not-a-report.json", 400),
    ("order-process-status/malformed-process-id.json", 400),
];

/// The process the order-process-status samples name (a failed payment's: one job).
const SAMPLE_PROCESS: &str = "4b1d7c2e-9a3f-5e6d-8c7b-1a2b3c4d5e6f";

/// The payment the confirm-payment samples name.
const SAMPLE_PAYMENT: &str = "3f0c6b8e-2d1a-4e5f-9a7b-6c5d4e3f2a1b";

fn load(file: &str) -> lambda_http::Request {
    from_event_json(&read_sample(file))
}

fn expected(file: &str) -> u16 {
    shared::testing::expected_status(EXPECTED, file)
}

#[test]
fn every_function_of_the_template_has_samples_sent_through_its_handler() {
    shared::testing::assert_every_template_function_has_samples(
        env!("CARGO_MANIFEST_DIR"),
        &[
            "order-search",
            "order-get",
            "order-checkout",
            "order-confirm-payment",
            "order-process-status",
            "order-payment-results-publisher",
            "order-reconciler",
        ],
    );
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let app = spawn_app().await;
    // The samples name the demo user and its first order.
    let demo_user = UserId::parse(order::demo::DEMO_USER).unwrap();
    app.repo
        .insert_if_absent(&order::demo::demo_order(demo_user, 1, Utc::now()))
        .await
        .unwrap();

    for file in files_of("order-search") {
        let response = app.search(load(&file)).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
    for file in files_of("order-get") {
        let response = app.get(load(&file)).await;
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
}

/// The samples that change state run against a fresh in-memory copy of the demo orders,
/// so they give the same answer on every run.
#[tokio::test]
async fn every_state_changing_sample_event_gets_its_expected_status() {
    let demo_user = UserId::parse(order::demo::DEMO_USER).unwrap();
    let correlation_id = shared::CorrelationId::generate();
    for file in files_of("order-checkout") {
        let repo = InMemoryOrderRepository::with(order::demo::demo_orders(demo_user, Utc::now()));
        let deps = CheckoutDeps {
            repo,
            payments: FakePayments::default(),
            clock: SystemClock,
            payment_deadline: order::config::PaymentDeadline::default().0,
        };
        let result = order::checkout::handle(&deps, load(&file), correlation_id.clone()).await;
        let response = shared::http::respond(result, &correlation_id, "/events");
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
    for file in files_of("order-confirm-payment") {
        let mut orders = order::demo::demo_orders(demo_user, Utc::now());
        orders[0].status = OrderStatus::PaymentPending;
        orders[0].payment_id = Some(PaymentId::parse(SAMPLE_PAYMENT).unwrap());
        let repo = InMemoryOrderRepository::with(orders);
        let deps = OrderDeps {
            repo,
            processes: order::processes::memory::InMemoryProcessRepository::default(),
            clock: SystemClock,
        };
        let result = order::confirm::handle(&deps, load(&file), correlation_id.clone()).await;
        let response = shared::http::respond(result, &correlation_id, "/events");
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
}

#[tokio::test]
async fn every_process_status_sample_gets_its_expected_status() {
    use order::processes::memory::InMemoryProcessRepository;
    use order::{Process, ProcessRepository};
    let demo_user = UserId::parse(order::demo::DEMO_USER).unwrap();
    let correlation_id = shared::CorrelationId::generate();
    for file in files_of("order-process-status") {
        let mut order = order::demo::demo_order(demo_user, 1, Utc::now());
        order.status = OrderStatus::PaymentFailed;
        let mut process =
            Process::for_decided(&order, PaymentId::new_random(), &correlation_id, Utc::now());
        process.process_id = shared::ProcessId::parse(SAMPLE_PROCESS).unwrap();
        let processes = InMemoryProcessRepository::default();
        processes.insert_if_absent(&process).await.unwrap();
        let deps = OrderDeps {
            repo: InMemoryOrderRepository::default(),
            processes,
            clock: SystemClock,
        };
        let result =
            order::process_status::handle(&deps, load(&file), correlation_id.clone()).await;
        let response = shared::http::respond(result, &correlation_id, "/events");
        assert_eq!(
            response.status().as_u16(),
            expected(&file),
            "{file}: {:?}",
            response.body()
        );
    }
}

#[tokio::test]
async fn every_stream_sample_publishes_what_it_should() {
    use order::processes::memory::RecordingPaymentResults;
    for file in files_of("order-payment-results-publisher") {
        let event: aws_lambda_events::dynamodb::Event =
            serde_json::from_str(&read_sample(&file)).unwrap();
        let topic = RecordingPaymentResults::default();
        let published = order::publisher::handle(&topic, event).await.unwrap();
        let want = match file.as_str() {
            "order-payment-results-publisher/process-inserted.json" => 1,
            "order-payment-results-publisher/job-changed.json" => 0,
            other => panic!("events/{other} has no expected result in tests/api/events.rs"),
        };
        assert_eq!(published, want, "{file}");
        assert_eq!(topic.published().len(), want, "{file}");
    }
}

#[tokio::test]
async fn every_reconciler_sample_runs_a_reconciliation() {
    use order::processes::memory::InMemoryProcessRepository;
    use order::reconciler::{ReconcilerDeps, handle};
    for file in files_of("order-reconciler") {
        let payload: serde_json::Value = serde_json::from_str(&read_sample(&file)).unwrap();
        let mut order = order::demo::demo_order(UserId::new_random(), 1, Utc::now());
        order.status = OrderStatus::PaymentPending;
        order.checkout_attempt = 1;
        order.payment_id = Some(PaymentId::for_idempotency_key(&order.checkout_key(1)));
        order.pending_until = Some(Utc::now() - chrono::Duration::seconds(1));
        let deps = ReconcilerDeps {
            orders: OrderDeps {
                repo: InMemoryOrderRepository::with([order.clone()]),
                processes: InMemoryProcessRepository::default(),
                clock: SystemClock,
            },
            payments: FakePayments::default(),
        };
        let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
        let report = handle(&deps, event).await.unwrap();
        assert_eq!(report.made_payable, 1, "{file}");
        let stored = deps
            .orders
            .repo
            .get(order.user_id, order.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, OrderStatus::PaymentFailed, "{file}");
    }
}
