//! The runtime's failure and idempotency rules, with an in-memory queue and store.

use aws_lambda_events::sqs::SqsEvent;
use esign_events::idempotency::{IdempotencyStore, MemoryStore};
use esign_events::metrics::Recorder;
use esign_events::queue::RecordingQueue;
use esign_events::runtime::{now_ms, Backoff, Consumer, Handler, HandlerError, RecordContext};
use esign_events::Event;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

const ENV_A: &str = "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10";
const ENV_B: &str = "7b1e4d20-93c5-4f8a-b6d1-5e2c9a0f3b77";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An `envelope.viewed` event with its own id, for an envelope.
fn event(id: u32, envelope: &str) -> Value {
    let mut e = fixture("envelope.viewed");
    e["eventId"] = json!(format!("00000000-0000-4000-8000-{id:012}"));
    e["data"]["envelopeId"] = json!(envelope);
    e
}

/// A record as Lambda delivers it: message id `m-<n>`, receipt `r-<n>`.
fn record(n: u32, body: &str, group: &str, receive_count: u32) -> Value {
    json!({
        "messageId": format!("m-{n}"),
        "receiptHandle": format!("r-{n}"),
        "body": body,
        "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": receive_count.to_string()},
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:test.fifo",
    })
}

fn batch(records: Vec<Value>) -> SqsEvent {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// Fails each event id as told: a number of retryable failures, or a permanent one.
#[derive(Default)]
struct Scripted {
    retryable: Mutex<HashMap<String, u32>>,
    permanent: Vec<String>,
    ran: Mutex<Vec<String>>,
}

impl Scripted {
    fn failing(id: u32, times: u32) -> Self {
        let s = Self::default();
        s.retryable
            .lock()
            .unwrap()
            .insert(format!("00000000-0000-4000-8000-{id:012}"), times);
        s
    }
    fn ran(&self) -> Vec<String> {
        self.ran
            .lock()
            .unwrap()
            .iter()
            .map(|id| id[id.len() - 2..].to_string())
            .collect()
    }
}

impl Handler for Scripted {
    async fn handle(&self, event: &Event, _: &RecordContext) -> Result<(), HandlerError> {
        let id = event.event_id.to_string();
        self.ran.lock().unwrap().push(id.clone());
        if self.permanent.contains(&id) {
            return Err(HandlerError::Permanent("breaks a rule".into()));
        }
        let mut retryable = self.retryable.lock().unwrap();
        if let Some(left) = retryable.get_mut(&id) {
            if *left > 0 {
                *left -= 1;
                return Err(HandlerError::Retryable(
                    "ThrottlingException: slow down".into(),
                ));
            }
        }
        Ok(())
    }
}

async fn run(
    handler: &Scripted,
    store: &MemoryStore,
    queue: &RecordingQueue,
    batch: &SqsEvent,
) -> (Vec<String>, Recorder) {
    let consumer = Consumer {
        name: "test",
        handler,
        store,
        queues: queue,
        backoff: Backoff { base_secs: 2 },
    };
    let metrics = Recorder::new();
    let response = consumer
        .process(batch, now_ms() + 5_000, &metrics)
        .await
        .unwrap();
    (
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        metrics,
    )
}

fn attrs(queue: &RecordingQueue, i: usize) -> HashMap<String, String> {
    queue.parked.lock().unwrap()[i]
        .1
        .attributes
        .iter()
        .cloned()
        .collect()
}

#[test]
fn backoff_doubles_per_receive_and_stops_at_the_visibility_timeout() {
    let b = Backoff { base_secs: 2 };
    let delays: Vec<i32> = (1..=6).map(|n| b.delay_secs(n, 30)).collect();
    assert_eq!(delays, vec![2, 4, 8, 16, 30, 30]);
    assert_eq!(b.delay_secs(u32::MAX, 60), 60);
}

/// A retryable failure reports the record and its group's later ones, and brings them all back
/// after the backoff instead of the full visibility timeout; other groups go on.
#[tokio::test]
async fn a_retryable_failure_comes_back_after_a_short_backoff() {
    let handler = Scripted::failing(2, 1);
    let queue = RecordingQueue::new(60, 3);
    let b = batch(vec![
        record(1, &event(1, ENV_A).to_string(), ENV_A, 2),
        record(2, &event(2, ENV_A).to_string(), ENV_A, 2),
        record(3, &event(3, ENV_B).to_string(), ENV_B, 1),
        record(4, &event(4, ENV_A).to_string(), ENV_A, 2),
    ]);
    let (failed, metrics) = run(&handler, &MemoryStore::new(), &queue, &b).await;
    assert_eq!(failed, vec!["m-2", "m-4"]);
    assert_eq!(
        handler.ran(),
        vec!["01", "02", "03"],
        "the held-back record never ran"
    );
    let changes = queue.visibility_changes.lock().unwrap().clone();
    assert_eq!(
        changes,
        vec![("r-2".to_string(), 4), ("r-4".to_string(), 4)],
        "2 s doubled on the second receive"
    );
    assert!(queue.parked.lock().unwrap().is_empty());
    assert_eq!(
        metrics.total("RecordsRetried", &[("EventType", "envelope.viewed")]),
        1.0
    );
}

/// A body that can never be processed is parked at once, with why, in its own group; the
/// group's later records come back immediately.
#[tokio::test]
async fn a_poison_record_is_parked_at_once_with_its_reason() {
    let handler = Scripted::default();
    let queue = RecordingQueue::new(60, 3);
    let mut unknown = event(2, ENV_A);
    unknown["eventType"] = json!("envelope.teleported");
    let b = batch(vec![
        record(1, &event(1, ENV_A).to_string(), ENV_A, 1),
        record(2, &unknown.to_string(), ENV_A, 1),
        record(3, &event(3, ENV_A).to_string(), ENV_A, 1),
    ]);
    let (failed, metrics) = run(&handler, &MemoryStore::new(), &queue, &b).await;
    assert_eq!(failed, vec!["m-2", "m-3"]);
    let parked = queue.parked.lock().unwrap().clone();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].0, "r-2");
    assert_eq!(parked[0].1.group_id, ENV_A);
    assert_eq!(parked[0].1.body, unknown.to_string());
    let a = attrs(&queue, 0);
    assert_eq!(a["errorKind"], "unknown_type");
    assert_eq!(
        a["errorMessage"],
        "event 00000000-0000-4000-8000-000000000002: unknown event type 'envelope.teleported'"
    );
    assert_eq!(a["consumer"], "test");
    assert_eq!(a["receiveCount"], "1");
    assert!(a["firstFailureAt"].ends_with('Z') && a["lastFailureAt"].ends_with('Z'));
    assert_eq!(
        queue.visibility_changes.lock().unwrap().clone(),
        vec![("r-3".to_string(), 0)]
    );
    assert_eq!(
        metrics.total("RecordsParked", &[("EventType", "undecodable")]),
        1.0
    );
}

