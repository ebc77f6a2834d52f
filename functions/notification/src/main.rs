//! The notification function's entry point.

// The runtime's futures nest deeply (SDK calls inside the batch policy inside lambda_runtime).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use esign_events::publish::{Publisher, Topics};
use esign_events::runtime::{aws_runtime, idempotency_store};
use lambda_runtime::{service_fn, LambdaEvent};
use notification::store::DynamoStore;
use notification::{deliver::AwsDelivery, Config, NotificationHandler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let config = Config::from_env()?;
    let table = std::env::var("NOTIFICATIONS_TABLE")
        .map_err(|_| "environment variable NOTIFICATIONS_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let publisher = Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env());
    let records = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let handler = NotificationHandler::new(
        config,
        AwsDelivery::new(&aws, std::env::var("SES_CONFIGURATION_SET").ok()),
        idempotency_store(&aws)?,
        records,
        publisher,
    );
    let runtime = aws_runtime("notification", handler, &aws)?;

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        runtime.invoke(event)
    }))
    .await
}
