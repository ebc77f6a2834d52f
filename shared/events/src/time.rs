//! Time values on the wire: RFC 3339 timestamps and ISO 8601 durations.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// An instant, read from strict RFC 3339 (a `T`, a zone as `Z` or a numeric offset, any fraction
/// down to nanoseconds) and written in UTC with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// Parses strict RFC 3339.
    pub fn parse(s: &str) -> Result<Self, String> {
        // chrono also takes a space or a lowercase `t` for the `T`; the contract does not.
        if s.as_bytes().get(10) != Some(&b'T') {
            return Err("is not an RFC 3339 timestamp: expected 'T' after the date".into());
        }
        let parsed = DateTime::parse_from_rfc3339(s)
            .map_err(|e| format!("is not an RFC 3339 timestamp with a zone ({e})"))?;
        // chrono reads a leap second as a second numbered 60; JSON Schema's date-time (what
        // publishers in other languages check against) refuses most of them, so none is taken.
        if parsed.second() == 60 || parsed.nanosecond() >= 1_000_000_000 {
            return Err("is a leap second (second 60), which the contract does not take".into());
        }
        let utc = parsed.with_timezone(&Utc);
        // Written back in UTC, an instant outside years 0000 to 9999 would need a sign and more
        // digits, which is no longer RFC 3339: every reader would refuse what we published.
        if !(0..=9999).contains(&utc.year()) {
            return Err("is outside years 0000 to 9999 once converted to UTC".into());
        }
        Ok(Self(utc))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with a zone (Z or a numeric offset); published in UTC with milliseconds"
        })
    }
}

/// An ISO 8601 duration such as `P3DT4H12M30.5S`, kept as written and checked on read.
#[derive(Debug, Clone, PartialEq)]
pub struct IsoDuration {
    text: String,
    seconds: f64,
}

impl IsoDuration {
    /// Parses `PnYnMnWnDTnHnMnS` (each part optional, at least one present, a fraction only on
    /// the seconds). Years and months count as 365 and 30 days for [`IsoDuration::as_secs_f64`].
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || "is not an ISO 8601 duration such as P1DT2H30M".to_owned();
        let rest = s.strip_prefix('P').ok_or_else(bad)?;
        let (date, time) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let mut seconds = 0.0;
        let mut parts = 0;
        let mut fraction_seen = false;
        let mut read = |text: &str, units: &[(char, f64)]| -> Result<(), String> {
            let mut number = String::new();
            let mut unit_index = 0;
            for c in text.chars() {
                if c.is_ascii_digit() || c == '.' || c == ',' {
                    number.push(if c == ',' { '.' } else { c });
                    continue;
                }
                let position = units[unit_index..]
                    .iter()
                    .position(|(u, _)| *u == c)
                    .ok_or_else(bad)?;
                // A fraction needs digits on both sides of its point (`0.5S`, not `.5S`).
                let digits_around_point = number
                    .split_once('.')
                    .is_none_or(|(whole, part)| !whole.is_empty() && !part.is_empty());
                if number.is_empty()
                    || !digits_around_point
                    || fraction_seen
                    || (number.contains('.') && c != 'S')
                {
                    return Err(bad());
                }
                let value: f64 = number.parse().map_err(|_| bad())?;
                fraction_seen = number.contains('.');
                seconds += value * units[unit_index + position].1;
                unit_index += position + 1;
                parts += 1;
                number.clear();
            }
            if number.is_empty() {
                Ok(())
            } else {
                Err(bad())
            }
        };
        const DAY: f64 = 86_400.0;
        read(
            date,
            &[
                ('Y', 365.0 * DAY),
                ('M', 30.0 * DAY),
                ('W', 7.0 * DAY),
                ('D', DAY),
            ],
        )?;
        if let Some(time) = time {
            read(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
        }
        if parts == 0 {
            return Err(bad());
        }
        Ok(Self {
            text: s.to_owned(),
            seconds,
        })
    }

