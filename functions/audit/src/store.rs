//! Chains in DynamoDB: one item per entry (`envelopeId`, `sequence` ≥ 1) and a head item per
//! chain (`sequence` 0) holding the count and the last hash.
//!
//! An entry is appended in one transaction with its head: the entry only if its sequence is
//! free, the head only if it still points at the entry before. Two writers racing on one
//! envelope can't both succeed, so a chain can't fork.

use crate::chain::Entry;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

/// Why a chain could not be read or appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("chain of {0} moved on while appending (another writer)")]
    Moved(String),
    #[error("audit store: {0}")]
    Unavailable(String),
}

/// The head of a chain: how many entries and the last hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub envelope_id: String,
    pub count: u64,
    pub hash: String,
    pub last: Option<Entry>,
}

/// Where chains live.
pub trait ChainStore: Sync {
    fn head(&self, envelope: &str)
        -> impl Future<Output = Result<Option<Head>, ChainError>> + Send;
    fn append(
        &self,
        envelope: &str,
        entry: &Entry,
    ) -> impl Future<Output = Result<(), ChainError>> + Send;
    /// Every entry, by sequence.
    fn entries(
        &self,
        envelope: &str,
    ) -> impl Future<Output = Result<Vec<Entry>, ChainError>> + Send;
    /// The heads of every chain.
    fn heads(&self) -> impl Future<Output = Result<Vec<Head>, ChainError>> + Send;
}

/// A chain in memory: entries by sequence, the head's count and hash.
type MemoryChain = (BTreeMap<u64, Entry>, u64, String);

/// Chains in memory, for tests; `tamper` edits them as an attacker would.
#[derive(Debug, Default)]
pub struct MemoryChains {
    chains: Mutex<HashMap<String, MemoryChain>>,
}

impl MemoryChains {
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes stored entries behind the chain's back.
    pub fn tamper(&self, envelope: &str, f: impl FnOnce(&mut BTreeMap<u64, Entry>)) {
        if let Some((entries, _, _)) = self.chains.lock().unwrap().get_mut(envelope) {
            f(entries);
        }
    }
}

impl ChainStore for MemoryChains {
    async fn head(&self, envelope: &str) -> Result<Option<Head>, ChainError> {
        Ok(self
            .chains
            .lock()
            .unwrap()
            .get(envelope)
            .map(|(e, count, hash)| Head {
                envelope_id: envelope.into(),
                count: *count,
                hash: hash.clone(),
                last: e.values().next_back().cloned(),
            }))
    }

    async fn append(&self, envelope: &str, entry: &Entry) -> Result<(), ChainError> {
        let mut chains = self.chains.lock().unwrap();
        let chain = chains.entry(envelope.into()).or_default();
        if chain.1 + 1 != entry.sequence || chain.0.contains_key(&entry.sequence) {
            return Err(ChainError::Moved(envelope.into()));
        }
        chain.0.insert(entry.sequence, entry.clone());
        chain.1 = entry.sequence;
        chain.2 = entry.hash.clone();
        Ok(())
    }

