//! The money-safety invariants of DESIGN.md, as the stores show them. `safety` runs after
//! every applied write; `liveness` once the heal phase is over.

use std::collections::BTreeMap;

use mocks::ewallet::domain::{EwalletRequest, OutcomeRule, RequestStatus};
use shared::contracts::{EwalletStatusCode, OrderStatus, PaymentStatus};

use shared::JobId;
use shared::fulfilment::{JobStatus, JobType, PaymentResultType};

use crate::system::{Fulfilment, Stores};
use crate::world::{World, lock};

/// What the e-wallet decided, or is telling the merchant right now: a request being sent
/// carries its verdict (by amount) before the delivery is settled.
/// The e-wallet decides when a firing first claims the request (its verdict follows from the
/// amount); a cancelled request was never decided.
fn verdict(request: &EwalletRequest) -> Option<EwalletStatusCode> {
    match request.status {
        RequestStatus::Cancelled => None,
        RequestStatus::Pending if request.attempts == 0 => None,
        _ => request
            .outcome
            .or_else(|| Some(OutcomeRule::default().decide(request.amount))),
    }
}

/// The e-wallet took the money and has not paid it back.
fn charged(request: &EwalletRequest) -> bool {
    verdict(request) == Some(EwalletStatusCode::Success) && request.refunded_at.is_none()
}

pub fn safety(world: &World, stores: &Stores) {
    payment_safety(world, stores);
    fulfilment_safety(world, stores);
}

fn payments_by_id(stores: &Stores) -> BTreeMap<shared::PaymentId, payment::Payment> {
    stores
        .payments
        .all()
        .into_iter()
        .map(|p| (p.id, p))
        .collect()
}

/// No fulfilment without its decision: a process only for a payment decided its way (a
/// recorded success is tied to its charge by the payment checks), a production record or an
/// invoice only for a success's job.
fn fulfilment_safety(world: &World, stores: &Stores) {
    let payments = payments_by_id(stores);
    let mut success_jobs = std::collections::BTreeSet::new();
    for process in stores.processes.all() {
        let decided = payments.get(&process.payment_id).map(|p| p.status);
        let matches = match process.event_type {
            PaymentResultType::PaymentSucceeded => decided == Some(PaymentStatus::Success),
            PaymentResultType::PaymentFailed => decided == Some(PaymentStatus::Failed),
        };
        if !matches {
            world.violation(format!(
                "process {} is {} but its payment {} is {decided:?}",
                process.process_id,
                process.event_type.as_str(),
                process.payment_id
            ));
        }
        if process.event_type == PaymentResultType::PaymentSucceeded {
            for job in [JobType::Production, JobType::Invoice] {
                success_jobs.insert(JobId::of(process.process_id, job).to_string());
            }
        }
    }
    for (what, ids) in [
        ("production record", stores.productions.ids()),
        ("invoice", stores.invoices.ids()),
    ] {
        for id in ids {
            if !success_jobs.contains(&id) {
                world.violation(format!("{what} {id} is no success's job"));
            }
        }
    }
}

fn payment_safety(world: &World, stores: &Stores) {
    let payments = payments_by_id(stores);
    let requests: BTreeMap<String, EwalletRequest> = stores
        .ewallet
        .all()
        .into_iter()
        .map(|r| (r.id.to_string(), r))
        .collect();
    for order in stores.orders.all() {
        if order.status != OrderStatus::PaymentSuccess {
            continue;
        }
        // No recorded success without its charge.
        let payment = order.payment_id.and_then(|id| payments.get(&id));
        let charge = payment
            .and_then(|p| p.external_id.as_ref())
            .and_then(|external| requests.get(&external.to_string()));
        let paid = payment.is_some_and(|p| p.status == PaymentStatus::Success)
            && charge.is_some_and(|r| verdict(r) == Some(EwalletStatusCode::Success));
        if !paid {
            world.violation(format!(
                "order {} is PaymentSuccess without a successful charge (payment {:?})",
                order.id, order.payment_id
            ));
        }
    }
    for payment in payments.values() {
        if payment.status == PaymentStatus::Success
            && let Some(external) = &payment.external_id
            && requests
                .get(&external.to_string())
                .is_some_and(|r| verdict(r).is_some_and(|v| v != EwalletStatusCode::Success))
        {
            world.violation(format!(
                "payment {} is recorded Success but the e-wallet decided otherwise",
                payment.id
            ));
        }
    }
}

