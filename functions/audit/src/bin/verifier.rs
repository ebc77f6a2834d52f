//! The audit verifier's entry point: run on a schedule (every chain) or on demand with
//! `{"envelopeIds": [...]}` (those chains). Answers with what it found.

#![recursion_limit = "256"]

use audit::store::DynamoChains;
use audit::verify::{run, Finding};
use esign_events::publish::{Publisher, Topics};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table =
        std::env::var("AUDIT_TABLE").map_err(|_| "environment variable AUDIT_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let publisher = Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env());
    let store = DynamoChains::new(aws_sdk_dynamodb::Client::new(&aws), table);

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (store, publisher) = (&store, &publisher);
        async move {
            let ids = event.payload.get("envelopeIds").and_then(Value::as_array).map(|ids| {
                ids.iter().filter_map(Value::as_str).map(String::from).collect::<Vec<_>>()
            });
            let findings = run(store, publisher, ids).await?;
            let tampered: Vec<Value> = findings
                .iter()
                .filter_map(|(id, f)| match f {
                    Finding::Tampered(t) => Some(json!({"envelopeId": id, "sequence": t.sequence, "expectedHash": t.expected_hash, "actualHash": t.actual_hash})),
                    Finding::Intact { .. } => None,
                })
                .collect();
            tracing::info!(chains = findings.len(), tampered = tampered.len(), "verification done");
            Ok::<Value, lambda_runtime::Error>(json!({"chains": findings.len(), "tampered": tampered}))
        }
    }))
    .await
}
