//! The original's demo data set: one user, 200 orders built from two products priced
//! 100.99 and 50.11, so both e-wallet outcomes (.99 succeeds, .11 fails) can be tried.
//! Ids are derived from the user and the order number, so seeding is repeatable.

use chrono::{DateTime, Utc};
use shared::{Currency, Money, OrderId, UserId};
use uuid::Uuid;

use crate::{Order, OrderDetail};

pub const DEMO_USER: &str = "5a2fb4b2-f281-4c64-8bbc-ec3500b40c76";
pub const DEMO_ORDER_COUNT: usize = 200;

const PRODUCTS: [(&str, &str, i64); 2] = [
    ("espresso-machine", "Espresso Machine", 10099),
    ("milk-frother", "Milk Frother", 5011),
];

const STYLES: [&str; 10] = [
    "Amber", "Birch", "Cobalt", "Denim", "Ember", "Forest", "Granite", "Harbor", "Ivory", "Juniper",
];

/// Order number `n` (1-based) of `user`: always the same id and contents.
pub fn demo_order(user: UserId, n: usize, now: DateTime<Utc>) -> Order {
    let (product_id, product_name, cents) = PRODUCTS[(n - 1) % PRODUCTS.len()];
    let style = STYLES[((n - 1) / PRODUCTS.len()) % STYLES.len()];
    let id = OrderId::from_uuid(Uuid::new_v5(
        user.as_uuid(),
        format!("demo-order-{n}").as_bytes(),
    ));
    let detail = OrderDetail {
        product_id: product_id.to_owned(),
        product_name: product_name.to_owned(),
        unit_price: Money::from_cents(cents, Currency::USD),
        quantity: 1,
    };
    Order {
        id,
        user_id: user,
        name: format!("{style} {product_name} #{n:03}"),
        // One line of quantity 1: the total is its unit price.
        total: detail.unit_price,
        status: shared::contracts::OrderStatus::Created,
        created_at: now,
        updated_at: now,
        details: vec![detail],
        checkout_attempt: 0,
        payment_id: None,
        pending_until: None,
    }
}

pub fn demo_orders(user: UserId, now: DateTime<Utc>) -> Vec<Order> {
    (1..=DEMO_ORDER_COUNT)
        .map(|n| demo_order(user, n, now))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_set_has_200_orders_in_both_payment_outcomes() {
        let orders = demo_orders(UserId::new_random(), Utc::now());
        assert_eq!(orders.len(), 200);
        let succeeding = orders.iter().filter(|o| o.total.cents_part() == 99).count();
        let failing = orders.iter().filter(|o| o.total.cents_part() == 11).count();
        assert_eq!((succeeding, failing), (100, 100));
    }

    #[test]
    fn demo_ids_are_the_same_on_every_run() {
        let user = UserId::new_random();
        assert_eq!(
            demo_order(user, 7, Utc::now()).id,
            demo_order(user, 7, Utc::now()).id
        );
        assert_ne!(
            demo_order(user, 7, Utc::now()).id,
            demo_order(user, 8, Utc::now()).id
        );
    }
}
