//! Envelope states in DynamoDB, one item per envelope, written with an optimistic version check
//! so that two writers can't overwrite each other.
//!
//! The item keeps the state as JSON, and beside it the attributes the expiry job queries: a sparse
//! index `byExpiry` holds only envelopes still out for signature (`openForExpiry` = `open`), by
//! `expiresAt`.

use crate::state::{EnvelopeState, Status};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use uuid::Uuid;

/// Why a state could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("envelope {0} was changed by another writer")]
    Conflict(Uuid),
    #[error("envelope store: {0}")]
    Unavailable(String),
}

/// Where envelope states live.
pub trait EnvelopeStore: Sync {
    /// The state and its version.
    fn get(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<(EnvelopeState, u64)>, StoreError>> + Send;

    /// Writes a state if the stored version is still `expected` (`None`: nothing stored yet).
    fn put(
        &self,
        state: &EnvelopeState,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Envelopes still out for signature whose `expiresAt` is before `now_ms`.
    fn expired(&self, now_ms: i64) -> impl Future<Output = Result<Vec<Uuid>, StoreError>> + Send;
}

/// States in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryEnvelopes {
    items: Mutex<HashMap<Uuid, (EnvelopeState, u64)>>,
}

impl MemoryEnvelopes {
    pub fn new() -> Self {
        Self::default()
    }
}

impl EnvelopeStore for MemoryEnvelopes {
    async fn get(&self, id: Uuid) -> Result<Option<(EnvelopeState, u64)>, StoreError> {
        Ok(self.items.lock().unwrap().get(&id).cloned())
    }

    async fn put(&self, state: &EnvelopeState, expected: Option<u64>) -> Result<u64, StoreError> {
        let mut items = self.items.lock().unwrap();
        let current = items.get(&state.envelope_id).map(|(_, v)| *v);
        if current != expected {
            return Err(StoreError::Conflict(state.envelope_id));
        }
        let version = expected.unwrap_or(0) + 1;
        items.insert(state.envelope_id, (state.clone(), version));
        Ok(version)
    }

    async fn expired(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        Ok(self
            .items
            .lock()
            .unwrap()
            .values()
            .filter(|(s, _)| {
                s.status == Status::Sent
                    && s.expires_at
                        .is_some_and(|e| e.0.timestamp_millis() < now_ms)
            })
            .map(|(s, _)| s.envelope_id)
            .collect())
    }
}

/// States in the DynamoDB table named by `ENVELOPES_TABLE`.
#[derive(Debug, Clone)]
pub struct DynamoEnvelopes {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoEnvelopes {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn unavailable<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::Unavailable(format!("{what}: {e:?}"))
}

impl EnvelopeStore for DynamoEnvelopes {
    async fn get(&self, id: Uuid) -> Result<Option<(EnvelopeState, u64)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("envelopeId", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("GetItem"))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let state = item
            .get("state")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Unavailable(format!("envelope {id}: item without state")))?;
        let state: EnvelopeState = serde_json::from_str(state).map_err(|e| {
            StoreError::Unavailable(format!("envelope {id}: stored state unreadable: {e}"))
        })?;
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some((state, version)))
    }

    async fn put(&self, state: &EnvelopeState, expected: Option<u64>) -> Result<u64, StoreError> {
        let version = expected.unwrap_or(0) + 1;
        let mut item = HashMap::from([
            (
                "envelopeId".to_owned(),
                AttributeValue::S(state.envelope_id.to_string()),
            ),
            (
                "state".to_owned(),
                AttributeValue::S(serde_json::to_string(state).expect("a state serialises")),
            ),
            (
                "status".to_owned(),
                AttributeValue::S(state.status.as_str().into()),
            ),
            ("version".to_owned(), AttributeValue::N(version.to_string())),
        ]);
        if let (Status::Sent, Some(expires)) = (state.status, state.expires_at) {
            item.insert("openForExpiry".into(), AttributeValue::S("open".into()));
            item.insert(
                "expiresAt".into(),
                AttributeValue::N(expires.0.timestamp_millis().to_string()),
            );
        }
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(envelopeId)"),
            Some(v) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match put.send().await {
            Ok(_) => Ok(version),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict(state.envelope_id))
            }
            Err(e) => Err(StoreError::Unavailable(format!(
                "PutItem: {}",
                esign_events::aws::describe(&e)
            ))),
        }
    }

    async fn expired(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("byExpiry")
            .key_condition_expression("openForExpiry = :open AND expiresAt < :now")
            .expression_attribute_values(":open", AttributeValue::S("open".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable("Query"))?;
            for item in page.items() {
                if let Some(id) = item
                    .get("envelopeId")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| s.parse().ok())
                {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }
}

impl<T: EnvelopeStore> EnvelopeStore for &T {
    async fn get(&self, id: Uuid) -> Result<Option<(EnvelopeState, u64)>, StoreError> {
        (**self).get(id).await
    }
    async fn put(&self, state: &EnvelopeState, expected: Option<u64>) -> Result<u64, StoreError> {
        (**self).put(state, expected).await
    }
    async fn expired(&self, now_ms: i64) -> Result<Vec<Uuid>, StoreError> {
        (**self).expired(now_ms).await
    }
}
