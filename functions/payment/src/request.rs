//! POST /api/internal/v1/users/{userId}/payments (order service → payment service)
//!
//! Records a payment and asks the e-wallet for it, idempotently: the `Idempotency-Key`
//! names the payment (its id is derived from the key), the first write is conditional,
//! and the e-wallet is called only while the payment has no e-wallet id. A retry with
//! the same key finds the same payment and resumes where the last attempt stopped.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::Request;
use shared::client::call_budget;
use shared::contracts::{PaymentRequest, PaymentResponse};
use shared::http::{HandlerResult, invocation_deadline_ms, json, json_body, path_param};
use shared::{Clock, CorrelationId, Money, SystemClock, UserId, ValidationError};

use crate::domain::{IdempotencyKey, NewPayment, Payment};
use crate::gateway::{CALL_CAP, CALL_MARGIN, Ewallet, GatewayError, within};
use crate::{PaymentError, PaymentRepository, RepositoryError};

/// What the payment request needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct RequestDeps<R, E, C = SystemClock> {
    pub repo: R,
    pub ewallet: E,
    pub clock: C,
}

impl NewPayment {
    /// The user of the path, the key of the header and the body, checked together.
    pub fn from_request(request: &Request) -> Result<Self, ValidationError> {
        let user_id = UserId::parse(&path_param(request, "userId")?)?;
        let key = IdempotencyKey::from_headers(request.headers())?;
        let body: PaymentRequest = json_body(request)?;
        if body.user_id != user_id {
            return Err(ValidationError::new(
                "userId",
                "must be the user named in the path",
            ));
        }
        if body.amount <= 0 {
            return Err(ValidationError::new("amount", "must be greater than 0"));
        }
        Ok(Self {
            key,
            user_id,
            order_id: body.order_id,
            amount: Money::from_cents(body.amount, body.currency),
        })
    }
}

pub async fn request_payment<R: PaymentRepository, E: Ewallet, C: Clock>(
    deps: &RequestDeps<R, E, C>,
    new: &NewPayment,
    correlation_id: &CorrelationId,
    now: DateTime<Utc>,
    budget: Duration,
) -> Result<PaymentResponse, PaymentError> {
    let candidate = Payment::requested(new, now);
    let payment = if deps.repo.insert_if_absent(&candidate).await? {
        tracing::info!(payment_id = %candidate.id, order_id = %candidate.order_id, "payment recorded");
        candidate
    } else {
        let stored = deps
            .repo
            .get(candidate.id)
            .await?
            .ok_or_else(|| vanished(&candidate))?;
        if !stored.answers(new) {
            tracing::warn!(payment_id = %stored.id, "idempotency key reused for another payment request");
            return Err(PaymentError::KeyReused);
        }
        stored
    };

    if let Some(external) = &payment.external_id {
        tracing::info!(payment_id = %payment.id, external_id = %external, "payment already requested from the e-wallet");
        return Ok(payment.response());
    }
    let payment = ask_ewallet(
        &deps.repo,
        &deps.ewallet,
        &deps.clock,
        payment,
        correlation_id,
        budget,
        request_failed,
    )
    .await?;
    Ok(payment.response())
}

/// A refusal is answered as one (422), so checkout puts the order back at once; any other
/// failure may hide a request the e-wallet took (503: the caller keeps waiting).
fn request_failed(err: GatewayError) -> PaymentError {
    if err.is_refusal() {
        tracing::warn!(error = %shared::telemetry::ErrorChain(&err), "the e-wallet refused the payment request");
        PaymentError::Refused(err)
    } else {
        PaymentError::Ewallet(err)
    }
}

