//! The dead-letter queues, for operators: what is parked and why, and sending it back.
//!
//! SQS's own redrive (`StartMessageMoveTask`) moves a whole queue at once and can't pick an
//! envelope or an event; after a fix, an operator usually wants one envelope's events back, in
//! their order, and the rest left parked. Both commands here read a dead-letter queue by
//! receiving its messages and holding them (a visibility timeout) so that the rest of the queue
//! comes into view; whatever they don't take is made visible again before they return.
//!
//! A FIFO queue hands out no message of a group while an earlier one of that group is held, so a
//! listing shows at most the first ten messages of each envelope; redrive takes them in turn and
//! reaches them all.

use anyhow::{Context, Result};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use esign_events::publish::EVENT_TYPE_ATTRIBUTE;
use esign_events::runtime::{REDRIVE_ATTRIBUTE, REPLAY_ATTRIBUTE};
use std::collections::HashMap;

/// How long a message is held while the rest of the queue is read.
const HOLD_SECS: i32 = 30;

/// A parked message, as its attributes describe it. The body is left out: it holds personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedMessage {
    pub message_id: String,
    /// The message group: the envelope (or other partition key) the event is about.
    pub group: Option<String>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    /// Why it was parked; `None` for a message the queue's redrive policy moved on its own.
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub consumer: Option<String>,
    pub first_failure_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub receive_count: Option<String>,
    /// The redrive run that last sent it back, if one did.
    pub redrive_id: Option<String>,
}

impl ParkedMessage {
    fn from_sqs(m: &aws_sdk_sqs::types::Message) -> Self {
        let attribute = |name: &str| {
            m.message_attributes()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value())
                .map(str::to_owned)
        };
        Self {
            message_id: m.message_id().unwrap_or_default().to_owned(),
            group: m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned(),
            event_id: attribute("eventId"),
            event_type: attribute("eventType"),
            error_kind: attribute("errorKind"),
            error_message: attribute("errorMessage"),
            consumer: attribute("consumer"),
            first_failure_at: attribute("firstFailureAt"),
            last_failure_at: attribute("lastFailureAt"),
            receive_count: attribute("receiveCount"),
            redrive_id: attribute(REDRIVE_ATTRIBUTE),
        }
    }

    /// One line for a terminal.
    pub fn line(&self) -> String {
        let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_owned());
        format!(
            "{} group={} event={} type={} kind={} consumer={} receives={} first={} last={} redriven={} reason={}",
            self.message_id,
            or(&self.group, "-"),
            or(&self.event_id, "-"),
            or(&self.event_type, "-"),
            or(&self.error_kind, "not_recorded"),
            or(&self.consumer, "-"),
            or(&self.receive_count, "-"),
            or(&self.first_failure_at, "-"),
            or(&self.last_failure_at, "-"),
            if self.redrive_id.is_some() { "yes" } else { "no" },
            or(
                &self.error_message,
                "moved by the queue's redrive policy without a recorded reason"
            ),
        )
    }
}

/// Which parked messages to send back: all, or those of one group and/or one event.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub group: Option<String>,
    pub event_id: Option<String>,
}

impl Filter {
    pub fn matches(&self, m: &ParkedMessage) -> bool {
        self.group
            .as_ref()
            .is_none_or(|g| m.group.as_ref() == Some(g))
            && self
                .event_id
                .as_ref()
                .is_none_or(|e| m.event_id.as_ref() == Some(e))
    }
}

/// A queue and its dead-letter queue, by URL.
#[derive(Debug, Clone)]
pub struct Pair {
    pub source_url: String,
    pub dead_letter_url: String,
}

