//! Routing as data: for each event type, its category, topic and consumers.
//!
//! Publishers, the CLI and the template checks read this one table rather than keeping their own
//! lists.

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

/// Every event type the bus carries, each with a typed payload in [`crate::catalogue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    EnvelopeSent,
    EnvelopeViewed,
    EnvelopeRecipientSigned,
}

/// One row of the routing table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub event_type: EventType,
    /// The `eventType` string on the wire.
    pub name: &'static str,
    pub category: Category,
    /// The functions that consume this type.
    pub consumers: &'static [&'static str],
}

/// The routing table.
pub const ROUTES: &[Route] = &[
    Route {
        event_type: EventType::EnvelopeSent,
        name: "envelope.sent",
        category: Category::Envelope,
        consumers: &["notification"],
    },
    Route {
        event_type: EventType::EnvelopeViewed,
        name: "envelope.viewed",
        category: Category::Envelope,
        consumers: &[],
    },
    Route {
        event_type: EventType::EnvelopeRecipientSigned,
        name: "envelope.recipient.signed",
        category: Category::Envelope,
        consumers: &[],
    },
];

impl EventType {
    fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.event_type == self)
            .expect("every event type has a route")
    }

    /// Looks a wire name up in the table.
    pub fn from_name(name: &str) -> Option<Self> {
        ROUTES.iter().find(|r| r.name == name).map(|r| r.event_type)
    }

    /// The `eventType` string on the wire.
    pub fn name(self) -> &'static str {
        self.route().name
    }

    /// The category, and so the topic, the type is published to.
    pub fn category(self) -> Category {
        self.route().category
    }

    /// The functions that consume this type.
    pub fn consumers(self) -> &'static [&'static str] {
        self.route().consumers
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
    fn envelope_events_go_to_the_envelope_topic() {
        assert_eq!(
            EventType::EnvelopeSent.category().topic_name(),
            "envelope-events.fifo"
        );
    }
}
