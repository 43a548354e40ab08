//! POST /api/v1/payments/webhook (e-wallet → payment service, internet-facing)
//!
//! The signature over the raw body is checked before anything is parsed or read. The
//! outcome is then applied with conditional writes so that any number of deliveries,
//! concurrent or late, record it once and call confirm-payment once:
//! - the first delivery moves the payment from Requested to its outcome, appends the
//!   transaction and takes a 30 s confirm lease, in one write; only the delivery whose
//!   write succeeded calls confirm-payment, then marks the order confirmed;
//! - a duplicate finds the order confirmed (200), or a live lease (503 with a Retry-After
//!   of a few seconds: the provider retries), or an expired lease (its holder died: it
//!   takes the lease over with a write conditional on the lease it saw, and confirms);
//! - a different outcome than the recorded one is a 409 and changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request};
use shared::client::call_budget;
use shared::contracts::{PaymentResponse, PaymentStatus, Webhook};
use shared::http::{HandlerResult, invocation_deadline_ms, json};
use shared::secrets::LiveSecrets;
use shared::signature;
use shared::{Clock, CorrelationId, Currency, OrderId, PaymentId, SystemClock, ValidationError};

use crate::domain::{Decision, ExternalId, Payment, Transaction, decide, lease_until};
use crate::gateway::{CALL_CAP, CALL_MARGIN, Confirmation, OrderConfirmation, Refunds, within};
use crate::repository::{ConfirmationClaim, Evidence, OutcomeRecord};
use crate::{PaymentError, PaymentRepository};

/// Lost races before a delivery gives up and asks for a retry (each loss means another
/// delivery changed the payment; re-reading it always settles the decision quickly).
const MAX_ATTEMPTS: usize = 3;

/// What the webhook needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct WebhookDeps<R, O, F, C = SystemClock> {
    pub repo: R,
    pub orders: O,
    /// Pays back a success that no order awaits.
    pub refunds: F,
    /// Read again when a signature matches none of them (a rotation).
    pub secret: LiveSecrets,
    pub clock: C,
}

/// A webhook's content, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub external_id: ExternalId,
    pub total_amount_cents: i64,
    pub currency: Currency,
    pub status: PaymentStatus,
    pub order_id: OrderId,
    pub transaction: Transaction,
    /// Our payment id, as we sent it to the e-wallet (its idempotency key).
    pub merchant_reference: Option<PaymentId>,
}

impl Outcome {
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        if body.is_empty() {
            return Err(ValidationError::new("body", "a JSON body is required"));
        }
        let webhook: Webhook = shared::http::parse_json(body)?;
        Ok(Self {
            external_id: ExternalId::parse(&webhook.payment_request_id)?,
            total_amount_cents: webhook.total_amount,
            currency: webhook.currency,
            status: webhook.status_code.payment_status(),
            order_id: webhook.transaction.order_id,
            merchant_reference: webhook
                .merchant_reference
                .as_deref()
                .map(PaymentId::parse)
                .transpose()?,
            transaction: Transaction::new(
                &webhook.transaction.transaction_id,
                webhook.total_amount,
                webhook.transaction.transaction_time,
            )?,
        })
    }
}

