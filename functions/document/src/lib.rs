//! Document processing: what the platform learns about a file before anyone
//! is asked to sign it.
//!
//! Pure logic with no AWS calls: [`inspect::inspect`] takes the stored bytes
//! and the declared content type and returns the checksum, the virus verdict,
//! whether the file is a readable PDF, its page count and a first-page
//! thumbnail. Fetching the object from S3, storing the thumbnail and publishing
//! `document.ready` or `document.processing.failed` belong to the function that
//! calls this crate.

pub mod handler;
pub mod inspect;
