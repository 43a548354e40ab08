//! Every order of a run, reconciled across the tables: orders, payments, processes,
//! productions, invoices, the e-mail the emulator's SES sent, and the dead-letter queues.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use order::{
    DynamoDbOrderRepository, DynamoDbProcessRepository, Order, OrderRepository, ProcessRepository,
};
use serde_json::Value;
use shared::fulfilment::JobType;
use shared::{JobId, OrderId, PaymentId, ProcessId};

use crate::burst::{Checkout, accepted_by_the_ewallet};
use crate::env::StackEnv;

/// What the stack holds about one order, read strongly consistent.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    /// order-get's view of the order (status, paymentId...); None if it is not stored.
    pub order: Option<Value>,
    /// The process of the payment that decided the order last.
    pub process: Option<Value>,
    /// One per checkout attempt; None for an attempt whose payment was never stored.
    pub payments: Vec<Option<Value>>,
    /// The process of every decided payment (`read` only): each owes one e-mail.
    pub processes: Vec<Value>,
    /// Production and invoice records over those processes (`read` only).
    pub productions: usize,
    pub invoices: usize,
}

impl Holdings {
    pub fn status(&self) -> &str {
        self.order
            .as_ref()
            .and_then(|o| o["status"].as_str())
            .unwrap_or("missing")
    }

    fn process_status(&self) -> Option<&str> {
        self.process.as_ref().and_then(|p| p["status"].as_str())
    }

    fn jobs_completed(process: &Value, expected: &[JobType]) -> bool {
        let Some(jobs) = process["jobs"].as_array() else {
            return false;
        };
        jobs.len() == expected.len()
            && expected.iter().all(|t| {
                jobs.iter()
                    .any(|j| j["jobType"] == t.as_str() && j["status"] == "Completed")
            })
    }

    /// Successes the customer was charged for and never paid back.
    pub fn kept_successes(&self) -> usize {
        self.payments
            .iter()
            .flatten()
            .filter(|p| p["status"] == "Success" && p.get("refundedAt").is_none())
            .count()
    }