/// Asks the e-wallet for `payment` within `budget` and stores the id it answers; returns
/// the payment as stored then. Idempotent on the payment's id (the call's idempotency
/// key): a repeat gets the same e-wallet request. `failed` names what an e-wallet failure
/// means to the caller.
pub(crate) async fn ask_ewallet<R: PaymentRepository, E: Ewallet, C: Clock>(
    repo: &R,
    ewallet: &E,
    clock: &C,
    mut payment: Payment,
    correlation_id: &CorrelationId,
    budget: Duration,
    failed: fn(GatewayError) -> PaymentError,
) -> Result<Payment, PaymentError> {
    let external = within(budget, ewallet.request_payment(&payment, correlation_id))
        .await
        .map_err(failed)?;
    if repo
        .set_external_id(payment.id, &external, clock.now())
        .await?
    {
        tracing::info!(payment_id = %payment.id, external_id = %external, "payment requested from the e-wallet");
        payment.external_id = Some(external);
        return Ok(payment);
    }
    // A concurrent attempt stored another e-wallet id (a provider that ignored our
    // idempotency key): the stored one stays, its webhook is the one that counts.
    let stored = repo
        .get(payment.id)
        .await?
        .ok_or_else(|| vanished(&payment))?;
    tracing::warn!(
        payment_id = %payment.id,
        external_id = %external,
        stored_external_id = ?stored.external_id,
        "the e-wallet answered another payment request id than the stored one; keeping the stored one"
    );
    Ok(stored)
}

pub(crate) fn vanished(payment: &Payment) -> RepositoryError {
    RepositoryError::Corrupt {
        key: format!("paymentId={}", payment.id),
        reason: "the payment vanished after it was written".into(),
    }
}

