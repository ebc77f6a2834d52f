//! The committed JSON Schemas are exactly what the types generate, and every released version
//! has only grown additively since its release.

use esign_events::schema;
use serde_json::Value;
use std::path::PathBuf;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

/// `schemas/` holds one file per event type and version, equal to the generated schema.
#[test]
fn committed_schemas_equal_the_generated_ones() {
    let mut stale = Vec::new();
    for (name, generated) in schema::all() {
        let path = schemas_dir().join(&name);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == schema::to_file_text(&generated) => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(_) => stale.push(format!("{name} is missing")),
        }
    }
    let known: Vec<String> = schema::all().into_iter().map(|(n, _)| n).collect();
    for entry in std::fs::read_dir(schemas_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !known.contains(&name) {
            stale.push(format!("{name} is not an event type of the catalogue"));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with: cargo run -p bus-cli -- schemas --write",
        stale.join("\n")
    );
}

/// Each released version's schema still accepts everything it accepted when released.
#[test]
fn released_versions_only_change_additively() {
    let released = schemas_dir().join("released");
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, generated) in schema::all() {
        let Ok(text) = std::fs::read_to_string(released.join(&name)) else {
            continue;
        };
        let baseline: Value = serde_json::from_str(&text).unwrap();
        checked += 1;
        for problem in schema::breaking_changes(&baseline, &generated) {
            problems.push(format!("{name}: {problem}"));
        }
    }
    assert_eq!(
        checked,
        schema::all().len(),
        "every version has a released baseline"
    );
    assert!(
        problems.is_empty(),
        "non-additive changes:\n{}",
        problems.join("\n")
    );
}

/// Every valid fixture passes its committed schema, so a publisher in another language that
/// validates against `schemas/` accepts what the Rust parser accepts; and a few invalid events
/// fail it.
#[test]
fn fixtures_validate_against_the_committed_schemas() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events");
    for (name, _) in schema::all() {
        let schema_value: Value =
            serde_json::from_str(&std::fs::read_to_string(schemas_dir().join(&name)).unwrap())
                .unwrap();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema_value)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let event: Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures.join(&name)).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&event)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");

        let mut missing = event.clone();
        missing.as_object_mut().unwrap().remove("traceId");
        assert!(!validator.is_valid(&missing), "{name}: traceId is required");
        let mut wrong_type = event.clone();
        wrong_type["eventType"] = Value::String("something.else".into());
        assert!(
            !validator.is_valid(&wrong_type),
            "{name}: eventType is fixed"
        );
    }
}
