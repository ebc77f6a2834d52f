//! Who gets what, checked with fakes for delivery, records and publishing.

use esign_events::idempotency::MemoryStore as MemoryIdempotency;
use esign_events::publish::{EntryOutcome, Outgoing, Publisher, Sink, SinkError, Topics};
use esign_events::runtime::{Handler, HandlerError, RecordContext};
use esign_events::{Category, Event};
use notification::deliver::Deliver;
use notification::mail::{Mail, Sms};
use notification::plan::{plan, Message, Roster};
use notification::store::MemoryStore;
use notification::{Config, NotificationHandler};
use serde_json::{json, Value};
use std::sync::Mutex;

fn config(sms: bool) -> Config {
    Config::from_lookup(|name| match name {
        "MAIL_FROM" => Some("no-reply@sign.example".into()),
        "APP_URL" => Some("https://app.sign.example".into()),
        "SMS_ENABLED" => Some(sms.to_string()),
        "ADMIN_EMAIL" => Some("security@sign.example".into()),
        _ => None,
    })
    .unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/events/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sample() -> Value {
    serde_json::from_str(include_str!("../../../examples/envelope-sent.json")).unwrap()
}

fn with_cc(mut value: Value) -> Value {
    value["data"]["recipients"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "recipientId": "2c3d4e5f-6071-4829-9ab0-c1d2e3f40617",
            "name": "Casey Copy",
            "email": "casey.copy@example.org",
            "phone": "+15555550199",
            "role": "cc",
            "signingOrder": 3,
            "accessCode": null
        }));
    value
}

fn ev(v: Value) -> Event {
    Event::from_value(v).unwrap()
}

/// (template, address) of each message, in order.
fn summary(messages: &[Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|m| match m {
            Message::Email(mail) => (format!("email:{}", mail.kind), mail.to.expose().to_owned()),
            Message::Sms(sms) => (format!("sms:{}", sms.kind), sms.to.expose().to_owned()),
        })
        .collect()
}