pub fn liveness(world: &World, stores: &Stores, fulfilment: &Fulfilment) {
    safety(world, stores);
    fulfilment_liveness(world, stores, fulfilment);
    let payments = stores.payments.all();
    let requests = stores.ewallet.all();
    for order in stores.orders.all() {
        if order.status == OrderStatus::PaymentPending {
            world.violation(format!(
                "order {} is still PaymentPending after the heal (payment {:?}, until {:?})",
                order.id, order.payment_id, order.pending_until
            ));
        }
        let charges: Vec<&EwalletRequest> = requests
            .iter()
            .filter(|r| r.order_id == order.id && charged(r))
            .collect();
        let expected = usize::from(order.status == OrderStatus::PaymentSuccess);
        if charges.len() != expected {
            world.violation(format!(
                "order {} is {} with {} charged successes",
                order.id,
                order.status.as_str(),
                charges.len()
            ));
        }
    }
    // Every decided payment is known to its order: an order still on that payment shows
    // its outcome.
    let orders = stores.orders.all();
    for payment in &payments {
        let Some(order) = orders.iter().find(|o| o.id == payment.order_id) else {
            continue;
        };
        if order.payment_id != Some(payment.id) || payment.status == PaymentStatus::Requested {
            continue;
        }
        let shows = match payment.status {
            PaymentStatus::Success => order.status == OrderStatus::PaymentSuccess,
            _ => order.status.is_payable(),
        };
        if !shows {
            world.violation(format!(
                "payment {} is {:?} but its order {} is {}",
                payment.id,
                payment.status,
                order.id,
                order.status.as_str()
            ));
        }
    }
    for request in &requests {
        // A request whose firings Lambda gave up on waits in the dispatcher's failure queue
        // (with its alarm) for an operator; the merchant's side is checked above.
        if matches!(
            request.status,
            RequestStatus::Pending | RequestStatus::Sending
        ) && request.cancelled_at.is_none()
            && !world.dead_lettered(&request.id.to_string())
        {
            world.violation(format!(
                "e-wallet request {} for order {} is still {} after the heal",
                request.id,
                request.order_id,
                request.status.as_str()
            ));
        }
    }
}

/// Every success has its process; every process's job ended Completed, or with its message
/// in its queue's DLQ (in Error, or Queued when its last delivery could not report); one production record and one invoice per success, one e-mail
/// per process; no message is left in a queue.
fn fulfilment_liveness(world: &World, stores: &Stores, fulfilment: &Fulfilment) {
    let processes: BTreeMap<_, _> = stores
        .processes
        .all()
        .into_iter()
        .map(|p| (p.process_id, p))
        .collect();
    for order in stores.orders.all() {
        if order.status != OrderStatus::PaymentSuccess {
            continue;
        }
        let process = order.payment_id.map(shared::ProcessId::for_payment);
        if !process.is_some_and(|p| processes.contains_key(&p)) {
            world.violation(format!(
                "order {} is PaymentSuccess but has no process (payment {:?})",
                order.id, order.payment_id
            ));
        }
    }
    // The messages each job's queue moved to its DLQ (an alarm fires; an operator redrives).
    let dead_letters = |job_type: JobType| -> Vec<String> {
        fulfilment
            .queues
            .iter()
            .filter(|q| q.name == job_type.as_str().to_ascii_lowercase())
            .flat_map(|q| {
                lock(&q.dead)
                    .iter()
                    .map(|m| m.body.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let productions = stores.productions.ids();
    let invoices = stores.invoices.ids();
    let sent = lock(&fulfilment.ses.sent).clone();
    for process in processes.values() {
        for (job_type, job) in &process.jobs {
            let in_dlq = dead_letters(*job_type)
                .iter()
                .any(|body| body.contains(&process.process_id.to_string()));
            let ended = job.status == JobStatus::Completed || in_dlq;
            if !ended {
                world.violation(format!(
                    "process {} job {} is {} after the heal{}",
                    process.process_id,
                    job_type.as_str(),
                    job.status.as_str(),
                    if lock(&fulfilment.stream.skipped).contains(&process.process_id) {
                        " (its stream record was skipped: metadata only to the failure queue)"
                    } else {
                        ""
                    }
                ));
            }
            if job.status != JobStatus::Completed {
                continue;
            }
            let key = JobId::of(process.process_id, *job_type).to_string();
            let effects = match job_type {
                JobType::Production => productions.iter().filter(|id| **id == key).count(),
                JobType::Invoice => invoices.iter().filter(|id| **id == key).count(),
                JobType::Notification => sent.iter().filter(|m| m.tracking_id == key).count(),
            };
            if effects == 0 {
                world.violation(format!(
                    "process {} job {} is Completed without its effect",
                    process.process_id,
                    job_type.as_str()
                ));
            }
        }
    }
    for queue in &fulfilment.queues {
        if !queue.is_empty() {
            world.violation(format!(
                "queue {} still holds messages after the heal",
                queue.name
            ));
        }
    }
}
