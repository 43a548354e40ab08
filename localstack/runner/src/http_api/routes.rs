//! HttpApi routes and how API Gateway picks one for a request.
//!
//! Among the routes whose method and path match, the runner picks, in this order:
//! a route without a greedy `{proxy+}` before one with it; then the one with more literal
//! segments; then the one whose first differing segment is a literal rather than a
//! variable; then an exact method before `ANY`. `$default` matches only when nothing else
//! does.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use http::Method;
use percent_encoding::percent_decode_str;

/// The function a route (or any event source) invokes.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub logical_id: String,
    /// The name the Invoke API knows it by.
    pub invoke_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    /// `{name+}`: one or more trailing segments.
    Greedy(String),
}

impl Segment {
    /// Literal before variable before greedy.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Variable(_) => 1,
            Segment::Greedy(_) => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RoutePath {
    Template(Vec<Segment>),
    Default,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    #[error("route path {0:?} must start with '/'")]
    NotAbsolute(String),
    #[error("route path {0:?}: a greedy variable {{name+}} must be the last segment")]
    GreedyNotLast(String),
    #[error("route path {0:?}: empty variable name")]
    EmptyVariable(String),
    #[error("route method {0:?} is not an HTTP method")]
    BadMethod(String),
}

#[derive(Debug)]
pub struct Route {
    /// As API Gateway writes it: `GET /api/v1/users/{userId}/orders`, `ANY /{proxy+}`, `$default`.
    pub key: String,
    /// `None` means `ANY`.
    method: Option<Method>,
    path: RoutePath,
    pub target: Arc<Target>,
    /// The id of the HttpApi the route belongs to.
    pub api_id: String,
    /// Routes behind `AWS_IAM` authorization (served unchecked locally).
    pub iam_auth: bool,
}

impl Route {
    /// A route from a SAM HttpApi event: no path and no method (or `$default`) is the
    /// `$default` route; no method is `ANY`.
    pub fn new(
        method: Option<&str>,
        path: Option<&str>,
        target: Arc<Target>,
        api_id: String,
        iam_auth: bool,
    ) -> Result<Self, RouteError> {
        let method = match method.map(str::trim) {
            None | Some("") => None,
            Some(m) if m.eq_ignore_ascii_case("ANY") || m == "*" => None,
            Some(m) => Some(
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| RouteError::BadMethod(m.to_owned()))?,
            ),
        };
        let (path, key) = match path {
            None | Some("$default") => (RoutePath::Default, "$default".to_owned()),
            Some(path) => {
                let method_text = method.as_ref().map_or("ANY", Method::as_str);
                (parse_template(path)?, format!("{method_text} {path}"))
            }
        };
        Ok(Self {
            key,
            method,
            path,
            target,
            api_id,
            iam_auth,
        })
    }

    /// The path parameters if this route serves `method` on `path` (a raw, still
    /// percent-encoded request path).
    fn matches(&self, method: &Method, path: &str) -> Option<HashMap<String, String>> {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return None;
        }
        let RoutePath::Template(template) = &self.path else {
            return Some(HashMap::new());
        };
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let mut parameters = HashMap::new();
        for (i, segment) in template.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if segments.get(i) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::Variable(name) => {
                    let value = segments.get(i).filter(|s| !s.is_empty())?;
                    parameters.insert(name.clone(), decode(value));
                }
                Segment::Greedy(name) => {
                    let rest = segments.get(i..).map(|s| s.join("/"))?;
                    if rest.is_empty() {
                        return None;
                    }
                    parameters.insert(name.clone(), decode(&rest));
                    return Some(parameters);
                }
            }
        }
        (segments.len() == template.len()).then_some(parameters)
    }

    /// The order in which API Gateway prefers matching routes (lower first).
    fn precedence(&self, other: &Self) -> Ordering {
        match (&self.path, &other.path) {
            (RoutePath::Default, RoutePath::Default) => Ordering::Equal,
            (RoutePath::Default, _) => Ordering::Greater,
            (_, RoutePath::Default) => Ordering::Less,
            (RoutePath::Template(a), RoutePath::Template(b)) => {
                let greedy = |t: &[Segment]| t.iter().any(|s| matches!(s, Segment::Greedy(_)));
                let literals = |t: &[Segment]| {
                    t.iter()
                        .filter(|s| matches!(s, Segment::Literal(_)))
                        .count()
                };
                greedy(a)
                    .cmp(&greedy(b))
                    .then_with(|| literals(b).cmp(&literals(a)))
                    .then_with(|| {
                        let ranks = |t: &[Segment]| t.iter().map(Segment::rank).collect::<Vec<_>>();
                        ranks(a).cmp(&ranks(b))
                    })
                    .then_with(|| self.method.is_none().cmp(&other.method.is_none()))
            }
        }
    }
}

