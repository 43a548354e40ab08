//! The listeners' ports: the job each runs, and the report of its outcome. Their adapters
//! call the internal (IAM-authorized) API, SigV4-signed, with the job id as the
//! idempotency key and the message's correlation id.

use std::future::Future;

use shared::client::{CallContext, CallError, ServiceClient};
use shared::fulfilment::{
    InvoiceRequest, JobStatusUpdate, JobType, PaymentResult, ProcessDto, ProductionRequest,
    RecordReceipt, SendEmailResponse,
};
use shared::{CorrelationId, JobId, ProcessId};

use crate::email;

/// One kind of follow-up job.
pub trait Job: Send + Sync {
    fn job_type(&self) -> JobType;

    /// Does the job, once in effect however often it is called with the same `job`.
    fn run(
        &self,
        result: &PaymentResult,
        job: JobId,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<(), CallError>> + Send;
}

/// order-process-status.
pub trait ProcessStatusReporter: Send + Sync {
    fn report(
        &self,
        process: ProcessId,
        update: &JobStatusUpdate,
        correlation_id: &CorrelationId,
    ) -> impl Future<Output = Result<(), CallError>> + Send;
}

fn context<'a>(correlation_id: &'a CorrelationId, key: &'a str) -> CallContext<'a> {
    CallContext {
        correlation_id,
        idempotency_key: key,
    }
}

/// POSTs a request to a record mock (production or invoice) under the job's id.
async fn post_record<B: serde::Serialize>(
    client: &ServiceClient,
    url: &str,
    body: &B,
    job: JobId,
    correlation_id: &CorrelationId,
) -> Result<RecordReceipt, CallError> {
    let key = job.to_string();
    client
        .post_json(url, body, context(correlation_id, &key))
        .await
}

fn base(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

/// The production system (production-mock in dev): `POST /api/internal/v1/productions`.
#[derive(Debug, Clone)]
pub struct HttpProduction {
    pub client: ServiceClient,
    pub api_url: String,
}

impl HttpProduction {
    pub fn new(client: ServiceClient, api_url: String) -> Self {
        Self {
            client,
            api_url: base(api_url),
        }
    }
}

impl Job for HttpProduction {
    fn job_type(&self) -> JobType {
        JobType::Production
    }

    async fn run(
        &self,
        result: &PaymentResult,
        job: JobId,
        correlation_id: &CorrelationId,
    ) -> Result<(), CallError> {
        let request = ProductionRequest {
            order_id: result.order_id,
            user_id: result.user_id,
            order_name: result.order.name.clone(),
            order_status: result.status,
            order_details: result.order.order_details.clone(),
        };
        let url = format!("{}/api/internal/v1/productions", self.api_url);
        let receipt = post_record(&self.client, &url, &request, job, correlation_id).await?;
        tracing::info!(production_id = %receipt.record_id, "production ordered");
        Ok(())
    }
}

/// The invoicing system (invoice-mock in dev): `POST /api/internal/v1/invoices`.
#[derive(Debug, Clone)]
pub struct HttpInvoice {
    pub client: ServiceClient,
    pub api_url: String,
}

impl HttpInvoice {
    pub fn new(client: ServiceClient, api_url: String) -> Self {
        Self {
            client,
            api_url: base(api_url),
        }
    }
}

impl Job for HttpInvoice {
    fn job_type(&self) -> JobType {
        JobType::Invoice
    }

    async fn run(
        &self,
        result: &PaymentResult,
        job: JobId,
        correlation_id: &CorrelationId,
    ) -> Result<(), CallError> {
        let request = InvoiceRequest {
            order_id: result.order_id,
            user_id: result.user_id,
            order_name: result.order.name.clone(),
            order_status: result.status,
            order_details: result.order.order_details.clone(),
            total_amount: result.order.total_amount,
            currency: result.order.currency,
        };
        let url = format!("{}/api/internal/v1/invoices", self.api_url);
        let receipt = post_record(&self.client, &url, &request, job, correlation_id).await?;
        tracing::info!(invoice_id = %receipt.record_id, "invoice issued");
        Ok(())
    }
}

/// notification-send-email: `POST /api/internal/v1/users/{userId}/emails/send`.
#[derive(Debug, Clone)]
pub struct HttpNotification {
    pub client: ServiceClient,
    pub internal_api_url: String,
    pub recipient_domain: String,
}

impl HttpNotification {
    pub fn new(client: ServiceClient, internal_api_url: String, recipient_domain: String) -> Self {
        Self {
            client,
            internal_api_url: base(internal_api_url),
            recipient_domain,
        }
    }
}

impl Job for HttpNotification {
    fn job_type(&self) -> JobType {
        JobType::Notification
    }

    async fn run(
        &self,
        result: &PaymentResult,
        job: JobId,
        correlation_id: &CorrelationId,
    ) -> Result<(), CallError> {
        let request = email::compose(result, &self.recipient_domain);
        let url = format!(
            "{}/api/internal/v1/users/{}/emails/send",
            self.internal_api_url, result.user_id
        );
        let key = job.to_string();
        let sent: SendEmailResponse = self
            .client
            .post_json(&url, &request, context(correlation_id, &key))
            .await?;
        tracing::info!(email_id = %sent.email_id, message_id = %sent.message_id, "e-mail sent");
        Ok(())
    }
}

/// order-process-status: `POST /api/internal/v1/orderprocesses/{processId}/status`.
#[derive(Debug, Clone)]
pub struct HttpProcessStatus {
    pub client: ServiceClient,
    pub internal_api_url: String,
}

impl HttpProcessStatus {
    pub fn new(client: ServiceClient, internal_api_url: String) -> Self {
        Self {
            client,
            internal_api_url: base(internal_api_url),
        }
    }
}

impl ProcessStatusReporter for HttpProcessStatus {
    async fn report(
        &self,
        process: ProcessId,
        update: &JobStatusUpdate,
        correlation_id: &CorrelationId,
    ) -> Result<(), CallError> {
        let url = format!(
            "{}/api/internal/v1/orderprocesses/{process}/status",
            self.internal_api_url
        );
        let key = format!(
            "{process}/{}/{}",
            update.job_type.as_str(),
            update.job_status.as_str()
        );
        let _process: ProcessDto = self
            .client
            .post_json(&url, update, context(correlation_id, &key))
            .await?;
        Ok(())
    }
}
