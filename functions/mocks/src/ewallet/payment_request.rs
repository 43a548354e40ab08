//! POST /api/payment/payment-requests: stores the request and schedules its webhook.
//!
//! Only a merchant may call it: the request must carry the merchant's API key
//! (`X-Api-Key`), and its `notificationUri` must be one of the merchant's registered
//! webhook URLs, so the provider never signs a webhook for anyone else's address.
//!
//! Idempotent on the caller's `Idempotency-Key`: the key names the request's id, the insert
//! is conditional, and a retry answers the same id. The schedule is created after the insert
//! and recorded (`scheduled`), so a retry after a failed CreateSchedule creates it then; a
//! schedule that exists already (Scheduler's ConflictException) is the retry's own.

use http::StatusCode;
use lambda_http::Request;
use shared::api_key::{self, ApiKey};
use shared::client::IDEMPOTENCY_KEY;
use shared::contracts::{EwalletPaymentRequest, EwalletPaymentResponse};
use shared::http::{HandlerResult, json, json_body};
use shared::{Clock, CorrelationId, SystemClock, ValidationError};

use super::domain::{
    DelayRange, EwalletRequest, IdempotencyKey, NewPaymentRequest, NotificationUri,
    PaymentRequestId, due_at,
};
use super::error::EwalletError;
use super::repository::{EwalletRequestRepository, Insert};
use super::scheduler::{WebhookSchedule, WebhookScheduler};

/// Everything the endpoint needs, built once per cold start.
#[derive(Debug)]
pub struct PaymentRequestService<R, S, C = SystemClock> {
    pub repo: R,
    pub scheduler: S,
    pub clock: C,
    pub delays: DelayRange,
    /// What the delay is drawn from.
    pub entropy: std::sync::Arc<dyn shared::entropy::Entropy>,
    /// The merchant's credential; also the secret that request ids are derived with.
    pub api_key: ApiKey,
    /// Where the merchant receives webhooks: the only `notificationUri`s accepted.
    pub webhook_urls: Vec<NotificationUri>,
}

pub async fn handle<R, S, C>(
    service: &PaymentRequestService<R, S, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<EwalletError>
where
    R: EwalletRequestRepository,
    S: WebhookScheduler,
    C: Clock,
{
    authorize(&service.api_key, &request)?;
    let body: EwalletPaymentRequest = json_body(&request)?;
    let terms = NewPaymentRequest::parse(body)?;
    if !service.webhook_urls.contains(&terms.notification_uri) {
        return Err(ValidationError::new(
            "notificationUri",
            "must be one of the merchant's registered webhook URLs",
        )
        .into());
    }
    let key = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ValidationError::new("Idempotency-Key", "must be ASCII"))
                .and_then(IdempotencyKey::parse)
        })
        .transpose()?;
    let id = service.accept(terms, key.as_ref(), &correlation_id).await?;
    Ok(json(
        StatusCode::CREATED,
        &EwalletPaymentResponse {
            payment_request_id: id.to_string(),
        },
    ))
}

/// Only the merchant, with its key, may call the provider.
pub fn authorize(key: &ApiKey, request: &Request) -> Result<(), EwalletError> {
    let presented = request
        .headers()
        .get(api_key::HEADER)
        .map(|value| value.as_bytes())
        .unwrap_or_default();
    if key.matches(presented) {
        Ok(())
    } else {
        Err(EwalletError::Unauthorized)
    }
}