    /// When the order reached where it stays: its process's last update.
    pub fn final_at(&self) -> Option<DateTime<Utc>> {
        let at = self.process.as_ref()?["updatedAtUtc"].as_str()?;
        DateTime::parse_from_rfc3339(at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Whether an order has reached a state it will not leave, given what its user saw.
pub fn settled(held: &Holdings, taken: bool) -> bool {
    match (held.status(), held.process_status()) {
        ("PaymentSuccess" | "PaymentFailed", Some("Completed" | "Error")) => true,
        // Freed with no payment decided: nothing follows.
        ("PaymentFailed", None) => true,
        // Refused before it began: nothing of it can run any more (the gate's promise).
        ("Created", _) => !taken,
        _ => false,
    }
}

/// Where an order ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Paid once; its production, invoice and e-mail done.
    Paid,
    /// Declined by the e-wallet, or settled as failed: nothing charged.
    Failed,
    /// No checkout was taken; nothing began.
    Refused,
    /// Anything else, said in words.
    Wrong(String),
}

/// The judgement on one order (`held` as `Reader::read` reads it, `mails` sent to its
/// user): where it ended, or the first rule it broke.
pub fn judge(order: &Order, checkout_taken: bool, held: &Holdings, mails: usize) -> Outcome {
    let kept = held.kept_successes();
    let decided = held.processes.len();
    let wrong = |what: String| Outcome::Wrong(format!("{}: {what}", held.status()));
    if kept > 1 {
        return wrong(format!("{kept} successful payments kept"));
    }
    if mails != decided {
        return wrong(format!("{mails} e-mails for {decided} decided payments"));
    }
    if let Some(open) = held.processes.iter().find(|p| p["status"] != "Completed") {
        return wrong(format!("a process {}", open["status"]));
    }
    match held.status() {
        "PaymentSuccess" => {
            if !accepted_by_the_ewallet(order) {
                return wrong("paid, but the e-wallet declines its amount".into());
            }
            if kept != 1 {
                return wrong("no successful payment kept".into());
            }
            let done = held
                .process
                .as_ref()
                .is_some_and(|p| Holdings::jobs_completed(p, JobType::for_outcome(true)));
            if !done {
                return wrong(format!("process {:?}", held.process_status()));
            }
            if held.productions != 1 || held.invoices != 1 {
                return wrong(format!(
                    "{} productions, {} invoices",
                    held.productions, held.invoices
                ));
            }
            Outcome::Paid
        }
        "PaymentFailed" => {
            if kept != 0 {
                return wrong("charged".into());
            }
            if held.productions + held.invoices != 0 {
                return wrong("produced or invoiced".into());
            }
            Outcome::Failed
        }
        "Created" if !checkout_taken => {
            if held.payments.iter().any(Option::is_some) || decided != 0 {
                return wrong("refused, yet a payment exists".into());
            }
            Outcome::Refused
        }
        other => wrong(format!("not final ({other})")),
    }
}

pub struct Reader {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    http: reqwest::Client,
    orders: DynamoDbOrderRepository,
    processes: DynamoDbProcessRepository,
    payments_table: String,
    productions_table: String,
    invoices_table: String,
    endpoint: String,
    dead_letter_queues: Vec<(String, String)>,
}

impl Reader {
    pub async fn new(env: &StackEnv) -> anyhow::Result<Self> {
        let config = env.sdk_config().await?;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        Ok(Self {
            orders: DynamoDbOrderRepository::new(
                dynamodb.clone(),
                env.get("ORDERS_TABLE")?.to_owned(),
            ),
            processes: DynamoDbProcessRepository::new(
                dynamodb.clone(),
                env.get("PROCESSES_TABLE")?.to_owned(),
            ),
            payments_table: env.get("PAYMENTS_TABLE")?.into(),
            productions_table: env.get("PRODUCTIONS_TABLE")?.into(),
            invoices_table: env.get("INVOICES_TABLE")?.into(),
            endpoint: env.get("AWS_ENDPOINT_URL")?.trim_end_matches('/').into(),
            dead_letter_queues: env.dead_letter_queues(),
            sqs: aws_sdk_sqs::Client::new(&config),
            http: shared::client::http_builder()?
                .timeout(Duration::from_secs(30))
                .build()?,
            dynamodb,
        })
    }

    pub fn orders(&self) -> &DynamoDbOrderRepository {
        &self.orders
    }

    /// The order and its process (enough to tell whether it settled).
    pub async fn look(&self, order: &Order) -> anyhow::Result<Holdings> {
        let mut held = Holdings::default();
        let Some(stored) = self.orders.get(order.user_id, order.id).await? else {
            return Ok(held);
        };
        if let Some(process) = order::processes::process_of(&stored) {
            held.process = self
                .processes
                .get(process)
                .await?
                .map(|p| serde_json::to_value(p.to_dto()))
                .transpose()?;
        }
        held.order = Some(serde_json::to_value(stored.to_dto())?);
        let attempts = stored.checkout_attempt;
        held.payments = Vec::new();
        for attempt in 1..=attempts {
            let id = PaymentId::for_idempotency_key(&order.checkout_key(attempt));
            held.payments.push(
                self.item(&self.payments_table, "paymentId", id.to_string())
                    .await?,
            );
        }
        Ok(held)
    }

    /// Everything about the order: `look`, and the process of each payment, with its
    /// production and invoice records.
    pub async fn read(&self, order: &Order) -> anyhow::Result<Holdings> {
        let mut held = self.look(order).await?;
        for attempt in 1..=held.payments.len() {
            let attempt = u32::try_from(attempt)?;
            let payment = PaymentId::for_idempotency_key(&order.checkout_key(attempt));
            let process = ProcessId::for_payment(payment);
            let Some(stored) = self.processes.get(process).await? else {
                continue;
            };
            held.processes.push(serde_json::to_value(stored.to_dto())?);
            let record = |t| JobId::of(process, t).to_string();
            let production = self
                .item(
                    &self.productions_table,
                    "recordId",
                    record(JobType::Production),
                )
                .await?;
            let invoice = self
                .item(&self.invoices_table, "recordId", record(JobType::Invoice))
                .await?;
            held.productions += usize::from(production.is_some());
            held.invoices += usize::from(invoice.is_some());
        }
        Ok(held)
    }

    async fn item(&self, table: &str, key: &str, value: String) -> anyhow::Result<Option<Value>> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(table)
            .key(key, AttributeValue::S(value))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output
            .item
            .map(serde_dynamo::from_item::<_, Value>)
            .transpose()?)
    }

