//! The probe: a consuming function used only by the integration tests, on its own queue in
//! `tests/template.yaml`. It runs on the real runtime and logs each event it handles, per
//! envelope and in order, to the `PROBE_TABLE` DynamoDB table. An `envelope.viewed` event's
//! `userAgent` can tell it to misbehave:
//! - `crash-before:<tag>`: the process aborts when it reaches this record, once per tag;
//! - `fail-retryable:<n>`: the first `n` attempts fail with a retryable error;
//! - `fail-always`: every attempt fails with a retryable error.
//!
//! Its counters (`attempts#<event id>`, `crashed#<tag>`) let the tests see how often it ran.

#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use esign_events::runtime::{aws_runtime, Handler, HandlerError, RecordContext};
use esign_events::{Event, Payload};
use lambda_runtime::{service_fn, LambdaEvent};

struct Probe {
    ddb: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl Probe {
    /// Adds one to a counter and returns its new value.
    async fn bump(&self, key: &str) -> Result<u64, HandlerError> {
        let out = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| HandlerError::Retryable(format!("probe table: {e:?}")))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get("n"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}

impl Handler for Probe {
    async fn handle(&self, event: &Event, _ctx: &RecordContext) -> Result<(), HandlerError> {
        let Payload::EnvelopeViewed(viewed) = &event.payload else {
            return Err(HandlerError::Permanent(format!(
                "the probe handles envelope.viewed, not {}",
                event.event_type
            )));
        };
        let id = event.event_id.to_string();
        let attempt = self.bump(&format!("attempts#{id}")).await?;
        let order = viewed.user_agent.as_str();

        if let Some(tag) = order.strip_prefix("crash-before:") {
            if self.bump(&format!("crashed#{tag}")).await? == 1 {
                tracing::warn!("crashing as told");
                std::process::abort();
            }
        }
        if let Some(n) = order
            .strip_prefix("fail-retryable:")
            .and_then(|n| n.parse::<u64>().ok())
        {
            if attempt <= n {
                return Err(HandlerError::Retryable(format!(
                    "told to fail (attempt {attempt} of {n})"
                )));
            }
        }
        if order == "fail-always" {
            return Err(HandlerError::Retryable(format!(
                "told to fail always (attempt {attempt})"
            )));
        }

        // The side effect: the event's id appended to its envelope's log. The write is
        // conditional on the id not being there yet, so it is idempotent in itself: the
        // runtime's idempotency record covers a crash before the record is marked done, and this
        // covers a crash after the write and before the mark (the window no record can close),
        // which a crash of the whole process hits in whatever other group was mid-flight.
        let appended = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&format!("log#{}", viewed.envelope_id)))
            .condition_expression("attribute_not_exists(seen) OR NOT contains(seen, :idv)")
            .update_expression(
                "SET events = list_append(if_not_exists(events, :empty), :id) ADD seen :ids",
            )
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":id", AttributeValue::L(vec![s(&id)]))
            .expression_attribute_values(":idv", s(&id))
            .expression_attribute_values(":ids", AttributeValue::Ss(vec![id.clone()]))
            .send()
            .await;
        match appended {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                tracing::info!("already in the log");
                Ok(())
            }
            Err(e) => Err(HandlerError::Retryable(format!("probe table: {e:?}"))),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let table =
        std::env::var("PROBE_TABLE").map_err(|_| "environment variable PROBE_TABLE is not set")?;
    let aws = esign_events::aws::sdk_config().await;
    let probe = Probe {
        ddb: aws_sdk_dynamodb::Client::new(&aws),
        table,
    };
    let runtime = aws_runtime("probe", probe, &aws)?;

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        runtime.invoke(event)
    }))
    .await
}
