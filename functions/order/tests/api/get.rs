use chrono::Utc;
use order::{OrderRepository, demo};
use shared::contracts::OrderStatus;
use shared::testing::{ApiRequest, assert_problem, body_json};
use shared::{PaymentId, UserId};

use crate::helpers::spawn_app;

const ROUTE: &str = "/api/internal/v1/users/{userId}/orders/{orderId}";
/// The same function on the public API, which the web page polls.
const PUBLIC_ROUTE: &str = "/api/v1/users/{userId}/orders/{orderId}";

fn get_request(user: &str, order: &str) -> lambda_http::Request {
    ApiRequest::new("GET", ROUTE, &[("userId", user), ("orderId", order)]).build()
}

#[tokio::test]
async fn an_order_is_returned_with_its_details() {
    let app = spawn_app().await;
    let orders = app.given_orders(app.user, 2).await;
    let wanted = &orders[1];

    let response = app
        .get(get_request(&app.user.to_string(), &wanted.id.to_string()))
        .await;

    assert_eq!(response.status(), 200);
    let body = body_json(&response);
    assert_eq!(body["id"], wanted.id.to_string());
    assert_eq!(body["name"], wanted.name);
    assert_eq!(body["totalAmount"].as_f64(), Some(50.11));
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["orderDetails"][0]["productName"], "Milk Frother");
    assert_eq!(body["orderDetails"][0]["quantity"], 1);
}

#[tokio::test]
async fn another_users_order_is_404_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let owner = UserId::new_random();
    let theirs = app.given_orders(owner, 1).await.remove(0);

    let foreign = app
        .get(get_request(&app.user.to_string(), &theirs.id.to_string()))
        .await;
    let missing = app
        .get(get_request(
            &app.user.to_string(),
            &shared::OrderId::new_random().to_string(),
        ))
        .await;

    let foreign = assert_problem(&foreign, 404);
    let missing = assert_problem(&missing, 404);
    assert_eq!(foreign["detail"], missing["detail"]);
    assert_eq!(foreign["title"], missing["title"]);
}

#[tokio::test]
async fn malformed_ids_are_a_400_problem() {
    let app = spawn_app().await;
    let user = app.user.to_string();
    let order = shared::OrderId::new_random().to_string();
    for (u, o, field) in [
        ("42", order.as_str(), "userId"),
        (user.as_str(), "abc", "orderId"),
        (user.as_str(), "", "orderId"),
    ] {
        let body = assert_problem(&app.get(get_request(u, o)).await, 400);
        assert_eq!(body["errors"][0]["field"], field);
    }
}

#[tokio::test]
async fn the_public_route_shows_the_owner_their_order_and_anyone_else_a_404() {
    let app = spawn_app().await;
    let mine = app.given_orders(app.user, 1).await.remove(0);
    let order = mine.id.to_string();
    let request = |user: &str| {
        ApiRequest::new(
            "GET",
            PUBLIC_ROUTE,
            &[("userId", user), ("orderId", &order)],
        )
        .build()
    };

    let owner = app.get(request(&app.user.to_string())).await;
    let stranger = app.get(request(&UserId::new_random().to_string())).await;

    assert_eq!(owner.status(), 200);
    assert_eq!(body_json(&owner)["name"], mine.name);
    let stranger = assert_problem(&stranger, 404);
    assert_eq!(stranger["detail"], "No such order for this user.");
}

#[tokio::test]
async fn an_order_being_paid_names_its_payment_and_one_never_checked_out_names_none() {
    let app = spawn_app().await;
    let fresh = app.given_orders(app.user, 1).await.remove(0);
    let mut paying = demo::demo_order(app.user, 7, Utc::now());
    let payment = PaymentId::new_random();
    paying.status = OrderStatus::PaymentPending;
    paying.payment_id = Some(payment);
    assert!(app.repo.insert_if_absent(&paying).await.unwrap());

    let paying_view = body_json(
        &app.get(get_request(&app.user.to_string(), &paying.id.to_string()))
            .await,
    );
    let fresh_view = body_json(
        &app.get(get_request(&app.user.to_string(), &fresh.id.to_string()))
            .await,
    );

    assert_eq!(paying_view["status"], "PaymentPending");
    assert_eq!(paying_view["paymentId"], payment.to_string());
    assert!(fresh_view.get("paymentId").is_none());
}
