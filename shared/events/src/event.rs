//! The common event envelope and the parser that turns bytes into a typed [`Event`].

use crate::catalogue::{DataError, Payload};
use crate::routing::EventType;
use crate::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use uuid::Uuid;

/// Who caused an event and how it relates to others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The user on whose behalf the event happened; null for system actions.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    /// Shared by every event of one business flow.
    pub correlation_id: Uuid,
    /// The event that caused this one; null for an event a person started.
    #[serde(default)]
    pub causation_id: Option<Uuid>,
}

/// A parsed, validated event.
///
/// The `data` object is kept exactly as received next to its typed form, and unknown top-level
/// and `metadata` fields are kept too, so that re-publishing or storing an event never drops a
/// field added by a newer publisher (the additive-change rule).
///
/// `Debug` leaves out `data`, the typed payload and every unknown field: they hold secrets and
/// personal data, and an event printed with `?event` must not leak them into a log.
#[derive(Clone, PartialEq)]
pub struct Event {
    pub event_id: Uuid,
    /// The wire type, version included (`envelope.sent` or `envelope.sent.v2`).
    pub event_type: EventType,
    pub version: String,
    pub timestamp: Timestamp,
    pub source: String,
    pub trace_id: String,
    pub metadata: Metadata,
    pub payload: Payload,
    data: Value,
    extra: Map<String, Value>,
    /// Unknown members of `metadata`. Kept here rather than in [`Metadata`] so that its fields
    /// stay public and it can still be built field by field.
    metadata_extra: Map<String, Value>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type.name())
            .field("version", &self.version)
            .field("timestamp", &self.timestamp)
            .field("source", &self.source)
            .field("trace_id", &self.trace_id)
            .field("metadata", &self.metadata)
            .field("data", &format_args!("<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Why bytes could not become an [`Event`]. Each message names the event id (when one could be
/// read) and the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    #[error("event {event_id}: {path}: {message}")]
    Invalid {
        event_id: String,
        path: String,
        message: String,
    },
    #[error("event {event_id}: unknown event type '{event_type}'")]
    UnknownType {
        event_id: String,
        event_type: String,
    },
    #[error(
        "event {event_id}: unsupported version '{version}' of {event_type} (expected {expected}.x)"
    )]
    UnsupportedVersion {
        event_id: String,
        event_type: String,
        version: String,
        expected: u32,
    },
}

impl EventError {
    /// The event's id, when the bytes held a valid one.
    pub fn event_id(&self) -> Option<&str> {
        let id = match self {
            EventError::NotJson(_) => return None,
            EventError::Invalid { event_id, .. }
            | EventError::UnknownType { event_id, .. }
            | EventError::UnsupportedVersion { event_id, .. } => event_id.as_str(),
        };
        Uuid::parse_str(id).is_ok().then_some(id)
    }

    /// A short, stable name of the kind of error, for metrics and dead-letter attributes.
    pub fn kind(&self) -> &'static str {
        match self {
            EventError::NotJson(_) => "not_json",
            EventError::Invalid { .. } => "invalid",
            EventError::UnknownType { .. } => "unknown_type",
            EventError::UnsupportedVersion { .. } => "unsupported_version",
        }
    }
}

/// The envelope as it is on the wire, before the payload is typed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(deserialize_with = "crate::ids::strict")]
    event_id: Uuid,
    event_type: String,
    version: String,
    timestamp: Timestamp,
    source: String,
    trace_id: String,
    data: Value,
    metadata: WireMetadata,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// [`Metadata`] as it is on the wire, unknown members included. Named `Metadata` so that an
/// error about its type reads as before.
#[derive(Deserialize)]
#[serde(rename = "Metadata", rename_all = "camelCase")]
struct WireMetadata {
    #[serde(default, deserialize_with = "crate::ids::optional")]
    user_id: Option<Uuid>,
    #[serde(deserialize_with = "crate::ids::strict")]
    correlation_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    causation_id: Option<Uuid>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl WireMetadata {
    /// The known fields and the unknown ones apart. The struct literal makes a field added to
    /// [`Metadata`] fail to compile here until it is read from the wire too.
    fn split(self) -> (Metadata, Map<String, Value>) {
        let metadata = Metadata {
            user_id: self.user_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
        };
        (metadata, self.extra)
    }
}

/// The UUID namespace of derived event ids.
const CAUSED_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3c8a_52e4_4b7a_9c0e_1f2a_3b4c_5d6e);

