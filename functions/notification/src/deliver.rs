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
    sns: aws_sdk_sns::Client,
    /// The SES configuration set whose event destination reports deliveries and bounces.
    configuration_set: Option<String>,
}

impl AwsDelivery {
    pub fn new(config: &aws_config::SdkConfig, configuration_set: Option<String>) -> Self {
        Self {
            ses: aws_sdk_ses::Client::new(config),
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

impl Deliver for AwsDelivery {
    async fn email(&self, mail: &Mail) -> Result<String, HandlerError> {
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
