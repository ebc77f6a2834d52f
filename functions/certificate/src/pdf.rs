//! The certificate of completion as a PDF.
//!
//! A tour: [`render`] lays the certificate out on A4 pages (a title, the
//! envelope, one block per signer, the verification data) and writes them with
//! `lopdf`; [`verification_code`] derives the short code printed on it. Layout
//! and writing are separate steps: `Layout` places runs of text at page
//! coordinates, wrapping every value to its column and starting a new page when
//! the next line would reach the footer; `write_pdf` turns those pages into
//! content streams.
//!
//! All text is real text in the standard Helvetica and Courier fonts with
//! WinAnsiEncoding, so `pdftotext` and screen readers get it back; characters
//! outside WinAnsi are transliterated (see the `winansi` module). The document
//! information dictionary keeps the subject in full Unicode.
//!
//! Output is deterministic: the same input gives the same bytes, with no clock
//! or random file identifier involved, so a stored certificate can be checked by
//! rendering it again.

mod winansi;

use lopdf::{dictionary, Document, Object, ObjectId, Stream, StringFormat};
use sha2::{Digest, Sha256};
use winansi::{encode, Face};

/// One signer as the certificate lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerLine {
    pub name: String,
    pub email: String,
    pub role: String,
    /// When they signed, RFC 3339; printed as given.
    pub signed_at: Option<String>,
    pub ip_address: Option<String>,
    pub device: Option<String>,
}

/// Everything a certificate of completion states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInput {
    pub envelope_id: String,
    pub subject: String,
    pub sender_name: String,
    pub sender_email: String,
    /// When the last signer signed, RFC 3339; printed as given.
    pub completed_at: String,
    pub signers: Vec<SignerLine>,
    /// The audit chain's head hash when the certificate was made.
    pub audit_head_hash: String,
    /// Normally [`verification_code`] of the envelope id and head hash.
    pub verification_code: String,
}

/// The title on the first page and in the document information.
pub const TITLE: &str = "Certificate of Completion";

/// Crockford's base 32: digits and capitals without I, L, O and U, so a code
/// read aloud or typed from paper is not misread.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Separates this hash from any other SHA-256 over the same ids.
const CODE_DOMAIN: &[u8] = b"esign-bus certificate verification code v1\0";

/// A short code that ties a certificate to its envelope and audit chain.
///
/// The first 60 bits of SHA-256 over a fixed domain prefix, the envelope id and
/// the head hash, as 12 Crockford base-32 characters in groups of four:
/// `7KQ2-M3D8-4TZC`. Both inputs are trimmed and lowercased first, so the case
/// a UUID or hex hash happens to be written in does not change the code.
///
/// ```
/// let code = certificate::pdf::verification_code(
///     "0b0a5f0e-8a55-4c42-9f0b-6f1f8d2a9c11",
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
/// );
/// assert_eq!(code.len(), 14);
/// assert_eq!(code.as_bytes()[4], b'-');
/// ```
pub fn verification_code(envelope_id: &str, audit_head_hash: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(CODE_DOMAIN);
    hasher.update(envelope_id.trim().to_ascii_lowercase());
    hasher.update([0]);
    hasher.update(audit_head_hash.trim().to_ascii_lowercase());
    let digest = hasher.finalize();

    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let bits = u64::from_be_bytes(head) >> 4;

    let mut code = String::with_capacity(14);
    for index in 0..12 {
        if index > 0 && index % 4 == 0 {
            code.push('-');
        }
        let symbol = (bits >> (55 - 5 * index)) & 0x1f;
        code.push(char::from(CROCKFORD[symbol as usize]));
    }
    code
}

/// The certificate of completion for `input`, as the bytes of a PDF file.
pub fn render(input: &CertificateInput) -> Vec<u8> {
    let pages = lay_out(input);
    write_pdf(input, &pages)
}

