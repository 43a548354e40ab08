//! The money-safety invariants of DESIGN.md, as the stores show them. `safety` runs after
//! every applied write; `liveness` once the heal phase is over.

use std::collections::BTreeMap;

use mocks::ewallet::domain::{EwalletRequest, OutcomeRule, RequestStatus};
use shared::contracts::{EwalletStatusCode, OrderStatus, PaymentStatus};

use crate::system::Stores;
use crate::world::World;

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
    let payments: BTreeMap<_, _> = stores
        .payments
        .all()
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
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

pub fn liveness(world: &World, stores: &Stores) {
    safety(world, stores);
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
        if matches!(
            request.status,
            RequestStatus::Pending | RequestStatus::Sending
        ) && request.cancelled_at.is_none()
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
