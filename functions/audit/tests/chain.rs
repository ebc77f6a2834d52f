//! The audit chain: appending, secrets kept out, and every kind of tampering found.

use audit::chain::{canonical, next_entry, verify};
use audit::handler::AuditHandler;
use audit::store::{ChainStore, MemoryChains};
use audit::verify::{run, Finding};
use esign_events::publish::{EntryOutcome, Outgoing, Publisher, Sink, SinkError, Topics};
use esign_events::runtime::{now_ms, Handler, RecordContext};
use esign_events::{Category, Event};
use serde_json::Value;
use std::sync::Mutex;

const ENVELOPE: &str = "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/events/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn events() -> Vec<Event> {
    [
        "envelope.sent",
        "envelope.viewed",
        "envelope.recipient.signed",
        "envelope.completed",
    ]
    .iter()
    .map(|n| Event::from_value(fixture(n)).unwrap())
    .collect()
}

#[derive(Default)]
struct Outbox(Mutex<Vec<String>>);

impl Sink for &Outbox {
    async fn publish_batch(
        &self,
        _: &str,
        entries: &[&Outgoing],
    ) -> Result<Vec<EntryOutcome>, SinkError> {
        let mut out = self.0.lock().unwrap();
        Ok(entries
            .iter()
            .map(|e| {
                out.push(e.event_type.clone());
                EntryOutcome::Published(e.dedup_id.clone())
            })
            .collect())
    }
}

fn publisher(outbox: &Outbox) -> Publisher<&Outbox> {
    Publisher::new(
        outbox,
        Topics::new([(Category::Audit, "arn:audit".to_string())]),
    )
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

async fn chained(store: &MemoryChains, outbox: &Outbox) {
    let handler = AuditHandler::new(store, publisher(outbox));
    for e in events() {
        handler.handle(&e, &ctx()).await.unwrap();
    }
}

/// Replays are read from the chain, so a replayed event is not appended again.
#[tokio::test]
async fn a_replayed_event_is_not_chained_again() {
    let (store, outbox) = (MemoryChains::new(), Outbox::default());
    chained(&store, &outbox).await;
    let replayed = RecordContext {
        replay_id: Some("run-1".into()),
        ..ctx()
    };
    let handler = AuditHandler::new(&store, publisher(&outbox));
    for e in events() {
        handler.handle(&e, &replayed).await.unwrap();
    }
    assert_eq!(store.entries(ENVELOPE).await.unwrap().len(), 4);
    assert_eq!(
        outbox.0.lock().unwrap().len(),
        4,
        "nothing logged for the replay"
    );
}

#[test]
fn secrets_are_neither_stored_nor_hashed() {
    let sent = Event::from_value(fixture("envelope.sent")).unwrap();
    let text = canonical(&sent);
    assert!(
        !text.contains("K7Q2-9XPA") && !text.contains("accessCode"),
        "{text}"
    );
    let registered = Event::from_value(fixture("user.registered")).unwrap();
    assert!(!canonical(&registered).contains("vt_3q9XkP2mZ8"));
}

#[test]
fn each_entry_links_to_the_one_before() {
    let es = events();
    let first = next_entry(None, &es[0], "2025-03-14T09:00:02.000Z");
    let second = next_entry(Some(&first), &es[1], "2025-03-14T09:05:01.000Z");
    assert_eq!((first.sequence, second.sequence), (1, 2));
    assert_eq!(second.previous_hash, first.hash);
    assert!(verify(&[first, second]).is_ok());
}

#[tokio::test]
async fn the_handler_appends_every_event_once_and_logs_it() {
    let (store, outbox) = (MemoryChains::new(), Outbox::default());
    chained(&store, &outbox).await;
    // Delivered again after a crash: already the last entry, not appended twice.
    AuditHandler::new(&store, publisher(&outbox))
        .handle(&events()[3], &ctx())
        .await
        .unwrap();
    let entries = store.entries(ENVELOPE).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(verify(&entries).is_ok());
    assert_eq!(
        outbox
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == "audit.event.logged")
            .count(),
        5
    );
}

#[tokio::test]
async fn two_writers_cannot_fork_a_chain() {
    let store = MemoryChains::new();
    let es = events();
    let first = next_entry(None, &es[0], "t");
    store.append(ENVELOPE, &first).await.unwrap();
    let a = next_entry(Some(&first), &es[1], "t");
    let b = next_entry(Some(&first), &es[2], "t");
    store.append(ENVELOPE, &a).await.unwrap();
    assert!(
        store.append(ENVELOPE, &b).await.is_err(),
        "the second writer of sequence 2 loses"
    );
}

async fn finding_after(
    tamper: impl FnOnce(&mut std::collections::BTreeMap<u64, audit::chain::Entry>),
) -> (Finding, Vec<String>) {
    let (store, outbox) = (MemoryChains::new(), Outbox::default());
    chained(&store, &outbox).await;
    outbox.0.lock().unwrap().clear();
    store.tamper(ENVELOPE, tamper);
    let verifier_outbox = Outbox::default();
    let findings = run(
        &store,
        &publisher(&verifier_outbox),
        Some(vec![ENVELOPE.into()]),
    )
    .await
    .unwrap();
    let published = verifier_outbox.0.lock().unwrap().clone();
    (findings[0].1.clone(), published)
}

#[tokio::test]
async fn an_intact_chain_verifies() {
    let (finding, published) = finding_after(|_| {}).await;
    assert_eq!(finding, Finding::Intact { entries: 4 });
    assert!(published.is_empty());
}

#[tokio::test]
async fn a_changed_entry_is_detected_and_reported() {
    let (finding, published) = finding_after(|e| {
        let entry = e.get_mut(&2).unwrap();
        entry.canonical = entry.canonical.replace("203.0.113.7", "192.0.2.1");
    })
    .await;
    let Finding::Tampered(t) = finding else {
        panic!("not detected")
    };
    assert_eq!(t.sequence, 2);
    assert_ne!(t.expected_hash, t.actual_hash);
    assert_eq!(t.severity, esign_events::catalogue::Severity::Critical);
    assert_eq!(published, vec!["audit.tampering.detected"]);
}

#[tokio::test]
async fn a_deleted_entry_is_detected() {
    let (finding, _) = finding_after(|e| {
        e.remove(&2);
    })
    .await;
    assert!(matches!(finding, Finding::Tampered(t) if t.sequence == 2));
    let (finding, _) = finding_after(|e| {
        e.remove(&4);
    })
    .await;
    assert!(
        matches!(finding, Finding::Tampered(t) if t.sequence == 4),
        "deleting the last entry too"
    );
}

#[tokio::test]
async fn reordered_entries_are_detected() {
    let (finding, _) = finding_after(|e| {
        let two = e.get(&2).unwrap().clone();
        let three = e.get(&3).unwrap().clone();
        e.insert(
            2,
            audit::chain::Entry {
                sequence: 2,
                ..three
            },
        );
        e.insert(3, audit::chain::Entry { sequence: 3, ..two });
    })
    .await;
    assert!(matches!(finding, Finding::Tampered(t) if t.sequence == 2));
}

#[tokio::test]
async fn a_rehashed_entry_still_breaks_the_next_link() {
    let (finding, _) = finding_after(|e| {
        let entry = e.get_mut(&2).unwrap();
        entry.canonical = entry.canonical.replace("X11", "Wayland");
        entry.hash = audit::chain::link(&entry.previous_hash, &entry.canonical);
    })
    .await;
    assert!(
        matches!(finding, Finding::Tampered(t) if t.sequence == 3),
        "the attacker can't fix entry 3's link"
    );
}
