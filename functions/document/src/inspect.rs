//! Inspection of one uploaded document, in memory and without side effects.
//!
//! [`inspect`] takes the stored bytes and the declared content type and
//! answers the questions `document.processing.started` lists: the checksum,
//! whether a virus is present, whether the file is a readable PDF and how many
//! pages it has, and a thumbnail of its first page. The steps, in order:
//!
//! 1. SHA-256 of the bytes, always, whatever else is found.
//! 2. Virus scan of the raw bytes (see below). A hit ends the inspection: an
//!    infected file is not parsed further.
//! 3. Only PDF is a supported type (`application/pdf`, or the older
//!    `application/x-pdf`; case and parameters do not matter). Anything else
//!    is [`Verdict::Unsupported`]; the type is never sniffed from the bytes, so
//!    a PDF uploaded as `text/plain` is refused rather than guessed at.
//! 4. The PDF is checked from the outside in: a `%PDF-` header near the start,
//!    a `%%EOF` marker near the end (its absence is how truncation shows), then
//!    a full parse with `lopdf`, a page tree with at least one page, and every
//!    page's content streams decoding. The first failure is the
//!    [`Verdict::Corrupted`] reason.
//! 5. Every stream of the parsed PDF is decoded and scanned again, so a test
//!    file packed into a compressed stream or an attachment is found too.
//! 6. A thumbnail of the first page (with the `thumbnail` feature); [`inspect_within`] gives
//!    it a time budget.
//!
//! # Virus scanning
//!
//! The only signature is the EICAR anti-virus test file, the 68-byte string
//! every scanner is required to report. The EICAR convention has scanners
//! report it when a file starts with it; we report it anywhere in the file and
//! in any decoded PDF stream, as ClamAV does, because the point of the test
//! file is to prove the path from upload to `document.processing.failed` and a
//! wrapped copy should prove it too. This is not a malware scanner: a real
//! engine (ClamAV or a managed service) has to run before a document is ever
//! shown to another party, and its verdict would arrive as the same
//! [`Verdict::VirusDetected`].
//!
//! # Limits
//!
//! Each decoded stream may be at most [`MAX_STREAM_BYTES`], and scanning stops
//! once [`MAX_DECODED_BYTES`] have been decoded in all, so a decompression bomb
//! costs bounded memory; streams past that budget are not scanned. A file
//! whose cross-reference data had to be rebuilt by scanning is reported as
//! corrupted even though lenient readers open it: which objects it holds is
//! then a guess, and a document people sign must read the same everywhere.
//! Password-protected PDFs are reported as corrupted with that reason, since
//! they cannot be opened for processing. Parsers that panic on hostile input
//! are contained with `catch_unwind`, which needs the default `panic = "unwind"`.

use lopdf::xref::XrefRecovery;
use lopdf::{Document, LoadOptions, Object};
use memchr::memmem;
use sha2::{Digest, Sha256};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the inspection concluded, worst finding first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A supported, readable document with no known signature in it.
    Clean,
    /// A known signature was found; `signature` names it.
    VirusDetected { signature: &'static str },
    /// The type is supported but the file is not a readable document.
    Corrupted { reason: String },
    /// The declared type is not one this service processes.
    Unsupported { content_type: String },
}

/// The facts found about one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// SHA-256 of the bytes, 64 lowercase hex digits; set for every verdict.
    pub sha256: String,
    /// Pages of a readable PDF; `None` for any other verdict.
    pub page_count: Option<u32>,
    pub verdict: Verdict,
    /// The first page as a PNG at most [`THUMBNAIL_EDGE`] pixels on its longer
    /// side. Only for a clean PDF, and only when built with the `thumbnail`
    /// feature (on by default), which renders with `hayro`, a pure-Rust PDF
    /// rasterizer. `None` as well when hayro cannot render that page (it does
    /// not open encrypted files), which leaves the verdict as it is.
    pub thumbnail_png: Option<Vec<u8>>,
}

/// The EICAR anti-virus test file.
pub const EICAR: &[u8; 68] =
    b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The name reported for [`EICAR`], as ClamAV's database spells it.
pub const EICAR_SIGNATURE: &str = "Eicar-Test-Signature";

/// The longest a single PDF stream may decode to.
pub const MAX_STREAM_BYTES: usize = 64 * 1024 * 1024;

/// How much decoded stream data one inspection scans at most.
pub const MAX_DECODED_BYTES: usize = 256 * 1024 * 1024;

/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_EDGE: f32 = 256.0;

