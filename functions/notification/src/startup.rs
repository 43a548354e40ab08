//! The one place where the notification service's dependencies are built from their
//! config, once per cold start.

use shared::SystemClock;
use shared::aws::SdkConfig;

use crate::{DynamoDbEmailLog, NotificationConfig, NotificationDeps, SesEmailSender};

pub fn send_email_deps(
    sdk: &SdkConfig,
    config: NotificationConfig,
) -> NotificationDeps<DynamoDbEmailLog, SesEmailSender> {
    NotificationDeps {
        log: DynamoDbEmailLog::new(aws_sdk_dynamodb::Client::new(sdk), config.email_log_table),
        sender: SesEmailSender::new(aws_sdk_sesv2::Client::new(sdk)),
        clock: SystemClock,
        from: config.sender_email,
    }
}
