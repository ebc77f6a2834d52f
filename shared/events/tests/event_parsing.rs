//! Parsing and validating the event envelope and `envelope.sent`.

use esign_events::catalogue::SigningOrder;
use esign_events::{Event, EventError, Payload};
use serde_json::{json, Value};

fn sample() -> Value {
    serde_json::from_str(include_str!("fixtures/cases/envelope-sent.json")).unwrap()
}

fn error_of(value: Value) -> EventError {
    Event::from_value(value).expect_err("must be rejected")
}

#[test]
fn parses_the_sample_envelope_sent() {
    let event = Event::from_value(sample()).unwrap();
    let Payload::EnvelopeSent(sent) = &event.payload else {
        panic!("wrong payload")
    };
    assert_eq!(sent.recipients.len(), 2);
    assert_eq!(sent.signing_order, SigningOrder::Sequential);
    assert_eq!(
        event.partition_key(),
        "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10"
    );
}

#[test]
fn round_trips_through_json_keeping_unknown_fields() {
    let mut value = sample();
    value["data"]["brandId"] = json!("b-42");
    value["schemaHint"] = json!({"x": 1});
    let event = Event::from_value(value).unwrap();
    let again = Event::from_slice(event.to_json().as_bytes()).unwrap();
    assert_eq!(event, again);
    let out: Value = serde_json::from_str(&again.to_json()).unwrap();
    assert_eq!(out["data"]["brandId"], "b-42");
    assert_eq!(out["schemaHint"]["x"], 1);
}

#[test]
fn a_missing_field_is_named_with_its_path_and_the_event_id() {
    let mut value = sample();
    value["data"]["recipients"][1]
        .as_object_mut()
        .unwrap()
        .remove("email");
    let message = error_of(value).to_string();
    assert_eq!(
        message,
        "event 11111111-1111-4111-8111-111111111111: data.recipients[1].email: is required"
    );
}

#[test]
fn a_malformed_email_is_rejected_without_echoing_it() {
    let mut value = sample();
    value["data"]["recipients"][0]["email"] = json!("jordan.at.example.net");
    let message = error_of(value).to_string();
    assert!(message.contains("data.recipients[0].email"), "{message}");
    assert!(!message.contains("jordan"), "{message}");
}

#[test]
fn a_wrongly_typed_phone_is_rejected_without_echoing_it() {
    let mut value = sample();
    value["data"]["recipients"][0]["phone"] = json!(15555550123u64);
    let message = error_of(value).to_string();
    assert!(message.contains("data.recipients[0].phone"), "{message}");
    assert!(!message.contains("5555"), "{message}");
}

#[test]
fn null_is_refused_where_the_field_is_not_nullable() {
    let mut value = sample();
    value["data"]["subject"] = Value::Null;
    assert_eq!(
        error_of(value).to_string(),
        "event 11111111-1111-4111-8111-111111111111: data.subject: must not be null"
    );
}

#[test]
fn nullable_fields_may_be_null_or_absent() {
    let mut value = sample();
    value["data"]["message"] = Value::Null;
    value["data"]["recipients"][0]
        .as_object_mut()
        .unwrap()
        .remove("phone");
    value["data"]["recipients"][1]
        .as_object_mut()
        .unwrap()
        .remove("accessCode");
    Event::from_value(value).unwrap();
}

#[test]
fn closed_sets_are_enforced() {
    let mut value = sample();
    value["data"]["recipients"][0]["role"] = json!("witness");
    let message = error_of(value).to_string();
    assert!(message.contains("data.recipients[0].role"), "{message}");
    let mut value = sample();
    value["data"]["signingOrder"] = json!("random");
    assert!(error_of(value).to_string().contains("data.signingOrder"));
}

#[test]
fn timestamps_need_a_zone() {
    let mut value = sample();
    value["timestamp"] = json!("2025-03-14T09:00:01.000");
    let message = error_of(value).to_string();
    assert!(message.contains(": timestamp:"), "{message}");
    let mut value = sample();
    value["timestamp"] = json!("2025-03-14T11:00:01.123456789+02:00");
    let event = Event::from_value(value).unwrap();
    let out: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(out["timestamp"], "2025-03-14T09:00:01.123Z");
}

#[test]
fn unknown_types_and_versions_are_named() {
    let mut value = sample();
    value["eventType"] = json!("envelope.teleported");
    assert!(matches!(error_of(value), EventError::UnknownType { .. }));
    let mut value = sample();
    value["version"] = json!("7.0");
    assert!(matches!(
        error_of(value),
        EventError::UnsupportedVersion { .. }
    ));
}

#[test]
fn an_envelope_needs_someone_who_signs() {
    let mut value = sample();
    for r in value["data"]["recipients"].as_array_mut().unwrap() {
        r["role"] = json!("cc");
    }
    let message = error_of(value).to_string();
    assert!(message.ends_with("data.recipients: must hold at least one signer or approver"));
}

#[test]
fn text_in_any_script_round_trips_byte_for_byte() {
    let mut value = sample();
    let subject = "Подпишите: договор 契約書 🖋️ عقد";
    value["data"]["subject"] = json!(subject);
    let event = Event::from_value(value).unwrap();
    let out: Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(
        out["data"]["subject"].as_str().unwrap().as_bytes(),
        subject.as_bytes()
    );
}

#[test]
fn not_json_is_its_own_error() {
    assert!(matches!(
        Event::from_slice(b"{\"eventId\":"),
        Err(EventError::NotJson(_))
    ));
    assert!(matches!(
        Event::from_slice(b"[1,2]"),
        Err(EventError::NotJson(_))
    ));
}

#[test]
fn sequential_envelopes_ask_only_the_first_signer_first() {
    let event = Event::from_value(sample()).unwrap();
    let Payload::EnvelopeSent(sent) = &event.payload else {
        panic!()
    };
    let first: Vec<_> = sent.first_to_act().iter().map(|r| r.name.clone()).collect();
    assert_eq!(first, vec!["Jordan Sample"]);
}

/// Whatever a field holds, an error never repeats it: values of the wrong kind may be personal
/// data (an address typed into the wrong field), and errors reach logs and dead-letter queues.
#[test]
fn errors_never_repeat_what_the_event_holds() {
    let leaks = [
        ("eventId", json!("victim@example.com")),
        ("eventType", json!("victim@example.com")),
        ("version", json!("+15555550199")),
        ("traceId", json!(15555550199u64)),
    ];
    for (field, value) in leaks {
        let mut v = sample();
        v[field] = value;
        let message = error_of(v).to_string();
        assert!(
            !message.contains("victim") && !message.contains("5555"),
            "{field}: {message}"
        );
    }
    for (path, value) in [
        ("role", "victim@example.com"),
        ("signingOrder", "K7Q2-9XPA"),
    ] {
        let mut v = sample();
        if path == "role" {
            v["data"]["recipients"][0][path] = json!(value);
        } else {
            v["data"][path] = json!(value);
        }
        let message = error_of(v).to_string();
        assert!(!message.contains(value), "{path}: {message}");
    }
}
