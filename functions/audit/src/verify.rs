//! Verifying chains and reporting tampering.

use crate::chain::verify;
use crate::store::{ChainError, ChainStore, Head};
use esign_events::catalogue::{AuditTamperingDetected, Severity};
use esign_events::publish::{PublishError, Publisher, Sink};
use esign_events::time::Timestamp;
use esign_events::{Event, Metadata, Payload};
use uuid::Uuid;

/// What verifying one chain found.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    Intact { entries: u64 },
    Tampered(AuditTamperingDetected),
}

/// Why a verification could not finish.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] ChainError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Recomputes one chain against its head; a deleted last entry shows as a count or hash that no
/// longer matches the head.
pub async fn verify_chain<St: ChainStore>(store: &St, head: &Head) -> Result<Finding, ChainError> {
    // The head was read first; entries appended since lie beyond its count and are checked
    // on the next run.
    let mut entries = store.entries(&head.envelope_id).await?;
    let envelope_id: Uuid = head.envelope_id.parse().unwrap_or_default();
    let tampered = |sequence: u64, expected: String, actual: String| {
        Finding::Tampered(AuditTamperingDetected {
            envelope_id,
            sequence,
            expected_hash: expected,
            actual_hash: actual,
            severity: Severity::Critical,
            detected_at: Timestamp::now(),
        })
    };
    if let Err(t) = verify(&entries) {
        if t.sequence <= head.count {
            tracing::error!(alert = true, envelope_id = %head.envelope_id, sequence = t.sequence, what = t.what, "audit chain tampered");
            return Ok(tampered(t.sequence, t.expected_hash, t.actual_hash));
        }
    }
    entries.truncate(head.count as usize);
    let last_hash = entries.last().map(|e| e.hash.clone()).unwrap_or_default();
    if (entries.len() as u64) < head.count || last_hash != head.hash {
        tracing::error!(alert = true, envelope_id = %head.envelope_id, "audit chain shorter than its head");
        return Ok(tampered(
            entries.len() as u64 + 1,
            head.hash.clone(),
            last_hash,
        ));
    }
    Ok(Finding::Intact {
        entries: head.count,
    })
}

/// Verifies the given envelopes' chains (every chain when `None`) and publishes
/// `audit.tampering.detected` for each that fails. Returns the findings.
pub async fn run<St: ChainStore, Si: Sink>(
    store: &St,
    publisher: &Publisher<Si>,
    envelopes: Option<Vec<String>>,
) -> Result<Vec<(String, Finding)>, VerifyError> {
    let heads = match envelopes {
        None => store.heads().await?,
        Some(ids) => {
            let mut heads = Vec::new();
            for id in ids {
                if let Some(h) = store.head(&id).await? {
                    heads.push(h);
                }
            }
            heads
        }
    };
    let mut findings = Vec::new();
    for head in heads {
        let finding = verify_chain(store, &head).await?;
        if let Finding::Tampered(detected) = &finding {
            let trace = Uuid::new_v4();
            let event = Event::new(
                Payload::AuditTamperingDetected(detected.clone()),
                "audit-verifier",
                &trace.to_string(),
                Metadata {
                    user_id: None,
                    correlation_id: trace,
                    causation_id: None,
                },
            );
            publisher.publish(&event).await?;
        }
        findings.push((head.envelope_id.clone(), finding));
    }
    Ok(findings)
}
