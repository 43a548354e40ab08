//! Part 3, warm overhead: order-search's handler, in process, against the emulator, vs the raw
//! DynamoDB Query calls it issues for the same search, interleaved.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::Body;
use shared::paging::fold_case;

use crate::dataset::Dataset;
use crate::event::search_request;
use crate::stats::Summary;

/// The README's example search: page 2 of 5 of the orders whose name contains "a".
pub const QUERY: [(&str, &str); 3] = [("name", "a"), ("page", "2"), ("pageSize", "5")];

pub struct WarmResult {
    pub handler: Summary,
    pub raw: Summary,
    pub own_orders: usize,
    pub matched: u64,
}

impl WarmResult {
    pub fn ratio_p50(&self) -> f64 {
        self.handler.p50.as_secs_f64() / self.raw.p50.as_secs_f64()
    }
}

pub async fn measure(
    dataset: &Dataset,
    warmup: usize,
    iterations: usize,
) -> anyhow::Result<WarmResult> {
    let own_orders = dataset.own_orders;
    let mut handler = Vec::with_capacity(iterations);
    let mut raw = Vec::with_capacity(iterations);
    let mut matched = 0;
    for i in 0..warmup + iterations {
        // Alternate which goes first, so neither always follows the other.
        let (h, (r, count)) = if i % 2 == 0 {
            let h = time_handler(dataset).await?;
            (h, time_raw(dataset).await?)
        } else {
            let r = time_raw(dataset).await?;
            (time_handler(dataset).await?, r)
        };
        if i == 0 {
            matched = check_same_result(dataset, count).await?;
        }
        if i >= warmup {
            handler.push(h);
            raw.push(r);
        }
    }
    Ok(WarmResult {
        handler: Summary::of(&handler).context("no samples")?,
        raw: Summary::of(&raw).context("no samples")?,
        own_orders,
        matched,
    })
}

/// Request in, response out: what lambda_http's service does per event, without the
/// runtime's HTTP round trip.
async fn time_handler(dataset: &Dataset) -> anyhow::Result<Duration> {
    let request = search_request(dataset.user, &QUERY)?;
    let correlation_id = shared::CorrelationId::generate();
    let started = Instant::now();
    let result = order::search::handle(&dataset.deps(), request, correlation_id.clone()).await;
    let response = shared::http::respond(result, &correlation_id, "/bench");
    let elapsed = started.elapsed();
    if response.status() != 200 {
        bail!(
            "order-search answered {}: {:?}",
            response.status(),
            response.body()
        );
    }
    Ok(elapsed)
}

/// The Query calls the search makes: the user's partition, filtered on the folded name.
async fn time_raw(dataset: &Dataset) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut start_key: Option<HashMap<String, AttributeValue>> = None;
    let mut count = 0_u64;
    loop {
        let page = dataset
            .client
            .query()
            .table_name(&dataset.table)
            .key_condition_expression("userId = :user")
            .filter_expression("contains(nameKey, :fragment)")
            .expression_attribute_values(":user", AttributeValue::S(dataset.user.to_string()))
            .expression_attribute_values(":fragment", AttributeValue::S(fold_case(QUERY[0].1)))
            .set_exclusive_start_key(start_key.take())
            .send()
            .await
            .context("raw Query")?;
        count += u64::try_from(page.count()).unwrap_or(0);
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start_key = Some(key),
            _ => break,
        }
    }
    Ok((started.elapsed(), count))
}

/// Both sides must do the same work: the handler's total must be the raw match count.
async fn check_same_result(dataset: &Dataset, raw_count: u64) -> anyhow::Result<u64> {
    let request = search_request(dataset.user, &QUERY)?;
    let correlation_id = shared::CorrelationId::generate();
    let result = order::search::handle(&dataset.deps(), request, correlation_id.clone()).await;
    let response = shared::http::respond(result, &correlation_id, "/bench");
    let body: serde_json::Value = match response.body() {
        Body::Text(text) => serde_json::from_str(text)?,
        other => bail!("order-search answered a non-text body: {other:?}"),
    };
    let total = body
        .pointer("/pagination/totalRecords")
        .and_then(serde_json::Value::as_u64)
        .context("order-search's answer has no pagination.totalRecords")?;
    if total != raw_count {
        bail!(
            "order-search found {total} orders, the raw Query {raw_count}: they do not do the same work"
        );
    }
    Ok(total)
}
