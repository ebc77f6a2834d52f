//! The notification function's entry point.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use notification::{deliver::AwsDelivery, Config, NotificationHandler};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let config = Config::from_env()?;
    let aws = esign_events::aws::sdk_config().await;
    let handler = NotificationHandler::new(config, AwsDelivery::new(&aws));

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        esign_events::runtime::invoke(&handler, event)
    }))
    .await
}
