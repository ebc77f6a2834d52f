//! Exactly-once side effects on top of at-least-once delivery.
//!
//! A record per key (consumer and event id, or a finer key per side effect) is taken with a
//! conditional write before the work and marked done after it:
//! - a key that is done means the work happened: skip it;
//! - a key whose lock is still live means another attempt is at work: retry later, never
//!   assume success;
//! - a key whose lock has expired (its attempt crashed or timed out) is taken over;
//! - the same key with a different payload hash is a conflict: a publisher reused an event id
//!   for different content, which is raised, not replayed.
//!
//! The lock expires when the attempt's Lambda deadline passes, so a crashed attempt blocks its
//! key no longer than the function could have run. Records expire (DynamoDB TTL) a day after
//! they were written, far past SQS FIFO's five-minute deduplication window, so an event
//! published again hours later is still recognised.
//!
//! One window is left, and no store can close it: a crash after the provider accepted a message
//! and before [`IdempotencyStore::complete`] is written. The retry then sends the message again.
//! Callers keep it narrow by completing right after the provider call returns, with nothing
//! in between.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// How long a record is kept after it was last written.
pub const RETENTION_SECS: i64 = 24 * 3600;

/// What taking a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Nobody had it, or a previous attempt failed and let go: do the work.
    Fresh,
    /// A previous attempt held it and its lock expired (crash or timeout): do the work.
    TakenOver,
    /// The work is done already: skip it.
    AlreadyDone,
}

/// Why a key could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("{key} is being processed by another attempt until {lock_expires_at_ms} ms")]
    InFlight {
        key: String,
        lock_expires_at_ms: i64,
    },
    #[error("{key} was seen before with a different payload")]
    Conflict { key: String },
    #[error("idempotency store: {0}")]
    Store(String),
}

/// When an event failed, across attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureHistory {
    pub first_failure_ms: i64,
    pub last_failure_ms: i64,
    pub failures: u32,
}

/// The store of idempotency records.
pub trait IdempotencyStore: Sync {
    /// Takes `key` for an attempt that may run until `lock_until_ms`.
    fn acquire(
        &self,
        key: &str,
        payload_hash: &str,
        now_ms: i64,
        lock_until_ms: i64,
    ) -> impl Future<Output = Result<Acquired, GuardError>> + Send;

    /// Marks the work behind `key` done.
    fn complete(
        &self,
        key: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), GuardError>> + Send;

    /// Lets go of `key` after a failed attempt so the next one can start at once, and returns
    /// the failure history including this failure.
    fn release(
        &self,
        key: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<FailureHistory, GuardError>> + Send;
}

/// A hash of what an event says, independent of key order and formatting.
pub fn payload_hash(event_type: &str, version: &str, data: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(event_type.as_bytes());
    hasher.update([0]);
    hasher.update(version.as_bytes());
    hasher.update([0]);
    // Secrets are left out, as the audit chain leaves them out: an event replayed from the chain
    // then hashes as its original did, and is a duplicate rather than a conflict.
    write_canonical(data, crate::personal::SECRET_FIELDS, &mut |bytes| {
        hasher.update(bytes)
    });
    hex::encode(hasher.finalize())
}

/// Writes JSON with object keys sorted, so equal values hash equally.
pub fn canonical(value: &Value, out: &mut dyn FnMut(&[u8])) {
    write_canonical(value, &[], out)
}

/// [`canonical`], leaving out the members named in `skip` at any depth.
fn write_canonical(value: &Value, skip: &[&str], out: &mut dyn FnMut(&[u8])) {
    match value {
        Value::Object(map) => {
            out(b"{");
            let mut keys: Vec<&String> =
                map.keys().filter(|k| !skip.contains(&k.as_str())).collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out(b",");
                }
                out(Value::String(key.clone()).to_string().as_bytes());
                out(b":");
                write_canonical(&map[key], skip, out);
            }
            out(b"}");
        }
        Value::Array(items) => {
            out(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out(b",");
                }
                write_canonical(item, skip, out);
            }
            out(b"]");
        }
        other => out(other.to_string().as_bytes()),
    }
}

/// No idempotency: every acquire is fresh. For consumers whose work is naturally idempotent,
/// and for tests of other rules.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStore;

