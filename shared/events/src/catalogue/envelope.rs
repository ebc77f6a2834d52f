//! Envelope events: the life of an envelope from creation to completion, decline, void or expiry.

use super::{Check, Geolocation};
use crate::personal::{Email, IpAddress, Phone, Secret};
use crate::time::{IsoDuration, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How recipients are asked to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningOrder {
    /// Everyone at once.
    Parallel,
    /// One after another, by each recipient's `signingOrder`.
    Sequential,
}

/// What a recipient does with the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// How a recipient proves who they are before signing (`envelope.sent.v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    None,
    AccessCode,
    Sms,
}

/// The kind of device a recipient used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Desktop,
    Mobile,
    Tablet,
}

/// The device a recipient used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub device_type: DeviceType,
    pub os: String,
    pub browser: String,
}

/// A document attached to an envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRef {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub document_id: Uuid,
    pub name: String,
    pub page_count: u32,
}

/// A recipient as `envelope.sent` v1 lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientV1 {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    #[serde(default)]
    pub phone: Option<Phone>,
    pub role: RecipientRole,
    pub signing_order: u32,
    /// A second factor the sender shares out of band. v2 no longer carries it.
    #[serde(default)]
    pub access_code: Option<Secret>,
}

/// A recipient as `envelope.sent.v2` lists it: no secret, and how the recipient authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientV2 {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    #[serde(default)]
    pub phone: Option<Phone>,
    pub role: RecipientRole,
    pub signing_order: u32,
    pub auth_method: AuthMethod,
}

/// `envelope.sent` version 1 on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeSentV1 {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    #[serde(default)]
    pub message: Option<String>,
    pub recipients: Vec<RecipientV1>,
    pub documents: Vec<DocumentRef>,
    pub signing_order: SigningOrder,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    pub sent_at: Timestamp,
}

/// `envelope.sent.v2` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeSentV2 {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    #[serde(default)]
    pub message: Option<String>,
    pub recipients: Vec<RecipientV2>,
    pub documents: Vec<DocumentRef>,
    pub signing_order: SigningOrder,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    pub sent_at: Timestamp,
}

/// A recipient of a sent envelope, whichever version announced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: RecipientRole,
    pub signing_order: u32,
    pub auth_method: AuthMethod,
}

/// `envelope.sent`, both versions, as consumers see it. v1's access codes are not carried over:
/// a recipient that had one authenticates with [`AuthMethod::AccessCode`].
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeSent {
    pub envelope_id: Uuid,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    pub message: Option<String>,
    pub recipients: Vec<Recipient>,
    pub documents: Vec<DocumentRef>,
    pub signing_order: SigningOrder,
    pub expires_at: Option<Timestamp>,
    pub sent_at: Timestamp,
}

impl From<EnvelopeSentV1> for EnvelopeSent {
    fn from(v1: EnvelopeSentV1) -> Self {
        let recipients = v1
            .recipients
            .into_iter()
            .map(|r| Recipient {
                auth_method: if r.access_code.is_some() {
                    AuthMethod::AccessCode
                } else {
                    AuthMethod::None
                },
                recipient_id: r.recipient_id,
                name: r.name,
                email: r.email,
                phone: r.phone,
                role: r.role,
                signing_order: r.signing_order,
            })
            .collect();
        Self {
            envelope_id: v1.envelope_id,
            sender_id: v1.sender_id,
            sender_name: v1.sender_name,
            sender_email: v1.sender_email,
            subject: v1.subject,
            message: v1.message,
            recipients,
            documents: v1.documents,
            signing_order: v1.signing_order,
            expires_at: v1.expires_at,
            sent_at: v1.sent_at,
        }
    }
}

impl From<EnvelopeSentV2> for EnvelopeSent {
    fn from(v2: EnvelopeSentV2) -> Self {
        let recipients = v2
            .recipients
            .into_iter()
            .map(|r| Recipient {
                recipient_id: r.recipient_id,
                name: r.name,
                email: r.email,
                phone: r.phone,
                role: r.role,
                signing_order: r.signing_order,
                auth_method: r.auth_method,
            })
            .collect();
        Self {
            envelope_id: v2.envelope_id,
            sender_id: v2.sender_id,
            sender_name: v2.sender_name,
            sender_email: v2.sender_email,
            subject: v2.subject,
            message: v2.message,
            recipients,
            documents: v2.documents,
            signing_order: v2.signing_order,
            expires_at: v2.expires_at,
            sent_at: v2.sent_at,
        }
    }
}

