//! AWS API calls, counted where they land: moto's request recorder
//! (`/moto-api/recorder/*`) logs every request the emulator receives. Each call is
//! classified by service (the SigV4 credential scope), operation (the `X-Amz-Target`
//! header, the query protocol's `Action`, or the REST method and path) and origin: the
//! bench itself (its SDK calls carry `app/bench` in the User-Agent), a function (the SDK
//! adds `X-Amzn-Trace-Id` inside a Lambda invocation), or something else (the local runner).

use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Function,
    Bench,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub origin: Origin,
    pub service: String,
    pub operation: String,
    /// DynamoDB: the table; other services: empty.
    pub resource: String,
    /// Request units (DynamoDB items written/read, batch and transaction sizes counted).
    pub units: u64,
}

/// Why the calls cannot be counted in this run, if they cannot.
pub fn unavailable_reason(root: &Path) -> Option<String> {
    let pid_file = root.join(".local/pids/emulator.pid");
    let Ok(pid) = std::fs::read_to_string(&pid_file) else {
        return Some(format!(
            "the emulator was not started by localstack/stack.sh ({} is missing)",
            pid_file.display()
        ));
    };
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains("ministack") {
        return Some(
            "the emulator is MiniStack, which has no request recorder (moto's was used \
             until the engine changed; its last counts are in the git history of BENCHMARKS.md)"
                .to_owned(),
        );
    }
    let environ = match std::fs::read(format!("/proc/{}/environ", pid.trim())) {
        Ok(bytes) => bytes,
        Err(e) => return Some(format!("cannot read the emulator's environment: {e}")),
    };
    let set = environ
        .split(|b| *b == 0)
        .any(|var| var.starts_with(b"MOTO_RECORDER_FILEPATH="));
    if set {
        None
    } else {
        Some(
            "the running emulator was started without MOTO_RECORDER_FILEPATH, so its \
             recording would land in the repository root; stop the stack and run \
             `make bench`, which starts it with a recording file under .local/"
                .to_owned(),
        )
    }
}

pub struct Recorder {
    endpoint: String,
    http: reqwest::Client,
}

impl Recorder {
    pub fn new(endpoint: &str) -> anyhow::Result<Self> {
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http: shared::client::http_builder()?.build()?,
        })
    }

    async fn post(&self, action: &str) -> anyhow::Result<String> {
        let url = format!("{}/moto-api/recorder/{action}", self.endpoint);
        let response = self
            .http
            .post(&url)
            .send()
            .await
            .with_context(|| url.clone())?;
        if !response.status().is_success() {
            bail!("{url} answered {}", response.status());
        }
        Ok(response.text().await?)
    }

    pub async fn start(&self) -> anyhow::Result<()> {
        self.post("reset-recording").await?;
        self.post("start-recording").await?;
        Ok(())
    }

    pub async fn stop(&self) -> anyhow::Result<Vec<Call>> {
        self.post("stop-recording").await?;
        let url = format!("{}/moto-api/recorder/download-recording", self.endpoint);
        let text = self.http.get(&url).send().await?.text().await?;
        // Leave no large file behind.
        self.post("reset-recording").await?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|entry| classify(&entry))
            .collect())
    }
}

fn header<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn body(entry: &Value) -> String {
    let raw = entry
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if entry.get("body_encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else {
        raw.to_owned()
    }
}

/// One recorded request as a call; `None` for requests that are not AWS API calls
/// (moto's own API).
pub fn classify(entry: &Value) -> Option<Call> {
    let url = entry.get("url").and_then(Value::as_str).unwrap_or_default();
    if url.contains("/moto-api/") {
        return None;
    }
    // Credential=AKID/20260101/us-east-1/dynamodb/aws4_request
    let service = header(entry, "authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_owned();
    let user_agent = header(entry, "user-agent").unwrap_or_default();
    let origin = if user_agent.contains("app/bench") {
        Origin::Bench
    } else if header(entry, "x-amzn-trace-id").is_some() {
        Origin::Function
    } else {
        Origin::Other
    };
    let text = body(entry);
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let operation = if let Some(target) = header(entry, "x-amz-target") {
        target.rsplit('.').next().unwrap_or(target).to_owned()
    } else if let Some(action) = form_value(&text, "Action") {
        action
    } else {
        rest_operation(entry, &service, url)
    };
    let resource = json
        .get("TableName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            json.get("RequestItems")
                .and_then(Value::as_object)
                .and_then(|m| m.keys().next().cloned())
        })
        .unwrap_or_default();
    let units = request_units(&operation, &json);
    Some(Call {
        origin,
        service,
        operation,
        resource,
        units,
    })
}

fn form_value(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| v.to_owned())
    })
}