/// A handler's permanent error is parked the same way.
#[tokio::test]
async fn a_business_rule_failure_is_parked_not_retried() {
    let handler = Scripted {
        permanent: vec!["00000000-0000-4000-8000-000000000001".into()],
        ..Default::default()
    };
    let queue = RecordingQueue::new(60, 5);
    let b = batch(vec![record(1, &event(1, ENV_A).to_string(), ENV_A, 1)]);
    let (failed, _) = run(&handler, &MemoryStore::new(), &queue, &b).await;
    assert_eq!(failed, vec!["m-1"]);
    assert_eq!(attrs(&queue, 0)["errorKind"], "permanent");
    assert_eq!(attrs(&queue, 0)["eventType"], "envelope.viewed");
}

/// On the last receive the redrive policy allows, a retryable failure is parked with its
/// reason and failure history instead of being moved silently.
#[tokio::test]
async fn the_last_allowed_receive_parks_with_the_failure_history() {
    let handler = Scripted::failing(1, 10);
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(30, 3);
    for receive in 1..=3 {
        let b = batch(vec![record(
            1,
            &event(1, ENV_A).to_string(),
            ENV_A,
            receive,
        )]);
        run(&handler, &store, &queue, &b).await;
    }
    let parked = queue.parked.lock().unwrap().clone();
    assert_eq!(parked.len(), 1, "parked once, on the third receive");
    let a = attrs(&queue, 0);
    assert_eq!(a["errorKind"], "retries_exhausted");
    assert_eq!(a["lastErrorKind"], "retryable");
    assert_eq!(a["receiveCount"], "3");
    assert!(a["firstFailureAt"] <= a["lastFailureAt"]);
    let delays: Vec<i32> = queue
        .visibility_changes
        .lock()
        .unwrap()
        .iter()
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(delays, vec![2, 4], "backoff on the first two receives only");
}