fn s(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn roster_of(sent: &Value) -> Roster {
    plan(&ev(sent.clone()), &config(false), None)
        .roster
        .unwrap()
}

#[test]
fn sequential_envelope_invites_only_the_first_signer_and_copies_cc() {
    let planned = plan(&ev(with_cc(sample())), &config(false), None);
    assert_eq!(
        summary(&planned.messages),
        s(&[
            ("email:invitation", "jordan.sample@example.net"),
            ("email:copy", "casey.copy@example.org"),
            ("email:sent-confirmation", "avery.example@example.com"),
        ])
    );
    assert_eq!(planned.roster.unwrap().parties.len(), 3);
}

#[test]
fn parallel_envelope_invites_every_signer_and_approver() {
    let mut value = sample();
    value["data"]["signingOrder"] = json!("parallel");
    value["data"]["recipients"][1]["role"] = json!("approver");
    assert_eq!(
        summary(&plan(&ev(value), &config(false), None).messages),
        s(&[
            ("email:invitation", "jordan.sample@example.net"),
            ("email:invitation", "riley.placeholder@example.org"),
            ("email:sent-confirmation", "avery.example@example.com"),
        ])
    );
}

#[test]
fn sms_goes_to_invited_recipients_with_a_phone_only_when_switched_on() {
    let planned = summary(&plan(&ev(with_cc(sample())), &config(true), None).messages);
    let sms: Vec<_> = planned
        .iter()
        .filter(|(k, _)| k.starts_with("sms"))
        .collect();
    assert_eq!(
        sms,
        vec![&("sms:invitation".to_string(), "+15555550123".to_string())]
    );
}

#[test]
fn access_codes_never_appear_in_a_message() {
    for message in plan(&ev(sample()), &config(true), None).messages {
        let text = match message {
            Message::Email(m) => format!("{} {} {} {}", m.from, m.subject, m.text, m.html),
            Message::Sms(s) => s.text,
        };
        assert!(
            !text.contains("K7Q2-9XPA") && !text.contains("M3D8-4TZC"),
            "{text}"
        );
    }
}

#[test]
fn invitations_come_from_the_sender_and_the_confirmation_from_the_platform() {
    let planned = plan(&ev(sample()), &config(false), None).messages;
    let Message::Email(invitation) = &planned[0] else {
        panic!()
    };
    assert_eq!(
        invitation.from,
        "\"Avery Example\" <avery.example@example.com>"
    );
    assert_eq!(invitation.subject, "Please sign: lease renewal");
    assert!(invitation.text.contains("https://app.sign.example/envelopes/3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10/sign?recipient=9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"));
    assert!(invitation
        .text
        .contains("access code that the sender gave you"));
    let Message::Email(confirmation) = planned.last().unwrap() else {
        panic!()
    };
    assert_eq!(confirmation.from, "\"eSign\" <no-reply@sign.example>");
}

fn signed(recipient: &str, order: u32) -> Event {
    let mut v = fixture("envelope.recipient.signed");
    v["data"]["recipientId"] = json!(recipient);
    v["data"]["signingOrder"] = json!(order);
    ev(v)
}

#[test]
fn a_signature_tells_the_sender_and_in_sequence_invites_the_next_signer() {
    let roster = roster_of(&sample());
    let first = plan(
        &signed("9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", 1),
        &config(false),
        Some(&roster),
    );
    assert_eq!(
        summary(&first.messages),
        s(&[
            ("email:signed-progress", "avery.example@example.com"),
            ("email:invitation", "riley.placeholder@example.org")
        ])
    );
    let Message::Email(progress) = &first.messages[0] else {
        panic!()
    };
    assert!(
        progress.text.contains("1 of 2 have signed"),
        "{}",
        progress.text
    );
    let after = first.roster.unwrap();
    let second = plan(
        &signed("1b2c3d4e-5f60-4718-89a0-b1c2d3e4f506", 2),
        &config(false),
        Some(&after),
    );
    assert_eq!(
        summary(&second.messages),
        s(&[("email:signed-progress", "avery.example@example.com")])
    );
}

#[test]
fn completion_declines_voids_and_expiry_reach_the_right_people() {
    let roster = roster_of(&with_cc(sample()));
    let completed = plan(
        &ev(fixture("envelope.completed")),
        &config(false),
        Some(&roster),
    );
    assert_eq!(
        summary(&completed.messages),
        s(&[
            ("email:completed", "avery.example@example.com"),
            ("email:completed", "jordan.sample@example.net"),
            ("email:completed", "riley.placeholder@example.org"),
        ])
    );
    let declined = plan(
        &ev(fixture("envelope.declined")),
        &config(false),
        Some(&roster),
    );
    assert_eq!(
        summary(&declined.messages),
        s(&[
            ("email:declined", "avery.example@example.com"),
            ("email:declined", "jordan.sample@example.net"),
            ("email:declined", "casey.copy@example.org"),
        ]),
        "the sender and the other recipients, not the one who declined"
    );
    let voided = plan(
        &ev(fixture("envelope.voided")),
        &config(false),
        Some(&roster),
    );
    assert_eq!(voided.messages.len(), 3, "every recipient");
    assert!(summary(&voided.messages)
        .iter()
        .all(|(k, to)| k == "email:voided" && to != "avery.example@example.com"));
    let expired = plan(
        &ev(fixture("envelope.expired")),
        &config(false),
        Some(&roster),
    );
    assert_eq!(
        summary(&expired.messages),
        s(&[("email:expired", "avery.example@example.com")])
    );
    let certificate = plan(
        &ev(fixture("certificate.generated")),
        &config(false),
        Some(&roster),
    );
    assert_eq!(certificate.messages.len(), 4, "every party");
    let Message::Email(c) = &certificate.messages[0] else {
        panic!()
    };
    assert!(c.text.contains("7KQ2-M3D8-4TZC"));
}

#[test]
fn account_and_security_events_are_told_to_the_user_or_the_admins() {
    let registered = plan(&ev(fixture("user.registered")), &config(false), None).messages;
    let Message::Email(m) = &registered[0] else {
        panic!()
    };
    assert!(m
        .text
        .contains("https://app.sign.example/verify-email?token=vt_3q9XkP2mZ8"));
    assert_eq!(m.priority, esign_events::catalogue::Priority::High);
    let mut tricky = fixture("user.registered");
    tricky["data"]["verificationToken"] = "abc&next=https://evil.example/#x y".into();
    let Message::Email(m) = &plan(&ev(tricky), &config(false), None).messages[0] else {
        panic!()
    };
    assert!(
        m.text
            .contains("/verify-email?token=abc%26next%3Dhttps%3A%2F%2Fevil.example%2F%23x%20y"),
        "the token can't end the query: {}",
        m.text
    );
    let locked = plan(&ev(fixture("user.account.locked")), &config(false), None).messages;
    let Message::Email(m) = &locked[0] else {
        panic!()
    };
    assert!(m.text.contains("2025-03-12T08:30:00.000Z"), "{}", m.text);
    let tampering = plan(
        &ev(fixture("audit.tampering.detected")),
        &config(false),
        None,
    )
    .messages;
    assert_eq!(
        summary(&tampering),
        s(&[("email:tampering", "security@sign.example")])
    );
    let failed = plan(
        &ev(fixture("document.processing.failed")),
        &config(false),
        None,
    )
    .messages;
    assert_eq!(
        summary(&failed),
        s(&[("email:document-failed", "avery.example@example.com")])
    );
}

/// Records deliveries; refuses mail to one address until healed.
#[derive(Default)]
struct FakeDelivery {
    refuse: Option<&'static str>,
    healed: std::sync::atomic::AtomicBool,
    sent: Mutex<Vec<String>>,
}

impl Deliver for FakeDelivery {
    async fn email(&self, mail: &Mail) -> Result<String, HandlerError> {
        let healed = self.healed.load(std::sync::atomic::Ordering::SeqCst);
        if Some(mail.to.expose()) == self.refuse && !healed {
            return Err(HandlerError::Retryable(
                "ses:SendEmail: Throttling: slow down".into(),
            ));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(mail.to.expose().to_owned());
        Ok(format!("ses-{}", sent.len()))
    }
    async fn sms(&self, sms: &Sms) -> Result<String, HandlerError> {
        self.sent.lock().unwrap().push(sms.to.expose().to_owned());
        Ok("sms-id".into())
    }
}

#[derive(Default)]
struct Outbox(Mutex<Vec<Value>>);

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
                out.push(serde_json::from_str(&e.body).unwrap());
                EntryOutcome::Published(e.dedup_id.clone())
            })
            .collect())
    }
}