/// REST services (Scheduler, SES v2, Lambda): the operation from method and path.
fn rest_operation(entry: &Value, service: &str, url: &str) -> String {
    let method = entry.get("method").and_then(Value::as_str).unwrap_or("?");
    let path = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (service, method, segments.as_slice()) {
        ("scheduler", "POST", ["schedules", _]) => "CreateSchedule".into(),
        ("scheduler", "GET", ["schedules", _]) => "GetSchedule".into(),
        ("scheduler", "GET", ["schedules"]) => "ListSchedules".into(),
        ("scheduler", "PUT", ["schedules", _]) => "UpdateSchedule".into(),
        ("scheduler", "DELETE", ["schedules", _]) => "DeleteSchedule".into(),
        ("ses", "POST", ["v2", "email", "outbound-emails"]) => "SendEmail".into(),
        ("lambda", "POST", [_, "functions", _, "invocations"]) => "Invoke".into(),
        _ => format!(
            "{method} /{}",
            segments.first().copied().unwrap_or_default()
        ),
    }
}

/// DynamoDB request units of a call with items under 1 KB (writes) and 4 KB (reads),
/// counting a read as one unit (strongly consistent; eventually consistent is half).
fn request_units(operation: &str, json: &Value) -> u64 {
    let items_of = |key: &str| -> u64 {
        json.get(key)
            .and_then(Value::as_object)
            .map(|tables| {
                tables
                    .values()
                    .map(|v| {
                        v.as_array()
                            .map(|a| a.len() as u64)
                            .or_else(|| {
                                v.get("Keys")
                                    .and_then(Value::as_array)
                                    .map(|a| a.len() as u64)
                            })
                            .unwrap_or(1)
                    })
                    .sum()
            })
            .unwrap_or(1)
    };
    let transact = || -> u64 {
        2 * json
            .get("TransactItems")
            .and_then(Value::as_array)
            .map(|a| a.len() as u64)
            .unwrap_or(1)
    };
    match operation {
        "BatchWriteItem" => items_of("RequestItems"),
        "BatchGetItem" => items_of("RequestItems"),
        "TransactWriteItems" | "TransactGetItems" => transact(),
        _ => 1,
    }
}

/// Whether the operation writes (DynamoDB write request units) or reads.
pub fn is_dynamodb_write(operation: &str) -> bool {
    matches!(
        operation,
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dynamodb_call_from_a_function_is_classified_by_its_target_and_table() {
        let entry = json!({
            "method": "POST",
            "url": "http://127.0.0.1:4566/",
            "headers": {
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
                "X-Amz-Target": "DynamoDB_20120810.UpdateItem",
                "X-Amzn-Trace-Id": "Root=1-2-3",
                "User-Agent": "aws-sdk-rust/1.3 os/linux lang/rust/1.95"
            },
            "body": "{\"TableName\":\"checkout-local-OrdersTable\"}",
            "body_encoded": false
        });
        let call = classify(&entry).unwrap();
        assert_eq!(call.origin, Origin::Function);
        assert_eq!(
            (call.service.as_str(), call.operation.as_str()),
            ("dynamodb", "UpdateItem")
        );
        assert_eq!(call.resource, "checkout-local-OrdersTable");
        assert_eq!(call.units, 1);
    }

    #[test]
    fn the_bench_s_own_calls_and_rest_calls_are_told_apart() {
        let entry = json!({
            "method": "POST",
            "url": "http://127.0.0.1:4566/schedules/abc?x=1",
            "headers": {
                "authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/scheduler/aws4_request",
                "user-agent": "aws-sdk-rust/1.3 app/bench"
            },
            "body": base64::engine::general_purpose::STANDARD.encode("{}"),
            "body_encoded": true
        });
        let call = classify(&entry).unwrap();
        assert_eq!(call.origin, Origin::Bench);
        assert_eq!(call.operation, "CreateSchedule");
    }

    #[test]
    fn a_batch_write_counts_one_unit_per_item() {
        let body = json!({"RequestItems": {"t": [{"PutRequest": {}}, {"PutRequest": {}}, {"PutRequest": {}}]}});
        assert_eq!(request_units("BatchWriteItem", &body), 3);
        let tx = json!({"TransactItems": [{}, {}]});
        assert_eq!(request_units("TransactWriteItems", &tx), 4);
    }

    #[test]
    fn the_query_protocol_names_its_action_in_the_body() {
        let entry = json!({
            "method": "POST",
            "url": "http://127.0.0.1:4566/",
            "headers": {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request"},
            "body": "Action=Publish&TopicArn=arn",
            "body_encoded": false
        });
        assert_eq!(classify(&entry).unwrap().operation, "Publish");
    }

    #[test]
    fn moto_s_own_api_is_not_a_call() {
        let entry = json!({"method": "GET", "url": "http://127.0.0.1:4566/moto-api/data.json", "headers": {}});
        assert!(classify(&entry).is_none());
    }
}
