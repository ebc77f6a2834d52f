//! The document function's entry point.

// The runtime's futures nest deeply (SDK calls inside the batch policy inside lambda_runtime).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use document::handler::DocumentHandler;
use esign_events::publish::{Publisher, Topics};
use esign_events::runtime::aws_runtime;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table = std::env::var("DOCUMENTS_TABLE")
        .map_err(|_| "environment variable DOCUMENTS_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let handler = DocumentHandler {
        s3: aws_sdk_s3::Client::from_conf(esign_events::aws::s3_config(&aws)),
        dynamodb: aws_sdk_dynamodb::Client::new(&aws),
        documents_table: table,
        publisher: Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env()),
    };
    let runtime = aws_runtime("document", handler, &aws)?;

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        runtime.invoke(event)
    }))
    .await
}
