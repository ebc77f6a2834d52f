//! Replaying an envelope's history: the audit chain holds every event about an envelope, in
//! order; replay re-sends those since a time to one consumer's queue, in their message group, so
//! the consumer sees them in their original order.
//!
//! A plain replay fills gaps: consumers skip events whose idempotency record they still hold (a
//! day), so only what a consumer never handled is handled (a new consumer, one past that
//! retention, one whose messages were parked and dropped). A reprocessing replay marks each
//! message with a replay id; the runtime then keys the consumer's side effects by event and
//! replay, so the consumer handles every event again, once for that replay (after a bug fix, say).
//! Events a reprocessed consumer publishes keep their derived ids, so other consumers skip them.
//! Secrets removed from the chain stay removed in replay.

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use esign_events::routing::ROUTES;
use esign_events::runtime::REPLAY_ATTRIBUTE;
use esign_events::time::Timestamp;
use esign_events::Event;
use std::collections::BTreeSet;

/// The consumers events can be replayed to. The audit function is not one of them: its chain is
/// what replay reads.
pub fn consumers() -> BTreeSet<&'static str> {
    ROUTES
        .iter()
        .flat_map(|r| r.consumers.iter().copied())
        .filter(|c| *c != "audit")
        .collect()
}

/// The queue a consumer reads.
pub fn queue_name(consumer: &str) -> String {
    format!("{consumer}-events.fifo")
}

/// Refuses a name that is not a consumer events can be replayed to, naming the ones that are.
pub fn check_consumer(consumer: &str) -> Result<()> {
    let known = consumers();
    if known.contains(consumer) {
        return Ok(());
    }
    let list = known.into_iter().collect::<Vec<_>>().join(", ");
    let why = if consumer == "audit" {
        "the audit chain is what replay reads"
    } else {
        "no event goes to it"
    };
    anyhow::bail!("--consumer {consumer}: {why}; replay goes to one of {list}")
}

/// The events a consumer subscribes to, in their order.
pub fn for_consumer(events: Vec<Event>, consumer: &str) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| e.event_type.consumers().contains(&consumer))
        .collect()
}

/// One replay's identity: the id its messages carry, and whether consumers handle again what
/// they handled before.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub reprocess: bool,
}

impl Run {
    pub fn new(reprocess: bool) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            reprocess,
        }
    }
}

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
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    events: &[Event],
    run: &Run,
) -> Result<usize> {
    let fifo = queue_url.ends_with(".fifo");
    let text = |value: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
    };
    for event in events {
        let mut message = sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(event.to_json())
            .message_attributes(
                esign_events::publish::EVENT_TYPE_ATTRIBUTE,
                text(event.event_type.name())?,
            );
        if run.reprocess {
            message = message.message_attributes(REPLAY_ATTRIBUTE, text(&run.id)?);
        }
        if fifo {
            message = message
                .message_group_id(event.partition_key())
                .message_deduplication_id(format!("{}-{}", &run.id[..8], event.event_id));
        }
        message
            .send()
            .await
            .with_context(|| format!("sending {}", event.event_id))?;
    }
    Ok(events.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> Event {
        let path = format!(
            "{}/../../shared/events/tests/fixtures/events/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        Event::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn every_consumer_but_audit_can_be_replayed_to() {
        let all: Vec<_> = consumers().into_iter().collect();
        assert_eq!(all, ["certificate", "document", "envelope", "notification"]);
        assert_eq!(queue_name("document"), "document-events.fifo");
    }

    #[test]
    fn an_unknown_consumer_or_the_audit_chain_is_refused_by_name() {
        let err = check_consumer("billing").unwrap_err().to_string();
        assert!(
            err.contains("--consumer billing: no event goes to it"),
            "{err}"
        );
        assert!(err.contains("certificate, document, envelope, notification"));
        let err = check_consumer("audit").unwrap_err().to_string();
        assert!(
            err.contains("the audit chain is what replay reads"),
            "{err}"
        );
        check_consumer("notification").unwrap();
    }

    #[test]
    fn a_consumer_gets_only_the_types_it_subscribes_to_in_order() {
        let history = vec![
            event("envelope.sent"),
            event("document.uploaded"),
            event("envelope.viewed"),
            event("envelope.completed"),
        ];
        let names = |c: &str| -> Vec<&'static str> {
            for_consumer(history.clone(), c)
                .iter()
                .map(|e| e.event_type.name())
                .collect()
        };
        assert_eq!(
            names("document"),
            ["document.uploaded", "envelope.completed"]
        );
        assert_eq!(names("certificate"), ["envelope.completed"]);
        assert_eq!(
            names("notification"),
            ["envelope.sent", "envelope.viewed", "envelope.completed"]
        );
    }
}
