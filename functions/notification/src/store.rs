//! The notification function's own records, in one DynamoDB table (`NOTIFICATIONS_TABLE`):
//! each envelope's roster (`envelope#<id>`), each notification's status (`notification#<id>`),
//! and the provider's message id pointing back at its notification (`provider#<id>`), for
//! delivery and bounce reports.

use crate::plan::Roster;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use uuid::Uuid;

/// Where a notification is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub notification_id: Uuid,
    /// `queued`, `sent`, `delivered`, `retrying` or `failed`.
    pub state: String,
    pub channel: String,
    pub template: String,
    pub envelope_id: Option<Uuid>,
    pub provider_message_id: Option<String>,
    pub retry_count: u32,
}

/// A store failure; retrying may help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("notification store: {0}")]
pub struct StoreError(pub String);

/// The notification function's records.
pub trait NotificationStore: Sync {
    fn roster(
        &self,
        envelope: Uuid,
    ) -> impl Future<Output = Result<Option<Roster>, StoreError>> + Send;
    fn save_roster(&self, roster: &Roster) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn status(
        &self,
        notification: Uuid,
    ) -> impl Future<Output = Result<Option<Status>, StoreError>> + Send;
    fn save_status(&self, status: &Status) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The notification a provider's message id belongs to.
    fn by_provider_id(
        &self,
        provider_id: &str,
    ) -> impl Future<Output = Result<Option<Status>, StoreError>> + Send;
}

/// Records in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    rosters: Mutex<HashMap<Uuid, Roster>>,
    statuses: Mutex<HashMap<Uuid, Status>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every status, for tests.
    pub fn statuses(&self) -> Vec<Status> {
        self.statuses.lock().unwrap().values().cloned().collect()
    }
}

impl NotificationStore for MemoryStore {
    async fn roster(&self, envelope: Uuid) -> Result<Option<Roster>, StoreError> {
        Ok(self.rosters.lock().unwrap().get(&envelope).cloned())
    }
    async fn save_roster(&self, roster: &Roster) -> Result<(), StoreError> {
        self.rosters
            .lock()
            .unwrap()
            .insert(roster.envelope_id, roster.clone());
        Ok(())
    }
    async fn status(&self, notification: Uuid) -> Result<Option<Status>, StoreError> {
        Ok(self.statuses.lock().unwrap().get(&notification).cloned())
    }
    async fn save_status(&self, status: &Status) -> Result<(), StoreError> {
        self.statuses
            .lock()
            .unwrap()
            .insert(status.notification_id, status.clone());
        Ok(())
    }
    async fn by_provider_id(&self, provider_id: &str) -> Result<Option<Status>, StoreError> {
        Ok(self
            .statuses
            .lock()
            .unwrap()
            .values()
            .find(|s| s.provider_message_id.as_deref() == Some(provider_id))
            .cloned())
    }
}

/// Records in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, pk: &str) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError(format!("GetItem: {}", esign_events::aws::describe(&e))))?
            .item)
    }

    async fn put(&self, item: HashMap<String, AttributeValue>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| StoreError(format!("PutItem: {}", esign_events::aws::describe(&e))))?;
        Ok(())
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn status_of(item: &HashMap<String, AttributeValue>) -> Option<Status> {
    Some(Status {
        notification_id: text(item, "notificationId")?.parse().ok()?,
        state: text(item, "state")?,
        channel: text(item, "channel").unwrap_or_default(),
        template: text(item, "template").unwrap_or_default(),
        envelope_id: text(item, "envelopeId").and_then(|v| v.parse().ok()),
        provider_message_id: text(item, "providerMessageId"),
        retry_count: item
            .get("retryCount")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

impl NotificationStore for DynamoStore {
    async fn roster(&self, envelope: Uuid) -> Result<Option<Roster>, StoreError> {
        match self.get(&format!("envelope#{envelope}")).await? {
            Some(item) => {
                let json = text(&item, "roster").unwrap_or_default();
                serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| StoreError(format!("roster of {envelope}: {e}")))
            }
            None => Ok(None),
        }
    }

    async fn save_roster(&self, roster: &Roster) -> Result<(), StoreError> {
        self.put(HashMap::from([
            (
                "pk".to_owned(),
                s(format!("envelope#{}", roster.envelope_id)),
            ),
            (
                "roster".to_owned(),
                s(serde_json::to_string(roster).expect("a roster serialises")),
            ),
        ]))
        .await
    }

    async fn status(&self, notification: Uuid) -> Result<Option<Status>, StoreError> {
        Ok(self
            .get(&format!("notification#{notification}"))
            .await?
            .as_ref()
            .and_then(status_of))
    }

    async fn save_status(&self, status: &Status) -> Result<(), StoreError> {
        let mut item = HashMap::from([
            (
                "pk".to_owned(),
                s(format!("notification#{}", status.notification_id)),
            ),
            (
                "notificationId".to_owned(),
                s(status.notification_id.to_string()),
            ),
            ("state".to_owned(), s(status.state.clone())),
            ("channel".to_owned(), s(status.channel.clone())),
            ("template".to_owned(), s(status.template.clone())),
            (
                "retryCount".to_owned(),
                AttributeValue::N(status.retry_count.to_string()),
            ),
            (
                "updatedAt".to_owned(),
                s(esign_events::time::Timestamp::now().to_string()),
            ),
        ]);
        if let Some(e) = status.envelope_id {
            item.insert("envelopeId".into(), s(e.to_string()));
        }
        if let Some(p) = &status.provider_message_id {
            item.insert("providerMessageId".into(), s(p.clone()));
            let mut pointer = item.clone();
            pointer.insert("pk".into(), s(format!("provider#{p}")));
            self.put(pointer).await?;
        }
        self.put(item).await
    }

    async fn by_provider_id(&self, provider_id: &str) -> Result<Option<Status>, StoreError> {
        Ok(self
            .get(&format!("provider#{provider_id}"))
            .await?
            .as_ref()
            .and_then(status_of))
    }
}
