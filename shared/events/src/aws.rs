//! The single seam between this code and an AWS endpoint.
//!
//! Every client in the project is built from [`sdk_config`]. The SDK already honours
//! `AWS_ENDPOINT_URL` and per-service variants such as `AWS_ENDPOINT_URL_DYNAMODB`, which is how
//! the local stack (LocalStack, DynamoDB Local) is reached; nothing else in the code base asks
//! whether it runs locally.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the AWS configuration from the environment: region, credentials and endpoint.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

use crate::runtime::HandlerError;
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};

/// Error codes that mean "slow down" or "not now" across AWS services.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
];

/// Sorts an AWS SDK error into retryable (throttling, timeouts, connection trouble, 5xx) and
/// permanent (the service refused the request as such), keeping the service's code and message.
pub fn classify<E>(what: &str, error: &SdkError<E, HttpResponse>) -> HandlerError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let text = format!(
                "{what}: {code}: {}",
                crate::personal::scrub(service.err().message().unwrap_or("no message"))
            );
            let status = service.raw().status().as_u16();
            if status >= 500 || status == 429 || RETRYABLE_CODES.contains(&code) {
                HandlerError::Retryable(text)
            } else {
                HandlerError::Permanent(text)
            }
        }
        // Timeouts, dispatch failures and unreadable responses: the request may not even have
        // reached the service.
        other => HandlerError::Retryable(format!("{what}: {other}")),
    }
}

/// An SDK error with the service's code and message, which its `Display` leaves out.
pub fn describe<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("Unknown"),
            crate::personal::scrub(service.err().message().unwrap_or("no message"))
        ),
        other => format!("{other}"),
    }
}

/// An S3 client. Path-style addressing (`endpoint/bucket/key`) works against S3 and against a
/// local endpoint that has no DNS for virtual-hosted bucket names, so it is used everywhere.
pub fn s3_config(config: &SdkConfig) -> aws_sdk_s3::Config {
    aws_sdk_s3::config::Builder::from(config)
        .force_path_style(true)
        .build()
}
