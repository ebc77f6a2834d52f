//! Replaying an envelope's history: the audit chain holds every event about an envelope, in
//! order; replay re-sends those since a time to one consumer's queue, in their message group, so
//! the consumer sees them in their original order.
//!
//! Consumers skip events whose idempotency record they still hold (a day), so replay serves a
//! consumer that never saw the events: a new one, one past that retention, or one whose
//! messages were parked and dropped. Secrets removed from the chain stay removed in replay.

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use esign_events::time::Timestamp;
use esign_events::Event;

/// The envelope's events since `since` (by their own timestamps), in chain order.
pub async fn history(
    ddb: &aws_sdk_dynamodb::Client,
    audit_table: &str,
    envelope: &str,
    since: Option<Timestamp>,
) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut pages = ddb
        .query()
        .table_name(audit_table)
        .key_condition_expression("envelopeId = :id AND #seq >= :one")
        .expression_attribute_names("#seq", "sequence")
        .expression_attribute_values(":id", AttributeValue::S(envelope.into()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .consistent_read(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for item in page.context("reading the audit chain")?.items() {
            let canonical = item
                .get("canonical")
                .and_then(|v| v.as_s().ok())
                .context("an entry without its event")?;
            let event = Event::from_slice(canonical.as_bytes())
                .context("an entry that is no longer a valid event")?;
            if since.is_none_or(|s| event.timestamp >= s) {
                events.push(event);
            }
        }
    }
    Ok(events)
}

/// Sends events to a queue, each in its message group, and returns how many were sent. Each
/// replay gets its own deduplication ids, so replaying twice within five minutes still delivers.
pub async fn send(sqs: &aws_sdk_sqs::Client, queue_url: &str, events: &[Event]) -> Result<usize> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let fifo = queue_url.ends_with(".fifo");
    for event in events {
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event.event_type.name())
            .build()?;
        let mut message = sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(event.to_json())
            .message_attributes(esign_events::publish::EVENT_TYPE_ATTRIBUTE, attribute);
        if fifo {
            message = message
                .message_group_id(event.partition_key())
                .message_deduplication_id(format!("{}-{}", &run[..8], event.event_id));
        }
        message
            .send()
            .await
            .with_context(|| format!("sending {}", event.event_id))?;
    }
    Ok(events.len())
}
