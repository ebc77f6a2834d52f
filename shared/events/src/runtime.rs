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
//!
//! Failures come in two kinds. A retryable one (throttling, a timeout, a 5xx) is reported and
//! its group's records get a visibility timeout that doubles with each receive, capped by the
//! queue's own, so a retry comes in seconds; on the last receive the redrive policy allows, the
//! record is parked in the dead-letter queue with its reason rather than moved there silently.
//! A permanent one (a body that is not JSON, fails validation, has an unknown type or version,
//! breaks a rule, or reuses an event id for another payload) is parked at once. Parking sends the
//! record to the dead-letter queue with attributes saying why, in its own message group, then
//! deletes it from the source queue; the group's later records are retried right away.
//!
//! Every event is guarded by an idempotency record per consumer and event id, so a redelivery or
//! a re-publication of a handled event is skipped (see [`crate::idempotency`]).

use crate::event::{Event, EventError};
use crate::idempotency::{payload_hash, Acquired, GuardError, IdempotencyStore, NoStore};
use crate::metrics::{Recorder, Unit};
use crate::queue::{NoQueue, Parked, QueueInfo, QueueOps};
use crate::time::Timestamp;
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
    /// When the invocation must be done (Unix milliseconds): the lock expiry for side effects.
    pub deadline_ms: i64,
    /// Set when the message is a deliberate re-run of an event (`esign-bus replay
    /// --reprocess`): the event was handled before and is to be handled again, once per replay.
    pub replay_id: Option<String>,
}

/// The message attribute that marks a replayed message for reprocessing.
pub const REPLAY_ATTRIBUTE: &str = "replayId";

/// The message attribute that names the redrive run that sent a parked message back
/// (`esign-bus dlq redrive`). Parking keeps it, so that run knows the message failed again and
/// does not send it round once more.
pub const REDRIVE_ATTRIBUTE: &str = "redriveId";

impl RecordContext {
    /// What idempotency keys of side effects are made of: the event id, or the event id and the
    /// replay for a reprocessed event, so that a replay does its work again, exactly once.
    pub fn idempotency_scope(&self, event: &Event) -> String {
        match &self.replay_id {
            None => event.event_id.to_string(),
            Some(replay) => format!("{}~replay-{replay}", event.event_id),
        }
    }
}

/// Reads the replay attribute: 1 to 64 ASCII letters, digits or `-`, since it becomes part of
/// every idempotency key the record guards.
fn replay_id(record: &SqsMessage) -> Result<Option<String>, String> {
    let Some(attribute) = record.message_attributes.get(REPLAY_ATTRIBUTE) else {
        return Ok(None);
    };
    match attribute.string_value.as_deref() {
        Some(v)
            if (1..=64).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(Some(v.to_owned()))
        }
        _ => Err(format!(
            "message attribute {REPLAY_ATTRIBUTE} must be a string of 1 to 64 letters, digits or '-'"
        )),
    }
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
    /// redelivery, or parks it when the error is permanent.
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

/// How soon a retryable failure comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure; it doubles with each receive.
    pub base_secs: i32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base_secs: 2 }
    }
}

impl Backoff {
    /// The visibility timeout for a record that failed on its `receive_count`-th receive:
    /// `base * 2^(receive_count - 1)`, never more than the queue's visibility timeout.
    pub fn delay_secs(&self, receive_count: u32, cap_secs: i32) -> i32 {
        let exponent = receive_count.saturating_sub(1).min(20);
        let delay = i64::from(self.base_secs) << exponent;
        delay.min(i64::from(cap_secs)).max(0) as i32
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A record decoded as far as it goes.
struct Prepared<'a> {
    ctx: RecordContext,
    event: Result<Event, EventError>,
    /// What is wrong with the replay attribute, if it is malformed.
    bad_replay: Option<String>,
    record: &'a SqsMessage,
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

fn prepare(
    record: &SqsMessage,
    index: usize,
    deadline_ms: i64,
) -> Result<Prepared<'_>, BatchError> {
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
    let (replay_id, bad_replay) = match replay_id(record) {
        Ok(id) => (id, None),
        Err(e) => (None, Some(e)),
    };
    Ok(Prepared {
        ctx: RecordContext {
            message_id,
            group_id,
            receive_count,
            queue_arn: record.event_source_arn.clone(),
            deadline_ms,
            replay_id,
        },
        event,
        bad_replay,
        record,
    })
}

/// How one record ended.
enum Outcome {
    Done,
    Duplicate,
    Retryable {
        kind: &'static str,
        message: String,
        first_failure_ms: i64,
    },
    Permanent {
        kind: &'static str,
        message: String,
        first_failure_ms: i64,
    },
}

/// A consumer: a handler with its name, idempotency store and queue access.
pub struct Consumer<'a, H, S = NoStore, Q = NoQueue> {
    /// The function's name; part of every idempotency key and dead-letter reason.
    pub name: &'a str,
    pub handler: &'a H,
    pub store: &'a S,
    pub queues: &'a Q,
    pub backoff: Backoff,
}

