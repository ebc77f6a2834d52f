//! The notification function: tells recipients and senders what happened to their envelopes.
//!
//! - [`config`] reads the function's settings once, at start.
//! - [`plan`] decides, as a pure function of an event, who is told what.
//! - [`mail`] renders messages from the template files and makes header values safe.
//! - [`deliver`] sends them through SES (e-mail) and SNS (SMS).
//! - [`handler`] ties these together for the batch runtime.

pub mod config;
pub mod deliver;
pub mod feedback;
pub mod handler;
pub mod mail;
pub mod plan;
pub mod store;

pub use config::Config;
pub use handler::NotificationHandler;
