//! The audit function: a tamper-evident hash chain of each envelope's events.
//!
//! - [`chain`]: the canonical form of an event (secrets removed), the hash that links an entry to
//!   the one before, and the verifier, as pure functions.
//! - [`store`]: chains in DynamoDB, appended with a transaction that can't fork a chain.
//! - [`handler`]: appends each event and publishes `audit.event.logged`.
//! - [`verify`]: checks chains and publishes `audit.tampering.detected`.

pub mod chain;
pub mod handler;
pub mod store;
pub mod verify;
