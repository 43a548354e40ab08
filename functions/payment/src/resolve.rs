//! POST /api/internal/v1/payments/{paymentId}/resolve (the order service's reconciler →
//! payment service), no body.
//!
//! Makes a payment's outcome definite, so that an order stuck in PaymentPending can be
//! settled:
//! - no payment with that id → 404: definitely no payment exists;
//! - decided (Success, Failed, Expired) → 200 with that status (a refunded Success is
//!   still Success: the order was paid with it);
//! - Requested → cancelled at the e-wallet, after re-driving the request first if its
//!   e-wallet id was never stored (the same idempotency key: the same e-wallet request).
//!   A cancel records Failed; an outcome the e-wallet had reported already is recorded
//!   with its transaction. Recorded like the webhook records it: only while Requested, and
//!   with the confirm lease, so a concurrent webhook delivery defers to the caller, which
//!   confirms the order. If a webhook delivery recorded first, its outcome is answered;
//! - the re-driven request refused by the e-wallet (a 4xx other than 401) → Failed: an
//!   idempotent provider answers the request an earlier call made, so none exists;
//! - the e-wallet busy (delivering the webhook right now) or failing → 503 with
//!   Retry-After, and nothing changed: the caller tries again later.
//!
//! The e-wallet calls share one budget, taken from the invocation's deadline.

use std::time::Duration;

use http::StatusCode;
use lambda_http::Request;
use shared::client::call_budget;
use shared::contracts::{PaymentResponse, PaymentStatus};
use shared::http::{HandlerResult, invocation_deadline_ms, json, path_param};
use shared::telemetry::ErrorChain;
use shared::{Clock, CorrelationId, PaymentId, SystemClock};

use crate::domain::lease_until;
use crate::gateway::{CALL_CAP, CALL_MARGIN, CancelAnswer, Cancellations, Ewallet, within};
use crate::repository::{Evidence, OutcomeRecord};
use crate::request::{ask_ewallet, vanished};
use crate::{PaymentError, PaymentRepository};

/// What resolving a payment needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct ResolveDeps<R, E, C = SystemClock> {
    pub repo: R,
    pub ewallet: E,
    pub clock: C,
}

/// Resolves payment `id`; the e-wallet calls together get at most `budget`.
pub async fn resolve<R, E, C>(
    deps: &ResolveDeps<R, E, C>,
    id: PaymentId,
    correlation_id: &CorrelationId,
    budget: Duration,
) -> Result<PaymentResponse, PaymentError>
where
    R: PaymentRepository,
    E: Ewallet + Cancellations,
    C: Clock,
{
    let started = tokio::time::Instant::now();
    let Some(payment) = deps.repo.get(id).await? else {
        tracing::info!(payment_id = %id, "no such payment: none exists");
        return Err(PaymentError::NoSuchPayment);
    };
    if payment.status != PaymentStatus::Requested {
        tracing::info!(payment_id = %id, status = payment.status.as_str(), "already decided");
        return Ok(payment.response());
    }
    let payment = if payment.external_id.is_some() {
        payment
    } else {
        // The e-wallet may hold a request whose id we never stored: re-driving with the
        // same key finds it (or makes it), so the cancel reaches the one that counts.
        tracing::info!(payment_id = %id, "no e-wallet id stored; re-driving the request first");
        let redriven = ask_ewallet(
            &deps.repo,
            &deps.ewallet,
            &deps.clock,
            payment.clone(),
            correlation_id,
            budget,
            PaymentError::Unsettled,
        )
        .await;
        match redriven {
            Ok(payment) => payment,
            // The e-wallet refuses the request under the same key: an idempotent provider
            // would have answered the request such a key made, so none exists and no money
            // moved. The payment fails, and its order can be paid again.
            Err(PaymentError::Unsettled(err)) if err.is_refusal() => {
                tracing::warn!(payment_id = %id, error = %ErrorChain(&err), "the e-wallet refuses the re-driven request; the payment fails");
                return record_refusal(deps, id, &payment).await;
            }
            Err(err) => {
                unsettled(id, &err);
                return Err(err);
            }
        }
    };

    let left = budget.saturating_sub(started.elapsed());
    let answer = within(left, deps.ewallet.cancel(&payment, correlation_id))
        .await
        .map_err(PaymentError::Unsettled)
        .inspect_err(|err| unsettled(id, err))?;
    let (outcome, evidence) = match &answer {
        CancelAnswer::Cancelled { at } => (PaymentStatus::Failed, Evidence::Cancelled(*at)),
        CancelAnswer::Decided {
            status,
            transaction,
        } => (*status, Evidence::Transaction(transaction)),
    };
    let now = deps.clock.now();
    let record = OutcomeRecord {
        id,
        outcome,
        evidence,
        lease_until: lease_until(now),
        now,
    };
    if deps.repo.record_outcome(record).await? {
        tracing::info!(
            payment_id = %id,
            status = outcome.as_str(),
            cancelled = matches!(answer, CancelAnswer::Cancelled { .. }),
            "payment resolved"
        );
        metrics::counter!(shared::metrics::payment_outcome_metric(outcome)).increment(1);
        return Ok(PaymentResponse {
            payment_id: id,
            payment_status: outcome,
        });
    }
    let stored = deps.repo.get(id).await?.ok_or_else(|| vanished(&payment))?;
    tracing::info!(
        payment_id = %id,
        status = stored.status.as_str(),
        "a webhook delivery decided the payment first; answering its outcome"
    );
    Ok(stored.response())
}

