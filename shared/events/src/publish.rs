//! Publishing events to their category's SNS FIFO topic.
//!
//! Each event goes out with `MessageGroupId` = its partition key (the envelope id), so that one
//! envelope's events keep their order through SNS and every subscribed SQS FIFO queue, and
//! `MessageDeduplicationId` = its event id, so a publisher that retries within SNS's five-minute
//! window does not create a second message. The event type travels as a message attribute for
//! subscription filter policies.

use crate::event::Event;
use crate::routing::Category;
use aws_sdk_sns::types::MessageAttributeValue;
use std::collections::HashMap;

/// The largest message SNS accepts, body and attributes together.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The name of the message attribute that carries the event type.
pub const EVENT_TYPE_ATTRIBUTE: &str = "eventType";

/// Why an event was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "event {event_id}: message is {size} bytes with attributes, over SNS's limit of {limit}"
    )]
    TooLarge {
        event_id: String,
        size: usize,
        limit: usize,
    },
    #[error(
        "event {event_id}: {field} '{value}' is not 1 to 128 ASCII letters, digits or punctuation"
    )]
    InvalidId {
        event_id: String,
        field: &'static str,
        value: String,
    },
    #[error(
        "event {event_id}: {event_type} was supported until {until}; publish {replacement} instead"
    )]
    Retired {
        event_id: String,
        event_type: &'static str,
        until: chrono::NaiveDate,
        replacement: &'static str,
    },
    #[error("no topic is known for category '{0}'")]
    NoTopic(Category),
    #[error("listing SNS topics failed: {0}")]
    Discovery(String),
    #[error("event {event_id}: SNS refused the publish: {message}")]
    Sns { event_id: String, message: String },
}

/// The ARN of each category's topic.
#[derive(Debug, Clone, Default)]
pub struct Topics {
    arns: HashMap<Category, String>,
}

impl Topics {
    /// A directory from explicit ARNs.
    pub fn new(arns: impl IntoIterator<Item = (Category, String)>) -> Self {
        Self {
            arns: arns.into_iter().collect(),
        }
    }

    /// The topics named by `<CATEGORY>_TOPIC_ARN` variables (`ENVELOPE_TOPIC_ARN`, ...). A
    /// function is given only the topics it publishes to; publishing to another fails with
    /// [`PublishError::NoTopic`].
    pub fn from_env() -> Self {
        let arns = Category::ALL.into_iter().filter_map(|c| {
            let name = format!("{}_TOPIC_ARN", c.as_str().to_uppercase());
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|arn| (c, arn))
        });
        Self::new(arns)
    }

    /// Finds each category's topic by its name (`envelope-events.fifo`, ...) among the account's
    /// topics, so a tool needs no ARN configured.
    pub async fn discover(sns: &aws_sdk_sns::Client) -> Result<Self, PublishError> {
        let mut arns = HashMap::new();
        let mut pages = sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| PublishError::Discovery(error_text(&e)))?;
            for arn in page.topics().iter().filter_map(|t| t.topic_arn()) {
                let name = arn.rsplit(':').next().unwrap_or_default();
                if let Some(category) = Category::ALL.into_iter().find(|c| c.topic_name() == name) {
                    arns.insert(category, arn.to_owned());
                }
            }
        }
        Ok(Self { arns })
    }

    /// The topic of a category.
    pub fn arn(&self, category: Category) -> Result<&str, PublishError> {
        self.arns
            .get(&category)
            .map(String::as_str)
            .ok_or(PublishError::NoTopic(category))
    }
}

/// A message ready for SNS, checked against SNS's and SQS's limits.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub category: Category,
    pub body: String,
    pub group_id: String,
    pub dedup_id: String,
    pub event_type: String,
}

impl Outgoing {
    /// Prepares an event: serialises it and checks its version, size and ids before any
    /// network call.
    pub fn prepare(event: &Event) -> Result<Self, PublishError> {
        Self::prepare_on(event, chrono::Utc::now().date_naive())
    }

