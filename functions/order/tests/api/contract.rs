//! The contract of `OrderRepository`: every case runs against the in-memory fake and the
//! DynamoDB adapter, so the fake's conditional-write rules cannot drift from DynamoDB's.

use chrono::{Duration, Utc};
use order::domain::pending_shard;
use order::repository::{CheckoutAbandon, CheckoutStart, Overdue, PaymentSettlement};
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
        an_overdue_order_is_found_by_its_deadline_until_it_leaves_payment_pending,
        a_deferred_order_is_overdue_again_only_at_its_new_deadline,
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
        // Far ahead: the stack's reconciler must leave these orders to the test.
        pending_until: Utc::now() + Duration::days(1),
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
        pending_until: now + Duration::days(1),
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

/// Deadlines ten years ahead, and "now" just after them: the stack's own reconciler (on the
/// real clock) never sees these orders as overdue, so it cannot race the test.
async fn an_overdue_order_is_found_by_its_deadline_until_it_leaves_payment_pending(
    repo: &impl OrderRepository,
) {
    let now = Utc::now() + Duration::days(3650);
    let user = UserId::new_random();
    let mut pending = Vec::new();
    for (n, until) in [
        (1, now - Duration::seconds(2)),
        (2, now - Duration::seconds(1)),
        (3, now + Duration::hours(1)),
    ] {
        let order = order_of(user, n);
        given(repo, &order).await;
        let payment = PaymentId::new_random();
        let start = CheckoutStart {
            order: &order,
            attempt: 1,
            payment_id: payment,
            pending_until: until,
            now: Utc::now(),
        };
        assert!(repo.start_checkout(start).await.unwrap());
        pending.push((order, payment));
    }
    let found = |order: &Order| {
        let order = order.clone();
        async move {
            repo.overdue(pending_shard(order.id), now, 1000)
                .await
                .unwrap()
                .contains(&Overdue {
                    user: order.user_id,
                    order: order.id,
                })
        }
    };
    let stored = repo.get(user, pending[0].0.id).await.unwrap().unwrap();
    assert_eq!(
        stored.pending_until.map(|t| t.timestamp_millis()),
        Some((now - Duration::seconds(2)).timestamp_millis())
    );
    assert!(found(&pending[0].0).await, "past its deadline");
    assert!(found(&pending[1].0).await, "past its deadline");
    assert!(!found(&pending[2].0).await, "before its deadline");

    let settled = repo
        .settle_payment(PaymentSettlement {
            user,
            order: pending[0].0.id,
            payment_id: pending[0].1,
            to: OrderStatus::PaymentSuccess,
            now: Utc::now(),
        })
        .await
        .unwrap();
    assert!(matches!(settled, Transition::Applied(_)));
    let abandon = CheckoutAbandon {
        order: &pending[1].0,
        payment_id: pending[1].1,
        back_to: OrderStatus::PaymentFailed,
        now: Utc::now(),
    };
    assert!(repo.abandon_checkout(abandon).await.unwrap());
    assert!(!found(&pending[0].0).await, "settled");
    assert!(!found(&pending[1].0).await, "abandoned");
    let after = repo.get(user, pending[1].0.id).await.unwrap().unwrap();
    assert_eq!(after.pending_until, None);
    // Leave nothing in the index.
    let abandon = CheckoutAbandon {
        order: &pending[2].0,
        payment_id: pending[2].1,
        back_to: OrderStatus::PaymentFailed,
        now: Utc::now(),
    };
    assert!(repo.abandon_checkout(abandon).await.unwrap());
}

/// As above, ten years ahead, out of the stack's own reconciler's way.
async fn a_deferred_order_is_overdue_again_only_at_its_new_deadline(repo: &impl OrderRepository) {
    let now = Utc::now() + Duration::days(3650);
    let order = order_of(UserId::new_random(), 1);
    given(repo, &order).await;
    let payment = PaymentId::new_random();
    let deadline = now - Duration::seconds(5);
    let start = CheckoutStart {
        order: &order,
        attempt: 1,
        payment_id: payment,
        pending_until: deadline,
        now: Utc::now(),
    };
    assert!(repo.start_checkout(start).await.unwrap());
    let overdue = Overdue {
        user: order.user_id,
        order: order.id,
    };
    let due_at = |at| async move {
        repo.overdue(pending_shard(order.id), at, 1000)
            .await
            .unwrap()
            .contains(&overdue)
    };
    assert!(due_at(now).await);
    assert!(
        !repo
            .defer(overdue, PaymentId::new_random(), now + Duration::minutes(5))
            .await
            .unwrap(),
        "deferred for a payment it does not wait for"
    );
    assert!(
        repo.defer(overdue, payment, now + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert!(!due_at(now).await, "still overdue right after its deferral");
    assert!(
        due_at(now + Duration::minutes(6)).await,
        "not overdue at its new deadline"
    );
    let stored = repo.get(order.user_id, order.id).await.unwrap().unwrap();
    assert_eq!(
        stored.pending_until.map(|t| t.timestamp_millis()),
        Some((now + Duration::minutes(5)).timestamp_millis()),
        "the deadline did not move"
    );
    assert_eq!(stored.status, OrderStatus::PaymentPending);
}
