//! `esign-bus`: the operator's tool for the event bus, and the local stack's driver.
//!
//! - [`template`] reads `template.yaml`: the functions with their queues and settings, and the
//!   rest of the topology as a plain CloudFormation template for the local stack.
//! - [`deploy`] creates that topology on the local stack through CloudFormation.
//! - [`runtime_api`] serves the Lambda Runtime API to a function's real binary.
//! - [`event_source`] plays Lambda's SQS event source mapping: it receives batches, invokes the
//!   function through the Runtime API and deletes what succeeded.
//! - [`input`] reads the events to publish from files and checks them before any call.
//! - [`outbox`] reads the mail and SMS that the local SES and SNS captured.
//! - [`replay`] re-sends an envelope's history from its audit chain to a consumer.
//! - [`dlq`] lists what the dead-letter queues hold and sends it back after a fix.

pub mod deploy;
pub mod dlq;
pub mod event_source;
pub mod input;
pub mod outbox;
pub mod replay;
pub mod runtime_api;
pub mod template;

/// The CloudFormation stack name used on the local stack.
pub const STACK_NAME: &str = "esign-bus";

/// The local stack's edge endpoint when `AWS_ENDPOINT_URL` isn't set.
pub fn local_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}
