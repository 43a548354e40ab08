//! The simulated world's core: virtual time, the seeded random stream, the fault plan
//! and the trace. Everything in one seed's run draws from here, in one order, so a seed
//! replays exactly.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How often each fault class strikes in the chaos phase (0 = off). Swarm testing: each
/// class is on in about half the seeds, at a rate drawn per seed, so some seeds hammer one
/// fault and others mix several.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// API Gateway answers 503 without invoking the function.
    pub gateway_unavailable: f64,
    /// The function ran, but its answer never reached the caller.
    pub answer_lost: f64,
    /// The request never left the caller (connection refused).
    pub connect_refused: f64,
    /// A slow hop: up to 4 s more on a call.
    pub slow_call: f64,
    /// The invocation is killed at a random instant (crash, out of memory).
    pub crash: f64,
    /// A store call fails before it is applied.
    pub store_unavailable: f64,
    /// A write is applied, its answer is lost, and the SDK retries it: the caller sees
    /// the retry's answer.
    pub store_write_retried: f64,
    /// A write is applied, its answer is lost, and the caller gets an error.
    pub store_write_lost: f64,
    /// Scheduler fires a webhook up to 2 minutes late.
    pub schedule_late: f64,
    /// Scheduler fires a webhook twice.
    pub schedule_twice: f64,
    /// Creating a schedule fails.
    pub schedule_create_fails: f64,
    /// The e-wallet refuses (422) every payment request of some orders, for good: a
    /// decision of the provider, which the heal does not undo.
    pub ewallet_refuses: f64,
    // The fulfilment half's classes, drawn from that half's own stream.
    /// An SNS publish fails (after the SDK's own retries).
    pub publish_fails: f64,
    /// SNS is down for a window of the chaos phase: (from, length).
    pub sns_outage: Option<(Duration, Duration)>,
    /// SNS delivers a message to a queue twice.
    pub sns_duplicate: f64,
    /// SQS delivers a message again after it was deleted (at-least-once).
    pub sqs_duplicate: f64,
    /// SES SendEmail fails.
    pub ses_fails: f64,
    /// A global secondary index shows a write late (50 ms to 3 s): a query by it sees the
    /// item as it was. Drawn, like `throttled`, from a stream of their own.
    pub index_lag: f64,
    /// API Gateway throttles a call: 429 without invoking the function.
    pub throttled: f64,
    /// A DynamoDB call is slow (100 ms to 1 s instead of 2 to 12 ms): a hot partition, or
    /// the SDK's own retries of a throttled call. From the stores' stream.
    pub store_slow: f64,
}

impl FaultPlan {
    pub fn draw(rng: &mut StdRng) -> Self {
        let mut class = || {
            if rng.random_bool(0.5) {
                rng.random_range(0.01..0.25)
            } else {
                0.0
            }
        };
        Self {
            gateway_unavailable: class(),
            answer_lost: class(),
            connect_refused: class(),
            slow_call: class(),
            crash: class(),
            store_unavailable: class(),
            store_write_retried: class(),
            store_write_lost: class(),
            schedule_late: class(),
            schedule_twice: class(),
            schedule_create_fails: class(),
            // Drawn by `World::new` from the provider's own stream.
            ewallet_refuses: 0.0,
            ..Self::default()
        }
    }

    /// The fulfilment half's classes, from that half's stream (so adding them kept the
    /// payment half's draws, and its regression seeds, as they were).
    fn draw_fulfilment(&mut self, rng: &mut StdRng) {
        let mut class = || {
            if rng.random_bool(0.5) {
                rng.random_range(0.01..0.25)
            } else {
                0.0
            }
        };
        self.publish_fails = class();
        self.sns_duplicate = class();
        self.sqs_duplicate = class();
        self.ses_fails = class();
        if rng.random_bool(0.3) {
            let from = Duration::from_secs(rng.random_range(0..60));
            let length = Duration::from_secs(rng.random_range(10..=90));
            self.sns_outage = Some((from, length));
        }
    }

