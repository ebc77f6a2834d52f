//! The notification function's handler: plan, then for each message record it as queued,
//! deliver it at most once, and record and publish what happened.

use crate::config::Config;
use crate::deliver::Deliver;
use crate::mail::{About, Priority};
use crate::plan::{plan, Message};
use crate::store::{NotificationStore, Status};
use esign_events::catalogue::{
    Channel, NotificationErrorType, NotificationFailed, NotificationQueued, NotificationSent,
};
use esign_events::idempotency::{payload_hash, Acquired, GuardError, IdempotencyStore};
use esign_events::publish::{Publisher, Sink};
use esign_events::runtime::{now_ms, Backoff, Handler, HandlerError, RecordContext};
use esign_events::time::Timestamp;
use esign_events::{Event, Payload};
use uuid::Uuid;

/// How many deliveries a message gets: the queue's `maxReceiveCount`.
pub const MAX_ATTEMPTS: u32 = 3;

/// The notification function's handler.
pub struct NotificationHandler<D, I, N, S> {
    config: Config,
    deliver: D,
    idempotency: I,
    records: N,
    publisher: Publisher<S>,
}

/// The notification id of a message: derived from its event's idempotency scope (the event id,
/// or the event id and the replay) and its key, so a redelivery names the same notification and
/// a reprocessing replay a new one.
pub fn notification_id(scope: &str, key: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("notification/{scope}/{key}").as_bytes(),
    )
}

fn retryable(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retryable(e.to_string())
}

impl<D: Deliver, I: IdempotencyStore, N: NotificationStore, S: Sink>
    NotificationHandler<D, I, N, S>
{
    pub fn new(
        config: Config,
        deliver: D,
        idempotency: I,
        records: N,
        publisher: Publisher<S>,
    ) -> Self {
        Self {
            config,
            deliver,
            idempotency,
            records,
            publisher,
        }
    }

    /// The delivery channel, for tests that inspect a fake.
    pub fn delivery(&self) -> &D {
        &self.deliver
    }

    /// The records, for tests.
    pub fn records(&self) -> &N {
        &self.records
    }

    /// Takes the idempotency record of one message; `Ok(false)` when it was sent before.
    async fn take(&self, key: &str, hash: &str, ctx: &RecordContext) -> Result<bool, HandlerError> {
        match self
            .idempotency
            .acquire(key, hash, now_ms(), ctx.deadline_ms)
            .await
        {
            Ok(Acquired::Fresh | Acquired::TakenOver) => Ok(true),
            Ok(Acquired::AlreadyDone) => Ok(false),
            Err(GuardError::InFlight { .. }) => {
                Err(retryable("another attempt is sending this message"))
            }
            Err(GuardError::Conflict { key }) => Err(HandlerError::Permanent(format!(
                "{key}: the event was seen before with a different payload"
            ))),
            Err(GuardError::Store(e)) => Err(retryable(e)),
        }
    }

    async fn publish(
        &self,
        cause: &Event,
        payload: Payload,
        key: &str,
    ) -> Result<(), HandlerError> {
        self.publisher
            .publish(&cause.caused_as(payload, "notification-function", key))
            .await
            .map(|_| ())
            .map_err(retryable)
    }

    /// Delivers one message at most once, with its `notification.*` events.
    async fn send(
        &self,
        event: &Event,
        message: &Message,
        hash: &str,
        ctx: &RecordContext,
    ) -> Result<(), HandlerError> {
        let (key, channel, about, priority) = match message {
            Message::Email(m) => (&m.key, Channel::Email, &m.about, m.priority),
            Message::Sms(s) => (&s.key, Channel::Sms, &s.about, s.priority),
        };
        let scope = ctx.idempotency_scope(event);
        let id = notification_id(&scope, key);
        let id_key = id.to_string();
        let status = |state: &str, provider: Option<String>, retry_count: u32| Status {
            notification_id: id,
            state: state.into(),
            channel: channel_name(channel).into(),
            template: message.kind().into(),
            envelope_id: about.envelope_id,
            provider_message_id: provider,
            retry_count,
        };

        if !self
            .take(&format!("notification#{scope}#{key}"), hash, ctx)
            .await?
        {
            // Sent before. If publishing `notification.sent` failed then, do it now, from the
            // record (the derived event id makes a second copy harmless).
            if let Ok(Some(s)) = self.records.status(id).await {
                if let (Some(provider), "sent") = (s.provider_message_id.clone(), s.state.as_str())
                {
                    self.publish(
                        event,
                        sent_payload(id, about, channel, provider),
                        &format!("{id_key}/sent"),
                    )
                    .await?;
                }
            }
            tracing::info!(kind = message.kind(), "message sent before; skipped");
            return Ok(());
        }

        let retry_count = ctx.receive_count.saturating_sub(1);
        self.records
            .save_status(&status("queued", None, retry_count))
            .await
            .map_err(retryable)?;
        self.publish(
            event,
            queued_payload(id, about, channel, message.kind(), priority),
            &id_key,
        )
        .await?;

        let sent = match message {
            Message::Email(mail) => self.deliver.email(mail).await,
            Message::Sms(sms) => self.deliver.sms(sms).await,
        };
        let key = format!("notification#{scope}#{key}");
        match sent {
            // The provider has the message: mark it sent before anything else can fail. A crash
            // between the provider's answer and this line is the one window left (see
            // esign_events::idempotency).
            Ok(provider_id) => {
                if let Err(e) = self.idempotency.complete(&key, now_ms()).await {
                    tracing::warn!(error = %e, "could not mark the message sent");
                }
                tracing::info!(kind = message.kind(), channel = channel_name(channel), %provider_id, "message sent");
                self.records
                    .save_status(&status("sent", Some(provider_id.clone()), retry_count))
                    .await
                    .map_err(retryable)?;
                self.publish(
                    event,
                    sent_payload(id, about, channel, provider_id),
                    &format!("{id_key}/sent"),
                )
                .await
            }
            Err(error) => {
                if let Err(e) = self.idempotency.release(&key, now_ms()).await {
                    tracing::warn!(error = %e, "could not release the message's record");
                }
                let will_retry =
                    matches!(error, HandlerError::Retryable(_)) && ctx.receive_count < MAX_ATTEMPTS;
                let next_retry_at = will_retry.then(|| {
                    let delay = Backoff::default().delay_secs(ctx.receive_count, i32::MAX);
                    Timestamp(chrono::Utc::now() + chrono::Duration::seconds(i64::from(delay)))
                });
                let (error_type, text) = match &error {
                    HandlerError::Retryable(t) if t.contains("Throttl") => {
                        (NotificationErrorType::Throttled, t)
                    }
                    HandlerError::Retryable(t) => (NotificationErrorType::ProviderError, t),
                    HandlerError::Permanent(t) => (NotificationErrorType::Rejected, t),
                };
                let state = if will_retry { "retrying" } else { "failed" };
                self.records
                    .save_status(&status(state, None, retry_count))
                    .await
                    .map_err(retryable)?;
                let failed = Payload::NotificationFailed(NotificationFailed {
                    notification_id: id,
                    envelope_id: about.envelope_id,
                    channel,
                    error_type,
                    error_message: esign_events::personal::scrub(text),
                    retry_count,
                    will_retry,
                    next_retry_at,
                    failed_at: Timestamp::now(),
                });
                self.publish(event, failed, &format!("{id_key}/failed/{retry_count}"))
                    .await?;
                Err(error)
            }
        }
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::Sms => "sms",
    }
}

