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
    /// File names of attachments (raw messages only).
    pub attachments: Vec<String>,
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
        .map(|m| match m["RawData"].as_str() {
            Some(raw) => from_raw(text(&m["Id"]), text(&m["Source"]), raw),
            None => CapturedMail {
                id: text(&m["Id"]),
                source: text(&m["Source"]),
                to: m["Destination"]["ToAddresses"]
                    .as_array()
                    .map(|a| a.iter().map(text).collect())
                    .unwrap_or_default(),
                subject: text(&m["Subject"]),
                text: text(&m["Body"]["text_part"]),
                html: text(&m["Body"]["html_part"]),
                attachments: Vec::new(),
            },
        })
        .collect())
}

/// Reads what a test needs from a raw MIME message: the `To` and `Subject` headers (encoded
/// words decoded), the text and HTML parts (base64 decoded) and the attachments' file names.
fn from_raw(id: String, source: String, raw: &str) -> CapturedMail {
    use base64::Engine;
    let b64 = |s: &str| {
        let compact: String = s.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    };
    let (head, _) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    // Folded header lines (a line break before a space) are one line.
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    // Encoded words are decoded; the space between two adjacent ones is not text (RFC 2047).
    let decode_words = |value: String| {
        let mut out = String::new();
        let mut after_word = false;
        for w in value.split(' ') {
            match w
                .strip_prefix("=?UTF-8?B?")
                .and_then(|r| r.strip_suffix("?="))
            {
                Some(encoded) => {
                    if !out.is_empty() && !after_word {
                        out.push(' ');
                    }
                    out.push_str(&b64(encoded));
                    after_word = true;
                }
                None => {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(w);
                    after_word = false;
                }
            }
        }
        out
    };
    let mut mail = CapturedMail {
        id,
        source,
        to: header("To")
            .split(',')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect(),
        subject: decode_words(header("Subject")),
        text: String::new(),
        html: String::new(),
        attachments: Vec::new(),
    };
    for part in raw.split("\r\n--") {
        let (part_head, part_body) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
        let body = part_body.split("\r\n--").next().unwrap_or_default();
        if let Some(name) = part_head
            .split("filename=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            mail.attachments.push(name.to_owned());
        } else if part_head.contains("Content-Type: text/plain") {
            mail.text = b64(body);
        } else if part_head.contains("Content-Type: text/html") {
            mail.html = b64(body);
        }
    }
    mail
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

#[cfg(test)]
mod tests {
    use super::from_raw;

    /// A folded subject of encoded words reads back as one text, without the folding spaces.
    #[test]
    fn a_raw_message_with_a_folded_encoded_subject_reads_back_whole() {
        let raw = "From: \"eSign\" <no-reply@example.com>\r\n\
                   To: riley@example.org\r\n\
                   Subject:\r\n =?UTF-8?B?Wm/DqyA=?=\r\n =?UTF-8?B?c2lnbmVk?=\r\n\
                   MIME-Version: 1.0\r\n\r\nbody";
        let mail = from_raw("id".into(), "src".into(), raw);
        assert_eq!(mail.subject, "Zoë signed");
        assert_eq!(mail.to, ["riley@example.org"]);
    }
}