/// A dependency that fails twice and recovers: processed on the third receive, nothing parked.
#[tokio::test]
async fn a_dependency_that_recovers_is_processed_without_parking() {
    let handler = Scripted::failing(1, 2);
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(60, 5);
    let mut outcomes = Vec::new();
    for receive in 1..=3 {
        let b = batch(vec![record(
            1,
            &event(1, ENV_A).to_string(),
            ENV_A,
            receive,
        )]);
        outcomes.push(run(&handler, &store, &queue, &b).await.0);
    }
    assert_eq!(
        outcomes,
        vec![vec!["m-1".to_string()], vec!["m-1".to_string()], vec![]]
    );
    assert!(queue.parked.lock().unwrap().is_empty());
    assert!(store.is_done("test#00000000-0000-4000-8000-000000000001"));
}

/// The same event delivered twice (or published again later) is handled once.
#[tokio::test]
async fn a_redelivered_event_is_handled_once() {
    let handler = Scripted::default();
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(60, 3);
    let body = event(1, ENV_A).to_string();
    run(
        &handler,
        &store,
        &queue,
        &batch(vec![record(1, &body, ENV_A, 1)]),
    )
    .await;
    let (failed, metrics) = run(
        &handler,
        &store,
        &queue,
        &batch(vec![record(9, &body, ENV_A, 1)]),
    )
    .await;
    assert!(failed.is_empty());
    assert_eq!(handler.ran(), vec!["01"]);
    assert_eq!(
        metrics.total("DuplicatesSkipped", &[("EventType", "envelope.viewed")]),
        1.0
    );
}

/// A record that carries a replay id, as `esign-bus replay --reprocess` sends it.
fn replayed(n: u32, body: &str, group: &str, replay: &str) -> Value {
    let mut r = record(n, body, group, 1);
    r["messageAttributes"] = json!({
        "replayId": {"stringValue": replay, "dataType": "String"}
    });
    r
}

/// A handled event replayed for reprocessing is handled again, once per replay: a redelivery of
/// the replayed message is skipped, a second replay runs again, a plain re-publication does not.
#[tokio::test]
async fn a_reprocessing_replay_runs_a_handled_event_again_once() {
    let handler = Scripted::default();
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(60, 3);
    let body = event(1, ENV_A).to_string();
    let one = |r: Value| batch(vec![r]);
    run(&handler, &store, &queue, &one(record(1, &body, ENV_A, 1))).await;
    run(&handler, &store, &queue, &one(record(2, &body, ENV_A, 1))).await;
    assert_eq!(handler.ran(), vec!["01"], "a plain duplicate is skipped");

    let (failed, metrics) = run(
        &handler,
        &store,
        &queue,
        &one(replayed(3, &body, ENV_A, "run-1")),
    )
    .await;
    assert!(failed.is_empty());
    assert_eq!(handler.ran(), vec!["01", "01"], "the replay runs it again");
    assert_eq!(
        metrics.total("RecordsReplayed", &[("EventType", "envelope.viewed")]),
        1.0
    );
    run(
        &handler,
        &store,
        &queue,
        &one(replayed(4, &body, ENV_A, "run-1")),
    )
    .await;
    assert_eq!(handler.ran().len(), 2, "the replay's redelivery is skipped");
    run(
        &handler,
        &store,
        &queue,
        &one(replayed(5, &body, ENV_A, "run-2")),
    )
    .await;
    assert_eq!(handler.ran().len(), 3, "another replay runs it once more");
}

/// An event replayed from the audit chain has its secrets removed; a plain replay of it is still
/// the same event (a skipped duplicate), not a reused id with another payload.
#[tokio::test]
async fn an_event_replayed_without_its_secrets_is_a_duplicate_not_a_conflict() {
    let handler = Scripted::default();
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(60, 3);
    let original = fixture("envelope.sent");
    assert!(original.to_string().contains("accessCode"));
    let mut from_chain = original.clone();
    esign_events::personal::strip_secrets(&mut from_chain);
    let group = original["data"]["envelopeId"].as_str().unwrap().to_owned();
    run(
        &handler,
        &store,
        &queue,
        &batch(vec![record(1, &original.to_string(), &group, 1)]),
    )
    .await;
    let (failed, metrics) = run(
        &handler,
        &store,
        &queue,
        &batch(vec![record(2, &from_chain.to_string(), &group, 1)]),
    )
    .await;
    assert!(failed.is_empty());
    assert!(queue.parked.lock().unwrap().is_empty(), "nothing parked");
    assert_eq!(handler.ran().len(), 1);
    assert_eq!(
        metrics.total("DuplicatesSkipped", &[("EventType", "envelope.sent")]),
        1.0
    );
}

