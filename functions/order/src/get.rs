//! GET /api/internal/v1/users/{userId}/orders/{orderId}, and the same view on the public API
//! at GET /api/v1/users/{userId}/orders/{orderId} (the web page polls it): one order with its
//! details, its payment, and the fulfilment process of its decided payment (each job's state
//! and when it changed). Another user's order is a 404, like a missing one.

use http::StatusCode;
use lambda_http::Request;
use shared::http::{HandlerResult, json, path_param};
use shared::{CorrelationId, OrderId, UserId};

use crate::processes::process_of;
use crate::{OrderDeps, OrderError, OrderRepository, ProcessRepository};

pub async fn handle<R: OrderRepository, P: ProcessRepository, C>(
    deps: &OrderDeps<R, P, C>,
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
    let mut dto = found.to_dto();
    if let Some(process) = process_of(&found) {
        dto.process = deps.processes.get(process).await?.map(|p| p.to_dto());
    }
    Ok(json(StatusCode::OK, &dto))
}