type TestHandler<'a> =
    NotificationHandler<FakeDelivery, MemoryIdempotency, MemoryStore, &'a Outbox>;

fn handler<'a>(outbox: &'a Outbox, refuse: Option<&'static str>) -> TestHandler<'a> {
    NotificationHandler::new(
        config(false),
        FakeDelivery {
            refuse,
            ..Default::default()
        },
        MemoryIdempotency::new(),
        MemoryStore::new(),
        Publisher::new(
            outbox,
            Topics::new([(Category::Notification, "arn:notification".to_string())]),
        ),
    )
}

fn ctx(receive_count: u32) -> RecordContext {
    RecordContext {
        message_id: "m-1".into(),
        group_id: "g".into(),
        receive_count,
        queue_arn: None,
        deadline_ms: esign_events::runtime::now_ms() + 5_000,
        replay_id: None,
    }
}

/// A retry after a partial failure sends only what did not go out, and a redelivery sends
/// nothing; each message has queued, sent (or failed) events and a status record.
#[tokio::test]
async fn each_message_goes_out_once_with_its_events_and_status() {
    let mut value = with_cc(sample());
    value["data"]["signingOrder"] = json!("parallel");
    let event = ev(value);
    let outbox = Outbox::default();
    let h = handler(&outbox, Some("riley.placeholder@example.org"));
    assert!(h.handle(&event, &ctx(1)).await.is_err());
    h.delivery()
        .healed
        .store(true, std::sync::atomic::Ordering::SeqCst);
    h.handle(&event, &ctx(2)).await.unwrap();
    h.handle(&event, &ctx(3)).await.unwrap();
    assert_eq!(
        h.delivery().sent.lock().unwrap().clone(),
        vec![
            "jordan.sample@example.net",
            "riley.placeholder@example.org",
            "casey.copy@example.org",
            "avery.example@example.com"
        ]
    );
    let published = outbox.0.lock().unwrap().clone();
    // Distinct events: a redelivery publishes `notification.sent` again under the same id
    // (in case the first publish failed), which consumers take as one.
    let count = |t: &str| {
        let ids: std::collections::HashSet<&Value> = published
            .iter()
            .filter(|e| e["eventType"] == t)
            .map(|e| &e["eventId"])
            .collect();
        ids.len()
    };
    assert_eq!(count("notification.sent"), 4);
    let failed: Vec<&Value> = published
        .iter()
        .filter(|e| e["eventType"] == "notification.failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["willRetry"], true);
    assert_eq!(failed[0]["data"]["retryCount"], 0);
    assert_eq!(failed[0]["data"]["errorType"], "throttled");
    // The next attempt is announced on the runtime's exponential schedule: after the first
    // receive, the base delay.
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(failed[0]["data"][field].as_str().unwrap()).unwrap()
    };
    let announced = (at("nextRetryAt") - at("failedAt")).num_milliseconds();
    let scheduled = i64::from(esign_events::runtime::Backoff::default().delay_secs(1, i32::MAX));
    assert!(
        (announced - scheduled * 1000).abs() < 1000,
        "next retry {announced} ms after the failure, scheduled {scheduled} s"
    );
    assert_eq!(
        failed[0]["metadata"]["causationId"],
        event.event_id.to_string()
    );
    assert!(count("notification.queued") >= 4);
    let statuses = h.records().statuses();
    assert_eq!(statuses.len(), 4);
    assert!(statuses
        .iter()
        .all(|s| s.state == "sent" && s.provider_message_id.is_some()));
}

