//! Lambda: POST /api/internal/v1/users/{userId}/emails/send

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = notification::NotificationConfig::from_env()?;
    let deps = notification::startup::send_email_deps(&shared::aws::sdk_config(), config);
    shared::http::run(|request, correlation_id| {
        notification::send::handle(&deps, request, correlation_id)
    })
    .await
}
