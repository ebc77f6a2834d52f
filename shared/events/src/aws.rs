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
