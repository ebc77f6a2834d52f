//! What the publisher refuses before any call to SNS, and how it names it.

use chrono::NaiveDate;
use esign_events::metrics::Recorder;
use esign_events::publish::{Outgoing, PublishError, MAX_MESSAGE_BYTES};
use esign_events::runtime::{process_batch_with, Handler, HandlerError, RecordContext};
use esign_events::Event;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn group_and_dedup_ids_are_the_partition_key_and_the_event_id() {
    let event = Event::from_value(fixture("envelope.sent.v2")).unwrap();
    let out = Outgoing::prepare_on(&event, day(2027, 1, 1)).unwrap();
    assert_eq!(out.group_id, "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10");
    assert_eq!(out.dedup_id, event.event_id.to_string());
    assert_eq!(out.event_type, "envelope.sent.v2");
    assert_eq!(out.category.topic_name(), "envelope-events.fifo");
}

#[test]
fn events_not_about_an_envelope_are_keyed_by_their_subject() {
    let user = Event::from_value(fixture("user.registered")).unwrap();
    assert_eq!(user.partition_key(), "e5e5e5e5-1111-4222-8333-444455556666");
    let mut doc = fixture("document.processing.failed");
    doc["data"]["envelopeId"] = Value::Null;
    let doc = Event::from_value(doc).unwrap();
    assert_eq!(doc.partition_key(), "d0c0d0c0-1111-4222-8333-444455556666");
}

/// An event over SNS's 256 KiB, measured as sent with its attributes, is refused with its size.
#[test]
fn an_oversized_event_is_refused_with_its_size() {
    let mut value = fixture("envelope.sent.v2");
    // Quotes become \" when serialised, so the text grows past the limit only as sent.
    value["data"]["message"] = json!("\"".repeat(MAX_MESSAGE_BYTES / 2 + 1));
    let event = Event::from_value(value).unwrap();
    match Outgoing::prepare_on(&event, day(2027, 1, 1)) {
        Err(PublishError::TooLarge { size, limit, .. }) => {
            assert!(
                size > MAX_MESSAGE_BYTES && limit == MAX_MESSAGE_BYTES,
                "{size}"
            );
            assert_eq!(
                size,
                event.to_json().len()
                    + "eventType".len()
                    + "String".len()
                    + "envelope.sent.v2".len()
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let mut value = fixture("envelope.sent.v2");
    value["data"]["message"] = json!("x".repeat(200_000));
    assert!(Outgoing::prepare_on(&Event::from_value(value).unwrap(), day(2027, 1, 1)).is_ok());
}

#[test]
fn fifo_ids_follow_sqs_rules() {
    use esign_events::publish::valid_fifo_id;
    assert!(valid_fifo_id("3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10"));
    assert!(valid_fifo_id(&"a".repeat(128)));
    assert!(!valid_fifo_id(""));
    assert!(!valid_fifo_id(&"a".repeat(129)));
    assert!(!valid_fifo_id("has space"));
    assert!(!valid_fifo_id("ümlaut"));
}

/// v1 of envelope.sent may be published until its window closes, and not after.
#[test]
fn v1_is_refused_after_its_support_window() {
    let event = Event::from_value(fixture("envelope.sent")).unwrap();
    assert!(Outgoing::prepare_on(&event, day(2027, 6, 3)).is_ok());
    let err = Outgoing::prepare_on(&event, day(2027, 6, 4)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event 11111111-1111-4111-8111-111111111111: envelope.sent was supported until 2027-06-03; publish envelope.sent.v2 instead"
    );
}

/// A caused event carries the trace and correlation of its cause and names it.
#[test]
fn caused_events_copy_trace_and_correlation() {
    let cause = Event::from_value(fixture("envelope.recipient.signed")).unwrap();
    let payload = Event::from_value(fixture("envelope.completed"))
        .unwrap()
        .payload;
    let effect = cause.caused(payload, "envelope-function");
    assert_eq!(effect.trace_id, cause.trace_id);
    assert_eq!(
        effect.metadata.correlation_id,
        cause.metadata.correlation_id
    );
    assert_eq!(effect.metadata.causation_id, Some(cause.event_id));
    assert_ne!(effect.event_id, cause.event_id);
    Event::from_slice(effect.to_json().as_bytes()).unwrap();
}

struct Nothing;
impl Handler for Nothing {
    async fn handle(&self, _: &Event, _: &RecordContext) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Consuming a deprecated version is counted, per event type; the current version is not.
#[tokio::test]
async fn consuming_a_deprecated_version_is_counted() {
    let records: Vec<Value> = ["envelope.sent", "envelope.sent.v2", "envelope.sent"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut body = fixture(name);
            body["eventId"] = json!(format!("00000000-0000-4000-8000-00000000000{i}"));
            json!({"messageId": format!("m-{i}"), "body": body.to_string(), "attributes": {}})
        })
        .collect();
    let batch = serde_json::from_value(json!({ "Records": records })).unwrap();
    let metrics = Recorder::new();
    process_batch_with(&Nothing, &batch, &metrics)
        .await
        .unwrap();
    assert_eq!(
        metrics.total(
            "DeprecatedVersionConsumed",
            &[("EventType", "envelope.sent")]
        ),
        2.0
    );
    assert_eq!(
        metrics.total(
            "DeprecatedVersionConsumed",
            &[("EventType", "envelope.sent.v2")]
        ),
        0.0
    );
    assert_eq!(
        metrics.total("RecordsProcessed", &[("EventType", "envelope.sent.v2")]),
        1.0
    );
}
