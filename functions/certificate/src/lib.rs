//! The certificate of completion: the PDF an envelope's parties receive once
//! every signer has signed, stating who signed, when, from where and on what
//! device, and tying that statement to the envelope's audit chain.
//!
//! Pure logic with no AWS calls: [`pdf::render`] turns a
//! [`pdf::CertificateInput`] into PDF bytes, and [`pdf::verification_code`]
//! derives the short code printed on it. Storing the file and publishing
//! `certificate.generated` belong to the function that calls this crate.

pub mod handler;
pub mod pdf;
