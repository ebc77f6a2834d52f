//! Who is told what, decided from the event and the envelope's roster alone, so that it can be
//! tested without AWS.
//!
//! The roster is this function's own copy of an envelope's parties, taken from `envelope.sent`
//! and kept up to date from the signatures it sees. Events of one envelope reach this function
//! in order on its own queue, so the roster is always as current as the event being handled,
//! whatever the envelope function's progress on its queue.

use crate::config::Config;
use crate::mail::{header_text, mailbox, template, About, Attachment, Mail, Priority, Sms};
use esign_events::catalogue::{AuthMethod, EnvelopeSent, RecipientRole, SigningOrder};
use esign_events::personal::{Email, Phone};
use esign_events::{Event, Payload};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Everything but RFC 3986's unreserved characters is percent-encoded in a link's value.
const URL_UNRESERVED_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One message to deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Email(Mail),
    Sms(Sms),
}

impl Message {
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Email(m) => m.kind,
            Message::Sms(s) => s.kind,
        }
    }
}

/// A party of an envelope as the roster keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    #[serde(default)]
    pub phone: Option<Phone>,
    pub role: RecipientRole,
    pub signing_order: u32,
    #[serde(default)]
    pub auth_method: Option<AuthMethod>,
    #[serde(default)]
    pub signed: bool,
}

/// An envelope's parties, from `envelope.sent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Roster {
    pub envelope_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    #[serde(default)]
    pub message: Option<String>,
    pub signing_order: SigningOrder,
    pub parties: Vec<Party>,
}

impl Roster {
    pub fn from_sent(sent: &EnvelopeSent) -> Self {
        Self {
            envelope_id: sent.envelope_id,
            sender_name: sent.sender_name.clone(),
            sender_email: sent.sender_email.clone(),
            subject: sent.subject.clone(),
            message: sent.message.clone(),
            signing_order: sent.signing_order,
            parties: sent
                .recipients
                .iter()
                .map(|r| Party {
                    recipient_id: r.recipient_id,
                    name: r.name.clone(),
                    email: r.email.clone(),
                    phone: r.phone.clone(),
                    role: r.role,
                    signing_order: r.signing_order,
                    auth_method: Some(r.auth_method),
                    signed: false,
                })
                .collect(),
        }
    }

    fn acting(&self) -> impl Iterator<Item = &Party> {
        self.parties.iter().filter(|p| p.role.acts())
    }

    /// Marks a signature and returns who is asked to act next: in sequential order, the next
    /// group once everyone of the current one has signed; nobody otherwise.
    fn sign(&mut self, recipient: Uuid) -> Vec<Party> {
        let Some(party) = self
            .parties
            .iter_mut()
            .find(|p| p.recipient_id == recipient)
        else {
            return vec![];
        };
        if party.signed {
            return vec![];
        }
        party.signed = true;
        let order = party.signing_order;
        if self.signing_order != SigningOrder::Sequential
            || self.acting().any(|p| p.signing_order == order && !p.signed)
        {
            return vec![];
        }
        let next = self
            .acting()
            .filter(|p| !p.signed)
            .map(|p| p.signing_order)
            .min();
        self.acting()
            .filter(|p| Some(p.signing_order) == next)
            .cloned()
            .collect()
    }
}

/// Someone a message of an envelope goes to: the sender, or a recipient.
struct Addressee<'a> {
    /// The part of the message's key that names them: `sender` or the recipient id.
    key: String,
    email: &'a Email,
    recipient: Option<Uuid>,
    name: &'a str,
}

impl<'a> Addressee<'a> {
    fn sender(email: &'a Email, name: &'a str) -> Self {
        Self {
            key: "sender".into(),
            email,
            recipient: None,
            name,
        }
    }

    fn recipient(id: Uuid, email: &'a Email, name: &'a str) -> Self {
        Self {
            key: id.to_string(),
            email,
            recipient: Some(id),
            name,
        }
    }
}

impl Roster {
    /// Every recipient, as addressees.
    fn addressees(&self) -> impl Iterator<Item = Addressee<'_>> {
        self.parties
            .iter()
            .map(|p| Addressee::recipient(p.recipient_id, &p.email, &p.name))
    }
}

