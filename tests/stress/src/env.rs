//! The stack as `localstack/deploy.py` wrote it down: `.local/functions.env` (the
//! emulator's endpoint, the tables) and `.local/stack.env` (the stack's outputs: URLs,
//! queues).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

#[derive(Debug, Clone, Default)]
pub struct StackEnv(BTreeMap<String, String>);

impl StackEnv {
    pub fn load(root: &Path) -> anyhow::Result<Self> {
        let mut vars = BTreeMap::new();
        for name in ["functions.env", "stack.env"] {
            let path = root.join(".local").join(name);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading {} (start the stack: bash localstack/stack.sh up)",
                    path.display()
                )
            })?;
            vars.extend(parse(&text));
        }
        Ok(Self(vars))
    }

    pub fn from_map(vars: BTreeMap<String, String>) -> Self {
        Self(vars)
    }

    pub fn get(&self, name: &str) -> anyhow::Result<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("{name} is not in .local/functions.env or stack.env"))
    }

    /// Every dead-letter queue of the stack, by its output's name.
    pub fn dead_letter_queues(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(name, _)| {
                name.ends_with("_DEAD_LETTER_QUEUE_URL") || name.ends_with("_FAILURES_QUEUE_URL")
            })
            .map(|(name, url)| (name.clone(), url.clone()))
            .collect()
    }

    /// The SDK's configuration for the emulator.
    pub async fn sdk_config(&self) -> anyhow::Result<aws_config::SdkConfig> {
        let region = self.get("AWS_REGION").unwrap_or("us-east-1").to_owned();
        Ok(shared::aws::loader()
            .endpoint_url(self.get("AWS_ENDPOINT_URL")?)
            .region(aws_config::Region::new(region))
            .credentials_provider(aws_credential_types::Credentials::from_keys(
                "test", "test", None,
            ))
            .load()
            .await)
    }
}

fn parse(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_dead_letter_queues_are_read_from_the_env_files() {
        let env = StackEnv::from_map(
            parse("# c\nA=1\nINVOICE_DEAD_LETTER_QUEUE_URL=\"http://q/1\"\nX_QUEUE_URL=http://q/2\nE_FAILURES_QUEUE_URL=http://q/3\n")
                .collect(),
        );
        assert_eq!(env.get("A").unwrap(), "1");
        assert!(env.get("B").is_err());
        let queues: Vec<String> = env
            .dead_letter_queues()
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        assert_eq!(queues, ["http://q/3", "http://q/1"]);
    }
}
