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

/// Publishes events to SNS.
#[derive(Debug, Clone)]
pub struct Publisher {
    sns: aws_sdk_sns::Client,
    topics: Topics,
}

impl Publisher {
    pub fn new(sns: aws_sdk_sns::Client, topics: Topics) -> Self {
        Self { sns, topics }
    }

    /// Publishes one event and returns SNS's message id.
    pub async fn publish(&self, event: &Event) -> Result<String, PublishError> {
        let out = Outgoing::prepare(event)?;
        let topic = self.topics.arn(out.category)?;
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&out.event_type)
            .build()
            .expect("data type is set");
        let sent = self
            .sns
            .publish()
            .topic_arn(topic)
            .message(out.body)
            .message_group_id(out.group_id)
            .message_deduplication_id(out.dedup_id)
            .message_attributes(EVENT_TYPE_ATTRIBUTE, attribute)
            .send()
            .await
            .map_err(|e| PublishError::Sns {
                event_id: event.event_id.to_string(),
                message: error_text(&e),
            })?;
        tracing::info!(
            event_id = %event.event_id,
            event_type = %event.event_type,
            trace_id = %event.trace_id,
            "event published"
        );
        Ok(sent.message_id().unwrap_or_default().to_owned())
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
