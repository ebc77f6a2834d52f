//! Routing as data: for each event type, its category, topic, major version and consumers.
//!
//! Publishers, the CLI and the template checks read this one table rather than keeping their own
//! lists. The partition key of each type is defined by its payload
//! ([`crate::catalogue::Payload::partition_key`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The category of an event; each category has one SNS FIFO topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Envelope,
    Document,
    Notification,
    Audit,
    System,
}

impl Category {
    /// Every category, in a stable order.
    pub const ALL: [Category; 5] = [
        Category::Envelope,
        Category::Document,
        Category::Notification,
        Category::Audit,
        Category::System,
    ];

    /// The lowercase name used in topic names and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Envelope => "envelope",
            Category::Document => "document",
            Category::Notification => "notification",
            Category::Audit => "audit",
            Category::System => "system",
        }
    }

    /// The SNS FIFO topic's name (the last part of its ARN).
    pub fn topic_name(self) -> String {
        format!("{}-events.fifo", self.as_str())
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every event type and version the bus carries, as named on the wire. A breaking change gets a
/// new wire name (`envelope.sent.v2`); both versions are read side by side into one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    EnvelopeCreated,
    EnvelopeSent,
    EnvelopeSentV2,
    EnvelopeViewed,
    EnvelopeRecipientSigned,
    EnvelopeCompleted,
    EnvelopeDeclined,
    EnvelopeVoided,
    EnvelopeExpired,
    EnvelopeReminderSent,
    DocumentUploaded,
    DocumentProcessingStarted,
    DocumentReady,
    DocumentProcessingFailed,
    DocumentDeleted,
    NotificationQueued,
    NotificationSent,
    NotificationDelivered,
    NotificationFailed,
    AuditEventLogged,
    AuditTamperingDetected,
    CertificateGenerated,
    UserRegistered,
    UserVerified,
    UserPasswordReset,
    UserAccountLocked,
}

/// When a version stops being supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deprecation {
    /// The version that replaces it.
    pub replaced_by: EventType,
    /// From this day on, consuming it is counted as deprecated use.
    pub deprecated_on: NaiveDate,
    /// The last day it may be published: six months after its replacement appeared.
    pub supported_until: NaiveDate,
}

/// One row of the routing table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub event_type: EventType,
    /// The `eventType` string on the wire.
    pub name: &'static str,
    /// The major version the `version` field must carry (`"1.0"`, `"1.3"`, `"2.0"`, ...).
    pub major: u32,
    pub category: Category,
    /// The functions that consume this type.
    pub consumers: &'static [&'static str],
    pub deprecation: Option<Deprecation>,
}

const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("invalid date in the routing table"),
    }
}

const fn route(
    event_type: EventType,
    name: &'static str,
    major: u32,
    category: Category,
    consumers: &'static [&'static str],
) -> Route {
    Route {
        event_type,
        name,
        major,
        category,
        consumers,
        deprecation: None,
    }
}

use Category as C;
use EventType as T;

const NOTIFY_AUDIT: &[&str] = &["notification", "audit"];
const STATE_NOTIFY_AUDIT: &[&str] = &["envelope", "notification", "audit"];

/// The routing table.
pub const ROUTES: &[Route] = &[
    route(
        T::EnvelopeCreated,
        "envelope.created",
        1,
        C::Envelope,
        &["envelope", "audit"],
    ),
    Route {
        deprecation: Some(Deprecation {
            replaced_by: T::EnvelopeSentV2,
            deprecated_on: date(2026, 12, 3),
            supported_until: date(2027, 6, 3),
        }),
        ..route(
            T::EnvelopeSent,
            "envelope.sent",
            1,
            C::Envelope,
            STATE_NOTIFY_AUDIT,
        )
    },
    route(
        T::EnvelopeSentV2,
        "envelope.sent.v2",
        2,
        C::Envelope,
        STATE_NOTIFY_AUDIT,
    ),
    route(
        T::EnvelopeViewed,
        "envelope.viewed",
        1,
        C::Envelope,
        STATE_NOTIFY_AUDIT,
    ),
    route(
        T::EnvelopeRecipientSigned,
        "envelope.recipient.signed",
        1,
        C::Envelope,
        STATE_NOTIFY_AUDIT,
    ),
    route(
        T::EnvelopeCompleted,
        "envelope.completed",
        1,
        C::Envelope,
        &["notification", "audit", "document", "certificate"],
    ),
    route(
        T::EnvelopeDeclined,
        "envelope.declined",
        1,
        C::Envelope,
        STATE_NOTIFY_AUDIT,
    ),
    route(
        T::EnvelopeVoided,
        "envelope.voided",
        1,
        C::Envelope,
        STATE_NOTIFY_AUDIT,
    ),
    route(
        T::EnvelopeExpired,
        "envelope.expired",
        1,
        C::Envelope,
        STATE_NOTIFY_AUDIT,
    ),
    route(
        T::EnvelopeReminderSent,
        "envelope.reminder.sent",
        1,
        C::Envelope,
        NOTIFY_AUDIT,
    ),
    route(
        T::DocumentUploaded,
        "document.uploaded",
        1,
        C::Document,
        &["document", "audit"],
    ),
    route(
        T::DocumentProcessingStarted,
        "document.processing.started",
        1,
        C::Document,
        &["audit"],
    ),
    route(
        T::DocumentReady,
        "document.ready",
        1,
        C::Document,
        &["envelope", "audit"],
    ),
    route(
        T::DocumentProcessingFailed,
        "document.processing.failed",
        1,
        C::Document,
        NOTIFY_AUDIT,
    ),
    route(
        T::DocumentDeleted,
        "document.deleted",
        1,
        C::Document,
        &["document", "audit"],
    ),
    route(
        T::NotificationQueued,
        "notification.queued",
        1,
        C::Notification,
        &["audit"],
    ),
    route(
        T::NotificationSent,
        "notification.sent",
        1,
        C::Notification,
        &["audit"],
    ),
    route(
        T::NotificationDelivered,
        "notification.delivered",
        1,
        C::Notification,
        &["audit"],
    ),
    route(
        T::NotificationFailed,
        "notification.failed",
        1,
        C::Notification,
        &["audit"],
    ),
    route(T::AuditEventLogged, "audit.event.logged", 1, C::Audit, &[]),
    route(
        T::AuditTamperingDetected,
        "audit.tampering.detected",
        1,
        C::Audit,
        &["notification"],
    ),
    route(
        T::CertificateGenerated,
        "certificate.generated",
        1,
        C::Audit,
        NOTIFY_AUDIT,
    ),
    route(
        T::UserRegistered,
        "user.registered",
        1,
        C::System,
        &["notification"],
    ),
    route(
        T::UserVerified,
        "user.verified",
        1,
        C::System,
        &["notification"],
    ),
    route(
        T::UserPasswordReset,
        "user.password.reset",
        1,
        C::System,
        &["notification"],
    ),
    route(
        T::UserAccountLocked,
        "user.account.locked",
        1,
        C::System,
        &["notification"],
    ),
];

