//! The document function: checks uploads, deletes what is deleted, and marks an envelope's
//! documents completed.

use crate::inspect::{inspect_within, Verdict};
use aws_sdk_dynamodb::types::AttributeValue;
use esign_events::catalogue::{
    DocumentErrorType, DocumentProcessingFailed, DocumentProcessingStarted, DocumentReady,
    DocumentUploaded, ProcessingType, StorageLocation,
};
use esign_events::publish::{Publisher, Sink};
use esign_events::runtime::{now_ms, Handler, HandlerError, RecordContext};
use esign_events::time::Timestamp;
use esign_events::{Event, Payload};
use std::time::Duration;
use uuid::Uuid;

/// The longest a thumbnail may take to render.
const THUMBNAIL_BUDGET: Duration = Duration::from_secs(15);
/// What the invocation keeps, after the thumbnail, for storing it and publishing the outcome.
const AFTER_THUMBNAIL: Duration = Duration::from_secs(10);

/// The thumbnail's time: [`THUMBNAIL_BUDGET`], less when the invocation has less left.
pub fn thumbnail_budget(deadline_ms: i64, now_ms: i64) -> Duration {
    let left = Duration::from_millis(u64::try_from(deadline_ms - now_ms).unwrap_or(0));
    THUMBNAIL_BUDGET.min(left.saturating_sub(AFTER_THUMBNAIL))
}

/// The document function's handler.
pub struct DocumentHandler<S> {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub documents_table: String,
    pub publisher: Publisher<S>,
}

fn retryable(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retryable(e.to_string())
}

/// What a verdict means on the bus.
pub fn outcome(
    uploaded: &DocumentUploaded,
    verdict: &Verdict,
) -> Option<(DocumentErrorType, String)> {
    match verdict {
        Verdict::Clean => None,
        Verdict::VirusDetected { signature } => Some((
            DocumentErrorType::VirusDetected,
            format!("virus signature {signature} found"),
        )),
        Verdict::Corrupted { reason } => Some((DocumentErrorType::Corrupted, reason.clone())),
        Verdict::Unsupported { content_type } => Some((
            DocumentErrorType::ConversionFailed,
            format!(
                "{} is {content_type}, which can't be converted to PDF",
                uploaded.file_name
            ),
        )),
    }
}

impl<S: Sink> DocumentHandler<S> {
    async fn publish(&self, cause: &Event, payload: Payload) -> Result<(), HandlerError> {
        self.publisher
            .publish(&cause.caused_once(payload, "document-function"))
            .await
            .map(|_| ())
            .map_err(retryable)
    }

    async fn set_status(
        &self,
        document: Uuid,
        envelope: Option<Uuid>,
        status: &str,
    ) -> Result<(), HandlerError> {
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.documents_table)
            .key("documentId", AttributeValue::S(document.to_string()))
            .update_expression("SET #status = :status, updatedAt = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.into()))
            .expression_attribute_values(":now", AttributeValue::S(Timestamp::now().to_string()));
        if let Some(e) = envelope {
            update = update
                .update_expression("SET #status = :status, updatedAt = :now, envelopeId = :env")
                .expression_attribute_values(":env", AttributeValue::S(e.to_string()));
        }
        update
            .send()
            .await
            .map_err(|e| retryable(esign_events::aws::describe(&e)))?;
        Ok(())
    }

    async fn uploaded(
        &self,
        event: &Event,
        up: &DocumentUploaded,
        ctx: &RecordContext,
    ) -> Result<(), HandlerError> {
        let steps = vec![
            ProcessingType::VirusScan,
            ProcessingType::Checksum,
            ProcessingType::PageCount,
            ProcessingType::Thumbnail,
        ];
        self.publish(
            event,
            Payload::DocumentProcessingStarted(DocumentProcessingStarted {
                document_id: up.document_id,
                envelope_id: up.envelope_id,
                processing_types: steps,
                started_at: Timestamp::now(),
            }),
        )
        .await?;
        self.set_status(up.document_id, up.envelope_id, "processing")
            .await?;

        let object = self
            .s3
            .get_object()
            .bucket(&up.storage.bucket)
            .key(&up.storage.key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => HandlerError::Permanent(format!(
                    "no object at {}/{}",
                    up.storage.bucket, up.storage.key
                )),
                _ => retryable(esign_events::aws::describe(&e)),
            })?;
        let bytes = object.body.collect().await.map_err(retryable)?.into_bytes();
        let inspection = inspect_within(
            bytes.to_vec(),
            up.content_type.clone(),
            thumbnail_budget(ctx.deadline_ms, now_ms()),
        )
        .await;

