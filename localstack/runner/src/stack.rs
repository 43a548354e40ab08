//! The stack as `localstack/provision.py` describes it in `.local/stack.json`: the template
//! with every intrinsic resolved and each resource's physical id and attributes. Only what
//! the runner acts on is typed; everything else stays JSON.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::Value;

const FUNCTION_TYPES: [&str; 2] = ["AWS::Serverless::Function", "AWS::Lambda::Function"];
const HTTP_API_TYPES: [&str; 2] = ["AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stack {
    pub stack_name: String,
    pub region: String,
    pub account_id: String,
    /// The AWS emulator, for the event sources that poll it.
    pub endpoint_url: String,
    /// Where functions were told the HttpApis are served.
    pub api_url: String,
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub properties: Value,
    #[serde(default)]
    pub metadata: Value,
    /// What `!Ref` returns.
    #[serde(default)]
    pub physical_id: Value,
    /// What `!GetAtt` returns (a function's Arn, to find the function a schedule targets).
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

/// How the Lambda endpoint names functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FunctionNames {
    /// `Metadata.BuildProperties.Binary`, as `cargo lambda watch` serves them.
    Binary,
    /// The template logical id, as `sam local start-lambda` and LocalStack serve them.
    LogicalId,
}

/// A function of the stack and the events that trigger it.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// The name to pass to the Invoke API.
    pub invoke_name: String,
    /// `!GetAtt <LogicalId>.Arn`: how schedules and other AWS targets name it.
    pub arn: Option<String>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub source: EventSource,
}

/// The event sources the runner knows; the others are listed as not served.
#[derive(Debug, Clone)]
pub enum EventSource {
    HttpApi(HttpApiEvent),
    Other { kind: String },
}

/// `Type: HttpApi` event properties (SAM).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpApiEvent {
    /// Physical id of the API; absent means SAM's implicit `ServerlessHttpApi`.
    #[serde(default)]
    pub api_id: Option<String>,
    /// Absent with `Path` absent means the `$default` route.
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub auth: Option<RouteAuth>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteAuth {
    #[serde(default)]
    pub authorizer: Option<String>,
}

