//! An envelope's state through its events, and the completion it publishes.

use envelope::handler::EnvelopeHandler;
use envelope::state::{apply, RecipientStatus, Status};
use envelope::store::{EnvelopeStore, MemoryEnvelopes};
use esign_events::publish::{EntryOutcome, Outgoing, Publisher, Sink, SinkError, Topics};
use esign_events::runtime::{now_ms, Handler, HandlerError, RecordContext};
use esign_events::{Category, Event, Payload};
use serde_json::{json, Value};
use std::sync::Mutex;
use uuid::Uuid;

const ENVELOPE: &str = "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10";
const FIRST: &str = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a";
const SECOND: &str = "1b2c3d4e-5f60-4718-89a0-b1c2d3e4f506";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/events/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ev(value: Value) -> Event {
    Event::from_value(value).unwrap()
}

fn sent(order: &str) -> Event {
    let mut v = fixture("envelope.sent.v2");
    v["data"]["signingOrder"] = json!(order);
    ev(v)
}

fn signed(recipient: &str, order: u32, at: &str) -> Event {
    let mut v = fixture("envelope.recipient.signed");
    v["eventId"] = json!(Uuid::new_v4());
    v["data"]["recipientId"] = json!(recipient);
    v["data"]["signingOrder"] = json!(order);
    v["data"]["signedAt"] = json!(at);
    ev(v)
}

fn status_of(state: &envelope::state::EnvelopeState, id: &str) -> RecipientStatus {
    state
        .recipients
        .iter()
        .find(|r| r.recipient_id.to_string() == id)
        .unwrap()
        .status
}

#[test]
fn sequential_signing_unlocks_the_next_signer_and_completes() {
    let s = apply(None, &sent("sequential")).unwrap().state.unwrap();
    assert_eq!(s.status, Status::Sent);
    assert_eq!(status_of(&s, FIRST), RecipientStatus::Notified);
    assert_eq!(status_of(&s, SECOND), RecipientStatus::Pending);

    let viewed = ev(fixture("envelope.viewed"));
    let s = apply(Some(s), &viewed).unwrap().state.unwrap();
    assert!(s.recipients[0].viewed_at.is_some());

    let after_first = apply(Some(s), &signed(FIRST, 1, "2025-03-14T09:07:00.000Z")).unwrap();
    assert!(after_first.follow_ups.is_empty());
    let s = after_first.state.unwrap();
    assert_eq!(status_of(&s, FIRST), RecipientStatus::Signed);
    assert_eq!(
        status_of(&s, SECOND),
        RecipientStatus::Notified,
        "the second signer's turn"
    );

    let done = apply(Some(s), &signed(SECOND, 2, "2025-03-15T10:20:30.500Z")).unwrap();
    let s = done.state.unwrap();
    assert_eq!(s.status, Status::Completed);
    let [Payload::EnvelopeCompleted(c)] = done.follow_ups.as_slice() else {
        panic!("{:?}", done.follow_ups)
    };
    assert_eq!(c.total_duration.as_str(), "P1DT1H20M29.500S");
    assert_eq!(c.completed_at.to_string(), "2025-03-15T10:20:30.500Z");
    assert_eq!(
        c.recipients
            .iter()
            .filter(|r| r.signed_at.is_some())
            .count(),
        2
    );
}

#[test]
fn signing_before_ones_turn_breaks_a_rule() {
    let s = apply(None, &sent("sequential")).unwrap().state.unwrap();
    let err = apply(Some(s), &signed(SECOND, 2, "2025-03-14T09:07:00.000Z")).unwrap_err();
    assert!(
        err.to_string().contains("signed before their turn"),
        "{err}"
    );
}

#[test]
fn parallel_signers_may_sign_in_any_order() {
    let s = apply(None, &sent("parallel")).unwrap().state.unwrap();
    let s = apply(Some(s), &signed(SECOND, 2, "2025-03-14T09:07:00.000Z"))
        .unwrap()
        .state
        .unwrap();
    let done = apply(Some(s), &signed(FIRST, 1, "2025-03-14T09:08:00.000Z")).unwrap();
    assert_eq!(done.state.unwrap().status, Status::Completed);
    assert_eq!(done.follow_ups.len(), 1);
}