/// Parking keeps a record's replay id and redrive id, so a redriven replay stays a replay and a
/// redrive run can tell its own messages parked again.
#[tokio::test]
async fn parking_keeps_the_replay_and_redrive_ids() {
    let handler = Scripted::default();
    let queue = RecordingQueue::new(60, 3);
    let mut r = replayed(1, "not json", ENV_A, "run-1");
    r["messageAttributes"]["redriveId"] = json!({"stringValue": "rd-1", "dataType": "String"});
    let (failed, _) = run(&handler, &MemoryStore::new(), &queue, &batch(vec![r])).await;
    assert_eq!(failed, vec!["m-1"]);
    let reason = attrs(&queue, 0);
    assert_eq!(reason["errorKind"], "not_json");
    assert_eq!(reason["replayId"], "run-1");
    assert_eq!(reason["redriveId"], "rd-1");
}

/// A replay id that can't be part of an idempotency key parks the record with the reason, and
/// the handler never sees it.
#[tokio::test]
async fn a_malformed_replay_id_is_parked_at_once() {
    for bad in ["", "has space", &"x".repeat(65), "run#1"] {
        let handler = Scripted::default();
        let queue = RecordingQueue::new(60, 3);
        let body = event(1, ENV_A).to_string();
        let (failed, _) = run(
            &handler,
            &MemoryStore::new(),
            &queue,
            &batch(vec![replayed(1, &body, ENV_A, bad)]),
        )
        .await;
        assert_eq!(failed, vec!["m-1"], "{bad:?}");
        assert!(handler.ran().is_empty());
        let reason = attrs(&queue, 0);
        assert_eq!(reason["errorKind"], "bad_replay_id");
        assert!(
            reason["errorMessage"].contains("replayId must be a string of 1 to 64"),
            "{reason:?}"
        );
    }
}

/// While another attempt holds the event's lock, the record is retried later, never counted
/// as done; once that lock expires the event is taken over.
#[tokio::test]
async fn a_live_lock_means_retry_later_and_an_expired_one_is_taken_over() {
    let handler = Scripted::default();
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(60, 3);
    let key = "test#00000000-0000-4000-8000-000000000001";
    let hash =
        esign_events::idempotency::payload_hash("envelope.viewed", "1.0", &event(1, ENV_A)["data"]);
    store
        .acquire(key, &hash, now_ms(), now_ms() + 60_000)
        .await
        .unwrap();
    let b = batch(vec![record(1, &event(1, ENV_A).to_string(), ENV_A, 1)]);
    let (failed, _) = run(&handler, &store, &queue, &b).await;
    assert_eq!(failed, vec!["m-1"]);
    assert!(handler.ran().is_empty());

    // The other attempt crashed: its lock ran out.
    let crashed = MemoryStore::new();
    crashed
        .acquire(key, &hash, now_ms() - 10_000, now_ms() - 1)
        .await
        .unwrap();
    let (failed, _) = run(&handler, &crashed, &queue, &b).await;
    assert!(failed.is_empty());
    assert_eq!(handler.ran(), vec!["01"]);
}

/// An event id reused for a different payload is an alert and is parked, not replayed.
#[tokio::test]
async fn a_reused_event_id_with_another_payload_is_parked_as_a_conflict() {
    let handler = Scripted::default();
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(60, 3);
    run(
        &handler,
        &store,
        &queue,
        &batch(vec![record(1, &event(1, ENV_A).to_string(), ENV_A, 1)]),
    )
    .await;
    let mut changed = event(1, ENV_A);
    changed["data"]["userAgent"] = json!("curl/8.0");
    let (failed, metrics) = run(
        &handler,
        &store,
        &queue,
        &batch(vec![record(2, &changed.to_string(), ENV_A, 1)]),
    )
    .await;
    assert_eq!(failed, vec!["m-2"]);
    assert_eq!(handler.ran(), vec!["01"], "not handled again");
    assert_eq!(attrs(&queue, 0)["errorKind"], "payload_conflict");
    assert_eq!(
        metrics.total("IdempotencyConflict", &[("EventType", "envelope.viewed")]),
        1.0
    );
}

/// The handed unparseable-body case with a real queue behind it: same response, and the cut-off
/// body is parked.
#[tokio::test]
async fn the_handed_unparseable_case_parks_the_cut_off_body() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cases");
    let b: SqsEvent = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/unparseable-body.event.json")).unwrap(),
    )
    .unwrap();
    let handler = Scripted::default();
    let queue = RecordingQueue::new(30, 3);
    let (failed, _) = run(&handler, &MemoryStore::new(), &queue, &b).await;
    assert_eq!(
        failed,
        vec![
            "0a000002-aaaa-4aaa-8aaa-000000000002",
            "0a000004-aaaa-4aaa-8aaa-000000000004"
        ]
    );
    assert_eq!(attrs(&queue, 0)["errorKind"], "not_json");
    assert_eq!(queue.parked.lock().unwrap()[0].1.group_id, ENV_A);
}