/// One HttpApi of the stack.
#[derive(Debug, Clone)]
pub struct HttpApi {
    pub logical_id: String,
    pub api_id: String,
    /// `Auth.DefaultAuthorizer`, applied to routes that name none.
    pub default_authorizer: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventDefinition {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    properties: Value,
}

impl Stack {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read {}; run `.venv/bin/python localstack/provision.py` first",
                path.display()
            )
        })?;
        Self::parse(&text).with_context(|| format!("{} is not a stack description", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(serde_json::from_str(text)?)
    }

    /// Every function, with the name the Lambda endpoint serves it under.
    pub fn functions(&self, names: FunctionNames) -> anyhow::Result<Vec<Function>> {
        let mut functions = Vec::new();
        for (logical_id, resource) in &self.resources {
            if !FUNCTION_TYPES.contains(&resource.kind.as_str()) {
                continue;
            }
            let binary = resource
                .metadata
                .pointer("/BuildProperties/Binary")
                .and_then(Value::as_str);
            let invoke_name = match (names, binary) {
                (FunctionNames::Binary, Some(binary)) => binary.to_owned(),
                (FunctionNames::Binary, None) => {
                    tracing::warn!(
                        function = %logical_id,
                        "no Metadata.BuildProperties.Binary: invoking it by its logical id"
                    );
                    logical_id.clone()
                }
                (FunctionNames::LogicalId, _) => logical_id.clone(),
            };
            functions.push(Function {
                logical_id: logical_id.clone(),
                invoke_name,
                arn: resource
                    .attributes
                    .get("Arn")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                events: events_of(logical_id, &resource.properties)?,
            });
        }
        Ok(functions)
    }

    /// Every HttpApi resource.
    pub fn http_apis(&self) -> Vec<HttpApi> {
        self.resources
            .iter()
            .filter(|(_, r)| HTTP_API_TYPES.contains(&r.kind.as_str()))
            .map(|(logical_id, r)| HttpApi {
                logical_id: logical_id.clone(),
                api_id: r.physical_id.as_str().unwrap_or(logical_id).to_owned(),
                default_authorizer: r
                    .properties
                    .pointer("/Auth/DefaultAuthorizer")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .collect()
    }
}

fn events_of(logical_id: &str, properties: &Value) -> anyhow::Result<Vec<Event>> {
    let Some(events) = properties.get("Events") else {
        return Ok(Vec::new());
    };
    let events: BTreeMap<String, EventDefinition> = serde_json::from_value(events.clone())
        .with_context(|| format!("{logical_id}.Properties.Events"))?;
    events
        .into_iter()
        .map(|(name, definition)| {
            let source = match definition.kind.as_str() {
                "HttpApi" => EventSource::HttpApi(
                    serde_json::from_value(normalize_null(definition.properties))
                        .with_context(|| format!("{logical_id}.Properties.Events.{name}"))?,
                ),
                _ => EventSource::Other {
                    kind: definition.kind,
                },
            };
            Ok(Event { name, source })
        })
        .collect()
}

/// An event with no Properties deserializes as its defaults.
fn normalize_null(value: Value) -> Value {
    if value.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = r#"{
      "StackName": "checkout-local", "Region": "us-east-1", "AccountId": "123456789012",
      "EndpointUrl": "http://127.0.0.1:4566", "ApiUrl": "http://127.0.0.1:3000",
      "Resources": {
        "HttpApi": {"Type": "AWS::Serverless::HttpApi", "PhysicalId": "abc123",
                    "Properties": {"Auth": {"EnableIamAuthorizer": true}}, "Attributes": {}},
        "OrderGetFunction": {
          "Type": "AWS::Serverless::Function", "PhysicalId": "checkout-local-OrderGetFunction",
          "Attributes": {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:checkout-local-OrderGetFunction"},
          "Metadata": {"BuildProperties": {"Binary": "order-get"}},
          "Properties": {"Events": {
            "Get": {"Type": "HttpApi", "Properties": {"ApiId": "abc123", "Method": "GET",
                    "Path": "/orders/{orderId}", "Auth": {"Authorizer": "AWS_IAM"}}},
            "Queue": {"Type": "SQS", "Properties": {"Queue": "arn:aws:sqs:us-east-1:1:q"}}
          }}
        },
        "CatchAllFunction": {"Type": "AWS::Serverless::Function",
          "Properties": {"Events": {"All": {"Type": "HttpApi"}}}},
        "OrdersTable": {"Type": "AWS::DynamoDB::Table", "PhysicalId": "t"}
      }
    }"#;

    #[test]
    fn functions_are_named_by_their_binary_or_their_logical_id() -> anyhow::Result<()> {
        let stack = Stack::parse(STACK)?;
        let by_binary: Vec<_> = stack
            .functions(FunctionNames::Binary)?
            .into_iter()
            .map(|f| f.invoke_name)
            .collect();
        assert_eq!(by_binary, ["CatchAllFunction", "order-get"]);
        let by_id: Vec<_> = stack
            .functions(FunctionNames::LogicalId)?
            .into_iter()
            .map(|f| f.invoke_name)
            .collect();
        assert_eq!(by_id, ["CatchAllFunction", "OrderGetFunction"]);
        Ok(())
    }

    #[test]
    fn http_api_events_are_typed_and_other_events_are_kept_by_type() -> anyhow::Result<()> {
        let stack = Stack::parse(STACK)?;
        let functions = stack.functions(FunctionNames::Binary)?;
        let get = &functions[1];
        let EventSource::HttpApi(event) = &get.events[0].source else {
            panic!("expected an HttpApi event, got {:?}", get.events[0]);
        };
        assert_eq!(event.path.as_deref(), Some("/orders/{orderId}"));
        assert_eq!(
            event.auth.as_ref().and_then(|a| a.authorizer.as_deref()),
            Some("AWS_IAM")
        );
        assert!(matches!(&get.events[1].source, EventSource::Other { kind } if kind == "SQS"));
        let EventSource::HttpApi(catch_all) = &functions[0].events[0].source else {
            panic!("expected an HttpApi event");
        };
        assert!(catch_all.path.is_none() && catch_all.method.is_none());
        Ok(())
    }

    #[test]
    fn functions_carry_their_arn_when_the_stack_has_one() -> anyhow::Result<()> {
        let functions = Stack::parse(STACK)?.functions(FunctionNames::Binary)?;
        assert_eq!(functions[0].arn, None);
        assert_eq!(
            functions[1].arn.as_deref(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:checkout-local-OrderGetFunction")
        );
        Ok(())
    }

    #[test]
    fn http_apis_are_listed_with_their_physical_id() -> anyhow::Result<()> {
        let apis = Stack::parse(STACK)?.http_apis();
        assert_eq!(apis.len(), 1);
        assert_eq!(apis[0].api_id, "abc123");
        Ok(())
    }
}
