//! UUIDs as the contract writes them: 36 characters, hex digits in groups of 8-4-4-4-12.
//!
//! The `uuid` crate also reads 32 bare hex digits, braces and `urn:uuid:`. The published JSON
//! Schemas (`format: uuid`) refuse those, so a publisher in another language validating
//! against them would reject what this crate accepts; and an id read in one form and written
//! in another no longer matches the raw `data` it came with. Every id field reads through here.

use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use uuid::Uuid;

/// What a malformed id is told; `event::located` passes it through as it is.
const NOT_A_UUID: &str = "must be a UUID";

/// Parses the hyphenated form only (either case, as RFC 9562 allows on input).
pub fn parse(text: &str) -> Option<Uuid> {
    let hyphens_in_place = text.len() == 36
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| matches!(i, 8 | 13 | 18 | 23) == (b == b'-'));
    if hyphens_in_place {
        Uuid::parse_str(text).ok()
    } else {
        None
    }
}

/// `#[serde(deserialize_with = "crate::ids::strict")]` for a required id.
pub fn strict<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
    let text = Cow::<str>::deserialize(d)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(NOT_A_UUID))
}

/// The same for an id the contract allows to be null or absent (with `#[serde(default)]`).
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
    match Option::<Cow<str>>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(NOT_A_UUID)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn only_the_hyphenated_form_is_an_id() {
        let id = "c0a8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
        assert!(parse(id).is_some());
        assert!(parse(&id.to_uppercase()).is_some());
        for other in [
            "c0a8e1f23b4d4e5f8a9b0c1d2e3f4a5b",
            "{c0a8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5b}",
            "urn:uuid:c0a8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
            "c0a8e1f2-3b4d-4e5f-8a9b0-c1d2e3f4a5b",
            "c0a8e1f2-3b4d-4e5f-8a9b-0c1d2e3f4a5g",
            "",
        ] {
            assert!(parse(other).is_none(), "{other}");
        }
    }
}
