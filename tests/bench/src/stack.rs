//! What the bench reads about the project: the functions of template.yaml, and the stack
//! that `localstack/deploy.py` deployed (`.local/stack.json`, `.local/functions.env`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

/// A function of the template: its logical id and the binary that implements it.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    pub binary: String,
}

/// Every function named in template.yaml's `Metadata.BuildProperties.Binary`, in
/// template order. Read from the template so that new functions are measured unasked.
pub fn template_functions(root: &Path) -> anyhow::Result<Vec<Function>> {
    let path = root.join("template.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let Some(resources) = template.get("Resources").and_then(|r| r.as_mapping()) else {
        bail!("{} has no Resources", path.display());
    };
    let mut functions = Vec::new();
    for (id, resource) in resources {
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(|b| b.as_str());
        if let (Some(id), Some(binary)) = (id.as_str(), binary) {
            functions.push(Function {
                logical_id: id.to_owned(),
                binary: binary.to_owned(),
            });
        }
    }
    if functions.is_empty() {
        bail!("no function of {} names a Binary", path.display());
    }
    Ok(functions)
}

/// `.local/functions.env`: the emulator's endpoint and credentials, and every
/// function's variables (table names...).
pub fn functions_env(root: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let path = root.join(".local/functions.env");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (start the stack: bash localstack/stack.sh up)",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), unquote(v.trim()).to_owned()))
        .collect())
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value)
}

/// `.local/stack.json`: the stack's parameters and resources as CloudFormation deployed
/// them (each function's configuration, each table's keys).
pub struct Stack {
    json: Value,
    pub path: PathBuf,
}

impl Stack {
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let path = root.join(".local/stack.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (start the stack: bash localstack/stack.sh up)",
                path.display()
            )
        })?;
        let json =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Self { json, path })
    }

    fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.json.get("Resources")?.get(logical_id)
    }

    /// The function's name on AWS (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn physical_id(&self, logical_id: &str) -> Option<String> {
        self.resource(logical_id)?
            .get("PhysicalId")?
            .as_str()
            .map(str::to_owned)
    }

    /// The function's `Environment.Variables`, as the template gives them to it on AWS.
    pub fn function_env(&self, logical_id: &str) -> BTreeMap<String, String> {
        self.resource(logical_id)
            .and_then(|r| r.pointer("/Properties/Environment/Variables"))
            .and_then(Value::as_object)
            .map(|vars| vars.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
            .unwrap_or_default()
    }

    pub fn memory_size(&self, logical_id: &str) -> u64 {
        self.resource(logical_id)
            .and_then(|r| r.pointer("/Properties/MemorySize"))
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(128)
    }

    pub fn architectures(&self, logical_id: &str) -> Vec<String> {
        self.resource(logical_id)
            .and_then(|r| r.pointer("/Properties/Architectures"))
            .and_then(Value::as_array)
            .map(|a| a.iter().map(scalar).collect())
            .unwrap_or_else(|| vec!["x86_64".to_owned()])
    }

    pub fn parameter(&self, name: &str) -> Option<String> {
        self.json.get("Parameters")?.get(name).map(scalar)
    }

    /// The key schema and attribute definitions of the table deployed as `physical`.
    pub fn table_schema(&self, physical: &str) -> anyhow::Result<TableSchema> {
        let resources = self
            .json
            .get("Resources")
            .and_then(Value::as_object)
            .context("stack.json has no Resources")?;
        let (id, table) = resources
            .iter()
            .find(|(_, r)| r.get("PhysicalId").and_then(Value::as_str) == Some(physical))
            .with_context(|| {
                format!(
                    "no resource of {} is the table {physical}",
                    self.path.display()
                )
            })?;
        let pairs =
            |list: &str, name: &str, value: &str| -> anyhow::Result<Vec<(String, String)>> {
                table
                    .pointer(&format!("/Properties/{list}"))
                    .and_then(Value::as_array)
                    .with_context(|| format!("{id} has no {list}"))?
                    .iter()
                    .map(|e| {
                        Ok((
                            e.get(name)
                                .map(scalar)
                                .with_context(|| format!("{id}.{list}: no {name}"))?,
                            e.get(value)
                                .map(scalar)
                                .with_context(|| format!("{id}.{list}: no {value}"))?,
                        ))
                    })
                    .collect()
            };
        Ok(TableSchema {
            logical_id: id.clone(),
            key_schema: pairs("KeySchema", "AttributeName", "KeyType")?,
            attributes: pairs("AttributeDefinitions", "AttributeName", "AttributeType")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TableSchema {
    pub logical_id: String,
    /// (attribute, HASH | RANGE)
    pub key_schema: Vec<(String, String)>,
    /// (attribute, S | N | B)
    pub attributes: Vec<(String, String)>,
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn every_function_of_the_template_is_found_with_its_binary() {
        let functions = template_functions(&root()).unwrap();
        let search = functions
            .iter()
            .find(|f| f.binary == "order-search")
            .expect("order-search is in template.yaml");
        assert_eq!(search.logical_id, "OrderSearchFunction");
        assert!(functions.iter().all(|f| !f.binary.is_empty()));
    }

    #[test]
    fn quoted_values_of_the_env_file_are_unquoted() {
        assert_eq!(unquote("'a b'"), "a b");
        assert_eq!(unquote("plain"), "plain");
    }
}