    async fn entries(&self, envelope: &str) -> Result<Vec<Entry>, ChainError> {
        Ok(self
            .chains
            .lock()
            .unwrap()
            .get(envelope)
            .map(|(e, _, _)| e.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn heads(&self) -> Result<Vec<Head>, ChainError> {
        let chains = self.chains.lock().unwrap();
        Ok(chains
            .iter()
            .map(|(id, (e, count, hash))| Head {
                envelope_id: id.clone(),
                count: *count,
                hash: hash.clone(),
                last: e.values().next_back().cloned(),
            })
            .collect())
    }
}

/// Chains in the DynamoDB table named by `AUDIT_TABLE`.
#[derive(Debug, Clone)]
pub struct DynamoChains {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoChains {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn entry_of(item: &HashMap<String, AttributeValue>) -> Entry {
    Entry {
        sequence: number(item, "sequence"),
        event_id: text(item, "eventId"),
        event_type: text(item, "eventType"),
        canonical: text(item, "canonical"),
        previous_hash: text(item, "previousHash"),
        hash: text(item, "hash"),
        logged_at: text(item, "loggedAt"),
    }
}

fn unavailable<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> ChainError {
    move |e| ChainError::Unavailable(format!("{what}: {e:?}"))
}

impl ChainStore for DynamoChains {
    async fn head(&self, envelope: &str) -> Result<Option<Head>, ChainError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("envelopeId", s(envelope))
            .key("sequence", n(0))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("GetItem"))?
            .item;
        Ok(item.map(|item| Head {
            envelope_id: envelope.into(),
            count: number(&item, "count"),
            hash: text(&item, "headHash"),
            last: item
                .get("lastEntry")
                .and_then(|v| v.as_s().ok())
                .and_then(|j| serde_json::from_str(j).ok()),
        }))
    }

    async fn append(&self, envelope: &str, entry: &Entry) -> Result<(), ChainError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("envelopeId", s(envelope))
            .item("sequence", n(entry.sequence))
            .item("eventId", s(&entry.event_id))
            .item("eventType", s(&entry.event_type))
            .item("canonical", s(&entry.canonical))
            .item("previousHash", s(&entry.previous_hash))
            .item("hash", s(&entry.hash))
            .item("loggedAt", s(&entry.logged_at))
            .condition_expression("attribute_not_exists(#seq)")
            .expression_attribute_names("#seq", "sequence")
            .build()
            .map_err(unavailable("Put"))?;
        let mut head = Update::builder()
            .table_name(&self.table)
            .key("envelopeId", s(envelope))
            .key("sequence", n(0))
            .update_expression("SET #count = :count, headHash = :hash, lastEntry = :last")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":count", n(entry.sequence))
            .expression_attribute_values(":hash", s(&entry.hash))
            .expression_attribute_values(
                ":last",
                s(&serde_json::to_string(entry).expect("an entry serialises")),
            );
        head = if entry.sequence == 1 {
            head.condition_expression("attribute_not_exists(#count)")
        } else {
            head.condition_expression("#count = :before")
                .expression_attribute_values(":before", n(entry.sequence - 1))
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(
                TransactWriteItem::builder()
                    .update(head.build().map_err(unavailable("Update"))?)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                Err(ChainError::Moved(envelope.into()))
            }
            Err(e) => Err(ChainError::Unavailable(format!(
                "TransactWriteItems: {}",
                esign_events::aws::describe(&e)
            ))),
        }
    }

    async fn entries(&self, envelope: &str) -> Result<Vec<Entry>, ChainError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("envelopeId = :id AND #seq >= :one")
            .expression_attribute_names("#seq", "sequence")
            .expression_attribute_values(":id", s(envelope))
            .expression_attribute_values(":one", n(1))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            out.extend(
                page.map_err(unavailable("Query"))?
                    .items()
                    .iter()
                    .map(entry_of),
            );
        }
        Ok(out)
    }

    async fn heads(&self) -> Result<Vec<Head>, ChainError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#seq = :zero")
            .expression_attribute_names("#seq", "sequence")
            .expression_attribute_values(":zero", n(0))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(unavailable("Scan"))?.items() {
                out.push(Head {
                    envelope_id: text(item, "envelopeId"),
                    count: number(item, "count"),
                    hash: text(item, "headHash"),
                    last: None,
                });
            }
        }
        Ok(out)
    }
}

impl<T: ChainStore> ChainStore for &T {
    async fn head(&self, envelope: &str) -> Result<Option<Head>, ChainError> {
        (**self).head(envelope).await
    }
    async fn append(&self, envelope: &str, entry: &Entry) -> Result<(), ChainError> {
        (**self).append(envelope, entry).await
    }
    async fn entries(&self, envelope: &str) -> Result<Vec<Entry>, ChainError> {
        (**self).entries(envelope).await
    }
    async fn heads(&self) -> Result<Vec<Head>, ChainError> {
        (**self).heads().await
    }
}
