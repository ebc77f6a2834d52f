//! Who is told what, decided from the event alone so that it can be tested without AWS.

use crate::config::Config;
use crate::mail::{header_text, mailbox, Mail, Sms, COPY, INVITATION, SENT_CONFIRMATION};
use esign_events::catalogue::{AuthMethod, EnvelopeSent, RecipientRole};
use esign_events::{Event, Payload};

/// One message to deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Email(Mail),
    Sms(Sms),
}

/// The messages an event calls for, in the order they should go out. Event types this function
/// has nothing to say about yield none.
pub fn plan(event: &Event, config: &Config) -> Vec<Message> {
    match &event.payload {
        Payload::EnvelopeSent(sent) => envelope_sent(sent, config),
        _ => Vec::new(),
    }
}

/// `envelope.sent`: an invitation to each recipient asked to act now (all signers and approvers
/// when parallel, the first in order when sequential), an SMS to those of them with a phone when
/// SMS is on, a copy notice to each cc recipient, and a confirmation to the sender.
///
/// Invitations and copies come from the sender's own address, so SES sends them only when that
/// address (or its domain) is a verified identity. cc recipients get a notice of their own rather
/// than a `Cc` on an invitation: the invitation's link is meant for its signer alone. Access codes
/// are never put in a message; the sender shares them another way.
fn envelope_sent(sent: &EnvelopeSent, config: &Config) -> Vec<Message> {
    let subject_line = header_text(&sent.subject);
    let sender_from = mailbox(&sent.sender_name, &sent.sender_email);
    let envelope_link = format!("{}/envelopes/{}", config.app_url, sent.envelope_id);
    let message_text = sent.message.as_deref().unwrap_or("");
    let mut out = Vec::new();

    let invited = sent.first_to_act();
    for recipient in &invited {
        let action = match recipient.role {
            RecipientRole::Approver => "approve",
            _ => "sign",
        };
        let link = format!("{envelope_link}/sign?recipient={}", recipient.recipient_id);
        let notice = match recipient.auth_method {
            AuthMethod::AccessCode => "You will need the access code that the sender gave you.",
            AuthMethod::Sms => "We will text a code to your phone when you open it.",
            AuthMethod::None => "",
        };
        let (text, html) = INVITATION.render(&[
            ("recipient_name", &recipient.name),
            ("sender_name", &sent.sender_name),
            ("subject", &sent.subject),
            ("action", action),
            ("message", message_text),
            ("link", &link),
            ("access_code_notice", notice),
        ]);
        out.push(Message::Email(Mail {
            kind: "invitation",
            key: format!("invitation/email/{}", recipient.recipient_id),
            from: sender_from.clone(),
            to: recipient.email.clone(),
            subject: subject_line.clone(),
            text,
            html,
        }));
    }

    if config.sms_enabled {
        for recipient in invited.iter().filter(|r| r.phone.is_some()) {
            let text = format!(
                "{}: {} sent you \"{}\" to sign. Open the e-mail we sent you to continue.",
                config.platform_name,
                header_text(&sent.sender_name),
                subject_line
            );
            out.push(Message::Sms(Sms {
                kind: "invitation",
                key: format!("invitation/sms/{}", recipient.recipient_id),
                to: recipient.phone.clone().expect("filtered on phone"),
                text,
            }));
        }
    }

    for cc in sent
        .recipients
        .iter()
        .filter(|r| r.role == RecipientRole::Cc)
    {
        let (text, html) = COPY.render(&[
            ("recipient_name", &cc.name),
            ("sender_name", &sent.sender_name),
            ("subject", &sent.subject),
            ("message", message_text),
        ]);
        out.push(Message::Email(Mail {
            kind: "copy",
            key: format!("copy/email/{}", cc.recipient_id),
            from: sender_from.clone(),
            to: cc.email.clone(),
            subject: format!("Copy: {subject_line}"),
            text,
            html,
        }));
    }

    let count = sent.recipients.len().to_string();
    let (text, html) = SENT_CONFIRMATION.render(&[
        ("sender_name", &sent.sender_name),
        ("subject", &sent.subject),
        ("recipient_count", &count),
        ("link", &envelope_link),
    ]);
    out.push(Message::Email(Mail {
        kind: "sent-confirmation",
        key: "sent-confirmation/email/sender".into(),
        from: mailbox(&config.platform_name, &config.mail_from),
        to: sent.sender_email.clone(),
        subject: format!("Sent: {subject_line}"),
        text,
        html,
    }));
    out
}