impl<R, S, C> PaymentRequestService<R, S, C>
where
    R: EwalletRequestRepository,
    S: WebhookScheduler,
    C: Clock,
{
    /// Stores the request (or finds the one this key made) and makes sure it is scheduled.
    #[tracing::instrument(skip_all, fields(payment_request_id, order_id = %terms.order_id))]
    pub async fn accept(
        &self,
        terms: NewPaymentRequest,
        key: Option<&IdempotencyKey>,
        correlation_id: &CorrelationId,
    ) -> Result<PaymentRequestId, EwalletError> {
        let id = key.map_or_else(PaymentRequestId::new_random, |key| {
            PaymentRequestId::from_idempotency_key(&self.api_key, key)
        });
        tracing::Span::current().record("payment_request_id", tracing::field::display(id));
        let now = self.clock.now();
        let delay = self.delays.draw(self.entropy.as_ref());
        let due = due_at(now, delay);

        let mut fresh = EwalletRequest::new(id, terms.clone(), correlation_id.as_str(), due, now);
        fresh.merchant_reference = key.map(|k| k.as_str().to_owned());
        match self.repo.insert_if_absent(&fresh).await? {
            Insert::Inserted => {}
            Insert::Exists(existing) if !existing.has_terms_of(&terms) => {
                return Err(EwalletError::IdempotencyConflict);
            }
            Insert::Exists(existing) if existing.scheduled => {
                tracing::info!("a retry of a scheduled payment request");
                return Ok(id);
            }
            // A retry after a first attempt that stored the request but did not schedule it:
            // schedule it now, from now.
            Insert::Exists(_) => tracing::info!("a retry of an unscheduled payment request"),
        }

        let schedule = WebhookSchedule {
            payment_request_id: id,
            due_at: due,
        };
        self.scheduler.schedule(&schedule).await?;
        self.repo.mark_scheduled(id, due, now).await?;
        tracing::info!(
            amount_cents = terms.amount.cents(),
            due_at = %due,
            "payment request accepted; webhook scheduled"
        );
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};
    use shared::testing::{ApiRequest, assert_problem, body_json};

    use super::*;
    use crate::ewallet::domain::RequestStatus;
    use crate::ewallet::memory::{InMemoryEwalletRequests, RecordingScheduler};
    use shared::clock::FixedClock;

    const ROUTE: &str = "/api/payment/payment-requests";
    const ORDER: &str = "5a2fb4b2-f281-4c64-8bbc-ec3500b40c76";

    fn service(
        delay: u32,
    ) -> PaymentRequestService<InMemoryEwalletRequests, RecordingScheduler, FixedClock> {
        PaymentRequestService {
            repo: InMemoryEwalletRequests::default(),
            scheduler: RecordingScheduler::default(),
            clock: FixedClock::at(
                Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + Duration::milliseconds(250),
            ),
            delays: DelayRange::new(delay, delay).unwrap(),
            entropy: std::sync::Arc::new(shared::entropy::SystemEntropy),
            api_key: ApiKey::new(API_KEY).unwrap(),
            webhook_urls: vec![NotificationUri::parse("https://example.com/hook").unwrap()],
        }
    }

    const API_KEY: &str = "merchant-api-key-0001";

    fn body(amount: &str) -> String {
        format!(
            r#"{{"amount":{amount},"notificationUri":"https://example.com/hook","merchantData":{{"orderId":"{ORDER}"}}}}"#
        )
    }

    fn post(body: &str, key: Option<&str>) -> Request {
        let mut request = ApiRequest::new("POST", ROUTE, &[])
            .header("X-Api-Key", API_KEY)
            .body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.build()
    }

    async fn call(
        service: &PaymentRequestService<InMemoryEwalletRequests, RecordingScheduler, FixedClock>,
        request: Request,
    ) -> lambda_http::Response<lambda_http::Body> {
        let correlation = CorrelationId::from_value(Some("test-correlation"));
        shared::http::respond(
            handle(service, request, correlation.clone()).await,
            &correlation,
            ROUTE,
        )
    }

    #[tokio::test]
    async fn a_request_is_stored_pending_and_scheduled_after_the_configured_delay() {
        let service = service(5);
        let response = call(&service, post(&body("100.99"), None)).await;

        assert_eq!(response.status(), 201);
        let id =
            PaymentRequestId::parse(body_json(&response)["paymentRequestId"].as_str().unwrap())
                .unwrap();
        let stored = service.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.status, RequestStatus::Pending);
        assert_eq!(stored.amount.cents(), 10099);
        assert_eq!(stored.amount.currency().as_str(), "USD");
        assert_eq!(stored.correlation_id, "test-correlation");
        assert!(stored.scheduled);
        let due = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 6).unwrap();
        assert_eq!(stored.due_at, due, "12:00:00.250 + 5 s, rounded up");
        assert_eq!(
            service.scheduler.schedules(),
            vec![WebhookSchedule {
                payment_request_id: id,
                due_at: due
            }]
        );
    }

    #[tokio::test]
    async fn a_retry_with_the_same_key_answers_the_same_id_and_schedules_once() {
        let service = service(3);
        let first = call(&service, post(&body("10.00"), Some("attempt-1"))).await;
        let again = call(&service, post(&body("10.00"), Some("attempt-1"))).await;

        assert_eq!(first.status(), 201);
        assert_eq!(again.status(), 201);
        assert_eq!(
            body_json(&first)["paymentRequestId"],
            body_json(&again)["paymentRequestId"]
        );
        assert_eq!(service.scheduler.schedules().len(), 1);
        assert_eq!(service.repo.len(), 1);
        // The key is the merchant's reference, which the webhook will carry.
        let id = PaymentRequestId::parse(body_json(&first)["paymentRequestId"].as_str().unwrap())
            .unwrap();
        let stored = service.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.merchant_reference.as_deref(), Some("attempt-1"));
    }

    #[tokio::test]
    async fn a_reused_key_with_other_terms_is_a_409_and_changes_nothing() {
        let service = service(3);
        call(&service, post(&body("10.00"), Some("attempt-1"))).await;
        let other = call(&service, post(&body("10.01"), Some("attempt-1"))).await;

        assert_problem(&other, 409);
        assert_eq!(service.scheduler.schedules().len(), 1);
        assert_eq!(service.repo.len(), 1);
    }

    #[tokio::test]
    async fn a_retry_after_a_failed_schedule_creates_the_schedule_then() {
        let service = service(3);
        service.scheduler.fail_next(1);
        let failed = call(&service, post(&body("10.00"), Some("attempt-1"))).await;
        assert_problem(&failed, 503);
        let id = PaymentRequestId::from_idempotency_key(
            &service.api_key,
            &IdempotencyKey::parse("attempt-1").unwrap(),
        );
        assert!(!service.repo.get(id).await.unwrap().unwrap().scheduled);

        service.clock.advance(Duration::seconds(30));
        let retried = call(&service, post(&body("10.00"), Some("attempt-1"))).await;

        assert_eq!(retried.status(), 201);
        let stored = service.repo.get(id).await.unwrap().unwrap();
        assert!(stored.scheduled);
        assert_eq!(service.scheduler.schedules().len(), 1);
        assert_eq!(
            stored.due_at,
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 34).unwrap(),
            "scheduled from the retry's time, not the first attempt's"
        );
    }

    #[tokio::test]
    async fn without_the_merchants_api_key_nothing_is_stored_or_scheduled() {
        let service = service(5);
        for key in [
            None,
            Some(""),
            Some("merchant-api-key-0002"),
            Some("merchant-api-key-000"),
        ] {
            let mut request = ApiRequest::new("POST", ROUTE, &[]).body(&body("100.99"));
            if let Some(key) = key {
                request = request.header("X-Api-Key", key);
            }
            let response = call(&service, request.build()).await;
            assert_problem(&response, 401);
        }
        assert!(service.repo.is_empty());
        assert!(service.scheduler.schedules().is_empty());
    }

    #[tokio::test]
    async fn a_webhook_address_the_merchant_did_not_register_is_refused() {
        let service = service(5);
        for uri in [
            "https://attacker.example/collect",
            "https://example.com/hook2",
            "http://example.com/hook",
        ] {
            let raw = format!(
                r#"{{"amount":100.99,"notificationUri":"{uri}","merchantData":{{"orderId":"{ORDER}"}}}}"#
            );
            let response = call(&service, post(&raw, None)).await;
            let problem = assert_problem(&response, 400);
            assert_eq!(problem["errors"][0]["field"], "notificationUri", "{uri}");
        }
        assert!(service.repo.is_empty());
        assert!(service.scheduler.schedules().is_empty());
    }

    #[tokio::test]
    async fn a_zero_delay_schedules_at_the_next_whole_second() {
        let service = service(0);
        call(&service, post(&body("1.00"), None)).await;
        assert_eq!(
            service.scheduler.schedules()[0].due_at,
            Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 1).unwrap()
        );
    }

    #[tokio::test]
    async fn bad_input_is_a_400_naming_the_field_and_stores_and_schedules_nothing() {
        let service = service(3);
        let long_key = "k".repeat(300);
        let cases: Vec<(String, Option<&str>, &str)> = vec![
            (body("0"), None, "amount"),
            (body("-5.99"), None, "amount"),
            (body("1.999"), None, "body"),
            (body("\"1.99\""), None, "body"),
            (
                body("1.99").replace("https://example.com/hook", "ftp://example.com/hook"),
                None,
                "notificationUri",
            ),
            (
                body("1.99").replace("https://example.com/hook", "/relative/hook"),
                None,
                "notificationUri",
            ),
            (body("1.99").replace(ORDER, "42"), None, "body"),
            (body("1.99").replace("amount", "amnt"), None, "body"),
            (r#"{"amount":1.99}"#.to_owned(), None, "body"),
            ("not json".to_owned(), None, "body"),
            (String::new(), None, "body"),
            (
                body("1.99").replace("\"merchantData\"", "\"currency\":\"usd\",\"merchantData\""),
                None,
                "body",
            ),
            (body("1.99"), Some(""), "Idempotency-Key"),
            (body("1.99"), Some(long_key.as_str()), "Idempotency-Key"),
        ];
        for (raw, key, field) in cases {
            let response = call(&service, post(&raw, key)).await;
            let problem = assert_problem(&response, 400);
            assert_eq!(problem["errors"][0]["field"], field, "{raw}");
        }
        assert_eq!(service.repo.len(), 0);
        assert!(service.scheduler.schedules().is_empty());
    }
}
