//! JSON Schema for every event type and version, generated from the Rust types, and the check
//! that a change to a published version only adds.
//!
//! The schemas are committed under `schemas/` for publishers in other languages; a test fails
//! when they differ from what the types generate (`esign-bus schemas --write` regenerates them).
//! `schemas/released/` holds each version as it was first released. A change to an existing
//! version must be additive against it: no field removed, no field newly required, no type,
//! set of values or format narrowed.

use crate::catalogue::data_schema;
use crate::event::Metadata;
use crate::routing::EventType;
use crate::time::Timestamp;
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The file name of an event type's schema: its wire name and `.json`.
pub fn file_name(event_type: EventType) -> String {
    format!("{}.json", event_type.name())
}

/// The JSON Schema (draft 2020-12) of a whole event of one type and version.
pub fn event_schema(event_type: EventType) -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let data = data_schema(event_type, &mut generator);
    let metadata = generator.subschema_for::<Metadata>();
    let timestamp = Timestamp::json_schema(&mut generator);
    let definitions = generator.take_definitions(true);
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("urn:esign:events:{}", event_type.name()),
        "title": event_type.name(),
        "description": format!(
            "The {} event, version {}.x. Fields not listed here may appear (changes are additive) and must be kept.",
            event_type.name(),
            event_type.major()
        ),
        "type": "object",
        "required": ["eventId", "eventType", "version", "timestamp", "source", "traceId", "data", "metadata"],
        "properties": {
            "eventId": { "type": "string", "format": "uuid" },
            "eventType": { "const": event_type.name() },
            "version": { "type": "string", "pattern": format!("^{}\\.[0-9]+$", event_type.major()) },
            "timestamp": timestamp,
            "source": { "type": "string", "minLength": 1 },
            "traceId": { "type": "string", "minLength": 1 },
            "data": data,
            "metadata": metadata,
        },
    });
    if !definitions.is_empty() {
        schema["$defs"] = Value::Object(definitions);
    }
    schema
}

/// Every schema, by file name.
pub fn all() -> Vec<(String, Value)> {
    EventType::all()
        .map(|t| (file_name(t), event_schema(t)))
        .collect()
}

/// How a schema is written to disk: pretty, with a final newline.
pub fn to_file_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serialises");
    text.push('\n');
    text
}

/// The ways `candidate` is not an additive change of `baseline`, each naming the path.
pub fn breaking_changes(baseline: &Value, candidate: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    compare(
        &Side {
            root: baseline,
            node: baseline,
        },
        &Side {
            root: candidate,
            node: candidate,
        },
        "",
        &mut problems,
    );
    problems
}

#[derive(Clone, Copy)]
struct Side<'a> {
    root: &'a Value,
    node: &'a Value,
}

impl<'a> Side<'a> {
    fn at(&self, node: &'a Value) -> Side<'a> {
        Side {
            root: self.root,
            node,
        }
    }

    /// Follows `$ref`s into `$defs`.
    fn resolved(&self) -> Side<'a> {
        let mut node = self.node;
        for _ in 0..32 {
            match node.get("$ref").and_then(Value::as_str) {
                Some(r) => match r
                    .strip_prefix("#/$defs/")
                    .and_then(|n| self.root["$defs"].get(n))
                {
                    Some(target) => node = target,
                    None => break,
                },
                None => break,
            }
        }
        self.at(node)
    }

    /// The alternatives a value may match: `anyOf`/`oneOf` flattened, each resolved.
    fn alternatives(&self) -> Vec<Side<'a>> {
        let node = self.resolved();
        let mut out = Vec::new();
        for key in ["anyOf", "oneOf"] {
            if let Some(list) = node.node.get(key).and_then(Value::as_array) {
                for alternative in list {
                    out.extend(node.at(alternative).alternatives());
                }
            }
        }
        let has_own_shape = ["type", "const", "enum", "properties", "items"]
            .iter()
            .any(|k| node.node.get(*k).is_some());
        if out.is_empty() || has_own_shape {
            out.push(node);
        }
        out
    }
}

