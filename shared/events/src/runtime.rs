//! The batch-consuming runtime: how every function reads an SQS FIFO batch.
//!
//! The rules, each from a failure seen in the field:
//! - Each record's body is parsed on its own; a bad body fails that record, never the batch.
//! - Records of one message group run one after another, in batch order; different groups run
//!   concurrently.
//! - Once a record of a group fails, the group's later records are not run and are reported
//!   failed with it. Lambda deletes every record not reported, so reporting only the failed one
//!   would silently drop the ones after it.
//! - The response names only message ids that are in the batch: an empty or unknown identifier
//!   makes Lambda fail the whole batch. A record without a `messageId` fails the invocation.
//! - A body that is SNS's notification wrapper (raw delivery off) is unwrapped.
//! - Without a `MessageGroupId` attribute the group falls back to the event's partition key.

use crate::event::{Event, EventError};
use crate::metrics::{Recorder, Unit};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::future::join_all;
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use tracing::Instrument;

/// What a handler knows about the record it is handling.
#[derive(Debug, Clone)]
pub struct RecordContext {
    pub message_id: String,
    pub group_id: String,
    /// How many times SQS has handed this message out, this time included.
    pub receive_count: u32,
    pub queue_arn: Option<String>,
}

/// Why a handler could not handle an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Trying again later may succeed: throttling, a timeout, a 5xx from a dependency.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Trying again cannot succeed: the event breaks a rule or a dependency refused it for good.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A consumer of events.
pub trait Handler: Sync {
    /// Handles one event. An `Err` leaves the record (and its group's later records) for
    /// redelivery.
    fn handle(
        &self,
        event: &Event,
        ctx: &RecordContext,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A batch that can't be answered record by record.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("record {index} of the batch has no messageId, so it can't be reported failed")]
    MissingMessageId { index: usize },
}

/// A record decoded as far as it goes.
struct Prepared<'a> {
    ctx: RecordContext,
    event: Result<Event, EventError>,
    _record: &'a SqsMessage,
}

/// Decodes an SQS body into an event, unwrapping SNS's notification envelope when raw message
/// delivery is off (both the standard form and the FIFO form, which has a `SequenceNumber` and no
/// signature).
pub fn decode_body(body: &str) -> Result<Event, EventError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    match sns_message(&value) {
        Some(inner) => Event::from_slice(inner.as_bytes()),
        None => Event::from_value(value),
    }
}

fn sns_message(value: &Value) -> Option<&str> {
    let object = value.as_object()?;
    let is_wrapper = object.get("Type").and_then(Value::as_str) == Some("Notification")
        && object.get("TopicArn").is_some_and(Value::is_string)
        && !object.contains_key("eventId");
    if is_wrapper {
        object.get("Message").and_then(Value::as_str)
    } else {
        None
    }
}

fn prepare(record: &SqsMessage, index: usize) -> Result<Prepared<'_>, BatchError> {
    let message_id = record
        .message_id
        .clone()
        .filter(|id| !id.is_empty())
        .ok_or(BatchError::MissingMessageId { index })?;
    let event = decode_body(record.body.as_deref().unwrap_or_default());
    let attribute = |name: &str| record.attributes.get(name).filter(|v| !v.is_empty());
    let group_id = attribute("MessageGroupId")
        .cloned()
        .or_else(|| event.as_ref().ok().map(Event::partition_key))
        // A record with neither is alone in its group: it can't hold anything else back.
        .unwrap_or_else(|| message_id.clone());
    let receive_count = attribute("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Ok(Prepared {
        ctx: RecordContext {
            message_id,
            group_id,
            receive_count,
            queue_arn: record.event_source_arn.clone(),
        },
        event,
        _record: record,
    })
}

/// Runs a handler over a batch and returns the records to redeliver.
pub async fn process_batch<H: Handler>(
    handler: &H,
    batch: &SqsEvent,
) -> Result<SqsBatchResponse, BatchError> {
    process_batch_with(handler, batch, &Recorder::new()).await
}