/// Runs a handler over a batch with no idempotency and no queue access (failures are only
/// reported) and returns the records to redeliver.
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
    let consumer = Consumer {
        name: "consumer",
        handler,
        store: &NoStore,
        queues: &NoQueue,
        backoff: Backoff::default(),
    };
    consumer.process(batch, now_ms() + 60_000, metrics).await
}

impl<H: Handler, S: IdempotencyStore, Q: QueueOps> Consumer<'_, H, S, Q> {
    /// Processes a batch that must be done by `deadline_ms` and returns the records to report
    /// failed.
    pub async fn process(
        &self,
        batch: &SqsEvent,
        deadline_ms: i64,
        metrics: &Recorder,
    ) -> Result<SqsBatchResponse, BatchError> {
        let prepared = batch
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| prepare(r, i, deadline_ms))
            .collect::<Result<Vec<_>, _>>()?;

        // Groups in order of first appearance, each holding its records in batch order.
        let mut groups: Vec<(String, Vec<&Prepared>)> = Vec::new();
        for record in &prepared {
            match groups.iter_mut().find(|(g, _)| *g == record.ctx.group_id) {
                Some((_, records)) => records.push(record),
                None => groups.push((record.ctx.group_id.clone(), vec![record])),
            }
        }

        let queue = match batch
            .records
            .first()
            .and_then(|r| r.event_source_arn.as_deref())
        {
            Some(arn) => self.queues.info(arn).await,
            None => None,
        };
        let failed: HashSet<String> = join_all(
            groups
                .iter()
                .map(|(_, records)| self.run_group(records, queue.as_ref(), metrics)),
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

    /// Runs one group's records in order and returns the message ids to report failed: the
    /// first failure and everything after it.
    async fn run_group(
        &self,
        records: &[&Prepared<'_>],
        queue: Option<&QueueInfo>,
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
                replay_id = ctx.replay_id.as_deref(),
            );
            let event_type = record
                .event
                .as_ref()
                .map(|e| e.event_type.name())
                .unwrap_or("undecodable");
            let outcome = self
                .run_record(record, metrics)
                .instrument(span.clone())
                .await;
            let (retryable, kind, message, first_failure_ms) = match outcome {
                Outcome::Done => {
                    metrics.count("RecordsProcessed", &[("EventType", event_type)]);
                    continue;
                }
                Outcome::Duplicate => {
                    metrics.count("DuplicatesSkipped", &[("EventType", event_type)]);
                    continue;
                }
                Outcome::Retryable {
                    kind,
                    message,
                    first_failure_ms,
                } => (true, kind, message, first_failure_ms),
                Outcome::Permanent {
                    kind,
                    message,
                    first_failure_ms,
                } => (false, kind, message, first_failure_ms),
            };
            metrics.count("RecordsFailed", &[("EventType", event_type)]);

            let rest = &records[i + 1..];
            let exhausted = queue.is_some_and(|q| ctx.receive_count >= q.max_receive_count);
            let park_kind = match (retryable, exhausted) {
                (false, _) => Some(kind),
                (true, true) => Some("retries_exhausted"),
                (true, false) => None,
            };
            let parked = match (park_kind, queue) {
                (Some(park_kind), Some(q)) if q.dead_letter_url.is_some() => {
                    let reason = Reason {
                        kind: park_kind,
                        cause: kind,
                        message: &message,
                        first_failure_ms,
                    };
                    self.park(q, record, &reason).instrument(span.clone()).await
                }
                _ => false,
            };
            if parked {
                metrics.count("RecordsParked", &[("EventType", event_type)]);
            } else {
                metrics.count("RecordsRetried", &[("EventType", event_type)]);
            }

            // A later record held back on its last allowed receive would be moved by the
            // redrive policy without a reason, never having run; it is parked here instead,
            // in the group's order, saying why. The others come back with the failed record.
            let mut held_parked = HashSet::new();
            if let Some(q) = queue.filter(|q| q.dead_letter_url.is_some()) {
                for r in rest {
                    if r.ctx.receive_count < q.max_receive_count {
                        continue;
                    }
                    let reason = Reason {
                        kind: "held_back",
                        cause: "held_back",
                        message: "not run: an earlier record of its message group failed, \
                                  and this one had reached the receive limit",
                        first_failure_ms: now_ms(),
                    };
                    if self.park(q, r, &reason).instrument(span.clone()).await {
                        held_parked.insert(r.ctx.message_id.as_str());
                        let held_type = r
                            .event
                            .as_ref()
                            .map(|e| e.event_type.name())
                            .unwrap_or("undecodable");
                        metrics.count("RecordsParked", &[("EventType", held_type)]);
                    }
                }
            }

            // The failed record (unless parked) and the group's later records come back soon:
            // after the backoff, or at once when the record in their way is parked.
            if let Some(q) = queue {
                let delay = if parked {
                    0
                } else {
                    self.backoff
                        .delay_secs(ctx.receive_count, q.visibility_timeout_secs)
                };
                let again = if parked { rest } else { &records[i..] };
                for r in again
                    .iter()
                    .filter(|r| !held_parked.contains(r.ctx.message_id.as_str()))
                {
                    if let Some(receipt) = r.record.receipt_handle.as_deref() {
                        if let Err(e) = self.queues.change_visibility(q, receipt, delay).await {
                            tracing::warn!(parent: &span, error = %e, "could not shorten the visibility timeout");
                        }
                    }
                }
            }
            if !rest.is_empty() {
                tracing::info!(parent: &span, skipped = rest.len(), "later records of the group held back");
            }
            return records[i..]
                .iter()
                .map(|r| r.ctx.message_id.clone())
                .collect();
        }
        Vec::new()
    }

    async fn run_record(&self, record: &Prepared<'_>, metrics: &Recorder) -> Outcome {
        let ctx = &record.ctx;
        let now = now_ms();
        let event = match &record.event {
            Ok(event) => event,
            Err(error) => {
                let text = crate::personal::scrub(&error.to_string());
                tracing::warn!(error = %text, kind = error.kind(), "record can't be decoded");
                return Outcome::Permanent {
                    kind: error.kind(),
                    message: error.to_string(),
                    first_failure_ms: now,
                };
            }
        };
        if let Some(message) = &record.bad_replay {
            tracing::warn!(error = %message, "record has a malformed replay attribute");
            return Outcome::Permanent {
                kind: "bad_replay_id",
                message: format!("event {}: {message}", event.event_id),
                first_failure_ms: now,
            };
        }
        let span = tracing::Span::current();
        span.record("event_id", tracing::field::display(event.event_id));
        span.record("event_type", event.event_type.name());
        // The trace id is free text from the publisher: scrubbed like any other.
        span.record("trace_id", crate::personal::scrub(&event.trace_id).as_str());
        let event_type = event.event_type.name();
        if event
            .event_type
            .is_deprecated_on(chrono::Utc::now().date_naive())
        {
            tracing::warn!(version = %event.version, "consumed a deprecated event version");
            metrics.count("DeprecatedVersionConsumed", &[("EventType", event_type)]);
        }

        if ctx.replay_id.is_some() {
            metrics.count("RecordsReplayed", &[("EventType", event_type)]);
        }
        let key = format!("{}#{}", self.name, ctx.idempotency_scope(event));
        let hash = payload_hash(event_type, &event.version, event.data());
        match self.store.acquire(&key, &hash, now, ctx.deadline_ms).await {
            Ok(Acquired::AlreadyDone) => {
                tracing::info!("event already handled; skipped");
                return Outcome::Duplicate;
            }
            Ok(Acquired::TakenOver) => {
                tracing::info!("took over from an attempt whose lock expired")
            }
            Ok(Acquired::Fresh) => {}
            Err(GuardError::InFlight { .. }) => {
                let message = "another attempt is handling this event".to_owned();
                tracing::info!("{message}; retrying later");
                return Outcome::Retryable {
                    kind: "in_flight",
                    message,
                    first_failure_ms: now,
                };
            }
            Err(GuardError::Conflict { .. }) => {
                // The event id is in the span and the dead-letter attributes; the text stays
                // free of values, as every error text does.
                let message =
                    "this event id was already handled with a different payload".to_owned();
                tracing::error!(alert = true, "{message}");
                metrics.count("IdempotencyConflict", &[("EventType", event_type)]);
                return Outcome::Permanent {
                    kind: "payload_conflict",
                    message,
                    first_failure_ms: now,
                };
            }
            Err(GuardError::Store(e)) => {
                tracing::warn!(error = %e, "idempotency store unavailable");
                return Outcome::Retryable {
                    kind: "idempotency_store",
                    message: e,
                    first_failure_ms: now,
                };
            }
        }

        let started = std::time::Instant::now();
        let result = self.handler.handle(event, ctx).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        metrics.record(
            "ProcessingTime",
            Unit::Milliseconds,
            elapsed_ms,
            &[("EventType", event_type)],
        );
        match result {
            Ok(()) => {
                if let Err(e) = self.store.complete(&key, now_ms()).await {
                    // The work is done; a redelivery will find the key unfinished and do it again.
                    tracing::warn!(error = %e, "could not mark the event handled");
                }
                let age = chrono::Utc::now() - event.timestamp.0;
                metrics.record(
                    "EndToEndLatency",
                    Unit::Milliseconds,
                    age.num_milliseconds().max(0) as f64,
                    &[("EventType", event_type)],
                );
                tracing::debug!("record handled");
                Outcome::Done
            }
            Err(error) => {
                let first_failure_ms = match self.store.release(&key, now_ms()).await {
                    Ok(history) => history.first_failure_ms,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not record the failure");
                        now
                    }
                };
                tracing::warn!(error = %crate::personal::scrub(&error.to_string()), "record failed");
                match error {
                    HandlerError::Retryable(message) => Outcome::Retryable {
                        kind: "retryable",
                        message,
                        first_failure_ms,
                    },
                    HandlerError::Permanent(message) => Outcome::Permanent {
                        kind: "permanent",
                        message,
                        first_failure_ms,
                    },
                }
            }
        }
    }

    /// Parks a record in the dead-letter queue; false when that failed (it is then retried).
    async fn park(&self, queue: &QueueInfo, record: &Prepared<'_>, reason: &Reason<'_>) -> bool {
        let ctx = &record.ctx;
        let Some(receipt) = record.record.receipt_handle.as_deref() else {
            return false;
        };
        let iso = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| Timestamp(t).to_string())
                .unwrap_or_default()
        };
        // SQS takes at most ten message attributes, so they are written in the order of what
        // an operator and `esign-bus dlq` need most, and the least needed are left out when a
        // record carries replay and redrive ids. The source queue is the one whose redrive
        // policy names this dead-letter queue (each queue here has its own).
        let mut attributes = vec![
            ("errorKind".to_owned(), reason.kind.to_owned()),
            (
                "errorMessage".to_owned(),
                truncate(&crate::personal::scrub(reason.message), 1024),
            ),
            ("consumer".to_owned(), self.name.to_owned()),
            ("firstFailureAt".to_owned(), iso(reason.first_failure_ms)),
            ("lastFailureAt".to_owned(), iso(now_ms())),
            ("receiveCount".to_owned(), ctx.receive_count.to_string()),
        ];
        // A parked replay stays a replay when it is sent back, and a redriven message says which
        // redrive sent it.
        for carried in [REPLAY_ATTRIBUTE, REDRIVE_ATTRIBUTE] {
            if let Some(value) = record
                .record
                .message_attributes
                .get(carried)
                .and_then(|a| a.string_value.clone())
            {
                attributes.push((carried.to_owned(), value));
            }
        }
        match &record.event {
            Ok(event) => {
                attributes.push(("eventId".to_owned(), event.event_id.to_string()));
                attributes.push(("eventType".to_owned(), event.event_type.name().to_owned()));
            }
            Err(error) => {
                if let Some(id) = error.event_id() {
                    attributes.push(("eventId".to_owned(), id.to_owned()));
                }
            }
        }
        if reason.kind != reason.cause {
            attributes.push(("lastErrorKind".to_owned(), reason.cause.to_owned()));
        }
        attributes.push(("sourceMessageId".to_owned(), ctx.message_id.clone()));
        attributes.truncate(MAX_MESSAGE_ATTRIBUTES);
        let parked = Parked {
            body: record.record.body.clone().unwrap_or_default(),
            group_id: ctx.group_id.clone(),
            dedup_id: ctx.message_id.clone(),
            attributes,
        };
        match self.queues.park(queue, receipt, &parked).await {
            Ok(()) => {
                tracing::warn!(
                    error_kind = reason.kind,
                    "record parked in the dead-letter queue"
                );
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not park the record; it stays for redelivery");
                false
            }
        }
    }
}

