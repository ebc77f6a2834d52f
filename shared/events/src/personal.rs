//! Personal data that must never reach a log line or a metric dimension.
//!
//! Each type here prints a redaction through `Debug` and `Display`, so `tracing::info!(?x)` or a
//! `format!("{x}")` cannot leak it. The value is reached only through an explicit `expose()`,
//! which makes every use greppable.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;
use std::fmt;

macro_rules! string_schema {
    ($ty:ident, $schema:tt) => {
        impl JsonSchema for $ty {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

macro_rules! redacted_fmt {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "(<redacted>)"))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }

        impl $ty {
            /// The raw value. Only for sending it where it belongs (a provider API), never to a log.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }
    };
}

/// An e-mail address, checked for a plausible `local@domain` shape.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);
redacted_fmt!(Email);
string_schema!(Email, { "type": "string", "format": "email", "maxLength": 254 });

impl Email {
    /// Checks the address: one `@`, a non-empty local part, a dotted domain, no spaces or
    /// control characters, at most 254 bytes (the SMTP path limit).
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        if value.len() > 254 {
            return Err("e-mail address is longer than 254 bytes");
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("e-mail address contains whitespace or control characters");
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err("e-mail address has no '@'");
        };
        if local.is_empty() || local.len() > 64 {
            return Err("e-mail address has an empty or over-long local part");
        }
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if !domain.contains('.') || !labels_ok || domain.contains(['<', '>', '@', ',', ';']) {
            return Err("e-mail address has an invalid domain");
        }
        // One `@` only: `a@b@c.example` is not an address SES or JSON Schema takes.
        if local.contains(['<', '>', ',', ';', '"', '@']) {
            return Err("e-mail address has characters not allowed in its local part");
        }
        Ok(Self(value.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A phone number in E.164 form: `+` and 8 to 15 digits, the first not zero.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);
redacted_fmt!(Phone);
string_schema!(Phone, { "type": "string", "pattern": "^\\+[1-9][0-9]{7,14}$" });

impl Phone {
    /// Checks the E.164 shape.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let digits = value
            .strip_prefix('+')
            .ok_or("phone number is not E.164: it must start with '+'")?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err("phone number is not E.164: '+' then 8 to 15 digits, not starting with 0")
        }
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Phone::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An IP address (v4 or v6) of a person's device.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IpAddress(String);
redacted_fmt!(IpAddress);
string_schema!(IpAddress, { "type": "string", "anyOf": [{ "format": "ipv4" }, { "format": "ipv6" }] });

impl IpAddress {
    /// Checks that the text is an IPv4 or IPv6 address.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        value
            .parse::<std::net::IpAddr>()
            .map(|_| Self(value.to_owned()))
            .map_err(|_| "is not an IPv4 or IPv6 address")
    }
}

impl<'de> Deserialize<'de> for IpAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IpAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A secret such as an access code or a token.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);
redacted_fmt!(Secret);
string_schema!(Secret, { "type": "string", "minLength": 1, "writeOnly": true });

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // An empty code or token can't be used, and the schema says as much (minLength 1).
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(serde::de::Error::custom("must not be empty"));
        }
        Ok(Self(s))
    }
}

/// Replaces what looks like personal data in free text with `<redacted>`: e-mail addresses
/// (also percent- or MIME-encoded), IPv4 and IPv6 addresses (with a port or a `key=` before
/// them), and phone numbers (8 to 15 digits, with or without `+` and separators). For messages
/// from dependencies, such as SES's "Email address not verified <address>", and free text from
/// publishers, before they reach a log line or a dead-letter attribute. It errs towards
/// redacting: a long bare number standing alone goes too.
pub fn scrub(text: &str) -> String {
    // Quoted text (a display name, a value echoed back) is dropped whole first.
    let mut unquoted = String::with_capacity(text.len());
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        unquoted.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        unquoted.push_str(if i % 2 == 0 { REDACTED } else { part });
    }
    let words: Vec<String> = unquoted.split(' ').map(scrub_word).collect();
    redact_numbers(&words.join(" "))
}

const REDACTED: &str = "<redacted>";

/// One space-separated word, its surrounding punctuation kept.
fn scrub_word(word: &str) -> String {
    let core = word.trim_matches(|c: char| "<>()[]{}\"',;.".contains(c));
    if core.is_empty() {
        return word.to_owned();
    }
    let lower = core.to_ascii_lowercase();
    let address = lower.contains('@') || lower.contains("%40") || lower.contains("=40");
    // A MIME encoded word (`=?UTF-8?B?...?=`) hides whatever it encodes.
    let encoded = lower.contains("=?") && lower.contains("?=");
    // An IPv6 address with a port keeps its brackets: `[2001:db8::1]:443`.
    let bracketed = word.trim_matches(|c: char| "<>(){}\"',;.".contains(c));
    if address || encoded || holds_ip(core) || holds_ip(bracketed) {
        word.replacen(core, REDACTED, 1)
    } else {
        word.to_owned()
    }
}

/// An IPv4 address anywhere in the word (`ip=203.0.113.7:443`), or an IPv6 one as the word or
/// after a `key=` (`[2001:db8::1]:443`, `2001:db8::1`).
fn holds_ip(word: &str) -> bool {
    let bytes = word.as_bytes();
    let ipv4 = (0..bytes.len()).any(|start| {
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_digit() || bytes[start - 1] == b'.');
        boundary && dotted_quad_at(&word[start..])
    });
    let candidate = word.rsplit('=').next().unwrap_or(word);
    let ipv6 = candidate.contains(':')
        && (candidate.parse::<std::net::IpAddr>().is_ok()
            || candidate.parse::<std::net::SocketAddr>().is_ok()
            || candidate
                .trim_end_matches(':')
                .parse::<std::net::IpAddr>()
                .is_ok());
    ipv4 || ipv6
}

