//! The notification function's handler for the batch runtime.

use crate::config::Config;
use crate::deliver::Deliver;
use crate::plan::{plan, Message};
use esign_events::runtime::{Handler, HandlerError, RecordContext};
use esign_events::Event;

/// Plans the messages an event calls for and delivers them in order.
pub struct NotificationHandler<D> {
    config: Config,
    deliver: D,
}

impl<D: Deliver> NotificationHandler<D> {
    pub fn new(config: Config, deliver: D) -> Self {
        Self { config, deliver }
    }
}

impl<D: Deliver> Handler for NotificationHandler<D> {
    async fn handle(&self, event: &Event, _ctx: &RecordContext) -> Result<(), HandlerError> {
        let messages = plan(event, &self.config);
        if messages.is_empty() {
            tracing::debug!("nothing to notify");
        }
        // The first failure stops the event: the rest are sent when it is redelivered.
        for message in &messages {
            match message {
                Message::Email(mail) => {
                    let id = self.deliver.email(mail).await?;
                    tracing::info!(kind = mail.kind, channel = "email", provider_id = %id, "message sent");
                }
                Message::Sms(sms) => {
                    let id = self.deliver.sms(sms).await?;
                    tracing::info!(kind = sms.kind, channel = "sms", provider_id = %id, "message sent");
                }
            }
        }
        Ok(())
    }
}