/// SQS refuses a message with more than ten attributes, and the in-memory queue does too: a
/// replayed, redriven record parked after its retries still parks, with the reason first.
#[tokio::test]
async fn a_parked_record_never_carries_more_attributes_than_sqs_takes() {
    let handler = Scripted::failing(1, 10);
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(30, 3);
    let mut r = replayed(1, &event(1, ENV_A).to_string(), ENV_A, "run-1");
    r["messageAttributes"]["redriveId"] = json!({"stringValue": "rd-1", "dataType": "String"});
    r["attributes"]["ApproximateReceiveCount"] = json!("3");
    let (failed, metrics) = run(&handler, &store, &queue, &batch(vec![r])).await;
    assert_eq!(failed, vec!["m-1"]);
    assert_eq!(queue.parked.lock().unwrap().len(), 1, "parked, not refused");
    let a = attrs(&queue, 0);
    assert!(a.len() <= 10, "{a:?}");
    for name in [
        "errorKind",
        "errorMessage",
        "consumer",
        "firstFailureAt",
        "lastFailureAt",
        "receiveCount",
        "replayId",
        "redriveId",
        "eventId",
        "eventType",
    ] {
        assert!(a.contains_key(name), "{name} missing from {a:?}");
    }
    assert_eq!(a["errorKind"], "retries_exhausted");
    assert_eq!(
        metrics.total("RecordsParked", &[("EventType", "envelope.viewed")]),
        1.0
    );
}

/// Records held back behind a failed one are received as often as it is. One held back on its
/// last allowed receive is parked with the reason, in order, rather than moved by the redrive
/// policy unexplained; one with receives left comes back with the group.
#[tokio::test]
async fn a_record_held_back_on_its_last_receive_is_parked_with_the_reason() {
    let handler = Scripted::failing(1, 10);
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(30, 3);
    let b = batch(vec![
        record(1, &event(1, ENV_A).to_string(), ENV_A, 3),
        record(2, &event(2, ENV_A).to_string(), ENV_A, 3),
        record(3, &event(3, ENV_A).to_string(), ENV_A, 2),
    ]);
    let (failed, metrics) = run(&handler, &store, &queue, &b).await;
    assert_eq!(failed, vec!["m-1", "m-2", "m-3"]);
    assert_eq!(handler.ran(), vec!["01"], "the held-back records never ran");
    let parked: Vec<String> = queue
        .parked
        .lock()
        .unwrap()
        .iter()
        .map(|(receipt, _)| receipt.clone())
        .collect();
    assert_eq!(
        parked,
        vec!["r-1", "r-2"],
        "the failed one, then the held one"
    );
    let held = attrs(&queue, 1);
    assert_eq!(held["errorKind"], "held_back");
    assert!(held["errorMessage"].contains("earlier record"));
    assert_eq!(held["eventId"], "00000000-0000-4000-8000-000000000002");
    // The third has a receive left: it is made visible at once, since the head is parked.
    let visible: Vec<(String, i32)> = queue.visibility_changes.lock().unwrap().clone();
    assert_eq!(visible, vec![("r-3".to_owned(), 0)]);
    assert_eq!(
        metrics.total("RecordsParked", &[("EventType", "envelope.viewed")]),
        2.0
    );
}

/// Different groups of a batch run at the same time: the first group's handler waits for the
/// second group's to start, which a one-group-after-another runtime would never reach.
#[tokio::test]
async fn different_groups_run_concurrently() {
    struct Rendezvous(tokio::sync::Notify);
    impl Handler for Rendezvous {
        async fn handle(&self, event: &Event, _: &RecordContext) -> Result<(), HandlerError> {
            if event.event_id.to_string().ends_with("01") {
                self.0.notified().await;
            } else {
                self.0.notify_one();
            }
            Ok(())
        }
    }
    let handler = Rendezvous(tokio::sync::Notify::new());
    let store = MemoryStore::new();
    let queue = RecordingQueue::new(30, 3);
    let consumer = Consumer {
        name: "test",
        handler: &handler,
        store: &store,
        queues: &queue,
        backoff: Backoff { base_secs: 2 },
    };
    let b = batch(vec![
        record(1, &event(1, ENV_A).to_string(), ENV_A, 1),
        record(2, &event(2, ENV_B).to_string(), ENV_B, 1),
    ]);
    let metrics = Recorder::new();
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        consumer.process(&b, now_ms() + 5_000, &metrics),
    )
    .await
    .expect("the groups waited on each other: they ran one after another")
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
}