/// Four dot-separated groups of one to three digits at the start of `text`, not followed by
/// another digit or dot-and-digit (so a version such as 1.2.3.4.5 is not taken).
fn dotted_quad_at(text: &str) -> bool {
    let mut rest = text;
    for i in 0..4 {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=3).contains(&digits) {
            return false;
        }
        rest = &rest[digits..];
        if i < 3 {
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return false,
            }
        }
    }
    let mut after = rest.bytes();
    match after.next() {
        None => true,
        Some(b'.') => !after.next().is_some_and(|b| b.is_ascii_digit()),
        Some(b) => !b.is_ascii_digit(),
    }
}

/// Redacts runs that read as a phone number: an optional `+`, then digits with spaces, dots,
/// hyphens or parentheses between them, 8 to 15 digits in all, standing alone (not glued to a
/// letter or digit, nor continuing a hyphenated id such as a UUID's last group).
fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '+' || chars[i].is_ascii_digit();
        let standalone_before = i == 0 || {
            let p = chars[i - 1];
            p.is_whitespace() || "(<[{:=,;'/".contains(p)
        };
        if starts && standalone_before {
            let mut end = i + 1;
            while end < chars.len() && (chars[end].is_ascii_digit() || " -.()".contains(chars[end]))
            {
                end += 1;
            }
            // The run ends on its last digit.
            while end > i && !chars[end - 1].is_ascii_digit() {
                end -= 1;
            }
            let digits = chars[i..end].iter().filter(|c| c.is_ascii_digit()).count();
            let standalone_after = chars
                .get(end)
                .is_none_or(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'));
            if (8..=15).contains(&digits) && standalone_after {
                out.push_str(REDACTED);
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Field names whose values are secrets, wherever they appear in an event: the bus's own records
/// of events (the audit chain, the idempotency hash) leave them out.
pub const SECRET_FIELDS: &[&str] = &[
    "accessCode",
    "verificationToken",
    "resetToken",
    "token",
    "password",
];

/// Removes every [`SECRET_FIELDS`] member from a JSON value, at any depth.
pub fn strip_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !SECRET_FIELDS.contains(&k.as_str()));
            map.values_mut().for_each(strip_secrets);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_addresses_numbers_and_ips_from_free_text() {
        let text = "MessageRejected: Email address not verified <avery@example.com>; call +15555550123 from 203.0.113.7.";
        assert_eq!(
            scrub(text),
            "MessageRejected: Email address not verified <<redacted>>; call <redacted> from <redacted>."
        );
        assert_eq!(
            scrub("Throttling: rate exceeded"),
            "Throttling: rate exceeded"
        );
    }

    /// What a first version let through: addresses with ports or keys, IPv6, phone numbers
    /// written with spaces or without `+`, encoded addresses.
    #[test]
    fn scrub_catches_personal_data_in_its_other_spellings() {
        for (text, secret) in [
            ("connect to 203.0.113.7:443 failed", "203.0.113"),
            ("client ip=203.0.113.7 refused", "203.0.113"),
            ("from 2001:db8::1 refused", "2001:db8"),
            ("from [2001:db8::1]:443 refused", "2001:db8"),
            ("call +1 555 555 0123 now", "555 0123"),
            ("number 15555550123 unreachable", "5555550123"),
            ("number (555) 555-0123 unreachable", "555-0123"),
            ("rcpt avery%40example.com refused", "avery"),
            ("to =?UTF-8?B?YXZlcnlAZXhhbXBsZS5jb20=?= refused", "YXZlcnl"),
        ] {
            let out = scrub(text);
            assert!(!out.contains(secret), "{text} -> {out}");
            assert!(out.contains("<redacted>"), "{text} -> {out}");
        }
    }

    /// Ids, timestamps, versions and counts are not personal data and stay readable.
    #[test]
    fn scrub_keeps_ids_times_versions_and_counts() {
        for text in [
            "event 00000017-0000-4000-8000-000000000017: data.email: is required",
            "event c0a8e1f2-3b4d-4e5f-8a9b-012345678901 failed",
            "at 2025-03-14T09:00:01.123Z after 3 receives",
            "localstack 4.13.1 answered 503 after 300733 bytes",
            "ServiceUnavailable: try again in 30 seconds",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let email = Email::parse("jordan.sample@example.net").unwrap();
        let phone = Phone::parse("+15555550123").unwrap();
        let code = Secret::new("K7Q2-9XPA");
        let printed = format!("{email} {email:?} {phone} {phone:?} {code} {code:?}");
        assert!(!printed.contains("jordan"), "{printed}");
        assert!(!printed.contains("5555"), "{printed}");
        assert!(!printed.contains("K7Q2"), "{printed}");
        assert_eq!(email.expose(), "jordan.sample@example.net");
    }

    #[test]
    fn serialises_as_the_plain_value() {
        let email = Email::parse("a@b.example").unwrap();
        assert_eq!(serde_json::to_string(&email).unwrap(), "\"a@b.example\"");
    }

    #[test]
    fn rejects_malformed_addresses_and_numbers() {
        for bad in [
            "",
            "no-at.example",
            "@b.example",
            "a@",
            "a@nodot",
            "a b@c.example",
            "a@b..c",
            "a@b@c.example",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        for bad in [
            "15555550123",
            "+0555550123",
            "+1555",
            "+1555555012345678",
            "+1555-555",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
