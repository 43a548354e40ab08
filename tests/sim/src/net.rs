//! The simulated network and what API Gateway and Lambda do on it: a route table read from
//! template.yaml, latency, requests refused or answers lost on the way, 503s from the
//! gateway that invoke nothing, and invocations stopped at their timeout or killed at a
//! random instant. An invocation runs as its own task: a caller that gives up does not
//! stop it, as on Lambda.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lambda_http::{Body, Request, RequestExt, Response};
use shared::transport::{Answer, BoxFuture, Outgoing, Transport, TransportError};

use crate::world::{Half, Invocation, SimClock, World};

/// An HTTP API's longest integration timeout (the template sets none shorter).
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// Wraps an HTTP handler `handle(&deps, request, correlation_id)` as the function's
/// runtime does: the correlation id from the headers, errors mapped to problem+json once.
#[macro_export]
macro_rules! http_function {
    ($deps:expr, $handle:path) => {{
        let deps = std::sync::Arc::new($deps);
        let handler: $crate::net::Handler = std::sync::Arc::new(move |request| {
            let deps = deps.clone();
            Box::pin(async move {
                let correlation_id = shared::CorrelationId::from_headers(request.headers());
                let instance = request.uri().path().to_owned();
                let result = $handle(&*deps, request, correlation_id.clone()).await;
                shared::http::respond(result, &correlation_id, &instance)
            })
        });
        handler
    }};
}

/// One function behind one route of the template.
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: &'static str,
    pub timeout: Duration,
    pub handler: Handler,
    /// Whose stream its calls draw from.
    pub half: Half,
}

/// The route keys (`POST /api/...`) template.yaml declares.
pub fn template_routes() -> Vec<String> {
    let text = std::fs::read_to_string(shared::testing::workspace_root().join("template.yaml"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("RouteKey: "))
        .map(str::to_owned)
        .collect()
}

pub struct Network {
    world: Arc<World>,
    routes: OnceLock<Vec<Route>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated network")
    }
}

impl Network {
    pub fn new(world: Arc<World>) -> Arc<Self> {
        Arc::new(Self {
            world,
            routes: OnceLock::new(),
        })
    }

    /// Installs the routes (once, after the functions that call each other are built).
    /// Each must be a route of the template.
    pub fn install(&self, routes: Vec<Route>) {
        let declared = template_routes();
        for route in &routes {
            let key = format!("{} {}", route.method, route.path);
            assert!(
                declared.contains(&key),
                "{key} is not a route of template.yaml"
            );
        }
        let _ = self.routes.set(routes);
    }

    fn route(&self, method: &str, path: &str) -> Option<(&Route, Vec<(String, String)>)> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.routes.get()?.iter().find_map(|route| {
            if route.method != method {
                return None;
            }
            let pattern: Vec<&str> = route.path.trim_matches('/').split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut params = Vec::new();
            for (want, got) in pattern.iter().zip(&segments) {
                match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some(name) => params.push((name.to_owned(), (*got).to_owned())),
                    None if want == got => {}
                    None => return None,
                }
            }
            Some((route, params))
        })
    }

    /// Carries `request` to its route; its caller stops waiting at `due`, if it said when.
    async fn deliver(
        &self,
        request: Outgoing,
        due: Option<tokio::time::Instant>,
    ) -> Result<Answer, TransportError> {
        let world = &self.world;
        let faults = world.faults();
        let path = path_of(&request.url).to_owned();
        let label = format!("{} {path}", request.method);
        let found = self.route(request.method.as_str(), &path);
        let half = found
            .as_ref()
            .map_or(Half::Payment, |(route, _)| route.half);
        world.latency(half, 1, 30).await;
        if world.chance_in(half, faults.connect_refused) {
            world.log(format!("fault {label}: connection refused"));
            return Err(TransportError::Connect(
                "injected: connection refused".into(),
            ));
        }
        let Some((route, params)) = found else {
            world.log(format!("{label} -> 404 (no route)"));
            return Ok(problem(404, "no route"));
        };
        if world.chance_in(half, faults.gateway_unavailable) {
            world.log(format!("fault {label}: API Gateway 503, not invoked"));
            return Ok(problem(503, "Service Unavailable"));
        }
        if world.throttles() {
            world.log(format!(
                "fault {label}: API Gateway 429 (throttled), not invoked"
            ));
            return Ok(problem(429, "Too Many Requests"));
        }
        if route.function == "ewallet-payment-request"
            && world.refuses(&String::from_utf8_lossy(&request.body))
        {
            world.log(format!(
                "{label} -> 422 (the e-wallet refuses this order's payments)"
            ));
            return Ok(problem(422, "Payment refused"));
        }
        let event = lambda_request(route, &params, &request, world);
        let waiting = Waiting {
            world: world.clone(),
            function: route.function,
            answered: false,
            caller: tokio::task::try_id(),
            due,
        };
        // Past the integration timeout, API Gateway answers 503; the invocation runs on.
        let answer =
            match tokio::time::timeout(INTEGRATION_TIMEOUT, invoke_http(world, route, event)).await
            {
                Ok(answer) => answer,
                Err(_) => {
                    world.log(format!(
                        "{label}: API Gateway's {} s integration timeout, 503",
                        INTEGRATION_TIMEOUT.as_secs()
                    ));
                    problem(503, "Service Unavailable")
                }
            };
        let mut waiting = waiting;
        waiting.answered = true;
        if route.function == "payment-webhook" && answer.status == 401 {
            refused_a_good_signature(world, &request);
        }
        world.log(format!("{} {label} -> {}", route.function, answer.status));
        if world.chance_in(half, faults.answer_lost) {
            world.log(format!("fault {label}: answer lost"));
            return Err(TransportError::Io("injected: answer lost".into()));
        }
        Ok(answer)
    }
}

