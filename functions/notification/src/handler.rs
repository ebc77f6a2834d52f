//! The notification function's handler for the batch runtime.

use crate::config::Config;
use crate::deliver::Deliver;
use crate::plan::{plan, Message};
use esign_events::idempotency::{payload_hash, Acquired, GuardError, IdempotencyStore};
use esign_events::runtime::{now_ms, Handler, HandlerError, RecordContext};
use esign_events::Event;

/// Plans the messages an event calls for and delivers each at most once.
pub struct NotificationHandler<D, S> {
    config: Config,
    deliver: D,
    store: S,
}

impl<D: Deliver, S: IdempotencyStore> NotificationHandler<D, S> {
    pub fn new(config: Config, deliver: D, store: S) -> Self {
        Self {
            config,
            deliver,
            store,
        }
    }

    /// The delivery channel, for tests that inspect a fake.
    pub fn delivery(&self) -> &D {
        &self.deliver
    }

    /// Takes the idempotency record of one message; `Ok(false)` when it was sent before.
    async fn take(&self, key: &str, hash: &str, ctx: &RecordContext) -> Result<bool, HandlerError> {
        match self
            .store
            .acquire(key, hash, now_ms(), ctx.deadline_ms)
            .await
        {
            Ok(Acquired::Fresh | Acquired::TakenOver) => Ok(true),
            Ok(Acquired::AlreadyDone) => Ok(false),
            Err(GuardError::InFlight { .. }) => Err(HandlerError::Retryable(
                "another attempt is sending this message".into(),
            )),
            Err(GuardError::Conflict { key }) => Err(HandlerError::Permanent(format!(
                "{key}: the event was seen before with a different payload"
            ))),
            Err(GuardError::Store(e)) => Err(HandlerError::Retryable(e)),
        }
    }
}

impl<D: Deliver, S: IdempotencyStore> Handler for NotificationHandler<D, S> {
    async fn handle(&self, event: &Event, ctx: &RecordContext) -> Result<(), HandlerError> {
        let messages = plan(event, &self.config);
        if messages.is_empty() {
            tracing::debug!("nothing to notify");
        }
        let hash = payload_hash(event.event_type.name(), &event.version, event.data());
        // Each message has its own record, so a retry after a partial failure sends only what
        // is missing. The first failure stops the event; the rest go out on redelivery.
        for message in &messages {
            let (kind, channel, key) = match message {
                Message::Email(m) => (m.kind, "email", &m.key),
                Message::Sms(s) => (s.kind, "sms", &s.key),
            };
            let key = format!("notification#{}#{key}", event.event_id);
            if !self.take(&key, &hash, ctx).await? {
                tracing::info!(kind, channel, "message sent before; skipped");
                continue;
            }
            let sent = match message {
                Message::Email(mail) => self.deliver.email(mail).await,
                Message::Sms(sms) => self.deliver.sms(sms).await,
            };
            match sent {
                // The provider has the message: mark it sent before anything else can fail.
                // A crash between these two lines is the one window left (see idempotency.rs).
                Ok(provider_id) => {
                    if let Err(e) = self.store.complete(&key, now_ms()).await {
                        tracing::warn!(error = %e, "could not mark the message sent");
                    }
                    tracing::info!(kind, channel, %provider_id, "message sent");
                }
                Err(error) => {
                    if let Err(e) = self.store.release(&key, now_ms()).await {
                        tracing::warn!(error = %e, "could not release the message's record");
                    }
                    return Err(error);
                }
            }
        }
        Ok(())
    }
}