    /// [`Outgoing::prepare`] as of a given day.
    pub fn prepare_on(event: &Event, today: chrono::NaiveDate) -> Result<Self, PublishError> {
        let event_id = event.event_id.to_string();
        if !event.event_type.is_publishable_on(today) {
            let d = event
                .event_type
                .deprecation()
                .expect("only deprecated types expire");
            return Err(PublishError::Retired {
                event_id,
                event_type: event.event_type.name(),
                until: d.supported_until,
                replacement: d.replaced_by.name(),
            });
        }
        let outgoing = Self {
            category: event.event_type.category(),
            body: event.to_json(),
            group_id: event.partition_key(),
            dedup_id: event_id.clone(),
            event_type: event.event_type.name().to_owned(),
        };
        for (field, value) in [
            ("MessageGroupId", &outgoing.group_id),
            ("MessageDeduplicationId", &outgoing.dedup_id),
        ] {
            if !valid_fifo_id(value) {
                return Err(PublishError::InvalidId {
                    event_id: event_id.clone(),
                    field,
                    value: value.clone(),
                });
            }
        }
        let size = outgoing.size();
        if size > MAX_MESSAGE_BYTES {
            return Err(PublishError::TooLarge {
                event_id,
                size,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        Ok(outgoing)
    }

    /// The size SNS counts: the body's UTF-8 bytes plus each attribute's name, type and value.
    pub fn size(&self) -> usize {
        self.body.len() + EVENT_TYPE_ATTRIBUTE.len() + "String".len() + self.event_type.len()
    }
}

/// SQS's rule for group and deduplication ids: 1 to 128 characters from `!` to `~`.
pub fn valid_fifo_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| (b'!'..=b'~').contains(&b))
}

/// How one entry of a batch publish ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// SNS's message id.
    Published(String),
    Failed {
        code: String,
        message: String,
        /// Whether sending it again may succeed (throttling, a fault on SNS's side).
        retryable: bool,
    },
}

/// A whole batch call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    pub message: String,
    pub retryable: bool,
}

/// Where batches of events go: SNS's `PublishBatch`, or a fake in tests.
pub trait Sink: Sync {
    /// Publishes up to 10 entries to one topic and returns one outcome per entry, in order.
    fn publish_batch(
        &self,
        topic_arn: &str,
        entries: &[&Outgoing],
    ) -> impl std::future::Future<Output = Result<Vec<EntryOutcome>, SinkError>> + Send;
}

impl Sink for aws_sdk_sns::Client {
    async fn publish_batch(
        &self,
        topic_arn: &str,
        entries: &[&Outgoing],
    ) -> Result<Vec<EntryOutcome>, SinkError> {
        let request: Vec<_> = entries
            .iter()
            .enumerate()
            .map(|(i, out)| {
                let attribute = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(&out.event_type)
                    .build()
                    .expect("data type is set");
                aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message(&out.body)
                    .message_group_id(&out.group_id)
                    .message_deduplication_id(&out.dedup_id)
                    .message_attributes(EVENT_TYPE_ATTRIBUTE, attribute)
                    .build()
                    .expect("id and message are set")
            })
            .collect();
        let response = aws_sdk_sns::Client::publish_batch(self)
            .topic_arn(topic_arn)
            .set_publish_batch_request_entries(Some(request))
            .send()
            .await
            .map_err(|e| {
                let retryable = !matches!(e, aws_sdk_sns::error::SdkError::ServiceError(ref s)
                    if s.raw().status().is_client_error() && !error_text(&e).contains("Throttl"));
                SinkError {
                    message: error_text(&e),
                    retryable,
                }
            })?;
        let mut outcomes = vec![
            EntryOutcome::Failed {
                code: "Missing".into(),
                message: "SNS did not report on this entry".into(),
                retryable: true,
            };
            entries.len()
        ];
        for ok in response.successful() {
            if let Some(i) = ok
                .id()
                .and_then(|id| id.parse::<usize>().ok())
                .filter(|i| *i < entries.len())
            {
                outcomes[i] =
                    EntryOutcome::Published(ok.message_id().unwrap_or_default().to_owned());
            }
        }
        for failed in response.failed() {
            if let Ok(i) = failed.id().parse::<usize>() {
                if i < entries.len() {
                    outcomes[i] = EntryOutcome::Failed {
                        code: failed.code().to_owned(),
                        message: failed.message().unwrap_or_default().to_owned(),
                        retryable: !failed.sender_fault() || failed.code().contains("Throttl"),
                    };
                }
            }
        }
        Ok(outcomes)
    }
}

/// How often and how patiently failed publishes are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub base: std::time::Duration,
    pub max: std::time::Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: std::time::Duration::from_millis(100),
            max: std::time::Duration::from_secs(2),
        }
    }
}