// Page geometry, in PDF points (1/72 inch). A4 portrait.
const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const TOP: f32 = PAGE_HEIGHT - MARGIN;
/// Lowest point body text may reach; below it sits the footer.
const BOTTOM: f32 = 72.0;
const FOOTER_BASELINE: f32 = 40.0;
/// Width of the label column in a label and value row.
const LABEL_WIDTH: f32 = 118.0;
const VALUE_X: f32 = MARGIN + LABEL_WIDTH;
const VALUE_WIDTH: f32 = CONTENT_WIDTH - LABEL_WIDTH;

// Type sizes and the line heights that go with them.
const TITLE_SIZE: f32 = 22.0;
const TITLE_LEADING: f32 = 30.0;
const HEADING_SIZE: f32 = 13.0;
const HEADING_LEADING: f32 = 20.0;
const NAME_SIZE: f32 = 11.0;
const NAME_LEADING: f32 = 16.0;
const BODY_SIZE: f32 = 10.0;
/// Courier is wider than Helvetica; at 9 points a 64-digit hash fits its column.
const MONO_SIZE: f32 = 9.0;
const LABEL_SIZE: f32 = 9.0;
const LEADING: f32 = 14.0;
const FOOTER_SIZE: f32 = 8.0;

/// What a value prints when the record has none.
const NOT_RECORDED: &str = "not recorded";

/// The colours text is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ink {
    Body,
    Muted,
    Accent,
}

impl Ink {
    fn rgb(self) -> &'static str {
        match self {
            Ink::Body => "0.1 0.1 0.12",
            Ink::Muted => "0.38 0.4 0.44",
            Ink::Accent => "0.09 0.24 0.48",
        }
    }
}

/// A run of WinAnsi text placed with its baseline at `(x, y)`.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    x: f32,
    y: f32,
    face: Face,
    size: f32,
    ink: Ink,
    text: Vec<u8>,
}

/// What one page shows: text runs and horizontal rules (their heights).
#[derive(Debug, Default, Clone, PartialEq)]
struct Page {
    runs: Vec<Run>,
    rules: Vec<f32>,
}

/// Places text top to bottom, page after page.
struct Layout {
    pages: Vec<Page>,
    /// The top of the free space on the last page.
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Layout {
            pages: vec![Page::default()],
            y: TOP,
        }
    }

    fn page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a layout always has a page")
    }

    fn room(&self) -> f32 {
        self.y - BOTTOM
    }

    /// Starts a new page unless `height` still fits on this one. A fresh page
    /// is never left for another: what does not fit there is split instead.
    fn ensure(&mut self, height: f32) {
        if height > self.room() && self.y < TOP {
            self.pages.push(Page::default());
            self.y = TOP;
        }
    }

    fn gap(&mut self, height: f32) {
        // Space at the top of a page would only push content down.
        if self.y < TOP {
            self.y -= height;
        }
    }

    /// One line of `leading` height; its baseline sits `size` below the top.
    fn line(&mut self, x: f32, text: Vec<u8>, face: Face, size: f32, leading: f32, ink: Ink) {
        self.ensure(leading);
        let y = self.y - size;
        self.page().runs.push(Run {
            x,
            y,
            face,
            size,
            ink,
            text,
        });
        self.y -= leading;
    }

    fn rule(&mut self) {
        let y = self.y - 4.0;
        self.page().rules.push(y);
        self.y -= 10.0;
    }

    fn title(&mut self, text: &str) {
        for line in wrap(&encode(text), Face::Bold, TITLE_SIZE, CONTENT_WIDTH) {
            self.line(
                MARGIN,
                line,
                Face::Bold,
                TITLE_SIZE,
                TITLE_LEADING,
                Ink::Accent,
            );
        }
    }

    fn paragraph(&mut self, text: &str, ink: Ink) {
        for line in wrap(&encode(text), Face::Regular, BODY_SIZE, CONTENT_WIDTH) {
            self.line(MARGIN, line, Face::Regular, BODY_SIZE, LEADING, ink);
        }
    }

    /// A section heading, kept on the page with the `keep` points that follow.
    fn heading(&mut self, text: &str, keep: f32) {
        self.gap(LEADING);
        self.ensure(HEADING_LEADING + 10.0 + keep);
        let text = encode(text);
        self.line(
            MARGIN,
            text,
            Face::Bold,
            HEADING_SIZE,
            HEADING_LEADING,
            Ink::Accent,
        );
        self.rule();
    }

    /// A label and its value, the value wrapped to its column.
    fn field(&mut self, row: &Field) {
        for (index, line) in row.lines.iter().enumerate() {
            self.ensure(LEADING);
            if index == 0 {
                let label = encode(row.label);
                let y = self.y - BODY_SIZE;
                self.page().runs.push(Run {
                    x: MARGIN,
                    y,
                    face: Face::Regular,
                    size: LABEL_SIZE,
                    ink: Ink::Muted,
                    text: label,
                });
            }
            self.line(
                VALUE_X,
                line.clone(),
                row.face,
                row.face_size(),
                LEADING,
                Ink::Body,
            );
        }
    }

    fn fields(&mut self, rows: &[Field]) {
        for row in rows {
            self.field(row);
        }
    }
}