impl Pair {
    /// Finds a queue by name and its dead-letter queue from its redrive policy.
    pub async fn of(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<Self> {
        let mut found = sqs.get_queue_url().queue_name(queue).send().await;
        // The queues are named as the diagrams name them, without the suffix FIFO queues need.
        let not_found = |f: &Result<_, aws_sdk_sqs::error::SdkError<_>>| {
            f.as_ref()
                .err()
                .and_then(|e| e.as_service_error())
                .is_some_and(
                    |s: &aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError| {
                        s.is_queue_does_not_exist()
                    },
                )
        };
        if not_found(&found) && !queue.ends_with(".fifo") {
            found = sqs
                .get_queue_url()
                .queue_name(format!("{queue}.fifo"))
                .send()
                .await;
        }
        let source_url = match found {
            Ok(out) => out.queue_url.context("a queue without a URL")?,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist()) =>
            {
                let known = with_dead_letter_queues(sqs).await.unwrap_or_default();
                anyhow::bail!(
                    "queue {queue} does not exist; the queues with a dead-letter queue are: {}",
                    known.join(", ")
                );
            }
            Err(e) => return Err(e).with_context(|| format!("queue {queue}")),
        };
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&source_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .with_context(|| format!("reading the redrive policy of {queue}"))?;
        let policy = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .with_context(|| format!("queue {queue} has no dead-letter queue"))?;
        let policy: serde_json::Value =
            serde_json::from_str(policy).context("a redrive policy that is not JSON")?;
        let arn = policy["deadLetterTargetArn"]
            .as_str()
            .context("a redrive policy without deadLetterTargetArn")?;
        let name = arn.rsplit(':').next().unwrap_or_default();
        let dead_letter_url = sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .with_context(|| format!("dead-letter queue {name}"))?
            .queue_url
            .context("a queue without a URL")?;
        Ok(Self {
            source_url,
            dead_letter_url,
        })
    }
}

/// The names of the queues that have a redrive policy.
pub async fn with_dead_letter_queues(sqs: &aws_sdk_sqs::Client) -> Result<Vec<String>> {
    let urls = sqs
        .list_queues()
        .send()
        .await?
        .queue_urls
        .unwrap_or_default();
    let mut names = Vec::new();
    for url in urls {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await?;
        if attributes
            .attributes()
            .is_some_and(|a| a.contains_key(&QueueAttributeName::RedrivePolicy))
        {
            names.extend(url.rsplit('/').next().map(str::to_owned));
        }
    }
    names.sort();
    Ok(names)
}

/// Receives up to ten messages and holds them.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<Vec<aws_sdk_sqs::types::Message>> {
    Ok(sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(HOLD_SECS)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .context("reading the dead-letter queue")?
        .messages
        .unwrap_or_default())
}

/// Makes held messages visible again. A failure leaves them held until the hold runs out, which
/// loses nothing.
async fn release(sqs: &aws_sdk_sqs::Client, url: &str, receipts: &[String]) {
    for receipt in receipts {
        if let Err(e) = sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
        {
            tracing::warn!(error = %e, "could not release a held message; it comes back after the hold");
        }
    }
}

/// Everything in view in a dead-letter queue (see the module's note on FIFO groups).
pub async fn list(sqs: &aws_sdk_sqs::Client, dead_letter_url: &str) -> Result<Vec<ParkedMessage>> {
    let mut seen = Vec::new();
    let mut held = Vec::new();
    let result = async {
        loop {
            let batch = receive(sqs, dead_letter_url).await?;
            if batch.is_empty() {
                return Ok::<_, anyhow::Error>(());
            }
            for m in &batch {
                seen.push(ParkedMessage::from_sqs(m));
                held.extend(m.receipt_handle().map(str::to_owned));
            }
        }
    }
    .await;
    release(sqs, dead_letter_url, &held).await;
    result.map(|()| seen)
}

/// What a redrive did.
#[derive(Debug, Default)]
pub struct Redriven {
    /// Sent back to the queue, in the order sent.
    pub moved: Vec<ParkedMessage>,
    /// Sent back by this run, failed again and parked again while it ran; left parked.
    pub parked_again: Vec<ParkedMessage>,
}

