//! The expiry job: envelopes past `expiresAt` and still out for signature get
//! `envelope.expired`, once.
//!
//! "Once" holds twice over: the event's id is derived from the envelope, so publishing it again
//! (the job running before the envelope function has marked the envelope expired) is dropped by
//! SNS's deduplication and the consumers' idempotency records; and once the envelope function
//! has applied it, the envelope leaves the expiry index.

use crate::state::Status;
use crate::store::{EnvelopeStore, StoreError};
use esign_events::catalogue::{EnvelopeExpired, PendingRecipient};
use esign_events::publish::{PublishError, Publisher, Sink};
use esign_events::time::Timestamp;
use esign_events::{Event, Metadata, Payload};
use uuid::Uuid;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExpiryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// The `envelope.expired` event of an envelope, with its derived id.
pub fn expired_event(state: &crate::state::EnvelopeState, now: Timestamp) -> Event {
    let payload = Payload::EnvelopeExpired(EnvelopeExpired {
        envelope_id: state.envelope_id,
        sender_id: state.sender_id,
        expired_at: state.expires_at.unwrap_or(now),
        pending_recipients: state
            .pending_recipients()
            .map(|r| PendingRecipient {
                recipient_id: r.recipient_id,
                name: r.name.clone(),
                email: r.email.clone(),
                role: r.role,
            })
            .collect(),
    });
    let trace = Uuid::new_v4();
    let mut event = Event::new(
        payload,
        "expiry-job",
        &trace.to_string(),
        Metadata {
            user_id: None,
            correlation_id: trace,
            causation_id: None,
        },
    );
    event.event_id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("envelope.expired/{}", state.envelope_id).as_bytes(),
    );
    event
}

/// Publishes `envelope.expired` for every envelope due; returns their ids.
pub async fn run<St: EnvelopeStore, Si: Sink>(
    store: &St,
    publisher: &Publisher<Si>,
    now_ms: i64,
) -> Result<Vec<Uuid>, ExpiryError> {
    let mut expired = Vec::new();
    for id in store.expired(now_ms).await? {
        let Some((state, _)) = store.get(id).await? else {
            continue;
        };
        if state.status != Status::Sent {
            continue;
        }
        publisher
            .publish(&expired_event(&state, Timestamp::now()))
            .await?;
        tracing::info!(envelope_id = %id, "envelope expired");
        expired.push(id);
    }
    Ok(expired)
}