        if let Some((error_type, message)) = outcome(up, &inspection.verdict) {
            if error_type == DocumentErrorType::VirusDetected {
                // An infected file is not kept where anything could serve it.
                self.s3
                    .delete_object()
                    .bucket(&up.storage.bucket)
                    .key(&up.storage.key)
                    .send()
                    .await
                    .map_err(|e| retryable(esign_events::aws::describe(&e)))?;
            }
            tracing::warn!(document_id = %up.document_id, ?error_type, "document failed its checks");
            self.set_status(up.document_id, up.envelope_id, "failed")
                .await?;
            return self
                .publish(
                    event,
                    Payload::DocumentProcessingFailed(DocumentProcessingFailed {
                        document_id: up.document_id,
                        envelope_id: up.envelope_id,
                        uploaded_by: up.uploaded_by,
                        uploader_email: up.uploader_email.clone(),
                        file_name: up.file_name.clone(),
                        error_type,
                        error_message: message,
                        failed_at: Timestamp::now(),
                    }),
                )
                .await;
        }

        let thumbnail = match inspection.thumbnail_png {
            Some(png) => {
                let key = format!("thumbnails/{}.png", up.document_id);
                self.s3
                    .put_object()
                    .bucket(&up.storage.bucket)
                    .key(&key)
                    .content_type("image/png")
                    .body(png.into())
                    .send()
                    .await
                    .map_err(|e| retryable(esign_events::aws::describe(&e)))?;
                Some(StorageLocation {
                    bucket: up.storage.bucket.clone(),
                    key,
                })
            }
            None => None,
        };
        // The facts are written before the status: whoever reads `ready` finds them there.
        self.dynamodb
            .update_item()
            .table_name(&self.documents_table)
            .key("documentId", AttributeValue::S(up.document_id.to_string()))
            .update_expression("SET pageCount = :pages, checksum = :sum")
            .expression_attribute_values(
                ":pages",
                AttributeValue::N(inspection.page_count.unwrap_or(0).to_string()),
            )
            .expression_attribute_values(":sum", AttributeValue::S(inspection.sha256.clone()))
            .send()
            .await
            .map_err(|e| retryable(esign_events::aws::describe(&e)))?;
        self.set_status(up.document_id, up.envelope_id, "ready")
            .await?;
        self.publish(
            event,
            Payload::DocumentReady(DocumentReady {
                document_id: up.document_id,
                envelope_id: up.envelope_id,
                page_count: inspection.page_count.unwrap_or(0),
                checksum: inspection.sha256,
                thumbnail,
                ready_at: Timestamp::now(),
            }),
        )
        .await
    }
}

impl<S: Sink> Handler for DocumentHandler<S> {
    async fn handle(&self, event: &Event, ctx: &RecordContext) -> Result<(), HandlerError> {
        match &event.payload {
            Payload::DocumentUploaded(up) => self.uploaded(event, up, ctx).await,
            Payload::DocumentDeleted(deleted) => {
                self.s3
                    .delete_object()
                    .bucket(&deleted.storage.bucket)
                    .key(&deleted.storage.key)
                    .send()
                    .await
                    .map_err(|e| retryable(esign_events::aws::describe(&e)))?;
                self.set_status(deleted.document_id, deleted.envelope_id, "deleted")
                    .await
            }
            Payload::EnvelopeCompleted(completed) => {
                for d in &completed.documents {
                    self.set_status(d.document_id, Some(completed.envelope_id), "completed")
                        .await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbnail_gets_its_budget_less_when_time_is_short() {
        let now = 1_000_000;
        assert_eq!(thumbnail_budget(now + 50_000, now), THUMBNAIL_BUDGET);
        assert_eq!(thumbnail_budget(now + 14_000, now), Duration::from_secs(4));
        assert_eq!(thumbnail_budget(now + 5_000, now), Duration::ZERO);
        assert_eq!(thumbnail_budget(now - 1, now), Duration::ZERO);
    }
}
