//! The SES feedback function's entry point: a standard SQS queue of SES reports. Each record is
//! handled on its own; the ones that fail are reported for redelivery, and a record that can
//! never be read is reported until the queue's redrive policy parks it.

#![recursion_limit = "256"]

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use esign_events::publish::{Publisher, Topics};
use lambda_runtime::{service_fn, LambdaEvent};
use notification::feedback::{apply, parse};
use notification::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table = std::env::var("NOTIFICATIONS_TABLE")
        .map_err(|_| "environment variable NOTIFICATIONS_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let records = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);
    let publisher = Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env());

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (records, publisher) = (&records, &publisher);
        async move {
            let mut response = SqsBatchResponse::default();
            for record in &event.payload.records {
                let Some(id) = record.message_id.clone().filter(|id| !id.is_empty()) else {
                    return Err(lambda_runtime::Error::from("a record has no messageId"));
                };
                let outcome = match parse(record.body.as_deref().unwrap_or_default()) {
                    Ok(report) => apply(&report, records, publisher).await.map(|_| ()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(error) = outcome {
                    tracing::warn!(message_id = %id, %error, "report not applied");
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
            }
            Ok::<SqsBatchResponse, lambda_runtime::Error>(response)
        }
    }))
    .await
}
