//! The bench's own orders tables, with the OrdersTable's key schema: a user with the demo
//! set of 200 orders (later surrounded by 100,000 orders of other users), and one table
//! per user size whose search latency is measured. Created for the run, deleted after it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, WriteRequest,
};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use order::{DynamoDbOrderRepository, DynamoDbProcessRepository, OrderRepository, demo};
use shared::UserId;

use crate::stack::TableSchema;

/// Items per BatchWriteItem (the API's limit).
const BATCH: usize = 25;

/// A table of its own holding one user's orders (and later, maybe, other users').
pub struct Dataset {
    pub client: Client,
    pub table: String,
    pub repo: DynamoDbOrderRepository,
    pub user: UserId,
    pub own_orders: usize,
    pub other_orders: usize,
    pub load_time: Duration,
}

impl Dataset {
    /// The search handler's dependencies, over this data set's table.
    pub fn deps(&self) -> order::OrderDeps<&DynamoDbOrderRepository, DynamoDbProcessRepository> {
        order::OrderDeps {
            repo: &self.repo,
            // The data set's orders are never paid, so search reads no process: the table
            // is never touched.
            processes: DynamoDbProcessRepository::new(self.client.clone(), "bench-no-processes"),
            clock: shared::SystemClock,
        }
    }

    /// Creates a table (named `bench-orders-<random>`) with one new user's `own_orders`
    /// demo orders, written through the repository so they are exactly what the
    /// functions store.
    pub async fn create(
        client: &Client,
        schema: &TableSchema,
        own_orders: usize,
    ) -> anyhow::Result<Self> {
        let table = format!(
            "bench-orders-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        create_table(client, &table, schema).await?;
        let repo = DynamoDbOrderRepository::new(client.clone(), table.clone());
        let dataset = Self {
            client: client.clone(),
            table,
            repo,
            user: UserId::new_random(),
            own_orders,
            other_orders: 0,
            load_time: Duration::ZERO,
        };
        let started = Instant::now();
        let filled = dataset.insert_demo_orders(dataset.user, own_orders).await;
        if let Err(e) = filled {
            let _ = dataset.delete().await;
            return Err(e);
        }
        Ok(Self {
            load_time: started.elapsed(),
            ..dataset
        })
    }

    /// Adds `users` × `per_user` orders of other users. They are never read (a search
    /// touches only its own partition), so they are a stored order's name under other
    /// keys, written in batches.
    pub async fn add_other_users(&mut self, users: usize, per_user: usize) -> anyhow::Result<()> {
        let started = Instant::now();
        self.insert_other_orders(users, per_user).await?;
        self.other_orders += users * per_user;
        self.load_time += started.elapsed();
        Ok(())
    }

    async fn insert_demo_orders(&self, user: UserId, count: usize) -> anyhow::Result<()> {
        let now = Utc::now();
        stream::iter(1..=count)
            .map(|n| {
                let repo = &self.repo;
                async move { repo.insert_if_absent(&demo::demo_order(user, n, now)).await }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<bool>>()
            .await
            .with_context(|| format!("storing {count} orders of {user} in {}", self.table))?;
        Ok(())
    }

    async fn insert_other_orders(&self, users: usize, per_user: usize) -> anyhow::Result<()> {
        let sample = demo::demo_order(self.user, 1, Utc::now());
        let stored = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("userId", AttributeValue::S(sample.user_id.to_string()))
            .key("orderId", AttributeValue::S(sample.id.to_string()))
            .send()
            .await
            .context("reading a stored order back")?
            .item
            .context("the stored order is not there")?;
        // Only the keys and the name: a search must not read these items whatever they
        // hold, and the emulator writes small items several times faster.
        let stored: HashMap<String, AttributeValue> = stored
            .into_iter()
            .filter(|(name, _)| matches!(name.as_str(), "name" | "nameKey"))
            .collect();
        let user_ids: Vec<String> = (0..users)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        let total = users * per_user;
        // Batches are built as they are sent, so 100,000 items never sit in memory at once.
        stream::iter((0..total).step_by(BATCH))
            .map(|first| {
                let batch = (first..(first + BATCH).min(total))
                    .map(|i| {
                        let mut item = stored.clone();
                        item.insert(
                            "userId".into(),
                            AttributeValue::S(user_ids[i / per_user].clone()),
                        );
                        item.insert(
                            "orderId".into(),
                            AttributeValue::S(uuid::Uuid::new_v4().to_string()),
                        );
                        item
                    })
                    .collect();
                self.batch_write(batch)
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn batch_write(&self, items: Vec<HashMap<String, AttributeValue>>) -> anyhow::Result<()> {
        let mut requests = items
            .into_iter()
            .map(|item| {
                Ok(WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                    .build())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for _ in 0..10 {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .context("BatchWriteItem")?;
            requests = output
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("BatchWriteItem kept items unprocessed")
    }

    pub async fn delete(&self) -> anyhow::Result<()> {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .with_context(|| format!("deleting {}", self.table))?;
        Ok(())
    }
}

async fn create_table(client: &Client, table: &str, schema: &TableSchema) -> anyhow::Result<()> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    let keys: BTreeMap<_, _> = schema.key_schema.iter().cloned().collect();
    for (name, kind) in &schema.key_schema {
        request = request.key_schema(
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()?,
        );
    }
    // Only key attributes: a table without its indexes is enough to read one partition.
    for (name, kind) in schema
        .attributes
        .iter()
        .filter(|(n, _)| keys.contains_key(n))
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    request
        .send()
        .await
        .with_context(|| format!("creating the bench table {table}"))?;
    Ok(())
}