/// A label and value row, already wrapped so its height is known in advance.
struct Field {
    label: &'static str,
    face: Face,
    lines: Vec<Vec<u8>>,
}

impl Field {
    fn new(label: &'static str, value: &str) -> Self {
        Self::with_face(label, value, Face::Regular)
    }

    /// Ids, hashes and codes are set in Courier, where no two glyphs look alike.
    fn mono(label: &'static str, value: &str) -> Self {
        Self::with_face(label, value, Face::Mono)
    }

    fn with_face(label: &'static str, value: &str, face: Face) -> Self {
        let value = if value.trim().is_empty() {
            NOT_RECORDED
        } else {
            value
        };
        let size = face_size(face);
        Field {
            label,
            face,
            lines: wrap(&encode(value), face, size, VALUE_WIDTH),
        }
    }

    fn face_size(&self) -> f32 {
        face_size(self.face)
    }

    fn height(&self) -> f32 {
        self.lines.len() as f32 * LEADING
    }
}

fn face_size(face: Face) -> f32 {
    match face {
        Face::Mono => MONO_SIZE,
        Face::Regular | Face::Bold => BODY_SIZE,
    }
}

/// Breaks `text` into lines no wider than `width`.
///
/// Lines break at spaces; a word wider than a whole line (a long e-mail
/// address, a hash) is cut between characters. Runs of spaces collapse to one.
/// Empty text gives one empty line, so every value takes up a row.
fn wrap(text: &[u8], face: Face, size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();

    for word in text.split(|&byte| byte == b' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() {
            let mut candidate = line.clone();
            candidate.push(b' ');
            candidate.extend_from_slice(word);
            if face.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            lines.push(std::mem::take(&mut line));
        }

        let mut rest = word;
        while face.width(rest, size) > width {
            let fit = (1..rest.len())
                .rev()
                .find(|&end| face.width(&rest[..end], size) <= width)
                .unwrap_or(1);
            lines.push(rest[..fit].to_vec());
            rest = &rest[fit..];
        }
        line = rest.to_vec();
    }

    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Places the whole certificate on pages, footers included.