    /// Each rate-valued class by name.
    fn rates(&self) -> [(&'static str, f64); 19] {
        [
            ("gateway_unavailable", self.gateway_unavailable),
            ("answer_lost", self.answer_lost),
            ("connect_refused", self.connect_refused),
            ("slow_call", self.slow_call),
            ("crash", self.crash),
            ("store_unavailable", self.store_unavailable),
            ("store_write_retried", self.store_write_retried),
            ("store_write_lost", self.store_write_lost),
            ("schedule_late", self.schedule_late),
            ("schedule_twice", self.schedule_twice),
            ("schedule_create_fails", self.schedule_create_fails),
            ("ewallet_refuses", self.ewallet_refuses),
            ("publish_fails", self.publish_fails),
            ("sns_duplicate", self.sns_duplicate),
            ("sqs_duplicate", self.sqs_duplicate),
            ("ses_fails", self.ses_fails),
            ("index_lag", self.index_lag),
            ("throttled", self.throttled),
            ("store_slow", self.store_slow),
        ]
    }

    /// The classes switched on in this plan.
    pub fn on(&self) -> Vec<&'static str> {
        let mut on: Vec<&'static str> = self
            .rates()
            .iter()
            .filter(|(_, rate)| *rate > 0.0)
            .map(|(name, _)| *name)
            .collect();
        if self.sns_outage.is_some() {
            on.push("sns_outage");
        }
        on
    }

    /// Switches one class off (a shrinking step).
    pub fn switch_off(&mut self, class: &str) {
        let slot = match class {
            "gateway_unavailable" => &mut self.gateway_unavailable,
            "answer_lost" => &mut self.answer_lost,
            "connect_refused" => &mut self.connect_refused,
            "slow_call" => &mut self.slow_call,
            "crash" => &mut self.crash,
            "store_unavailable" => &mut self.store_unavailable,
            "store_write_retried" => &mut self.store_write_retried,
            "store_write_lost" => &mut self.store_write_lost,
            "schedule_late" => &mut self.schedule_late,
            "schedule_twice" => &mut self.schedule_twice,
            "schedule_create_fails" => &mut self.schedule_create_fails,
            "ewallet_refuses" => &mut self.ewallet_refuses,
            "publish_fails" => &mut self.publish_fails,
            "sns_duplicate" => &mut self.sns_duplicate,
            "sqs_duplicate" => &mut self.sqs_duplicate,
            "ses_fails" => &mut self.ses_fails,
            "index_lag" => &mut self.index_lag,
            "throttled" => &mut self.throttled,
            "store_slow" => &mut self.store_slow,
            "sns_outage" => {
                self.sns_outage = None;
                return;
            }
            _ => return,
        };
        *slot = 0.0;
    }

    pub fn describe(&self) -> String {
        let on: Vec<String> = self
            .rates()
            .iter()
            .filter(|(_, rate)| *rate > 0.0)
            .map(|(name, rate)| format!("{name}={rate:.2}"))
            .chain(self.sns_outage.map(|(from, length)| {
                format!("sns_outage={}s+{}s", from.as_secs(), length.as_secs())
            }))
            .collect();
        if on.is_empty() {
            "none".into()
        } else {
            on.join(" ")
        }
    }
}

/// Which half of the flow draws: each has its own stream, so modelling more of one half
/// keeps the other's draws, and its regression seeds, as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Payment,
    Fulfilment,
}