/// [`process_batch`], recording metrics into `metrics`.
pub async fn process_batch_with<H: Handler>(
    handler: &H,
    batch: &SqsEvent,
    metrics: &Recorder,
) -> Result<SqsBatchResponse, BatchError> {
    let prepared = batch
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| prepare(r, i))
        .collect::<Result<Vec<_>, _>>()?;

    // Groups in order of first appearance, each holding its records in batch order.
    let mut groups: Vec<(String, Vec<&Prepared>)> = Vec::new();
    for record in &prepared {
        match groups.iter_mut().find(|(g, _)| *g == record.ctx.group_id) {
            Some((_, records)) => records.push(record),
            None => groups.push((record.ctx.group_id.clone(), vec![record])),
        }
    }

    let failed: HashSet<String> = join_all(
        groups
            .iter()
            .map(|(_, records)| run_group(handler, records, metrics)),
    )
    .await
    .into_iter()
    .flatten()
    .collect();

    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = prepared
        .iter()
        .filter(|p| failed.contains(&p.ctx.message_id))
        .map(|p| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = p.ctx.message_id.clone();
            failure
        })
        .collect();
    Ok(response)
}

/// Runs one group's records in order and returns the message ids to report failed: the first
/// failure and everything after it.
async fn run_group<H: Handler>(
    handler: &H,
    records: &[&Prepared<'_>],
    metrics: &Recorder,
) -> Vec<String> {
    for (i, record) in records.iter().enumerate() {
        let ctx = &record.ctx;
        let span = tracing::info_span!(
            "record",
            message_id = %ctx.message_id,
            group = %ctx.group_id,
            receive_count = ctx.receive_count,
            event_id = tracing::field::Empty,
            event_type = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        let outcome = async {
            let event = match &record.event {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!(%error, kind = error.kind(), "record can't be decoded");
                    metrics.count("RecordsFailed", &[("EventType", "undecodable")]);
                    return false;
                }
            };
            let span = tracing::Span::current();
            span.record("event_id", tracing::field::display(event.event_id));
            span.record("event_type", event.event_type.name());
            span.record("trace_id", event.trace_id.as_str());
            let event_type = event.event_type.name();
            if event
                .event_type
                .is_deprecated_on(chrono::Utc::now().date_naive())
            {
                tracing::warn!(version = %event.version, "consumed a deprecated event version");
                metrics.count("DeprecatedVersionConsumed", &[("EventType", event_type)]);
            }
            let started = std::time::Instant::now();
            let result = handler.handle(event, ctx).await;
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            metrics.record(
                "ProcessingTime",
                Unit::Milliseconds,
                elapsed_ms,
                &[("EventType", event_type)],
            );
            match result {
                Ok(()) => {
                    tracing::debug!("record handled");
                    metrics.count("RecordsProcessed", &[("EventType", event_type)]);
                    let age = chrono::Utc::now() - event.timestamp.0;
                    metrics.record(
                        "EndToEndLatency",
                        Unit::Milliseconds,
                        age.num_milliseconds().max(0) as f64,
                        &[("EventType", event_type)],
                    );
                    true
                }
                Err(error) => {
                    tracing::warn!(%error, "record failed");
                    metrics.count("RecordsFailed", &[("EventType", event_type)]);
                    false
                }
            }
        }
        .instrument(span)
        .await;

        if !outcome {
            let skipped = records.len() - i - 1;
            if skipped > 0 {
                tracing::info!(group = %ctx.group_id, skipped, "later records of the group held back");
            }
            return records[i..]
                .iter()
                .map(|r| r.ctx.message_id.clone())
                .collect();
        }
    }
    Vec::new()
}

/// The Lambda entry point every consuming function uses: one span per invocation, then
/// [`process_batch`]. An `Err` returns the whole batch to the queue, so it is kept for a batch
/// that can't be answered record by record.
pub async fn invoke<H: Handler>(
    handler: &H,
    event: lambda_runtime::LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let span = tracing::info_span!(
        "invocation",
        request_id = %event.context.request_id,
        records = event.payload.records.len(),
    );
    let metrics = Recorder::new();
    async {
        let response = process_batch_with(handler, &event.payload, &metrics).await;
        metrics.flush();
        let response = response?;
        tracing::info!(
            records = event.payload.records.len(),
            failed = response.batch_item_failures.len(),
            "batch done"
        );
        Ok(response)
    }
    .instrument(span)
    .await
}
