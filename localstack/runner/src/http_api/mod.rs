//! The HttpApi event source: serves every `Type: HttpApi` route of every function on one
//! address, as API Gateway would, and invokes the route's function with a 2.0 payload.

mod event;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use tokio::net::TcpListener;

use crate::invoke::{InvokeError, Invoker};
use crate::shutdown::Shutdown;
use crate::stack::{EventSource, Function, Stack};
use event::{ApiContext, Incoming};
use routes::{Route, RouteTable, Target};

/// API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// SAM's name for the API of HttpApi events without an `ApiId`.
const IMPLICIT_API: &str = "ServerlessHttpApi";

/// The HttpApi routes of the stack, ready to be served.
pub struct HttpApiServer {
    state: AppState,
}

struct AppState {
    routes: RouteTable,
    account_id: String,
    /// The domain name of requests without a Host header.
    default_domain: String,
    invoker: Invoker,
}

impl HttpApiServer {
    /// The routes of every `Type: HttpApi` event of `functions`.
    pub fn new(
        stack: &Stack,
        functions: &[Function],
        invoker: Invoker,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let declared = stack.http_apis();
        let implicit_api_id = declared
            .iter()
            .find(|api| api.logical_id == IMPLICIT_API)
            .map_or_else(|| IMPLICIT_API.to_owned(), |api| api.api_id.clone());
        let mut routes = Vec::new();
        for function in functions {
            let target = Arc::new(Target {
                logical_id: function.logical_id.clone(),
                invoke_name: function.invoke_name.clone(),
            });
            for event in &function.events {
                let EventSource::HttpApi(http) = &event.source else {
                    continue;
                };
                let api_id = http
                    .api_id
                    .clone()
                    .unwrap_or_else(|| implicit_api_id.clone());
                let default_authorizer = declared
                    .iter()
                    .find(|api| api.api_id == api_id)
                    .and_then(|api| api.default_authorizer.as_deref());
                let authorizer = http
                    .auth
                    .as_ref()
                    .and_then(|auth| auth.authorizer.as_deref())
                    .or(default_authorizer);
                let route = Route::new(
                    http.method.as_deref(),
                    http.path.as_deref(),
                    target.clone(),
                    api_id,
                    authorizer == Some("AWS_IAM"),
                )
                .with_context(|| format!("{}.Events.{}", function.logical_id, event.name))?;
                routes.push(route);
            }
        }
        warn_about_duplicates(&routes);
        Ok(Self {
            state: AppState {
                routes: RouteTable::new(routes),
                account_id: stack.account_id.clone(),
                default_domain: listen.to_string(),
                invoker,
            },
        })
    }

    pub fn is_empty(&self) -> bool {
        self.state.routes.is_empty()
    }

    /// The route table, in matching order, for the start-up banner.
    pub fn describe(&self) -> String {
        let width = self
            .state
            .routes
            .routes()
            .iter()
            .map(|r| r.key.len())
            .max()
            .unwrap_or(0);
        let mut table = String::new();
        for route in self.state.routes.routes() {
            let auth = if route.iam_auth {
                "  [AWS_IAM, not checked]"
            } else {
                ""
            };
            table.push_str(&format!(
                "  {:width$}  -> {} ({}){auth}\n",
                route.key, route.target.invoke_name, route.target.logical_id
            ));
        }
        table
    }

    /// Serves the routes on `listener` until `shutdown` fires; requests in flight finish.
    pub async fn run(self, listener: TcpListener, shutdown: Shutdown) -> anyhow::Result<()> {
        let iam_routes = self
            .state
            .routes
            .routes()
            .iter()
            .filter(|r| r.iam_auth)
            .count();
        if iam_routes > 0 {
            tracing::warn!(
                routes = iam_routes,
                "routes with AWS_IAM authorization are served without checking SigV4 signatures: \
                 the local runner cannot verify them"
            );
        }
        let state = Arc::new(self.state);
        let app = Router::new().fallback(handle).with_state(state);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .context("the HttpApi server failed")
    }
}

/// API Gateway would refuse two routes with one key in one API; here all APIs share one
/// address, so the first in matching order wins.
fn warn_about_duplicates(routes: &[Route]) {
    let mut seen: HashMap<&str, &Route> = HashMap::new();
    for route in routes {
        if let Some(first) = seen.insert(&route.key, route) {
            tracing::warn!(
                route = %route.key,
                first = %first.target.logical_id,
                second = %route.target.logical_id,
                "two functions declare the same route; requests go to one of them"
            );
        }
    }
}

async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();

    let (function, response) = match state.routes.find(&parts.method, &path) {
        None => ("-".to_owned(), message(StatusCode::NOT_FOUND, "Not Found")),
        Some(matched) => {
            let route = matched.route;
            let response = match to_bytes(body, MAX_BODY_BYTES).await {
                Err(error) => {
                    tracing::warn!(%error, "request body too large or unreadable");
                    message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
                }
                Ok(body) => {
                    let incoming = Incoming {
                        method: &parts.method,
                        uri: &parts.uri,
                        version: parts.version,
                        headers: &parts.headers,
                        body: &body,
                        source_ip: peer.ip(),
                        request_id: &request_id,
                        time: chrono::Utc::now(),
                    };
                    invoke_route(&state, route, matched.path_parameters, &incoming).await
                }
            };
            (route.target.invoke_name.clone(), response)
        }
    };
    let mut response = response;
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", id);
    }
    tracing::info!(
        "{method} {path} -> {function} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

async fn invoke_route(
    state: &AppState,
    route: &Route,
    path_parameters: HashMap<String, String>,
    incoming: &Incoming<'_>,
) -> Response {
    let api = ApiContext {
        account_id: &state.account_id,
        api_id: &route.api_id,
        default_domain: &state.default_domain,
    };
    let event = event::request_event(&api, &route.key, path_parameters, incoming);
    let payload = match event::to_payload(&event) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, route = %route.key, "cannot serialize the event");
            return internal_error();
        }
    };
    let function = &route.target.invoke_name;
    match state.invoker.invoke(function, payload).await {
        Ok(answer) => match event::http_response(&answer) {
            Ok(r) => {
                let mut response = Response::new(Body::from(r.body));
                *response.status_mut() = r.status;
                *response.headers_mut() = r.headers;
                response
            }
            Err(error) => {
                tracing::error!(%function, %error, "the function's response is unusable");
                internal_error()
            }
        },
        Err(error @ InvokeError::Function { .. }) => {
            tracing::error!(%function, %error, "the function failed");
            internal_error()
        }
        Err(error @ InvokeError::Request(_)) => {
            tracing::error!(
                %function,
                %error,
                "cannot invoke the function; is `cargo lambda watch` running and does it serve it?"
            );
            internal_error()
        }
    }
}

fn internal_error() -> Response {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// API Gateway's own error responses: `{"message": "..."}`.
fn message(status: StatusCode, text: &str) -> Response {
    let body = serde_json::json!({ "message": text }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