    /// The text of every mail the emulator's SES sent (its subject and body: each names
    /// its order's id).
    pub async fn mails(&self) -> anyhow::Result<Vec<String>> {
        let body: Value = self
            .http
            .get(format!("{}/_ministack/ses/messages", self.endpoint))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let messages = body["messages"]
            .as_object()
            .into_iter()
            .flat_map(|a| a.values());
        Ok(messages
            .filter_map(Value::as_array)
            .flatten()
            .map(|m| {
                format!(
                    "{}\n{}",
                    m["Subject"].as_str().unwrap_or_default(),
                    m["BodyText"].as_str().unwrap_or_default()
                )
            })
            .collect())
    }

    /// Per dead-letter queue, its messages that name any of `ids` (left visible).
    pub async fn dead_letters_naming(
        &self,
        ids: &HashSet<String>,
    ) -> anyhow::Result<BTreeMap<String, usize>> {
        let mut found = BTreeMap::new();
        for (name, url) in &self.dead_letter_queues {
            let mut seen = HashSet::new();
            let mut naming = 0;
            // Received with no visibility timeout, so they stay where they are; a round that
            // shows nothing new ends the look.
            for _ in 0..50 {
                let page = self
                    .sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .visibility_timeout(0)
                    .send()
                    .await?;
                let mut new = 0;
                for message in page.messages.unwrap_or_default() {
                    let id = message.message_id.clone().unwrap_or_default();
                    if !seen.insert(id) {
                        continue;
                    }
                    new += 1;
                    let body = message.body.unwrap_or_default();
                    if ids.iter().any(|id| body.contains(id.as_str())) {
                        naming += 1;
                    }
                }
                if new == 0 {
                    break;
                }
            }
            found.insert(name.clone(), naming);
        }
        Ok(found)
    }