fn lay_out(input: &CertificateInput) -> Vec<Page> {
    let mut layout = Layout::new();

    layout.title(TITLE);
    layout.paragraph(
        "Every signer listed below has completed this envelope. The audit chain head hash and \
         the verification code tie this certificate to the envelope's audit log.",
        Ink::Muted,
    );

    let envelope = [
        Field::new("Subject", &input.subject),
        Field::mono("Envelope ID", &input.envelope_id),
        Field::new("Sender", &input.sender_name),
        Field::new("Sender e-mail", &input.sender_email),
        Field::new("Completed at", &input.completed_at),
    ];
    layout.heading("Envelope", envelope[0].height().min(2.0 * LEADING));
    layout.fields(&envelope);

    let signers: Vec<SignerBlock> = input
        .signers
        .iter()
        .enumerate()
        .map(|(index, signer)| SignerBlock::new(index + 1, signer))
        .collect();
    let first = signers.first().map_or(LEADING, SignerBlock::height);
    layout.heading(&format!("Signers ({})", signers.len()), first);
    for block in &signers {
        block.place(&mut layout);
    }

    let verification = [
        Field::mono("Audit chain head hash", &input.audit_head_hash),
        Field::mono("Verification code", &input.verification_code),
    ];
    layout.heading("Verification", 2.0 * LEADING);
    layout.fields(&verification);
    layout.gap(6.0);
    layout.paragraph(
        "The verification code is the SHA-256 of the envelope ID and the audit chain head hash, \
         shortened to 12 characters. Recomputing it from the audit log shows that this \
         certificate describes that log and no other.",
        Ink::Muted,
    );

    let mut pages = layout.pages;
    add_footers(&mut pages, &input.envelope_id);
    pages
}

/// One signer: the name, then their details, wrapped ahead of placing so the
/// block can move to a new page whole rather than split (unless it is taller
/// than a page).
struct SignerBlock {
    name: Vec<Vec<u8>>,
    rows: [Field; 5],
}

impl SignerBlock {
    fn new(number: usize, signer: &SignerLine) -> Self {
        let name = format!("{number}. {}", signer.name);
        let signed_at = signer.signed_at.as_deref().unwrap_or("not signed");
        let ip_address = signer.ip_address.as_deref().unwrap_or(NOT_RECORDED);
        let device = signer.device.as_deref().unwrap_or(NOT_RECORDED);
        SignerBlock {
            name: wrap(&encode(&name), Face::Bold, NAME_SIZE, CONTENT_WIDTH),
            rows: [
                Field::new("E-mail", &signer.email),
                Field::new("Role", &signer.role),
                Field::new("Signed at", signed_at),
                Field::new("IP address", ip_address),
                Field::new("Device", device),
            ],
        }
    }

    fn height(&self) -> f32 {
        self.name.len() as f32 * NAME_LEADING + self.rows.iter().map(Field::height).sum::<f32>()
    }

    fn place(&self, layout: &mut Layout) {
        if self.height() <= TOP - BOTTOM {
            layout.ensure(self.height() + 4.0);
        }
        layout.gap(4.0);
        for line in &self.name {
            layout.line(
                MARGIN,
                line.clone(),
                Face::Bold,
                NAME_SIZE,
                NAME_LEADING,
                Ink::Body,
            );
        }
        layout.fields(&self.rows);
        layout.gap(LEADING - 4.0);
    }
}

/// "Certificate of Completion · <envelope id>" and "Page n of m" on each page.
fn add_footers(pages: &mut [Page], envelope_id: &str) {
    let count = pages.len();
    for (index, page) in pages.iter_mut().enumerate() {
        let number = encode(&format!("Page {} of {count}", index + 1));
        let number_width = Face::Regular.width(&number, FOOTER_SIZE);
        let number_x = PAGE_WIDTH - MARGIN - number_width;

        // The envelope id is whatever the caller sent; cut it to one line.
        let label = encode(&format!("{TITLE} \u{b7} {envelope_id}"));
        let label = wrap(
            &label,
            Face::Regular,
            FOOTER_SIZE,
            CONTENT_WIDTH - number_width - 12.0,
        )
        .swap_remove(0);

        page.rules.push(FOOTER_BASELINE + 12.0);
        for (x, text) in [(MARGIN, label), (number_x, number)] {
            page.runs.push(Run {
                x,
                y: FOOTER_BASELINE,
                face: Face::Regular,
                size: FOOTER_SIZE,
                ink: Ink::Muted,
                text,
            });
        }
    }
}

