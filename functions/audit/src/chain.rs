//! Entries, their hashes and the check of a whole chain.
//!
//! Entry `n` stores the canonical form of its event and `hash_n = SHA-256(hash_{n-1} "\n"
//! canonical_n)`, with `hash_0` the empty string. Changing an entry's text changes its hash;
//! changing a hash breaks the next entry's link; deleting or reordering entries breaks the
//! sequence or the links. Secrets (access codes, tokens, passwords) are removed before an event
//! is stored or hashed: the chain is kept for years and read by auditors.

use esign_events::Event;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One entry of an envelope's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub sequence: u64,
    pub event_id: String,
    pub event_type: String,
    /// The event, secrets removed, keys sorted.
    pub canonical: String,
    /// The previous entry's hash; empty for the first.
    pub previous_hash: String,
    pub hash: String,
    pub logged_at: String,
}

/// The event as stored and hashed: secrets removed, keys sorted, no whitespace.
pub fn canonical(event: &Event) -> String {
    let mut value = event.to_value();
    esign_events::personal::strip_secrets(&mut value);
    let mut out = Vec::new();
    esign_events::idempotency::canonical(&value, &mut |b| out.extend_from_slice(b));
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// The hash linking `canonical` to the entry before.
pub fn link(previous_hash: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// The entry that follows `head` (the last entry so far, if any).
pub fn next_entry(head: Option<&Entry>, event: &Event, logged_at: &str) -> Entry {
    let previous_hash = head.map(|h| h.hash.clone()).unwrap_or_default();
    let canonical = canonical(event);
    Entry {
        sequence: head.map_or(1, |h| h.sequence + 1),
        event_id: event.event_id.to_string(),
        event_type: event.event_type.name().to_owned(),
        hash: link(&previous_hash, &canonical),
        canonical,
        previous_hash,
        logged_at: logged_at.to_owned(),
    }
}

/// The first place a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tamper {
    /// The first entry that does not verify (or the position where one is missing).
    pub sequence: u64,
    /// What the hash must be, recomputed from the entries before and this entry's content.
    pub expected_hash: String,
    /// What is stored there.
    pub actual_hash: String,
    pub what: &'static str,
}

/// Recomputes a chain, given in stored order, from its first entry.
pub fn verify(entries: &[Entry]) -> Result<(), Tamper> {
    let mut previous = String::new();
    for (i, entry) in entries.iter().enumerate() {
        let position = i as u64 + 1;
        let expected = link(&previous, &entry.canonical);
        let broken = [
            (
                entry.sequence != position,
                "an entry is missing or out of order",
            ),
            (
                entry.previous_hash != previous,
                "the link to the previous entry is broken",
            ),
            (
                entry.hash != expected,
                "the entry's content does not match its hash",
            ),
        ];
        if let Some((_, what)) = broken.into_iter().find(|(failed, _)| *failed) {
            return Err(Tamper {
                sequence: position,
                expected_hash: expected,
                actual_hash: entry.hash.clone(),
                what,
            });
        }
        previous = entry.hash.clone();
    }
    Ok(())
}