/// One seed's world: its clock, its randomness, its faults and what happened.
#[derive(Debug)]
pub struct World {
    pub seed: u64,
    rng: Mutex<StdRng>,
    faults: Mutex<FaultPlan>,
    /// Orders whose payment requests the e-wallet refuses (see `ewallet_refuses`).
    refused: Mutex<std::collections::BTreeSet<String>>,
    /// How far each instance's clock may be off (ms; 0 = in step), and its own stream.
    max_skew_ms: i64,
    skews: Mutex<StdRng>,
    /// The e-wallet's decisions, a stream of their own: the other draws of a seed stay
    /// what they were before refusals were modelled.
    provider: Mutex<StdRng>,
    /// The fulfilment half's draws (stream, SNS, SQS, listeners, mocks, SES).
    fulfilment: Mutex<StdRng>,
    /// Invocations running now, and those stopped before they returned (a crash or a
    /// timeout): whether a second e-mail is a defect depends on what became of the first.
    /// (Each running one with its function and how it ends unless it returns first.)
    running: Mutex<std::collections::HashMap<tokio::task::Id, Invocation>>,
    killed: Mutex<std::collections::HashSet<tokio::task::Id>>,
    /// Events Lambda gave up on and sent to their OnFailure destination (an alarm fires).
    dead_letters: Mutex<std::collections::BTreeSet<String>>,
    gave_up: Mutex<std::collections::BTreeMap<&'static str, u32>>,
    /// Index entries that lag: until when a query by the index still sees the old entry,
    /// and that entry's sort key (ms), if the item was in the index before.
    lagging: Mutex<std::collections::BTreeMap<String, (tokio::time::Instant, Option<i64>)>>,
    /// DynamoDB's latencies, a stream of their own.
    stores: Mutex<StdRng>,
    /// The draws of the classes modelled last (index lag, throttling), a stream of their
    /// own: the older classes' draws stay what they were.
    later: Mutex<StdRng>,
    /// Secrets Manager's webhook secret, as an operator has last put it.
    secret: Mutex<shared::signature::WebhookSecrets>,
    /// In half the seeds an operator rotates the webhook secret (see `Rotation`).
    pub rotation: Option<Rotation>,
    /// The e-wallet answers by webhook after 0 to 10 s (as `make stress` and the
    /// end-to-end tests run it) instead of 3 to 10 s, in a quarter of the seeds.
    pub fast_ewallet: bool,
    /// The e-wallet answers 15 s either side of the payment deadline, in an eighth of the
    /// seeds: its webhook races the reconciler's cancel.
    pub racing_ewallet: bool,
    /// Woken after every applied write (the processes table's stream listens).
    pub writes: tokio::sync::Notify,
    trace: Mutex<Vec<String>>,
    violations: Mutex<Vec<String>>,
    start: tokio::time::Instant,
    epoch: DateTime<Utc>,
    /// How long the chaos phase lasts: 2 minutes, or in a third of the seeds (drawn from a
    /// stream of its own) up to 7, so faults also meet the reconciler at the deadlines.
    chaos: Duration,
    /// Print each trace line as it happens (a replay).
    pub verbose: bool,
}

impl World {
    pub fn new(seed: u64, verbose: bool) -> Arc<Self> {
        Self::without(seed, verbose, &[])
    }

