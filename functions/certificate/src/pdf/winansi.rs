//! Text for the standard Type 1 fonts: WinAnsi encoding and glyph widths.
//!
//! The certificate uses Helvetica, Helvetica-Bold and Courier, three of the
//! fourteen fonts every PDF reader must supply, so no font file is embedded.
//! Those fonts reach only the 217 characters of WinAnsiEncoding (Windows-1252).
//! Every other character is transliterated to ASCII with `deunicode`, after NFC
//! normalisation so that a decomposed "e" plus combining diaeresis still comes
//! out as "ë": "Łukasz" prints as "Lukasz", "Ωmega" as "Omega". The mapping is
//! fixed per character, so the same input always renders the same bytes.
//!
//! The widths are Adobe's published metrics for these fonts (the core 14 AFM
//! files); Courier is 600 units for every glyph. They are what the wrapping
//! measures, so a line never runs past the margin in any conforming reader.

use unicode_normalization::UnicodeNormalization;

/// The font faces the certificate is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Face {
    Regular,
    Bold,
    Mono,
}

impl Face {
    /// The width of WinAnsi-encoded `text` at `size` points.
    pub(super) fn width(self, text: &[u8], size: f32) -> f32 {
        let units: u32 = text.iter().map(|&byte| u32::from(self.advance(byte))).sum();
        units as f32 * size / 1000.0
    }

    fn advance(self, byte: u8) -> u16 {
        let index = usize::from(byte.max(32) - 32);
        match self {
            Face::Regular => HELVETICA[index],
            Face::Bold => HELVETICA_BOLD[index],
            Face::Mono => 600,
        }
    }
}

/// `text` in WinAnsiEncoding, with what it cannot hold transliterated.
///
/// Control characters (line breaks and tabs included) become spaces, so the
/// result is one paragraph for the wrapper to break. A soft hyphen is dropped:
/// the wrapper never hyphenates.
pub(super) fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for ch in text.nfc() {
        if ch == '\u{ad}' {
            continue;
        }
        if ch.is_control() {
            out.push(b' ');
        } else if let Some(byte) = winansi_byte(ch) {
            out.push(byte);
        } else {
            match deunicode::deunicode_char(ch) {
                // Only printable ASCII, so a transliteration can never smuggle
                // in a control byte.
                Some(ascii) => out.extend(ascii.bytes().filter(|b| (32..127).contains(b))),
                None => out.push(b'?'),
            }
        }
    }
    out
}

/// The WinAnsi code of `ch`, if it has one.
fn winansi_byte(ch: char) -> Option<u8> {
    let code = u32::from(ch);
    match code {
        0x20..=0x7e | 0xa0..=0xff => u8::try_from(code).ok(),
        _ => WINANSI_HIGH
            .iter()
            .find(|(unicode, _)| *unicode == ch)
            .map(|&(_, byte)| byte),
    }
}

/// The characters WinAnsi places at 0x80 to 0x9F, where Latin-1 has controls.
const WINANSI_HIGH: [(char, u8); 27] = [
    ('\u{20ac}', 0x80), // euro sign
    ('\u{201a}', 0x82), // single low-9 quotation mark
    ('\u{0192}', 0x83), // florin
    ('\u{201e}', 0x84), // double low-9 quotation mark
    ('\u{2026}', 0x85), // ellipsis
    ('\u{2020}', 0x86), // dagger
    ('\u{2021}', 0x87), // double dagger
    ('\u{02c6}', 0x88), // modifier circumflex
    ('\u{2030}', 0x89), // per mille
    ('\u{0160}', 0x8a), // S caron
    ('\u{2039}', 0x8b), // single left angle quotation mark
    ('\u{0152}', 0x8c), // OE
    ('\u{017d}', 0x8e), // Z caron
    ('\u{2018}', 0x91), // left single quotation mark
    ('\u{2019}', 0x92), // right single quotation mark
    ('\u{201c}', 0x93), // left double quotation mark
    ('\u{201d}', 0x94), // right double quotation mark
    ('\u{2022}', 0x95), // bullet
    ('\u{2013}', 0x96), // en dash
    ('\u{2014}', 0x97), // em dash
    ('\u{02dc}', 0x98), // small tilde
    ('\u{2122}', 0x99), // trade mark
    ('\u{0161}', 0x9a), // s caron
    ('\u{203a}', 0x9b), // single right angle quotation mark
    ('\u{0153}', 0x9c), // oe
    ('\u{017e}', 0x9e), // z caron
    ('\u{0178}', 0x9f), // Y diaeresis
];

/// Helvetica advance widths in 1/1000 em for WinAnsi codes 32 to 255.
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    350, 556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, 350,
    222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, 278, 333, 556,
    556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556,
    537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667,
    667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722,
    722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278,
    278, 556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold advance widths in 1/1000 em for WinAnsi codes 32 to 255.
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    350, 556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, 350,
    278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667, 278, 333, 556,
    556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 611,
    556, 278, 333, 333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667,
    667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722,
    722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278,
    278, 611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Latin-1 letters such as those in "Zoë Ångström" keep their own code.
    #[test]
    fn latin1_letters_keep_their_winansi_code() {
        assert_eq!(encode("Zoë Ångström"), b"Zo\xeb \xc5ngstr\xf6m");
    }

    /// The 0x80 to 0x9F block carries typographic marks and a few letters.
    #[test]
    fn windows_1252_extras_map_into_the_high_block() {
        assert_eq!(
            encode("€ – Šárka „ok“"),
            b"\x80 \x96 \x8a\xe1rka \x84ok\x93"
        );
    }

    /// Letters outside WinAnsi are transliterated, one character at a time.
    #[test]
    fn letters_outside_winansi_are_transliterated() {
        assert_eq!(encode("Łukasz Wróbel"), b"Lukasz Wr\xf3bel");
        assert_eq!(encode("Ωmega"), b"Omega");
    }

    /// A decomposed accent is composed first, so it stays in WinAnsi.
    #[test]
    fn combining_marks_are_composed_before_encoding() {
        assert_eq!(encode("Zoe\u{308}"), b"Zo\xeb");
    }

    /// Line breaks and tabs turn into spaces; nothing below 0x20 survives.
    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(encode("a\nb\tc\u{0}d"), b"a b c d");
    }

    /// Courier is monospaced and Helvetica's widths come from its metrics.
    #[test]
    fn widths_follow_the_font_metrics() {
        assert_eq!(Face::Mono.width(b"abc", 10.0), 18.0);
        assert_eq!(Face::Regular.width(b"W", 10.0), 9.44);
        assert!(Face::Bold.width(b"Zo\xeb", 10.0) > Face::Regular.width(b"Zo\xeb", 10.0));
    }
}