/// The JSON types a schema node admits ("any" when it says nothing).
fn types(node: &Value) -> BTreeSet<String> {
    match node.get("type") {
        Some(Value::String(t)) => [t.clone()].into(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ if node.get("const").is_some() || node.get("enum").is_some() => {
            ["enumeration".into()].into()
        }
        _ => ["any".into()].into(),
    }
}

/// The fixed values an alternative allows, if it is an enumeration.
fn constants(node: &Value) -> Option<Vec<Value>> {
    if let Some(c) = node.get("const") {
        return Some(vec![c.clone()]);
    }
    node.get("enum").and_then(Value::as_array).cloned()
}

fn compare(base: &Side, cand: &Side, path: &str, problems: &mut Vec<String>) {
    let here = if path.is_empty() { "(root)" } else { path };
    let base_alts = base.alternatives();
    let cand_alts = cand.alternatives();
    let cand_types: BTreeSet<String> = cand_alts.iter().flat_map(|a| types(a.node)).collect();
    if cand_types.contains("any") {
        return;
    }

    // Sets of values: every value allowed before must still be allowed.
    let base_consts: Vec<Value> = base_alts
        .iter()
        .filter_map(|a| constants(a.node))
        .flatten()
        .collect();
    let cand_consts: Option<Vec<Value>> = {
        let all: Vec<_> = cand_alts.iter().map(|a| constants(a.node)).collect();
        all.iter()
            .all(Option::is_some)
            .then(|| all.into_iter().flatten().flatten().collect())
    };
    if let Some(cand_consts) = &cand_consts {
        let open_before = base_alts
            .iter()
            .any(|a| constants(a.node).is_none() && !types(a.node).contains("null"));
        if open_before {
            problems.push(format!("{here}: narrowed to a fixed set of values"));
        }
        for value in &base_consts {
            if !cand_consts.contains(value) {
                problems.push(format!("{here}: value {value} is no longer allowed"));
            }
        }
    }

    for alt in &base_alts {
        for ty in types(alt.node) {
            if ty == "enumeration" || ty == "any" {
                continue;
            }
            let widened =
                cand_types.contains(&ty) || (ty == "integer" && cand_types.contains("number"));
            if !widened {
                let what = if ty == "null" {
                    "no longer nullable".to_owned()
                } else {
                    format!("no longer accepts {ty}")
                };
                problems.push(format!("{here}: {what}"));
                continue;
            }
            let Some(other) = cand_alts.iter().find(|c| types(c.node).contains(&ty)) else {
                continue;
            };
            for constraint in ["format", "pattern"] {
                let before = alt.node.get(constraint);
                if let Some(after) = other.node.get(constraint) {
                    if before != Some(after) {
                        problems.push(format!("{here}: {constraint} narrowed to {after}"));
                    }
                }
            }
            match ty.as_str() {
                "object" => compare_objects(alt, other, path, problems),
                "array" => {
                    if let (Some(a), Some(b)) = (alt.node.get("items"), other.node.get("items")) {
                        compare(&alt.at(a), &other.at(b), &format!("{path}[]"), problems);
                    }
                }
                _ => {}
            }
        }
    }
}

fn compare_objects(base: &Side, cand: &Side, path: &str, problems: &mut Vec<String>) {
    let empty = Map::new();
    let base_props = base
        .node
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let cand_props = cand
        .node
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required = |side: &Side| -> BTreeSet<String> {
        side.node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (base_required, cand_required) = (required(base), required(cand));
    let child = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };

    for (name, schema) in base_props {
        match cand_props.get(name) {
            None => problems.push(format!("{}: removed", child(name))),
            Some(other) => compare(&base.at(schema), &cand.at(other), &child(name), problems),
        }
    }
    for name in cand_required.difference(&base_required) {
        problems.push(format!("{}: newly required", child(name)));
    }
    if cand.node.get("additionalProperties") == Some(&Value::Bool(false))
        && base.node.get("additionalProperties") != Some(&Value::Bool(false))
    {
        problems.push(format!(
            "{}: unknown fields newly refused",
            if path.is_empty() { "(root)" } else { path }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent() -> Value {
        event_schema(EventType::EnvelopeSent)
    }

    #[test]
    fn a_schema_is_compatible_with_itself() {
        for (name, schema) in all() {
            assert_eq!(
                breaking_changes(&schema, &schema),
                Vec::<String>::new(),
                "{name}"
            );
        }
    }

    #[test]
    fn adding_an_optional_field_is_additive() {
        let mut candidate = sent();
        candidate["properties"]["data"]["properties"]["brandId"] =
            json!({"type": ["string", "null"]});
        assert!(breaking_changes(&sent(), &candidate).is_empty());
    }

    #[test]
    fn removing_a_field_is_caught() {
        let mut candidate = sent();
        candidate["properties"]["data"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("message");
        assert_eq!(
            breaking_changes(&sent(), &candidate),
            vec!["data.message: removed"]
        );
    }

    #[test]
    fn a_newly_required_field_is_caught() {
        let mut candidate = sent();
        candidate["properties"]["data"]["required"]
            .as_array_mut()
            .unwrap()
            .push(json!("message"));
        assert_eq!(
            breaking_changes(&sent(), &candidate),
            vec!["data.message: newly required"]
        );
    }

    #[test]
    fn a_narrowed_type_or_set_is_caught() {
        let mut candidate = sent();
        candidate["properties"]["data"]["properties"]["message"] = json!({"type": "string"});
        assert_eq!(
            breaking_changes(&sent(), &candidate),
            vec!["data.message: no longer nullable"]
        );

        let mut candidate = sent();
        candidate["properties"]["source"] = json!({"type": "string", "format": "uri"});
        assert_eq!(
            breaking_changes(&sent(), &candidate),
            vec!["source: format narrowed to \"uri\""]
        );

        let mut candidate = sent();
        candidate["$defs"]["RecipientRole"] = json!({"type": "string", "enum": ["signer", "cc"]});
        let problems = breaking_changes(&sent(), &candidate);
        assert_eq!(
            problems,
            vec!["data.recipients[].role: value \"approver\" is no longer allowed"]
        );
    }

    #[test]
    fn widening_is_additive() {
        let mut candidate = sent();
        candidate["$defs"]["RecipientRole"] =
            json!({"type": "string", "enum": ["signer", "cc", "approver", "witness"]});
        assert!(
            breaking_changes(&sent(), &candidate).is_empty(),
            "{:?}",
            breaking_changes(&sent(), &candidate)
        );
    }
}
