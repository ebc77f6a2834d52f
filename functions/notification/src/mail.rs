//! Message rendering: templates kept as files, values escaped, header values made safe.

use base64::Engine;
use esign_events::personal::{Email, Phone};

/// How urgent a message is; security notices go out at high priority.
pub use esign_events::catalogue::Priority;

/// Who and what a message is about, for its `notification.*` events and its status record
/// (ids only, never an address).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct About {
    pub envelope_id: Option<uuid::Uuid>,
    pub recipient_id: Option<uuid::Uuid>,
    pub user_id: Option<uuid::Uuid>,
}

/// An e-mail ready for the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// The template it was rendered from, for logs, metrics and events (never personal).
    pub kind: &'static str,
    /// Names this message among those of its event, for its idempotency record: kind, channel
    /// and recipient id (never an address).
    pub key: String,
    pub priority: Priority,
    pub about: About,
    /// The `From` mailbox, already safe for a header: `"Name" <address>` or encoded words.
    pub from: String,
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A file attached from S3 (the certificate of completion).
    pub attachment: Option<Attachment>,
}

/// A file to attach, stored in S3.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub bucket: String,
    pub key: String,
    pub file_name: String,
    pub content_type: String,
}

/// An SMS ready for the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Sms {
    pub kind: &'static str,
    /// See [`Mail::key`].
    pub key: String,
    pub priority: Priority,
    pub about: About,
    pub to: Phone,
    pub text: String,
}

/// A message template, kept as two files: `templates/<name>.txt`, whose first line is
/// `Subject: ...`, and `templates/<name>.html`. Both use `{{name}}` placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub name: &'static str,
    text: &'static str,
    html: &'static str,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "invitation",
        include_str!("../templates/invitation.txt"),
        include_str!("../templates/invitation.html"),
    ),
    (
        "copy",
        include_str!("../templates/copy.txt"),
        include_str!("../templates/copy.html"),
    ),
    (
        "sent-confirmation",
        include_str!("../templates/sent-confirmation.txt"),
        include_str!("../templates/sent-confirmation.html"),
    ),
    (
        "viewed",
        include_str!("../templates/viewed.txt"),
        include_str!("../templates/viewed.html"),
    ),
    (
        "signed-progress",
        include_str!("../templates/signed-progress.txt"),
        include_str!("../templates/signed-progress.html"),
    ),
    (
        "completed",
        include_str!("../templates/completed.txt"),
        include_str!("../templates/completed.html"),
    ),
    (
        "declined",
        include_str!("../templates/declined.txt"),
        include_str!("../templates/declined.html"),
    ),
    (
        "voided",
        include_str!("../templates/voided.txt"),
        include_str!("../templates/voided.html"),
    ),
    (
        "expired",
        include_str!("../templates/expired.txt"),
        include_str!("../templates/expired.html"),
    ),
    (
        "reminder",
        include_str!("../templates/reminder.txt"),
        include_str!("../templates/reminder.html"),
    ),
    (
        "document-failed",
        include_str!("../templates/document-failed.txt"),
        include_str!("../templates/document-failed.html"),
    ),
    (
        "certificate",
        include_str!("../templates/certificate.txt"),
        include_str!("../templates/certificate.html"),
    ),
    (
        "tampering",
        include_str!("../templates/tampering.txt"),
        include_str!("../templates/tampering.html"),
    ),
    (
        "user-registered",
        include_str!("../templates/user-registered.txt"),
        include_str!("../templates/user-registered.html"),
    ),
    (
        "user-verified",
        include_str!("../templates/user-verified.txt"),
        include_str!("../templates/user-verified.html"),
    ),
    (
        "password-reset",
        include_str!("../templates/password-reset.txt"),
        include_str!("../templates/password-reset.html"),
    ),
    (
        "account-locked",
        include_str!("../templates/account-locked.txt"),
        include_str!("../templates/account-locked.html"),
    ),
];

/// The template of this name; every name the planner uses exists (a test checks it).
pub fn template(name: &str) -> Template {
    let (name, text, html) = TEMPLATES
        .iter()
        .find(|(n, _, _)| *n == name)
        .copied()
        .unwrap_or_else(|| panic!("no template {name}"));
    Template { name, text, html }
}

/// Every template's name.
pub fn template_names() -> impl Iterator<Item = &'static str> {
    TEMPLATES.iter().map(|(n, _, _)| *n)
}

impl Template {
    /// Fills the placeholders. Values are HTML-escaped in the HTML part; the subject is made
    /// safe for a header line. A placeholder with no value renders empty (and fails a debug
    /// assertion, so tests catch it).
    pub fn render(&self, values: &[(&str, &str)]) -> Rendered {
        let (subject_line, text) = self.text.split_once('\n').unwrap_or(("", self.text));
        let subject = subject_line
            .strip_prefix("Subject: ")
            .unwrap_or(subject_line);
        Rendered {
            subject: header_text(&fill(subject, values, |v| v.to_owned())),
            text: fill(text.trim_start_matches('\n'), values, |v| v.to_owned()),
            html: fill(self.html, values, html_escape),
        }
    }
}