impl Retry {
    fn delay(&self, attempt: u32) -> std::time::Duration {
        self.base.saturating_mul(1 << attempt.min(16)).min(self.max)
    }
}

/// Publishes events to their categories' SNS FIFO topics.
#[derive(Debug, Clone)]
pub struct Publisher<S = aws_sdk_sns::Client> {
    sink: S,
    topics: Topics,
    retry: Retry,
}

impl<S: Sink> Publisher<S> {
    pub fn new(sink: S, topics: Topics) -> Self {
        Self {
            sink,
            topics,
            retry: Retry::default(),
        }
    }

    /// Where the publisher sends (for tests that inspect a fake).
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The same publisher with another retry policy.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Publishes one event and returns SNS's message id.
    pub async fn publish(&self, event: &Event) -> Result<String, PublishError> {
        let mut ids = self.publish_all(std::slice::from_ref(event)).await?;
        Ok(ids.pop().unwrap_or_default())
    }

    /// Publishes events with `PublishBatch`, ten at a time per topic, and returns their message
    /// ids in order. Every event is checked before anything is sent. A failed entry is sent
    /// again with exponential backoff while its failure is retryable, before the next ten go,
    /// so that a retried event is not overtaken by later events of its group; a throttled call
    /// is retried whole.
    pub async fn publish_all(&self, events: &[Event]) -> Result<Vec<String>, PublishError> {
        let prepared = events
            .iter()
            .map(Outgoing::prepare)
            .collect::<Result<Vec<_>, _>>()?;
        let mut ids = vec![String::new(); events.len()];

        // Topics in order of first appearance, each with its events' positions.
        let mut by_topic: Vec<(crate::routing::Category, Vec<usize>)> = Vec::new();
        for (i, out) in prepared.iter().enumerate() {
            match by_topic.iter_mut().find(|(c, _)| *c == out.category) {
                Some((_, positions)) => positions.push(i),
                None => by_topic.push((out.category, vec![i])),
            }
        }
        for (category, positions) in by_topic {
            let topic = self.topics.arn(category)?;
            for chunk in positions.chunks(10) {
                let mut pending: Vec<usize> = chunk.to_vec();
                for attempt in 0.. {
                    let entries: Vec<&Outgoing> = pending.iter().map(|&i| &prepared[i]).collect();
                    let failure = match self.sink.publish_batch(topic, &entries).await {
                        Ok(outcomes) => {
                            let mut still = Vec::new();
                            let mut last = None;
                            for (&i, outcome) in pending.iter().zip(outcomes) {
                                match outcome {
                                    EntryOutcome::Published(id) => {
                                        tracing::info!(
                                            event_id = %events[i].event_id,
                                            event_type = %events[i].event_type,
                                            trace_id = %crate::personal::scrub(&events[i].trace_id),
                                            "event published"
                                        );
                                        ids[i] = id;
                                    }
                                    EntryOutcome::Failed {
                                        code,
                                        message,
                                        retryable,
                                    } => {
                                        let text =
                                            format!("{code}: {}", crate::personal::scrub(&message));
                                        if !retryable {
                                            return Err(PublishError::Sns {
                                                event_id: events[i].event_id.to_string(),
                                                message: text,
                                            });
                                        }
                                        still.push(i);
                                        last = Some(text);
                                    }
                                }
                            }
                            pending = still;
                            last
                        }
                        // A whole call's error text is SNS's, and may echo what it was sent.
                        Err(e) if e.retryable => Some(crate::personal::scrub(&e.message)),
                        Err(e) => {
                            return Err(PublishError::Sns {
                                event_id: events[pending[0]].event_id.to_string(),
                                message: crate::personal::scrub(&e.message),
                            })
                        }
                    };
                    let Some(message) = failure else { break };
                    if pending.is_empty() {
                        break;
                    }
                    if attempt + 1 >= self.retry.attempts {
                        return Err(PublishError::Sns {
                            event_id: events[pending[0]].event_id.to_string(),
                            message: format!(
                                "still failing after {} attempts: {message}",
                                self.retry.attempts
                            ),
                        });
                    }
                    tracing::warn!(failed = pending.len(), attempt, error = %message, "publish failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                }
            }
        }
        Ok(ids)
    }
}

/// The SDK's error with its service code and message, which `Display` alone leaves out.
pub fn error_text<E, R>(error: &aws_sdk_sns::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sns::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("no message")
        ),
        None => format!("{error}"),
    }
}