impl EnvelopeSent {
    /// The model as `envelope.sent.v2`, the version new events are published in.
    pub fn to_v2(&self) -> EnvelopeSentV2 {
        EnvelopeSentV2 {
            envelope_id: self.envelope_id,
            sender_id: self.sender_id,
            sender_name: self.sender_name.clone(),
            sender_email: self.sender_email.clone(),
            subject: self.subject.clone(),
            message: self.message.clone(),
            recipients: self
                .recipients
                .iter()
                .map(|r| RecipientV2 {
                    recipient_id: r.recipient_id,
                    name: r.name.clone(),
                    email: r.email.clone(),
                    phone: r.phone.clone(),
                    role: r.role,
                    signing_order: r.signing_order,
                    auth_method: r.auth_method,
                })
                .collect(),
            documents: self.documents.clone(),
            signing_order: self.signing_order,
            expires_at: self.expires_at,
            sent_at: self.sent_at,
        }
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

impl Check for EnvelopeSent {
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
        if let Some(i) = self
            .recipients
            .iter()
            .position(|r| r.auth_method == AuthMethod::Sms && r.phone.is_none())
        {
            return Err((
                format!("data.recipients[{i}].phone"),
                "is required when authMethod is sms".into(),
            ));
        }
        if self.documents.is_empty() {
            return Err((
                "data.documents".into(),
                "must list at least one document".into(),
            ));
        }
        if let Some(expires) = self.expires_at {
            if expires <= self.sent_at {
                return Err(("data.expiresAt".into(), "must be later than sentAt".into()));
            }
        }
        Ok(())
    }
}

/// `envelope.created`: a draft envelope exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeCreated {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    pub documents: Vec<DocumentRef>,
    pub recipient_count: u32,
    pub created_at: Timestamp,
}

/// `envelope.viewed`: a recipient opened the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeViewed {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub recipient_name: String,
    pub recipient_email: Email,
    pub viewed_at: Timestamp,
    pub ip_address: IpAddress,
    pub user_agent: String,
    #[serde(default)]
    pub geolocation: Option<Geolocation>,
}

/// `envelope.recipient.signed`: a recipient signed (or approved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeRecipientSigned {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub recipient_name: String,
    pub recipient_email: Email,
    pub signing_order: u32,
    pub fields_completed: u32,
    pub signed_at: Timestamp,
    pub ip_address: IpAddress,
    pub user_agent: String,
    #[serde(default)]
    pub geolocation: Option<Geolocation>,
    pub device_info: DeviceInfo,
}

/// A recipient's part in a completed envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompletedRecipient {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    pub role: RecipientRole,
    /// When they signed; null for cc recipients.
    #[serde(default)]
    pub signed_at: Option<Timestamp>,
    #[serde(default)]
    pub ip_address: Option<IpAddress>,
    #[serde(default)]
    pub device_info: Option<DeviceInfo>,
}

/// `envelope.completed`: every signer and approver has acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeCompleted {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    pub recipients: Vec<CompletedRecipient>,
    pub documents: Vec<DocumentRef>,
    pub sent_at: Timestamp,
    pub completed_at: Timestamp,
    /// From sending to completion.
    pub total_duration: IsoDuration,
}

impl Check for EnvelopeCompleted {
    fn check(&self) -> Result<(), (String, String)> {
        if self.completed_at < self.sent_at {
            return Err((
                "data.completedAt".into(),
                "must not be earlier than sentAt".into(),
            ));
        }
        Ok(())
    }
}

/// `envelope.declined`: a recipient refused to sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeDeclined {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub recipient_name: String,
    pub recipient_email: Email,
    #[serde(default)]
    pub reason: Option<String>,
    pub declined_at: Timestamp,
    #[serde(default)]
    pub ip_address: Option<IpAddress>,
}

/// `envelope.voided`: the sender withdrew the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeVoided {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub voided_by: Uuid,
    pub reason: String,
    pub voided_at: Timestamp,
}

/// A recipient who had not acted yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingRecipient {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    pub role: RecipientRole,
}

/// `envelope.expired`: `expiresAt` passed before every signer acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeExpired {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub sender_id: Uuid,
    pub expired_at: Timestamp,
    pub pending_recipients: Vec<PendingRecipient>,
}

/// A recipient a reminder went to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemindedRecipient {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
}

/// `envelope.reminder.sent`: recipients who have not acted are reminded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeReminderSent {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    pub subject: String,
    pub sender_name: String,
    pub recipients: Vec<RemindedRecipient>,
    pub reminder_count: u32,
    pub sent_at: Timestamp,
}

impl Check for EnvelopeReminderSent {
    fn check(&self) -> Result<(), (String, String)> {
        if self.recipients.is_empty() {
            return Err((
                "data.recipients".into(),
                "must list at least one recipient".into(),
            ));
        }
        Ok(())
    }
}
