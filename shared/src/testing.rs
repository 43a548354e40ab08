//! Test helpers (feature `test-util`): the emulator's settings, API Gateway v2 requests,
//! and response bodies. Panics here are test failures with a message that says what to do.

use std::collections::HashMap;
use std::path::PathBuf;

use lambda_http::{Body, Request, Response};

/// The local stack's settings: the process environment, else `.local/functions.env`
/// written by `localstack/deploy.py` (so `cargo test` works after `make run`).
pub fn local_env(name: &str) -> String {
    if let Ok(value) = std::env::var(name) {
        return value;
    }
    let file = workspace_root().join(".local/functions.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|_| {
        panic!(
            "{name} is not set and {} does not exist: start the local stack first (`make run`, or run the tests with `make test`)",
            file.display()
        )
    });
    let vars: HashMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    vars.get(name)
        .map(|v| (*v).to_owned())
        .unwrap_or_else(|| panic!("{name} is missing from {}", file.display()))
}

pub fn workspace_root() -> PathBuf {
    // shared/ sits directly under the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// SDK config pointing at the emulator named by the local stack's settings.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let endpoint = local_env("AWS_ENDPOINT_URL");
    let region = local_env("AWS_REGION");
    crate::aws::loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_credential_types::Credentials::from_keys(
            "test", "test", None,
        ))
        .load()
        .await
}

/// An HTTP client for calls to the local stack's API.
pub fn http() -> reqwest::Client {
    crate::client::http_builder()
        .and_then(|builder| builder.build().map_err(crate::client::CallError::Build))
        .unwrap_or_else(|e| panic!("cannot build an HTTP client: {e}"))
}

/// An API Gateway HTTP API (payload 2.0) request as `lambda_http` receives it.
pub struct ApiRequest {
    event: serde_json::Value,
}

impl ApiRequest {
    /// `route` is the template's path (`/api/v1/users/{userId}/orders`); `params` fill it.
    #[allow(clippy::disallowed_methods)] // A test request's id: nothing decides on it.
    pub fn new(method: &str, route: &str, params: &[(&str, &str)]) -> Self {
        let mut path = route.to_owned();
        let mut path_parameters = serde_json::Map::new();
        for (name, value) in params {
            path = path.replace(&format!("{{{name}}}"), value);
            path_parameters.insert((*name).to_owned(), (*value).into());
        }
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": format!("{method} {route}"),
            "rawPath": path,
            "rawQueryString": "",
            "headers": { "content-type": "application/json" },
            "pathParameters": path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test" },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": format!("{method} {route}"),
                "stage": "$default",
                "time": "25/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1_795_000_000_000_i64
            },
            "isBase64Encoded": false
        });
        Self { event }
    }

    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        let raw: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.replace('%', "%25")
                        .replace('&', "%26")
                        .replace(' ', "%20")
                )
            })
            .collect();
        let mut params = serde_json::Map::new();
        for (k, v) in pairs {
            params.insert((*k).to_owned(), (*v).into());
        }
        self.event["rawQueryString"] = raw.join("&").into();
        self.event["queryStringParameters"] = params.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = value.into();
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.event["body"] = body.into();
        self
    }

    pub fn build(self) -> Request {
        from_event_json(&self.event.to_string())
    }
}

/// Parses an event file's JSON (as in `events/`) into a request.
pub fn from_event_json(json: &str) -> Request {
    lambda_http::request::from_str(json).unwrap_or_else(|e| panic!("not an API Gateway event: {e}"))
}

/// The body of a response as JSON; panics (fails the test) if it is not JSON.
pub fn body_json(response: &Response<Body>) -> serde_json::Value {
    let bytes: &[u8] = match response.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "response body is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// Asserts a problem+json response with `status`, and returns its body.
pub fn assert_problem(response: &Response<Body>, status: u16) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "body: {:?}",
        response.body()
    );
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some(crate::problem::CONTENT_TYPE)
    );
    let body = body_json(response);
    assert_eq!(body["status"], status);
    body
}

/// The sample events of one function, `events/<function>/*.json`, named
/// `<function>/<file>.json`, sorted.
pub fn sample_events(function: &str) -> Vec<String> {
    let dir = workspace_root().join("events").join(function);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .map(|name| format!("{function}/{name}"))
        .collect();
    files.sort();
    files
}

/// The text of a sample event named as `sample_events` names it.
pub fn read_sample(file: &str) -> String {
    let path = workspace_root().join("events").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A sample's expected status from a test's table; a sample missing from it fails the test.
pub fn expected_status(table: &[(&str, u16)], file: &str) -> u16 {
    table
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, status)| *status)
        .unwrap_or_else(|| {
            panic!("events/{file} has no expected status in its crate's tests/api/events.rs")
        })
}

/// The functions template.yaml deploys from the binaries of the crate at `manifest_dir`
/// (its `src/bin/<binary>.rs`), named by binary, sorted.
pub fn template_functions_of(manifest_dir: &str) -> Vec<String> {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bins = std::path::Path::new(manifest_dir).join("src").join("bin");
    let mut functions: Vec<String> = template["Resources"]
        .as_mapping()
        .into_iter()
        .flat_map(|resources| resources.values())
        .filter(|resource| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter_map(|resource| resource["Metadata"]["BuildProperties"]["Binary"].as_str())
        .filter(|binary| bins.join(format!("{binary}.rs")).is_file())
        .map(str::to_owned)
        .collect();
    functions.sort();
    functions
}

/// Fails unless every function template.yaml deploys from this crate has samples in
/// `events/<function>/` and is one of the functions whose samples the test sends (`tested`).
pub fn assert_every_template_function_has_samples(manifest_dir: &str, tested: &[&str]) {
    let functions = template_functions_of(manifest_dir);
    assert!(
        !functions.is_empty(),
        "template.yaml deploys nothing from {manifest_dir}"
    );
    for function in &functions {
        let dir = workspace_root().join("events").join(function);
        assert!(
            dir.is_dir() && !sample_events(function).is_empty(),
            "template.yaml deploys {function} but events/{function}/ has no sample event"
        );
        assert!(
            tested.contains(&function.as_str()),
            "the samples of {function} are not sent through its handler by this crate's events test"
        );
    }
}

/// One contract suite for a port: each case, an `async fn case(port: &impl Port)`, runs
/// once against `fake` and once against `adapter` (expressions, awaited inside each test),
/// so the fake keeps the adapter's rules.
#[macro_export]
macro_rules! contract_tests {
    (fake: $fake:expr, adapter: $adapter:expr, cases: [$($case:ident),* $(,)?]) => {
        mod fake {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&$fake).await;
                }
            )*
        }
        mod adapter {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&$adapter).await;
                }
            )*
        }
    };
}
