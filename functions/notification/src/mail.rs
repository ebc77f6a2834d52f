//! Message rendering: templates kept as files, values escaped, header values made safe.

use base64::Engine;
use esign_events::personal::{Email, Phone};

/// An e-mail ready for the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// What the message is, for logs and metrics (never personal).
    pub kind: &'static str,
    /// Names this message among those of its event, for its idempotency record: kind, channel
    /// and recipient id (never an address).
    pub key: String,
    /// The `From` mailbox, already safe for a header: `"Name" <address>` or encoded words.
    pub from: String,
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An SMS ready for the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Sms {
    pub kind: &'static str,
    /// See [`Mail::key`].
    pub key: String,
    pub to: Phone,
    pub text: String,
}

/// A message template: a text part and an HTML part with `{{name}}` placeholders.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    text: &'static str,
    html: &'static str,
}

/// Asks a recipient to sign or approve.
pub const INVITATION: Template = Template {
    text: include_str!("../templates/invitation.txt"),
    html: include_str!("../templates/invitation.html"),
};

/// Tells a cc recipient they were copied.
pub const COPY: Template = Template {
    text: include_str!("../templates/copy.txt"),
    html: include_str!("../templates/copy.html"),
};

/// Tells the sender the envelope went out.
pub const SENT_CONFIRMATION: Template = Template {
    text: include_str!("../templates/sent-confirmation.txt"),
    html: include_str!("../templates/sent-confirmation.html"),
};

impl Template {
    /// Fills the placeholders; values are HTML-escaped in the HTML part. A placeholder with no
    /// value is a bug in the caller and panics in tests through `debug_assert`.
    pub fn render(&self, values: &[(&str, &str)]) -> (String, String) {
        (
            fill(self.text, values, |v| v.to_owned()),
            fill(self.html, values, html_escape),
        )
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
/// spaces, so nothing can start a new header.
pub fn header_text(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
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

fn encoded_words(text: &str) -> String {
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
        let (text, html) = COPY.render(&[
            ("recipient_name", "<b>Riley</b>"),
            ("sender_name", "A & B"),
            ("subject", "x"),
            ("message", "m"),
        ]);
        assert!(text.contains("Hello <b>Riley</b>,"));
        assert!(html.contains("Hello &lt;b&gt;Riley&lt;/b&gt;,"));
        assert!(html.contains("A &amp; B"));
        assert!(!html.contains("{{"));
    }
}