/// Records a payment the e-wallet refused as Failed (no money moved), like a cancel.
async fn record_refusal<R: PaymentRepository, E, C: Clock>(
    deps: &ResolveDeps<R, E, C>,
    id: PaymentId,
    payment: &crate::Payment,
) -> Result<PaymentResponse, PaymentError> {
    let now = deps.clock.now();
    let record = OutcomeRecord {
        id,
        outcome: PaymentStatus::Failed,
        evidence: Evidence::Cancelled(now),
        lease_until: lease_until(now),
        now,
    };
    if deps.repo.record_outcome(record).await? {
        metrics::counter!(shared::metrics::payment_outcome_metric(
            PaymentStatus::Failed
        ))
        .increment(1);
        return Ok(PaymentResponse {
            payment_id: id,
            payment_status: PaymentStatus::Failed,
        });
    }
    let stored = deps.repo.get(id).await?.ok_or_else(|| vanished(payment))?;
    Ok(stored.response())
}

/// The 503's cause stays in the log (the problem answered carries none).
fn unsettled(id: PaymentId, err: &PaymentError) {
    tracing::warn!(payment_id = %id, error = %ErrorChain(err), "not resolved now; nothing changed");
}

pub async fn handle<R, E, C>(
    deps: &ResolveDeps<R, E, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<PaymentError>
where
    R: PaymentRepository,
    E: Ewallet + Cancellations,
    C: Clock,
{
    let id = PaymentId::parse(&path_param(&request, "paymentId")?)?;
    let budget = call_budget(
        invocation_deadline_ms(&request, deps.clock.now().timestamp_millis()),
        deps.clock.now().timestamp_millis(),
        CALL_MARGIN,
        CALL_CAP,
    );
    let body = resolve(deps, id, &correlation_id, budget).await?;
    Ok(json(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use shared::http::ApiError;
    use shared::signature::WebhookSecret;
    use shared::testing::{ApiRequest, assert_problem, body_json};
    use shared::{Currency, Money, OrderId, UserId};

    use super::*;
    use crate::domain::{ExternalId, IdempotencyKey, NewPayment, Payment, Transaction};
    use crate::gateway::GatewayError;
    use crate::memory::{
        FakeEwallet, FakeOrderConfirmation, FakeRefunds, InMemoryPaymentRepository,
    };
    use crate::webhook::{self, Outcome, WebhookDeps};

    const ROUTE: &str = "/api/internal/v1/payments/{paymentId}/resolve";

    type Deps = ResolveDeps<InMemoryPaymentRepository, FakeEwallet>;

    fn deps() -> Deps {
        ResolveDeps {
            repo: InMemoryPaymentRepository::default(),
            ewallet: FakeEwallet::default(),
            clock: SystemClock,
        }
    }

    fn cid() -> CorrelationId {
        CorrelationId::generate()
    }

    fn new_payment() -> NewPayment {
        NewPayment {
            key: IdempotencyKey::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
            user_id: UserId::new_random(),
            order_id: OrderId::new_random(),
            amount: Money::from_cents(10099, Currency::USD),
        }
    }

    /// A Requested payment, known to the e-wallet as `ewallet-<paymentId>` (or not at all).
    async fn given_requested(repo: &InMemoryPaymentRepository, known: bool) -> Payment {
        let mut payment = Payment::requested(&new_payment(), Utc::now());
        if known {
            payment.external_id =
                Some(ExternalId::parse(&format!("ewallet-{}", payment.id)).unwrap());
        }
        assert!(repo.insert_if_absent(&payment).await.unwrap());
        payment
    }

    fn transaction() -> Transaction {
        Transaction::new("tx-reported", 10099, Utc::now()).unwrap()
    }

    #[tokio::test]
    async fn an_unknown_payment_is_a_definite_not_found() {
        let deps = deps();
        let err = resolve(&deps, PaymentId::new_random(), &cid(), CALL_CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::NoSuchPayment), "{err}");
        assert_eq!(err.problem().status, 404);
        assert_eq!(deps.ewallet.calls() + deps.ewallet.cancels(), 0);
    }

    #[tokio::test]
    async fn a_decided_payment_is_answered_as_stored_without_calling_the_e_wallet() {
        for status in [
            PaymentStatus::Success,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
        ] {
            let deps = deps();
            let mut payment = Payment::requested(&new_payment(), Utc::now());
            payment.status = status;
            // A refunded success still paid its order.
            payment.refunded_at = Some(Utc::now());
            assert!(deps.repo.insert_if_absent(&payment).await.unwrap());

            let response = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();

            assert_eq!(response, payment.response());
            assert_eq!(deps.ewallet.calls() + deps.ewallet.cancels(), 0);
            assert_eq!(deps.repo.get(payment.id).await.unwrap(), Some(payment));
        }
    }

    #[tokio::test]
    async fn a_requested_payment_is_cancelled_and_recorded_as_failed_under_a_confirm_lease() {
        let deps = deps();
        let payment = given_requested(&deps.repo, true).await;

        let response = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();

        assert_eq!(response.payment_status, PaymentStatus::Failed);
        assert_eq!(deps.ewallet.cancels(), 1);
        assert_eq!(deps.ewallet.calls(), 0);
        let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
        assert_eq!(stored.status, PaymentStatus::Failed);
        assert!(stored.cancelled_at.is_some());
        assert!(stored.transactions.is_empty());
        assert!(stored.confirming_until.is_some(), "the caller confirms");
        assert!(!stored.order_confirmed);
    }

    #[tokio::test]
    async fn an_outcome_the_e_wallet_reported_already_is_recorded_with_its_transaction() {
        for status in [
            PaymentStatus::Success,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
        ] {
            let deps = deps();
            let payment = given_requested(&deps.repo, true).await;
            let tx = transaction();
            deps.ewallet.answer_cancels_with(CancelAnswer::Decided {
                status,
                transaction: tx.clone(),
            });

            let response = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();

            assert_eq!(response.payment_status, status);
            let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
            assert_eq!(stored.status, status);
            assert_eq!(stored.transactions, vec![tx]);
            assert_eq!(stored.cancelled_at, None);
            assert!(stored.confirming_until.is_some());
        }
    }

    #[tokio::test]
    async fn a_payment_whose_e_wallet_id_was_never_stored_is_re_driven_then_cancelled() {
        let deps = deps();
        let payment = given_requested(&deps.repo, false).await;

        let response = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();

        assert_eq!(response.payment_status, PaymentStatus::Failed);
        assert_eq!(deps.ewallet.calls(), 1, "re-driven once");
        assert_eq!(deps.ewallet.cancels(), 1);
        let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
        assert_eq!(
            stored.external_id.map(|e| e.to_string()),
            Some(format!("ewallet-{}", payment.id)),
            "the e-wallet's id for the same key is stored"
        );
        assert_eq!(stored.status, PaymentStatus::Failed);
    }

    #[tokio::test]
    async fn when_the_e_wallet_cannot_settle_it_the_answer_is_503_and_nothing_changes() {
        let deps = deps();
        let known = given_requested(&deps.repo, true).await;
        let unknown = given_requested(&deps.repo, false).await;
        deps.ewallet.fail_next_cancels(1);
        deps.ewallet.fail_next(1);

        for payment in [&known, &unknown] {
            let err = resolve(&deps, payment.id, &cid(), CALL_CAP)
                .await
                .unwrap_err();

            assert!(matches!(err, PaymentError::Unsettled(_)), "{err}");
            assert_eq!(err.problem().status, 503);
            assert!(err.retry_after_secs().is_some());
            assert_eq!(
                deps.repo.get(payment.id).await.unwrap().as_ref(),
                Some(payment)
            );
        }
        assert_eq!(
            deps.ewallet.cancels(),
            1,
            "a failed re-drive cancels nothing"
        );

        // The next run settles both.
        for payment in [&known, &unknown] {
            let response = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();
            assert_eq!(response.payment_status, PaymentStatus::Failed);
        }
    }

    #[tokio::test]
    async fn a_repeated_resolve_answers_the_same_and_calls_the_e_wallet_no_more() {
        let deps = deps();
        let payment = given_requested(&deps.repo, true).await;
        let first = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();
        let again = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(deps.ewallet.cancels(), 1);
    }

    fn webhook_deps(
        repo: InMemoryPaymentRepository,
    ) -> WebhookDeps<InMemoryPaymentRepository, FakeOrderConfirmation, FakeRefunds> {
        WebhookDeps {
            repo,
            orders: FakeOrderConfirmation::default(),
            refunds: FakeRefunds::default(),
            secret: shared::secrets::LiveSecrets::fixed(shared::signature::WebhookSecrets::single(
                WebhookSecret::new("unit-test-webhook-secret").unwrap(),
            )),
            clock: SystemClock,
        }
    }

    fn delivered(payment: &Payment, status: PaymentStatus) -> Outcome {
        Outcome {
            external_id: payment.external_id.clone().unwrap(),
            total_amount_cents: payment.amount.cents(),
            currency: payment.amount.currency(),
            status,
            order_id: payment.order_id,
            transaction: transaction(),
            merchant_reference: Some(payment.id),
        }
    }

    /// An e-wallet whose webhook delivery is applied while the cancel is in flight (the
    /// webhook wins the race), and whose cancel then answers the verdict it delivered.
    struct WebhookWinsTheRace {
        webhook: WebhookDeps<InMemoryPaymentRepository, FakeOrderConfirmation, FakeRefunds>,
    }

    impl Ewallet for WebhookWinsTheRace {
        async fn request_payment(
            &self,
            _payment: &Payment,
            _correlation_id: &CorrelationId,
        ) -> Result<ExternalId, GatewayError> {
            Err(GatewayError::Unavailable("not asked in this test"))
        }
    }

    impl Cancellations for WebhookWinsTheRace {
        async fn cancel(
            &self,
            payment: &Payment,
            correlation_id: &CorrelationId,
        ) -> Result<CancelAnswer, GatewayError> {
            let outcome = delivered(payment, PaymentStatus::Success);
            webhook::apply(
                &self.webhook,
                &outcome,
                correlation_id,
                Utc::now(),
                CALL_CAP,
            )
            .await
            .map_err(|_| GatewayError::Unavailable("the webhook was not applied"))?;
            Ok(CancelAnswer::Decided {
                status: outcome.status,
                transaction: outcome.transaction,
            })
        }
    }

    #[tokio::test]
    async fn when_a_webhook_delivery_decides_it_first_its_outcome_is_answered() {
        let repo = InMemoryPaymentRepository::default();
        let payment = given_requested(&repo, true).await;
        let deps = ResolveDeps {
            repo: repo.clone(),
            ewallet: WebhookWinsTheRace {
                webhook: webhook_deps(repo),
            },
            clock: SystemClock,
        };

        let response = resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();

        assert_eq!(response.payment_status, PaymentStatus::Success);
        let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
        assert_eq!(stored.status, PaymentStatus::Success);
        assert_eq!(
            stored.transactions.len(),
            1,
            "recorded once, by the webhook"
        );
        assert!(stored.order_confirmed, "the webhook confirmed its order");
        assert_eq!(
            deps.ewallet.webhook.orders.confirmations(),
            vec![(payment.id, true)]
        );
    }

    #[tokio::test]
    async fn a_webhook_delivery_after_the_resolve_defers_to_the_caller_who_confirms() {
        let deps = deps();
        let payment = given_requested(&deps.repo, true).await;
        deps.ewallet.answer_cancels_with(CancelAnswer::Decided {
            status: PaymentStatus::Success,
            transaction: transaction(),
        });
        resolve(&deps, payment.id, &cid(), CALL_CAP).await.unwrap();
        let webhook = webhook_deps(deps.repo.clone());

        let err = webhook::apply(
            &webhook,
            &delivered(&payment, PaymentStatus::Success),
            &cid(),
            Utc::now(),
            CALL_CAP,
        )
        .await
        .unwrap_err();

        assert!(
            matches!(err, PaymentError::ConfirmationInProgress { .. }),
            "{err}"
        );
        assert!(webhook.orders.confirmations().is_empty());
        assert_eq!(
            deps.repo
                .get(payment.id)
                .await
                .unwrap()
                .unwrap()
                .transactions
                .len(),
            1
        );
    }

    /// An e-wallet that takes `request_after` to answer a payment request and never
    /// answers a cancel.
    struct SlowEwallet {
        request_after: Duration,
    }

    impl Ewallet for SlowEwallet {
        async fn request_payment(
            &self,
            payment: &Payment,
            _correlation_id: &CorrelationId,
        ) -> Result<ExternalId, GatewayError> {
            tokio::time::sleep(self.request_after).await;
            ExternalId::parse(&format!("ewallet-{}", payment.id)).map_err(GatewayError::BadAnswer)
        }
    }

    impl Cancellations for SlowEwallet {
        async fn cancel(
            &self,
            _payment: &Payment,
            _correlation_id: &CorrelationId,
        ) -> Result<CancelAnswer, GatewayError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_e_wallet_calls_share_the_time_left_minus_the_margin_and_at_most_5_s() {
        let now_ms = 1_000_000_i64;
        for (left_ms, expected) in [(3_000_u64, 1_500_u64), (60_000, 5_000)] {
            let deps = ResolveDeps {
                repo: InMemoryPaymentRepository::default(),
                ewallet: SlowEwallet {
                    request_after: Duration::from_millis(1_000),
                },
                clock: SystemClock,
            };
            let payment = given_requested(&deps.repo, false).await;
            let budget = call_budget(Some(now_ms as u64 + left_ms), now_ms, CALL_MARGIN, CALL_CAP);
            assert_eq!(budget, Duration::from_millis(expected));

            let started = tokio::time::Instant::now();
            let err = resolve(&deps, payment.id, &cid(), budget)
                .await
                .unwrap_err();

            assert_eq!(started.elapsed(), budget, "both calls within one budget");
            // The re-drive took 1 s of it; the cancel got the rest.
            let rest = expected - 1_000;
            assert!(
                matches!(err, PaymentError::Unsettled(GatewayError::OutOfTime { budget_ms }) if budget_ms == rest),
                "{err}"
            );
            let stored = deps.repo.get(payment.id).await.unwrap().unwrap();
            assert_eq!(stored.status, PaymentStatus::Requested);
            assert!(stored.external_id.is_some(), "the re-drive's id is kept");
        }
    }

    fn http_request(id: &str) -> Request {
        ApiRequest::new("POST", ROUTE, &[("paymentId", id)]).build()
    }

    async fn call(deps: &Deps, id: &str) -> lambda_http::Response<lambda_http::Body> {
        let cid = cid();
        shared::http::respond(
            handle(deps, http_request(id), cid.clone()).await,
            &cid,
            ROUTE,
        )
    }

    #[tokio::test]
    async fn the_endpoint_answers_the_decided_status_or_a_problem() {
        let deps = deps();
        let payment = given_requested(&deps.repo, true).await;
        let busy = given_requested(&deps.repo, true).await;

        let resolved = call(&deps, &payment.id.to_string()).await;
        assert_eq!(resolved.status(), 200);
        assert_eq!(
            body_json(&resolved),
            serde_json::json!({ "paymentId": payment.id.to_string(), "paymentStatus": "Failed" })
        );

        assert_problem(
            &call(&deps, &PaymentId::new_random().to_string()).await,
            404,
        );
        assert_problem(&call(&deps, "not-a-payment-id").await, 400);
        deps.ewallet.fail_next_cancels(1);
        let unsettled = call(&deps, &busy.id.to_string()).await;
        assert_problem(&unsettled, 503);
        assert!(unsettled.headers().contains_key(http::header::RETRY_AFTER));
    }
}