pub async fn handle<R: PaymentRepository, E: Ewallet, C: Clock>(
    deps: &RequestDeps<R, E, C>,
    request: Request,
    correlation_id: CorrelationId,
) -> HandlerResult<PaymentError> {
    let new = NewPayment::from_request(&request)?;
    let now = deps.clock.now();
    let budget = call_budget(
        invocation_deadline_ms(&request, now.timestamp_millis()),
        now.timestamp_millis(),
        CALL_MARGIN,
        CALL_CAP,
    );
    let body = request_payment(deps, &new, &correlation_id, now, budget).await?;
    Ok(json(StatusCode::CREATED, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{FakeEwallet, InMemoryPaymentRepository};
    use shared::contracts::PaymentStatus;
    use shared::testing::ApiRequest;
    use shared::{Currency, OrderId};

    const ROUTE: &str = "/api/internal/v1/users/{userId}/payments";

    fn deps() -> RequestDeps<InMemoryPaymentRepository, FakeEwallet> {
        RequestDeps {
            repo: InMemoryPaymentRepository::default(),
            ewallet: FakeEwallet::default(),
            clock: SystemClock,
        }
    }

    fn new_payment(key: &str) -> NewPayment {
        NewPayment {
            key: IdempotencyKey::parse(key).unwrap(),
            user_id: UserId::new_random(),
            order_id: OrderId::new_random(),
            amount: Money::from_cents(10099, Currency::USD),
        }
    }

    fn cid() -> CorrelationId {
        CorrelationId::generate()
    }

    #[tokio::test]
    async fn a_new_payment_is_recorded_and_requested_from_the_e_wallet_once() {
        let deps = deps();
        let new = new_payment("attempt-1");
        let response = request_payment(&deps, &new, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        assert_eq!(response.payment_id, new.key.payment_id());
        assert_eq!(response.payment_status, PaymentStatus::Requested);
        let stored = deps.repo.get(response.payment_id).await.unwrap().unwrap();
        assert!(stored.external_id.is_some());
        assert_eq!(deps.ewallet.calls(), 1);
    }

    #[tokio::test]
    async fn a_retry_with_the_same_key_finds_the_payment_without_calling_the_e_wallet_again() {
        let deps = deps();
        let new = new_payment("attempt-1");
        let first = request_payment(&deps, &new, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        let again = request_payment(&deps, &new, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(deps.ewallet.calls(), 1);
        assert_eq!(deps.repo.len(), 1);
    }

    #[tokio::test]
    async fn the_same_key_for_another_order_or_amount_is_a_conflict() {
        let deps = deps();
        let new = new_payment("attempt-1");
        request_payment(&deps, &new, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        for other in [
            NewPayment {
                order_id: OrderId::new_random(),
                ..new.clone()
            },
            NewPayment {
                amount: Money::from_cents(1, Currency::USD),
                ..new.clone()
            },
        ] {
            let err = request_payment(&deps, &other, &cid(), Utc::now(), CALL_CAP)
                .await
                .unwrap_err();
            assert!(matches!(err, PaymentError::KeyReused), "{err}");
        }
        assert_eq!(deps.ewallet.calls(), 1);
    }

    #[tokio::test]
    async fn when_the_e_wallet_fails_the_payment_waits_for_a_retry_that_resumes_it() {
        let deps = deps();
        deps.ewallet.fail_next(1);
        let new = new_payment("attempt-1");
        let err = request_payment(&deps, &new, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::Ewallet(_)), "{err}");
        let waiting = deps.repo.get(new.key.payment_id()).await.unwrap().unwrap();
        assert_eq!(waiting.status, PaymentStatus::Requested);
        assert_eq!(waiting.external_id, None);

        let response = request_payment(&deps, &new, &cid(), Utc::now(), CALL_CAP)
            .await
            .unwrap();
        assert_eq!(response.payment_id, new.key.payment_id());
        let stored = deps.repo.get(response.payment_id).await.unwrap().unwrap();
        assert!(stored.external_id.is_some());
    }

    fn http_request(path_user: &str, key: Option<&str>, body: &str) -> Request {
        let mut request = ApiRequest::new("POST", ROUTE, &[("userId", path_user)]).body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.build()
    }

    fn body(user: &str, amount: &str) -> String {
        format!(
            r#"{{"userId":"{user}","orderId":"{}","amount":{amount},"currency":"USD","paymentMethod":"Ewallet"}}"#,
            OrderId::new_random()
        )
    }

    #[test]
    fn a_request_is_read_from_the_path_the_key_and_the_body() {
        let user = UserId::new_random().to_string();
        let new =
            NewPayment::from_request(&http_request(&user, Some("k-1"), &body(&user, "100.99")))
                .unwrap();
        assert_eq!(new.user_id.to_string(), user);
        assert_eq!(new.amount.cents(), 10099);
        assert_eq!(new.key.as_str(), "k-1");
    }

    #[test]
    fn bad_payment_requests_are_rejected_naming_the_field() {
        let user = UserId::new_random().to_string();
        let other = UserId::new_random().to_string();
        let long_key = "k".repeat(201);
        let cases: Vec<(Request, &str)> = vec![
            (
                http_request(&user, None, &body(&user, "1")),
                "Idempotency-Key",
            ),
            (
                http_request(&user, Some(""), &body(&user, "1")),
                "Idempotency-Key",
            ),
            (
                http_request(&user, Some(&long_key), &body(&user, "1")),
                "Idempotency-Key",
            ),
            (http_request(&user, Some("k"), &body(&other, "1")), "userId"),
            (http_request("42", Some("k"), &body(&user, "1")), "userId"),
            (http_request(&user, Some("k"), &body(&user, "0")), "amount"),
            (http_request(&user, Some("k"), &body(&user, "-5")), "amount"),
            (
                http_request(&user, Some("k"), &body(&user, "1.001")),
                "body",
            ),
            (http_request(&user, Some("k"), "{"), "body"),
            (http_request(&user, Some("k"), ""), "body"),
        ];
        for (request, field) in cases {
            let err = NewPayment::from_request(&request).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }

    /// An e-wallet that never answers.
    struct SilentEwallet;

    impl Ewallet for SilentEwallet {
        async fn request_payment(
            &self,
            _payment: &Payment,
            _correlation_id: &CorrelationId,
        ) -> Result<crate::domain::ExternalId, crate::gateway::GatewayError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_e_wallet_call_gets_the_time_left_minus_the_margin_and_at_most_5_s() {
        let deps = RequestDeps {
            repo: InMemoryPaymentRepository::default(),
            ewallet: SilentEwallet,
            clock: SystemClock,
        };
        let now_ms = 1_000_000_i64;
        for (left_ms, expected) in [(3_000_u64, 1_500_u64), (60_000, 5_000)] {
            let budget = call_budget(Some(now_ms as u64 + left_ms), now_ms, CALL_MARGIN, CALL_CAP);
            assert_eq!(budget, std::time::Duration::from_millis(expected));
            let new = new_payment(&format!("budget-{left_ms}"));
            let started = tokio::time::Instant::now();
            let err = request_payment(&deps, &new, &cid(), Utc::now(), budget)
                .await
                .unwrap_err();
            assert_eq!(started.elapsed(), budget);
            assert!(
                matches!(err, PaymentError::Ewallet(crate::gateway::GatewayError::OutOfTime { budget_ms }) if budget_ms == expected),
                "{err}"
            );
            // The payment stays recorded, so a retry of the same key continues it.
            let stored = deps
                .repo
                .get(Payment::requested(&new, Utc::now()).id)
                .await
                .unwrap();
            assert!(stored.is_some_and(|p| p.external_id.is_none()));
        }
    }
}
