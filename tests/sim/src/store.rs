//! DynamoDB around the in-memory stores: each call takes 2 to 12 ms (a slow one up to 1 s),
//! split around the instant it applies. Its faults: a call that fails before it is
//! applied, and a write that is applied but whose answer is lost, after which the SDK
//! retries it (the caller sees the retry's answer) or gives up (the caller sees an error).
//! The checker runs after every write that was applied.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use shared::paging::NameFilter;
use shared::store::StoreError;
use shared::{OrderId, PaymentId, ProcessId, UserId};

use crate::world::{Half, World};

/// A store as a function instance sees it: `inner` shared by every instance, behind faults.
pub struct Faulty<T> {
    pub inner: Arc<T>,
    pub world: Arc<World>,
    pub name: &'static str,
    /// Whose stream its faults draw from.
    pub half: Half,
    /// The safety checker, run after each applied write.
    pub check: Arc<dyn Fn() + Send + Sync>,
}

impl<T> Clone for Faulty<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            world: self.world.clone(),
            name: self.name,
            half: self.half,
            check: self.check.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Faulty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

fn injected(what: &str) -> StoreError {
    shared::store::failed(std::io::Error::other(format!("injected: {what}")))
}

impl<T: Send + Sync> Faulty<T> {
    async fn read<R>(
        &self,
        op: &str,
        call: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        if self
            .world
            .chance_in(self.half, self.world.faults().store_unavailable)
        {
            self.world
                .log(format!("fault {}.{op}: unavailable", self.name));
            return Err(injected("store unavailable"));
        }
        // A read applies as its answer leaves: it returns the state at the end of its call.
        let (before, after) = self.world.store_latency();
        tokio::time::sleep(before + after).await;
        call.await
    }

    async fn write<R, Fut>(&self, op: &str, call: impl Fn() -> Fut) -> Result<R, StoreError>
    where
        Fut: Future<Output = Result<R, StoreError>>,
    {
        let faults = self.world.faults();
        if self.world.chance_in(self.half, faults.store_unavailable) {
            self.world
                .log(format!("fault {}.{op}: unavailable", self.name));
            return Err(injected("store unavailable"));
        }
        let (before, after) = self.world.store_latency();
        tokio::time::sleep(before).await;
        let first = call().await;
        (self.check)();
        self.world.writes.notify_one();
        tokio::time::sleep(after).await;
        let Ok(answer) = first else {
            return first;
        };
        if self.world.chance_in(self.half, faults.store_write_retried) {
            self.world.log(format!(
                "fault {}.{op}: applied, answer lost, the SDK retries",
                self.name
            ));
            let retried = call().await;
            (self.check)();
            return retried;
        }
        if self.world.chance_in(self.half, faults.store_write_lost) {
            self.world
                .log(format!("fault {}.{op}: applied, answer lost", self.name));
            return Err(injected("answer lost"));
        }
        Ok(answer)
    }
}

mod orders {
    use order::OrderRepository;
    use order::repository::{
        CheckoutAbandon, CheckoutStart, Overdue, PaymentSettlement, SearchHits, Transition,
    };

    use super::*;

    /// The pending index's entries in the lag map: `byPendingDeadline <user> <order>`.
    const PENDING: &str = "orders.byPendingDeadline ";

    impl<T: OrderRepository> Faulty<T> {
        /// The order's entry in the pending index: its deadline (ms), if it is in it.
        async fn pending_entry(&self, user: UserId, order: OrderId) -> Option<i64> {
            let order = self.inner.get(user, order).await.ok().flatten()?;
            if order.status != shared::contracts::OrderStatus::PaymentPending {
                return None;
            }
            order.pending_until.map(|until| until.timestamp_millis())
        }

        /// Runs a write to the order; if it moved the order's pending-index entry, the
        /// index may show the old entry for a while.
        async fn indexed<R>(
            &self,
            user: UserId,
            order: OrderId,
            write: impl Future<Output = R>,
        ) -> R {
            let before = self.pending_entry(user, order).await;
            let answer = write.await;
            if self.pending_entry(user, order).await != before {
                self.world
                    .index_changed(format!("{PENDING}{user} {order}"), before);
            }
            answer
        }
    }

    impl<T: OrderRepository> OrderRepository for Faulty<T> {
        async fn search(
            &self,
            user: UserId,
            filter: &NameFilter,
        ) -> Result<SearchHits, StoreError> {
            self.read("search", self.inner.search(user, filter)).await
        }

        async fn get(
            &self,
            user: UserId,
            order: OrderId,
        ) -> Result<Option<order::Order>, StoreError> {
            self.read("get", self.inner.get(user, order)).await
        }

        async fn insert_if_absent(&self, order: &order::Order) -> Result<bool, StoreError> {
            self.write("insert_if_absent", || self.inner.insert_if_absent(order))
                .await
        }

