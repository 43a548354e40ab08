//! The processes table: partition key `processId`; each job is an entry of the `jobs` map
//! (keyed by job type), so a job changes in place with one conditional update.

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue};
use chrono::{DateTime, Utc};
use shared::ProcessId;
use shared::fulfilment::{JobStatus, ProcessStatus};
use shared::store::{self, Key, Read, Table};

use super::{JobChange, JobChangeOutcome, Process, ProcessRepository};
use crate::RepositoryError;

const KEY: &str = "processId";

#[derive(Debug, Clone)]
pub struct DynamoDbProcessRepository {
    table: Table,
}

impl DynamoDbProcessRepository {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table),
        }
    }

    pub fn table(&self) -> &str {
        self.table.name()
    }
}

fn key(process: ProcessId) -> Key {
    Key::new(KEY, process)
}

impl ProcessRepository for DynamoDbProcessRepository {
    #[tracing::instrument(skip(self, process), fields(table = %self.table(), process_id = %process.process_id))]
    async fn insert_if_absent(&self, process: &Process) -> Result<bool, RepositoryError> {
        self.table
            .insert_if_absent(&key(process.process_id), process)
            .await
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn get(&self, process: ProcessId) -> Result<Option<Process>, RepositoryError> {
        self.table.get(&key(process), Read::Latest).await
    }

    #[tracing::instrument(skip(self, processes), fields(table = %self.table(), count = processes.len()))]
    async fn get_many(&self, processes: &[ProcessId]) -> Result<Vec<Process>, RepositoryError> {
        let mut found = Vec::new();
        // BatchGetItem takes at most 100 keys per call.
        for chunk in processes.chunks(100) {
            let mut keys: Option<KeysAndAttributes> = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|p| key(*p).item()).collect()))
                    .build()
                    .map_err(store::failed)?,
            );
            while let Some(request) = keys.take() {
                let output = self
                    .table
                    .client()
                    .batch_get_item()
                    .request_items(self.table.name(), request)
                    .send()
                    .await
                    .map_err(store::failed)?;
                for item in output
                    .responses
                    .and_then(|mut r| r.remove(self.table.name()))
                    .unwrap_or_default()
                {
                    let name = Key::of_item(&item, &[KEY]);
                    found.push(store::decode(name, item)?);
                }
                // What the table did not serve this time is asked for again.
                keys = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(self.table.name()))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }

    #[tracing::instrument(skip(self, change), fields(table = %self.table(), process_id = %change.process, job = change.job_type.as_str()))]
    async fn change_job(&self, change: &JobChange) -> Result<JobChangeOutcome, RepositoryError> {
        let mut update = self
            .table
            .update(&key(change.process))
            .condition_expression(
                "attribute_exists(jobs.#type) AND jobs.#type.#status <> :completed",
            )
            .expression_attribute_names("#type", change.job_type.as_str())
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", store::value(&JobStatus::Completed)?)
            .expression_attribute_values(":to", store::value(&change.status)?)
            .expression_attribute_values(":now", store::value(&change.now)?)
            .return_values(ReturnValue::AllNew);
        update = match &change.note {
            Some(note) => update
                .update_expression("SET jobs.#type.#status = :to, jobs.#type.note = :note, jobs.#type.updatedAtUtc = :now, updatedAtUtc = :now")
                .expression_attribute_values(":note", store::value(note)?),
            None => update.update_expression(
                "SET jobs.#type.#status = :to, jobs.#type.updatedAtUtc = :now, updatedAtUtc = :now",
            ),
        };
        match update.send().await {
            Ok(output) => match output.attributes {
                Some(item) => Ok(JobChangeOutcome::Applied(store::decode(
                    key(change.process),
                    item,
                )?)),
                None => Err(RepositoryError::Corrupt {
                    key: key(change.process).to_string(),
                    reason: "update returned no item".into(),
                }),
            },
            Err(err) if store::is_condition_failure(&err) => {
                Ok(match self.get(change.process).await? {
                    Some(process) if process.jobs.contains_key(&change.job_type) => {
                        JobChangeOutcome::AlreadyCompleted(process)
                    }
                    _ => JobChangeOutcome::NotFound,
                })
            }
            Err(err) => Err(store::failed(err)),
        }
    }

    #[tracing::instrument(skip(self), fields(table = %self.table()))]
    async fn finish(
        &self,
        process: ProcessId,
        to: ProcessStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let update = self
            .table
            .update(&key(process))
            .condition_expression(
                "attribute_exists(processId) AND #status <> :completed AND #status <> :to",
            )
            .update_expression("SET #status = :to, updatedAtUtc = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", store::value(&ProcessStatus::Completed)?)
            .expression_attribute_values(":to", store::value(&to)?)
            .expression_attribute_values(":now", store::value(&now)?);
        store::update_if(update).await
    }
}
