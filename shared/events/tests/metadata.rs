//! Unknown `metadata` members survive storing and re-publishing, the known ones are still
//! validated, and printing an event never shows what its `data` holds.

use chrono::NaiveDate;
use esign_events::publish::Outgoing;
use esign_events::{Event, EventError};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn error_of(value: Value) -> EventError {
    Event::from_value(value).expect_err("must be rejected")
}

/// Members a newer publisher added, of every JSON kind.
fn unknown_members() -> Value {
    json!({
        "tenantId": "t-0042",
        "region": {"name": "eu-central", "zones": [1, 2, 3], "primary": true},
        "weight": 0.25,
        "retries": 3,
        "note": null,
        "label": "Подпись 契約 🖋️",
    })
}

fn with_unknown_metadata(name: &str) -> Value {
    let mut value = fixture(name);
    for (key, member) in unknown_members().as_object().unwrap() {
        value["metadata"][key] = member.clone();
    }
    value
}

fn assert_carries_unknown_members(out: &Value) {
    for (key, member) in unknown_members().as_object().unwrap() {
        assert_eq!(
            serde_json::to_string(&out["metadata"][key]).unwrap(),
            serde_json::to_string(member).unwrap(),
            "metadata.{key}"
        );
    }
}

#[test]
fn unknown_metadata_members_are_kept_by_to_value_and_the_publisher() {
    let value = with_unknown_metadata("envelope.sent.v2");
    let event = Event::from_value(value.clone()).unwrap();

    let out = event.to_value();
    assert_carries_unknown_members(&out);
    assert_eq!(out["metadata"], value["metadata"]);

    let published = Outgoing::prepare_on(&event, NaiveDate::from_ymd_opt(2027, 1, 1).unwrap())
        .unwrap()
        .body;
    assert_carries_unknown_members(&serde_json::from_str(&published).unwrap());

    let again = Event::from_slice(published.as_bytes()).unwrap();
    assert_eq!(event, again);
    assert_eq!(again.to_json(), published);
}

#[test]
fn known_metadata_fields_are_still_read_and_validated() {
    let event = Event::from_value(with_unknown_metadata("envelope.sent")).unwrap();
    assert_eq!(
        event.metadata.correlation_id.to_string(),
        "c0a8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
    );
    assert_eq!(event.metadata.causation_id, None);

    let id = "event 11111111-1111-4111-8111-111111111111";
    let mut value = with_unknown_metadata("envelope.sent");
    value["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("correlationId");
    assert_eq!(
        error_of(value).to_string(),
        format!("{id}: metadata.correlationId: is required")
    );

    let mut value = with_unknown_metadata("envelope.sent");
    value["metadata"]["userId"] = json!("victim@example.com");
    let message = error_of(value).to_string();
    assert_eq!(message, format!("{id}: metadata.userId: must be a UUID"));

    let mut value = with_unknown_metadata("envelope.sent");
    value["metadata"]["correlationId"] = Value::Null;
    assert_eq!(
        error_of(value).to_string(),
        format!("{id}: metadata.correlationId: must not be null")
    );

    let mut value = fixture("envelope.sent");
    value["metadata"] = json!("victim@example.com");
    let message = error_of(value).to_string();
    assert!(
        message.starts_with(&format!("{id}: metadata: ")),
        "{message}"
    );
    assert!(!message.contains("victim"), "{message}");
}

/// A new event starts with no unknown metadata members; a caused one does not inherit its
/// cause's, whose meaning this version does not know.
#[test]
fn new_and_caused_events_carry_only_known_metadata() {
    let cause = Event::from_value(with_unknown_metadata("envelope.sent.v2")).unwrap();
    let effect = cause.caused(cause.payload.clone(), "test");
    let metadata = effect.to_value()["metadata"].clone();
    assert_eq!(
        metadata.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["userId", "correlationId", "causationId"]
    );
}

#[test]
fn debug_shows_the_ids_but_not_the_data() {
    let value = with_unknown_metadata("envelope.sent");
    let event = Event::from_value(value.clone()).unwrap();
    let printed = format!("{event:?} {event:#?}");

    assert!(
        printed.contains("11111111-1111-4111-8111-111111111111"),
        "{printed}"
    );
    assert!(
        printed.contains("c0a8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5b"),
        "{printed}"
    );
    assert!(printed.contains("envelope.sent"), "{printed}");
    assert!(printed.contains("data: <redacted>"), "{printed}");

    let data = &value["data"];
    let mut secrets = vec![
        data["senderEmail"].as_str().unwrap(),
        data["senderName"].as_str().unwrap(),
        data["subject"].as_str().unwrap(),
    ];
    for recipient in data["recipients"].as_array().unwrap() {
        for field in ["email", "accessCode", "name", "phone"] {
            secrets.extend(recipient[field].as_str());
        }
    }
    assert!(secrets.len() >= 10, "the fixture's personal data is read");
    for secret in secrets {
        assert!(!printed.contains(secret), "Debug shows {secret}: {printed}");
    }
    assert!(!printed.contains("t-0042"), "unknown members are not shown");
}