fn parse_template(path: &str) -> Result<RoutePath, RouteError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(RouteError::NotAbsolute(path.to_owned()));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => match name.strip_suffix('+') {
                Some(greedy) if i + 1 == parts.len() => Segment::Greedy(greedy.to_owned()),
                Some(_) => return Err(RouteError::GreedyNotLast(path.to_owned())),
                None => Segment::Variable(name.to_owned()),
            },
            None => Segment::Literal((*part).to_owned()),
        };
        if matches!(&segment, Segment::Variable(n) | Segment::Greedy(n) if n.is_empty()) {
            return Err(RouteError::EmptyVariable(path.to_owned()));
        }
        segments.push(segment);
    }
    Ok(RoutePath::Template(segments))
}

fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// The routes of every HttpApi, in the order they are tried.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// A route chosen for a request, with its path parameters.
pub struct Matched<'a> {
    pub route: &'a Route,
    pub path_parameters: HashMap<String, String>,
}

impl RouteTable {
    pub fn new(mut routes: Vec<Route>) -> Self {
        routes.sort_by(Route::precedence);
        Self { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route API Gateway would pick for `method` and the raw request `path`.
    pub fn find(&self, method: &Method, path: &str) -> Option<Matched<'_>> {
        self.routes.iter().find_map(|route| {
            route.matches(method, path).map(|path_parameters| Matched {
                route,
                path_parameters,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        let target = Arc::new(Target {
            logical_id: format!("{method} {path}"),
            invoke_name: format!("{method} {path}"),
        });
        let (method, path) = (Some(method), (path != "$default").then_some(path));
        match Route::new(method, path, target, "api".into(), false) {
            Ok(route) => route,
            Err(e) => panic!("bad route in test: {e}"),
        }
    }

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        RouteTable::new(routes.iter().map(|(m, p)| route(m, p)).collect())
    }

    fn chosen(
        table: &RouteTable,
        method: Method,
        path: &str,
    ) -> Option<(String, Vec<(String, String)>)> {
        table.find(&method, path).map(|m| {
            let mut parameters: Vec<_> = m.path_parameters.into_iter().collect();
            parameters.sort();
            (m.route.key.clone(), parameters)
        })
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn path_variables_become_path_parameters() {
        let t = table(&[("GET", "/api/v1/users/{userId}/orders/{orderId}")]);
        assert_eq!(
            chosen(&t, Method::GET, "/api/v1/users/u-1/orders/o-2"),
            Some((
                "GET /api/v1/users/{userId}/orders/{orderId}".into(),
                params(&[("orderId", "o-2"), ("userId", "u-1")])
            ))
        );
    }

    #[test]
    fn path_parameters_are_percent_decoded() {
        let t = table(&[("GET", "/users/{userId}")]);
        let found = chosen(&t, Method::GET, "/users/J%C3%BCrgen%20K");
        assert_eq!(found.map(|f| f.1), Some(params(&[("userId", "Jürgen K")])));
    }

    #[test]
    fn a_path_with_more_or_fewer_segments_does_not_match() {
        let t = table(&[("GET", "/users/{userId}/orders")]);
        assert_eq!(chosen(&t, Method::GET, "/users/u1/orders/o1"), None);
        assert_eq!(chosen(&t, Method::GET, "/users/u1"), None);
        assert_eq!(chosen(&t, Method::GET, "/users//orders"), None);
        assert_eq!(chosen(&t, Method::GET, "/users/u1/orders/"), None);
    }

    #[test]
    fn another_method_does_not_match() {
        let t = table(&[("GET", "/orders")]);
        assert_eq!(chosen(&t, Method::POST, "/orders"), None);
    }

    #[test]
    fn an_exact_method_beats_any() {
        let t = table(&[("ANY", "/orders"), ("POST", "/orders")]);
        assert_eq!(
            chosen(&t, Method::POST, "/orders").map(|f| f.0),
            Some("POST /orders".into())
        );
        assert_eq!(
            chosen(&t, Method::GET, "/orders").map(|f| f.0),
            Some("ANY /orders".into())
        );
    }

    #[test]
    fn a_route_with_more_literal_segments_beats_one_with_variables() {
        let t = table(&[
            ("GET", "/users/{userId}/orders/{orderId}"),
            ("GET", "/users/{userId}/orders/latest"),
            ("GET", "/users/{userId}/{kind}/{id}"),
        ]);
        assert_eq!(
            chosen(&t, Method::GET, "/users/u1/orders/latest").map(|f| f.0),
            Some("GET /users/{userId}/orders/latest".into())
        );
        assert_eq!(
            chosen(&t, Method::GET, "/users/u1/orders/o9").map(|f| f.0),
            Some("GET /users/{userId}/orders/{orderId}".into())
        );
        assert_eq!(
            chosen(&t, Method::GET, "/users/u1/carts/c1").map(|f| f.0),
            Some("GET /users/{userId}/{kind}/{id}".into())
        );
    }

    #[test]
    fn a_literal_segment_beats_a_variable_in_the_same_place() {
        let t = table(&[("GET", "/{a}/b"), ("GET", "/a/{b}")]);
        assert_eq!(
            chosen(&t, Method::GET, "/a/b").map(|f| f.0),
            Some("GET /a/{b}".into())
        );
    }

    #[test]
    fn a_greedy_variable_takes_the_rest_of_the_path_and_comes_last() {
        let t = table(&[
            ("ANY", "/static/{proxy+}"),
            ("GET", "/static/{file}"),
            ("ANY", "/{proxy+}"),
        ]);
        assert_eq!(
            chosen(&t, Method::GET, "/static/app.js"),
            Some(("GET /static/{file}".into(), params(&[("file", "app.js")])))
        );
        assert_eq!(
            chosen(&t, Method::GET, "/static/css/a%20b.css"),
            Some((
                "ANY /static/{proxy+}".into(),
                params(&[("proxy", "css/a b.css")])
            ))
        );
        assert_eq!(
            chosen(&t, Method::DELETE, "/anything/else"),
            Some((
                "ANY /{proxy+}".into(),
                params(&[("proxy", "anything/else")])
            ))
        );
        assert_eq!(chosen(&t, Method::GET, "/").map(|f| f.0), None);
    }

    #[test]
    fn default_is_taken_only_when_nothing_else_matches() {
        let t = table(&[("ANY", "$default"), ("ANY", "/{proxy+}"), ("GET", "/")]);
        assert_eq!(
            chosen(&t, Method::GET, "/").map(|f| f.0),
            Some("GET /".into())
        );
        assert_eq!(
            chosen(&t, Method::GET, "/x").map(|f| f.0),
            Some("ANY /{proxy+}".into())
        );
        assert_eq!(
            chosen(&t, Method::POST, "/").map(|f| f.0),
            Some("$default".into())
        );
    }

    #[test]
    fn an_event_without_path_and_method_is_the_default_route() -> Result<(), RouteError> {
        let target = Arc::new(Target {
            logical_id: "Web".into(),
            invoke_name: "web".into(),
        });
        let route = Route::new(None, None, target, "api".into(), false)?;
        assert_eq!(route.key, "$default");
        Ok(())
    }

    #[test]
    fn bad_route_paths_are_rejected() {
        let target = Arc::new(Target {
            logical_id: "F".into(),
            invoke_name: "f".into(),
        });
        let new =
            |path: &str| Route::new(Some("GET"), Some(path), target.clone(), "a".into(), false);
        assert!(matches!(new("orders"), Err(RouteError::NotAbsolute(_))));
        assert!(matches!(
            new("/{proxy+}/x"),
            Err(RouteError::GreedyNotLast(_))
        ));
        assert!(matches!(new("/{}"), Err(RouteError::EmptyVariable(_))));
    }
}
