//! The envelope function's entry point.

// The runtime's futures nest deeply (SDK calls inside the batch policy inside lambda_runtime).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use envelope::handler::EnvelopeHandler;
use envelope::store::DynamoEnvelopes;
use esign_events::publish::{Publisher, Topics};
use esign_events::runtime::aws_runtime;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table = std::env::var("ENVELOPES_TABLE")
        .map_err(|_| "environment variable ENVELOPES_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&aws);
    let publisher = Publisher::new(sns.clone(), Topics::from_env());
    let store = DynamoEnvelopes::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let runtime = aws_runtime("envelope", EnvelopeHandler::new(store, publisher), &aws)?;

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        runtime.invoke(event)
    }))
    .await
}
