//! What the runtime asks of the queue it consumes: its settings, a shorter visibility timeout
//! for a record to retry soon, and parking a record in the dead-letter queue with its reason.

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// The settings of a source queue that the runtime's decisions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub url: String,
    pub visibility_timeout_secs: i32,
    /// `maxReceiveCount` of the redrive policy.
    pub max_receive_count: u32,
    /// The dead-letter queue's URL, when the queue has one.
    pub dead_letter_url: Option<String>,
}

/// A record to park in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub body: String,
    /// The record's message group, kept so the DLQ holds each envelope's events in order.
    pub group_id: String,
    /// The source message id: parking the same record twice stores it once.
    pub dedup_id: String,
    /// Why: error kind, message, consumer, failure times, receive count.
    pub attributes: Vec<(String, String)>,
}

/// Queue operations the runtime needs.
pub trait QueueOps: Sync {
    /// The settings of the queue with this ARN; `None` when they can't be known, in which case
    /// the runtime only reports failures and leaves the rest to the redrive policy.
    fn info(&self, queue_arn: &str) -> impl Future<Output = Option<QueueInfo>> + Send;

    /// Makes a received message visible again after `seconds`.
    fn change_visibility(
        &self,
        queue: &QueueInfo,
        receipt_handle: &str,
        seconds: i32,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Sends a record to the dead-letter queue, then deletes it from its source queue.
    fn park(
        &self,
        queue: &QueueInfo,
        receipt_handle: &str,
        parked: &Parked,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// No queue access: failures are only reported.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoQueue;

impl QueueOps for NoQueue {
    async fn info(&self, _: &str) -> Option<QueueInfo> {
        None
    }
    async fn change_visibility(&self, _: &QueueInfo, _: &str, _: i32) -> Result<(), String> {
        Err("no queue access".into())
    }
    async fn park(&self, _: &QueueInfo, _: &str, _: &Parked) -> Result<(), String> {
        Err("no queue access".into())
    }
}

/// A queue in memory that records what the runtime asked of it, for tests.
#[derive(Debug)]
pub struct RecordingQueue {
    pub info: QueueInfo,
    pub visibility_changes: Mutex<Vec<(String, i32)>>,
    pub parked: Mutex<Vec<(String, Parked)>>,
}

impl RecordingQueue {
    pub fn new(visibility_timeout_secs: i32, max_receive_count: u32) -> Self {
        Self {
            info: QueueInfo {
                url: "memory://queue.fifo".into(),
                visibility_timeout_secs,
                max_receive_count,
                dead_letter_url: Some("memory://queue-dlq.fifo".into()),
            },
            visibility_changes: Mutex::new(Vec::new()),
            parked: Mutex::new(Vec::new()),
        }
    }
}

impl QueueOps for RecordingQueue {
    async fn info(&self, _: &str) -> Option<QueueInfo> {
        Some(self.info.clone())
    }
    async fn change_visibility(
        &self,
        _: &QueueInfo,
        receipt: &str,
        seconds: i32,
    ) -> Result<(), String> {
        self.visibility_changes
            .lock()
            .unwrap()
            .push((receipt.into(), seconds));
        Ok(())
    }
    async fn park(&self, _: &QueueInfo, receipt: &str, parked: &Parked) -> Result<(), String> {
        // As SQS does: a message with more attributes than it takes is refused.
        if parked.attributes.len() > crate::runtime::MAX_MESSAGE_ATTRIBUTES {
            return Err(format!(
                "{} message attributes, more than SQS takes",
                parked.attributes.len()
            ));
        }
        self.parked
            .lock()
            .unwrap()
            .push((receipt.into(), parked.clone()));
        Ok(())
    }
}

/// SQS, with each queue's settings read once and cached for the life of the process.
#[derive(Debug)]
pub struct SqsQueues {
    client: aws_sdk_sqs::Client,
    cache: tokio::sync::Mutex<HashMap<String, Option<QueueInfo>>>,
}

impl SqsQueues {
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self {
            client,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    async fn url_of(&self, arn: &str) -> Option<String> {
        // arn:aws:sqs:<region>:<account>:<name>
        let mut parts = arn.split(':');
        let (account, name) = (parts.nth(4)?, parts.next()?);
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(
                |e| tracing::warn!(error = %crate::aws::describe(&e), "sqs:GetQueueUrl failed"),
            )
            .ok()?;
        out.queue_url().map(String::from)
    }

    async fn load(&self, arn: &str) -> Option<QueueInfo> {
        let url = self.url_of(arn).await?;
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| tracing::warn!(error = %crate::aws::describe(&e), "sqs:GetQueueAttributes failed"))
            .ok()?;
        let attributes = attributes.attributes()?;
        let visibility_timeout_secs = attributes
            .get(&QueueAttributeName::VisibilityTimeout)
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        let redrive: Option<serde_json::Value> = attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .and_then(|v| serde_json::from_str(v).ok());
        let max_receive_count = redrive
            .as_ref()
            .and_then(|r| r.get("maxReceiveCount"))
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(u64::from(u32::MAX)) as u32;
        let dead_letter_url = match redrive
            .as_ref()
            .and_then(|r| r["deadLetterTargetArn"].as_str())
        {
            Some(dlq) => self.url_of(dlq).await,
            None => None,
        };
        Some(QueueInfo {
            url,
            visibility_timeout_secs,
            max_receive_count,
            dead_letter_url,
        })
    }
}

impl QueueOps for SqsQueues {
    async fn info(&self, queue_arn: &str) -> Option<QueueInfo> {
        let mut cache = self.cache.lock().await;
        if let Some(known) = cache.get(queue_arn) {
            return known.clone();
        }
        let info = self.load(queue_arn).await;
        cache.insert(queue_arn.to_owned(), info.clone());
        info
    }

    async fn change_visibility(
        &self,
        queue: &QueueInfo,
        receipt: &str,
        seconds: i32,
    ) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(&queue.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("sqs:ChangeMessageVisibility: {}", crate::aws::describe(&e)))
    }

    async fn park(&self, queue: &QueueInfo, receipt: &str, parked: &Parked) -> Result<(), String> {
        let dlq = queue
            .dead_letter_url
            .as_deref()
            .ok_or_else(|| "the queue has no dead-letter queue".to_owned())?;
        let mut send = self
            .client
            .send_message()
            .queue_url(dlq)
            .message_body(&parked.body);
        if dlq.ends_with(".fifo") {
            send = send
                .message_group_id(&parked.group_id)
                .message_deduplication_id(&parked.dedup_id);
        }
        for (name, value) in &parked.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())?;
            send = send.message_attributes(name, attribute);
        }
        send.send()
            .await
            .map_err(|e| format!("sqs:SendMessage to the DLQ: {}", crate::aws::describe(&e)))?;
        // Only once the DLQ holds it: a failure here leaves a copy in both queues, never none.
        self.client
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("sqs:DeleteMessage: {}", crate::aws::describe(&e)))
    }
}
