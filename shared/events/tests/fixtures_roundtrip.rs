//! One valid fixture per event type and version, round-tripped; and one invalid example per
//! validation rule with the exact error it must produce.

use esign_events::{Event, EventType};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Value {
    let path = dir().join("events").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every type of the catalogue has a fixture named after it, and each parses, serialises and
/// parses again to the same event.
#[test]
fn every_event_type_has_a_fixture_that_round_trips() {
    for event_type in EventType::all() {
        let value = fixture(event_type.name());
        let event = Event::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", event_type.name()));
        assert_eq!(event.event_type, event_type);
        let again = Event::from_slice(event.to_json().as_bytes()).unwrap();
        assert_eq!(event, again, "{}", event_type.name());
        // Field for field the same JSON: nothing dropped, nothing added.
        assert_eq!(
            serde_json::from_str::<Value>(&again.to_json()).unwrap(),
            value,
            "{}",
            event_type.name()
        );
    }
}

/// Sets or removes a value at a dotted path whose numeric parts index arrays.
fn at<'a>(value: &'a mut Value, path: &str) -> (&'a mut Value, String) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap().to_owned();
    let mut node = value;
    for part in parts {
        node = match part.parse::<usize>() {
            Ok(i) => &mut node[i],
            Err(_) => &mut node[part],
        };
    }
    (node, last)
}

#[test]
fn every_invalid_example_fails_with_its_exact_error() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("invalid.json")).unwrap())
            .unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let mut value = fixture(case["fixture"].as_str().unwrap());
        for path in case["remove"].as_array().into_iter().flatten() {
            let (parent, key) = at(&mut value, path.as_str().unwrap());
            parent.as_object_mut().unwrap().remove(&key);
        }
        for (path, new) in case["set"].as_object().into_iter().flatten() {
            let (parent, key) = at(&mut value, path);
            match key.parse::<usize>() {
                Ok(i) => parent[i] = new.clone(),
                Err(_) => parent[key.as_str()] = new.clone(),
            }
        }
        let expected = case["error"].as_str().unwrap();
        match Event::from_value(value) {
            Ok(_) => failures.push(format!("{}: accepted", case["rule"])),
            Err(e) if e.to_string() != expected => failures.push(format!(
                "{}:\n  expected {expected}\n  got      {e}",
                case["rule"]
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Null and absent are the same for fields the specification marks nullable.
#[test]
fn nullable_fields_may_be_null_or_absent() {
    for (name, path) in [
        ("envelope.sent", "message"),
        ("envelope.viewed", "geolocation"),
        ("envelope.declined", "reason"),
        ("document.ready", "thumbnail"),
        ("notification.queued", "userId"),
        ("user.password.reset", "ipAddress"),
    ] {
        let mut null = fixture(name);
        null["data"][path] = Value::Null;
        Event::from_value(null).unwrap_or_else(|e| panic!("{name} with null {path}: {e}"));
        let mut absent = fixture(name);
        absent["data"].as_object_mut().unwrap().remove(path);
        Event::from_value(absent).unwrap_or_else(|e| panic!("{name} without {path}: {e}"));
    }
}

/// Both versions of envelope.sent reach consumers as one model; v1's access code becomes the
/// access-code method and the secret itself is not carried over.
#[test]
fn both_versions_of_envelope_sent_read_into_one_model() {
    use esign_events::catalogue::AuthMethod;
    use esign_events::Payload;
    let v1 = Event::from_value(fixture("envelope.sent")).unwrap();
    let v2 = Event::from_value(fixture("envelope.sent.v2")).unwrap();
    let (Payload::EnvelopeSent(a), Payload::EnvelopeSent(b)) = (&v1.payload, &v2.payload) else {
        panic!("both are envelope.sent")
    };
    assert_eq!(a.recipients[0].auth_method, AuthMethod::AccessCode);
    assert_eq!(b.recipients[1].auth_method, AuthMethod::Sms);
    assert_eq!(a.envelope_id, b.envelope_id);
    assert!(
        !format!("{a:?}").contains("K7Q2"),
        "the model holds no access code"
    );
}