/// A value from the event as it may be shown in an error: itself when it has the shape such
/// a value has, a placeholder otherwise (it could be anything, personal data included).
fn shown(value: &str, shaped: impl Fn(&str) -> bool) -> String {
    if shaped(value) {
        value.to_owned()
    } else {
        "<unreadable>".to_owned()
    }
}

/// An event type name's shape: dotted segments of lowercase letters, digits and `_`, each
/// starting with a letter (`envelope.sent.v2`). A dotted number such as an IP address is not.
fn type_shaped(value: &str) -> bool {
    value.len() <= 64
        && value.split('.').all(|segment| {
            segment.starts_with(|c: char| c.is_ascii_lowercase())
                && segment
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// A version's shape, right or wrong (`1.0`, `v1`, `2`): a few lowercase letters and digits
/// with at most one dot. A long run of digits (a phone number) or a dotted quad (an IP address)
/// is not.
fn version_shaped(value: &str) -> bool {
    let longest_digit_run = value
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    (1..=9).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.')
        && value.matches('.').count() <= 1
        && longest_digit_run <= 4
}

/// Reads `"M.m"` and returns `M`.
fn major_of(version: &str) -> Option<u32> {
    let (major, minor) = version.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor))
        .then(|| major.parse().ok())
        .flatten()
}

impl Event {
    /// Builds a new event around a payload, stamped now with a fresh id, in the newest version
    /// of its type.
    pub fn new(payload: Payload, source: &str, trace_id: &str, metadata: Metadata) -> Self {
        let event_type = payload.event_type();
        Self {
            event_id: Uuid::new_v4(),
            event_type,
            version: format!("{}.0", event_type.major()),
            timestamp: Timestamp::now(),
            source: source.into(),
            trace_id: trace_id.into(),
            metadata,
            data: payload.to_value(),
            payload,
            extra: Map::new(),
            metadata_extra: Map::new(),
        }
    }

    /// A new event caused by this one: same `traceId` and `correlationId`, and this event as its
    /// `causationId`.
    pub fn caused(&self, payload: Payload, source: &str) -> Self {
        let metadata = Metadata {
            user_id: self.metadata.user_id,
            correlation_id: self.metadata.correlation_id,
            causation_id: Some(self.event_id),
        };
        Self::new(payload, source, &self.trace_id, metadata)
    }

    /// [`Event::caused`] with an id derived from the cause's id and the new event's type, so
    /// that a handler that runs again after a partial failure publishes the same event, which
    /// SNS's deduplication and the consumers' idempotency records then recognise.
    pub fn caused_once(&self, payload: Payload, source: &str) -> Self {
        self.caused_as(payload, source, "")
    }

    /// [`Event::caused_once`] for an event that causes several of one type: `key` tells them
    /// apart (a notification's id, say).
    pub fn caused_as(&self, payload: Payload, source: &str, key: &str) -> Self {
        let mut event = self.caused(payload, source);
        let name = format!("{}/{}/{key}", self.event_id, event.event_type.name());
        event.event_id = Uuid::new_v5(&CAUSED_NAMESPACE, name.as_bytes());
        event
    }

    /// Parses and validates an event from JSON bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::NotJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Parses and validates an event from a JSON value.
    pub fn from_value(value: Value) -> Result<Self, EventError> {
        let Value::Object(ref object) = value else {
            return Err(EventError::NotJson(format!(
                "expected an object, found {}",
                kind(&value)
            )));
        };
        // Named in every error, so only when it is what it must be: a text that is not a UUID
        // could be anything, personal data included.
        let event_id = match object.get("eventId") {
            None | Some(Value::Null) => "<no eventId>".to_owned(),
            Some(Value::String(id)) if crate::ids::parse(id).is_some() => id.clone(),
            Some(_) => "<invalid eventId>".to_owned(),
        };
        let invalid = |path: String, message: String| EventError::Invalid {
            event_id: event_id.clone(),
            path,
            message,
        };

        // By value, so that `data` and unknown fields move into the event rather than copy.
        let wire: Wire =
            serde_path_to_error::deserialize(value).map_err(|e| located(e, "", &invalid))?;
        for (path, text) in [("source", &wire.source), ("traceId", &wire.trace_id)] {
            // Zero-width spaces and a byte-order mark are as empty as spaces are.
            let invisible = |c: char| {
                c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
            };
            if text.chars().all(invisible) {
                return Err(invalid(path.into(), "must not be empty".into()));
            }
        }

        let event_type =
            EventType::from_name(&wire.event_type).ok_or_else(|| EventError::UnknownType {
                event_id: event_id.clone(),
                event_type: shown(&wire.event_type, type_shaped),
            })?;
        if major_of(&wire.version) != Some(event_type.major()) {
            return Err(EventError::UnsupportedVersion {
                event_id,
                event_type: wire.event_type,
                version: shown(&wire.version, version_shaped),
                expected: event_type.major(),
            });
        }

        if !wire.data.is_object() {
            return Err(invalid("data".into(), "must be an object".into()));
        }
        let payload = Payload::from_data(event_type, &wire.data).map_err(|e| match e {
            DataError::Serde(e) => located(e, "data", &invalid),
            DataError::Rule(path, message) => invalid(path, message),
        })?;

        let (metadata, metadata_extra) = wire.metadata.split();
        Ok(Self {
            event_id: wire.event_id,
            event_type,
            version: wire.version,
            timestamp: wire.timestamp,
            source: wire.source,
            trace_id: wire.trace_id,
            metadata,
            payload,
            data: wire.data,
            extra: wire.extra,
            metadata_extra,
        })
    }

    /// The `MessageGroupId` the event is published with.
    pub fn partition_key(&self) -> String {
        self.payload.partition_key()
    }

    /// The `data` object as received (unknown fields included).
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The event as a JSON value, with its timestamp in UTC to the millisecond and every unknown
    /// field it arrived with, at the top level and in `metadata`.
    pub fn to_value(&self) -> Value {
        let Value::Object(mut metadata) =
            serde_json::to_value(&self.metadata).expect("metadata serialises")
        else {
            unreachable!("metadata serialises to an object")
        };
        for (key, value) in &self.metadata_extra {
            // A known field always wins, as at the top level.
            metadata.entry(key).or_insert_with(|| value.clone());
        }
        let mut object = self.extra.clone();
        let fields = [
            ("eventId", Value::String(self.event_id.to_string())),
            ("eventType", Value::String(self.event_type.name().into())),
            ("version", Value::String(self.version.clone())),
            ("timestamp", Value::String(self.timestamp.to_string())),
            ("source", Value::String(self.source.clone())),
            ("traceId", Value::String(self.trace_id.clone())),
            ("data", self.data.clone()),
            ("metadata", Value::Object(metadata)),
        ];
        for (key, value) in fields {
            object.insert(key.into(), value);
        }
        Value::Object(object)
    }

    /// [`Event::to_value`] as text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turns a serde error with its path into our error, naming the missing field itself rather than
/// its parent and saying what is wrong in plain words.
fn located(
    error: serde_path_to_error::Error<serde_json::Error>,
    prefix: &str,
    invalid: &dyn Fn(String, String) -> EventError,
) -> EventError {
    let mut path = error.path().to_string();
    if path == "." {
        path.clear();
    }
    let mut message = error.inner().to_string();
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        path = join(&path, field);
        message = "is required".into();
    } else if message.starts_with("invalid type: null") {
        message = "must not be null".into();
    } else if message.starts_with("invalid type: ") || message.starts_with("invalid value: ") {
        // serde echoes the offending value, which may be personal data; keep only what was
        // expected.
        let expected = message
            .split(", expected ")
            .nth(1)
            .unwrap_or("another type");
        message = match expected {
            "u32" | "u64" => "must be a non-negative integer".into(),
            uuid if uuid.contains("UUID") => "must be a UUID".into(),
            "a boolean" => "must be true or false".into(),
            // serde names the Rust type it wanted; the contract only knows JSON's kinds.
            s if s.starts_with("struct ") || s == "a map" => "must be an object".into(),
            s if s.starts_with("a sequence") => "must be an array".into(),
            other => format!("must be {other}"),
        };
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        // The value given is echoed by serde; only the allowed ones are kept.
        let expected = rest.split(", expected ").nth(1).unwrap_or("another value");
        message = format!("must be {expected}");
    } else if message.starts_with("UUID parsing failed")
        || message.starts_with("invalid character")
        || message.starts_with("invalid length")
        || message.starts_with("invalid group")
    {
        message = "must be a UUID".into();
    }
    invalid(join(prefix, &path), message)
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.into(),
        (_, true) => a.into(),
        _ if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}