/// The webhook answered 401: a violation if the webhook is signed with a secret Secrets
/// Manager holds now (a rotation's old or new one). Refusing it turns a decided payment
/// into one the e-wallet stops telling us about.
fn refused_a_good_signature(world: &World, request: &Outgoing) {
    let header = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(shared::signature::HEADER))
        .map(|(_, value)| value.as_str());
    if world
        .secret()
        .verify(header, &request.body, world.now().timestamp())
        .is_ok()
    {
        world.violation(
            "payment-webhook refused (401) a webhook signed with a secret Secrets Manager holds"
                .into(),
        );
    }
}

/// A caller waiting for an invocation's answer. Dropped unanswered at or after the
/// attempt's deadline, the caller gave up on a callee still running (counted). Dropped
/// before it, the caller either broke its word (it sent a later deadline than it waited
/// for), or its own timeout stopped it while the call was within budget: both violations.
/// Or it crashed.
struct Waiting {
    world: Arc<World>,
    function: &'static str,
    answered: bool,
    caller: Option<tokio::task::Id>,
    due: Option<tokio::time::Instant>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let now = tokio::time::Instant::now();
        // A user's call says no deadline: the user may give up at any time.
        let Some(due) = self.due else {
            return;
        };
        if now >= due {
            // The attempt's time is up: its caller gave up.
            self.world.gave_up_on(self.function);
            return;
        }
        let Some(caller) = self.caller.and_then(|caller| self.world.invocation(caller)) else {
            return;
        };
        let left = (due - now).as_millis();
        if now < caller.stops_at {
            self.world.violation(format!(
                "{} stopped waiting for {} {left} ms before the deadline it sent",
                caller.function, self.function
            ));
        } else if caller.by_timeout {
            self.world.violation(format!(
                "{} was stopped at its timeout while its call to {} had {left} ms of its attempt left",
                caller.function, self.function
            ));
        }
        // Otherwise the caller crashed while it waited.
    }
}

/// The users' way onto the network: their calls say no deadline.
impl Transport for Network {
    fn send(&self, request: Outgoing) -> BoxFuture<'_, Result<Answer, TransportError>> {
        Box::pin(self.deliver(request, None))
    }
}

/// One instance's way onto the network. It reads the instance's clock, so it can tell when
/// (in virtual time) a caller stops waiting from the `CALL_DEADLINE` the caller wrote.
#[derive(Debug)]
pub struct Outbound {
    pub network: Arc<Network>,
    pub clock: SimClock,
}

