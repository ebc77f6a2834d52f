//! Document events: upload, processing, readiness, failure and deletion.

use super::Check;
use crate::personal::Email;
use crate::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an object is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageLocation {
    pub bucket: String,
    pub key: String,
}

/// `document.uploaded`: a file was stored and awaits processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentUploaded {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub document_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub uploaded_by: Uuid,
    pub uploader_email: Email,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub storage: StorageLocation,
    pub uploaded_at: Timestamp,
}

/// What processing a document goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingType {
    VirusScan,
    Conversion,
    PageCount,
    Thumbnail,
    Checksum,
}

/// `document.processing.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentProcessingStarted {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub document_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    pub processing_types: Vec<ProcessingType>,
    pub started_at: Timestamp,
}

impl Check for DocumentProcessingStarted {
    fn check(&self) -> Result<(), (String, String)> {
        if self.processing_types.is_empty() {
            return Err((
                "data.processingTypes".into(),
                "must name at least one step".into(),
            ));
        }
        Ok(())
    }
}

/// `document.ready`: the document passed every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentReady {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub document_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    pub page_count: u32,
    /// SHA-256 of the stored bytes, 64 lowercase hex digits.
    pub checksum: String,
    #[serde(default)]
    pub thumbnail: Option<StorageLocation>,
    pub ready_at: Timestamp,
}

/// Lowercase hex SHA-256.
pub(crate) fn check_sha256(path: &str, value: &str) -> Result<(), (String, String)> {
    if value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err((
            path.into(),
            "must be a SHA-256 as 64 lowercase hex digits".into(),
        ))
    }
}

impl Check for DocumentReady {
    fn check(&self) -> Result<(), (String, String)> {
        check_sha256("data.checksum", &self.checksum)
    }
}

/// Why processing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentErrorType {
    VirusDetected,
    Corrupted,
    ConversionFailed,
}

/// `document.processing.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentProcessingFailed {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub document_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub uploaded_by: Uuid,
    pub uploader_email: Email,
    pub file_name: String,
    pub error_type: DocumentErrorType,
    pub error_message: String,
    pub failed_at: Timestamp,
}

/// `document.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDeleted {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub document_id: Uuid,
    #[serde(default, deserialize_with = "crate::ids::optional")]
    pub envelope_id: Option<Uuid>,
    #[serde(deserialize_with = "crate::ids::strict")]
    pub deleted_by: Uuid,
    pub storage: StorageLocation,
    pub deleted_at: Timestamp,
}
