//! Who gets what when an envelope is sent, checked with a delivery fake.

use esign_events::idempotency::MemoryStore;
use esign_events::runtime::{process_batch, Handler, HandlerError, RecordContext};
use esign_events::Event;
use notification::deliver::Deliver;
use notification::mail::{Mail, Sms};
use notification::plan::{plan, Message};
use notification::{Config, NotificationHandler};
use serde_json::{json, Value};
use std::sync::Mutex;

fn config(sms: bool) -> Config {
    Config::from_lookup(|name| match name {
        "MAIL_FROM" => Some("no-reply@sign.example".into()),
        "APP_URL" => Some("https://app.sign.example".into()),
        "SMS_ENABLED" => Some(sms.to_string()),
        _ => None,
    })
    .unwrap()
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

/// (kind, address) of each e-mail, and (kind, number) of each SMS, in order.
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

#[test]
fn sequential_envelope_invites_only_the_first_signer_and_copies_cc() {
    let event = Event::from_value(with_cc(sample())).unwrap();
    assert_eq!(
        summary(&plan(&event, &config(false))),
        s(&[
            ("email:invitation", "jordan.sample@example.net"),
            ("email:copy", "casey.copy@example.org"),
            ("email:sent-confirmation", "avery.example@example.com"),
        ])
    );
}

#[test]
fn parallel_envelope_invites_every_signer_and_approver() {
    let mut value = sample();
    value["data"]["signingOrder"] = json!("parallel");
    value["data"]["recipients"][1]["role"] = json!("approver");
    let event = Event::from_value(value).unwrap();
    assert_eq!(
        summary(&plan(&event, &config(false))),
        s(&[
            ("email:invitation", "jordan.sample@example.net"),
            ("email:invitation", "riley.placeholder@example.org"),
            ("email:sent-confirmation", "avery.example@example.com"),
        ])
    );
}

#[test]
fn sms_goes_to_invited_recipients_with_a_phone_only_when_switched_on() {
    let event = Event::from_value(with_cc(sample())).unwrap();
    let planned = summary(&plan(&event, &config(true)));
    let sms: Vec<_> = planned
        .iter()
        .filter(|(k, _)| k.starts_with("sms"))
        .collect();
    // Jordan is invited and has a phone; Casey (cc) has one too but is not asked to sign.
    assert_eq!(
        sms,
        vec![&("sms:invitation".to_string(), "+15555550123".to_string())]
    );
}

#[test]
fn access_codes_never_appear_in_a_message() {
    let event = Event::from_value(sample()).unwrap();
    for message in plan(&event, &config(true)) {
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
    let event = Event::from_value(sample()).unwrap();
    let planned = plan(&event, &config(false));
    let Message::Email(invitation) = &planned[0] else {
        panic!()
    };
    assert_eq!(
        invitation.from,
        "\"Avery Example\" <avery.example@example.com>"
    );
    assert_eq!(invitation.subject, "Please sign: lease renewal");
    assert!(invitation.text.contains("https://app.sign.example/envelopes/3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10/sign?recipient=9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"));
    let Message::Email(confirmation) = planned.last().unwrap() else {
        panic!()
    };
    assert_eq!(confirmation.from, "\"eSign\" <no-reply@sign.example>");
}

/// Records deliveries; refuses mail to one address (while `refusing` is set).
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
            return Err(HandlerError::Permanent(
                "ses:SendEmail: MessageRejected".into(),
            ));
        }
        self.sent.lock().unwrap().push(mail.to.expose().to_owned());
        Ok("id".into())
    }
    async fn sms(&self, sms: &Sms) -> Result<String, HandlerError> {
        self.sent.lock().unwrap().push(sms.to.expose().to_owned());
        Ok("id".into())
    }
}

fn ctx() -> RecordContext {
    RecordContext {
        message_id: "m-1".into(),
        group_id: "g".into(),
        receive_count: 1,
        queue_arn: None,
        deadline_ms: esign_events::runtime::now_ms() + 5_000,
    }
}

#[tokio::test]
async fn a_refused_delivery_fails_the_event() {
    let handler = NotificationHandler::new(
        config(false),
        FakeDelivery {
            refuse: Some("jordan.sample@example.net"),
            ..Default::default()
        },
        MemoryStore::new(),
    );
    let event = Event::from_value(sample()).unwrap();
    let err = handler.handle(&event, &ctx()).await.unwrap_err();
    assert!(matches!(err, HandlerError::Permanent(_)));
}

#[tokio::test]
async fn the_batch_response_reports_exactly_the_failed_records() {
    let handler = NotificationHandler::new(
        config(false),
        FakeDelivery {
            refuse: Some("jordan.sample@example.net"),
            ..Default::default()
        },
        MemoryStore::new(),
    );
    let good = sample();
    let mut bad = sample();
    bad["eventId"] = json!("99999999-9999-4999-8999-999999999999");
    bad["data"]["envelopeId"] = json!("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    let mut good2 = sample();
    good2["eventId"] = json!("88888888-8888-4888-8888-888888888888");
    good2["data"]["envelopeId"] = json!("bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    good2["data"]["recipients"][0]["email"] = json!("other@example.net");
    let mut good_first = good.clone();
    good_first["data"]["recipients"][0]["email"] = json!("first@example.net");
    let records: Vec<Value> = [(good_first, "m-1"), (bad, "m-2"), (good2, "m-3")]
        .into_iter()
        .map(|(body, id)| json!({"messageId": id, "body": body.to_string(), "attributes": {}}))
        .collect();
    let batch = serde_json::from_value(json!({ "Records": records })).unwrap();
    let response = process_batch(&handler, &batch).await.unwrap();
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["m-2"]);
}

/// A retry after a partial failure sends only the messages that did not go out, and the same
/// event delivered again sends nothing.
#[tokio::test]
async fn each_message_goes_out_once_across_retries_and_redeliveries() {
    let mut value = with_cc(sample());
    value["data"]["signingOrder"] = json!("parallel");
    let event = Event::from_value(value).unwrap();
    // Riley's invitation (the second message) fails once.
    let handler = NotificationHandler::new(
        config(false),
        FakeDelivery {
            refuse: Some("riley.placeholder@example.org"),
            ..Default::default()
        },
        MemoryStore::new(),
    );
    assert!(handler.handle(&event, &ctx()).await.is_err());
    handler.deliver_healed();
    handler.handle(&event, &ctx()).await.unwrap();
    handler.handle(&event, &ctx()).await.unwrap();
    let sent = handler.sent();
    assert_eq!(
        sent,
        vec![
            "jordan.sample@example.net",
            "riley.placeholder@example.org",
            "casey.copy@example.org",
            "avery.example@example.com"
        ],
        "each address exactly once"
    );
}

trait Inspect {
    fn deliver_healed(&self);
    fn sent(&self) -> Vec<String>;
}

impl Inspect for NotificationHandler<FakeDelivery, MemoryStore> {
    fn deliver_healed(&self) {
        self.delivery()
            .healed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    fn sent(&self) -> Vec<String> {
        self.delivery().sent.lock().unwrap().clone()
    }
}