fn queued_payload(
    id: Uuid,
    about: &About,
    channel: Channel,
    template: &str,
    priority: Priority,
) -> Payload {
    Payload::NotificationQueued(NotificationQueued {
        notification_id: id,
        envelope_id: about.envelope_id,
        recipient_id: about.recipient_id,
        user_id: about.user_id,
        channel,
        template: template.into(),
        priority,
        queued_at: Timestamp::now(),
    })
}

fn sent_payload(id: Uuid, about: &About, channel: Channel, provider: String) -> Payload {
    Payload::NotificationSent(NotificationSent {
        notification_id: id,
        envelope_id: about.envelope_id,
        channel,
        provider_message_id: provider,
        sent_at: Timestamp::now(),
    })
}

impl<D: Deliver, I: IdempotencyStore, N: NotificationStore, S: Sink> Handler
    for NotificationHandler<D, I, N, S>
{
    async fn handle(&self, event: &Event, ctx: &RecordContext) -> Result<(), HandlerError> {
        let roster = match event.payload.envelope_id() {
            Some(envelope) => self.records.roster(envelope).await.map_err(retryable)?,
            None => None,
        };
        let planned = plan(event, &self.config, roster.as_ref());
        if planned.messages.is_empty() {
            tracing::debug!("nothing to notify");
        }
        let hash = payload_hash(event.event_type.name(), &event.version, event.data());
        // The first failure stops the event; the rest go out on redelivery, each message at
        // most once.
        for message in &planned.messages {
            self.send(event, message, &hash, ctx).await?;
        }
        // Only once every message is out: a roster saved earlier would forget, on a retry, who
        // was next.
        if let Some(after) = planned.roster {
            if Some(&after) != roster.as_ref() {
                self.records.save_roster(&after).await.map_err(retryable)?;
            }
        }
        Ok(())
    }
}
