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

mod batches {
    use super::fixture;
    use esign_events::publish::{
        EntryOutcome, Outgoing, PublishError, Publisher, Sink, SinkError, Topics,
    };
    use esign_events::{Category, Event};
    use serde_json::json;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers each call from a script, and records the dedup ids of each call.
    #[derive(Default)]
    struct ScriptedSink {
        script: Mutex<VecDeque<Result<Vec<&'static str>, SinkError>>>,
        calls: Mutex<Vec<(String, Vec<String>)>>,
    }

    impl Sink for ScriptedSink {
        async fn publish_batch(
            &self,
            topic: &str,
            entries: &[&Outgoing],
        ) -> Result<Vec<EntryOutcome>, SinkError> {
            self.calls.lock().unwrap().push((
                topic.to_owned(),
                entries.iter().map(|e| e.dedup_id.clone()).collect(),
            ));
            let answer = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(vec![]));
            let codes = answer?;
            Ok(entries
                .iter()
                .enumerate()
                .map(|(i, e)| match codes.get(i).copied().unwrap_or("ok") {
                    "ok" => EntryOutcome::Published(format!("msg-{}", e.dedup_id)),
                    "throttled" => EntryOutcome::Failed {
                        code: "Throttled".into(),
                        message: "slow down".into(),
                        retryable: true,
                    },
                    other => EntryOutcome::Failed {
                        code: other.into(),
                        message: "no".into(),
                        retryable: false,
                    },
                })
                .collect())
        }
    }

    fn events(n: usize, name: &str) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut v = fixture(name);
                v["eventId"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
                Event::from_value(v).unwrap()
            })
            .collect()
    }

    fn publisher(sink: ScriptedSink) -> Publisher<ScriptedSink> {
        let topics = Topics::new([
            (Category::Envelope, "arn:envelope".to_string()),
            (Category::System, "arn:system".to_string()),
        ]);
        Publisher::new(sink, topics)
    }

    /// Twelve events go out as a batch of ten and a batch of two, in order, and each gets its id.
    #[tokio::test(start_paused = true)]
    async fn events_go_out_ten_at_a_time_in_order() {
        let p = publisher(ScriptedSink::default());
        let evs = events(12, "envelope.viewed");
        let ids = p.publish_all(&evs).await.unwrap();
        assert_eq!(ids[11], format!("msg-{}", evs[11].event_id));
        let calls = p_calls(&p);
        assert_eq!(
            calls.iter().map(|(_, e)| e.len()).collect::<Vec<_>>(),
            vec![10, 2]
        );
        assert_eq!(calls[0].1[0], evs[0].event_id.to_string());
    }

    /// A throttled entry is sent again, alone, before the next batch; then everything has an id.
    #[tokio::test(start_paused = true)]
    async fn a_failed_entry_is_retried_before_the_next_batch() {
        let sink = ScriptedSink::default();
        sink.script.lock().unwrap().extend([
            Ok(vec!["ok", "throttled", "ok"]),
            Ok(vec!["throttled"]),
            Ok(vec!["ok"]),
        ]);
        let p = publisher(sink);
        let evs = events(12, "envelope.viewed");
        let ids = p.publish_all(&evs).await.unwrap();
        assert!(ids.iter().all(|id| id.starts_with("msg-")));
        let calls = p_calls(&p);
        let sizes: Vec<usize> = calls.iter().map(|(_, e)| e.len()).collect();
        assert_eq!(sizes, vec![10, 1, 1, 2]);
        assert_eq!(calls[1].1, vec![evs[1].event_id.to_string()]);
    }

    /// A whole call throttled is retried; one that keeps failing gives up with the event named.
    #[tokio::test(start_paused = true)]
    async fn throttled_calls_back_off_and_give_up_after_the_attempts() {
        let sink = ScriptedSink::default();
        let throttled = || {
            Err(SinkError {
                message: "Throttling: rate exceeded".into(),
                retryable: true,
            })
        };
        sink.script
            .lock()
            .unwrap()
            .extend([throttled(), Ok(vec![])]);
        let p = publisher(sink);
        p.publish_all(&events(1, "envelope.viewed")).await.unwrap();

        let sink = ScriptedSink::default();
        sink.script
            .lock()
            .unwrap()
            .extend((0..5).map(|_| throttled()));
        let p = publisher(sink);
        let err = p
            .publish_all(&events(1, "envelope.viewed"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "event 00000000-0000-4000-8000-000000000000: SNS refused the publish: still failing after 5 attempts: Throttling: rate exceeded"
        );
    }

    /// An entry SNS refuses for good is not retried.
    #[tokio::test(start_paused = true)]
    async fn a_refused_entry_is_not_retried() {
        let sink = ScriptedSink::default();
        sink.script
            .lock()
            .unwrap()
            .push_back(Ok(vec!["ok", "InvalidParameter"]));
        let p = publisher(sink);
        let evs = events(2, "envelope.viewed");
        match p.publish_all(&evs).await {
            Err(PublishError::Sns { event_id, .. }) => {
                assert_eq!(event_id, evs[1].event_id.to_string())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p_calls(&p).len(), 1);
    }

    /// Events of several categories go to their own topics.
    #[tokio::test(start_paused = true)]
    async fn each_category_goes_to_its_topic() {
        let p = publisher(ScriptedSink::default());
        let mut evs = events(2, "envelope.viewed");
        evs.extend(events(1, "user.verified"));
        p.publish_all(&evs).await.unwrap();
        let topics: Vec<String> = p_calls(&p).into_iter().map(|(t, _)| t).collect();
        assert_eq!(topics, vec!["arn:envelope", "arn:system"]);
    }

    fn p_calls(p: &Publisher<ScriptedSink>) -> Vec<(String, Vec<String>)> {
        p.sink().calls.lock().unwrap().clone()
    }
}
