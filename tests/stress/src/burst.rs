//! The load: N fresh orders, one per fresh user, and their checkouts all in flight at once,
//! each sent as a user's browser sends it: a 429, 502, 503 or 504, or no answer, is tried
//! again (after its Retry-After, at most 5 s) until the API takes it or `give_up` passes.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use order::{DynamoDbOrderRepository, Order, OrderDetail, OrderRepository};
use shared::{Currency, Money, OrderId, UserId};

/// Every `DECLINED_EVERY`th order costs .11, which the e-wallet declines; the rest .99.
pub const DECLINED_EVERY: usize = 10;

/// Whether the e-wallet will accept the order (its amount ends in .99).
pub fn accepted_by_the_ewallet(order: &Order) -> bool {
    order.total.cents_part() == 99
}

/// `count` fresh orders, each of its own fresh user, stored as the order service stores them.
pub async fn seed(
    repo: &DynamoDbOrderRepository,
    count: usize,
    label: &str,
) -> anyhow::Result<Vec<Order>> {
    let now = Utc::now();
    let orders = (0..count)
        .map(|n| {
            let cents = if n % DECLINED_EVERY == DECLINED_EVERY - 1 {
                5011
            } else {
                10099
            };
            let detail = OrderDetail {
                product_id: "stress-product".into(),
                product_name: "Stress Product".into(),
                unit_price: Money::from_cents(cents, Currency::USD),
                quantity: 1,
            };
            Order::create(
                OrderId::new_random(),
                UserId::new_random(),
                format!("{label} {n}"),
                vec![detail],
                now,
            )
            .map_err(|e| anyhow::anyhow!("order {n}: {e}"))
        })
        .collect::<anyhow::Result<Vec<Order>>>()?;
    stream::iter(orders.clone())
        .map(|order| async move { repo.insert_if_absent(&order).await })
        .buffer_unordered(16)
        .try_collect::<Vec<bool>>()
        .await
        .context("seeding the orders")?;
    Ok(orders)
}

/// One try of a checkout: its answer (None: no answer) and how long it took.
#[derive(Debug, Clone)]
pub struct Try {
    pub status: Option<u16>,
    pub took: Duration,
}

/// What the user saw of one order's checkout.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub order: Order,
    pub sent_at: chrono::DateTime<Utc>,
    pub tries: Vec<Try>,
}

impl Checkout {
    /// The API took it (202), or said it is already being paid or paid (409).
    pub fn taken(&self) -> bool {
        matches!(self.last_status(), Some(202 | 409))
    }

    pub fn last_status(&self) -> Option<u16> {
        self.tries.last().and_then(|t| t.status)
    }
}

/// An answer the user tries again: the API or the platform asks for it.
pub fn retried(status: Option<u16>) -> bool {
    matches!(status, None | Some(429 | 502 | 503 | 504))
}

pub struct Settings {
    pub api_url: String,
    /// Checkouts in flight at once.
    pub concurrency: usize,
    /// How long a user keeps trying.
    pub give_up: Duration,
}

pub async fn checkouts(settings: &Settings, orders: Vec<Order>) -> anyhow::Result<Vec<Checkout>> {
    let http = shared::client::http_builder()?
        .pool_max_idle_per_host(settings.concurrency.max(8))
        .timeout(Duration::from_secs(60))
        .build()?;
    let done = stream::iter(orders.into_iter().enumerate().map(|(n, order)| {
        let http = &http;
        async move {
            let url = format!(
                "{}/api/v1/users/{}/orders/{}/checkout",
                settings.api_url.trim_end_matches('/'),
                order.user_id,
                order.id
            );
            let sent_at = Utc::now();
            let started = Instant::now();
            let mut tries = Vec::new();
            loop {
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header(
                        "x-correlation-id",
                        format!("stress-{n}-{}", tries.len() + 1),
                    )
                    .json(&serde_json::json!({ "paymentProvider": "Ewallet" }))
                    .send()
                    .await;
                let (status, retry_after) = match &answer {
                    Ok(r) => (
                        Some(r.status().as_u16()),
                        r.headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok()),
                    ),
                    Err(_) => (None, None),
                };
                tries.push(Try {
                    status,
                    took: sent.elapsed(),
                });
                if !retried(status) || started.elapsed() > settings.give_up {
                    break;
                }
                let wait = Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 5));
                tokio::time::sleep(wait).await;
            }
            Checkout {
                order,
                sent_at,
                tries,
            }
        }
    }))
    .buffer_unordered(settings.concurrency.max(1))
    .collect()
    .await;
    Ok(done)
}
