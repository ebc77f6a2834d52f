//! The certificate as an independent reader sees it: poppler's `pdftoppm`
//! must rasterise it and `pdftotext` must read the facts back.
//!
//! Needs `poppler-utils` (`apt-get install poppler-utils`). Without it the test
//! fails and says so: a certificate nobody rendered is not a tested one.

use certificate::pdf::{render, verification_code, CertificateInput, SignerLine};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch folder of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a poppler tool, failing with the install hint when it is missing.
fn poppler(tool: &str, args: &[&Path]) -> Output {
    let output = match Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "`{tool}` is not installed: this test needs poppler-utils \
             (apt-get install poppler-utils)"
        ),
        Err(error) => panic!("`{tool}` could not start: {error}"),
    };
    assert!(
        output.status.success(),
        "`{tool}` failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn certificate() -> CertificateInput {
    let envelope_id = "5d3c1e9a-2b7f-4f60-8d2e-0c9b7a6f1e42".to_string();
    let audit_head_hash =
        "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b".to_string();
    let signer = |name: &str, email: &str, role: &str| SignerLine {
        name: name.to_string(),
        email: email.to_string(),
        role: role.to_string(),
        signed_at: Some("2026-04-12T09:41:17Z".to_string()),
        ip_address: Some("198.51.100.23".to_string()),
        device: Some("Firefox 139 on Windows 11 (desktop)".to_string()),
    };
    CertificateInput {
        verification_code: verification_code(&envelope_id, &audit_head_hash),
        envelope_id,
        subject: "Mutual NDA – Nordlys Analytics ÅB".to_string(),
        sender_name: "Henrik Solberg".to_string(),
        sender_email: "henrik@nordlys.example".to_string(),
        completed_at: "2026-04-12T11:02:40+02:00".to_string(),
        signers: vec![
            signer("Zoë Ångström", "zoe@example.com", "signer"),
            signer("Łukasz Wróbel", "lukasz@example.com", "approver"),
        ],
        audit_head_hash,
    }
}

/// pdftoppm renders every page, and pdftotext finds the subject, a signer
/// (with her diacritics), the head hash and the verification code.
#[test]
fn poppler_renders_the_certificate_and_reads_its_facts() {
    let scratch = Scratch::new("certificate-poppler");
    let input = certificate();
    let pdf = scratch.0.join("certificate.pdf");
    std::fs::write(&pdf, render(&input)).expect("write the certificate");

    let prefix = scratch.0.join("page");
    poppler(
        "pdftoppm",
        &[
            Path::new("-png"),
            Path::new("-r"),
            Path::new("60"),
            &pdf,
            &prefix,
        ],
    );
    let png = std::fs::read_dir(&scratch.0)
        .expect("scratch folder lists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "png"))
        .expect("pdftoppm wrote a PNG page");
    let image = std::fs::read(&png).expect("read the PNG");
    assert!(
        image.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {png:?}"
    );
    if let Ok(keep) = std::env::var("CERTIFICATE_KEEP_PNG") {
        std::fs::copy(&png, keep).expect("copy the rendered page");
    }

    let text = poppler(
        "pdftotext",
        &[Path::new("-enc"), Path::new("UTF-8"), &pdf, Path::new("-")],
    );
    let text = String::from_utf8(text.stdout).expect("pdftotext writes UTF-8");
    for expected in [
        "Certificate of Completion",
        "Mutual NDA – Nordlys Analytics ÅB",
        "Zoë Ångström",
        // Ł is outside WinAnsi and is transliterated; ó is kept.
        "Lukasz Wróbel",
        input.audit_head_hash.as_str(),
        input.verification_code.as_str(),
    ] {
        assert!(
            text.contains(expected),
            "pdftotext lacks {expected:?}:\n{text}"
        );
    }
}
