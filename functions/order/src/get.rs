//! GET /api/internal/v1/users/{userId}/orders/{orderId}: one order with its details.

use http::StatusCode;
use lambda_http::Request;
use shared::http::{HandlerResult, json, path_param};
use shared::{CorrelationId, OrderId, UserId};

use crate::{OrderDeps, OrderError, OrderRepository};

pub async fn handle<R: OrderRepository, C>(
    deps: &OrderDeps<R, C>,
    request: Request,
    _correlation_id: CorrelationId,
) -> HandlerResult<OrderError> {
    let user = UserId::parse(&path_param(&request, "userId")?)?;
    let order = OrderId::parse(&path_param(&request, "orderId")?)?;
    let found = deps
        .repo
        .get(user, order)
        .await?
        .ok_or(OrderError::NotFound)?;
    Ok(json(StatusCode::OK, &found.to_dto()))
}