#[test]
fn a_signature_applied_twice_changes_nothing() {
    let s = apply(None, &sent("parallel")).unwrap().state.unwrap();
    let once = signed(FIRST, 1, "2025-03-14T09:07:00.000Z");
    let s1 = apply(Some(s), &once).unwrap().state.unwrap();
    let again = apply(Some(s1.clone()), &once).unwrap();
    assert_eq!(again.state.unwrap(), s1);
    assert!(again.follow_ups.is_empty());
}

#[test]
fn declining_or_voiding_revokes_every_access_code() {
    let s = apply(None, &sent("parallel")).unwrap().state.unwrap();
    let mut declined = fixture("envelope.declined");
    declined["data"]["recipientId"] = json!(SECOND);
    let d = apply(Some(s.clone()), &ev(declined))
        .unwrap()
        .state
        .unwrap();
    assert_eq!(d.status, Status::Declined);
    assert!(d.recipients.iter().all(|r| r.access_revoked));

    let v = apply(Some(s), &ev(fixture("envelope.voided")))
        .unwrap()
        .state
        .unwrap();
    assert_eq!(v.status, Status::Voided);
    assert!(v.recipients.iter().all(|r| r.access_revoked));
    let err = apply(Some(v), &signed(FIRST, 1, "2025-03-14T09:07:00.000Z")).unwrap_err();
    assert!(
        err.to_string()
            .contains("is voided and takes no signatures"),
        "{err}"
    );
}

#[test]
fn a_ready_document_is_marked_even_before_the_envelope_is_sent() {
    let ready = ev(fixture("document.ready"));
    let early = apply(None, &ready).unwrap().state.unwrap();
    let s = apply(Some(early), &sent("parallel"))
        .unwrap()
        .state
        .unwrap();
    assert!(s.documents[0].ready);
    assert_eq!(s.status, Status::Sent);
}

#[test]
fn a_document_ready_after_sending_is_marked_with_its_page_count() {
    let s = apply(None, &sent("parallel")).unwrap().state.unwrap();
    assert!(!s.documents[0].ready);
    let mut ready = fixture("document.ready");
    ready["data"]["pageCount"] = json!(7);
    let s = apply(Some(s), &ev(ready.clone())).unwrap().state.unwrap();
    assert!(s.documents[0].ready);
    assert_eq!(s.documents[0].page_count, 7);
    assert!(s.early_ready_documents.is_empty());
    // A ready document the envelope doesn't list is remembered, once, not attached.
    ready["eventId"] = json!(Uuid::new_v4());
    ready["data"]["documentId"] = json!(Uuid::new_v4());
    let once = apply(Some(s), &ev(ready.clone())).unwrap().state.unwrap();
    let twice = apply(Some(once), &ev(ready)).unwrap().state.unwrap();
    assert_eq!(twice.documents.len(), 1);
    assert_eq!(twice.early_ready_documents.len(), 1);
}

/// Records what was published.
#[derive(Default)]
struct Outbox {
    fail_next: Mutex<bool>,
    published: Mutex<Vec<(String, String)>>,
}

impl Sink for &Outbox {
    async fn publish_batch(
        &self,
        _: &str,
        entries: &[&Outgoing],
    ) -> Result<Vec<EntryOutcome>, SinkError> {
        if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
            return Err(SinkError {
                message: "InternalError".into(),
                retryable: true,
            });
        }
        let mut published = self.published.lock().unwrap();
        Ok(entries
            .iter()
            .map(|e| {
                published.push((e.event_type.clone(), e.dedup_id.clone()));
                EntryOutcome::Published(e.dedup_id.clone())
            })
            .collect())
    }
}

fn ctx() -> RecordContext {
    RecordContext {
        message_id: "m".into(),
        group_id: ENVELOPE.into(),
        receive_count: 1,
        queue_arn: None,
        deadline_ms: now_ms() + 5000,
        replay_id: None,
    }
}