/// A reprocessing replay sends every message again under new notification ids, once for that
/// replay; its redelivery sends nothing more.
#[tokio::test]
async fn a_reprocessing_replay_sends_again_once_under_new_ids() {
    let event = ev(sample());
    let outbox = Outbox::default();
    let h = handler(&outbox, None);
    h.handle(&event, &ctx(1)).await.unwrap();
    let once = h.delivery().sent.lock().unwrap().len();
    assert!(once > 0);
    let replay = RecordContext {
        replay_id: Some("run-1".into()),
        ..ctx(1)
    };
    h.handle(&event, &replay).await.unwrap();
    h.handle(
        &event,
        &RecordContext {
            receive_count: 2,
            ..replay.clone()
        },
    )
    .await
    .unwrap();
    h.handle(&event, &ctx(2)).await.unwrap();
    assert_eq!(h.delivery().sent.lock().unwrap().len(), 2 * once);
    let ids: std::collections::HashSet<_> = h
        .records()
        .statuses()
        .iter()
        .map(|s| s.notification_id)
        .collect();
    assert_eq!(ids.len(), 2 * once, "a replay's notifications are new ones");
}

/// The last attempt's failure is final.
#[tokio::test]
async fn the_last_attempt_fails_for_good() {
    let outbox = Outbox::default();
    let h = handler(&outbox, Some("jordan.sample@example.net"));
    assert!(h.handle(&ev(sample()), &ctx(3)).await.is_err());
    let published = outbox.0.lock().unwrap().clone();
    let failed = published
        .iter()
        .find(|e| e["eventType"] == "notification.failed")
        .unwrap();
    assert_eq!(failed["data"]["willRetry"], false);
    assert_eq!(failed["data"]["retryCount"], 2);
    assert!(failed["data"]["nextRetryAt"].is_null());
    assert_eq!(h.records().statuses()[0].state, "failed");
}