/// The messages an event calls for, in the order they go out, and the roster after it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub messages: Vec<Message>,
    pub roster: Option<Roster>,
}

/// What the planner needs besides the event.
struct Ctx<'a> {
    config: &'a Config,
}

impl Ctx<'_> {
    /// One message of a template to each addressee, with their name as `name`.
    fn fan_out(
        &self,
        kind: &'static str,
        envelope: Uuid,
        priority: Priority,
        to: &[Addressee<'_>],
        values: &[(&str, &str)],
    ) -> Plan {
        let messages = to
            .iter()
            .map(|a| {
                let mut all = vec![("name", a.name)];
                all.extend_from_slice(values);
                self.mail(
                    kind,
                    format!("{kind}/email/{}", a.key),
                    a.email,
                    self.platform_from(),
                    About {
                        envelope_id: Some(envelope),
                        recipient_id: a.recipient,
                        user_id: None,
                    },
                    priority,
                    &all,
                )
            })
            .collect();
        Plan {
            messages,
            roster: None,
        }
    }

    fn envelope_link(&self, envelope: Uuid) -> String {
        format!("{}/envelopes/{envelope}", self.config.app_url)
    }

    fn platform_from(&self) -> String {
        mailbox(&self.config.platform_name, &self.config.mail_from)
    }

    #[allow(clippy::too_many_arguments)]
    fn mail(
        &self,
        kind: &'static str,
        key: String,
        to: &Email,
        from: String,
        about: About,
        priority: Priority,
        values: &[(&str, &str)],
    ) -> Message {
        let rendered = template(kind).render(values);
        Message::Email(Mail {
            kind,
            key,
            priority,
            about,
            from,
            to: to.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            attachment: None,
        })
    }

    fn invitation(&self, roster: &Roster, party: &Party) -> Vec<Message> {
        let action = if party.role == RecipientRole::Approver {
            "approve"
        } else {
            "sign"
        };
        let link = format!(
            "{}/sign?recipient={}",
            self.envelope_link(roster.envelope_id),
            party.recipient_id
        );
        let notice = match party.auth_method {
            Some(AuthMethod::AccessCode) => {
                "You will need the access code that the sender gave you."
            }
            Some(AuthMethod::Sms) => "We will text a code to your phone when you open it.",
            _ => "",
        };
        let about = About {
            envelope_id: Some(roster.envelope_id),
            recipient_id: Some(party.recipient_id),
            user_id: None,
        };
        let mut out = vec![self.mail(
            "invitation",
            format!("invitation/email/{}", party.recipient_id),
            &party.email,
            mailbox(&roster.sender_name, &roster.sender_email),
            about.clone(),
            Priority::Normal,
            &[
                ("recipient_name", &party.name),
                ("sender_name", &roster.sender_name),
                ("subject", &roster.subject),
                ("action", action),
                ("message", roster.message.as_deref().unwrap_or("")),
                ("link", &link),
                ("access_code_notice", notice),
            ],
        )];
        if let (true, Some(phone)) = (self.config.sms_enabled, &party.phone) {
            out.push(Message::Sms(Sms {
                kind: "invitation",
                key: format!("invitation/sms/{}", party.recipient_id),
                priority: Priority::Normal,
                about,
                to: phone.clone(),
                text: format!(
                    "{}: {} sent you \"{}\" to {action}. Open the e-mail we sent you to continue.",
                    self.config.platform_name,
                    header_text(&roster.sender_name),
                    header_text(&roster.subject)
                ),
            }));
        }
        out
    }
}