/// How far from either end of the file the header and end marker may sit.
/// Readers tolerate junk before `%PDF-` and after `%%EOF`; 1024 bytes is the
/// allowance the PDF specification's implementation notes give.
const MARKER_WINDOW: usize = 1024;

/// Inspects `bytes`, stored under the declared `content_type`.
pub fn inspect(bytes: &[u8], content_type: &str) -> Inspection {
    let mut inspection = check(bytes, content_type);
    if inspection.verdict == Verdict::Clean {
        inspection.thumbnail_png = thumbnail(bytes);
    }
    inspection
}

/// Everything [`inspect`] finds but the thumbnail.
fn check(bytes: &[u8], content_type: &str) -> Inspection {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let finding = examine(bytes, content_type);
    Inspection {
        sha256,
        page_count: finding.page_count,
        verdict: finding.verdict,
        thumbnail_png: None,
    }
}

/// [`inspect`] for an async caller: the checks on a blocking thread, and the thumbnail on
/// another within `thumbnail_budget`. A thumbnail is optional, so a page that takes longer to
/// render leaves the document without one rather than the invocation out of time. The render
/// can't be interrupted: its thread runs on to the end in the background, while the document is
/// published without a thumbnail.
pub async fn inspect_within(
    bytes: Vec<u8>,
    content_type: String,
    thumbnail_budget: std::time::Duration,
) -> Inspection {
    let bytes = std::sync::Arc::new(bytes);
    let checked = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || check(&bytes, &content_type)).await
    };
    let mut inspection = match checked {
        Ok(inspection) => inspection,
        // `check` contains its parsers' panics, so this is a panic of our own.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    if inspection.verdict == Verdict::Clean {
        inspection.thumbnail_png = within(thumbnail_budget, move || thumbnail(&bytes)).await;
    }
    inspection
}

/// Runs `work` on a blocking thread and gives up waiting for it after `budget`.
pub async fn within<T: Send + 'static>(
    budget: std::time::Duration,
    work: impl FnOnce() -> Option<T> + Send + 'static,
) -> Option<T> {
    match tokio::time::timeout(budget, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => done,
        Ok(Err(_)) => None,
        Err(_) => {
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "thumbnail not rendered in time; the document goes on without one"
            );
            None
        }
    }
}

/// What the checks found besides the checksum.
struct Finding {
    verdict: Verdict,
    page_count: Option<u32>,
}

impl Finding {
    fn only(verdict: Verdict) -> Self {
        Finding {
            verdict,
            page_count: None,
        }
    }
}

fn examine(bytes: &[u8], content_type: &str) -> Finding {
    if let Some(signature) = scan(bytes) {
        return Finding::only(Verdict::VirusDetected { signature });
    }

    let media_type = media_type(content_type);
    if !matches!(media_type.as_str(), "application/pdf" | "application/x-pdf") {
        return Finding::only(Verdict::Unsupported {
            content_type: media_type,
        });
    }

    let pdf = match read_pdf(bytes) {
        Ok(pdf) => pdf,
        Err(reason) => return Finding::only(Verdict::Corrupted { reason }),
    };
    if let Some(signature) = pdf.signature {
        return Finding::only(Verdict::VirusDetected { signature });
    }
    Finding {
        verdict: Verdict::Clean,
        page_count: Some(pdf.page_count),
    }
}

/// The signature found in `bytes`, if any.
fn scan(bytes: &[u8]) -> Option<&'static str> {
    memmem::find(bytes, EICAR).map(|_| EICAR_SIGNATURE)
}

/// The media type without parameters, lowercased: `Application/PDF; x=y`
/// is `application/pdf`.
fn media_type(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// What reading a PDF found.
struct PdfFacts {
    page_count: u32,
    /// A signature in a decoded stream.
    signature: Option<&'static str>,
}

/// Reads and checks a PDF; `Err` holds the reason it is not a usable one.
fn read_pdf(bytes: &[u8]) -> Result<PdfFacts, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let head = &bytes[..bytes.len().min(MARKER_WINDOW)];
    if memmem::find(head, b"%PDF-").is_none() {
        return Err("no %PDF- header in the first 1024 bytes: not a PDF file".into());
    }
    let tail = &bytes[bytes.len().saturating_sub(MARKER_WINDOW)..];
    if memmem::rfind(tail, b"%%EOF").is_none() {
        return Err("no %%EOF marker in the last 1024 bytes: the file is truncated".into());
    }

    let doc = load(bytes)?;
    if doc.xref_recovery == Some(XrefRecovery::Reconstructed) {
        return Err(
            "the cross-reference table is damaged: objects could only be found by scanning \
             the file, so some may be missing"
                .into(),
        );
    }

    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err("the page tree holds no pages".into());
    }
    for (number, &page) in &pages {
        for id in doc.get_page_contents(page) {
            let stream = doc
                .get_object(id)
                .and_then(Object::as_stream)
                .map_err(|error| format!("page {number}: content stream missing: {error}"))?;
            match stream.decompressed_content_with_limit(MAX_STREAM_BYTES) {
                // A filter lopdf does not implement says nothing about damage.
                Ok(_) | Err(lopdf::Error::Unimplemented(_)) => {}
                Err(error) => {
                    return Err(format!(
                        "page {number}: content stream cannot be decoded: {error}"
                    ))
                }
            }
        }
    }

    Ok(PdfFacts {
        page_count: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        signature: scan_streams(&doc),
    })
}

