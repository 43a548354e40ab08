use aws_sdk_dynamodb::Client;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use lambda_http::{Body, Request, Response};
use order::{
    CheckoutDeps, DynamoDbOrderRepository, DynamoDbProcessRepository, Order, OrderDeps,
    OrderRepository, demo,
};
use shared::testing::local_env;
use shared::{SystemClock, UserId};

pub struct TestApp {
    pub repo: DynamoDbOrderRepository,
    pub processes: DynamoDbProcessRepository,
    /// A user no other test uses.
    pub user: UserId,
}

pub async fn spawn_app() -> TestApp {
    shared::telemetry::init();
    let config = shared::testing::sdk_config().await;
    let repo = DynamoDbOrderRepository::new(Client::new(&config), local_env("ORDERS_TABLE"));
    let processes =
        DynamoDbProcessRepository::new(Client::new(&config), local_env("PROCESSES_TABLE"));
    TestApp {
        repo,
        processes,
        user: UserId::new_random(),
    }
}

impl TestApp {
    fn deps(&self) -> OrderDeps<&DynamoDbOrderRepository, &DynamoDbProcessRepository> {
        OrderDeps {
            repo: &self.repo,
            processes: &self.processes,
            clock: SystemClock,
        }
    }

    /// Stores the demo set's first `count` orders for `user`.
    pub async fn given_orders(&self, user: UserId, count: usize) -> Vec<Order> {
        let now = Utc::now();
        let orders: Vec<Order> = (1..=count)
            .map(|n| demo::demo_order(user, n, now))
            .collect();
        stream::iter(orders.clone())
            .map(|order| {
                let repo = &self.repo;
                async move { repo.insert_if_absent(&order).await }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<bool>>()
            .await
            .expect("storing test orders");
        orders
    }

    pub async fn search(&self, request: Request) -> Response<Body> {
        let cid = shared::CorrelationId::generate();
        let result = order::search::handle(&self.deps(), request, cid.clone()).await;
        shared::http::respond(result, &cid, "/test")
    }

    pub async fn checkout(
        &self,
        payments: &order::memory::FakePayments,
        request: Request,
    ) -> Response<Body> {
        let cid = shared::CorrelationId::generate();
        let deps = CheckoutDeps {
            repo: &self.repo,
            payments,
            clock: SystemClock,
            payment_deadline: order::config::PaymentDeadline::default().0,
        };
        let result = order::checkout::handle(&deps, request, cid.clone()).await;
        shared::http::respond(result, &cid, "/test")
    }

    pub async fn confirm(&self, request: Request) -> Response<Body> {
        let cid = shared::CorrelationId::generate();
        let result = order::confirm::handle(&self.deps(), request, cid.clone()).await;
        shared::http::respond(result, &cid, "/test")
    }

    pub async fn get(&self, request: Request) -> Response<Body> {
        let cid = shared::CorrelationId::generate();
        let result = order::get::handle(&self.deps(), request, cid.clone()).await;
        shared::http::respond(result, &cid, "/test")
    }
}