/// The laid-out pages as a PDF file.
fn write_pdf(input: &CertificateInput, pages: &[Page]) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();

    let font = |doc: &mut Document, base: &str| -> ObjectId {
        doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => base,
            "Encoding" => "WinAnsiEncoding",
        })
    };
    let regular = font(&mut doc, "Helvetica");
    let bold = font(&mut doc, "Helvetica-Bold");
    let mono = font(&mut doc, "Courier");
    let resources = doc.add_object(dictionary! {
        "Font" => dictionary! {
            face_resource(Face::Regular) => regular,
            face_resource(Face::Bold) => bold,
            face_resource(Face::Mono) => mono,
        },
    });

    let mut kids = Vec::with_capacity(pages.len());
    for page in pages {
        let contents = doc.add_object(Stream::new(dictionary! {}, content_stream(page)));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => contents,
        });
        kids.push(Object::Reference(page_id));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources,
            "MediaBox" => vec![0.into(), 0.into(), (PAGE_WIDTH as i64).into(), (PAGE_HEIGHT as i64).into()],
        }),
    );

    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    let mut info = dictionary! {
        "Title" => text_string(&format!("{TITLE}: {}", input.subject)),
        "Subject" => text_string(&format!("Envelope {}", input.envelope_id)),
        "Producer" => text_string("esign-bus certificate"),
    };
    if let Some(date) = pdf_date(&input.completed_at) {
        info.set("CreationDate", Object::string_literal(date));
    }
    let info = doc.add_object(info);
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);

    doc.compress();
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes)
        .expect("writing a PDF into memory cannot fail");
    bytes
}

fn face_resource(face: Face) -> &'static str {
    match face {
        Face::Regular => "F1",
        Face::Bold => "F2",
        Face::Mono => "F3",
    }
}

/// The drawing operators for one page.
fn content_stream(page: &Page) -> Vec<u8> {
    let mut out = Vec::new();

    if !page.rules.is_empty() {
        out.extend_from_slice(b"0.8 0.82 0.86 RG 0.6 w\n");
        for y in &page.rules {
            let right = PAGE_WIDTH - MARGIN;
            out.extend_from_slice(
                format!("{MARGIN:.2} {y:.2} m {right:.2} {y:.2} l S\n").as_bytes(),
            );
        }
    }

    out.extend_from_slice(b"BT\n");
    for run in &page.runs {
        let Run {
            x,
            y,
            face,
            size,
            ink,
            text,
        } = run;
        let resource = face_resource(*face);
        let colour = ink.rgb();
        out.extend_from_slice(
            format!("{colour} rg /{resource} {size:.1} Tf 1 0 0 1 {x:.2} {y:.2} Tm ").as_bytes(),
        );
        out.extend_from_slice(&literal(text));
        out.extend_from_slice(b" Tj\n");
    }
    out.extend_from_slice(b"ET\n");
    out
}

/// A PDF literal string. Bytes above 0x7F go in as they are: the content
/// stream is binary, and the font's encoding gives them their meaning.
fn literal(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'(');
    for &byte in text {
        if matches!(byte, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b')');
    out
}