/// Parses the whole file with lopdf, containing a parser panic.
fn load(bytes: &[u8]) -> Result<Document, String> {
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES),
        ..LoadOptions::default()
    };
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        Document::load_mem_with_options(bytes, options)
    }));
    match loaded {
        Ok(Ok(doc)) => Ok(doc),
        Ok(Err(lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_))) => {
            Err("the PDF is encrypted with a password and cannot be opened".into())
        }
        Ok(Err(error)) => Err(format!("the PDF structure cannot be read: {error}")),
        Err(_) => Err("the PDF structure cannot be read: the parser failed on it".into()),
    }
}

/// Decodes every stream, within the budget, and scans what comes out.
fn scan_streams(doc: &Document) -> Option<&'static str> {
    let mut budget = MAX_DECODED_BYTES;
    for object in doc.objects.values() {
        let Object::Stream(stream) = object else {
            continue;
        };
        // Unfiltered content is in the raw bytes already scanned.
        if stream.filters().map_or(true, |filters| filters.is_empty()) {
            continue;
        }
        let Ok(decoded) = stream.decompressed_content_with_limit(budget.min(MAX_STREAM_BYTES))
        else {
            continue;
        };
        budget = budget.saturating_sub(decoded.len());
        if let Some(signature) = scan(&decoded) {
            return Some(signature);
        }
        if budget == 0 {
            break;
        }
    }
    None
}

/// The first page as a PNG, fitted into [`THUMBNAIL_EDGE`] pixels.
#[cfg(feature = "thumbnail")]
fn thumbnail(bytes: &[u8]) -> Option<Vec<u8>> {
    use hayro::hayro_interpret::InterpreterSettings;
    use hayro::hayro_syntax::Pdf;
    use hayro::vello_cpu::color::palette::css::WHITE;
    use hayro::{render, PixmapSettings, RenderCache, RenderSettings};

    let rendered = catch_unwind(AssertUnwindSafe(|| {
        let pdf = Pdf::new(bytes.to_vec()).ok()?;
        let page = pdf.pages().first()?;
        let (width, height) = page.render_dimensions();
        if !(width >= 1.0 && height >= 1.0) {
            return None;
        }
        let scale = THUMBNAIL_EDGE / width.max(height);
        let pixmap = render(
            page,
            &RenderCache::new(),
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: WHITE,
            },
        );
        pixmap.into_png().ok()
    }));
    rendered.ok().flatten()
}

