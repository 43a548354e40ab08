//! The webhook dispatcher, fired by a request's one-time schedule with `DispatchWebhook`.
//!
//! It sends each request's webhook once, even when fired twice or concurrently: a firing
//! first claims the request (Pending, or Sending with an expired lease → Sending with a
//! 60 s lease); one that cannot claim does nothing. The webhook is serialised once, signed
//! over those bytes and POSTed as they are. Then:
//! - 2xx → Sent;
//! - a permanent 4xx (not 401/404/408/429) → Rejected, logged as an error, `Ok`: retrying
//!   cannot help;
//! - a transient failure after the client's retries (5xx, 401, 404, 408, 429, timeouts,
//!   refused connections) → the claim is released (Pending) and `Err` goes to the runtime,
//!   so the invocation is retried. 401 because a rotation may be under way (the secrets are
//!   read again first, and the retry signs with the new current one); 404 because the
//!   merchant may not have stored our request id yet when a near-zero delay fires the
//!   webhook, or its index may lag. Lambda's retries bound how long either lasts.
//!
//! An event that names no known request is logged and answered `Ok` for the same reason.
//! A request the merchant cancelled is never claimed, so its webhook is never sent.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use shared::client::CallError;
use shared::contracts::{DispatchWebhook, EwalletStatusCode, Webhook, WebhookTransaction};
use shared::secrets::LiveSecrets;
use shared::telemetry::ErrorChain;
use shared::{Clock, CorrelationId, SystemClock};
use tracing::Instrument;

use super::domain::{EwalletRequest, OutcomeRule, PaymentRequestId, outcome_name};
use super::repository::{Claim, EwalletRequestRepository, RepositoryError, Settlement};
use super::sender::{SignedWebhook, WebhookSender};

/// How long a firing may hold a request before another may take it over: longer than the
/// function's timeout (30 s), so a live firing is never overtaken.
pub const LEASE: Duration = Duration::seconds(60);

/// Everything the dispatcher needs, built once per cold start.
#[derive(Debug)]
pub struct Dispatcher<R, W, C = SystemClock> {
    pub repo: R,
    pub sender: W,
    pub clock: C,
    /// Signs with the current secret; read again when the receiver answers 401.
    pub secret: LiveSecrets,
    pub outcomes: OutcomeRule,
    pub lease: Duration,
    /// Claim tokens and transaction ids are drawn from it.
    pub entropy: std::sync::Arc<dyn shared::entropy::Entropy>,
}