impl Transport for Outbound {
    fn send(&self, request: Outgoing) -> BoxFuture<'_, Result<Answer, TransportError>> {
        let now_ms = shared::Clock::now(&self.clock).timestamp_millis();
        let due = request
            .headers
            .iter()
            .find(|(name, _)| name == shared::client::CALL_DEADLINE)
            .and_then(|(_, value)| value.parse::<i64>().ok())
            .map(|due_ms| {
                let left = u64::try_from(due_ms.saturating_sub(now_ms)).unwrap_or(0);
                tokio::time::Instant::now() + Duration::from_millis(left)
            });
        Box::pin(self.network.deliver(request, due))
    }
}

fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map_or("/", |at| &rest[at..])
}

fn problem(status: u16, title: &str) -> Answer {
    Answer {
        status,
        body: format!(r#"{{"title":"{title}","status":{status}}}"#).into_bytes(),
    }
}

fn lambda_request(
    route: &Route,
    params: &[(String, String)],
    outgoing: &Outgoing,
    world: &World,
) -> Request {
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut builder = shared::testing::ApiRequest::new(&route.method, &route.path, &params)
        .body(&String::from_utf8_lossy(&outgoing.body));
    for (name, value) in &outgoing.headers {
        builder = builder.header(name, value);
    }
    builder
        .build()
        .with_lambda_context(context(world, route.timeout))
}

/// A Lambda context whose deadline is the function's timeout from now, in virtual time.
pub fn context(world: &World, timeout: Duration) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    let deadline = world.now() + chrono::Duration::from_std(timeout).unwrap_or_default();
    context.deadline = u64::try_from(deadline.timestamp_millis()).unwrap_or(0);
    context.request_id = format!("sim-{}", world.events());
    context
}

/// Runs `work` as one invocation of `function`: its own task, stopped at `timeout`, killed
/// at a random instant when crashes are on. `None` when it did not finish.
pub async fn invoke<T: Send + 'static>(
    world: &Arc<World>,
    half: Half,
    function: &'static str,
    timeout: Duration,
    work: Pin<Box<dyn Future<Output = T> + Send>>,
) -> Option<T> {
    let crash_at = world
        .chance_in(half, world.faults().crash)
        .then(|| Duration::from_millis(world.between_in(half, 0, timeout.as_millis() as u64)));
    let limit = crash_at.unwrap_or(timeout).min(timeout);
    // The task itself keeps the record of its life: its caller may stop waiting for it.
    let own = world.clone();
    let invocation = Invocation {
        function,
        stops_at: tokio::time::Instant::now() + limit,
        by_timeout: limit == timeout,
    };
    let task = tokio::spawn(async move {
        let id = tokio::task::id();
        own.started(id, invocation);
        let done = tokio::time::timeout(limit, work).await;
        own.stopped(id, done.is_err());
        done
    });
    match task.await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(_elapsed)) => {
            match crash_at {
                Some(at) if at < timeout => world.log(format!(
                    "fault {function}: crashed after {} ms",
                    at.as_millis()
                )),
                _ => world.log(format!(
                    "{function}: timed out after {} s",
                    timeout.as_secs()
                )),
            }
            None
        }
        Err(panic) => {
            world.violation(format!("{function} panicked: {panic}"));
            None
        }
    }
}

async fn invoke_http(world: &Arc<World>, route: &Route, event: Request) -> Answer {
    let work = (route.handler)(event);
    match invoke(world, route.half, route.function, route.timeout, work).await {
        Some(response) => {
            let status = response.status().as_u16();
            let body = match response.body() {
                Body::Text(text) => text.as_bytes().to_vec(),
                Body::Binary(bytes) => bytes.clone(),
                _ => Vec::new(),
            };
            if status == 500 {
                world.violation(format!(
                    "{} answered 500: {}",
                    route.function,
                    String::from_utf8_lossy(&body)
                ));
            }
            // Only the e-wallet sends webhooks, and only for requests made for a payment we
            // stored first: an unknown payment is our defect.
            if route.function == "payment-webhook" && status == 404 {
                world.violation(format!(
                    "payment-webhook answered 404 to the e-wallet: {}",
                    String::from_utf8_lossy(&body)
                ));
            }
            Answer { status, body }
        }
        // API Gateway's answer when the integration failed or timed out.
        None => problem(502, "Bad Gateway"),
    }
}
