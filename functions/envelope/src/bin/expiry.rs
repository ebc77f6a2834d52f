//! The expiry job's entry point, run on a schedule. Answers with the envelopes it expired.

#![recursion_limit = "256"]

use envelope::store::DynamoEnvelopes;
use esign_events::publish::{Publisher, Topics};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table = std::env::var("ENVELOPES_TABLE")
        .map_err(|_| "environment variable ENVELOPES_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let store = DynamoEnvelopes::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let publisher = Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env());

    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let (store, publisher) = (&store, &publisher);
        async move {
            let expired =
                envelope::expiry::run(store, publisher, esign_events::runtime::now_ms()).await?;
            Ok::<Value, lambda_runtime::Error>(json!({ "expired": expired }))
        }
    }))
    .await
}