    /// Writes a whole number of milliseconds as `PnDTnHnMn.nnnS`, leaving out zero parts.
    pub fn from_millis(total_ms: u64) -> Self {
        let (days, rest) = (total_ms / 86_400_000, total_ms % 86_400_000);
        let (hours, rest) = (rest / 3_600_000, rest % 3_600_000);
        let (minutes, rest) = (rest / 60_000, rest % 60_000);
        let (secs, millis) = (rest / 1000, rest % 1000);
        let mut text = String::from("P");
        if days > 0 {
            text.push_str(&format!("{days}D"));
        }
        if hours > 0 || minutes > 0 || secs > 0 || millis > 0 || days == 0 {
            text.push('T');
            if hours > 0 {
                text.push_str(&format!("{hours}H"));
            }
            if minutes > 0 {
                text.push_str(&format!("{minutes}M"));
            }
            if millis > 0 {
                text.push_str(&format!("{secs}.{millis:03}S"));
            } else if secs > 0 || (hours == 0 && minutes == 0) {
                text.push_str(&format!("{secs}S"));
            }
        }
        Self {
            text,
            seconds: total_ms as f64 / 1000.0,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn as_secs_f64(&self) -> f64 {
        self.seconds
    }
}

impl Serialize for IsoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for IsoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        IsoDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for IsoDuration {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "IsoDuration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // Not `"format": "duration"`: that is RFC 3339's grammar, which has no fractions of a
        // second, while ISO 8601 (and the durations published here) have them.
        json_schema!({
            "type": "string",
            "minLength": 3,
            "pattern": "^P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+([.,][0-9]+)?S)?)?$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rfc3339() {
        assert!(Timestamp::parse("2025-03-14T09:00:01Z").is_ok());
        assert!(Timestamp::parse("2025-03-14T09:00:01.123456789+05:30").is_ok());
        for bad in [
            "2025-03-14T09:00:01",
            "2025-03-14 09:00:01Z",
            "2025-03-14T25:00:00Z",
            "yesterday",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        let t = Timestamp::parse("2025-03-14T11:00:01.123456+02:00").unwrap();
        assert_eq!(t.to_string(), "2025-03-14T09:00:01.123Z");
    }

    /// Whatever is accepted is written back as a timestamp that is read again: an offset that
    /// pushes the instant past year 9999 or before year 0000 is refused on the way in.
    #[test]
    fn every_accepted_timestamp_reads_back_as_written() {
        for edge in [
            "9999-12-31T23:59:59.999Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999+14:00",
            "0000-01-01T00:00:00-00:00",
        ] {
            let t = Timestamp::parse(edge).unwrap();
            assert_eq!(Timestamp::parse(&t.to_string()), Ok(t), "{edge}");
        }
        for outside in ["9999-12-31T23:59:59.999-23:59", "0000-01-01T00:00:00+00:01"] {
            let e = Timestamp::parse(outside).unwrap_err();
            assert!(e.contains("years 0000 to 9999"), "{outside}: {e}");
        }
    }

    #[test]
    fn a_leap_second_is_refused_with_why() {
        for leap in ["2016-12-31T23:59:60Z", "2025-03-14T09:00:60Z"] {
            let e = Timestamp::parse(leap).unwrap_err();
            assert!(e.contains("leap second"), "{leap}: {e}");
        }
    }

    #[test]
    fn iso_durations() {
        assert_eq!(
            IsoDuration::parse("P1DT2H").unwrap().as_secs_f64(),
            93_600.0
        );
        assert_eq!(IsoDuration::parse("PT0.5S").unwrap().as_secs_f64(), 0.5);
        assert_eq!(
            IsoDuration::parse("P2W").unwrap().as_secs_f64(),
            1_209_600.0
        );
        for bad in [
            "", "P", "PT", "1D", "P1H", "PT1D", "P1.5DT1H", "PT1M2H", "P-1D", "PxD", "PT.5S",
            "PT5.S", "PT.S",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_from_millis_read_back() {
        for ms in [0, 1, 999, 1000, 61_000, 3_600_000, 93_784_005, 86_400_000] {
            let d = IsoDuration::from_millis(ms);
            let back = IsoDuration::parse(d.as_str()).unwrap();
            assert!(
                (back.as_secs_f64() - ms as f64 / 1000.0).abs() < 1e-9,
                "{}",
                d.as_str()
            );
        }
        assert_eq!(
            IsoDuration::from_millis(93_784_005).as_str(),
            "P1DT2H3M4.005S"
        );
        assert_eq!(IsoDuration::from_millis(0).as_str(), "PT0S");
    }
}