    /// Polls until every order settled or `limit` passes; the orders still open.
    pub async fn settle(&self, checkouts: &[Checkout], limit: Duration) -> Vec<OrderId> {
        let started = Instant::now();
        let mut open: Vec<&Checkout> = checkouts.iter().collect();
        while !open.is_empty() && started.elapsed() < limit {
            let looked: Vec<(OrderId, bool)> = stream::iter(open.iter().copied())
                .map(|c| async move {
                    let done = match self.look(&c.order).await {
                        Ok(held) => settled(&held, c.taken()),
                        Err(_) => false,
                    };
                    (c.order.id, done)
                })
                .buffer_unordered(8)
                .collect()
                .await;
            let done: HashSet<OrderId> = looked
                .into_iter()
                .filter(|(_, d)| *d)
                .map(|(id, _)| id)
                .collect();
            open.retain(|c| !done.contains(&c.order.id));
            if !open.is_empty() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        open.iter().map(|c| c.order.id).collect()
    }
}

/// The run's books.
#[derive(Debug, Clone, Default)]
pub struct Accounting {
    pub orders: usize,
    pub outcomes: BTreeMap<String, usize>,
    /// The first orders that broke a rule, with the rule.
    pub wrong: Vec<String>,
    pub double_payments: usize,
    pub paid: usize,
    pub productions: usize,
    pub invoices: usize,
    pub decided: usize,
    pub mails: usize,
    pub mailed_twice: usize,
    pub dead_letters: BTreeMap<String, usize>,
    pub ghosts: u64,
    pub final_times: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Accounting {
    /// Every rule held for every order.
    pub fn balanced(&self) -> bool {
        self.wrong.is_empty()
            && self.double_payments == 0
            && self.productions == self.paid
            && self.invoices == self.paid
            && self.mails == self.decided
            && self.mailed_twice == 0
            && self.dead_letters.values().all(|&n| n == 0)
            && self.ghosts == 0
            && self.outcomes.values().sum::<usize>() == self.orders
    }

    /// The accounted orders, one line per check.
    pub fn lines(&self) -> Vec<String> {
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let dlq: usize = self.dead_letters.values().sum();
        let mut lines = vec![
            format!(
                "orders accounted for: {} of {} ({})",
                self.outcomes
                    .iter()
                    .filter(|(k, _)| !k.starts_with("wrong"))
                    .map(|(_, n)| n)
                    .sum::<usize>(),
                self.orders,
                outcomes.join(", ")
            ),
            format!(
                "orders with more than one successful payment kept: {}",
                self.double_payments
            ),
            format!(
                "productions {} = invoices {} = paid orders {}",
                self.productions, self.invoices, self.paid
            ),
            format!(
                "e-mails {} = decided payments {}; orders e-mailed more than once a payment: {}",
                self.mails, self.decided, self.mailed_twice
            ),
            format!("dead-letter messages of this run: {dlq}"),
            format!(
                "ghost invocations (started after their caller was answered): {}",
                self.ghosts
            ),
        ];
        for wrong in self.wrong.iter().take(10) {
            lines.push(format!("  wrong: {wrong}"));
        }
        lines
    }
}

/// Reads every order of the run and draws up its books.
pub async fn account(
    reader: &Reader,
    checkouts: &[Checkout],
    ghosts: u64,
) -> anyhow::Result<Accounting> {
    let mails = reader.mails().await?;
    let read: Vec<anyhow::Result<(usize, Holdings)>> = stream::iter(checkouts.iter().enumerate())
        .map(|(i, c)| async move { Ok((i, reader.read(&c.order).await?)) })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut books = Accounting {
        orders: checkouts.len(),
        ghosts,
        ..Accounting::default()
    };
    let mut ids = HashSet::new();
    for entry in read {
        let (i, held) = entry?;
        let checkout = &checkouts[i];
        let order = &checkout.order;
        let id = order.id.to_string();
        let mailed = mails.iter().filter(|m| m.contains(&id)).count();
        ids.insert(order.id.to_string());
        for payment in held.payments.iter().flatten() {
            for field in ["paymentId", "externalId"] {
                if let Some(id) = payment[field].as_str() {
                    ids.insert(id.to_owned());
                }
            }
        }
        books.double_payments += usize::from(held.kept_successes() > 1);
        books.productions += held.productions;
        books.invoices += held.invoices;
        books.decided += held.processes.len();
        books.mails += mailed;
        books.mailed_twice += usize::from(mailed > held.processes.len());
        let outcome = judge(order, checkout.taken(), &held, mailed);
        if outcome == Outcome::Paid {
            books.paid += 1;
        }
        if let (Outcome::Paid | Outcome::Failed, Some(done)) = (&outcome, held.final_at()) {
            books.final_times.push((checkout.sent_at, done));
        }
        let key = match &outcome {
            Outcome::Paid => "paid".to_owned(),
            Outcome::Failed => "failed, nothing charged".to_owned(),
            Outcome::Refused => "refused before paying".to_owned(),
            Outcome::Wrong(_) => "wrong".to_owned(),
        };
        *books.outcomes.entry(key).or_default() += 1;
        if let Outcome::Wrong(what) = outcome {
            books.wrong.push(format!("order {}: {what}", order.id));
        }
    }
    books.dead_letters = reader.dead_letters_naming(&ids).await?;
    Ok(books)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(cents: i64) -> Order {
        let detail = order::OrderDetail {
            product_id: "p".into(),
            product_name: "P".into(),
            unit_price: shared::Money::from_cents(cents, shared::Currency::USD),
            quantity: 1,
        };
        Order::create(
            OrderId::new_random(),
            shared::UserId::new_random(),
            "o",
            vec![detail],
            Utc::now(),
        )
        .unwrap()
    }

    fn process(jobs: &[&str]) -> Value {
        let jobs: Vec<Value> = jobs
            .iter()
            .map(|t| json!({"jobType": t, "status": "Completed"}))
            .collect();
        json!({"status": "Completed", "updatedAtUtc": "2026-01-01T00:00:01Z", "jobs": jobs})
    }

    fn paid() -> Holdings {
        let done = process(&["Production", "Invoice", "Notification"]);
        Holdings {
            order: Some(json!({"status": "PaymentSuccess"})),
            process: Some(done.clone()),
            payments: vec![Some(json!({"status": "Success"}))],
            processes: vec![done],
            productions: 1,
            invoices: 1,
        }
    }

    #[test]
    fn a_paid_order_with_its_jobs_records_and_one_email_is_paid() {
        assert_eq!(judge(&order(10099), true, &paid(), 1), Outcome::Paid);
        assert!(settled(&paid(), true));
    }

    #[test]
    fn two_kept_successes_or_two_emails_or_a_missing_record_are_wrong() {
        let mut twice = paid();
        twice.payments.push(Some(json!({"status": "Success"})));
        assert!(
            matches!(judge(&order(10099), true, &twice, 1), Outcome::Wrong(w) if w.contains("2 successful"))
        );
        let mut refunded = twice.clone();
        refunded.payments[1] =
            Some(json!({"status": "Success", "refundedAt": "2026-01-01T00:00:00Z"}));
        assert_eq!(
            judge(&order(10099), true, &refunded, 1),
            Outcome::Paid,
            "a refunded duplicate is not kept"
        );
        assert!(matches!(
            judge(&order(10099), true, &paid(), 2),
            Outcome::Wrong(_)
        ));
        assert!(matches!(
            judge(&order(10099), true, &paid(), 0),
            Outcome::Wrong(_)
        ));
        let no_invoice = Holdings {
            invoices: 0,
            ..paid()
        };
        assert!(matches!(
            judge(&order(10099), true, &no_invoice, 1),
            Outcome::Wrong(_)
        ));
        assert!(
            matches!(judge(&order(5011), true, &paid(), 1), Outcome::Wrong(w) if w.contains("declines"))
        );
    }

    #[test]
    fn a_declined_order_has_only_its_email_and_a_refused_one_nothing() {
        let declined = Holdings {
            order: Some(json!({"status": "PaymentFailed"})),
            process: Some(process(&["Notification"])),
            payments: vec![Some(json!({"status": "Failed"}))],
            processes: vec![process(&["Notification"])],
            ..Holdings::default()
        };
        assert_eq!(judge(&order(5011), true, &declined, 1), Outcome::Failed);
        assert!(matches!(
            judge(&order(5011), true, &declined, 0),
            Outcome::Wrong(_)
        ));
        // A failed attempt and then a paid one: two decided payments, two e-mails.
        let mut failed_then_paid = paid();
        failed_then_paid
            .payments
            .insert(0, Some(json!({"status": "Failed"})));
        failed_then_paid
            .processes
            .insert(0, process(&["Notification"]));
        assert_eq!(
            judge(&order(10099), true, &failed_then_paid, 2),
            Outcome::Paid
        );
        assert!(matches!(
            judge(&order(10099), true, &failed_then_paid, 3),
            Outcome::Wrong(_)
        ));
        let refused = Holdings {
            order: Some(json!({"status": "Created"})),
            ..Holdings::default()
        };
        assert_eq!(judge(&order(10099), false, &refused, 0), Outcome::Refused);
        assert!(settled(&refused, false));
        assert!(!settled(&refused, true), "a taken checkout must go on");
        let ran_anyway = Holdings {
            payments: vec![Some(json!({"status": "Requested"}))],
            ..refused
        };
        assert!(matches!(
            judge(&order(10099), false, &ran_anyway, 0),
            Outcome::Wrong(_)
        ));
    }

    #[test]
    fn a_pending_order_is_neither_settled_nor_accounted_for() {
        let pending = Holdings {
            order: Some(json!({"status": "PaymentPending"})),
            payments: vec![Some(json!({"status": "Requested"}))],
            ..Holdings::default()
        };
        assert!(!settled(&pending, true));
        assert!(
            matches!(judge(&order(10099), true, &pending, 0), Outcome::Wrong(w) if w.contains("not final"))
        );
    }
}
