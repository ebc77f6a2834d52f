//! Typed payloads: the `data` object of every event type and version.
//!
//! Each wire struct mirrors the specification's `data` in camelCase. Fields the specification
//! allows to be null are `Option` with `#[serde(default)]`, so null and absent are both
//! accepted; every other field is required and non-null. Unknown fields are ignored here and
//! kept by [`crate::Event`] in the raw `data`. Personal values use the redacting types of
//! [`crate::personal`].
//!
//! Most types are read straight into their wire struct. `envelope.sent` has two wire versions
//! that are read into one model, [`EnvelopeSent`], so consumers handle both the same way.

pub mod audit;
pub mod document;
pub mod envelope;
pub mod notification;
pub mod system;

pub use audit::*;
pub use document::*;
pub use envelope::*;
pub use notification::*;
pub use system::*;

use crate::routing::EventType;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Business rules that field types alone can't express. The error is a field path and what is
/// wrong with it.
pub(crate) trait Check {
    fn check(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// Where a device was, as far as its IP address tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Geolocation {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

impl Check for EnvelopeCreated {}
impl Check for EnvelopeViewed {}
impl Check for EnvelopeRecipientSigned {}
impl Check for EnvelopeDeclined {}
impl Check for EnvelopeVoided {}
impl Check for EnvelopeExpired {}
impl Check for DocumentUploaded {}
impl Check for DocumentProcessingFailed {}
impl Check for DocumentDeleted {}
impl Check for NotificationQueued {}
impl Check for NotificationSent {}
impl Check for NotificationDelivered {}
impl Check for AuditTamperingDetected {}
impl Check for UserRegistered {}
impl Check for UserVerified {}
impl Check for UserPasswordReset {}

/// The typed `data` of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    EnvelopeCreated(EnvelopeCreated),
    /// `envelope.sent` and `envelope.sent.v2`.
    EnvelopeSent(EnvelopeSent),
    EnvelopeViewed(EnvelopeViewed),
    EnvelopeRecipientSigned(EnvelopeRecipientSigned),
    EnvelopeCompleted(EnvelopeCompleted),
    EnvelopeDeclined(EnvelopeDeclined),
    EnvelopeVoided(EnvelopeVoided),
    EnvelopeExpired(EnvelopeExpired),
    EnvelopeReminderSent(EnvelopeReminderSent),
    DocumentUploaded(DocumentUploaded),
    DocumentProcessingStarted(DocumentProcessingStarted),
    DocumentReady(DocumentReady),
    DocumentProcessingFailed(DocumentProcessingFailed),
    DocumentDeleted(DocumentDeleted),
    NotificationQueued(NotificationQueued),
    NotificationSent(NotificationSent),
    NotificationDelivered(NotificationDelivered),
    NotificationFailed(NotificationFailed),
    AuditEventLogged(AuditEventLogged),
    AuditTamperingDetected(AuditTamperingDetected),
    CertificateGenerated(CertificateGenerated),
    UserRegistered(UserRegistered),
    UserVerified(UserVerified),
    UserPasswordReset(UserPasswordReset),
    UserAccountLocked(UserAccountLocked),
}

/// Runs `$body` with `$p` bound to the payload struct, whatever the variant.
macro_rules! each {
    ($payload:expr, $p:ident => $body:expr) => {
        match $payload {
            Payload::EnvelopeCreated($p) => $body,
            Payload::EnvelopeSent($p) => $body,
            Payload::EnvelopeViewed($p) => $body,
            Payload::EnvelopeRecipientSigned($p) => $body,
            Payload::EnvelopeCompleted($p) => $body,
            Payload::EnvelopeDeclined($p) => $body,
            Payload::EnvelopeVoided($p) => $body,
            Payload::EnvelopeExpired($p) => $body,
            Payload::EnvelopeReminderSent($p) => $body,
            Payload::DocumentUploaded($p) => $body,
            Payload::DocumentProcessingStarted($p) => $body,
            Payload::DocumentReady($p) => $body,
            Payload::DocumentProcessingFailed($p) => $body,
            Payload::DocumentDeleted($p) => $body,
            Payload::NotificationQueued($p) => $body,
            Payload::NotificationSent($p) => $body,
            Payload::NotificationDelivered($p) => $body,
            Payload::NotificationFailed($p) => $body,
            Payload::AuditEventLogged($p) => $body,
            Payload::AuditTamperingDetected($p) => $body,
            Payload::CertificateGenerated($p) => $body,
            Payload::UserRegistered($p) => $body,
            Payload::UserVerified($p) => $body,
            Payload::UserPasswordReset($p) => $body,
            Payload::UserAccountLocked($p) => $body,
        }
    };
}

/// Runs `$body` with `$W` as the wire struct of an event type (a generic-free dispatch table).
macro_rules! wire {
    ($event_type:expr, $W:ident => $body:expr) => {
        match $event_type {
            EventType::EnvelopeCreated => {
                type $W = EnvelopeCreated;
                $body
            }
            EventType::EnvelopeSent => {
                type $W = EnvelopeSentV1;
                $body
            }
            EventType::EnvelopeSentV2 => {
                type $W = EnvelopeSentV2;
                $body
            }
            EventType::EnvelopeViewed => {
                type $W = EnvelopeViewed;
                $body
            }
            EventType::EnvelopeRecipientSigned => {
                type $W = EnvelopeRecipientSigned;
                $body
            }
            EventType::EnvelopeCompleted => {
                type $W = EnvelopeCompleted;
                $body
            }
            EventType::EnvelopeDeclined => {
                type $W = EnvelopeDeclined;
                $body
            }
            EventType::EnvelopeVoided => {
                type $W = EnvelopeVoided;
                $body
            }
            EventType::EnvelopeExpired => {
                type $W = EnvelopeExpired;
                $body
            }
            EventType::EnvelopeReminderSent => {
                type $W = EnvelopeReminderSent;
                $body
            }
            EventType::DocumentUploaded => {
                type $W = DocumentUploaded;
                $body
            }
            EventType::DocumentProcessingStarted => {
                type $W = DocumentProcessingStarted;
                $body
            }
            EventType::DocumentReady => {
                type $W = DocumentReady;
                $body
            }
            EventType::DocumentProcessingFailed => {
                type $W = DocumentProcessingFailed;
                $body
            }
            EventType::DocumentDeleted => {
                type $W = DocumentDeleted;
                $body
            }
            EventType::NotificationQueued => {
                type $W = NotificationQueued;
                $body
            }
            EventType::NotificationSent => {
                type $W = NotificationSent;
                $body
            }
            EventType::NotificationDelivered => {
                type $W = NotificationDelivered;
                $body
            }
            EventType::NotificationFailed => {
                type $W = NotificationFailed;
                $body
            }
            EventType::AuditEventLogged => {
                type $W = AuditEventLogged;
                $body
            }
            EventType::AuditTamperingDetected => {
                type $W = AuditTamperingDetected;
                $body
            }
            EventType::CertificateGenerated => {
                type $W = CertificateGenerated;
                $body
            }
            EventType::UserRegistered => {
                type $W = UserRegistered;
                $body
            }
            EventType::UserVerified => {
                type $W = UserVerified;
                $body
            }
            EventType::UserPasswordReset => {
                type $W = UserPasswordReset;
                $body
            }
            EventType::UserAccountLocked => {
                type $W = UserAccountLocked;
                $body
            }
        }
    };
}

/// Wraps a wire struct into its payload variant.
trait IntoPayload {
    fn into_payload(self) -> Payload;
}

macro_rules! into_payload {
    ($($variant:ident($wire:ty)),* $(,)?) => {
        $(impl IntoPayload for $wire {
            fn into_payload(self) -> Payload {
                Payload::$variant(self.into())
            }
        })*
    };
}

into_payload!(
    EnvelopeCreated(EnvelopeCreated),
    EnvelopeSent(EnvelopeSentV1),
    EnvelopeSent(EnvelopeSentV2),
    EnvelopeViewed(EnvelopeViewed),
    EnvelopeRecipientSigned(EnvelopeRecipientSigned),
    EnvelopeCompleted(EnvelopeCompleted),
    EnvelopeDeclined(EnvelopeDeclined),
    EnvelopeVoided(EnvelopeVoided),
    EnvelopeExpired(EnvelopeExpired),
    EnvelopeReminderSent(EnvelopeReminderSent),
    DocumentUploaded(DocumentUploaded),
    DocumentProcessingStarted(DocumentProcessingStarted),
    DocumentReady(DocumentReady),
    DocumentProcessingFailed(DocumentProcessingFailed),
    DocumentDeleted(DocumentDeleted),
    NotificationQueued(NotificationQueued),
    NotificationSent(NotificationSent),
    NotificationDelivered(NotificationDelivered),
    NotificationFailed(NotificationFailed),
    AuditEventLogged(AuditEventLogged),
    AuditTamperingDetected(AuditTamperingDetected),
    CertificateGenerated(CertificateGenerated),
    UserRegistered(UserRegistered),
    UserVerified(UserVerified),
    UserPasswordReset(UserPasswordReset),
    UserAccountLocked(UserAccountLocked),
);

/// A field that a version must not carry although older versions did.
fn forbidden_in_v2(data: &Value) -> Option<String> {
    let recipients = data.get("recipients")?.as_array()?;
    recipients
        .iter()
        .position(|r| r.get("accessCode").is_some())
        .map(|i| format!("data.recipients[{i}].accessCode"))
}

impl Payload {
    /// Types the `data` object of an event of the given type and version. The error is either
    /// serde's (with the path of the first wrong field) or a rule's (path, message).
    pub(crate) fn from_data(event_type: EventType, data: &Value) -> Result<Self, DataError> {
        if event_type == EventType::EnvelopeSentV2 {
            if let Some(path) = forbidden_in_v2(data) {
                return Err(DataError::Rule(
                    path,
                    "must not be sent in envelope.sent.v2: access codes no longer travel on the bus".into(),
                ));
            }
        }
        let payload = wire!(event_type, W => {
            serde_path_to_error::deserialize::<_, W>(data).map_err(DataError::Serde)?.into_payload()
        });
        each!(&payload, p => p.check())
            .map_err(|(path, message)| DataError::Rule(path, message))?;
        Ok(payload)
    }

