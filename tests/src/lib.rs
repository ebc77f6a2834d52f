//! Helpers for the integration tests: they talk to the real local stack (LocalStack), with the
//! functions running behind the local event source, as `infra/bus.sh test` sets it up.

use aws_config::SdkConfig;
use bus_cli::outbox::{self, CapturedMail, CapturedSms};
use esign_events::publish::{Publisher, Topics};
use esign_events::Event;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::{sleep, Instant};
use uuid::Uuid;

/// A connection to the local stack.
pub struct LocalStack {
    pub aws: SdkConfig,
    pub endpoint: String,
    publisher: Publisher,
}

impl LocalStack {
    /// Connects to the local stack named by `AWS_ENDPOINT_URL`, failing with a hint when it is
    /// not there.
    pub async fn connect() -> Self {
        let endpoint = bus_cli::local_endpoint();
        let health = format!("{endpoint}/_localstack/health");
        if reqwest::get(&health).await.is_err() {
            panic!("the local stack does not answer at {health}; run the tests with `infra/bus.sh test`");
        }
        let aws = esign_events::aws::sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&aws);
        let topics = Topics::discover(&sns).await.expect("listing topics");
        Self {
            publisher: Publisher::new(sns, topics),
            aws,
            endpoint,
        }
    }

    /// The publisher the tests use, as the CLI builds it.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Makes an address a verified SES identity.
    pub async fn verify_sender(&self, email: &str) {
        aws_sdk_ses::Client::new(&self.aws)
            .verify_email_identity()
            .email_address(email)
            .send()
            .await
            .expect("ses:VerifyEmailIdentity");
    }

    /// Publishes an event given as JSON, after the same validation the CLI applies.
    pub async fn publish(&self, event: &Value) -> Event {
        let event = Event::from_value(event.clone()).expect("a valid test event");
        self.publisher.publish(&event).await.expect("publish");
        event
    }

    /// Every captured e-mail sent to one of `addresses`.
    pub async fn mails_to(&self, addresses: &[String]) -> Vec<CapturedMail> {
        outbox::mails(&self.endpoint)
            .await
            .expect("reading SES's outbox")
            .into_iter()
            .filter(|m| m.to.iter().any(|to| addresses.contains(to)))
            .collect()
    }

    /// Waits until `count` e-mails to `addresses` were captured, then a little longer so that an
    /// extra, wrong e-mail would be seen too, and returns them all.
    pub async fn wait_for_mails(
        &self,
        addresses: &[String],
        count: usize,
        within: Duration,
    ) -> Vec<CapturedMail> {
        let deadline = Instant::now() + within;
        loop {
            let mails = self.mails_to(addresses).await;
            if mails.len() >= count {
                sleep(Duration::from_secs(2)).await;
                return self.mails_to(addresses).await;
            }
            if Instant::now() >= deadline {
                return mails;
            }
            sleep(Duration::from_millis(300)).await;
        }
    }

    /// Every captured SMS to `phone`.
    pub async fn sms_to(&self, phone: &str) -> Vec<CapturedSms> {
        outbox::sms(&self.endpoint)
            .await
            .expect("reading the SMS log")
            .into_iter()
            .filter(|s| s.phone == phone)
            .collect()
    }

    /// The URL of a queue by name.
    pub async fn queue_url(&self, name: &str) -> String {
        aws_sdk_sqs::Client::new(&self.aws)
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .expect("sqs:GetQueueUrl")
            .queue_url()
            .expect("a queue url")
            .to_owned()
    }

    /// Looks at a queue's messages without taking them: each is received with a visibility
    /// timeout of zero, so it stays available.
    pub async fn peek(&self, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let url = self.queue_url(queue).await;
        aws_sdk_sqs::Client::new(&self.aws)
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("sqs:ReceiveMessage")
            .messages
            .unwrap_or_default()
    }
}

/// Unique addresses and ids for one test, so tests can share the stack and run in parallel.
pub struct Cast {
    pub tag: String,
}

