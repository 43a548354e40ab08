//! The contract of `OrderRepository`: every case runs against the in-memory fake and the
//! DynamoDB adapter, so the fake's conditional-write rules cannot drift from DynamoDB's.

use chrono::{Duration, Utc};
use order::repository::{CheckoutAbandon, CheckoutStart, PaymentSettlement};
use order::{Order, OrderRepository, Transition, demo};
use shared::contracts::OrderStatus;
use shared::paging::NameFilter;
use shared::{OrderId, PaymentId, UserId};

shared::contract_tests! {
    fake: order::memory::InMemoryOrderRepository::default(),
    adapter: crate::helpers::spawn_app().await.repo,
    cases: [
        an_order_is_stored_once_and_read_back_as_written,
        another_users_order_is_not_found,
        a_search_reads_only_the_users_orders_and_filters_by_name,
        of_two_checkouts_from_one_read_only_one_starts,
        a_checkout_is_abandoned_only_for_its_own_payment,
        a_settlement_applies_once_and_conflicts_with_anything_else,
    ]
}

fn order_of(user: UserId, n: usize) -> Order {
    demo::demo_order(user, n, Utc::now())
}

async fn given(repo: &impl OrderRepository, order: &Order) {
    assert!(repo.insert_if_absent(order).await.unwrap());
}

/// An order of a fresh user, PaymentPending for a fresh payment.
async fn given_pending(repo: &impl OrderRepository) -> (Order, PaymentId) {
    let order = order_of(UserId::new_random(), 1);
    given(repo, &order).await;
    let payment = PaymentId::new_random();
    let start = CheckoutStart {
        order: &order,
        attempt: 1,
        payment_id: payment,
        now: Utc::now(),
    };
    assert!(repo.start_checkout(start).await.unwrap());
    (order, payment)
}

async fn an_order_is_stored_once_and_read_back_as_written(repo: &impl OrderRepository) {
    let order = order_of(UserId::new_random(), 3);
    assert!(repo.insert_if_absent(&order).await.unwrap());
    let mut changed = order.clone();
    changed.name = "another name".into();
    assert!(!repo.insert_if_absent(&changed).await.unwrap());
    assert_eq!(
        repo.get(order.user_id, order.id).await.unwrap(),
        Some(order)
    );
}

async fn another_users_order_is_not_found(repo: &impl OrderRepository) {
    let order = order_of(UserId::new_random(), 1);
    given(repo, &order).await;
    assert_eq!(
        repo.get(UserId::new_random(), order.id).await.unwrap(),
        None
    );
    assert_eq!(
        repo.get(order.user_id, OrderId::new_random())
            .await
            .unwrap(),
        None
    );
}

async fn a_search_reads_only_the_users_orders_and_filters_by_name(repo: &impl OrderRepository) {
    let user = UserId::new_random();
    let orders: Vec<Order> = (1..=3).map(|n| order_of(user, n)).collect();
    for order in &orders {
        given(repo, order).await;
    }
    given(repo, &order_of(UserId::new_random(), 1)).await;

    let all = repo
        .search(user, &NameFilter::parse(None).unwrap())
        .await
        .unwrap();
    assert_eq!(all.orders.len(), 3);
    assert_eq!(all.items_read, 3);
    assert!(all.orders.iter().all(|o| o.user_id == user));

    let name = orders[1].name.to_uppercase();
    let some = repo
        .search(user, &NameFilter::parse(Some(&name)).unwrap())
        .await
        .unwrap();
    assert!(some.orders.iter().any(|o| o.id == orders[1].id));
    assert!(
        some.orders
            .iter()
            .all(|o| o.name.to_uppercase().contains(&name))
    );
    assert_eq!(
        some.items_read, 3,
        "the filter applies after the user's partition is read"
    );
}

async fn of_two_checkouts_from_one_read_only_one_starts(repo: &impl OrderRepository) {
    let order = order_of(UserId::new_random(), 1);
    given(repo, &order).await;
    let (first, second) = (PaymentId::new_random(), PaymentId::new_random());
    let now = Utc::now();
    let start = |payment_id| CheckoutStart {
        order: &order,
        attempt: 1,
        payment_id,
        now,
    };
    assert!(repo.start_checkout(start(first)).await.unwrap());
    assert!(!repo.start_checkout(start(second)).await.unwrap());
    let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::PaymentPending);
    assert_eq!(stored.checkout_attempt, 1);
    assert_eq!(stored.payment_id, Some(first));
    assert_eq!(stored.updated_at, now);
}

async fn a_checkout_is_abandoned_only_for_its_own_payment(repo: &impl OrderRepository) {
    let (order, payment) = given_pending(repo).await;
    let now = Utc::now() + Duration::seconds(1);
    let abandon = |payment_id| CheckoutAbandon {
        order: &order,
        payment_id,
        back_to: OrderStatus::Created,
        now,
    };
    assert!(
        !repo
            .abandon_checkout(abandon(PaymentId::new_random()))
            .await
            .unwrap()
    );
    assert!(repo.abandon_checkout(abandon(payment)).await.unwrap());
    assert!(!repo.abandon_checkout(abandon(payment)).await.unwrap());
    let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Created);
    assert_eq!(stored.updated_at, now);
}

async fn a_settlement_applies_once_and_conflicts_with_anything_else(repo: &impl OrderRepository) {
    let (order, payment) = given_pending(repo).await;
    let settle = |user, order, payment_id, to| PaymentSettlement {
        user,
        order,
        payment_id,
        to,
        now: Utc::now(),
    };
    let other_payment = settle(
        order.user_id,
        order.id,
        PaymentId::new_random(),
        OrderStatus::PaymentSuccess,
    );
    assert!(matches!(
        repo.settle_payment(other_payment).await.unwrap(),
        Transition::Conflict(o) if o.status == OrderStatus::PaymentPending
    ));
    let success = settle(
        order.user_id,
        order.id,
        payment,
        OrderStatus::PaymentSuccess,
    );
    let applied = match repo.settle_payment(success).await.unwrap() {
        Transition::Applied(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(applied.status, OrderStatus::PaymentSuccess);
    assert_eq!(
        repo.settle_payment(success).await.unwrap(),
        Transition::AlreadyApplied(applied.clone())
    );
    let opposite = settle(order.user_id, order.id, payment, OrderStatus::PaymentFailed);
    assert_eq!(
        repo.settle_payment(opposite).await.unwrap(),
        Transition::Conflict(applied)
    );
    let unknown = settle(
        order.user_id,
        OrderId::new_random(),
        payment,
        OrderStatus::PaymentSuccess,
    );
    assert_eq!(
        repo.settle_payment(unknown).await.unwrap(),
        Transition::NotFound
    );
}
