//! On `envelope.completed`: render the certificate of completion, store it in S3 and publish
//! `certificate.generated`.

use crate::pdf::{render, verification_code, CertificateInput, SignerLine};
use esign_events::catalogue::{CertificateGenerated, EnvelopeCompleted, StorageLocation};
use esign_events::publish::{Publisher, Sink};
use esign_events::runtime::{Handler, HandlerError, RecordContext};
use esign_events::time::Timestamp;
use esign_events::{Event, Payload};
use uuid::Uuid;

/// What goes on the certificate, from the completion event and the audit chain's head.
pub fn certificate_input(completed: &EnvelopeCompleted, audit_head_hash: &str) -> CertificateInput {
    let envelope_id = completed.envelope_id.to_string();
    CertificateInput {
        verification_code: verification_code(&envelope_id, audit_head_hash),
        envelope_id,
        subject: completed.subject.clone(),
        sender_name: completed.sender_name.clone(),
        sender_email: completed.sender_email.expose().to_owned(),
        completed_at: completed.completed_at.to_string(),
        signers: completed
            .recipients
            .iter()
            .map(|r| SignerLine {
                name: r.name.clone(),
                email: r.email.expose().to_owned(),
                role: format!("{:?}", r.role).to_lowercase(),
                signed_at: r.signed_at.map(|t| t.to_string()),
                ip_address: r.ip_address.as_ref().map(|ip| ip.expose().to_owned()),
                device: r.device_info.as_ref().map(|d| {
                    format!("{:?}, {}, {}", d.device_type, d.os, d.browser).to_lowercase()
                }),
            })
            .collect(),
        audit_head_hash: audit_head_hash.to_owned(),
    }
}

/// The certificate function's handler.
pub struct CertificateHandler<S> {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub audit_table: String,
    pub publisher: Publisher<S>,
}

fn retryable(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Retryable(e.to_string())
}

impl<S: Sink> CertificateHandler<S> {
    /// The audit chain's head hash; the chain holds the envelope's events from its sending on.
    async fn head_hash(&self, envelope: Uuid) -> Result<String, HandlerError> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.audit_table)
            .key(
                "envelopeId",
                aws_sdk_dynamodb::types::AttributeValue::S(envelope.to_string()),
            )
            .key(
                "sequence",
                aws_sdk_dynamodb::types::AttributeValue::N("0".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| retryable(esign_events::aws::describe(&e)))?
            .item;
        item.and_then(|i| i.get("headHash").and_then(|v| v.as_s().ok()).cloned())
            .ok_or_else(|| retryable(format!("the audit chain of {envelope} is not written yet")))
    }
}

impl<S: Sink> Handler for CertificateHandler<S> {
    async fn handle(&self, event: &Event, _ctx: &RecordContext) -> Result<(), HandlerError> {
        let Payload::EnvelopeCompleted(completed) = &event.payload else {
            return Ok(());
        };
        let head = self.head_hash(completed.envelope_id).await?;
        let input = certificate_input(completed, &head);
        let pdf = render(&input);
        let key = format!("certificates/{}.pdf", completed.envelope_id);
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/pdf")
            .body(pdf.into())
            .send()
            .await
            .map_err(|e| retryable(esign_events::aws::describe(&e)))?;
        tracing::info!(%key, "certificate stored");

        let generated = Payload::CertificateGenerated(CertificateGenerated {
            certificate_id: Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!("certificate/{}", completed.envelope_id).as_bytes(),
            ),
            envelope_id: completed.envelope_id,
            storage: StorageLocation {
                bucket: self.bucket.clone(),
                key,
            },
            verification_code: input.verification_code,
            envelope_hash: head,
            generated_at: Timestamp::now(),
        });
        self.publisher
            .publish(&event.caused_once(generated, "certificate-function"))
            .await
            .map_err(retryable)?;
        Ok(())
    }
}
