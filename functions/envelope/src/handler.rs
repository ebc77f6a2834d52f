//! Applies events to stored envelope states and publishes what follows.

use crate::state::{apply, EnvelopeState};
use crate::store::{EnvelopeStore, StoreError};
use esign_events::publish::{Publisher, Sink};
use esign_events::runtime::{Handler, HandlerError, RecordContext};
use esign_events::Event;

/// The envelope function's handler.
pub struct EnvelopeHandler<St, Si> {
    store: St,
    publisher: Publisher<Si>,
}

impl<St: EnvelopeStore, Si: Sink> EnvelopeHandler<St, Si> {
    pub fn new(store: St, publisher: Publisher<Si>) -> Self {
        Self { store, publisher }
    }

    /// The store, for tests that inspect it.
    pub fn store(&self) -> &St {
        &self.store
    }

    async fn write(&self, state: &EnvelopeState, version: Option<u64>) -> Result<u64, StoreError> {
        self.store.put(state, version).await
    }
}

fn retryable(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retryable(e.to_string())
}

impl<St: EnvelopeStore, Si: Sink> Handler for EnvelopeHandler<St, Si> {
    async fn handle(&self, event: &Event, _ctx: &RecordContext) -> Result<(), HandlerError> {
        let Some(id) = event.payload.envelope_id() else {
            return Ok(());
        };
        // Another writer may win between read and write; read again and re-apply.
        for _ in 0..3 {
            let stored = self.store.get(id).await.map_err(retryable)?;
            let version = stored.as_ref().map(|(_, v)| *v);
            let before = stored.map(|(s, _)| s);
            let applied =
                apply(before.clone(), event).map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let Some(mut state) = applied.state else {
                return Ok(());
            };

            let mut version = version;
            if Some(&state) != before.as_ref() {
                match self.write(&state, version).await {
                    Ok(v) => version = Some(v),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(retryable(e)),
                }
                tracing::info!(status = state.status.as_str(), "envelope state stored");
            }
            if applied.follow_ups.is_empty() {
                return Ok(());
            }

            // Published with ids derived from this event, so doing it again after a failure
            // below publishes the same events, not new ones.
            let follow_ups: Vec<Event> = applied
                .follow_ups
                .into_iter()
                .map(|p| event.caused_once(p, "envelope-function"))
                .collect();
            self.publisher
                .publish_all(&follow_ups)
                .await
                .map_err(retryable)?;
            for e in &follow_ups {
                tracing::info!(event_type = %e.event_type, event_id = %e.event_id, "published");
            }
            state.completion_published = true;
            match self.write(&state, version).await {
                // Either way the completion is out; a later redelivery would publish the same id.
                Ok(_) | Err(StoreError::Conflict(_)) => return Ok(()),
                Err(e) => return Err(retryable(e)),
            }
        }
        Err(HandlerError::Retryable(format!(
            "envelope {id}: kept conflicting with other writers"
        )))
    }
}
