//! Documents and certificates on the local stack: uploads checked, certificates rendered.

use integration_tests::{document_uploaded, Cast, LocalStack};
use std::time::Duration;

fn text(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok().or_else(|| v.as_n().ok()))
        .cloned()
        .unwrap_or_default()
}

/// A multi-page PDF, made with the certificate renderer, and its page count by poppler.
fn pdf_with_pages() -> (Vec<u8>, u32) {
    let signers = (0..40)
        .map(|i| certificate::pdf::SignerLine {
            name: format!("Signer {i}"),
            email: format!("signer{i}@example.net"),
            role: "signer".into(),
            signed_at: Some("2025-03-14T09:07:00.000Z".into()),
            ip_address: Some("203.0.113.7".into()),
            device: Some("desktop, linux, firefox".into()),
        })
        .collect();
    let input = certificate::pdf::CertificateInput {
        envelope_id: "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10".into(),
        subject: "Upload test".into(),
        sender_name: "Avery Example".into(),
        sender_email: "avery@example.com".into(),
        completed_at: "2025-03-15T10:20:30.500Z".into(),
        signers,
        audit_head_hash: "0".repeat(64),
        verification_code: "AAAA-BBBB-CCCC".into(),
    };
    let pdf = certificate::pdf::render(&input);
    let dir = std::env::temp_dir().join(format!("esign-pages-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let info = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages > 1, "the test PDF has several pages");
    (pdf, pages)
}

/// An uploaded PDF becomes ready with its page count; the EICAR test file fails as a virus,
/// is deleted, and its uploader is told.
#[tokio::test]
async fn an_uploaded_pdf_becomes_ready_and_the_eicar_file_fails() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let uploader = cast.address("uploader");
    let bucket = stack.bucket("esign-documents");
    let s3 = stack.s3();

    let (pdf, pages) = pdf_with_pages();
    let key = format!("uploads/{}/lease.pdf", cast.tag);
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(pdf.clone().into())
        .send()
        .await
        .unwrap();
    let good = document_uploaded(
        &bucket,
        &key,
        &uploader,
        "lease.pdf",
        "application/pdf",
        pdf.len(),
    );
    stack.publish(&good).await;

    let eicar = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    let bad_key = format!("uploads/{}/invoice.pdf", cast.tag);
    s3.put_object()
        .bucket(&bucket)
        .key(&bad_key)
        .body(eicar.to_vec().into())
        .send()
        .await
        .unwrap();
    let bad = document_uploaded(
        &bucket,
        &bad_key,
        &uploader,
        "invoice.pdf",
        "application/pdf",
        eicar.len(),
    );
    stack.publish(&bad).await;

    let good_id = good["data"]["documentId"].as_str().unwrap();
    let ready = stack
        .wait_item(
            "esign-documents",
            ("documentId", good_id),
            Duration::from_secs(60),
            |i| text(i, "status") == "ready",
        )
        .await
        .expect("a status");
    assert_eq!(text(&ready, "status"), "ready");
    assert_eq!(text(&ready, "pageCount"), pages.to_string());
    assert_eq!(text(&ready, "checksum").len(), 64);

    let bad_id = bad["data"]["documentId"].as_str().unwrap();
    let failed = stack
        .wait_item(
            "esign-documents",
            ("documentId", bad_id),
            Duration::from_secs(60),
            |i| text(i, "status") == "failed",
        )
        .await
        .expect("a status");
    assert_eq!(text(&failed, "status"), "failed");
    assert!(
        s3.head_object()
            .bucket(&bucket)
            .key(&bad_key)
            .send()
            .await
            .is_err(),
        "the infected file is gone"
    );
    let told = stack
        .wait_for_mails(std::slice::from_ref(&uploader), 1, Duration::from_secs(30))
        .await;
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(told[0].subject.contains("invoice.pdf"));
    assert!(told[0].text.contains("virus"));
}