        async fn start_checkout(&self, start: CheckoutStart<'_>) -> Result<bool, StoreError> {
            let write = self.write("start_checkout", || self.inner.start_checkout(start));
            self.indexed(start.order.user_id, start.order.id, write)
                .await
        }

        async fn abandon_checkout(&self, abandon: CheckoutAbandon<'_>) -> Result<bool, StoreError> {
            let write = self.write("abandon_checkout", || self.inner.abandon_checkout(abandon));
            self.indexed(abandon.order.user_id, abandon.order.id, write)
                .await
        }

        async fn settle_payment(
            &self,
            settlement: PaymentSettlement,
        ) -> Result<Transition, StoreError> {
            let write = self.write("settle_payment", || self.inner.settle_payment(settlement));
            self.indexed(settlement.user, settlement.order, write).await
        }

        async fn overdue(
            &self,
            shard: u8,
            now: DateTime<Utc>,
            limit: i32,
        ) -> Result<Vec<Overdue>, StoreError> {
            let mut due = self
                .read("overdue", self.inner.overdue(shard, now, limit))
                .await?;
            // A lagging entry shows as it was: an order that left the index, or whose
            // deadline moved, may still be listed; one that just entered may not be.
            for (key, old) in self.world.lagging(PENDING) {
                let mut ids = key[PENDING.len()..].split(' ');
                let (Some(Ok(user)), Some(Ok(order))) = (
                    ids.next().map(UserId::parse),
                    ids.next().map(OrderId::parse),
                ) else {
                    continue;
                };
                if order::domain::pending_shard(order) != shard {
                    continue;
                }
                due.retain(|overdue| overdue.order != order);
                if old.is_some_and(|ms| ms < now.timestamp_millis()) {
                    self.world
                        .log(format!("fault orders.overdue: a stale entry lists {order}"));
                    due.push(Overdue { user, order });
                }
            }
            due.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(due)
        }

        async fn defer(
            &self,
            overdue: Overdue,
            payment_id: PaymentId,
            retry_at: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let write = self.write("defer", || self.inner.defer(overdue, payment_id, retry_at));
            self.indexed(overdue.user, overdue.order, write).await
        }
    }
}

mod processes {
    use order::ProcessRepository;
    use order::processes::{JobChange, JobChangeOutcome, Process};
    use shared::fulfilment::ProcessStatus;

    use super::*;

    impl<T: ProcessRepository> ProcessRepository for Faulty<T> {
        async fn insert_if_absent(&self, process: &Process) -> Result<bool, StoreError> {
            self.write("insert_if_absent", || self.inner.insert_if_absent(process))
                .await
        }

        async fn get(&self, process: ProcessId) -> Result<Option<Process>, StoreError> {
            self.read("get", self.inner.get(process)).await
        }

        async fn get_many(&self, processes: &[ProcessId]) -> Result<Vec<Process>, StoreError> {
            self.read("get_many", self.inner.get_many(processes)).await
        }

        async fn change_job(&self, change: &JobChange) -> Result<JobChangeOutcome, StoreError> {
            self.write("change_job", || self.inner.change_job(change))
                .await
        }

        async fn finish(
            &self,
            process: ProcessId,
            to: ProcessStatus,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            self.write("finish", || self.inner.finish(process, to, now))
                .await
        }
    }
}

mod payments {
    use payment::repository::{ConfirmationClaim, OutcomeRecord};
    use payment::{ExternalId, Payment, PaymentRepository};

    use super::*;

    /// The byExternalId index's entry for `external` in the lag map.
    fn by_external_id(external: &ExternalId) -> String {
        format!("payments.byExternalId {external}")
    }

    impl<T: PaymentRepository> PaymentRepository for Faulty<T> {
        async fn insert_if_absent(&self, payment: &Payment) -> Result<bool, StoreError> {
            self.write("insert_if_absent", || self.inner.insert_if_absent(payment))
                .await
        }

        async fn get(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
            self.read("get", self.inner.get(id)).await
        }

        async fn find_by_external_id(
            &self,
            external: &ExternalId,
        ) -> Result<Option<PaymentId>, StoreError> {
            let found = self
                .read(
                    "find_by_external_id",
                    self.inner.find_by_external_id(external),
                )
                .await?;
            if found.is_some() && !self.world.lagging(&by_external_id(external)).is_empty() {
                self.world.log(format!(
                    "fault payments.find_by_external_id: the index does not show {external} yet"
                ));
                return Ok(None);
            }
            Ok(found)
        }