impl EventType {
    fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.event_type == self)
            .expect("every event type has a route")
    }

    /// Every event type, in table order.
    pub fn all() -> impl Iterator<Item = EventType> {
        ROUTES.iter().map(|r| r.event_type)
    }

    /// Looks a wire name up in the table.
    pub fn from_name(name: &str) -> Option<Self> {
        ROUTES.iter().find(|r| r.name == name).map(|r| r.event_type)
    }

    /// The `eventType` string on the wire.
    pub fn name(self) -> &'static str {
        self.route().name
    }

    /// The major version the event's `version` field carries.
    pub fn major(self) -> u32 {
        self.route().major
    }

    /// The category, and so the topic, the type is published to.
    pub fn category(self) -> Category {
        self.route().category
    }

    /// The functions that consume this type.
    pub fn consumers(self) -> &'static [&'static str] {
        self.route().consumers
    }

    /// When this version is, or will be, out of support.
    pub fn deprecation(self) -> Option<Deprecation> {
        self.route().deprecation
    }

    /// Whether consuming this version on `day` counts as deprecated use.
    pub fn is_deprecated_on(self, day: NaiveDate) -> bool {
        self.deprecation().is_some_and(|d| day >= d.deprecated_on)
    }

    /// Whether this version may still be published on `day`.
    pub fn is_publishable_on(self, day: NaiveDate) -> bool {
        self.deprecation().is_none_or(|d| day <= d.supported_until)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_name_is_unique_and_round_trips() {
        for route in ROUTES {
            assert_eq!(EventType::from_name(route.name), Some(route.event_type));
            assert_eq!(ROUTES.iter().filter(|r| r.name == route.name).count(), 1);
        }
        assert_eq!(EventType::from_name("envelope.unknown"), None);
    }

    #[test]
    fn the_catalogue_has_25_types_and_one_second_version() {
        let names: Vec<_> = ROUTES.iter().map(|r| r.name).collect();
        assert_eq!(names.len(), 26);
        assert_eq!(names.iter().filter(|n| n.ends_with(".v2")).count(), 1);
    }

    #[test]
    fn categories_follow_the_name_prefix_except_certificates() {
        for route in ROUTES {
            let prefix = route.name.split('.').next().unwrap();
            let expected = match prefix {
                "certificate" => Category::Audit,
                "user" => Category::System,
                other => Category::ALL
                    .into_iter()
                    .find(|c| c.as_str() == other)
                    .unwrap(),
            };
            assert_eq!(route.category, expected, "{}", route.name);
        }
    }

    #[test]
    fn v1_of_envelope_sent_has_a_six_month_window() {
        let d = EventType::EnvelopeSent.deprecation().unwrap();
        assert_eq!(d.replaced_by, EventType::EnvelopeSentV2);
        assert!(EventType::EnvelopeSent.is_publishable_on(date(2027, 6, 3)));
        assert!(!EventType::EnvelopeSent.is_publishable_on(date(2027, 6, 4)));
        assert!(EventType::EnvelopeSentV2.is_publishable_on(date(2099, 1, 1)));
        assert!(!EventType::EnvelopeSent.is_deprecated_on(date(2026, 12, 2)));
        assert!(EventType::EnvelopeSent.is_deprecated_on(date(2026, 12, 3)));
    }
}