    /// The wire type new events of this payload are published as (the newest version).
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::EnvelopeCreated(_) => EventType::EnvelopeCreated,
            Payload::EnvelopeSent(_) => EventType::EnvelopeSentV2,
            Payload::EnvelopeViewed(_) => EventType::EnvelopeViewed,
            Payload::EnvelopeRecipientSigned(_) => EventType::EnvelopeRecipientSigned,
            Payload::EnvelopeCompleted(_) => EventType::EnvelopeCompleted,
            Payload::EnvelopeDeclined(_) => EventType::EnvelopeDeclined,
            Payload::EnvelopeVoided(_) => EventType::EnvelopeVoided,
            Payload::EnvelopeExpired(_) => EventType::EnvelopeExpired,
            Payload::EnvelopeReminderSent(_) => EventType::EnvelopeReminderSent,
            Payload::DocumentUploaded(_) => EventType::DocumentUploaded,
            Payload::DocumentProcessingStarted(_) => EventType::DocumentProcessingStarted,
            Payload::DocumentReady(_) => EventType::DocumentReady,
            Payload::DocumentProcessingFailed(_) => EventType::DocumentProcessingFailed,
            Payload::DocumentDeleted(_) => EventType::DocumentDeleted,
            Payload::NotificationQueued(_) => EventType::NotificationQueued,
            Payload::NotificationSent(_) => EventType::NotificationSent,
            Payload::NotificationDelivered(_) => EventType::NotificationDelivered,
            Payload::NotificationFailed(_) => EventType::NotificationFailed,
            Payload::AuditEventLogged(_) => EventType::AuditEventLogged,
            Payload::AuditTamperingDetected(_) => EventType::AuditTamperingDetected,
            Payload::CertificateGenerated(_) => EventType::CertificateGenerated,
            Payload::UserRegistered(_) => EventType::UserRegistered,
            Payload::UserVerified(_) => EventType::UserVerified,
            Payload::UserPasswordReset(_) => EventType::UserPasswordReset,
            Payload::UserAccountLocked(_) => EventType::UserAccountLocked,
        }
    }

    /// The payload as the JSON `data` of [`Payload::event_type`].
    pub(crate) fn to_value(&self) -> Value {
        let value = match self {
            Payload::EnvelopeSent(p) => serde_json::to_value(p.to_v2()),
            Payload::EnvelopeCreated(p) => serde_json::to_value(p),
            Payload::EnvelopeViewed(p) => serde_json::to_value(p),
            Payload::EnvelopeRecipientSigned(p) => serde_json::to_value(p),
            Payload::EnvelopeCompleted(p) => serde_json::to_value(p),
            Payload::EnvelopeDeclined(p) => serde_json::to_value(p),
            Payload::EnvelopeVoided(p) => serde_json::to_value(p),
            Payload::EnvelopeExpired(p) => serde_json::to_value(p),
            Payload::EnvelopeReminderSent(p) => serde_json::to_value(p),
            Payload::DocumentUploaded(p) => serde_json::to_value(p),
            Payload::DocumentProcessingStarted(p) => serde_json::to_value(p),
            Payload::DocumentReady(p) => serde_json::to_value(p),
            Payload::DocumentProcessingFailed(p) => serde_json::to_value(p),
            Payload::DocumentDeleted(p) => serde_json::to_value(p),
            Payload::NotificationQueued(p) => serde_json::to_value(p),
            Payload::NotificationSent(p) => serde_json::to_value(p),
            Payload::NotificationDelivered(p) => serde_json::to_value(p),
            Payload::NotificationFailed(p) => serde_json::to_value(p),
            Payload::AuditEventLogged(p) => serde_json::to_value(p),
            Payload::AuditTamperingDetected(p) => serde_json::to_value(p),
            Payload::CertificateGenerated(p) => serde_json::to_value(p),
            Payload::UserRegistered(p) => serde_json::to_value(p),
            Payload::UserVerified(p) => serde_json::to_value(p),
            Payload::UserPasswordReset(p) => serde_json::to_value(p),
            Payload::UserAccountLocked(p) => serde_json::to_value(p),
        };
        value.expect("typed payloads always serialise")
    }

    /// The key that orders events: the SNS/SQS `MessageGroupId`. Events about one envelope share
    /// it; an event about no envelope is keyed by the document, notification or user it is
    /// about.
    pub fn partition_key(&self) -> String {
        let key = match self {
            Payload::EnvelopeCreated(p) => p.envelope_id,
            Payload::EnvelopeSent(p) => p.envelope_id,
            Payload::EnvelopeViewed(p) => p.envelope_id,
            Payload::EnvelopeRecipientSigned(p) => p.envelope_id,
            Payload::EnvelopeCompleted(p) => p.envelope_id,
            Payload::EnvelopeDeclined(p) => p.envelope_id,
            Payload::EnvelopeVoided(p) => p.envelope_id,
            Payload::EnvelopeExpired(p) => p.envelope_id,
            Payload::EnvelopeReminderSent(p) => p.envelope_id,
            Payload::DocumentUploaded(p) => p.envelope_id.unwrap_or(p.document_id),
            Payload::DocumentProcessingStarted(p) => p.envelope_id.unwrap_or(p.document_id),
            Payload::DocumentReady(p) => p.envelope_id.unwrap_or(p.document_id),
            Payload::DocumentProcessingFailed(p) => p.envelope_id.unwrap_or(p.document_id),
            Payload::DocumentDeleted(p) => p.envelope_id.unwrap_or(p.document_id),
            Payload::NotificationQueued(p) => p.envelope_id.unwrap_or(p.notification_id),
            Payload::NotificationSent(p) => p.envelope_id.unwrap_or(p.notification_id),
            Payload::NotificationDelivered(p) => p.envelope_id.unwrap_or(p.notification_id),
            Payload::NotificationFailed(p) => p.envelope_id.unwrap_or(p.notification_id),
            Payload::AuditEventLogged(p) => p.envelope_id,
            Payload::AuditTamperingDetected(p) => p.envelope_id,
            Payload::CertificateGenerated(p) => p.envelope_id,
            Payload::UserRegistered(p) => p.user_id,
            Payload::UserVerified(p) => p.user_id,
            Payload::UserPasswordReset(p) => p.user_id,
            Payload::UserAccountLocked(p) => p.user_id,
        };
        key.to_string()
    }

    /// The envelope the event is about, when it is about one.
    pub fn envelope_id(&self) -> Option<uuid::Uuid> {
        match self {
            Payload::UserRegistered(_)
            | Payload::UserVerified(_)
            | Payload::UserPasswordReset(_)
            | Payload::UserAccountLocked(_) => None,
            Payload::DocumentUploaded(p) => p.envelope_id,
            Payload::DocumentProcessingStarted(p) => p.envelope_id,
            Payload::DocumentReady(p) => p.envelope_id,
            Payload::DocumentProcessingFailed(p) => p.envelope_id,
            Payload::DocumentDeleted(p) => p.envelope_id,
            Payload::NotificationQueued(p) => p.envelope_id,
            Payload::NotificationSent(p) => p.envelope_id,
            Payload::NotificationDelivered(p) => p.envelope_id,
            Payload::NotificationFailed(p) => p.envelope_id,
            other => other.partition_key().parse().ok(),
        }
    }
}

/// Why a `data` object was refused.
pub(crate) enum DataError {
    Serde(serde_path_to_error::Error<serde_json::Error>),
    Rule(String, String),
}

/// The JSON Schema of an event type's `data`.
pub fn data_schema(event_type: EventType, generator: &mut SchemaGenerator) -> Schema {
    wire!(event_type, W => W::json_schema(generator))
}
