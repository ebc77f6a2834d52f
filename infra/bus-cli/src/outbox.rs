//! What the local SES and SNS captured: LocalStack keeps every sent e-mail at `/_aws/ses` and
//! every SMS at `/_aws/sns/sms-messages`, which is what the main job prints and the tests assert.

use anyhow::{Context, Result};
use serde_json::Value;

/// One captured e-mail.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedMail {
    pub id: String,
    pub source: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One captured SMS.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedSms {
    pub phone: String,
    pub message: String,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Every e-mail SES has sent, in send order.
pub async fn mails(endpoint: &str) -> Result<Vec<CapturedMail>> {
    let url = format!("{endpoint}/_aws/ses");
    let body: Value = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| format!("GET {url}"))?
        .json()
        .await
        .with_context(|| format!("GET {url}: not JSON"))?;
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    Ok(messages
        .iter()
        .map(|m| CapturedMail {
            id: text(&m["Id"]),
            source: text(&m["Source"]),
            to: m["Destination"]["ToAddresses"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default(),
            subject: text(&m["Subject"]),
            text: text(&m["Body"]["text_part"]),
            html: text(&m["Body"]["html_part"]),
        })
        .collect())
}

/// Every SMS SNS has sent, grouped by number in the capture and flattened here.
pub async fn sms(endpoint: &str) -> Result<Vec<CapturedSms>> {
    let url = format!("{endpoint}/_aws/sns/sms-messages");
    let body: Value = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| format!("GET {url}"))?
        .json()
        .await
        .with_context(|| format!("GET {url}: not JSON"))?;
    let mut out = Vec::new();
    if let Some(by_phone) = body["sms_messages"].as_object() {
        for (phone, list) in by_phone {
            for m in list.as_array().into_iter().flatten() {
                out.push(CapturedSms {
                    phone: phone.clone(),
                    message: text(&m["Message"]),
                });
            }
        }
    }
    Ok(out)
}