/// How many message attributes SQS takes on one message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Why a record is parked.
struct Reason<'a> {
    /// The error kind written to the dead-letter attributes.
    kind: &'static str,
    /// The kind of the last failure, when `kind` is `retries_exhausted`.
    cause: &'static str,
    message: &'a str,
    first_failure_ms: i64,
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A consuming function's runtime: its handler, idempotency store and queue access, built once
/// per process and borrowed by every invocation.
pub struct Runtime<H, S, Q> {
    pub name: String,
    pub handler: H,
    pub store: S,
    pub queues: Q,
    pub backoff: Backoff,
}

impl<H: Handler, S: IdempotencyStore, Q: QueueOps> Runtime<H, S, Q> {
    /// The Lambda entry point: one span and one metrics flush per invocation. An `Err` returns
    /// the whole batch to the queue, so it is kept for a batch that can't be answered record by
    /// record.
    pub async fn invoke(
        &self,
        event: lambda_runtime::LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let span = tracing::info_span!(
            "invocation",
            function = %self.name,
            request_id = %event.context.request_id,
            records = event.payload.records.len(),
        );
        let metrics = Recorder::new();
        let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
        let consumer = Consumer {
            name: &self.name,
            handler: &self.handler,
            store: &self.store,
            queues: &self.queues,
            backoff: self.backoff,
        };
        async {
            let response = consumer
                .process(&event.payload, deadline_ms, &metrics)
                .await;
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
}

/// The runtime every deployed function uses: idempotency records in the DynamoDB table named by
/// `IDEMPOTENCY_TABLE`, and SQS for backoff and parking.
pub fn aws_runtime<H: Handler>(
    name: &str,
    handler: H,
    aws: &aws_config::SdkConfig,
) -> Result<Runtime<H, crate::idempotency::DynamoStore, crate::queue::SqsQueues>, MissingSetting> {
    Ok(Runtime {
        name: name.to_owned(),
        handler,
        store: idempotency_store(aws)?,
        queues: crate::queue::SqsQueues::new(aws_sdk_sqs::Client::new(aws)),
        backoff: Backoff::default(),
    })
}

/// The idempotency store of the table named by `IDEMPOTENCY_TABLE`.
pub fn idempotency_store(
    aws: &aws_config::SdkConfig,
) -> Result<crate::idempotency::DynamoStore, MissingSetting> {
    let table = std::env::var("IDEMPOTENCY_TABLE")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or(MissingSetting("IDEMPOTENCY_TABLE"))?;
    Ok(crate::idempotency::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        table,
    ))
}

/// A required environment variable that is not set.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingSetting(pub &'static str);
