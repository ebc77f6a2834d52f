//! Notification events: each message from queued to sent, delivered or failed.

use super::Check;
use crate::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How a message reaches a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

/// How urgent a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
}

/// `notification.queued`: a message is about to be delivered. The destination itself is not on
/// the bus; the recipient is named by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationQueued {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub notification_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub recipient_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub user_id: Option<Uuid>,
    pub channel: Channel,
    /// The template the message is rendered from, such as `invitation`.
    pub template: String,
    pub priority: Priority,
    pub queued_at: Timestamp,
}

/// `notification.sent`: the provider accepted the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSent {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub notification_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    pub channel: Channel,
    pub provider_message_id: String,
    pub sent_at: Timestamp,
}

/// `notification.delivered`: the provider reports delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDelivered {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub notification_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    pub channel: Channel,
    pub provider_message_id: String,
    pub delivered_at: Timestamp,
}

/// Why a message failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationErrorType {
    Bounce,
    Complaint,
    Rejected,
    Throttled,
    ProviderError,
}

/// `notification.failed`: a delivery attempt failed; `willRetry` says whether another follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationFailed {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub notification_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    pub channel: Channel,
    pub error_type: NotificationErrorType,
    pub error_message: String,
    pub retry_count: u32,
    pub will_retry: bool,
    #[serde(default)]
    pub next_retry_at: Option<Timestamp>,
    pub failed_at: Timestamp,
}

impl Check for NotificationFailed {
    fn check(&self) -> Result<(), (String, String)> {
        match (self.will_retry, self.next_retry_at) {
            (true, None) => Err((
                "data.nextRetryAt".into(),
                "is required when willRetry is true".into(),
            )),
            (false, Some(_)) => Err((
                "data.nextRetryAt".into(),
                "must be null when willRetry is false".into(),
            )),
            _ => Ok(()),
        }
    }
}
