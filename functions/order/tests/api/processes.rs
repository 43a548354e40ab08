//! The contract of `ProcessRepository`: every case runs against the in-memory fake and the
//! DynamoDB adapter; and the process as order-get and search show it.

use chrono::Utc;
use order::processes::{JobChange, JobChangeOutcome};
use order::{Order, OrderRepository, Process, ProcessRepository, demo};
use shared::contracts::OrderStatus;
use shared::fulfilment::{JobStatus, JobType, ProcessStatus};
use shared::testing::{ApiRequest, body_json};
use shared::{CorrelationId, PaymentId, ProcessId, UserId};

use crate::helpers::spawn_app;

shared::contract_tests! {
    fake: order::processes::memory::InMemoryProcessRepository::default(),
    adapter: crate::helpers::spawn_app().await.processes,
    cases: [
        a_process_is_stored_once_and_read_back_as_written,
        a_job_changes_until_it_is_completed,
        a_missing_process_or_job_is_not_found,
        a_finished_process_stays_completed,
        many_processes_are_read_in_one_call,
    ]
}

fn decided(status: OrderStatus) -> (Order, Process) {
    let mut order = demo::demo_order(UserId::new_random(), 1, Utc::now());
    order.status = status;
    let payment = PaymentId::new_random();
    order.payment_id = Some(payment);
    let process = Process::for_decided(&order, payment, &CorrelationId::generate(), Utc::now());
    (order, process)
}

fn change(process: ProcessId, job_type: JobType, status: JobStatus) -> JobChange {
    JobChange {
        process,
        job_type,
        status,
        note: Some("a note".into()),
        now: Utc::now(),
    }
}

async fn a_process_is_stored_once_and_read_back_as_written(repo: &impl ProcessRepository) {
    let (_, process) = decided(OrderStatus::PaymentSuccess);
    assert!(repo.insert_if_absent(&process).await.unwrap());
    assert!(!repo.insert_if_absent(&process).await.unwrap());
    assert_eq!(repo.get(process.process_id).await.unwrap(), Some(process));
}

async fn a_job_changes_until_it_is_completed(repo: &impl ProcessRepository) {
    let (_, process) = decided(OrderStatus::PaymentSuccess);
    repo.insert_if_absent(&process).await.unwrap();
    let id = process.process_id;
    let JobChangeOutcome::Applied(p) = repo
        .change_job(&change(id, JobType::Invoice, JobStatus::Error))
        .await
        .unwrap()
    else {
        panic!("not applied")
    };
    assert_eq!(p.jobs[&JobType::Invoice].status, JobStatus::Error);
    assert_eq!(p.jobs[&JobType::Invoice].note.as_deref(), Some("a note"));
    assert_eq!(p.jobs[&JobType::Production].status, JobStatus::Queued);
    assert!(matches!(
        repo.change_job(&change(id, JobType::Invoice, JobStatus::Completed))
            .await
            .unwrap(),
        JobChangeOutcome::Applied(_)
    ));
    let again = repo
        .change_job(&change(id, JobType::Invoice, JobStatus::Error))
        .await
        .unwrap();
    let JobChangeOutcome::AlreadyCompleted(p) = again else {
        panic!("a completed job changed: {again:?}")
    };
    assert_eq!(p.jobs[&JobType::Invoice].status, JobStatus::Completed);
}

async fn a_missing_process_or_job_is_not_found(repo: &impl ProcessRepository) {
    let (_, process) = decided(OrderStatus::PaymentFailed);
    repo.insert_if_absent(&process).await.unwrap();
    let no_job = change(
        process.process_id,
        JobType::Production,
        JobStatus::Completed,
    );
    assert_eq!(
        repo.change_job(&no_job).await.unwrap(),
        JobChangeOutcome::NotFound
    );
    let no_process = change(
        ProcessId::new_random(),
        JobType::Notification,
        JobStatus::Completed,
    );
    assert_eq!(
        repo.change_job(&no_process).await.unwrap(),
        JobChangeOutcome::NotFound
    );
}

async fn a_finished_process_stays_completed(repo: &impl ProcessRepository) {
    let (_, process) = decided(OrderStatus::PaymentFailed);
    repo.insert_if_absent(&process).await.unwrap();
    let id = process.process_id;
    assert!(
        repo.finish(id, ProcessStatus::Error, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !repo
            .finish(id, ProcessStatus::Error, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        repo.finish(id, ProcessStatus::Completed, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !repo
            .finish(id, ProcessStatus::Error, Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(
        repo.get(id).await.unwrap().unwrap().status,
        ProcessStatus::Completed
    );
    assert!(
        !repo
            .finish(
                ProcessId::new_random(),
                ProcessStatus::Completed,
                Utc::now()
            )
            .await
            .unwrap()
    );
}

async fn many_processes_are_read_in_one_call(repo: &impl ProcessRepository) {
    let mut ids = vec![ProcessId::new_random()];
    for _ in 0..3 {
        let (_, process) = decided(OrderStatus::PaymentSuccess);
        repo.insert_if_absent(&process).await.unwrap();
        ids.push(process.process_id);
    }
    let mut found: Vec<ProcessId> = repo
        .get_many(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.process_id)
        .collect();
    found.sort();
    let mut stored = ids[1..].to_vec();
    stored.sort();
    assert_eq!(found, stored);
}

#[tokio::test]
async fn order_get_and_search_show_the_process_of_a_decided_order_with_its_jobs() {
    let app = spawn_app().await;
    let (mut order, process) = decided(OrderStatus::PaymentSuccess);
    order.user_id = app.user;
    let process = Process::for_decided(
        &order,
        process.payment_id,
        &CorrelationId::generate(),
        Utc::now(),
    );
    assert!(app.repo.insert_if_absent(&order).await.unwrap());
    assert!(app.processes.insert_if_absent(&process).await.unwrap());
    let user = app.user.to_string();
    let id = order.id.to_string();

    let got = app
        .get(
            ApiRequest::new(
                "GET",
                "/api/internal/v1/users/{userId}/orders/{orderId}",
                &[("userId", &user), ("orderId", &id)],
            )
            .build(),
        )
        .await;
    let body = body_json(&got);
    assert_eq!(body["process"]["processId"], process.process_id.to_string());
    assert_eq!(body["process"]["status"], "Pending");
    assert_eq!(body["process"]["jobs"].as_array().map(Vec::len), Some(3));
    assert!(body["process"]["jobs"][0]["updatedAtUtc"].is_string());

    let found = app
        .search(
            ApiRequest::new("GET", "/api/v1/users/{userId}/orders", &[("userId", &user)]).build(),
        )
        .await;
    let body = body_json(&found);
    assert_eq!(
        body["data"][0]["process"]["processId"],
        process.process_id.to_string()
    );
}
