//! Seeds the original's demo set (user 5a2fb4b2-…, 200 orders) through the order service's
//! own repository. Safe to run again: existing orders are left as they are, so a demo in
//! progress keeps its state.
//!
//! `seed-demo <userId>` seeds the same set for another user: the browser tests give each
//! test a fresh user, so they can run again and again against one stack.

use futures::{StreamExt, TryStreamExt, stream};
use order::{OrderConfig, OrderRepository, demo};
use shared::UserId;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let user = match std::env::args().nth(1) {
        Some(raw) => UserId::parse(&raw)?,
        None => UserId::parse(demo::DEMO_USER)?,
    };
    let repo =
        order::startup::order_deps(&shared::aws::sdk_config(), OrderConfig::from_env()?).repo;
    let now = shared::Clock::now(&shared::SystemClock);
    let created: Vec<bool> = stream::iter(demo::demo_orders(user, now))
        .map(|order| {
            let repo = &repo;
            async move { repo.insert_if_absent(&order).await }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let new = created.iter().filter(|c| **c).count();
    println!(
        "demo orders for user {user} in table {}: {new} created, {} already there",
        repo.table(),
        created.len() - new
    );
    Ok(())
}