    /// The seed's world with some fault classes switched off after the draw (shrinking).
    pub fn without(seed: u64, verbose: bool, off: &[&str]) -> Arc<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut faults = FaultPlan::draw(&mut rng);
        let mut provider = StdRng::seed_from_u64(seed ^ 0x5EED_E0A1_1E70_0001);
        if provider.random_bool(0.5) {
            faults.ewallet_refuses = provider.random_range(0.01..0.25);
        }
        let mut fulfilment = StdRng::seed_from_u64(seed ^ 0x5EED_F011_F111_0003);
        faults.draw_fulfilment(&mut fulfilment);
        let mut later = StdRng::seed_from_u64(seed ^ 0x5EED_1DE8_1A60_0005);
        if later.random_bool(0.5) {
            faults.index_lag = later.random_range(0.05..0.5);
        }
        let mut fast_ewallet = later.random_bool(0.25);
        if later.random_bool(0.5) {
            faults.throttled = later.random_range(0.01..0.25);
        }
        let mut rotations = StdRng::seed_from_u64(seed ^ 0x5EED_5EC8_E700_0006);
        let mut rotation = rotations.random_bool(0.5).then(|| Rotation {
            at: Duration::from_secs(rotations.random_range(10..=90)),
            dispatcher_recycles: rotations
                .random_bool(0.7)
                .then(|| Duration::from_secs(rotations.random_range(0..=60))),
            previous_dropped: Duration::from_secs(rotations.random_range(30..=120)),
        });
        // Drawn after the rotation, from its stream, so the rotations stay as they were.
        let mut racing_ewallet = rotations.random_bool(0.125);
        let mut stores = StdRng::seed_from_u64(seed ^ 0x5EED_D1A0_0B00_0007);
        if stores.random_bool(0.5) {
            faults.store_slow = stores.random_range(0.01..0.1);
        }
        for class in off {
            faults.switch_off(class);
        }
        if off.contains(&"rotation") {
            rotation = None;
        }
        if off.contains(&"racing_ewallet") {
            racing_ewallet = false;
        }
        let epoch = Utc
            .with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let mut phases = StdRng::seed_from_u64(seed ^ 0x5EED_C4A0_5000_0004);
        let chaos = if phases.random_bool(1.0 / 3.0) {
            Duration::from_secs(phases.random_range(150..=420))
        } else {
            Duration::from_secs(120)
        };
        let mut skews = StdRng::seed_from_u64(seed ^ 0x5EED_C10C_0000_0002);
        let mut max_skew_ms = if skews.random_bool(0.5) {
            skews.random_range(1..=1_000)
        } else {
            0
        };
        if off.contains(&"fast_ewallet") {
            fast_ewallet = false;
        }
        let mut chaos = chaos;
        if off.contains(&"clock_skew") {
            max_skew_ms = 0;
        }
        if off.contains(&"long_chaos") {
            chaos = Duration::from_secs(120);
        }
        Arc::new(Self {
            seed,
            max_skew_ms,
            skews: Mutex::new(skews),
            rng: Mutex::new(rng),
            faults: Mutex::new(faults),
            refused: Mutex::new(std::collections::BTreeSet::new()),
            provider: Mutex::new(provider),
            fulfilment: Mutex::new(fulfilment),
            running: Mutex::default(),
            killed: Mutex::default(),
            writes: tokio::sync::Notify::new(),
            dead_letters: Mutex::default(),
            gave_up: Mutex::default(),
            lagging: Mutex::default(),
            later: Mutex::new(later),
            stores: Mutex::new(stores),
            fast_ewallet,
            racing_ewallet,
            secret: Mutex::new(shared::signature::WebhookSecrets::single(secret(
                FIRST_SECRET,
            ))),
            rotation,
            trace: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            start: tokio::time::Instant::now(),
            epoch,
            chaos,
            verbose,
        })
    }

    /// The classes on in this seed, the clock skew and a long chaos phase included.
    pub fn classes(&self) -> Vec<&'static str> {
        let mut classes = self.faults().on();
        if self.max_skew_ms > 0 {
            classes.push("clock_skew");
        }
        if self.chaos > Duration::from_secs(120) {
            classes.push("long_chaos");
        }
        if self.fast_ewallet {
            classes.push("fast_ewallet");
        }
        if self.rotation.is_some() {
            classes.push("rotation");
        }
        if self.racing_ewallet {
            classes.push("racing_ewallet");
        }
        classes
    }

    /// When the faults stop.
    pub fn chaos(&self) -> Duration {
        self.chaos
    }

    /// Virtual time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The wall clock every instance reads: the epoch plus virtual time.
    pub fn now(&self) -> DateTime<Utc> {
        self.epoch + chrono::Duration::from_std(self.elapsed()).unwrap_or_default()
    }

    /// A new instance's clock offset, up to `max_skew_ms` either way.
    pub fn skew(&self) -> chrono::Duration {
        if self.max_skew_ms == 0 {
            return chrono::Duration::zero();
        }
        let ms = lock(&self.skews).random_range(-self.max_skew_ms..=self.max_skew_ms);
        chrono::Duration::milliseconds(ms)
    }

    pub fn max_skew_ms(&self) -> i64 {
        self.max_skew_ms
    }

    pub fn faults(&self) -> FaultPlan {
        lock(&self.faults).clone()
    }

    /// Every fault off: the heal phase. The e-wallet's refusals stay: they are its decisions.
    pub fn heal(&self) {
        *lock(&self.faults) = FaultPlan::default();
        self.log("heal: every fault off".into());
    }

    /// Marks an order's payments as refused by the e-wallet, with the seed's refusal rate.
    pub fn maybe_refuse(&self, order: String) {
        let rate = (self.faults().ewallet_refuses * 2.0).min(1.0);
        if rate > 0.0 && lock(&self.provider).random_bool(rate) {
            self.log(format!(
                "fault ewallet: refuses every payment of order {order}"
            ));
            lock(&self.refused).insert(order);
        }
    }

    pub fn refuses(&self, body: &str) -> bool {
        lock(&self.refused)
            .iter()
            .any(|order| body.contains(order.as_str()))
    }

    fn stream(&self, half: Half) -> MutexGuard<'_, StdRng> {
        match half {
            Half::Payment => lock(&self.rng),
            Half::Fulfilment => lock(&self.fulfilment),
        }
    }

    /// True with probability `rate`, from the seed's stream.
    pub fn chance(&self, rate: f64) -> bool {
        self.chance_in(Half::Payment, rate)
    }

    /// True with probability `rate`, from `half`'s stream.
    pub fn chance_in(&self, half: Half, rate: f64) -> bool {
        rate > 0.0 && self.stream(half).random_bool(rate.min(1.0))
    }

    /// A value in `range`, from the seed's stream.
    pub fn between(&self, low: u64, high: u64) -> u64 {
        self.between_in(Half::Payment, low, high)
    }

    /// A value in `range`, from `half`'s stream.
    pub fn between_in(&self, half: Half, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        self.stream(half).random_range(low..=high)
    }

    /// A fresh seed for a sub-stream (a client's jitter).
    pub fn fork(&self) -> u64 {
        self.fork_in(Half::Payment)
    }

    pub fn fork_in(&self, half: Half) -> u64 {
        self.stream(half).random()
    }

    /// A call's latency: `low ..= high` ms, or 0.5 to 4 s when it is a slow one.
    pub async fn latency(&self, half: Half, low: u64, high: u64) {
        let ms = if self.chance_in(half, self.faults().slow_call) {
            self.between_in(half, 500, 4_000)
        } else {
            self.between_in(half, low, high)
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// One DynamoDB call's time, as (before it applies, after it applies until the caller
    /// has the answer).
    pub fn store_latency(&self) -> (Duration, Duration) {
        let slow = self.faults().store_slow;
        let mut stores = lock(&self.stores);
        let ms = if slow > 0.0 && stores.random_bool(slow) {
            stores.random_range(100..=1_000)
        } else {
            stores.random_range(2..=12)
        };
        let before = stores.random_range(0..=ms);
        (
            Duration::from_millis(before),
            Duration::from_millis(ms - before),
        )
    }

    /// Is SNS in its outage window now?
    pub fn sns_down(&self) -> bool {
        self.faults()
            .sns_outage
            .is_some_and(|(from, length)| (from..from + length).contains(&self.elapsed()))
    }

    /// A caller's attempt ended while `function` still ran for it. Counted; with no slow
    /// hop nor slow DynamoDB call in the seed, a callee that outlives its caller's wait did
    /// not keep to the deadline it was given: the budgets do not nest, a violation.
    pub fn gave_up_on(&self, function: &'static str) {
        self.log(format!("a caller gave up on {function} while it still ran"));
        let faults = self.faults();
        if faults.slow_call <= 0.0 && faults.store_slow <= 0.0 {
            self.violation(format!(
                "a caller gave up on {function} while it still ran, with no slow call in the seed: the budgets do not nest"
            ));
        }
        *lock(&self.gave_up).entry(function).or_default() += 1;
    }

    /// An index entry (`key`) changed; with the seed's `index_lag`, queries by the index
    /// keep seeing the entry as it was (`before`: its sort key, or absent) for a while.
    pub fn index_changed(&self, key: String, before: Option<i64>) {
        let rate = self.faults().index_lag;
        if rate <= 0.0 {
            return;
        }
        let mut lags = lock(&self.later);
        if !lags.random_bool(rate) {
            return;
        }
        let ms = lags.random_range(50..=3_000);
        drop(lags);
        self.log(format!("fault index {key}: lags {ms} ms"));
        let until = tokio::time::Instant::now() + Duration::from_millis(ms);
        let mut lagging = lock(&self.lagging);
        // A second change while the first still lags: the index still shows the first's
        // old entry.
        let before = lagging
            .get(&key)
            .filter(|(until, _)| *until > tokio::time::Instant::now())
            .map_or(before, |(_, old)| *old);
        lagging.insert(key, (until, before));
    }

    /// What Secrets Manager holds now.
    pub fn secret(&self) -> shared::signature::WebhookSecrets {
        lock(&self.secret).clone()
    }

    /// An operator puts a new value in Secrets Manager.
    pub fn put_secret(&self, value: shared::signature::WebhookSecrets, what: &str) {
        self.log(format!("operator: webhook secret {what}"));
        *lock(&self.secret) = value;
    }

    /// Does API Gateway throttle this call?
    pub fn throttles(&self) -> bool {
        let rate = self.faults().throttled;
        rate > 0.0 && lock(&self.later).random_bool(rate)
    }

    /// The entries under `prefix` that lag now, each with the old entry's sort key.
    pub fn lagging(&self, prefix: &str) -> Vec<(String, Option<i64>)> {
        let now = tokio::time::Instant::now();
        lock(&self.lagging)
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .filter(|(_, (until, _))| *until > now)
            .map(|(key, (_, old))| (key.clone(), *old))
            .collect()
    }

    pub fn gave_up(&self) -> std::collections::BTreeMap<&'static str, u32> {
        lock(&self.gave_up).clone()
    }

    pub fn dead_letter(&self, event: String) {
        lock(&self.dead_letters).insert(event);
    }

    /// Did an event mentioning `id` go to an OnFailure destination?
    pub fn dead_lettered(&self, id: &str) -> bool {
        lock(&self.dead_letters).iter().any(|e| e.contains(id))
    }

    pub fn started(&self, task: tokio::task::Id, invocation: Invocation) {
        lock(&self.running).insert(task, invocation);
    }

    /// The invocation a task runs, while it runs.
    pub fn invocation(&self, task: tokio::task::Id) -> Option<Invocation> {
        lock(&self.running).get(&task).copied()
    }

    pub fn stopped(&self, task: tokio::task::Id, killed: bool) {
        lock(&self.running).remove(&task);
        if killed {
            lock(&self.killed).insert(task);
        }
    }

    pub fn is_running(&self, task: tokio::task::Id) -> bool {
        lock(&self.running).contains_key(&task)
    }

    pub fn was_killed(&self, task: tokio::task::Id) -> bool {
        lock(&self.killed).contains(&task)
    }

    pub fn log(&self, line: String) {
        let line = format!("{:>9.3}s {line}", self.elapsed().as_secs_f64());
        if self.verbose {
            println!("{line}");
        }
        lock(&self.trace).push(line);
    }

    /// Records a broken invariant, once per distinct message.
    pub fn violation(&self, what: String) {
        let mut violations = lock(&self.violations);
        if violations.contains(&what) {
            return;
        }
        violations.push(what.clone());
        drop(violations);
        self.log(format!("VIOLATION {what}"));
    }

    pub fn violations(&self) -> Vec<String> {
        lock(&self.violations).clone()
    }

    pub fn events(&self) -> usize {
        lock(&self.trace).len()
    }

    pub fn trace(&self) -> Vec<String> {
        lock(&self.trace).clone()
    }

    /// The trace's hash: two runs of one seed must agree on it.
    pub fn trace_hash(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        lock(&self.trace).hash(&mut hasher);
        hasher.finish()
    }
}