fn fill(template: &str, values: &[(&str, &str)], escape: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let value = values.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        debug_assert!(value.is_some(), "template placeholder {name} has no value");
        out.push_str(&escape(value.unwrap_or_default()));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes text safe for a single header line: control characters, CR and LF included, become
/// spaces, so nothing can start a new header. Bidirectional overrides and isolates go too: in a
/// name or subject they can make a reader see text in another order than it was written.
pub fn header_text(value: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let cleaned: String = value
        .chars()
        .map(|c| if c.is_control() || bidi(c) { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Formats `name <address>` for a `From` header. ASCII names are quoted; others are RFC 2047
/// encoded words (UTF-8, base64), each under 76 characters.
pub fn mailbox(name: &str, address: &Email) -> String {
    let name = header_text(name);
    if name.is_empty() {
        return address.expose().to_owned();
    }
    let display = if name.is_ascii() {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        encoded_words(&name)
    };
    format!("{display} <{}>", address.expose())
}

pub(crate) fn encoded_words(text: &str) -> String {
    // 45 bytes of UTF-8 encode to 60 base64 characters; with "=?UTF-8?B?" and "?=" a word is
    // 72 characters, inside RFC 2047's limit of 75. Chunks end on character boundaries.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A MIME message with a text and an HTML part and one attachment, for SES's `SendRawEmail`.
/// Every part is base64, so no line of the message is longer than 76 characters and nothing in
/// a value can be taken for a boundary or a header.
pub fn mime_with_attachment(mail: &Mail, attachment: &Attachment, bytes: &[u8]) -> String {
    let boundary = |kind: &str| format!("=_esign_{kind}_{}", uuid::Uuid::new_v4().simple());
    let (mixed, alternative) = (boundary("mixed"), boundary("alt"));
    // A header line must stay under 998 characters (RFC 5322), and a subject has no length
    // limit in the contract: one too long for a 78-character line, or not ASCII, goes as
    // encoded words, one a line, which readers join back without the folding space.
    let subject = if mail.subject.is_ascii() && "Subject: ".len() + mail.subject.len() <= 78 {
        format!("Subject: {}", mail.subject)
    } else {
        format!(
            "Subject:\r\n {}",
            encoded_words(&mail.subject).replace(' ', "\r\n ")
        )
    };
    let from = if mail.from.starts_with("=?") {
        let folded = mail.from.replace("?= ", "?=\r\n ");
        format!("From:\r\n {folded}")
    } else {
        format!("From: {}", mail.from)
    };
    let file_name = header_text(&attachment.file_name).replace(['"', '\\'], "");
    let b64 = |data: &[u8]| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    [
        from,
        format!("To: {}", mail.to.expose()),
        subject,
        "MIME-Version: 1.0".into(),
        format!("Content-Type: multipart/mixed; boundary=\"{mixed}\""),
        String::new(),
        format!("--{mixed}"),
        format!("Content-Type: multipart/alternative; boundary=\"{alternative}\""),
        String::new(),
        format!("--{alternative}"),
        "Content-Type: text/plain; charset=UTF-8".into(),
        "Content-Transfer-Encoding: base64".into(),
        String::new(),
        b64(mail.text.as_bytes()),
        format!("--{alternative}"),
        "Content-Type: text/html; charset=UTF-8".into(),
        "Content-Transfer-Encoding: base64".into(),
        String::new(),
        b64(mail.html.as_bytes()),
        format!("--{alternative}--"),
        format!("--{mixed}"),
        format!(
            "Content-Type: {}; name=\"{file_name}\"",
            header_text(&attachment.content_type)
        ),
        "Content-Transfer-Encoding: base64".into(),
        format!("Content-Disposition: attachment; filename=\"{file_name}\""),
        String::new(),
        b64(bytes),
        format!("--{mixed}--"),
        String::new(),
    ]
    .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> Email {
        Email::parse("avery@example.com").unwrap()
    }

    #[test]
    fn a_name_cannot_inject_a_header() {
        let from = mailbox("Avery\r\nBcc: victim@example.org", &addr());
        assert!(!from.contains('\r') && !from.contains('\n'), "{from}");
        assert_eq!(
            from,
            "\"Avery Bcc: victim@example.org\" <avery@example.com>"
        );
    }

    #[test]
    fn bidi_overrides_are_taken_out_of_names_and_subjects() {
        assert_eq!(header_text("Invoice \u{202E}fdp.exe"), "Invoice fdp.exe");
        assert_eq!(header_text("a\u{2066}b\u{2069}c"), "a b c");
    }

    #[test]
    fn quotes_in_ascii_names_are_escaped() {
        assert_eq!(
            mailbox("A \"B\" C", &addr()),
            "\"A \\\"B\\\" C\" <avery@example.com>"
        );
    }

    #[test]
    fn non_ascii_names_become_encoded_words_that_decode_back() {
        let name = "Zoë Ångström-Łukasiewicz 山田太郎 and a rather long tail to force two words";
        let from = mailbox(name, &addr());
        let mut decoded = String::new();
        for word in from.trim_end_matches(" <avery@example.com>").split(' ') {
            assert!(word.len() <= 75, "{word}");
            let b64 = word
                .strip_prefix("=?UTF-8?B?")
                .unwrap()
                .strip_suffix("?=")
                .unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            decoded.push_str(&String::from_utf8(bytes).unwrap());
        }
        assert_eq!(decoded, name);
    }

    #[test]
    fn html_values_are_escaped_and_text_values_are_not() {
        let r = template("copy").render(&[
            ("recipient_name", "<b>Riley</b>"),
            ("sender_name", "A & B"),
            ("subject", "x\r\nBcc: evil@example.org"),
            ("message", "m"),
        ]);
        assert!(r.text.contains("Hello <b>Riley</b>,"));
        assert!(r.html.contains("Hello &lt;b&gt;Riley&lt;/b&gt;,"));
        assert!(r.html.contains("A &amp; B"));
        assert!(!r.html.contains("{{"));
        assert_eq!(
            r.subject, "Copy: x Bcc: evil@example.org",
            "no header can be injected"
        );
    }

    #[test]
    fn a_raw_message_carries_both_parts_and_the_attachment_in_short_lines() {
        let mail = Mail {
            kind: "certificate",
            key: "k".into(),
            priority: Priority::Normal,
            about: About::default(),
            from: mailbox("eSign", &addr()),
            to: Email::parse("riley@example.org").unwrap(),
            subject: "Certificate of completion: Zoë's lease".into(),
            text: "Verification code: AAAA-BBBB-CCCC".into(),
            html: "<p>Verification code</p>".into(),
            attachment: None,
        };
        let attachment = Attachment {
            bucket: "b".into(),
            key: "k".into(),
            file_name: "certificate.pdf".into(),
            content_type: "application/pdf".into(),
        };
        let raw = mime_with_attachment(&mail, &attachment, &[7u8; 300]);
        assert!(raw.lines().all(|l| l.len() <= 998));
        assert!(raw.contains("To: riley@example.org\r\n"));
        assert!(
            raw.contains("Subject:\r\n =?UTF-8?B?"),
            "non-ASCII subjects are encoded"
        );
        assert!(raw.contains("filename=\"certificate.pdf\""));
        let text =
            base64::engine::general_purpose::STANDARD.encode("Verification code: AAAA-BBBB-CCCC");
        assert!(raw.contains(&text));
    }

    /// A subject of any length, ASCII or not, and a long non-ASCII name are folded into lines
    /// under 78 characters, and the subject decodes back whole.
    #[test]
    fn long_subjects_and_names_are_folded_into_short_header_lines() {
        for subject in ["x".repeat(2400), "Zoë ".repeat(600)] {
            let mail = Mail {
                kind: "certificate",
                key: "k".into(),
                priority: Priority::Normal,
                about: About::default(),
                from: mailbox(&"Ångström ".repeat(40), &addr()),
                to: Email::parse("riley@example.org").unwrap(),
                subject: subject.clone(),
                text: "t".into(),
                html: "h".into(),
                attachment: None,
            };
            let attachment = Attachment {
                bucket: "b".into(),
                key: "k".into(),
                file_name: "c.pdf".into(),
                content_type: "application/pdf".into(),
            };
            let raw = mime_with_attachment(&mail, &attachment, b"pdf");
            let headers = raw.split("\r\n\r\n").next().unwrap();
            assert!(raw.split("\r\n").all(|l| l.len() <= 998));
            let folded = |l: &&str| {
                l.starts_with("Subject:") || l.starts_with("From:") || l.starts_with(' ')
            };
            assert!(
                headers.split("\r\n").filter(folded).all(|l| l.len() <= 78),
                "{headers}"
            );
            let start = headers.find("Subject:").unwrap() + "Subject:".len();
            let mut decoded = String::new();
            // The words start on the line after `Subject:`.
            for line in headers[start..].split("\r\n").skip(1) {
                let Some(word) = line.trim_start().strip_prefix("=?UTF-8?B?") else {
                    break;
                };
                let b64 = word.strip_suffix("?=").unwrap();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                decoded.push_str(&String::from_utf8(bytes).unwrap());
            }
            assert_eq!(decoded, subject);
        }
    }

    #[test]
    fn every_template_has_a_subject_line_and_both_parts() {
        for name in template_names() {
            let t = template(name);
            assert!(t.text.starts_with("Subject: "), "{name}");
            assert!(t.html.contains("<html>"), "{name}");
        }
    }
}