#[cfg(not(feature = "thumbnail"))]
fn thumbnail(_bytes: &[u8]) -> Option<Vec<u8>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Stream};

    /// A small PDF of `pages` pages, each saying its number in Helvetica, with
    /// compressed content streams and `extra` added as one more stream.
    fn pdf(pages: u32, extra: Option<&[u8]>) -> Vec<u8> {
        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => "Helvetica",
        });
        let resources = doc.add_object(dictionary! {
            "Font" => dictionary! { "F1" => font },
        });

        let mut kids = Vec::new();
        for number in 1..=pages {
            let content = Content {
                operations: vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 36.into()]),
                    Operation::new("Td", vec![72.into(), 700.into()]),
                    Operation::new("Tj", vec![Object::string_literal(format!("Page {number}"))]),
                    Operation::new("ET", vec![]),
                    Operation::new("re", vec![72.into(), 72.into(), 200.into(), 100.into()]),
                    Operation::new("f", vec![]),
                ],
            };
            let stream = Stream::new(dictionary! {}, content.encode().expect("content encodes"));
            let contents = doc.add_object(stream);
            let page = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => contents,
            });
            kids.push(Object::Reference(page));
        }
        if let Some(extra) = extra {
            doc.add_object(Stream::new(dictionary! {}, extra.to_vec()));
        }
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => kids,
                "Count" => i64::from(pages),
                "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog = doc.add_object(dictionary! {
            "Type" => "Catalog",
            "Pages" => pages_id,
        });
        doc.trailer.set("Root", catalog);
        doc.compress();

        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).expect("PDF writes");
        bytes
    }

    /// Bytes that look like nothing, the same on every run (xorshift).
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    fn corrupted_reason(inspection: &Inspection) -> &str {
        match &inspection.verdict {
            Verdict::Corrupted { reason } => reason,
            other => panic!("expected Corrupted, got {other:?}"),
        }
    }

    /// Work that outlasts its budget is given up on when the budget ends, not when the work does.
    #[tokio::test]
    async fn a_render_past_its_budget_is_given_up_on_time() {
        let started = std::time::Instant::now();
        let late = within(std::time::Duration::from_millis(50), || {
            std::thread::sleep(std::time::Duration::from_secs(2));
            Some(1)
        })
        .await;
        assert_eq!(late, None);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let quick = within(std::time::Duration::from_secs(5), || Some(2)).await;
        assert_eq!(quick, Some(2));
    }

    /// The async inspection finds what the plain one finds, thumbnail included when in budget,
    /// and a clean document stays clean without one when the budget is nil.
    #[tokio::test]
    async fn the_bounded_inspection_agrees_with_the_plain_one() {
        let bytes = pdf(2, None);
        let plain = inspect(&bytes, "application/pdf");
        let bounded = inspect_within(
            bytes.clone(),
            "application/pdf".into(),
            std::time::Duration::from_secs(30),
        )
        .await;
        assert_eq!(bounded, plain);
        let hurried =
            inspect_within(bytes, "application/pdf".into(), std::time::Duration::ZERO).await;
        assert_eq!(hurried.verdict, Verdict::Clean);
        assert_eq!(hurried.page_count, Some(2));
        assert_eq!(hurried.thumbnail_png, None);
    }

    /// The checksum is the SHA-256 of the bytes, in lowercase hex.
    #[test]
    fn checksum_is_lowercase_hex_sha256() {
        let inspection = inspect(b"abc", "text/plain");
        assert_eq!(
            inspection.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// A well-formed three-page PDF is clean, with its page count.
    #[test]
    fn multi_page_pdf_is_clean_with_its_page_count() {
        let bytes = pdf(3, None);
        let inspection = inspect(&bytes, "application/pdf");
        assert_eq!(inspection.verdict, Verdict::Clean);
        assert_eq!(inspection.page_count, Some(3));
        assert_eq!(inspection.sha256, hex::encode(Sha256::digest(&bytes)));
    }

    /// The content type's case and parameters do not matter.
    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        let inspection = inspect(&pdf(1, None), " Application/PDF; name=\"lease.pdf\"");
        assert_eq!(inspection.verdict, Verdict::Clean);
        assert_eq!(inspection.page_count, Some(1));
    }

    /// With the thumbnail feature, a clean PDF gets a PNG of its first page
    /// that fits the thumbnail size and keeps the A4 proportions.
    #[cfg(feature = "thumbnail")]
    #[test]
    fn clean_pdf_gets_a_first_page_thumbnail() {
        let inspection = inspect(&pdf(2, None), "application/pdf");
        let png = inspection.thumbnail_png.expect("a thumbnail");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

        // The IHDR chunk comes first: width and height, big-endian, at 16..24.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!(height, THUMBNAIL_EDGE as u32);
        assert!((180..=182).contains(&width), "{width}x{height}");
    }

    /// Without the feature there is never a thumbnail.
    #[cfg(not(feature = "thumbnail"))]
    #[test]
    fn without_the_feature_there_is_no_thumbnail() {
        assert_eq!(
            inspect(&pdf(2, None), "application/pdf").thumbnail_png,
            None
        );
    }

    /// The EICAR file on its own is detected, whatever type it claims.
    #[test]
    fn eicar_alone_is_detected() {
        for content_type in ["text/plain", "application/pdf", "application/octet-stream"] {
            let inspection = inspect(EICAR, content_type);
            assert_eq!(
                inspection.verdict,
                Verdict::VirusDetected {
                    signature: EICAR_SIGNATURE
                },
                "{content_type}"
            );
            assert_eq!(inspection.page_count, None);
            assert_eq!(inspection.thumbnail_png, None);
        }
    }

    /// EICAR in the middle of a larger file, and after a PDF's end, is found.
    #[test]
    fn eicar_embedded_in_a_larger_file_is_detected() {
        let mut bytes = noise(100_000);
        bytes.splice(54_321..54_321, EICAR.iter().copied());
        let inspection = inspect(&bytes, "application/octet-stream");
        assert!(matches!(inspection.verdict, Verdict::VirusDetected { .. }));

        let mut bytes = pdf(1, None);
        bytes.extend_from_slice(b"\n");
        bytes.extend_from_slice(EICAR);
        let inspection = inspect(&bytes, "application/pdf");
        assert!(matches!(inspection.verdict, Verdict::VirusDetected { .. }));
        assert_eq!(inspection.page_count, None);
    }

    /// EICAR packed into a compressed PDF stream is found once decoded.
    #[test]
    fn eicar_inside_a_compressed_pdf_stream_is_detected() {
        // Padding, so that compressing the stream pays and lopdf does it.
        let mut payload = EICAR.to_vec();
        payload.extend_from_slice(&[b' '; 4096]);
        let bytes = pdf(1, Some(&payload));
        assert!(
            memmem::find(&bytes, EICAR).is_none(),
            "the stream should be compressed"
        );
        let inspection = inspect(&bytes, "application/pdf");
        assert_eq!(
            inspection.verdict,
            Verdict::VirusDetected {
                signature: EICAR_SIGNATURE
            }
        );
    }

    /// One changed byte is not the test file.
    #[test]
    fn a_near_miss_of_eicar_is_not_a_virus() {
        let mut almost = EICAR.to_vec();
        almost[10] ^= 1;
        let inspection = inspect(&almost, "text/plain");
        assert!(!matches!(inspection.verdict, Verdict::VirusDetected { .. }));
    }

    /// A PDF cut short has lost its end marker, and the reason says so.
    #[test]
    fn truncated_pdf_is_corrupted() {
        let bytes = pdf(3, None);
        let inspection = inspect(&bytes[..bytes.len() / 2], "application/pdf");
        let reason = corrupted_reason(&inspection);
        assert!(reason.contains("truncated"), "{reason}");
        assert!(reason.contains("%%EOF"), "{reason}");
        assert_eq!(inspection.page_count, None);
        assert_eq!(inspection.thumbnail_png, None);
    }

    /// A PDF whose middle is missing keeps its ends but not its structure.
    #[test]
    fn pdf_missing_its_middle_is_corrupted() {
        let bytes = pdf(3, None);
        let mut damaged = bytes[..200].to_vec();
        damaged.extend_from_slice(&bytes[bytes.len() - 200..]);
        let inspection = inspect(&damaged, "application/pdf");
        let reason = corrupted_reason(&inspection);
        assert!(
            reason.contains("cross-reference") || reason.contains("cannot be read"),
            "{reason}"
        );
    }

    /// Random bytes declared as a PDF are not one.
    #[test]
    fn random_bytes_declared_as_pdf_are_corrupted() {
        let inspection = inspect(&noise(4096), "application/pdf");
        let reason = corrupted_reason(&inspection);
        assert!(reason.contains("%PDF- header"), "{reason}");
    }

    /// Garbage between a header and an end marker does not parse.
    #[test]
    fn garbage_between_pdf_markers_is_corrupted() {
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.extend(noise(4096));
        bytes.extend_from_slice(b"\n%%EOF\n");
        let reason = corrupted_reason(&inspect(&bytes, "application/pdf")).to_string();
        assert!(reason.starts_with("the PDF structure"), "{reason}");
    }

    /// An empty upload declared as a PDF is corrupted, not unsupported.
    #[test]
    fn empty_pdf_is_corrupted() {
        let inspection = inspect(b"", "application/pdf");
        assert_eq!(corrupted_reason(&inspection), "the file is empty");
    }

    /// A PDF whose page tree is empty has nothing to sign.
    #[test]
    fn pdf_without_pages_is_corrupted() {
        let reason = corrupted_reason(&inspect(&pdf(0, None), "application/pdf")).to_string();
        assert!(reason.contains("no pages"), "{reason}");
    }

    /// Plain text is not a supported type, and the verdict names the type.
    #[test]
    fn plain_text_is_unsupported() {
        let inspection = inspect(b"Please sign here.\n", "text/plain; charset=utf-8");
        assert_eq!(
            inspection.verdict,
            Verdict::Unsupported {
                content_type: "text/plain".to_string()
            }
        );
        assert_eq!(inspection.page_count, None);
        assert_eq!(inspection.thumbnail_png, None);
        assert_eq!(inspection.sha256.len(), 64);
    }

    /// The type is taken as declared: a real PDF sent as text is refused.
    #[test]
    fn declared_type_is_not_sniffed() {
        let inspection = inspect(&pdf(1, None), "text/plain");
        assert!(matches!(inspection.verdict, Verdict::Unsupported { .. }));
    }
}
