//! The contract of the e-signature event bus, shared by every publisher and consumer.
//!
//! A short tour:
//! - [`event`] holds the common envelope every event travels in and parses raw bytes into a
//!   typed [`Event`], naming the event id and field path of whatever is wrong.
//! - [`catalogue`] is the typed payload of each event type; [`routing`] says, as data, which
//!   category, topic and partition key each type has.
//! - [`personal`] wraps personal data so that it cannot be logged by accident.
//! - [`publish`] sends events to their category's SNS FIFO topic.
//! - [`runtime`] consumes SQS batches the way FIFO needs: per message group, in order.
//! - [`aws`] is the one place that builds the AWS SDK configuration.

pub mod aws;
pub mod catalogue;
pub mod event;
pub mod idempotency;
pub mod ids;
pub mod metrics;
pub mod personal;
pub mod publish;
pub mod queue;
pub mod routing;
pub mod runtime;
pub mod schema;
pub mod telemetry;
pub mod time;

pub use catalogue::Payload;
pub use event::{Event, EventError, Metadata};
pub use routing::{Category, EventType};
