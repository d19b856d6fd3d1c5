//! The encodings a `system.ini` comes in, split into lines that can be written back
//! exactly as they were read.
//!
//! Windows' profile functions recognise a UTF-8 byte-order mark, a UTF-16 mark in
//! either byte order, and otherwise read the file in the ANSI code page. The same
//! choice is made here, with one difference: with no mark the file is read as UTF-8,
//! line by line, and a line whose bytes are not UTF-8 (a legacy 8-bit code page,
//! whichever it is) keeps its original bytes. Its text, for lookups, is the lossy
//! decoding (each undecodable sequence becomes U+FFFD): the code page is not known,
//! and guessing one would turn a file name into a different file name. Lines that
//! are rewritten or added are written in UTF-8; in a file that is otherwise ASCII or
//! a legacy code page this changes nothing for ASCII text, and text beyond ASCII is
//! read back exactly by this reader (a Windows program would see it in its own code
//! page).
//!
//! UTF-16 files (what `WritePrivateProfileString` writes once a file holds Unicode)
//! are written back in UTF-16 with their mark, in their own byte order. A UTF-16 line
//! that does not decode (an unpaired surrogate) keeps its original code units too.
//! UTF-16 without a mark, which Windows recognises by a statistical guess, is not
//! recognised: it reads as lines without entries (and is written back unchanged).

/// The encoding a document was read in, and is written back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark (also what an empty or ASCII file is).
    #[default]
    Utf8,
    /// UTF-8 with a byte-order mark, kept when written.
    Utf8Bom,
    /// UTF-16, little-endian, with a byte-order mark (what Windows writes).
    Utf16Le,
    /// UTF-16, big-endian, with a byte-order mark.
    Utf16Be,
    /// No mark, and some lines are not UTF-8: an 8-bit code page. Such lines are
    /// kept byte for byte; new lines are written in UTF-8.
    Legacy8Bit,
}

/// How a line ends in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Ending {
    /// The last line of a file without a final line break.
    None,
    #[default]
    Lf,
    CrLf,
}

/// One line as read: its text, and its exact encoded content when encoding the text
/// again would not give it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawLine {
    pub text: String,
    pub original: Option<Box<[u8]>>,
    pub ending: Ending,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits `bytes` into lines, detecting the encoding from the byte-order mark.
pub(crate) fn decode(bytes: &[u8]) -> (TextEncoding, Vec<RawLine>) {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        (TextEncoding::Utf8Bom, decode_8bit(rest).0)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        (TextEncoding::Utf16Le, decode_16bit(rest, u16::from_le_bytes))
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        (TextEncoding::Utf16Be, decode_16bit(rest, u16::from_be_bytes))
    } else {
        let (lines, all_utf8) = decode_8bit(bytes);
        (if all_utf8 { TextEncoding::Utf8 } else { TextEncoding::Legacy8Bit }, lines)
    }
}

fn decode_8bit(bytes: &[u8]) -> (Vec<RawLine>, bool) {
    let mut lines = Vec::new();
    let mut all_utf8 = true;
    let mut rest = bytes;
    while !rest.is_empty() {
        let (content, ending, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(at) => match rest[..at].strip_suffix(b"\r") {
                Some(content) => (content, Ending::CrLf, &rest[at + 1..]),
                None => (&rest[..at], Ending::Lf, &rest[at + 1..]),
            },
            None => (rest, Ending::None, &rest[rest.len()..]),
        };
        let line = match std::str::from_utf8(content) {
            Ok(text) => RawLine { text: text.to_string(), original: None, ending },
            Err(_) => {
                all_utf8 = false;
                RawLine {
                    text: String::from_utf8_lossy(content).into_owned(),
                    original: Some(content.into()),
                    ending,
                }
            }
        };
        lines.push(line);
        rest = next;
    }
    (lines, all_utf8)
}

