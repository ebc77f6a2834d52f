//! Typed payloads, one per event type.
//!
//! Each struct mirrors the specification's `data` object in camelCase. Fields the specification
//! allows to be null are `Option`; every other field is required. Personal values use the
//! redacting types of [`crate::personal`].

use crate::personal::{Email, IpAddress, Phone, Secret};
use crate::routing::EventType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The typed `data` of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    EnvelopeSent(EnvelopeSent),
    EnvelopeViewed(EnvelopeViewed),
    EnvelopeRecipientSigned(EnvelopeRecipientSigned),
}

impl Payload {
    /// Types the `data` object of an event of the given type, reporting the path of the first
    /// field that is wrong.
    pub(crate) fn from_data(
        event_type: EventType,
        data: &serde_json::Value,
    ) -> Result<Self, serde_path_to_error::Error<serde_json::Error>> {
        use serde_path_to_error::deserialize as typed;
        Ok(match event_type {
            EventType::EnvelopeSent => Payload::EnvelopeSent(typed(data)?),
            EventType::EnvelopeViewed => Payload::EnvelopeViewed(typed(data)?),
            EventType::EnvelopeRecipientSigned => Payload::EnvelopeRecipientSigned(typed(data)?),
        })
    }

    /// The payload as a JSON object.
    pub(crate) fn to_value(&self) -> serde_json::Value {
        match self {
            Payload::EnvelopeSent(p) => serde_json::to_value(p),
            Payload::EnvelopeViewed(p) => serde_json::to_value(p),
            Payload::EnvelopeRecipientSigned(p) => serde_json::to_value(p),
        }
        .expect("typed payloads always serialise")
    }

    /// The event type this payload belongs to.
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::EnvelopeSent(_) => EventType::EnvelopeSent,
            Payload::EnvelopeViewed(_) => EventType::EnvelopeViewed,
            Payload::EnvelopeRecipientSigned(_) => EventType::EnvelopeRecipientSigned,
        }
    }

    /// The key that orders events: the SNS/SQS `MessageGroupId`. Events about one envelope share
    /// it, so they are delivered one after another.
    pub fn partition_key(&self) -> String {
        match self {
            Payload::EnvelopeSent(p) => p.envelope_id.to_string(),
            Payload::EnvelopeViewed(p) => p.envelope_id.to_string(),
            Payload::EnvelopeRecipientSigned(p) => p.envelope_id.to_string(),
        }
    }

    /// Business rules that the field types alone can't express.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        match self {
            Payload::EnvelopeSent(p) => p.check(),
            Payload::EnvelopeViewed(_) | Payload::EnvelopeRecipientSigned(_) => Ok(()),
        }
    }
}

/// How recipients are asked to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningOrder {
    /// Everyone at once.
    Parallel,
    /// One after another, by each recipient's `signingOrder`.
    Sequential,
}

/// What a recipient does with the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientRole {
    Signer,
    /// Receives a copy; takes no action.
    Cc,
    Approver,
}

impl RecipientRole {
    /// Signers and approvers must act before the envelope completes; cc recipients don't.
    pub fn acts(self) -> bool {
        matches!(self, RecipientRole::Signer | RecipientRole::Approver)
    }
}

/// A recipient as `envelope.sent` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    #[serde(default)]
    pub phone: Option<Phone>,
    pub role: RecipientRole,
    pub signing_order: u32,
    /// A second factor the sender shares out of band; never put in a message or a log.
    #[serde(default)]
    pub access_code: Option<Secret>,
}

/// A document attached to an envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRef {
    pub document_id: Uuid,
    pub name: String,
    pub page_count: u32,
}

/// `envelope.sent`: the sender has sent an envelope to its recipients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeSent {
    pub envelope_id: Uuid,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    #[serde(default)]
    pub message: Option<String>,
    pub recipients: Vec<Recipient>,
    pub documents: Vec<DocumentRef>,
    pub signing_order: SigningOrder,
    #[serde(default, with = "crate::event::rfc3339_opt")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::event::rfc3339")]
    pub sent_at: DateTime<Utc>,
}

impl EnvelopeSent {
    fn check(&self) -> Result<(), (String, String)> {
        if self.recipients.is_empty() {
            return Err((
                "data.recipients".into(),
                "must list at least one recipient".into(),
            ));
        }
        if !self.recipients.iter().any(|r| r.role.acts()) {
            return Err((
                "data.recipients".into(),
                "must hold at least one signer or approver".into(),
            ));
        }
        if let Some(i) = self.recipients.iter().position(|r| r.signing_order == 0) {
            return Err((
                format!("data.recipients[{i}].signingOrder"),
                "must be 1 or more".into(),
            ));
        }
        if let Some(expires) = self.expires_at {
            if expires <= self.sent_at {
                return Err(("data.expiresAt".into(), "must be later than sentAt".into()));
            }
        }
        Ok(())
    }

    /// The recipients who are asked to act now: every signer and approver when signing is
    /// parallel; in sequential order, those sharing the lowest `signingOrder`.
    pub fn first_to_act(&self) -> Vec<&Recipient> {
        let acting = self.recipients.iter().filter(|r| r.role.acts());
        match self.signing_order {
            SigningOrder::Parallel => acting.collect(),
            SigningOrder::Sequential => {
                let first = acting.clone().map(|r| r.signing_order).min();
                acting.filter(|r| Some(r.signing_order) == first).collect()
            }
        }
    }
}

/// Where a device was, as far as its IP address tells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Geolocation {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
}

/// The kind of device a recipient used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
}

/// The device a recipient signed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub device_type: DeviceType,
    pub os: String,
    pub browser: String,
}

/// `envelope.viewed`: a recipient opened the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeViewed {
    pub envelope_id: Uuid,
    pub recipient_id: Uuid,
    pub recipient_name: String,
    pub recipient_email: Email,
    #[serde(with = "crate::event::rfc3339")]
    pub viewed_at: DateTime<Utc>,
    pub ip_address: IpAddress,
    pub user_agent: String,
    #[serde(default)]
    pub geolocation: Option<Geolocation>,
}

/// `envelope.recipient.signed`: a recipient signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeRecipientSigned {
    pub envelope_id: Uuid,
    pub recipient_id: Uuid,
    pub recipient_name: String,
    pub recipient_email: Email,
    pub signing_order: u32,
    pub fields_completed: u32,
    #[serde(with = "crate::event::rfc3339")]
    pub signed_at: DateTime<Utc>,
    pub ip_address: IpAddress,
    pub user_agent: String,
    #[serde(default)]
    pub geolocation: Option<Geolocation>,
    pub device_info: DeviceInfo,
}
