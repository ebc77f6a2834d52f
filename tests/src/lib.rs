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