        async fn set_external_id(
            &self,
            id: PaymentId,
            external: &ExternalId,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            let before = self.inner.find_by_external_id(external).await;
            let answer = self
                .write("set_external_id", || {
                    self.inner.set_external_id(id, external, now)
                })
                .await;
            let after = self.inner.find_by_external_id(external).await;
            if matches!(before, Ok(None)) && matches!(after, Ok(Some(_))) {
                self.world.index_changed(by_external_id(external), None);
            }
            answer
        }

        async fn record_outcome(&self, record: OutcomeRecord<'_>) -> Result<bool, StoreError> {
            self.write("record_outcome", || self.inner.record_outcome(record))
                .await
        }

        async fn claim_confirmation(&self, claim: ConfirmationClaim) -> Result<bool, StoreError> {
            self.write("claim_confirmation", || {
                self.inner.claim_confirmation(claim)
            })
            .await
        }

        async fn mark_refunded(&self, id: PaymentId, at: DateTime<Utc>) -> Result<(), StoreError> {
            self.write("mark_refunded", || self.inner.mark_refunded(id, at))
                .await
        }

        async fn mark_order_confirmed(
            &self,
            id: PaymentId,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            self.write("mark_order_confirmed", || {
                self.inner.mark_order_confirmed(id, now)
            })
            .await
        }

        async fn release_confirmation(
            &self,
            id: PaymentId,
            lease_until: DateTime<Utc>,
            now: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            self.write("release_confirmation", || {
                self.inner.release_confirmation(id, lease_until, now)
            })
            .await
        }
    }
}

mod ewallet {
    use mocks::ewallet::EwalletRequestRepository;
    use mocks::ewallet::domain::{EwalletRequest, PaymentRequestId};
    use mocks::ewallet::repository::{Cancel, Claim, Insert, Refund, Settlement};

    use super::*;

    impl<T: EwalletRequestRepository> EwalletRequestRepository for Faulty<T> {
        async fn cancel(
            &self,
            id: PaymentRequestId,
            now: DateTime<Utc>,
        ) -> Result<Cancel, StoreError> {
            self.write("cancel", || self.inner.cancel(id, now)).await
        }

        async fn refund(
            &self,
            id: PaymentRequestId,
            now: DateTime<Utc>,
        ) -> Result<Refund, StoreError> {
            self.write("refund", || self.inner.refund(id, now)).await
        }

        async fn insert_if_absent(&self, request: &EwalletRequest) -> Result<Insert, StoreError> {
            self.write("insert_if_absent", || self.inner.insert_if_absent(request))
                .await
        }

        async fn mark_scheduled(
            &self,
            id: PaymentRequestId,
            due_at: DateTime<Utc>,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            self.write("mark_scheduled", || {
                self.inner.mark_scheduled(id, due_at, now)
            })
            .await
        }

        async fn get(&self, id: PaymentRequestId) -> Result<Option<EwalletRequest>, StoreError> {
            self.read("get", self.inner.get(id)).await
        }

        async fn claim(
            &self,
            id: PaymentRequestId,
            now: DateTime<Utc>,
            claim: &Claim,
        ) -> Result<bool, StoreError> {
            self.write("claim", || self.inner.claim(id, now, claim))
                .await
        }

        async fn settle(
            &self,
            id: PaymentRequestId,
            token: &str,
            settlement: &Settlement,
        ) -> Result<bool, StoreError> {
            self.write("settle", || self.inner.settle(id, token, settlement))
                .await
        }
    }
}

mod records {
    use mocks::records::{Received, RecordRepository};

    use super::*;

    impl<T: Clone + Send + Sync, R: RecordRepository<T>> RecordRepository<T> for Faulty<R> {
        async fn insert_if_absent(&self, record: &Received<T>) -> Result<bool, StoreError> {
            self.write("insert_if_absent", || self.inner.insert_if_absent(record))
                .await
        }

        async fn get(&self, record_id: &str) -> Result<Option<Received<T>>, StoreError> {
            self.read("get", self.inner.get(record_id)).await
        }
    }
}

mod emails {
    use notification::{EmailLog, EmailLogRepository};

    use super::*;

    impl<R: EmailLogRepository> EmailLogRepository for Faulty<R> {
        async fn insert_if_absent(&self, log: &EmailLog) -> Result<bool, StoreError> {
            self.write("insert_if_absent", || self.inner.insert_if_absent(log))
                .await
        }

        async fn get(&self, email_id: &str) -> Result<Option<EmailLog>, StoreError> {
            self.read("get", self.inner.get(email_id)).await
        }

        async fn claim_send(
            &self,
            email_id: &str,
            now: DateTime<Utc>,
            until: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            self.write("claim_send", || self.inner.claim_send(email_id, now, until))
                .await
        }

        async fn mark_sent(
            &self,
            email_id: &str,
            message_id: &str,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            self.write("mark_sent", || {
                self.inner.mark_sent(email_id, message_id, now)
            })
            .await
        }
    }
}
