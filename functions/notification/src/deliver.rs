//! Delivery through the providers: SES for e-mail, SNS for SMS.

use crate::mail::{Mail, Sms};
use esign_events::aws::classify;
use esign_events::runtime::HandlerError;
use std::future::Future;

/// Something that delivers messages and returns the provider's message id.
pub trait Deliver: Sync {
    fn email(&self, mail: &Mail) -> impl Future<Output = Result<String, HandlerError>> + Send;
    fn sms(&self, sms: &Sms) -> impl Future<Output = Result<String, HandlerError>> + Send;
}

/// Delivery through SES and SNS.
#[derive(Debug, Clone)]
pub struct AwsDelivery {
    ses: aws_sdk_ses::Client,
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    /// The SES configuration set whose event destination reports deliveries and bounces.
    configuration_set: Option<String>,
}

impl AwsDelivery {
    pub fn new(config: &aws_config::SdkConfig, configuration_set: Option<String>) -> Self {
        Self {
            ses: aws_sdk_ses::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(esign_events::aws::s3_config(config)),
            sns: aws_sdk_sns::Client::new(config),
            configuration_set: configuration_set.filter(|c| !c.is_empty()),
        }
    }
}

fn content(text: &str) -> aws_sdk_ses::types::Content {
    aws_sdk_ses::types::Content::builder()
        .charset("UTF-8")
        .data(text)
        .build()
        .expect("data is set")
}

/// The largest attachment sent; SES takes 10 MB per raw message (40 MB with a raised quota).
const MAX_ATTACHMENT_BYTES: usize = 7 * 1024 * 1024;

impl AwsDelivery {
    async fn email_with_attachment(
        &self,
        mail: &Mail,
        attachment: &crate::mail::Attachment,
    ) -> Result<String, HandlerError> {
        let object = self
            .s3
            .get_object()
            .bucket(&attachment.bucket)
            .key(&attachment.key)
            .send()
            .await
            .map_err(|e| classify("s3:GetObject (attachment)", &e))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| HandlerError::Retryable(format!("reading the attachment: {e}")))?
            .into_bytes();
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(HandlerError::Permanent(format!(
                "the attachment is {} bytes, over the {MAX_ATTACHMENT_BYTES} sent by e-mail",
                bytes.len()
            )));
        }
        let raw = crate::mail::mime_with_attachment(mail, attachment, &bytes);
        let sent = self
            .ses
            .send_raw_email()
            .source(&mail.from)
            .destinations(mail.to.expose())
            .raw_message(
                aws_sdk_ses::types::RawMessage::builder()
                    .data(aws_sdk_ses::primitives::Blob::new(raw))
                    .build()
                    .expect("data is set"),
            )
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| classify("ses:SendRawEmail", &e))?;
        Ok(sent.message_id().to_owned())
    }
}

impl Deliver for AwsDelivery {
    async fn email(&self, mail: &Mail) -> Result<String, HandlerError> {
        if let Some(attachment) = &mail.attachment {
            return self.email_with_attachment(mail, attachment).await;
        }
        let message = aws_sdk_ses::types::Message::builder()
            .subject(content(&mail.subject))
            .body(
                aws_sdk_ses::types::Body::builder()
                    .text(content(&mail.text))
                    .html(content(&mail.html))
                    .build(),
            )
            .build();
        let destination = aws_sdk_ses::types::Destination::builder()
            .to_addresses(mail.to.expose())
            .build();
        let sent = self
            .ses
            .send_email()
            .source(&mail.from)
            .destination(destination)
            .message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| classify("ses:SendEmail", &e))?;
        Ok(sent.message_id().to_owned())
    }

    async fn sms(&self, sms: &Sms) -> Result<String, HandlerError> {
        let sent = self
            .sns
            .publish()
            .phone_number(sms.to.expose())
            .message(&sms.text)
            .send()
            .await
            .map_err(|e| classify("sns:Publish (SMS)", &e))?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }
}