impl Cast {
    pub fn new() -> Self {
        Self {
            tag: Uuid::new_v4().simple().to_string()[..12].to_owned(),
        }
    }

    pub fn address(&self, who: &str) -> String {
        format!("{who}+{}@example.net", self.tag)
    }
}

impl Default for Cast {
    fn default() -> Self {
        Self::new()
    }
}

/// One recipient of a test envelope.
pub struct Who<'a> {
    pub name: &'a str,
    pub email: String,
    pub role: &'a str,
    pub order: u32,
    pub phone: Option<&'a str>,
}

impl<'a> Who<'a> {
    /// A signer at a position in the signing order, without a phone.
    pub fn signer(name: &'a str, email: String, order: u32) -> Self {
        Self {
            name,
            email,
            role: "signer",
            order,
            phone: None,
        }
    }

    /// A cc recipient, without a phone.
    pub fn cc(name: &'a str, email: String, order: u32) -> Self {
        Self {
            name,
            email,
            role: "cc",
            order,
            phone: None,
        }
    }

    /// The same recipient with a phone number.
    pub fn with_phone(self, phone: &'a str) -> Self {
        Self {
            phone: Some(phone),
            ..self
        }
    }
}

/// A fresh `envelope.sent` event: new event and envelope ids, now as its time.
pub fn envelope_sent(sender: &str, signing_order: &str, recipients: &[Who<'_>]) -> Value {
    let now = esign_events::time::Timestamp::now().to_string();
    let recipients: Vec<Value> = recipients
        .iter()
        .map(|r| {
            json!({
                "recipientId": Uuid::new_v4(),
                "name": r.name,
                "email": r.email,
                "phone": r.phone,
                "role": r.role,
                "signingOrder": r.order,
                "accessCode": "ZX81-TEST",
            })
        })
        .collect();
    let user = Uuid::new_v4();
    let trace = Uuid::new_v4();
    json!({
        "eventId": Uuid::new_v4(),
        "eventType": "envelope.sent",
        "version": "1.0",
        "timestamp": now,
        "source": "envelope-service",
        "traceId": trace,
        "data": {
            "envelopeId": Uuid::new_v4(),
            "senderId": user,
            "senderName": "Avery Example",
            "senderEmail": sender,
            "subject": "Please sign: test agreement",
            "message": null,
            "recipients": recipients,
            "documents": [{"documentId": Uuid::new_v4(), "name": "agreement.pdf", "pageCount": 2}],
            "signingOrder": signing_order,
            "expiresAt": null,
            "sentAt": now,
        },
        "metadata": {"userId": user, "correlationId": trace, "causationId": null}
    })
}

/// [`envelope_sent`] as `envelope.sent.v2`: no access codes, an `authMethod` per recipient.
pub fn envelope_sent_v2(sender: &str, signing_order: &str, recipients: &[Who<'_>]) -> Value {
    let mut event = envelope_sent(sender, signing_order, recipients);
    event["eventType"] = json!("envelope.sent.v2");
    event["version"] = json!("2.0");
    for r in event["data"]["recipients"]
        .as_array_mut()
        .expect("recipients")
    {
        r.as_object_mut().expect("a recipient").remove("accessCode");
        r["authMethod"] = json!("access_code");
    }
    event
}

impl LocalStack {
    /// Sends bodies straight to a FIFO queue, each with its message group, in one batch call (as
    /// SNS would deliver them, or as a redelivery would repeat them).
    pub async fn send_to_queue(&self, queue: &str, messages: &[(String, String)]) {
        let url = self.queue_url(queue).await;
        let entries: Vec<_> = messages
            .iter()
            .enumerate()
            .map(|(i, (group, body))| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_group_id(group)
                    .message_deduplication_id(Uuid::new_v4().to_string())
                    .build()
                    .expect("an entry")
            })
            .collect();
        let out = aws_sdk_sqs::Client::new(&self.aws)
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("sqs:SendMessageBatch");
        assert!(out.failed().is_empty(), "{:?}", out.failed());
    }

    /// Messages of a dead-letter queue whose body contains `needle`, each with its attributes
    /// and message attributes, waiting up to `within` for at least one.
    pub async fn parked(&self, dlq: &str, needle: &str, within: Duration) -> Vec<ParkedMessage> {
        let url = self.queue_url(dlq).await;
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let deadline = Instant::now() + within;
        loop {
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .expect("sqs:ReceiveMessage");
            let found: Vec<ParkedMessage> = out
                .messages
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.body().is_some_and(|b| b.contains(needle)))
                .map(|m| ParkedMessage {
                    group: m
                        .attributes()
                        .and_then(|a| {
                            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
                        })
                        .cloned()
                        .unwrap_or_default(),
                    reason: m
                        .message_attributes()
                        .map(|a| {
                            a.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.string_value().unwrap_or_default().to_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
                .collect();
            if !found.is_empty() || Instant::now() >= deadline {
                return found;
            }
            sleep(Duration::from_millis(500)).await;
        }
    }

    /// An item of a DynamoDB table by its `pk`.
    pub async fn item(
        &self,
        table: &str,
        pk: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.aws)
            .get_item()
            .table_name(table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("dynamodb:GetItem")
            .item
    }

    /// A counter the probe keeps (`attempts#<id>`, `crashed#<tag>`).
    pub async fn probe_count(&self, key: &str) -> u64 {
        self.item("esign-probe-log", key)
            .await
            .and_then(|i| {
                i.get("n")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The event ids the probe handled for an envelope, in the order it handled them.
    pub async fn probe_log(&self, envelope: &str) -> Vec<String> {
        self.item("esign-probe-log", &format!("log#{envelope}"))
            .await
            .and_then(|i| i.get("events").and_then(|v| v.as_l().ok()).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_s().ok().cloned())
            .collect()
    }
}

/// A message found in a dead-letter queue.
#[derive(Debug, Clone)]
pub struct ParkedMessage {
    pub group: String,
    /// The message attributes the runtime wrote: errorKind, errorMessage, consumer, ...
    pub reason: std::collections::HashMap<String, String>,
    pub body: String,
}

/// An `envelope.viewed` event for the probe; its user agent carries the probe's orders.
pub fn probe_event(envelope: &str, orders: &str) -> Value {
    let now = esign_events::time::Timestamp::now().to_string();
    let trace = Uuid::new_v4();
    json!({
        "eventId": Uuid::new_v4(),
        "eventType": "envelope.viewed",
        "version": "1.0",
        "timestamp": now,
        "source": "integration-tests",
        "traceId": trace,
        "data": {
            "envelopeId": envelope,
            "recipientId": Uuid::new_v4(),
            "recipientName": "Probe Recipient",
            "recipientEmail": "probe@example.net",
            "viewedAt": now,
            "ipAddress": "198.51.100.1",
            "userAgent": orders,
            "geolocation": null
        },
        "metadata": {"userId": null, "correlationId": trace, "causationId": null}
    })
}

impl LocalStack {
    /// Publishes a body to a topic as it is, without validation, with a fresh deduplication id:
    /// what a buggy or retrying publisher might send.
    pub async fn publish_raw(&self, topic: &str, event_type: &str, group: &str, body: &str) {
        let sns = aws_sdk_sns::Client::new(&self.aws);
        let arn = self.topic_arn(topic).await;
        sns.publish()
            .topic_arn(arn)
            .message(body)
            .message_group_id(group)
            .message_deduplication_id(Uuid::new_v4().to_string())
            .message_attributes(
                "eventType",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(event_type)
                    .build()
                    .expect("an attribute"),
            )
            .send()
            .await
            .expect("sns:Publish");
    }
}

/// Events that follow an `envelope.sent` made by [`envelope_sent`], for its recipients.
pub struct Follow<'a> {
    pub sent: &'a Value,
}

impl Follow<'_> {
    pub fn envelope_id(&self) -> String {
        self.sent["data"]["envelopeId"]
            .as_str()
            .expect("an envelope id")
            .to_owned()
    }

    fn recipient(&self, index: usize) -> &Value {
        &self.sent["data"]["recipients"][index]
    }

    fn base(&self, event_type: &str, data: Value) -> Value {
        let now = esign_events::time::Timestamp::now().to_string();
        json!({
            "eventId": Uuid::new_v4(),
            "eventType": event_type,
            "version": "1.0",
            "timestamp": now,
            "source": "signing-service",
            "traceId": self.sent["traceId"],
            "data": data,
            "metadata": {"userId": null, "correlationId": self.sent["metadata"]["correlationId"], "causationId": self.sent["eventId"]}
        })
    }

    /// Recipient `index` opened the envelope.
    pub fn viewed(&self, index: usize) -> Value {
        let r = self.recipient(index);
        let now = esign_events::time::Timestamp::now().to_string();
        self.base("envelope.viewed", json!({
            "envelopeId": self.envelope_id(), "recipientId": r["recipientId"], "recipientName": r["name"],
            "recipientEmail": r["email"], "viewedAt": now, "ipAddress": "198.51.100.7",
            "userAgent": "Mozilla/5.0", "geolocation": null
        }))
    }

    /// Recipient `index` signed.
    pub fn signed(&self, index: usize) -> Value {
        let r = self.recipient(index);
        let now = esign_events::time::Timestamp::now().to_string();
        self.base("envelope.recipient.signed", json!({
            "envelopeId": self.envelope_id(), "recipientId": r["recipientId"], "recipientName": r["name"],
            "recipientEmail": r["email"], "signingOrder": r["signingOrder"], "fieldsCompleted": 3,
            "signedAt": now, "ipAddress": "198.51.100.7", "userAgent": "Mozilla/5.0", "geolocation": null,
            "deviceInfo": {"deviceType": "desktop", "os": "Linux", "browser": "Firefox"}
        }))
    }

    /// Recipient `index` declined.
    pub fn declined(&self, index: usize) -> Value {
        let r = self.recipient(index);
        let now = esign_events::time::Timestamp::now().to_string();
        self.base("envelope.declined", json!({
            "envelopeId": self.envelope_id(), "recipientId": r["recipientId"], "recipientName": r["name"],
            "recipientEmail": r["email"], "reason": "not today", "declinedAt": now, "ipAddress": null
        }))
    }

    /// The sender voided the envelope.
    pub fn voided(&self) -> Value {
        let now = esign_events::time::Timestamp::now().to_string();
        self.base(
            "envelope.voided",
            json!({
                "envelopeId": self.envelope_id(), "voidedBy": self.sent["data"]["senderId"],
                "reason": "sent by mistake", "voidedAt": now
            }),
        )
    }
}

impl LocalStack {
    /// The envelope function's stored state of an envelope, waiting until `ready` holds.
    pub async fn envelope_state(
        &self,
        envelope: &str,
        within: Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let state = aws_sdk_dynamodb::Client::new(&self.aws)
                .get_item()
                .table_name("esign-envelopes")
                .key(
                    "envelopeId",
                    aws_sdk_dynamodb::types::AttributeValue::S(envelope.into()),
                )
                .consistent_read(true)
                .send()
                .await
                .expect("dynamodb:GetItem")
                .item
                .and_then(|i| i.get("state").and_then(|s| s.as_s().ok()).cloned())
                .map(|s| serde_json::from_str::<Value>(&s).expect("a state"));
            if let Some(state) = state {
                if ready(&state) || Instant::now() >= deadline {
                    return state;
                }
            } else if Instant::now() >= deadline {
                return Value::Null;
            }
            sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Runs a function of a template once, as `esign-bus invoke` does, and returns its answer.
pub async fn invoke(
    stack: &LocalStack,
    template: &str,
    stack_name: &str,
    function: &str,
    payload: Value,
) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = bus_cli::template::Template::load(&root.join(template)).expect("the template");
    let deployed =
        bus_cli::deploy::Deployed::read(&stack.aws, stack_name, &template, &Default::default())
            .await
            .expect("the stack is deployed");
    let spec = template
        .functions()
        .expect("functions")
        .into_iter()
        .find(|f| f.logical_id == function)
        .expect("the function is in the template");
    // The test binary runs from <target>/debug/deps; the functions are in <target>/debug.
    let bin_dir = std::env::current_exe()
        .expect("the test binary")
        .parent()
        .and_then(|p| p.parent())
        .expect("target/debug")
        .to_path_buf();
    bus_cli::event_source::invoke_once(spec, &deployed, &bin_dir, payload)
        .await
        .expect("the function answers")
}

impl LocalStack {
    /// The audit chain of an envelope, as stored.
    pub async fn audit_entries(
        &self,
        envelope: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.aws)
            .query()
            .table_name("esign-audit")
            .key_condition_expression("envelopeId = :id AND #seq >= :one")
            .expression_attribute_names("#seq", "sequence")
            .expression_attribute_values(
                ":id",
                aws_sdk_dynamodb::types::AttributeValue::S(envelope.into()),
            )
            .expression_attribute_values(
                ":one",
                aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("dynamodb:Query")
            .items
            .unwrap_or_default()
    }
}

impl LocalStack {
    /// An S3 client for the local stack.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(esign_events::aws::s3_config(&self.aws))
    }

    /// A bucket of the template, by its name's prefix (`esign-documents`, ...).
    pub fn bucket(&self, prefix: &str) -> String {
        format!(
            "{prefix}-000000000000-{}",
            self.aws
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into())
        )
    }

    /// An item of a table keyed by a single string attribute, waiting until `ready` holds.
    pub async fn wait_item(
        &self,
        table: &str,
        key: (&str, &str),
        within: Duration,
        ready: impl Fn(
            &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
        ) -> bool,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let deadline = Instant::now() + within;
        loop {
            let item = aws_sdk_dynamodb::Client::new(&self.aws)
                .get_item()
                .table_name(table)
                .key(
                    key.0,
                    aws_sdk_dynamodb::types::AttributeValue::S(key.1.into()),
                )
                .consistent_read(true)
                .send()
                .await
                .expect("dynamodb:GetItem")
                .item;
            if item.as_ref().is_some_and(&ready) || Instant::now() >= deadline {
                return item;
            }
            sleep(Duration::from_millis(300)).await;
        }
    }
}

/// A `document.uploaded` event for an object already stored.
pub fn document_uploaded(
    bucket: &str,
    key: &str,
    uploader: &str,
    file_name: &str,
    content_type: &str,
    size: usize,
) -> Value {
    let now = esign_events::time::Timestamp::now().to_string();
    let trace = Uuid::new_v4();
    let user = Uuid::new_v4();
    json!({
        "eventId": Uuid::new_v4(),
        "eventType": "document.uploaded",
        "version": "1.0",
        "timestamp": now,
        "source": "document-service",
        "traceId": trace,
        "data": {
            "documentId": Uuid::new_v4(),
            "envelopeId": null,
            "uploadedBy": user,
            "uploaderEmail": uploader,
            "fileName": file_name,
            "contentType": content_type,
            "sizeBytes": size,
            "storage": {"bucket": bucket, "key": key},
            "uploadedAt": now
        },
        "metadata": {"userId": user, "correlationId": trace, "causationId": null}
    })
}

impl LocalStack {
    /// Publishes a message to a standard topic (SES's feedback topic, say).
    pub async fn publish_plain(&self, topic: &str, body: &str) {
        let sns = aws_sdk_sns::Client::new(&self.aws);
        let arn = self.topic_arn(topic).await;
        sns.publish()
            .topic_arn(arn)
            .message(body)
            .send()
            .await
            .expect("sns:Publish");
    }
}

impl LocalStack {
    /// A topic's ARN by its name.
    pub async fn topic_arn(&self, topic: &str) -> String {
        let topics = aws_sdk_sns::Client::new(&self.aws)
            .list_topics()
            .send()
            .await
            .expect("sns:ListTopics");
        topics
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|a| a.ends_with(&format!(":{topic}")))
            .expect("the topic exists")
            .to_owned()
    }
}