/// Sends the parked messages that match back to their source queue, each group in its order.
/// Each is sent before it is deleted from the dead-letter queue, so a failure in between leaves
/// a copy in both, which the consumer's idempotency record absorbs; nothing is lost. The reason
/// attributes stay behind; the event type and a replay id (so a reprocessing replay stays one)
/// go with the message, and the run's id, which parking keeps: a message that fails again and
/// comes back while the run reads is left parked rather than sent round again.
pub async fn redrive(sqs: &aws_sdk_sqs::Client, pair: &Pair, filter: &Filter) -> Result<Redriven> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    redrive_as(sqs, pair, filter, &run).await
}

/// [`redrive`] under a given run id: messages parked with that id count as parked again.
pub async fn redrive_as(
    sqs: &aws_sdk_sqs::Client,
    pair: &Pair,
    filter: &Filter,
    run: &str,
) -> Result<Redriven> {
    let mut parked_again = Vec::new();
    let fifo = pair.source_url.ends_with(".fifo");
    let mut moved = Vec::new();
    let mut held = Vec::new();
    let result = async {
        loop {
            let batch = receive(sqs, &pair.dead_letter_url).await?;
            if batch.is_empty() {
                return Ok::<_, anyhow::Error>(());
            }
            for m in &batch {
                let parked = ParkedMessage::from_sqs(m);
                let receipt = m.receipt_handle().unwrap_or_default().to_owned();
                if parked.redrive_id.as_deref() == Some(run) {
                    held.push(receipt);
                    parked_again.push(parked);
                    continue;
                }
                if !filter.matches(&parked) {
                    held.push(receipt);
                    continue;
                }
                let mut send = sqs
                    .send_message()
                    .queue_url(&pair.source_url)
                    .message_body(m.body().unwrap_or_default())
                    .set_message_attributes(Some(carried(m)))
                    .message_attributes(
                        REDRIVE_ATTRIBUTE,
                        MessageAttributeValue::builder()
                            .data_type("String")
                            .string_value(run)
                            .build()?,
                    );
                if fifo {
                    send = send
                        .message_group_id(parked.group.clone().unwrap_or_else(|| parked.message_id.clone()))
                        .message_deduplication_id(format!("redrive-{}-{}", &run[..8], parked.message_id));
                }
                send.send()
                    .await
                    .with_context(|| format!("sending {} back", parked.message_id))?;
                sqs.delete_message()
                    .queue_url(&pair.dead_letter_url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                    .with_context(|| format!("deleting {} from the dead-letter queue", parked.message_id))?;
                tracing::info!(message_id = %parked.message_id, group = parked.group.as_deref(), "redriven");
                moved.push(parked);
            }
        }
    }
    .await;
    release(sqs, &pair.dead_letter_url, &held).await;
    result.map(|()| Redriven {
        moved,
        parked_again,
    })
}

/// The message attributes that go back with a redriven message.
fn carried(m: &aws_sdk_sqs::types::Message) -> HashMap<String, MessageAttributeValue> {
    m.message_attributes()
        .map(|a| {
            a.iter()
                .filter(|(k, _)| [EVENT_TYPE_ATTRIBUTE, REPLAY_ATTRIBUTE].contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(group: &str, event: &str) -> ParkedMessage {
        ParkedMessage {
            message_id: "m".into(),
            group: Some(group.into()),
            event_id: Some(event.into()),
            event_type: None,
            error_kind: None,
            error_message: None,
            consumer: None,
            first_failure_at: None,
            last_failure_at: None,
            receive_count: None,
            redrive_id: None,
        }
    }

    #[test]
    fn a_filter_takes_a_group_an_event_or_both() {
        let m = parked("env-1", "ev-1");
        assert!(Filter::default().matches(&m));
        let group = |g: &str| Filter {
            group: Some(g.into()),
            event_id: None,
        };
        assert!(group("env-1").matches(&m));
        assert!(!group("env-2").matches(&m));
        let both = Filter {
            group: Some("env-1".into()),
            event_id: Some("ev-2".into()),
        };
        assert!(!both.matches(&m));
    }

    #[test]
    fn a_message_without_a_reason_says_so() {
        let line = parked("env-1", "ev-1").line();
        assert!(line.contains("kind=not_recorded"), "{line}");
        assert!(
            line.contains("moved by the queue's redrive policy"),
            "{line}"
        );
    }
}
