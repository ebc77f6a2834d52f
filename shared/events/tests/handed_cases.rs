//! The handed cases of `../shared/cases`, each run through the batch runtime with a handler
//! that records what it ran and fails on the event ids a case names.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use esign_events::runtime::{process_batch, Handler, HandlerError, RecordContext};
use esign_events::Event;
use std::sync::Mutex;

/// Records the (event id, group) of every event it runs; fails the listed event ids.
#[derive(Default)]
struct Recorder {
    fail_on: Vec<&'static str>,
    ran: Mutex<Vec<(String, String)>>,
}

impl Handler for Recorder {
    async fn handle(&self, event: &Event, ctx: &RecordContext) -> Result<(), HandlerError> {
        let id = event.event_id.to_string();
        self.ran
            .lock()
            .unwrap()
            .push((id.clone(), ctx.group_id.clone()));
        if self.fail_on.contains(&id.as_str()) {
            return Err(HandlerError::Retryable("told to fail".into()));
        }
        Ok(())
    }
}

fn load(name: &str) -> (SqsEvent, SqsBatchResponse) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cases");
    let event = std::fs::read_to_string(format!("{dir}/{name}.event.json")).unwrap();
    let expected = std::fs::read_to_string(format!("{dir}/{name}.expected.json")).unwrap();
    (
        serde_json::from_str(&event).unwrap(),
        serde_json::from_str(&expected).unwrap(),
    )
}

fn ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

fn ran_ids(recorder: &Recorder) -> Vec<String> {
    recorder
        .ran
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect()
}

const A1: &str = "11111111-1111-4111-8111-111111111111";
const A2: &str = "22222222-2222-4222-8222-222222222222";
const A3: &str = "33333333-3333-4333-8333-333333333333";
const B1: &str = "44444444-4444-4444-8444-444444444444";

/// A failure in a group reports it and every later record of the group; the later ones never run.
#[tokio::test]
async fn same_group_failure_reports_the_failed_record_and_all_after_it() {
    let (batch, expected) = load("fifo-same-group-failure");
    let recorder = Recorder {
        fail_on: vec![A2],
        ..Default::default()
    };
    let response = process_batch(&recorder, &batch).await.unwrap();
    assert_eq!(ids(&response), ids(&expected));
    assert_eq!(
        ran_ids(&recorder),
        vec![A1, A2],
        "the third record must never run"
    );
}

/// With two groups in a batch, a failure in one does not hold the other back.
#[tokio::test]
async fn mixed_groups_fail_only_the_failing_group_from_its_failure_on() {
    let (batch, expected) = load("fifo-mixed-groups");
    let recorder = Recorder {
        fail_on: vec![A2],
        ..Default::default()
    };
    let response = process_batch(&recorder, &batch).await.unwrap();
    assert_eq!(ids(&response), ids(&expected));
    let ran = ran_ids(&recorder);
    assert!(
        ran.contains(&B1.to_string()),
        "B1 must be processed: {ran:?}"
    );
    assert!(!ran.contains(&A3.to_string()), "A3 must never run: {ran:?}");
}

/// A cut-off body fails its own record and holds back its group, without failing the invocation.
#[tokio::test]
async fn unparseable_body_fails_its_record_and_group_only() {
    let (batch, expected) = load("unparseable-body");
    let recorder = Recorder::default();
    let response = process_batch(&recorder, &batch).await.unwrap();
    assert_eq!(ids(&response), ids(&expected));
    assert_eq!(ran_ids(&recorder), vec![A1, B1]);
}

/// A body wrapped by SNS (raw delivery off, FIFO topic) is handled as the event inside.
#[tokio::test]
async fn sns_fifo_wrapper_is_unwrapped() {
    let (batch, expected) = load("sns-fifo-wrapper");
    let recorder = Recorder::default();
    let response = process_batch(&recorder, &batch).await.unwrap();
    assert_eq!(ids(&response), ids(&expected));
    assert_eq!(ran_ids(&recorder), vec![A1]);
}

/// Without attributes the group is the event's partition key, the envelope id.
#[tokio::test]
async fn missing_attributes_fall_back_to_the_partition_key() {
    let (batch, expected) = load("no-attributes");
    let recorder = Recorder::default();
    let response = process_batch(&recorder, &batch).await.unwrap();
    assert_eq!(ids(&response), ids(&expected));
    let ran = recorder.ran.lock().unwrap().clone();
    assert_eq!(
        ran,
        vec![(
            A1.to_string(),
            "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10".to_string()
        )]
    );
}

/// A record without a message id can't be reported, so the invocation fails as a whole rather
/// than answer with an empty identifier (which Lambda would treat as a whole-batch failure
/// anyway, but silently).
#[tokio::test]
async fn record_without_message_id_fails_the_invocation() {
    let (mut batch, _) = load("no-attributes");
    batch.records[0].message_id = Some(String::new());
    let recorder = Recorder::default();
    assert!(process_batch(&recorder, &batch).await.is_err());
    assert!(recorder.ran.lock().unwrap().is_empty());
}

/// Every identifier in a response is a message id of the batch, never empty.
#[tokio::test]
async fn responses_name_only_message_ids_of_the_batch() {
    let (batch, _) = load("fifo-mixed-groups");
    let recorder = Recorder {
        fail_on: vec![A1, B1],
        ..Default::default()
    };
    let response = process_batch(&recorder, &batch).await.unwrap();
    let batch_ids: Vec<String> = batch
        .records
        .iter()
        .filter_map(|r| r.message_id.clone())
        .collect();
    assert_eq!(
        ids(&response),
        batch_ids,
        "every record fails when each group fails first"
    );
    for id in ids(&response) {
        assert!(!id.is_empty());
    }
}
