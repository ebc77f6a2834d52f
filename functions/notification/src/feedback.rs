//! SES's delivery reports: a configuration set sends delivery, bounce and complaint events to an
//! SNS topic; its queue feeds this handler, which turns them into `notification.delivered` and
//! `notification.failed` and updates the notification's status.

use crate::store::NotificationStore;
use esign_events::catalogue::{
    Channel, NotificationDelivered, NotificationErrorType, NotificationFailed,
};
use esign_events::publish::{Publisher, Sink};
use esign_events::time::Timestamp;
use esign_events::{Event, Metadata, Payload};
use serde_json::Value;
use uuid::Uuid;

/// What a report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Delivered {
        message_id: String,
    },
    Bounced {
        message_id: String,
        permanent: bool,
        detail: String,
    },
    Complained {
        message_id: String,
    },
    /// Another kind of event (send, open, click, ...), not tracked here.
    Other,
}

/// Why a report can't be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SES report: {0}")]
pub struct ReportError(pub String);

/// Reads an SQS body holding an SES report, inside SNS's wrapper or raw.
pub fn parse(body: &str) -> Result<Report, ReportError> {
    let outer: Value =
        serde_json::from_str(body).map_err(|e| ReportError(format!("not JSON: {e}")))?;
    let report: Value = match outer.get("Message").and_then(Value::as_str) {
        Some(inner) if outer.get("Type").and_then(Value::as_str) == Some("Notification") => {
            serde_json::from_str(inner)
                .map_err(|e| ReportError(format!("SNS message is not JSON: {e}")))?
        }
        _ => outer,
    };
    // Event publishing says `eventType`; identity notifications say `notificationType`.
    let kind = report
        .get("eventType")
        .or_else(|| report.get("notificationType"))
        .and_then(Value::as_str)
        .ok_or_else(|| ReportError("no eventType or notificationType".into()))?;
    let message_id = report["mail"]["messageId"].as_str().map(String::from);
    let need = || {
        message_id
            .clone()
            .ok_or_else(|| ReportError("no mail.messageId".into()))
    };
    Ok(match kind {
        "Delivery" => Report::Delivered {
            message_id: need()?,
        },
        "Bounce" => Report::Bounced {
            message_id: need()?,
            permanent: report["bounce"]["bounceType"].as_str() == Some("Permanent"),
            detail: format!(
                "{} bounce ({})",
                report["bounce"]["bounceType"].as_str().unwrap_or("unknown"),
                report["bounce"]["bounceSubType"]
                    .as_str()
                    .unwrap_or("unknown")
            ),
        },
        "Complaint" => Report::Complained {
            message_id: need()?,
        },
        _ => Report::Other,
    })
}

/// Applies a report: finds its notification, records the new state and publishes the event.
/// Returns whether a notification was found.
pub async fn apply<N: NotificationStore, S: Sink>(
    report: &Report,
    records: &N,
    publisher: &Publisher<S>,
) -> Result<bool, String> {
    let (message_id, kind) = match report {
        Report::Delivered { message_id } => (message_id, "delivered"),
        Report::Bounced { message_id, .. } => (message_id, "bounced"),
        Report::Complained { message_id } => (message_id, "complained"),
        Report::Other => return Ok(false),
    };
    let Some(mut status) = records
        .by_provider_id(message_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        tracing::info!(
            kind,
            "report for a message this platform does not know; ignored"
        );
        return Ok(false);
    };
    let id = status.notification_id;
    let payload = match report {
        Report::Delivered { .. } => {
            status.state = "delivered".into();
            Payload::NotificationDelivered(NotificationDelivered {
                notification_id: id,
                envelope_id: status.envelope_id,
                channel: Channel::Email,
                provider_message_id: message_id.clone(),
                delivered_at: Timestamp::now(),
            })
        }
        other => {
            status.state = "failed".into();
            let (error_type, message) = match other {
                Report::Bounced {
                    detail, permanent, ..
                } => (
                    NotificationErrorType::Bounce,
                    format!(
                        "{detail}{}",
                        if *permanent {
                            ""
                        } else {
                            "; the provider may try again"
                        }
                    ),
                ),
                _ => (
                    NotificationErrorType::Complaint,
                    "the recipient marked the message as spam".to_owned(),
                ),
            };
            Payload::NotificationFailed(NotificationFailed {
                notification_id: id,
                envelope_id: status.envelope_id,
                channel: Channel::Email,
                error_type,
                error_message: message,
                retry_count: status.retry_count,
                will_retry: false,
                next_retry_at: None,
                failed_at: Timestamp::now(),
            })
        }
    };
    records
        .save_status(&status)
        .await
        .map_err(|e| e.to_string())?;
    let trace = Uuid::new_v4();
    let mut event = Event::new(
        payload,
        "ses-feedback",
        &trace.to_string(),
        Metadata {
            user_id: None,
            correlation_id: trace,
            causation_id: None,
        },
    );
    // One event per report, however often SQS delivers it.
    event.event_id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("ses/{message_id}/{kind}").as_bytes(),
    );
    publisher.publish(&event).await.map_err(|e| e.to_string())?;
    tracing::info!(kind, notification_id = %id, "delivery report applied");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reports_inside_sns_wrappers_and_raw() {
        let delivery = r#"{"eventType":"Delivery","mail":{"messageId":"m-1"},"delivery":{}}"#;
        let wrapped = serde_json::json!({"Type": "Notification", "TopicArn": "arn:aws:sns:x", "Message": delivery}).to_string();
        assert_eq!(
            parse(&wrapped).unwrap(),
            Report::Delivered {
                message_id: "m-1".into()
            }
        );
        let bounce = r#"{"notificationType":"Bounce","mail":{"messageId":"m-2"},"bounce":{"bounceType":"Permanent","bounceSubType":"NoEmail"}}"#;
        assert_eq!(
            parse(bounce).unwrap(),
            Report::Bounced {
                message_id: "m-2".into(),
                permanent: true,
                detail: "Permanent bounce (NoEmail)".into()
            }
        );
        assert_eq!(
            parse(r#"{"eventType":"Open","mail":{}}"#).unwrap(),
            Report::Other
        );
        assert!(parse("{").is_err());
        assert!(parse(r#"{"eventType":"Delivery","mail":{}}"#).is_err());
    }
}