/// Plans the messages of an event, given the envelope's roster as it stood before.
pub fn plan(event: &Event, config: &Config, roster: Option<&Roster>) -> Plan {
    let ctx = Ctx { config };
    let sender_key = |kind: &str| format!("{kind}/email/sender");
    match &event.payload {
        Payload::EnvelopeSent(sent) => {
            let roster = Roster::from_sent(sent);
            let mut messages = Vec::new();
            let first: Vec<Uuid> = sent.first_to_act().iter().map(|r| r.recipient_id).collect();
            // E-mails first, then texts: an SMS points at the e-mail.
            let (mut mails, mut texts) = (Vec::new(), Vec::new());
            for party in roster
                .parties
                .iter()
                .filter(|p| first.contains(&p.recipient_id))
            {
                for m in ctx.invitation(&roster, party) {
                    match m {
                        Message::Sms(_) => texts.push(m),
                        mail => mails.push(mail),
                    }
                }
            }
            messages.append(&mut mails);
            messages.append(&mut texts);
            // A notice of their own rather than a Cc on an invitation: an invitation's link is
            // for its signer alone.
            for cc in roster
                .parties
                .iter()
                .filter(|p| p.role == RecipientRole::Cc)
            {
                messages.push(ctx.mail(
                    "copy",
                    format!("copy/email/{}", cc.recipient_id),
                    &cc.email,
                    mailbox(&roster.sender_name, &roster.sender_email),
                    About {
                        envelope_id: Some(roster.envelope_id),
                        recipient_id: Some(cc.recipient_id),
                        user_id: None,
                    },
                    Priority::Normal,
                    &[
                        ("recipient_name", &cc.name),
                        ("sender_name", &roster.sender_name),
                        ("subject", &roster.subject),
                        ("message", roster.message.as_deref().unwrap_or("")),
                    ],
                ));
            }
            let count = roster.parties.len();
            // A sequential envelope has reached only its first signers so far; the sender
            // should not read that everyone has it.
            let delivery = match (roster.signing_order, count) {
                (SigningOrder::Sequential, _) => format!(
                    "its {count} recipients are invited in signing order, starting now with the first"
                ),
                (_, 1) => "its recipient has it now".to_owned(),
                (_, n) => format!("all {n} of its recipients have it now"),
            };
            messages.push(ctx.mail(
                "sent-confirmation",
                sender_key("sent-confirmation"),
                &roster.sender_email,
                ctx.platform_from(),
                About {
                    envelope_id: Some(roster.envelope_id),
                    ..Default::default()
                },
                Priority::Normal,
                &[
                    ("sender_name", &roster.sender_name),
                    ("subject", &roster.subject),
                    ("delivery", &delivery),
                    ("link", &ctx.envelope_link(roster.envelope_id)),
                ],
            ));
            Plan {
                messages,
                roster: Some(roster),
            }
        }

        Payload::EnvelopeViewed(viewed) => {
            let Some(roster) = roster else {
                return Plan::default();
            };
            let messages = vec![ctx.mail(
                "viewed",
                format!("viewed/email/sender/{}", viewed.recipient_id),
                &roster.sender_email,
                ctx.platform_from(),
                About {
                    envelope_id: Some(roster.envelope_id),
                    recipient_id: Some(viewed.recipient_id),
                    user_id: None,
                },
                Priority::Low,
                &[
                    ("sender_name", &roster.sender_name),
                    ("recipient_name", &viewed.recipient_name),
                    ("subject", &roster.subject),
                    ("link", &ctx.envelope_link(roster.envelope_id)),
                ],
            )];
            Plan {
                messages,
                roster: None,
            }
        }

        Payload::EnvelopeRecipientSigned(signed) => {
            let Some(before) = roster else {
                return Plan::default();
            };
            let mut roster = before.clone();
            let next = roster.sign(signed.recipient_id);
            let signer_count = roster.acting().count().to_string();
            let signed_count = roster.acting().filter(|p| p.signed).count().to_string();
            let mut messages = vec![ctx.mail(
                "signed-progress",
                format!("signed-progress/email/sender/{}", signed.recipient_id),
                &roster.sender_email,
                ctx.platform_from(),
                About {
                    envelope_id: Some(roster.envelope_id),
                    recipient_id: Some(signed.recipient_id),
                    user_id: None,
                },
                Priority::Normal,
                &[
                    ("sender_name", &roster.sender_name),
                    ("recipient_name", &signed.recipient_name),
                    ("subject", &roster.subject),
                    ("signed_count", &signed_count),
                    ("signer_count", &signer_count),
                    ("link", &ctx.envelope_link(roster.envelope_id)),
                ],
            )];
            for party in &next {
                messages.extend(ctx.invitation(&roster, party));
            }
            Plan {
                messages,
                roster: Some(roster),
            }
        }

        Payload::EnvelopeCompleted(completed) => {
            let completed_at = completed.completed_at.to_string();
            let link = ctx.envelope_link(completed.envelope_id);
            let mut to = vec![Addressee::sender(
                &completed.sender_email,
                &completed.sender_name,
            )];
            to.extend(
                completed
                    .recipients
                    .iter()
                    .map(|r| Addressee::recipient(r.recipient_id, &r.email, &r.name)),
            );
            let values = [
                ("subject", completed.subject.as_str()),
                ("completed_at", &completed_at),
                ("link", &link),
            ];
            ctx.fan_out(
                "completed",
                completed.envelope_id,
                Priority::Normal,
                &to,
                &values,
            )
        }

        Payload::EnvelopeDeclined(declined) => {
            let Some(roster) = roster else {
                return Plan::default();
            };
            let reason = declined.reason.as_deref().unwrap_or("none");
            let mut to = vec![Addressee::sender(&roster.sender_email, &roster.sender_name)];
            to.extend(
                roster
                    .addressees()
                    .filter(|a| a.recipient != Some(declined.recipient_id)),
            );
            let values = [
                ("recipient_name", declined.recipient_name.as_str()),
                ("subject", &roster.subject),
                ("reason", reason),
            ];
            ctx.fan_out("declined", roster.envelope_id, Priority::High, &to, &values)
        }

        Payload::EnvelopeVoided(voided) => {
            let Some(roster) = roster else {
                return Plan::default();
            };
            let to: Vec<Addressee> = roster.addressees().collect();
            let values = [
                ("sender_name", roster.sender_name.as_str()),
                ("subject", &roster.subject),
                ("reason", &voided.reason),
            ];
            ctx.fan_out("voided", roster.envelope_id, Priority::High, &to, &values)
        }

        Payload::EnvelopeExpired(expired) => {
            let Some(roster) = roster else {
                return Plan::default();
            };
            let pending = expired.pending_recipients.len().to_string();
            let messages = vec![ctx.mail(
                "expired",
                sender_key("expired"),
                &roster.sender_email,
                ctx.platform_from(),
                About {
                    envelope_id: Some(roster.envelope_id),
                    ..Default::default()
                },
                Priority::Normal,
                &[
                    ("sender_name", &roster.sender_name),
                    ("subject", &roster.subject),
                    ("expired_at", &expired.expired_at.to_string()),
                    ("pending_count", &pending),
                    ("link", &ctx.envelope_link(roster.envelope_id)),
                ],
            )];
            Plan {
                messages,
                roster: None,
            }
        }

        Payload::EnvelopeReminderSent(reminder) => {
            let link = ctx.envelope_link(reminder.envelope_id);
            let from = match roster {
                Some(r) => mailbox(&r.sender_name, &r.sender_email),
                None => ctx.platform_from(),
            };
            let messages = reminder
                .recipients
                .iter()
                .map(|r| {
                    ctx.mail(
                        "reminder",
                        format!(
                            "reminder/email/{}/{}",
                            r.recipient_id, reminder.reminder_count
                        ),
                        &r.email,
                        from.clone(),
                        About {
                            envelope_id: Some(reminder.envelope_id),
                            recipient_id: Some(r.recipient_id),
                            user_id: None,
                        },
                        Priority::Normal,
                        &[
                            ("recipient_name", &r.name),
                            ("sender_name", &reminder.sender_name),
                            ("subject", &reminder.subject),
                            ("link", &link),
                        ],
                    )
                })
                .collect();
            Plan {
                messages,
                roster: None,
            }
        }

        Payload::DocumentProcessingFailed(failed) => {
            let reason = match failed.error_type {
                esign_events::catalogue::DocumentErrorType::VirusDetected => "it contains a virus",
                esign_events::catalogue::DocumentErrorType::Corrupted => "the file is damaged",
                esign_events::catalogue::DocumentErrorType::ConversionFailed => {
                    "it could not be converted"
                }
            };
            let messages = vec![ctx.mail(
                "document-failed",
                "document-failed/email/uploader".into(),
                &failed.uploader_email,
                ctx.platform_from(),
                About {
                    envelope_id: failed.envelope_id,
                    recipient_id: None,
                    user_id: Some(failed.uploaded_by),
                },
                Priority::High,
                &[
                    ("file_name", &failed.file_name),
                    ("reason", reason),
                    ("detail", &failed.error_message),
                ],
            )];
            Plan {
                messages,
                roster: None,
            }
        }

        Payload::CertificateGenerated(certificate) => {
            let Some(roster) = roster else {
                return Plan::default();
            };
            let link = format!("{}/certificate", ctx.envelope_link(roster.envelope_id));
            let mut to = vec![Addressee::sender(&roster.sender_email, &roster.sender_name)];
            to.extend(roster.addressees());
            let values = [
                ("subject", roster.subject.as_str()),
                ("verification_code", &certificate.verification_code),
                ("link", &link),
            ];
            let mut planned = ctx.fan_out(
                "certificate",
                roster.envelope_id,
                Priority::Normal,
                &to,
                &values,
            );
            // The certificate itself goes with each message.
            for message in &mut planned.messages {
                if let Message::Email(mail) = message {
                    mail.attachment = Some(Attachment {
                        bucket: certificate.storage.bucket.clone(),
                        key: certificate.storage.key.clone(),
                        file_name: format!("certificate-of-completion-{}.pdf", roster.envelope_id),
                        content_type: "application/pdf".into(),
                    });
                }
            }
            planned
        }

        Payload::AuditTamperingDetected(t) => {
            let Some(admins) = &config.admin_email else {
                return Plan::default();
            };
            let messages = vec![ctx.mail(
                "tampering",
                format!("tampering/email/admins/{}", t.sequence),
                admins,
                ctx.platform_from(),
                About {
                    envelope_id: Some(t.envelope_id),
                    ..Default::default()
                },
                Priority::High,
                &[
                    ("envelope_id", &t.envelope_id.to_string()),
                    ("sequence", &t.sequence.to_string()),
                    ("expected_hash", &t.expected_hash),
                    ("actual_hash", &t.actual_hash),
                    ("detected_at", &t.detected_at.to_string()),
                ],
            )];
            Plan {
                messages,
                roster: None,
            }
        }

        Payload::UserRegistered(u) => {
            // The token is the publisher's text: encoded, it can't end the query or add to it.
            let token = percent_encoding::utf8_percent_encode(
                u.verification_token.expose(),
                URL_UNRESERVED_KEPT,
            );
            let link = format!("{}/verify-email?token={token}", config.app_url);
            user_mail(
                &ctx,
                "user-registered",
                u.user_id,
                &u.email,
                Priority::High,
                &[("name", &u.name), ("link", &link)],
            )
        }
        Payload::UserVerified(u) => user_mail(
            &ctx,
            "user-verified",
            u.user_id,
            &u.email,
            Priority::Normal,
            &[("name", &u.name)],
        ),
        Payload::UserPasswordReset(u) => {
            let link = format!("{}/account/password", config.app_url);
            user_mail(
                &ctx,
                "password-reset",
                u.user_id,
                &u.email,
                Priority::High,
                &[
                    ("name", &u.name),
                    ("reset_at", &u.reset_at.to_string()),
                    ("link", &link),
                ],
            )
        }
        Payload::UserAccountLocked(u) => {
            let link = format!("{}/account/password", config.app_url);
            user_mail(
                &ctx,
                "account-locked",
                u.user_id,
                &u.email,
                Priority::High,
                &[
                    ("name", &u.name),
                    ("failed_attempts", &u.failed_attempts.to_string()),
                    ("reason", &u.reason),
                    ("locked_until", &u.locked_until.to_string()),
                    ("link", &link),
                ],
            )
        }

        _ => Plan::default(),
    }
}

fn user_mail(
    ctx: &Ctx<'_>,
    kind: &'static str,
    user: Uuid,
    email: &Email,
    priority: Priority,
    values: &[(&str, &str)],
) -> Plan {
    Plan {
        messages: vec![ctx.mail(
            kind,
            format!("{kind}/email/user"),
            email,
            ctx.platform_from(),
            About {
                user_id: Some(user),
                ..Default::default()
            },
            priority,
            values,
        )],
        roster: None,
    }
}