/// The webhook secret before a rotation, and after it.
pub const FIRST_SECRET: &str = "sim-webhook-secret-0123456789abcdef";
pub const NEXT_SECRET: &str = "sim-webhook-secret-rotated-fedcba9876";

pub fn secret(raw: &str) -> shared::signature::WebhookSecret {
    shared::signature::WebhookSecret::new(raw)
        .unwrap_or_else(|_| unreachable!("the simulation's secrets are long enough"))
}

/// An operator's rotation of the webhook secret, as the documented procedure goes: at
/// `at`, the new secret becomes current with the old one as previous; the dispatcher's
/// instance recycles (and so reads the secret again) some time later, or never in the
/// seed; `previous_dropped` after the rotation, the old secret is removed.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    pub at: Duration,
    pub dispatcher_recycles: Option<Duration>,
    pub previous_dropped: Duration,
}

/// A running invocation: its function, and when it is stopped unless it returns first.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    pub function: &'static str,
    pub stops_at: tokio::time::Instant,
    /// Stopped by its timeout, not by a crash.
    pub by_timeout: bool,
}

/// An instance's clock: the world's virtual wall clock, off by the instance's skew.
#[derive(Debug, Clone)]
pub struct SimClock {
    pub world: Arc<World>,
    pub skew: chrono::Duration,
}

impl SimClock {
    /// A clock for a new instance, with its own skew.
    pub fn instance(world: &Arc<World>) -> Self {
        Self {
            world: world.clone(),
            skew: world.skew(),
        }
    }
}

impl shared::Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.world.now() + self.skew
    }
}
