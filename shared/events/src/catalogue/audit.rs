//! Audit events: the hash chain, tampering, certificates of completion.

use super::document::{check_sha256, StorageLocation};
use super::Check;
use crate::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `audit.event.logged`: an event was appended to its envelope's hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventLogged {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub audit_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    /// Position in the chain, from 1.
    pub sequence: u64,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub source_event_id: Uuid,
    pub source_event_type: String,
    pub hash: String,
    /// The previous entry's hash; null for the first entry.
    #[serde(default)]
    pub previous_hash: Option<String>,
    pub logged_at: Timestamp,
}

impl Check for AuditEventLogged {
    fn check(&self) -> Result<(), (String, String)> {
        check_sha256("data.hash", &self.hash)?;
        if let Some(previous) = &self.previous_hash {
            check_sha256("data.previousHash", previous)?;
        }
        if self.sequence == 0 {
            return Err(("data.sequence".into(), "must be 1 or more".into()));
        }
        Ok(())
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// `audit.tampering.detected`: a chain no longer verifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditTamperingDetected {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    /// The first entry that does not verify.
    pub sequence: u64,
    pub expected_hash: String,
    pub actual_hash: String,
    pub severity: Severity,
    pub detected_at: Timestamp,
}

/// `certificate.generated`: the certificate of completion is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateGenerated {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub certificate_id: Uuid,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub envelope_id: Uuid,
    pub storage: StorageLocation,
    pub verification_code: String,
    /// The audit chain's head hash when the certificate was made.
    pub envelope_hash: String,
    pub generated_at: Timestamp,
}

impl Check for CertificateGenerated {
    fn check(&self) -> Result<(), (String, String)> {
        check_sha256("data.envelopeHash", &self.envelope_hash)
    }
}
