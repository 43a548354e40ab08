//! A deterministic simulation of the checkout's payment flow. One seed is one world: a
//! few users and orders, faults switched on per seed (swarm testing), a chaos phase, a
//! heal phase with every fault off, then the liveness checks. The safety invariants are
//! checked after every write the stores apply.
//!
//! Everything runs on one current-thread tokio runtime with paused time, and every random
//! choice comes from the seed's stream: a seed replays exactly (`SIM_SEED=N make sim`).

// Unit tests stamp their data with the wall clock; product code takes it from the Clock.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod check;
pub mod fulfil;
pub mod net;
pub mod store;
pub mod system;
pub mod template;
pub mod world;

use std::sync::Arc;
use std::time::Duration;

use shared::transport::{Outgoing, Transport};
use shared::{OrderId, UserId};

use crate::system::{PUBLIC, RECONCILER_PERIOD, Stores, System};
use crate::world::World;

/// How long a run goes on after the heal: past the last attempt's deadline (300 s) by more
/// than three reconciler periods, and time for fulfilment's redeliveries.
pub const AFTER_HEAL: Duration = Duration::from_secs(300 + 4 * 60 + 60);

/// What one seed came to.
#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    pub violations: Vec<String>,
    pub events: usize,
    pub trace_hash: u64,
    pub faults: String,
    /// The trace in virtual time (a regression scenario checks its story is still told).
    pub trace: Vec<String>,
    /// The fault classes on in this run.
    pub classes: Vec<&'static str>,
    /// How often a caller gave up on each function while it still ran.
    pub gave_up: std::collections::BTreeMap<&'static str, u32>,
}

/// Runs one seed. `verbose` prints the trace as it happens.
pub fn run(seed: u64, verbose: bool) -> Report {
    run_without(seed, verbose, &[])
}

/// The fault classes a failing seed needs: each class on in it is switched off in turn,
/// and stays off while the seed still fails (a greedy shrink to a set from which no one
/// class can be taken). Returns the classes switched off, or `None` when the seed holds.
pub fn shrink(seed: u64) -> Option<Vec<&'static str>> {
    let first = run(seed, false);
    if first.violations.is_empty() {
        return None;
    }
    let mut off: Vec<&'static str> = Vec::new();
    for class in first.classes {
        let mut trial = off.clone();
        trial.push(class);
        if !run_without(seed, false, &trial).violations.is_empty() {
            off = trial;
        }
    }
    Some(off)
}

/// Runs one seed with the fault classes `off` switched off.
pub fn run_without(seed: u64, verbose: bool, off: &[&str]) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    let Ok(runtime) = runtime else {
        return Report {
            seed,
            violations: vec!["could not start a runtime".into()],
            events: 0,
            trace_hash: 0,
            faults: String::new(),
            trace: Vec::new(),
            classes: Vec::new(),
            gave_up: Default::default(),
        };
    };
    runtime.block_on(simulate(seed, verbose, off))
}

async fn simulate(seed: u64, verbose: bool, off: &[&str]) -> Report {
    let world = World::without(seed, verbose, off);
    let mut faults = match world.max_skew_ms() {
        0 => world.faults().describe(),
        skew => format!("{} clock_skew<={skew}ms", world.faults().describe()),
    };
    if world.chaos() > Duration::from_secs(120) {
        faults = format!("{faults} chaos={}s", world.chaos().as_secs());
    }
    for (on, class) in [
        (world.fast_ewallet, "fast_ewallet"),
        (world.racing_ewallet, "racing_ewallet"),
        (world.rotation.is_some(), "rotation"),
    ] {
        if on {
            faults = format!("{faults} {class}");
        }
    }
    world.log(format!("seed {seed}: faults {faults}"));
    let classes = world.classes();
    let stores = Arc::new(Stores::default());
    let checker = {
        let (world, stores) = (world.clone(), stores.clone());
        Arc::new(move || check::safety(&world, &stores)) as Arc<dyn Fn() + Send + Sync>
    };
    let system = Arc::new(System::build(world.clone(), checker, stores.clone()).await);
    system.start();

    let orders = seed_orders(&world, &stores);
    for (user, order) in &orders {
        let (world, network) = (world.clone(), system.network.clone());
        let (user, order) = (*user, *order);
        tokio::spawn(async move { shop(world, network, user, order).await });
    }
    {
        let system = system.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RECONCILER_PERIOD).await;
                let run = system.clone();
                tokio::spawn(async move { run.reconcile().await });
            }
        });
    }
    tokio::time::sleep(world.chaos()).await;
    world.heal();
    tokio::time::sleep(AFTER_HEAL).await;
    check::liveness(&world, &stores, &system.fulfilment);
    Report {
        seed,
        violations: world.violations(),
        events: world.events(),
        trace_hash: world.trace_hash(),
        faults,
        trace: world.trace(),
        classes,
        gave_up: world.gave_up(),
    }
}

/// One or two users with one to three orders each; amounts end in .99 (the e-wallet
/// pays) or .11 (it refuses).
fn seed_orders(world: &Arc<World>, stores: &Stores) -> Vec<(UserId, OrderId)> {
    let mut orders = Vec::new();
    for _ in 0..world.between(1, 2) {
        let user = UserId::from_uuid(uuid::Uuid::from_u128(u128::from(world.fork())));
        for n in 1..=world.between(1, 3) as usize {
            let order = order::demo::demo_order(user, n, world.now());
            world.log(format!(
                "order {} of user {user}: {} cents",
                order.id,
                order.total.cents()
            ));
            world.maybe_refuse(order.id.to_string());
            orders.push((user, order.id));
            stores.orders.seed(order);
        }
    }
    orders
}

/// A user checking out one order: once, twice, or three times over the chaos phase,
/// sometimes with a double click; a 5xx or 409 is tried again a few seconds later.
async fn shop(world: Arc<World>, network: Arc<net::Network>, user: UserId, order: OrderId) {
    for _ in 0..world.between(1, 3) {
        tokio::time::sleep(Duration::from_millis(world.between(0, 60_000))).await;
        if world.chance(0.2) {
            let (world, network) = (world.clone(), network.clone());
            tokio::spawn(async move { checkout(&world, &network, user, order).await });
        }
        for _ in 0..3 {
            let status = checkout(&world, &network, user, order).await;
            if !matches!(status, Some(409 | 429 | 500..=599) | None) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(world.between(2_000, 15_000))).await;
        }
    }
}

async fn checkout(
    world: &World,
    network: &net::Network,
    user: UserId,
    order: OrderId,
) -> Option<u16> {
    let request = Outgoing {
        method: http::Method::POST,
        url: format!("{PUBLIC}/api/v1/users/{user}/orders/{order}/checkout"),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                shared::correlation::HEADER.into(),
                format!("user-{}", world.events()),
            ),
        ],
        body: br#"{"paymentProvider":"Ewallet"}"#.to_vec(),
    };
    let answer = network.send(request).await;
    let status = answer.as_ref().ok().map(|a| a.status);
    world.log(format!("user checkout {order} -> {status:?}"));
    status
}