/// What one firing did (the function's response, and what tests check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Dispatched {
    /// The receiver took the webhook.
    Delivered {
        #[serde(rename = "statusCode")]
        outcome: EwalletStatusCode,
    },
    /// The receiver refused it for good.
    Rejected { status: u16 },
    /// Sent or rejected by an earlier firing, or cancelled by the merchant: nothing to do.
    AlreadySettled,
    /// No such payment request.
    Unknown,
    /// The event is not a `DispatchWebhook`.
    Malformed,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("e-wallet request store unavailable")]
    Store(#[from] RepositoryError),
    #[error("the webhook could not be serialised")]
    Encode(#[source] serde_json::Error),
    #[error("the webhook was not delivered; the firing will be retried")]
    Undelivered(#[source] CallError),
    #[error("no answer from the receiver within {budget_ms} ms; the firing will be retried")]
    OutOfTime { budget_ms: u64 },
    /// Another firing holds the request, maybe one that died: failing gets this firing
    /// retried by Lambda after the lease, instead of leaving the webhook to a dead holder.
    #[error("another firing holds the request; the firing will be retried")]
    Held,
}

/// The most the webhook's delivery (retries included) may take: under the function's 30 s
/// timeout with room to give the claim back.
pub const SEND_CAP: std::time::Duration = std::time::Duration::from_secs(25);
/// Kept after the delivery attempt for giving the claim back and answering.
pub const SEND_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

impl From<DispatchError> for lambda_runtime::Diagnostic {
    fn from(err: DispatchError) -> Self {
        let error_type = match err {
            DispatchError::Store(_) => "EwalletStoreUnavailable",
            DispatchError::Encode(_) => "EwalletWebhookEncoding",
            DispatchError::Undelivered(_) => "EwalletWebhookUndelivered",
            DispatchError::OutOfTime { .. } => "EwalletWebhookOutOfTime",
            DispatchError::Held => "EwalletRequestHeld",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: ErrorChain(&err).to_string(),
        }
    }
}

/// The Lambda handler: one span per firing.
pub async fn handle<R, W, C>(
    dispatcher: &Dispatcher<R, W, C>,
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<Dispatched, DispatchError>
where
    R: EwalletRequestRepository,
    W: WebhookSender,
    C: Clock,
{
    let span = tracing::info_span!(
        "dispatch",
        request_id = %event.context.request_id,
        payment_request_id = tracing::field::Empty,
        correlation_id = tracing::field::Empty,
    );
    async move {
        // Boxed: the runtime's service stack over this future is deeper than the
        // compiler's default layout query limit.
        let budget = shared::client::call_budget(
            Some(event.context.deadline),
            dispatcher.clock.now().timestamp_millis(),
            SEND_MARGIN,
            SEND_CAP,
        );
        let result = Box::pin(dispatcher.dispatch_within(event.payload, budget)).await;
        match &result {
            Ok(done) => tracing::info!(?done, "firing completed"),
            Err(err) => {
                tracing::error!(error = %ErrorChain(err), "firing failed; it will be retried")
            }
        }
        result
    }
    .instrument(span)
    .await
}

/// The failure kinds that decide what happens to a claimed request.
enum Failure {
    /// The receiver said 2xx but its body was not JSON: it has the webhook.
    DeliveredAnyway,
    Permanent(u16),
    Transient,
}

fn classify(err: &CallError) -> Failure {
    match err {
        CallError::Decode { .. } => Failure::DeliveredAnyway,
        CallError::Status { status, .. }
            if (400..500).contains(status) && !matches!(status, 401 | 404 | 408 | 429) =>
        {
            Failure::Permanent(*status)
        }
        _ => Failure::Transient,
    }
}

impl<R, W, C> Dispatcher<R, W, C>
where
    R: EwalletRequestRepository,
    W: WebhookSender,
    C: Clock,
{
    /// Handles one Scheduler event (the target's Input), within the most a delivery may take.
    pub async fn dispatch(&self, payload: serde_json::Value) -> Result<Dispatched, DispatchError> {
        self.dispatch_within(payload, SEND_CAP).await
    }

    /// Handles one Scheduler event; the delivery gets at most `budget`.
    pub async fn dispatch_within(
        &self,
        payload: serde_json::Value,
        budget: std::time::Duration,
    ) -> Result<Dispatched, DispatchError> {
        let Ok(event) = serde_json::from_value::<DispatchWebhook>(payload) else {
            tracing::error!("the event is not a DispatchWebhook; nothing to retry");
            return Ok(Dispatched::Malformed);
        };
        let Ok(id) = PaymentRequestId::parse(&event.payment_request_id) else {
            tracing::error!("the event's paymentRequestId is not one of ours; nothing to retry");
            return Ok(Dispatched::Unknown);
        };
        self.dispatch_request_within(id, budget).await
    }

    pub async fn dispatch_request(
        &self,
        id: PaymentRequestId,
    ) -> Result<Dispatched, DispatchError> {
        self.dispatch_request_within(id, SEND_CAP).await
    }

    pub async fn dispatch_request_within(
        &self,
        id: PaymentRequestId,
        budget: std::time::Duration,
    ) -> Result<Dispatched, DispatchError> {
        let span = tracing::Span::current();
        span.record("payment_request_id", tracing::field::display(id));
        let Some(request) = self.repo.get(id).await? else {
            tracing::error!("no such payment request; nothing to retry");
            return Ok(Dispatched::Unknown);
        };
        span.record("correlation_id", request.correlation_id.as_str());
        if request.status.is_settled() {
            tracing::info!(status = %request.status, "already settled (sent, rejected or cancelled)");
            return Ok(Dispatched::AlreadySettled);
        }

        let now = self.clock.now();
        let claim = Claim {
            token: shared::entropy::uuid(self.entropy.as_ref()).to_string(),
            lease_until: now + self.lease,
        };
        if !self.repo.claim(id, now, &claim).await? {
            tracing::info!("another firing holds this request, or it was settled meanwhile");
            return Err(DispatchError::Held);
        }

        let outcome = self.outcomes.decide(request.amount);
        let transaction_id = shared::entropy::uuid(self.entropy.as_ref()).to_string();
        let webhook = match self.signed_webhook(&request, outcome, &transaction_id, now) {
            Ok(webhook) => webhook,
            Err(err) => {
                self.release(id, &claim.token).await;
                return Err(err);
            }
        };
        tracing::info!(
            outcome = outcome_name(outcome),
            amount_cents = request.amount.cents(),
            "sending the webhook"
        );

        let Ok(delivery) = shared::client::within(budget, self.sender.send(webhook)).await else {
            // Whether it arrived is unknown: the claim goes back and a retry sends the same
            // webhook again, which the receiver applies once.
            self.release(id, &claim.token).await;
            return Err(DispatchError::OutOfTime {
                budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
            });
        };
        match delivery {
            Ok(()) => self.sent(id, &claim.token, outcome, transaction_id).await,
            Err(err) => match classify(&err) {
                Failure::DeliveredAnyway => {
                    tracing::warn!(error = %ErrorChain(&err), "the receiver took the webhook but answered no JSON");
                    self.sent(id, &claim.token, outcome, transaction_id).await
                }
                Failure::Permanent(status) => {
                    tracing::error!(
                        status,
                        error = %ErrorChain(&err),
                        "the receiver refused the webhook for good; it will not be sent again"
                    );
                    let at = self.clock.now();
                    self.settle(id, &claim.token, &Settlement::Rejected { status, at })
                        .await?;
                    Ok(Dispatched::Rejected { status })
                }
                Failure::Transient => {
                    if matches!(err, CallError::Status { status: 401, .. }) {
                        // The secret may have been rotated since this instance read it.
                        self.secret.refresh(self.clock.now().timestamp()).await;
                    }
                    self.release(id, &claim.token).await;
                    Err(DispatchError::Undelivered(err))
                }
            },
        }
    }

    /// The webhook, serialised once and signed over exactly those bytes.
    fn signed_webhook(
        &self,
        request: &EwalletRequest,
        outcome: EwalletStatusCode,
        transaction_id: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedWebhook, DispatchError> {
        let webhook = Webhook {
            payment_request_id: request.id.to_string(),
            total_amount: request.amount.cents(),
            currency: request.amount.currency(),
            status_code: outcome,
            transaction: WebhookTransaction {
                transaction_id: transaction_id.to_owned(),
                order_id: request.order_id,
                transaction_time: now,
            },
            merchant_reference: request.merchant_reference.clone(),
        };
        let body = serde_json::to_vec(&webhook).map_err(DispatchError::Encode)?;
        let signature =
            shared::signature::sign(self.secret.current().expose(), now.timestamp(), &body);
        Ok(SignedWebhook {
            url: request.notification_uri.as_str().to_owned(),
            body,
            signature,
            correlation_id: CorrelationId::from_value(Some(&request.correlation_id)),
            idempotency_key: request.id.to_string(),
        })
    }

    async fn sent(
        &self,
        id: PaymentRequestId,
        token: &str,
        outcome: EwalletStatusCode,
        transaction_id: String,
    ) -> Result<Dispatched, DispatchError> {
        let at = self.clock.now();
        let settlement = Settlement::Sent {
            outcome,
            transaction_id,
            at,
        };
        self.settle(id, token, &settlement).await?;
        tracing::info!(outcome = outcome_name(outcome), "webhook delivered");
        Ok(Dispatched::Delivered { outcome })
    }

    async fn settle(
        &self,
        id: PaymentRequestId,
        token: &str,
        settlement: &Settlement,
    ) -> Result<(), DispatchError> {
        if !self.repo.settle(id, token, settlement).await? {
            // Our lease ran out and another firing took over; it will settle the request.
            tracing::warn!("the claim was lost before the request was settled");
        }
        Ok(())
    }

    /// Back to Pending for the next firing. If even that fails, the lease's end frees it.
    async fn release(&self, id: PaymentRequestId, token: &str) {
        let at = self.clock.now();
        match self
            .repo
            .settle(id, token, &Settlement::Released { at })
            .await
        {
            Ok(true) => tracing::info!("claim released; the request is Pending again"),
            Ok(false) => tracing::warn!("the claim was lost before it was released"),
            Err(err) => tracing::error!(
                error = %ErrorChain(&err),
                "the claim could not be released; it frees itself when its lease ends"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use shared::{Currency, Money};

    use super::*;
    use crate::ewallet::domain::{NewPaymentRequest, NotificationUri, RequestStatus};
    use crate::ewallet::memory::{InMemoryEwalletRequests, ScriptedSender};
    use shared::clock::FixedClock;
    use shared::signature::WebhookSecrets;

    const SECRET_STR: &str = "unit-test-webhook-secret";
    const SECRET: &[u8] = SECRET_STR.as_bytes();

    fn dispatcher() -> Dispatcher<InMemoryEwalletRequests, ScriptedSender, FixedClock> {
        Dispatcher {
            repo: InMemoryEwalletRequests::default(),
            sender: ScriptedSender::default(),
            clock: FixedClock::at(Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()),
            secret: LiveSecrets::fixed(shared::signature::WebhookSecrets::single(
                shared::signature::WebhookSecret::new(SECRET).unwrap(),
            )),
            outcomes: OutcomeRule::default(),
            lease: LEASE,
            entropy: std::sync::Arc::new(shared::entropy::SystemEntropy),
        }
    }

    async fn given_request(
        d: &Dispatcher<InMemoryEwalletRequests, ScriptedSender, FixedClock>,
        cents: i64,
    ) -> PaymentRequestId {
        let id = PaymentRequestId::new_random();
        let now = d.clock.now();
        let terms = NewPaymentRequest {
            amount: Money::from_cents(cents, Currency::USD),
            notification_uri: NotificationUri::parse("https://example.com/hook").unwrap(),
            order_id: shared::OrderId::new_random(),
        };
        let mut request = EwalletRequest::new(id, terms, "corr-1", now, now);
        request.scheduled = true;
        request.merchant_reference = Some("merchant-ref-1".into());
        d.repo.insert_if_absent(&request).await.unwrap();
        id
    }

    fn event(id: PaymentRequestId) -> serde_json::Value {
        serde_json::json!({ "paymentRequestId": id.to_string() })
    }

    #[tokio::test]
    async fn the_webhook_is_signed_over_the_exact_bytes_sent() {
        let d = dispatcher();
        let id = given_request(&d, 10099).await;

        let done = d.dispatch(event(id)).await.unwrap();

        assert_eq!(
            done,
            Dispatched::Delivered {
                outcome: EwalletStatusCode::Success
            }
        );
        let sent = d.sender.sent();
        assert_eq!(sent.len(), 1);
        let webhook = &sent[0];
        let now = d.clock.now().timestamp();
        assert_eq!(
            shared::signature::verify(SECRET, Some(&webhook.signature), &webhook.body, now),
            Ok(())
        );
        let body: Webhook = serde_json::from_slice(&webhook.body).unwrap();
        assert_eq!(body.payment_request_id, id.to_string());
        assert_eq!(body.total_amount, 10099);
        assert_eq!(body.merchant_reference.as_deref(), Some("merchant-ref-1"));
        assert_eq!(webhook.idempotency_key, id.to_string());
        assert_eq!(webhook.correlation_id.as_str(), "corr-1");
        assert_eq!(webhook.url, "https://example.com/hook");
        let stored = d.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.status, RequestStatus::Sent);
        assert_eq!(stored.outcome, Some(EwalletStatusCode::Success));
        assert_eq!(stored.sent_at, Some(d.clock.now()));
    }

    #[tokio::test]
    async fn the_verdict_follows_the_cents() {
        for (cents, outcome) in [
            (10099, EwalletStatusCode::Success),
            (5011, EwalletStatusCode::Failed),
            (10000, EwalletStatusCode::Expired),
        ] {
            let d = dispatcher();
            let id = given_request(&d, cents).await;
            assert_eq!(
                d.dispatch(event(id)).await.unwrap(),
                Dispatched::Delivered { outcome }
            );
        }
    }

    #[tokio::test]
    async fn a_second_firing_sends_nothing() {
        let d = dispatcher();
        let id = given_request(&d, 10099).await;
        d.dispatch(event(id)).await.unwrap();

        assert_eq!(
            d.dispatch(event(id)).await.unwrap(),
            Dispatched::AlreadySettled
        );
        assert_eq!(d.sender.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_firing_after_a_cancel_delivers_nothing() {
        let d = dispatcher();
        let pending = given_request(&d, 10099).await;
        let released = given_request(&d, 10099).await;
        let now = d.clock.now();
        // Cancelled while Pending; and cancelled after its firing's lease ran out.
        let dead = Claim {
            token: "a-firing-that-died".into(),
            lease_until: now + LEASE,
        };
        assert!(d.repo.claim(released, now, &dead).await.unwrap());
        d.clock.advance(LEASE + Duration::seconds(1));
        for id in [pending, released] {
            assert!(matches!(
                d.repo.cancel(id, d.clock.now()).await.unwrap(),
                crate::ewallet::repository::Cancel::Cancelled(_)
            ));

            assert_eq!(
                d.dispatch(event(id)).await.unwrap(),
                Dispatched::AlreadySettled
            );
            // A claim that raced past the read is refused too.
            let late = Claim {
                token: "late".into(),
                lease_until: d.clock.now() + LEASE,
            };
            assert!(!d.repo.claim(id, d.clock.now(), &late).await.unwrap());
        }
        assert!(d.sender.sent().is_empty());
        // The dead firing cannot settle what was cancelled under it.
        let at = d.clock.now();
        assert!(
            !d.repo
                .settle(released, &dead.token, &Settlement::Released { at })
                .await
                .unwrap()
        );
        assert_eq!(
            d.repo.get(released).await.unwrap().unwrap().status,
            RequestStatus::Cancelled
        );
    }

    #[tokio::test]
    async fn a_transient_failure_releases_the_claim_and_fails_the_firing() {
        let d = dispatcher();
        let id = given_request(&d, 10099).await;
        d.sender.answer([503]);

        let err = d.dispatch(event(id)).await.unwrap_err();

        assert!(matches!(err, DispatchError::Undelivered(_)), "{err:?}");
        assert_eq!(
            d.repo.get(id).await.unwrap().unwrap().status,
            RequestStatus::Pending
        );
        assert!(matches!(
            d.dispatch(event(id)).await.unwrap(),
            Dispatched::Delivered { .. }
        ));
        let stored = d.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.status, RequestStatus::Sent);
        assert_eq!(stored.attempts, 2);
    }

    #[tokio::test]
    async fn a_permanent_refusal_rejects_the_request_for_good() {
        for status in [400, 403, 409, 422] {
            let d = dispatcher();
            let id = given_request(&d, 10099).await;
            d.sender.answer([status]);

            assert_eq!(
                d.dispatch(event(id)).await.unwrap(),
                Dispatched::Rejected { status }
            );
            let stored = d.repo.get(id).await.unwrap().unwrap();
            assert_eq!(stored.status, RequestStatus::Rejected);
            assert_eq!(stored.rejected_status, Some(status));
            assert_eq!(
                d.dispatch(event(id)).await.unwrap(),
                Dispatched::AlreadySettled
            );
            assert_eq!(d.sender.sent().len(), 1);
        }
    }

    #[tokio::test]
    async fn timeouts_throttling_rotation_and_not_yet_known_are_transient() {
        for status in [401, 404, 408, 429, 500, 502, 504] {
            let d = dispatcher();
            let id = given_request(&d, 10099).await;
            d.sender.answer([status]);
            assert!(d.dispatch(event(id)).await.is_err(), "{status}");
            assert_eq!(
                d.repo.get(id).await.unwrap().unwrap().status,
                RequestStatus::Pending
            );
        }
    }

    /// The merchant's secret, which an operator rotates.
    #[derive(Debug, Default)]
    struct Rotated(std::sync::Mutex<Option<WebhookSecrets>>);

    impl shared::secrets::SecretSource for Rotated {
        fn read(
            &self,
        ) -> shared::transport::BoxFuture<'_, Result<WebhookSecrets, shared::config::ConfigError>>
        {
            let secrets = self.0.lock().unwrap().clone().unwrap();
            Box::pin(std::future::ready(Ok(secrets)))
        }
    }

    #[tokio::test]
    async fn after_a_401_the_secrets_are_read_again_and_the_retry_signs_with_the_new_one() {
        let d = dispatcher();
        let secret = |raw: &str| shared::signature::WebhookSecret::new(raw).unwrap();
        let source = std::sync::Arc::new(Rotated::default());
        *source.0.lock().unwrap() = Some(WebhookSecrets::single(secret(SECRET_STR)));
        let loaded_at = d.clock.now().timestamp() - LiveSecrets::REREAD_AFTER_SECS;
        let d = Dispatcher {
            secret: LiveSecrets::load(source.clone(), loaded_at).await.unwrap(),
            ..d
        };
        let id = given_request(&d, 10099).await;
        *source.0.lock().unwrap() = Some(WebhookSecrets::new(
            secret("the-rotated-webhook-secret"),
            Some(secret(SECRET_STR)),
        ));
        d.sender.answer([401]);
        assert!(d.dispatch(event(id)).await.is_err());
        d.dispatch(event(id)).await.unwrap();

        let sent = d.sender.sent();
        let now = d.clock.now().timestamp();
        let verifies = |webhook: &SignedWebhook, with: &[u8]| {
            shared::signature::verify(with, Some(&webhook.signature), &webhook.body, now).is_ok()
        };
        assert!(verifies(&sent[0], SECRET));
        assert!(verifies(&sent[1], b"the-rotated-webhook-secret"));
    }

    #[tokio::test]
    async fn a_held_claim_blocks_other_firings_until_its_lease_ends() {
        let d = dispatcher();
        let id = given_request(&d, 10099).await;
        let now = d.clock.now();
        let held = Claim {
            token: "a-firing-that-died".into(),
            lease_until: now + LEASE,
        };
        assert!(d.repo.claim(id, now, &held).await.unwrap());

        assert!(matches!(
            d.dispatch(event(id)).await,
            Err(DispatchError::Held)
        ));
        assert!(d.sender.sent().is_empty());

        d.clock.advance(LEASE + Duration::seconds(1));
        assert!(matches!(
            d.dispatch(event(id)).await.unwrap(),
            Dispatched::Delivered { .. }
        ));
        assert_eq!(d.sender.sent().len(), 1);
        // The firing that died cannot settle what it no longer holds.
        let at = d.clock.now();
        assert!(
            !d.repo
                .settle(id, &held.token, &Settlement::Released { at })
                .await
                .unwrap()
        );
        assert_eq!(
            d.repo.get(id).await.unwrap().unwrap().status,
            RequestStatus::Sent
        );
    }

    #[tokio::test]
    async fn unknown_or_malformed_events_are_answered_without_sending() {
        let d = dispatcher();
        assert_eq!(
            d.dispatch(event(PaymentRequestId::new_random()))
                .await
                .unwrap(),
            Dispatched::Unknown
        );
        assert_eq!(
            d.dispatch(serde_json::json!({ "paymentRequestId": "42" }))
                .await
                .unwrap(),
            Dispatched::Unknown
        );
        for payload in [
            serde_json::json!({}),
            serde_json::json!("x"),
            serde_json::json!({ "paymentRequestId": 7 }),
        ] {
            assert_eq!(d.dispatch(payload).await.unwrap(), Dispatched::Malformed);
        }
        assert!(d.sender.sent().is_empty());
    }

    /// A receiver that never answers.
    struct SilentReceiver;

    impl WebhookSender for SilentReceiver {
        async fn send(&self, _webhook: SignedWebhook) -> Result<(), CallError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_delivery_gets_the_time_left_minus_the_margin_then_gives_the_claim_back() {
        let d = dispatcher();
        let id = given_request(&d, 10099).await;
        let silent = Dispatcher {
            repo: d.repo,
            sender: SilentReceiver,
            clock: d.clock,
            secret: d.secret,
            outcomes: d.outcomes,
            lease: d.lease,
            entropy: d.entropy,
        };
        let now_ms = 1_000_000_i64;
        // 10 s left of the invocation: 8 s for the delivery (under the 25 s cap).
        let budget = shared::client::call_budget(
            Some(now_ms as u64 + 10_000),
            now_ms,
            SEND_MARGIN,
            SEND_CAP,
        );
        assert_eq!(budget, std::time::Duration::from_secs(8));

        let started = tokio::time::Instant::now();
        let err = silent.dispatch_within(event(id), budget).await.unwrap_err();

        assert_eq!(started.elapsed(), budget);
        assert!(
            matches!(err, DispatchError::OutOfTime { budget_ms: 8_000 }),
            "{err}"
        );
        // Not sent for sure, so not settled: the next firing may take it again.
        let stored = silent.repo.get(id).await.unwrap().unwrap();
        assert_eq!(stored.status, RequestStatus::Pending);
        assert!(
            silent
                .repo
                .claim(
                    id,
                    silent.clock.now(),
                    &Claim {
                        token: "next".into(),
                        lease_until: silent.clock.now() + LEASE
                    }
                )
                .await
                .unwrap(),
            "the claim was given back"
        );
    }
}