impl IdempotencyStore for NoStore {
    async fn acquire(&self, _: &str, _: &str, _: i64, _: i64) -> Result<Acquired, GuardError> {
        Ok(Acquired::Fresh)
    }
    async fn complete(&self, _: &str, _: i64) -> Result<(), GuardError> {
        Ok(())
    }
    async fn release(&self, _: &str, now_ms: i64) -> Result<FailureHistory, GuardError> {
        Ok(FailureHistory {
            first_failure_ms: now_ms,
            last_failure_ms: now_ms,
            failures: 1,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Record {
    done: bool,
    hash: String,
    lock_until_ms: i64,
    history: Option<FailureHistory>,
}

/// The same rules in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, Record>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `key` is marked done.
    pub fn is_done(&self, key: &str) -> bool {
        self.records
            .lock()
            .unwrap()
            .get(key)
            .is_some_and(|r| r.done)
    }
}

impl IdempotencyStore for MemoryStore {
    async fn acquire(
        &self,
        key: &str,
        hash: &str,
        now_ms: i64,
        lock_until_ms: i64,
    ) -> Result<Acquired, GuardError> {
        let mut records = self.records.lock().unwrap();
        let outcome = match records.get(key) {
            None => Acquired::Fresh,
            Some(r) if r.hash != hash => return Err(GuardError::Conflict { key: key.into() }),
            Some(r) if r.done => return Ok(Acquired::AlreadyDone),
            Some(r) if r.lock_until_ms > now_ms => {
                return Err(GuardError::InFlight {
                    key: key.into(),
                    lock_expires_at_ms: r.lock_until_ms,
                })
            }
            Some(r) if r.lock_until_ms > 0 => Acquired::TakenOver,
            Some(_) => Acquired::Fresh,
        };
        let history = records.get(key).and_then(|r| r.history);
        records.insert(
            key.into(),
            Record {
                done: false,
                hash: hash.into(),
                lock_until_ms,
                history,
            },
        );
        Ok(outcome)
    }

    async fn complete(&self, key: &str, _: i64) -> Result<(), GuardError> {
        if let Some(r) = self.records.lock().unwrap().get_mut(key) {
            r.done = true;
            r.lock_until_ms = 0;
        }
        Ok(())
    }

    async fn release(&self, key: &str, now_ms: i64) -> Result<FailureHistory, GuardError> {
        let mut records = self.records.lock().unwrap();
        let record = records.entry(key.into()).or_insert(Record {
            done: false,
            hash: String::new(),
            lock_until_ms: 0,
            history: None,
        });
        record.lock_until_ms = 0;
        let mut history = record.history.unwrap_or(FailureHistory {
            first_failure_ms: now_ms,
            ..Default::default()
        });
        history.last_failure_ms = now_ms;
        history.failures += 1;
        record.history = Some(history);
        Ok(history)
    }
}

/// The records in a DynamoDB table whose partition key is `pk` (a string) and whose TTL
/// attribute is `expiresAt`.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn store_error<E: std::fmt::Debug>(what: &str) -> impl Fn(E) -> GuardError + '_ {
    move |e| GuardError::Store(format!("{what}: {e:?}"))
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl IdempotencyStore for DynamoStore {
    async fn acquire(
        &self,
        key: &str,
        hash: &str,
        now_ms: i64,
        lock_until_ms: i64,
    ) -> Result<Acquired, GuardError> {
        let attempt = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            // Take it when nobody has it, or when the last attempt let go or its lock expired,
            // and only for the same payload.
            .condition_expression(
                "attribute_not_exists(pk) OR (#status <> :done AND #lock < :now AND #hash = :hash)",
            )
            .update_expression("SET #status = :busy, #lock = :until, #hash = :hash, #exp = :exp")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lock", "lockExpiresAt")
            .expression_attribute_names("#hash", "payloadHash")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_values(":done", s("COMPLETED"))
            .expression_attribute_values(":busy", s("IN_PROGRESS"))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":until", n(lock_until_ms))
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":exp", n(now_ms / 1000 + RETENTION_SECS))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match attempt {
            Ok(out) => {
                let old = out.attributes().cloned().unwrap_or_default();
                let was_busy = old
                    .get("status")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some("IN_PROGRESS");
                Ok(if was_busy {
                    Acquired::TakenOver
                } else {
                    Acquired::Fresh
                })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let item = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(store_error("GetItem"))?
                    .item
                    .unwrap_or_default();
                let status = item
                    .get("status")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let stored_hash = item
                    .get("payloadHash")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                if stored_hash != hash {
                    Err(GuardError::Conflict { key: key.into() })
                } else if status == "COMPLETED" {
                    Ok(Acquired::AlreadyDone)
                } else {
                    Err(GuardError::InFlight {
                        key: key.into(),
                        lock_expires_at_ms: number(&item, "lockExpiresAt"),
                    })
                }
            }
            Err(e) => Err(GuardError::Store(format!(
                "UpdateItem: {}",
                crate::aws::describe(&e)
            ))),
        }
    }

    async fn complete(&self, key: &str, now_ms: i64) -> Result<(), GuardError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(
                "SET #status = :done, #lock = :zero, completedAt = :now, #exp = :exp",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lock", "lockExpiresAt")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_values(":done", s("COMPLETED"))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":exp", n(now_ms / 1000 + RETENTION_SECS))
            .send()
            .await
            .map_err(store_error("UpdateItem"))?;
        Ok(())
    }

    async fn release(&self, key: &str, now_ms: i64) -> Result<FailureHistory, GuardError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(
                "SET #status = :failed, #lock = :zero, lastFailureAt = :now, \
                 firstFailureAt = if_not_exists(firstFailureAt, :now), #exp = :exp \
                 ADD failures :one",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lock", "lockExpiresAt")
            .expression_attribute_names("#exp", "expiresAt")
            .expression_attribute_values(":failed", s("FAILED"))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(now_ms / 1000 + RETENTION_SECS))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(store_error("UpdateItem"))?;
        let item = out.attributes().cloned().unwrap_or_default();
        Ok(FailureHistory {
            first_failure_ms: number(&item, "firstFailureAt"),
            last_failure_ms: number(&item, "lastFailureAt"),
            failures: number(&item, "failures") as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_done_key_is_skipped_and_a_live_lock_means_retry_later() {
        let store = MemoryStore::new();
        assert_eq!(
            store.acquire("k", "h", 1000, 5000).await,
            Ok(Acquired::Fresh)
        );
        // Another delivery while the first attempt still runs.
        assert!(matches!(
            store.acquire("k", "h", 2000, 6000).await,
            Err(GuardError::InFlight { .. })
        ));
        store.complete("k", 3000).await.unwrap();
        assert_eq!(
            store.acquire("k", "h", 4000, 8000).await,
            Ok(Acquired::AlreadyDone)
        );
    }

    #[tokio::test]
    async fn an_expired_lock_is_taken_over() {
        let store = MemoryStore::new();
        store.acquire("k", "h", 1000, 5000).await.unwrap();
        assert_eq!(
            store.acquire("k", "h", 5001, 9000).await,
            Ok(Acquired::TakenOver)
        );
    }

    #[tokio::test]
    async fn a_released_key_is_fresh_again_and_keeps_its_failure_history() {
        let store = MemoryStore::new();
        store.acquire("k", "h", 1000, 5000).await.unwrap();
        let first = store.release("k", 1500).await.unwrap();
        assert_eq!((first.first_failure_ms, first.failures), (1500, 1));
        assert_eq!(
            store.acquire("k", "h", 2000, 6000).await,
            Ok(Acquired::Fresh)
        );
        let second = store.release("k", 2500).await.unwrap();
        assert_eq!(
            second,
            FailureHistory {
                first_failure_ms: 1500,
                last_failure_ms: 2500,
                failures: 2
            }
        );
    }

    #[tokio::test]
    async fn the_same_key_with_another_payload_is_a_conflict() {
        let store = MemoryStore::new();
        store.acquire("k", "h1", 1000, 5000).await.unwrap();
        store.complete("k", 2000).await.unwrap();
        assert_eq!(
            store.acquire("k", "h2", 3000, 7000).await,
            Err(GuardError::Conflict { key: "k".into() })
        );
    }

    #[test]
    fn the_payload_hash_ignores_key_order_but_not_content() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"é"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"é","y":[1,2]},"b":1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a":{"x":"é","y":[2,1]},"b":1}"#).unwrap();
        assert_eq!(payload_hash("t", "1.0", &a), payload_hash("t", "1.0", &b));
        assert_ne!(payload_hash("t", "1.0", &a), payload_hash("t", "1.0", &c));
        assert_ne!(payload_hash("t", "1.0", &a), payload_hash("t", "1.1", &a));
    }

    #[test]
    fn the_payload_hash_leaves_secrets_out_at_any_depth() {
        let with: Value =
            serde_json::from_str(r#"{"r":[{"id":1,"accessCode":"K7Q2"}],"token":"t1"}"#).unwrap();
        let without: Value = serde_json::from_str(r#"{"r":[{"id":1}]}"#).unwrap();
        let other: Value = serde_json::from_str(r#"{"r":[{"id":2}]}"#).unwrap();
        assert_eq!(
            payload_hash("t", "1.0", &with),
            payload_hash("t", "1.0", &without)
        );
        assert_ne!(
            payload_hash("t", "1.0", &without),
            payload_hash("t", "1.0", &other)
        );
        // Only the hash leaves them out: the canonical form itself is whole.
        let mut text = Vec::new();
        canonical(&with, &mut |b| text.extend_from_slice(b));
        assert!(String::from_utf8(text).unwrap().contains("K7Q2"));
    }
}