/// A PDF text string in UTF-16BE, which holds any Unicode text.
fn text_string(text: &str) -> Object {
    let mut bytes = vec![0xfe, 0xff];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

/// An RFC 3339 time as a PDF date (`D:20260301142205+01'00'`), if it is one.
fn pdf_date(rfc3339: &str) -> Option<String> {
    let time = chrono::DateTime::parse_from_rfc3339(rfc3339.trim()).ok()?;
    let offset = time.offset().local_minus_utc();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.unsigned_abs() / 60;
        format!("{sign}{:02}'{:02}'", minutes / 60, minutes % 60)
    };
    Some(format!("D:{}{zone}", time.format("%Y%m%d%H%M%S")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str) -> SignerLine {
        SignerLine {
            name: name.to_string(),
            email: "zoe@example.com".to_string(),
            role: "signer".to_string(),
            signed_at: Some("2026-03-01T14:22:05Z".to_string()),
            ip_address: Some("203.0.113.7".to_string()),
            device: Some("desktop".to_string()),
        }
    }

    fn input(signers: Vec<SignerLine>) -> CertificateInput {
        let envelope_id = "0b0a5f0e-8a55-4c42-9f0b-6f1f8d2a9c11".to_string();
        let audit_head_hash =
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_string();
        CertificateInput {
            verification_code: verification_code(&envelope_id, &audit_head_hash),
            envelope_id,
            subject: "Lease agreement, 12 Rue de Rivoli".to_string(),
            sender_name: "Ada Lovelace".to_string(),
            sender_email: "ada@example.com".to_string(),
            completed_at: "2026-03-01T15:00:00+01:00".to_string(),
            signers,
            audit_head_hash,
        }
    }

    fn parse(bytes: &[u8]) -> Document {
        Document::load_mem(bytes).expect("the certificate parses as a PDF")
    }

    /// Every run of text, on every page, decoded from the content streams.
    fn page_texts(doc: &Document) -> Vec<String> {
        doc.get_pages()
            .keys()
            .map(|&number| doc.extract_text(&[number]).expect("text extracts"))
            .collect()
    }

    /// The code has three groups of four Crockford characters.
    #[test]
    fn verification_code_is_three_groups_of_crockford_base32() {
        let code = verification_code("envelope", "head");
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.len(), 3, "{code}");
        for group in groups {
            assert_eq!(group.len(), 4, "{code}");
            assert!(group.bytes().all(|b| CROCKFORD.contains(&b)), "{code}");
        }
    }

    /// The same inputs always give the same code; case and padding do not count.
    #[test]
    fn verification_code_is_deterministic_and_ignores_case() {
        let code = verification_code("0B0A5F0E-8A55", " ABCDEF ");
        assert_eq!(code, verification_code("0b0a5f0e-8a55", "abcdef"));
        assert_eq!(code, verification_code("0B0A5F0E-8A55", " ABCDEF "));
    }

    /// Changing either input changes the code, and the two inputs do not blur
    /// into one string.
    #[test]
    fn verification_code_depends_on_both_inputs() {
        let base = verification_code("envelope-1", "aa");
        assert_ne!(base, verification_code("envelope-2", "aa"));
        assert_ne!(base, verification_code("envelope-1", "ab"));
        assert_ne!(verification_code("ab", "c"), verification_code("a", "bc"));
    }

    /// A known value, cross-checked with Python's hashlib, so a change to the
    /// derivation cannot go unnoticed: stored certificates would stop verifying.
    #[test]
    fn verification_code_derivation_is_pinned() {
        assert_eq!(
            verification_code(
                "0b0a5f0e-8a55-4c42-9f0b-6f1f8d2a9c11",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            ),
            "VVV9-WT5F-500F"
        );
    }

    /// The output is a complete PDF file that lopdf reads back.
    #[test]
    fn render_produces_a_pdf_that_parses() {
        let bytes = render(&input(vec![signer("Zoë Ångström")]));
        assert!(bytes.starts_with(b"%PDF-1.7"));
        assert!(bytes.trim_ascii_end().ends_with(b"%%EOF"));
        assert_eq!(parse(&bytes).get_pages().len(), 1);
    }

    /// Rendering twice gives identical bytes: no clock, no random id.
    #[test]
    fn render_is_deterministic() {
        let certificate = input(vec![signer("Zoë Ångström"), signer("Bob")]);
        assert_eq!(render(&certificate), render(&certificate));
    }

    /// Every stated fact is in the text layer, non-ASCII letters included.
    #[test]
    fn every_fact_is_extractable_text() {
        let mut zoe = signer("Zoë Ångström");
        zoe.role = "approver".to_string();
        zoe.device = Some("mobile (iOS 19)".to_string());
        let certificate = input(vec![zoe]);
        let text = page_texts(&parse(&render(&certificate))).concat();

        for expected in [
            TITLE,
            "Lease agreement, 12 Rue de Rivoli",
            "0b0a5f0e-8a55-4c42-9f0b-6f1f8d2a9c11",
            "Ada Lovelace",
            "ada@example.com",
            "Zoë Ångström",
            "zoe@example.com",
            "approver",
            "2026-03-01T14:22:05Z",
            "203.0.113.7",
            "mobile (iOS 19)",
            certificate.audit_head_hash.as_str(),
            certificate.verification_code.as_str(),
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from {text:?}"
            );
        }
    }

    /// Missing signing details say so instead of leaving a blank.
    #[test]
    fn missing_details_read_not_recorded() {
        let mut pending = signer("Carol");
        pending.signed_at = None;
        pending.ip_address = None;
        pending.device = None;
        let text = page_texts(&parse(&render(&input(vec![pending])))).concat();
        assert!(text.contains("not signed"), "{text}");
        assert!(text.contains(NOT_RECORDED), "{text}");
    }

    /// Forty signers do not fit on one page: the rest flows onto more pages,
    /// each numbered, and no signer's block is split.
    #[test]
    fn many_signers_paginate() {
        let signers = (1..=40).map(|n| signer(&format!("Signer {n}"))).collect();
        let pages = lay_out(&input(signers));
        assert!(pages.len() >= 4, "{} pages", pages.len());

        let doc = parse(&write_pdf(&input(vec![]), &pages));
        let texts = page_texts(&doc);
        assert_eq!(texts.len(), pages.len());
        for (index, text) in texts.iter().enumerate() {
            let footer = format!("Page {} of {}", index + 1, pages.len());
            assert!(text.contains(&footer), "page {index}: {text}");
        }
        for page in &pages {
            let names = page.runs.iter().filter(|r| r.size == NAME_SIZE).count();
            let ips = page
                .runs
                .iter()
                .filter(|r| r.text == b"203.0.113.7")
                .count();
            assert_eq!(names, ips, "a signer block was split across pages");
        }
    }

    /// No run of text leaves the printable area, however long the values.
    #[test]
    fn long_values_wrap_inside_the_margins() {
        let mut long = signer(&"Maximilian ".repeat(30));
        long.email = format!("{}@example.com", "x".repeat(200));
        long.device = Some("Mozilla/5.0 ".repeat(40));
        let mut certificate = input(vec![long]);
        certificate.subject = "Annex ".repeat(200) + &"Z".repeat(300);

        let pages = lay_out(&certificate);
        assert!(pages.len() >= 2, "{} pages", pages.len());
        for run in pages.iter().flat_map(|page| &page.runs) {
            let right = run.x + run.face.width(&run.text, run.size);
            assert!(
                run.x >= MARGIN && right <= PAGE_WIDTH - MARGIN + 0.01,
                "{run:?}"
            );
            assert!(run.y >= FOOTER_BASELINE && run.y <= TOP, "{run:?}");
            if run.y > FOOTER_BASELINE {
                assert!(run.y >= BOTTOM - LEADING, "{run:?}");
            }
        }
    }

    /// Wrapping breaks at spaces and cuts only words wider than a line.
    #[test]
    fn wrap_breaks_at_spaces_then_inside_long_words() {
        let width = Face::Mono.width(b"0123456789", 10.0);
        let lines = wrap(b"ab  cd efghijklmnopqrstu", Face::Mono, 10.0, width);
        assert_eq!(
            lines,
            vec![
                b"ab cd".to_vec(),
                b"efghijklmn".to_vec(),
                b"opqrstu".to_vec()
            ]
        );
        assert_eq!(wrap(b"", Face::Mono, 10.0, width), vec![Vec::<u8>::new()]);
    }

    /// Parentheses and backslashes in values cannot end a string early.
    #[test]
    fn literal_strings_escape_delimiters() {
        assert_eq!(literal(b"a(b)c\\"), b"(a\\(b\\)c\\\\)".to_vec());
    }

    /// The information dictionary takes its date from the completion time.
    #[test]
    fn completion_time_becomes_the_pdf_creation_date() {
        assert_eq!(
            pdf_date("2026-03-01T15:00:00+01:00").as_deref(),
            Some("D:20260301150000+01'00'")
        );
        assert_eq!(
            pdf_date("2026-03-01T14:00:00Z").as_deref(),
            Some("D:20260301140000Z")
        );
        assert_eq!(pdf_date("yesterday"), None);
    }
}
