//! AWS SDK set-up, done once per cold start. The endpoint comes from `AWS_ENDPOINT_URL`
//! when set (the local emulator), so the code has no emulator branch.

pub use aws_config::SdkConfig;

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