fn decode_16bit(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Vec<RawLine> {
    const LF: u16 = b'\n' as u16;
    const CR: u16 = b'\r' as u16;
    let pairs = bytes.chunks_exact(2);
    let odd = pairs.remainder();
    let units: Vec<u16> = pairs.map(|p| unit([p[0], p[1]])).collect();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < units.len() {
        let rest = &units[start..];
        let (content_len, ending, consumed) = match rest.iter().position(|&u| u == LF) {
            Some(at) if at > 0 && rest[at - 1] == CR => (at - 1, Ending::CrLf, at + 1),
            Some(at) => (at, Ending::Lf, at + 1),
            None => (rest.len(), Ending::None, rest.len()),
        };
        let content = &rest[..content_len];
        let line = match String::from_utf16(content) {
            Ok(text) => RawLine { text, original: None, ending },
            Err(_) => RawLine {
                text: String::from_utf16_lossy(content),
                original: Some(bytes[2 * start..2 * (start + content_len)].into()),
                ending,
            },
        };
        lines.push(line);
        start += consumed;
    }
    // A stray final byte (not a whole code unit) stays at the end of the file.
    if let [byte] = odd {
        match lines.last_mut() {
            Some(last) if last.ending == Ending::None => {
                let mut original = match last.original.take() {
                    Some(o) => o.into_vec(),
                    None => bytes[bytes.len() - 1 - 2 * last.text.encode_utf16().count()..bytes.len() - 1]
                        .to_vec(),
                };
                original.push(*byte);
                last.original = Some(original.into());
            }
            _ => lines.push(RawLine {
                text: String::from('\u{FFFD}'),
                original: Some(Box::new([*byte])),
                ending: Ending::None,
            }),
        }
    }
    lines
}

/// Appends the byte-order mark of `encoding` (if it has one) to `out`.
pub(crate) fn encode_mark(encoding: TextEncoding, out: &mut Vec<u8>) {
    match encoding {
        TextEncoding::Utf8 | TextEncoding::Legacy8Bit => {}
        TextEncoding::Utf8Bom => out.extend_from_slice(UTF8_BOM),
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => encode_text(encoding, "\u{FEFF}", out),
    }
}

/// Appends `text` in `encoding` to `out`.
pub(crate) fn encode_text(encoding: TextEncoding, text: &str, out: &mut Vec<u8>) {
    match encoding {
        TextEncoding::Utf8 | TextEncoding::Utf8Bom | TextEncoding::Legacy8Bit => {
            out.extend_from_slice(text.as_bytes())
        }
        TextEncoding::Utf16Le => out.extend(text.encode_utf16().flat_map(u16::to_le_bytes)),
        TextEncoding::Utf16Be => out.extend(text.encode_utf16().flat_map(u16::to_be_bytes)),
    }
}

/// Appends one line (content then line ending) to `out`.
pub(crate) fn encode_line(encoding: TextEncoding, line: &RawLine, out: &mut Vec<u8>) {
    match &line.original {
        Some(bytes) => out.extend_from_slice(bytes),
        None => encode_text(encoding, &line.text, out),
    }
    encode_text(encoding, line.ending.as_str(), out);
}

impl Ending {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Ending::None => "",
            Ending::Lf => "\n",
            Ending::CrLf => "\r\n",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> (TextEncoding, Vec<u8>) {
        let (encoding, lines) = decode(bytes);
        let mut out = Vec::new();
        encode_mark(encoding, &mut out);
        for line in &lines {
            encode_line(encoding, line, &mut out);
        }
        (encoding, out)
    }

    #[test]
    fn every_input_is_written_back_as_read() {
        let cases: [(&[u8], TextEncoding); 9] = [
            (b"", TextEncoding::Utf8),
            (b"a\r\nb\nc", TextEncoding::Utf8),
            (b"a\r", TextEncoding::Utf8),
            (b"\xEF\xBB\xBFa\n", TextEncoding::Utf8Bom),
            (b"x=caf\xE9\r\n\xFF\n", TextEncoding::Legacy8Bit),
            (b"\xFF\xFEa\0\r\0\n\0b\0", TextEncoding::Utf16Le),
            (b"\xFE\xFF\0a\0\n", TextEncoding::Utf16Be),
            // An unpaired surrogate, then a stray final byte.
            (b"\xFF\xFEa\0\x00\xD8\n\0b\0Z", TextEncoding::Utf16Le),
            (b"\xFF\xFEa\0\n\0Z", TextEncoding::Utf16Le),
        ];
        for (bytes, encoding) in cases {
            assert_eq!(round_trip(bytes), (encoding, bytes.to_vec()), "{bytes:?}");
        }
    }

    #[test]
    fn lines_carry_text_and_ending() {
        let (_, lines) = decode(b"\xFF\xFEk\0=\0\xE9\0\r\0\n\0");
        assert_eq!(lines, [RawLine { text: "k=\u{e9}".into(), original: None, ending: Ending::CrLf }]);
        let (_, lines) = decode(b"k=\xE9");
        assert_eq!(lines[0].text, "k=\u{FFFD}");
        assert_eq!(lines[0].ending, Ending::None);
    }
}
