//! Appends each event to its envelope's chain and publishes `audit.event.logged`.

use crate::chain::next_entry;
use crate::store::{ChainError, ChainStore};
use esign_events::catalogue::AuditEventLogged;
use esign_events::publish::{Publisher, Sink};
use esign_events::runtime::{Handler, HandlerError, RecordContext};
use esign_events::time::Timestamp;
use esign_events::{Event, Payload};
use uuid::Uuid;

/// The audit function's handler.
pub struct AuditHandler<St, Si> {
    store: St,
    publisher: Publisher<Si>,
}

impl<St: ChainStore, Si: Sink> AuditHandler<St, Si> {
    pub fn new(store: St, publisher: Publisher<Si>) -> Self {
        Self { store, publisher }
    }
}

impl<St: ChainStore, Si: Sink> Handler for AuditHandler<St, Si> {
    async fn handle(&self, event: &Event, ctx: &RecordContext) -> Result<(), HandlerError> {
        // Replays are read from this chain: a replayed event is not a new fact.
        if ctx.replay_id.is_some() {
            tracing::info!("replayed event; the audit chain already holds it");
            return Ok(());
        }
        // The chain's own events are not chained again.
        if matches!(
            event.payload,
            Payload::AuditEventLogged(_) | Payload::AuditTamperingDetected(_)
        ) {
            return Ok(());
        }
        let Some(envelope) = event.payload.envelope_id() else {
            return Ok(());
        };
        let key = envelope.to_string();
        let retryable = |e: ChainError| HandlerError::Retryable(e.to_string());

        let head = self.store.head(&key).await.map_err(retryable)?;
        let last = head.as_ref().and_then(|h| h.last.clone());
        // Events of an envelope arrive in order, so if this one is in the chain already (a
        // crash after appending, before the idempotency record was marked), it is the last.
        let entry = match last {
            Some(last) if last.event_id == event.event_id.to_string() => last,
            last => {
                let entry = next_entry(last.as_ref(), event, &Timestamp::now().to_string());
                self.store.append(&key, &entry).await.map_err(retryable)?;
                tracing::info!(sequence = entry.sequence, "appended to the audit chain");
                entry
            }
        };

        let logged = Payload::AuditEventLogged(AuditEventLogged {
            audit_id: Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("{key}/{}", entry.sequence).as_bytes(),
            ),
            envelope_id: envelope,
            sequence: entry.sequence,
            source_event_id: event.event_id,
            source_event_type: event.event_type.name().to_owned(),
            hash: entry.hash.clone(),
            previous_hash: (!entry.previous_hash.is_empty()).then(|| entry.previous_hash.clone()),
            logged_at: Timestamp::parse(&entry.logged_at).unwrap_or_else(|_| Timestamp::now()),
        });
        self.publisher
            .publish(&event.caused_once(logged, "audit-function"))
            .await
            .map_err(|e| HandlerError::Retryable(e.to_string()))?;
        Ok(())
    }
}