fn raw_body(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Checks the signature of the raw body, then parses it. Nothing else is read before.
pub async fn authenticate(
    secret: &LiveSecrets,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Outcome, PaymentError> {
    let body = raw_body(request);
    // A header that is not visible ASCII cannot be ours: malformed, not missing.
    let header = request
        .headers()
        .get(signature::HEADER)
        .map(|value| value.to_str().unwrap_or(""));
    secret.verify(header, body, now.timestamp()).await?;
    Ok(Outcome::parse(body)?)
}

/// A webhook naming an e-wallet id the index does not show: our write of the id failed
/// after the e-wallet took the request, or the index has not caught up with it yet. Our own
/// reference in the webhook finds the payment, which then takes the id, unless it already
/// has another one.
async fn bind_by_reference<R: PaymentRepository, O, F, C: Clock>(
    deps: &WebhookDeps<R, O, F, C>,
    outcome: &Outcome,
) -> Result<PaymentId, PaymentError> {
    let Some(id) = outcome.merchant_reference else {
        return Err(PaymentError::NotFound);
    };
    let payment = deps.repo.get(id).await?.ok_or(PaymentError::NotFound)?;
    match &payment.external_id {
        // Stored already: the byExternalId index, updated asynchronously, had not shown it.
        Some(stored) if *stored == outcome.external_id => {
            tracing::info!(payment_id = %id, external_id = %outcome.external_id, "the e-wallet's id is stored but not yet in its index; found by our reference");
            return Ok(id);
        }
        Some(_) => return Err(PaymentError::NotFound),
        None => {}
    }
    if !deps
        .repo
        .set_external_id(id, &outcome.external_id, deps.clock.now())
        .await?
    {
        return Err(PaymentError::NotFound);
    }
    tracing::warn!(payment_id = %id, external_id = %outcome.external_id, "the e-wallet's id was never stored; bound now from the webhook's merchant reference");
    Ok(id)
}

/// Applies a verified outcome; see the module documentation.
pub async fn apply<R: PaymentRepository, O: OrderConfirmation, F: Refunds, C: Clock>(
    deps: &WebhookDeps<R, O, F, C>,
    outcome: &Outcome,
    correlation_id: &CorrelationId,
    now: DateTime<Utc>,
    budget: Duration,
) -> Result<PaymentResponse, PaymentError> {
    let id = match deps.repo.find_by_external_id(&outcome.external_id).await? {
        Some(id) => id,
        None => bind_by_reference(deps, outcome).await?,
    };
    let mut payment = deps.repo.get(id).await?.ok_or(PaymentError::NotFound)?;
    if payment.amount.cents() != outcome.total_amount_cents {
        tracing::warn!(payment_id = %id, "webhook amount differs from the payment's; not applied");
        return Err(PaymentError::Mismatch("totalAmount"));
    }
    if payment.amount.currency() != outcome.currency {
        tracing::warn!(payment_id = %id, "webhook currency differs from the payment's; not applied");
        return Err(PaymentError::Mismatch("currency"));
    }
    if payment.order_id != outcome.order_id {
        tracing::warn!(payment_id = %id, "webhook order differs from the payment's; not applied");
        return Err(PaymentError::Mismatch("transaction.orderId"));
    }

    for _ in 0..MAX_ATTEMPTS {
        let lease = lease_until(now);
        match decide(&payment, outcome.status, now) {
            Decision::Record => {
                let record = OutcomeRecord {
                    id,
                    outcome: outcome.status,
                    evidence: Evidence::Transaction(&outcome.transaction),
                    lease_until: lease,
                    now,
                };
                if deps.repo.record_outcome(record).await? {
                    tracing::info!(payment_id = %id, status = outcome.status.as_str(), "payment outcome recorded");
                    metrics::counter!(shared::metrics::payment_outcome_metric(outcome.status))
                        .increment(1);
                    payment.status = outcome.status;
                    payment.transactions.push(outcome.transaction.clone());
                    payment.confirming_until = Some(lease);
                    return confirm(deps, payment, lease, correlation_id, budget).await;
                }
            }
            Decision::TakeOver { observed } => {
                let claim = ConfirmationClaim {
                    id,
                    status: payment.status,
                    observed,
                    lease_until: lease,
                    now,
                };
                if deps.repo.claim_confirmation(claim).await? {
                    tracing::info!(payment_id = %id, status = payment.status.as_str(), "confirmation taken over from an expired or released lease");
                    payment.confirming_until = Some(lease);
                    return confirm(deps, payment, lease, correlation_id, budget).await;
                }
            }
            Decision::AlreadyConfirmed => {
                tracing::info!(payment_id = %id, status = payment.status.as_str(), "duplicate delivery; the order is already confirmed");
                return Ok(payment.response());
            }
            Decision::InProgress { retry_after_secs } => {
                tracing::info!(payment_id = %id, retry_after_secs, "duplicate delivery; another delivery is confirming");
                return Err(PaymentError::ConfirmationInProgress { retry_after_secs });
            }
            Decision::Conflict { recorded } => {
                tracing::warn!(
                    payment_id = %id,
                    recorded = recorded.as_str(),
                    received = outcome.status.as_str(),
                    "late delivery with another outcome; not applied"
                );
                return Err(PaymentError::OutcomeConflict {
                    recorded,
                    received: outcome.status,
                });
            }
        }
        // Another delivery changed the payment between our read and our write.
        payment = deps.repo.get(id).await?.ok_or(PaymentError::NotFound)?;
    }
    Err(PaymentError::ConfirmationInProgress {
        retry_after_secs: 1,
    })
}

/// Gives the confirm lease back for the next delivery.
async fn release<R: PaymentRepository, O, F, C: Clock>(
    deps: &WebhookDeps<R, O, F, C>,
    payment: &Payment,
    lease: DateTime<Utc>,
) {
    match deps
        .repo
        .release_confirmation(payment.id, lease, deps.clock.now())
        .await
    {
        Ok(released) => {
            tracing::warn!(payment_id = %payment.id, released, "confirm failed; lease released for the next delivery");
        }
        // The lease then simply expires and the next delivery takes it over.
        Err(release_err) => {
            tracing::error!(payment_id = %payment.id, error = %shared::telemetry::ErrorChain(&release_err), "could not release the confirm lease");
        }
    }
}

/// Called only by the holder of the lease that ends at `lease`.
async fn confirm<R: PaymentRepository, O: OrderConfirmation, F: Refunds, C: Clock>(
    deps: &WebhookDeps<R, O, F, C>,
    payment: Payment,
    lease: DateTime<Utc>,
    correlation_id: &CorrelationId,
    budget: Duration,
) -> Result<PaymentResponse, PaymentError> {
    let started = tokio::time::Instant::now();
    match within(
        budget,
        deps.orders.confirm_payment(&payment, correlation_id),
    )
    .await
    {
        Ok(Confirmation::Confirmed) => {
            tracing::info!(payment_id = %payment.id, order_id = %payment.order_id, "order confirmed");
        }
        Ok(Confirmation::NotAwaited)
            if payment.status.is_success() && payment.refunded_at.is_none() =>
        {
            // Money taken for an order that does not wait for it (paid by another attempt,
            // or given up on): pay it back, never keep it. Until the refund is done the
            // delivery fails, so the e-wallet's next one retries it.
            let left = budget.saturating_sub(started.elapsed());
            match within(left, deps.refunds.refund(&payment, correlation_id)).await {
                Ok(at) => {
                    deps.repo.mark_refunded(payment.id, at).await?;
                    metrics::counter!(shared::metrics::PAYMENTS_REFUNDED).increment(1);
                    tracing::warn!(payment_id = %payment.id, order_id = %payment.order_id, "a success no order waits for was refunded");
                }
                Err(err) => {
                    release(deps, &payment, lease).await;
                    return Err(PaymentError::Ewallet(err));
                }
            }
        }
        Ok(Confirmation::NotAwaited) => {
            // The payment is recorded; retrying cannot change the order's mind.
            tracing::warn!(payment_id = %payment.id, order_id = %payment.order_id, "the order no longer waits for this payment; outcome recorded only");
        }
        Err(err) => {
            release(deps, &payment, lease).await;
            return Err(PaymentError::OrderService(err));
        }
    }
    deps.repo
        .mark_order_confirmed(payment.id, deps.clock.now())
        .await?;
    Ok(PaymentResponse {
        payment_id: payment.id,
        payment_status: payment.status,
    })
}

/// A deferred delivery (another one is confirming) is a 503 whose `Retry-After` comes
/// with the error (see `PaymentError`'s `ApiError`).
pub async fn handle<R: PaymentRepository, O: OrderConfirmation, F: Refunds, C: Clock>(
    deps: &WebhookDeps<R, O, F, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<PaymentError> {
    let now = deps.clock.now();
    let outcome = authenticate(&deps.secret, &request, now).await?;
    let budget = call_budget(
        invocation_deadline_ms(&request, now.timestamp_millis()),
        now.timestamp_millis(),
        CALL_MARGIN,
        CALL_CAP,
    );
    let body = apply(deps, &outcome, &correlation_id, now, budget).await?;
    Ok(json(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IdempotencyKey, NewPayment};
    use crate::memory::{FakeOrderConfirmation, FakeRefunds, InMemoryPaymentRepository};
    use chrono::Duration;
    use shared::http::ApiError;
    use shared::signature::{WebhookSecret, WebhookSecrets};
    use shared::testing::ApiRequest;
    use shared::{Currency, Money, UserId};

    const SECRET: &str = "unit-test-webhook-secret";

    fn deps() -> WebhookDeps<InMemoryPaymentRepository, FakeOrderConfirmation, FakeRefunds> {
        WebhookDeps {
            repo: InMemoryPaymentRepository::default(),
            orders: FakeOrderConfirmation::default(),
            refunds: FakeRefunds::default(),
            secret: LiveSecrets::fixed(WebhookSecrets::single(WebhookSecret::new(SECRET).unwrap())),
            clock: SystemClock,
        }
    }

    /// A Requested payment the e-wallet knows as `ewallet-<paymentId>`.
    async fn given_payment<C>(
        deps: &WebhookDeps<InMemoryPaymentRepository, FakeOrderConfirmation, FakeRefunds, C>,
        cents: i64,
    ) -> Payment {
        let new = NewPayment {
            key: IdempotencyKey::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
            user_id: UserId::new_random(),
            order_id: OrderId::new_random(),
            amount: Money::from_cents(cents, Currency::USD),
        };
        let mut payment = Payment::requested(&new, Utc::now());
        payment.external_id = Some(ExternalId::parse(&format!("ewallet-{}", payment.id)).unwrap());
        assert!(deps.repo.insert_if_absent(&payment).await.unwrap());
        payment
    }

    fn outcome(payment: &Payment, status: PaymentStatus) -> Outcome {
        Outcome {
            external_id: payment.external_id.clone().unwrap(),
            total_amount_cents: payment.amount.cents(),
            currency: payment.amount.currency(),
            status,
            order_id: payment.order_id,
            transaction: Transaction::new("tx-1", payment.amount.cents(), Utc::now()).unwrap(),
            merchant_reference: Some(payment.id),
        }
    }

    fn cid() -> CorrelationId {
        CorrelationId::generate()
    }

    #[tokio::test]
    async fn the_first_success_is_recorded_and_confirmed_once() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let response = apply(
            &deps,
            &outcome(&payment, PaymentStatus::Success),
            &cid(),
            Utc::now(),
            CALL_CAP,
        )
        .await
        .unwrap();
        assert_eq!(response.payment_status, PaymentStatus::Success);
        assert_eq!(deps.orders.confirmations(), vec![(payment.id, true)]);
        let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
        assert_eq!(stored.status, PaymentStatus::Success);
        assert_eq!(stored.transactions.len(), 1);
        assert!(stored.order_confirmed);
        assert_eq!(stored.confirming_until, None);
    }

    #[tokio::test]
    async fn a_webhook_that_beats_the_index_is_applied_by_our_reference() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        // The id is stored, but the byExternalId index does not show it yet.
        deps.repo.index_behind(true);
        let success = outcome(&payment, PaymentStatus::Success);
        let response = apply(&deps, &success, &cid(), Utc::now(), CALL_CAP).await;
        assert_eq!(response.unwrap().payment_status, PaymentStatus::Success);
        assert_eq!(deps.orders.confirmations(), vec![(payment.id, true)]);
    }

    #[tokio::test]
    async fn a_webhook_naming_another_id_than_the_stored_one_is_not_found() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        deps.repo.index_behind(true);
        let mut other = outcome(&payment, PaymentStatus::Success);
        other.external_id = ExternalId::parse("ewallet-another").unwrap();
        let err = apply(&deps, &other, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::NotFound), "{err:?}");
        assert!(deps.orders.confirmations().is_empty());
    }

    #[tokio::test]
    async fn failed_and_expired_outcomes_confirm_the_order_as_not_paid() {
        for status in [PaymentStatus::Failed, PaymentStatus::Expired] {
            let deps = deps();
            let payment = given_payment(&deps, 5011).await;
            apply(
                &deps,
                &outcome(&payment, status),
                &cid(),
                Utc::now(),
                CALL_CAP,
            )
            .await
            .unwrap();
            assert_eq!(deps.orders.confirmations(), vec![(payment.id, false)]);
        }
    }

    #[tokio::test]
    async fn a_duplicate_after_confirmation_changes_nothing_and_calls_nobody() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let success = outcome(&payment, PaymentStatus::Success);
        apply(&deps, &success, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        let before = deps.repo.get(payment.id).await.unwrap();

        let again = apply(&deps, &success, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();

        assert_eq!(again.payment_status, PaymentStatus::Success);
        assert_eq!(deps.orders.confirmations().len(), 1);
        assert_eq!(deps.repo.get(payment.id).await.unwrap(), before);
    }

    #[tokio::test]
    async fn a_duplicate_during_a_live_lease_is_asked_to_retry_later() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let now = Utc::now();
        let lease = lease_until(now);
        let success = outcome(&payment, PaymentStatus::Success);
        // Another delivery recorded the outcome and is still confirming.
        assert!(
            deps.repo
                .record_outcome(OutcomeRecord {
                    id: payment.id,
                    outcome: PaymentStatus::Success,
                    evidence: Evidence::Transaction(&success.transaction),
                    lease_until: lease,
                    now,
                })
                .await
                .unwrap()
        );

        let err = apply(
            &deps,
            &success,
            &cid(),
            now + Duration::seconds(5),
            CALL_CAP,
        )
        .await
        .unwrap_err();

        assert_eq!(
            err.retry_after_secs(),
            Some(crate::domain::MAX_RETRY_AFTER_SECS)
        );
        assert!(deps.orders.confirmations().is_empty());
    }

    #[tokio::test]
    async fn a_duplicate_after_the_winner_died_takes_over_and_confirms() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let then = Utc::now() - Duration::seconds(60);
        let success = outcome(&payment, PaymentStatus::Success);
        deps.repo
            .record_outcome(OutcomeRecord {
                id: payment.id,
                outcome: PaymentStatus::Success,
                evidence: Evidence::Transaction(&success.transaction),
                lease_until: lease_until(then),
                now: then,
            })
            .await
            .unwrap();

        apply(&deps, &success, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();

        assert_eq!(deps.orders.confirmations(), vec![(payment.id, true)]);
        let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
        assert!(stored.order_confirmed);
        assert_eq!(
            stored.transactions.len(),
            1,
            "the transaction is not repeated"
        );
    }

    #[tokio::test]
    async fn a_late_delivery_with_another_outcome_is_a_conflict_and_changes_nothing() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        apply(
            &deps,
            &outcome(&payment, PaymentStatus::Success),
            &cid(),
            Utc::now(),
            CALL_CAP,
        )
        .await
        .unwrap();
        let before = deps.repo.get(payment.id).await.unwrap();

        let err = apply(
            &deps,
            &outcome(&payment, PaymentStatus::Failed),
            &cid(),
            Utc::now(),
            CALL_CAP,
        )
        .await
        .unwrap_err();

        assert!(matches!(err, PaymentError::OutcomeConflict { .. }), "{err}");
        assert_eq!(deps.repo.get(payment.id).await.unwrap(), before);
        assert_eq!(deps.orders.confirmations().len(), 1);
    }

    #[tokio::test]
    async fn an_unknown_payment_request_is_not_found() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let mut unknown = outcome(&payment, PaymentStatus::Success);
        unknown.external_id = ExternalId::parse("nobody-knows-me").unwrap();
        let err = apply(&deps, &unknown, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::NotFound), "{err}");
    }

    #[tokio::test]
    async fn another_amount_or_order_is_a_conflict_and_changes_nothing() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let mut wrong_amount = outcome(&payment, PaymentStatus::Success);
        wrong_amount.total_amount_cents = 10098;
        let mut wrong_order = outcome(&payment, PaymentStatus::Success);
        wrong_order.order_id = OrderId::new_random();
        for wrong in [wrong_amount, wrong_order] {
            let err = apply(&deps, &wrong, &cid(), Utc::now(), CALL_CAP)
                .await
                .unwrap_err();
            assert!(matches!(err, PaymentError::Mismatch(_)), "{err}");
        }
        assert_eq!(
            deps.repo.get(payment.id).await.unwrap().as_ref(),
            Some(&payment)
        );
        assert!(deps.orders.confirmations().is_empty());
    }

    #[tokio::test]
    async fn when_the_order_no_longer_waits_the_outcome_is_still_recorded() {
        let deps = deps();
        deps.orders.answer_conflict(true);
        let payment = given_payment(&deps, 10099).await;
        let response = apply(
            &deps,
            &outcome(&payment, PaymentStatus::Success),
            &cid(),
            Utc::now(),
            CALL_CAP,
        )
        .await
        .unwrap();
        assert_eq!(response.payment_status, PaymentStatus::Success);
        assert!(
            deps.repo
                .get(payment.id)
                .await
                .unwrap()
                .unwrap()
                .order_confirmed
        );
    }

    #[tokio::test]
    async fn when_confirmation_fails_the_lease_is_released_and_a_redelivery_confirms() {
        let deps = deps();
        deps.orders.fail_next(1);
        let payment = given_payment(&deps, 10099).await;
        let success = outcome(&payment, PaymentStatus::Success);

        let err = apply(&deps, &success, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::OrderService(_)), "{err}");
        let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
        assert_eq!(stored.status, PaymentStatus::Success);
        assert_eq!(stored.confirming_until, None);
        assert!(!stored.order_confirmed);

        apply(&deps, &success, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        assert_eq!(deps.orders.confirmations(), vec![(payment.id, true)]);
        assert!(
            deps.repo
                .get(payment.id)
                .await
                .unwrap()
                .unwrap()
                .order_confirmed
        );
    }

    fn webhook_body(payment: &Payment, amount: &str) -> String {
        format!(
            r#"{{"paymentRequestId":"{}","totalAmount":{amount},"currency":"USD","statusCode":"SUCCESS","transaction":{{"transactionId":"tx-1","orderId":"{}","transactionTime":"2026-11-25T12:00:00Z"}}}}"#,
            payment.external_id.as_ref().unwrap(),
            payment.order_id
        )
    }

    fn webhook_request(body: &str, signature: Option<&str>) -> Request {
        let mut request = ApiRequest::new("POST", "/api/v1/payments/webhook", &[]).body(body);
        if let Some(signature) = signature {
            request = request.header("X-Ewallet-Signature", signature);
        }
        request.build()
    }

    #[tokio::test]
    async fn a_correctly_signed_webhook_is_parsed() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let body = webhook_body(&payment, "100.99");
        let now = Utc::now();
        let header = signature::sign(SECRET.as_bytes(), now.timestamp(), body.as_bytes());
        let outcome = authenticate(&deps.secret, &webhook_request(&body, Some(&header)), now)
            .await
            .unwrap();
        assert_eq!(outcome.status, PaymentStatus::Success);
        assert_eq!(outcome.total_amount_cents, 10099);
        assert_eq!(outcome.external_id, payment.external_id.unwrap());
    }

    #[tokio::test]
    async fn during_a_secret_rotation_a_webhook_signed_with_the_previous_secret_is_accepted() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let body = webhook_body(&payment, "100.99");
        let now = Utc::now();
        let rotating = LiveSecrets::fixed(WebhookSecrets::new(
            WebhookSecret::new("the-next-webhook-secret").unwrap(),
            Some(WebhookSecret::new(SECRET).unwrap()),
        ));
        for secret in [SECRET.as_bytes(), b"the-next-webhook-secret"] {
            let header = signature::sign(secret, now.timestamp(), body.as_bytes());
            let request = webhook_request(&body, Some(&header));
            assert!(authenticate(&rotating, &request, now).await.is_ok());
        }
        // Once the rotation ends, the old secret is refused.
        let rotated = LiveSecrets::fixed(WebhookSecrets::single(
            WebhookSecret::new("the-next-webhook-secret").unwrap(),
        ));
        let header = signature::sign(SECRET.as_bytes(), now.timestamp(), body.as_bytes());
        let request = webhook_request(&body, Some(&header));
        let err = authenticate(&rotated, &request, now).await.unwrap_err();
        assert!(matches!(err, PaymentError::Signature(_)), "{err}");
    }

    #[tokio::test]
    async fn bad_signatures_are_refused_before_the_body_is_read() {
        let deps = deps();
        let now = Utc::now();
        // Not even JSON: a 401, never a 400, proves the body was not parsed first.
        let body = "not json";
        let stale = signature::sign(SECRET.as_bytes(), now.timestamp() - 360, body.as_bytes());
        let wrong = signature::sign(b"another-secret-value", now.timestamp(), body.as_bytes());
        let other_body = signature::sign(SECRET.as_bytes(), now.timestamp(), b"other");
        for header in [
            None,
            Some("garbage"),
            Some(stale.as_str()),
            Some(wrong.as_str()),
            Some(other_body.as_str()),
        ] {
            let request = webhook_request(body, header);
            let err = authenticate(&deps.secret, &request, now).await.unwrap_err();
            assert!(
                matches!(err, PaymentError::Signature(_)),
                "{header:?}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn a_validly_signed_but_malformed_webhook_is_a_bad_request() {
        let deps = deps();
        let payment = given_payment(&deps, 10099).await;
        let good = webhook_body(&payment, "100.99");
        let now = Utc::now();
        for body in [
            "{".to_owned(),
            "{}".to_owned(),
            good.replace(&payment.order_id.to_string(), "42"),
            good.replace("\"SUCCESS\"", "\"MAYBE\""),
            good.replace(&payment.external_id.clone().unwrap().to_string(), ""),
            good.replace("100.99", "\"100.99\""),
        ] {
            let header = signature::sign(SECRET.as_bytes(), now.timestamp(), body.as_bytes());
            let request = webhook_request(&body, Some(&header));
            let err = authenticate(&deps.secret, &request, now).await.unwrap_err();
            assert!(matches!(err, PaymentError::Invalid(_)), "{body}: {err}");
        }
    }

    #[tokio::test]
    async fn the_replay_window_is_judged_by_the_clock_of_the_deps() {
        let signed_at = Utc::now();
        let WebhookDeps {
            repo,
            orders,
            refunds,
            secret,
            ..
        } = deps();
        let deps = WebhookDeps {
            repo,
            orders,
            refunds,
            secret,
            clock: shared::clock::FixedClock::at(signed_at + Duration::minutes(6)),
        };
        let payment = given_payment(&deps, 10099).await;
        let body = webhook_body(&payment, "100.99");
        let header = signature::sign(SECRET.as_bytes(), signed_at.timestamp(), body.as_bytes());

        let result = handle(&deps, webhook_request(&body, Some(&header)), cid()).await;

        assert!(matches!(
            result,
            Err(PaymentError::Signature(signature::SignatureError::Stale))
        ));
        assert!(deps.orders.confirmations().is_empty());
    }

    /// An order service that never answers.
    struct SilentOrders;

    impl OrderConfirmation for SilentOrders {
        async fn confirm_payment(
            &self,
            _payment: &Payment,
            _correlation_id: &CorrelationId,
        ) -> Result<Confirmation, crate::gateway::GatewayError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_confirm_call_gets_the_time_left_minus_the_margin_and_then_lets_go() {
        let silent = WebhookDeps {
            repo: InMemoryPaymentRepository::default(),
            orders: SilentOrders,
            refunds: FakeRefunds::default(),
            secret: LiveSecrets::fixed(WebhookSecrets::single(WebhookSecret::new(SECRET).unwrap())),
            clock: SystemClock,
        };
        let new = NewPayment {
            key: IdempotencyKey::parse("budget-test").unwrap(),
            user_id: UserId::new_random(),
            order_id: OrderId::new_random(),
            amount: Money::from_cents(10099, Currency::USD),
        };
        let mut payment = Payment::requested(&new, Utc::now());
        payment.external_id = Some(ExternalId::parse("ewallet-budget-test").unwrap());
        assert!(silent.repo.insert_if_absent(&payment).await.unwrap());
        let now_ms = 1_000_000_i64;
        let budget = call_budget(Some(now_ms as u64 + 4_000), now_ms, CALL_MARGIN, CALL_CAP);
        assert_eq!(budget, std::time::Duration::from_millis(2_500));

        let started = tokio::time::Instant::now();
        let err = apply(
            &silent,
            &outcome(&payment, PaymentStatus::Success),
            &cid(),
            Utc::now(),
            budget,
        )
        .await
        .unwrap_err();

        assert_eq!(started.elapsed(), budget);
        assert!(
            matches!(
                err,
                PaymentError::OrderService(crate::gateway::GatewayError::OutOfTime { .. })
            ),
            "{err}"
        );
        // The outcome is recorded and the confirm lease given back for the next delivery.
        let stored = silent.repo.get(payment.id).await.unwrap().unwrap();
        assert_eq!(stored.status, PaymentStatus::Success);
        assert_eq!(stored.confirming_until, None);
    }
}
