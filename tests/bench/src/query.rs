//! Part 4, query cost: how many items a search reads (the Query's ScannedCount, reported by
//! the repository as `items_read`) against the user's own order count, and how search
//! latency grows with that count.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use order::OrderRepository;
use shared::paging::NameFilter;

use crate::dataset::Dataset;
use crate::event::search_request;
use crate::stack::TableSchema;
use crate::stats::Summary;

pub struct ItemsRead {
    pub filter: String,
    pub items_read: u64,
    pub own_orders: u64,
}

impl ItemsRead {
    pub fn ratio(&self) -> f64 {
        self.items_read as f64 / self.own_orders as f64
    }
}

pub struct Growth {
    pub own_orders: usize,
    pub latency: Summary,
    pub items_read: u64,
}

/// Items read by searches of the measured user, with and without a name filter.
pub async fn items_read(dataset: &Dataset) -> anyhow::Result<Vec<ItemsRead>> {
    let own_orders = dataset.own_orders;
    let mut rows = Vec::new();
    for filter in ["", "espresso", "#1"] {
        let parsed = NameFilter::parse(if filter.is_empty() {
            None
        } else {
            Some(filter)
        })
        .map_err(|e| anyhow::anyhow!("name filter {filter:?}: {e}"))?;
        let hits = dataset
            .repo
            .search(dataset.user, &parsed)
            .await
            .context("search")?;
        rows.push(ItemsRead {
            filter: filter.to_owned(),
            items_read: hits.items_read,
            own_orders: own_orders as u64,
        });
    }
    Ok(rows)
}

/// Search latency (the handler, first page of 10, no filter) of a user with `count`
/// orders, alone in its table (the emulator's Query cost grows with the table, DynamoDB's
/// only with the partition).
pub async fn growth(
    client: &aws_sdk_dynamodb::Client,
    schema: &TableSchema,
    count: usize,
    iterations: usize,
) -> anyhow::Result<Growth> {
    let dataset = Dataset::create(client, schema, count).await?;
    let measured = search_latency(&dataset, iterations.max(1)).await;
    if let Err(e) = dataset.delete().await {
        eprintln!("[bench] {e:#}");
    }
    measured
}

async fn search_latency(dataset: &Dataset, iterations: usize) -> anyhow::Result<Growth> {
    let count = dataset.own_orders;
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..=iterations {
        let request = search_request(dataset.user, &[("page", "1"), ("pageSize", "10")])?;
        let started = Instant::now();
        let correlation_id = shared::CorrelationId::generate();
        let result = order::search::handle(&dataset.deps(), request, correlation_id.clone()).await;
        let response = shared::http::respond(result, &correlation_id, "/bench");
        let elapsed = started.elapsed();
        if response.status() != 200 {
            bail!(
                "order-search answered {} for a user with {count} orders",
                response.status()
            );
        }
        // The first search warms the connection; it is not counted.
        if i > 0 {
            samples.push(elapsed);
        }
    }
    let hits = dataset
        .repo
        .search(
            dataset.user,
            &NameFilter::parse(None).map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .await?;
    Ok(Growth {
        own_orders: count,
        latency: Summary::of(&samples).unwrap_or_default(),
        items_read: hits.items_read,
    })
}

pub fn per_order(row: &Growth) -> Duration {
    row.latency.p50 / u32::try_from(row.own_orders.max(1)).unwrap_or(u32::MAX)
}