/// A publish that fails after the state was stored is retried on redelivery with the same event
/// id, so the completion goes out exactly once as far as consumers can tell.
#[tokio::test(start_paused = true)]
async fn completion_is_published_with_a_stable_id_after_a_failed_publish() {
    let outbox = Outbox::default();
    let topics = Topics::new([(Category::Envelope, "arn:envelope".to_string())]);
    let publisher = Publisher::new(&outbox, topics).with_retry(esign_events::publish::Retry {
        attempts: 1,
        base: std::time::Duration::from_millis(1),
        max: std::time::Duration::from_millis(1),
    });
    let handler = EnvelopeHandler::new(MemoryEnvelopes::new(), publisher);
    handler.handle(&sent("parallel"), &ctx()).await.unwrap();
    handler
        .handle(&signed(FIRST, 1, "2025-03-14T09:07:00.000Z"), &ctx())
        .await
        .unwrap();
    let last = signed(SECOND, 2, "2025-03-14T09:09:00.000Z");
    *outbox.fail_next.lock().unwrap() = true;
    assert!(matches!(
        handler.handle(&last, &ctx()).await,
        Err(HandlerError::Retryable(_))
    ));
    handler.handle(&last, &ctx()).await.unwrap();
    handler.handle(&last, &ctx()).await.unwrap();
    let published = outbox.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].0, "envelope.completed");
    let (state, _) = handler
        .store()
        .get(ENVELOPE.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(state.completion_published);
}

/// The expiry job expires an envelope past `expiresAt` once, naming who had not signed, and
/// leaves finished envelopes alone.
#[tokio::test(start_paused = true)]
async fn the_expiry_job_expires_overdue_envelopes_once() {
    let outbox = Outbox::default();
    let topics = Topics::new([(Category::Envelope, "arn:envelope".to_string())]);
    let publisher = Publisher::new(&outbox, topics);
    let store = MemoryEnvelopes::new();
    let handler = EnvelopeHandler::new(
        &store,
        Publisher::new(
            &outbox,
            Topics::new([(Category::Envelope, "arn:envelope".to_string())]),
        ),
    );
    handler.handle(&sent("sequential"), &ctx()).await.unwrap();
    handler
        .handle(&signed(FIRST, 1, "2025-03-14T09:07:00.000Z"), &ctx())
        .await
        .unwrap();
    // The fixture's envelope expires on 2025-04-13.
    let before = chrono::DateTime::parse_from_rfc3339("2025-04-12T00:00:00Z")
        .unwrap()
        .timestamp_millis();
    assert!(envelope::expiry::run(&store, &publisher, before)
        .await
        .unwrap()
        .is_empty());
    let after = chrono::DateTime::parse_from_rfc3339("2025-04-14T00:00:00Z")
        .unwrap()
        .timestamp_millis();
    let expired = envelope::expiry::run(&store, &publisher, after)
        .await
        .unwrap();
    assert_eq!(expired, vec![ENVELOPE.parse::<Uuid>().unwrap()]);
    let published = outbox.published.lock().unwrap().clone();
    let (_, first_id) = published
        .iter()
        .find(|(t, _)| t == "envelope.expired")
        .unwrap()
        .clone();
    // Applied by the envelope function, the envelope leaves the job's sight.
    let (state, _) = store.get(ENVELOPE.parse().unwrap()).await.unwrap().unwrap();
    let event = envelope::expiry::expired_event(&state, esign_events::time::Timestamp::now());
    assert_eq!(
        event.event_id.to_string(),
        first_id,
        "a second run would publish the same event id"
    );
    let Payload::EnvelopeExpired(e) = &event.payload else {
        panic!()
    };
    assert_eq!(
        e.pending_recipients.len(),
        1,
        "only the second signer had not signed"
    );
    handler.handle(&event, &ctx()).await.unwrap();
    assert!(envelope::expiry::run(&store, &publisher, after)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .get(ENVELOPE.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .0
            .status,
        Status::Expired
    );
}
