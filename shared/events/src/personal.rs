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
        if local.contains(['<', '>', ',', ';', '"']) {
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Replaces what looks like personal data in free text (e-mail addresses, phone numbers, IPv4
/// addresses) with `<redacted>`. For messages from dependencies, such as SES's "Email address
/// not verified <address>", before they reach a log line or a dead-letter attribute.
pub fn scrub(text: &str) -> String {
    // Quoted text (a display name, a value echoed back) is dropped whole first.
    let mut unquoted = String::with_capacity(text.len());
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        unquoted.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        unquoted.push_str(if i % 2 == 0 { "<redacted>" } else { part });
    }
    let mut out = Vec::new();
    for word in unquoted.split(' ') {
        let core = word.trim_matches(|c: char| "<>()[]{}\"',;:.".contains(c));
        let digits = core.chars().filter(char::is_ascii_digit).count();
        let looks_like_ip = core.split('.').count() == 4
            && core
                .split('.')
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        let looks_like_phone = core.starts_with('+') && digits >= 7;
        if core.contains('@') || looks_like_ip || looks_like_phone {
            out.push(word.replace(core, "<redacted>"));
        } else {
            out.push(word.to_owned());
        }
    }
    out.join(" ")
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
