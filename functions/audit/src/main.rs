//! The audit function's entry point.

// The runtime's futures nest deeply (SDK calls inside the batch policy inside lambda_runtime).
#![recursion_limit = "256"]

use audit::handler::AuditHandler;
use audit::store::DynamoChains;
use aws_lambda_events::sqs::SqsEvent;
use esign_events::publish::{Publisher, Topics};
use esign_events::runtime::aws_runtime;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table =
        std::env::var("AUDIT_TABLE").map_err(|_| "environment variable AUDIT_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let publisher = Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env());
    let store = DynamoChains::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let runtime = aws_runtime("audit", AuditHandler::new(store, publisher), &aws)?;

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        runtime.invoke(event)
    }))
    .await
}
