//! The envelope function: each envelope's state, kept from its events.
//!
//! - [`state`] is the envelope as a value and how each event changes it, as pure functions.
//! - [`store`] keeps states in DynamoDB with an optimistic version check.
//! - [`handler`] applies events to stored states and publishes what follows
//!   (`envelope.completed`).

pub mod expiry;
pub mod handler;
pub mod state;
pub mod store;
