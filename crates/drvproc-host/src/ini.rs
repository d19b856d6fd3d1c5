//! A lossless `system.ini`-format document: sections, `key=value` entries, `;`
//! comments, kept line for line so that an edit rewrites only the lines it changes.
//!
//! Written by hand because the INI crates (rust-ini among them) drop comments and
//! formatting when they write a file back, refuse lines Windows accepts, and read
//! only UTF-8; `drvctl install` must not destroy a user's or Wine's hand-kept
//! configuration, whatever its encoding (see [`TextEncoding`]).
//!
//! # Reading like `GetPrivateProfileString`
//!
//! Lookups follow the Windows profile functions: section and key names are
//! case-insensitive (ASCII), surrounding blanks are trimmed, and when a key appears
//! more than once the first occurrence (in file order, across repeated sections)
//! wins. Reading never fails. Lines Windows cannot use are skipped for lookups, kept
//! verbatim when the document is written back, and reported by
//! [`IniDocument::warnings`]:
//!
//! * a line without `=` (in any section, `[boot.description]` included) is not an
//!   entry;
//! * an entry with an empty key;
//! * an entry before the first section header, or after a header with an empty name
//!   (`[]`): Windows files these under a nameless section no lookup can name;
//! * a `[` line without any `]`: Windows does not take it for a header, so it does not
//!   open a section and the entries after it stay in the section before it;
//! * a header with text after its last `]`: the name is what lies between `[` and
//!   that `]` (as on Windows), and the rest is ignored (a `;` or `#` comment there is
//!   not reported).
//!
//! Blank lines and lines starting with `;` or `#` are comments.
//!
//! # Cost
//!
//! Parsing builds an index (section, then key, both case-folded, to the line of the
//! first occurrence), so [`get`](IniDocument::get) is a hash lookup and
//! [`entries`](IniDocument::entries) is linear in the section's size, however large
//! the section. An edit rebuilds the index: linear in the document.

use std::collections::HashMap;
use std::fmt;

pub use crate::text_encoding::TextEncoding;
use crate::text_encoding::{self as enc, Ending, RawLine};

/// What a line is, once read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// Blank, comment, or a line lookups skip: kept verbatim, never interpreted.
    Other,
    /// `[name]`, with the name trimmed; an empty name starts a section no lookup
    /// can name.
    Section(String),
    /// `key=value`, both trimmed.
    Entry { key: String, value: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    raw: RawLine,
    kind: Kind,
}

/// Why a line was skipped or read only in part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IniWarningKind {
    /// Not blank, not a comment, not a header, and no `=`.
    NotAnEntry,
    /// `=value` with nothing before the `=`.
    EmptyKey,
    /// An entry before the first header, or under a header with an empty name.
    OutsideSection,
    /// A `[` line with no `]`: not a header; the section before it goes on.
    UnclosedHeader,
    /// `[]`: the entries after it, up to the next header, are in no section.
    EmptySectionName,
    /// Text after a header's `]` (other than a comment), ignored.
    TextAfterHeader,
    /// A header or entry whose bytes are not valid in the file's encoding; it is
    /// read with U+FFFD for them, and written back unchanged.
    Undecodable,
}

impl fmt::Display for IniWarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IniWarningKind::NotAnEntry => "not a key=value entry, skipped",
            IniWarningKind::EmptyKey => "entry without a key, skipped",
            IniWarningKind::OutsideSection => "entry outside any [section], skipped",
            IniWarningKind::UnclosedHeader => "section header without ']', skipped",
            IniWarningKind::EmptySectionName => "empty section name, its entries are skipped",
            IniWarningKind::TextAfterHeader => "text after the section header's ']', ignored",
            IniWarningKind::Undecodable => "not valid text in the file's encoding, read with U+FFFD",
        })
    }
}

/// A line the reader skipped or read only in part, as
/// `line 3: not a key=value entry, skipped: "foo"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniWarning {
    /// 1-based line number in the file as read.
    pub line: usize,
    /// The line as read (undecodable bytes as U+FFFD).
    pub text: String,
    /// What was done with it, and why.
    pub reason: IniWarningKind,
}

impl fmt::Display for IniWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {:?}", self.line, self.reason, self.text)
    }
}

/// Where each section's entries are: built from the lines after every change.
#[derive(Clone, Debug, Default)]
struct Index {
    /// Sections in order of first appearance.
    sections: Vec<SectionIndex>,
    /// Case-folded name → position in `sections`.
    by_name: HashMap<String, usize>,
    /// For each line, the position of its section plus one (0: none).
    owner: Vec<usize>,
}

#[derive(Clone, Debug)]
struct SectionIndex {
    /// The line of the first header, whose spelling names the section.
    header: usize,
    /// Lines of the first occurrence of each key, in file order.
    entries: Vec<usize>,
    /// Case-folded key → line of its first occurrence.
    by_key: HashMap<String, usize>,
}

/// A parsed document.
#[derive(Clone, Debug, Default)]
pub struct IniDocument {
    lines: Vec<Line>,
    encoding: TextEncoding,
    /// Line ending for new lines: CRLF when the source used it anywhere.
    newline: Ending,
    warnings: Vec<IniWarning>,
    index: Index,
}

impl PartialEq for IniDocument {
    /// Documents are equal when they would be written the same way.
    fn eq(&self, other: &Self) -> bool {
        self.lines == other.lines && self.encoding == other.encoding && self.newline == other.newline
    }
}

impl Eq for IniDocument {}

fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn classify(text: &str) -> (Kind, Option<IniWarningKind>) {
    let t = text.trim();
    if t.is_empty() || t.starts_with([';', '#']) {
        return (Kind::Other, None);
    }
    if let Some(rest) = t.strip_prefix('[') {
        let Some(close) = rest.rfind(']') else {
            return (Kind::Other, Some(IniWarningKind::UnclosedHeader));
        };
        let name = rest[..close].trim();
        let after = rest[close + 1..].trim();
        let warning = if name.is_empty() {
            Some(IniWarningKind::EmptySectionName)
        } else if !after.is_empty() && !after.starts_with([';', '#']) {
            Some(IniWarningKind::TextAfterHeader)
        } else {
            None
        };
        return (Kind::Section(name.to_string()), warning);
    }
    match t.split_once('=') {
        None => (Kind::Other, Some(IniWarningKind::NotAnEntry)),
        Some((key, _)) if key.trim().is_empty() => (Kind::Other, Some(IniWarningKind::EmptyKey)),
        Some((key, value)) => {
            (Kind::Entry { key: key.trim().to_string(), value: value.trim().to_string() }, None)
        }
    }
}

impl IniDocument {
    /// Parses `text` (a leading U+FEFF is kept as a UTF-8 byte-order mark). Never
    /// fails: see the module documentation for the lines it skips.
    pub fn parse(text: &str) -> Self {
        Self::from_bytes(text.as_bytes())
    }

    /// Parses a file's bytes, in the encoding its byte-order mark names (UTF-8
    /// without one; see [`TextEncoding`]). Never fails.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let (encoding, raw_lines) = enc::decode(bytes);
        let newline =
            if raw_lines.iter().any(|l| l.ending == Ending::CrLf) { Ending::CrLf } else { Ending::Lf };
        let mut warnings = Vec::new();
        let mut in_section = false;
        let mut lines = Vec::with_capacity(raw_lines.len());
        for (i, raw) in raw_lines.into_iter().enumerate() {
            let (kind, mut warning) = classify(&raw.text);
            match &kind {
                Kind::Section(name) => in_section = !name.is_empty(),
                Kind::Entry { .. } if !in_section => warning = Some(IniWarningKind::OutsideSection),
                _ => {}
            }
            if warning.is_none() && raw.original.is_some() && kind != Kind::Other {
                warning = Some(IniWarningKind::Undecodable);
            }
            if let Some(reason) = warning {
                warnings.push(IniWarning { line: i + 1, text: raw.text.clone(), reason });
            }
            lines.push(Line { raw, kind });
        }
        let mut doc = IniDocument { lines, encoding, newline, warnings, index: Index::default() };
        doc.reindex();
        doc
    }

    /// The document as it would be written to its file: in its own encoding, with its
    /// byte-order mark, line endings and final newline (or lack of one); every line
    /// not changed since it was read is byte for byte as it was.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.lines.is_empty() {
            enc::encode_mark(self.encoding, &mut out);
        }
        for line in &self.lines {
            enc::encode_line(self.encoding, &line.raw, &mut out);
        }
        out
    }

    /// The encoding the document was read in and is written in.
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// The lines the reader skipped or read only in part, in file order, with their
    /// line numbers in the source (edits since do not renumber them).
    pub fn warnings(&self) -> &[IniWarning] {
        &self.warnings
    }

    fn reindex(&mut self) {
        let mut index = Index { owner: Vec::with_capacity(self.lines.len()), ..Index::default() };
        let mut current = 0;
        for (i, line) in self.lines.iter().enumerate() {
            match &line.kind {
                Kind::Section(name) if name.is_empty() => current = 0,
                Kind::Section(name) => {
                    let next = index.sections.len();
                    let at = *index.by_name.entry(fold(name)).or_insert(next);
                    if at == next {
                        index.sections.push(SectionIndex {
                            header: i,
                            entries: Vec::new(),
                            by_key: HashMap::new(),
                        });
                    }
                    current = at + 1;
                }
                Kind::Entry { key, .. } if current > 0 => {
                    let section = &mut index.sections[current - 1];
                    if let std::collections::hash_map::Entry::Vacant(v) = section.by_key.entry(fold(key)) {
                        v.insert(i);
                        section.entries.push(i);
                    }
                }
                _ => {}
            }
            index.owner.push(current);
        }
        self.index = index;
    }

    fn section_index(&self, section: &str) -> Option<usize> {
        self.index.by_name.get(&fold(section)).copied()
    }

    fn entry_at(&self, line: usize) -> (&str, &str) {
        match &self.lines[line].kind {
            Kind::Entry { key, value } => (key, value),
            // The index points at entries only.
            _ => ("", ""),
        }
    }

    /// Names of the sections, in file order, each once (first spelling kept).
    pub fn sections(&self) -> Vec<&str> {
        self.index
            .sections
            .iter()
            .map(|s| match &self.lines[s.header].kind {
                Kind::Section(name) => name.as_str(),
                _ => "",
            })
            .collect()
    }

    /// Whether a section of that name exists.
    pub fn has_section(&self, section: &str) -> bool {
        self.section_index(section).is_some()
    }

    /// Entries of `section` in file order, as `(key, value)`; a repeated key is listed
    /// once, with its first value.
    pub fn entries(&self, section: &str) -> Vec<(&str, &str)> {
        self.section_index(section)
            .map(|s| self.index.sections[s].entries.iter().map(|&l| self.entry_at(l)).collect())
            .unwrap_or_default()
    }

    fn first_line_of(&self, section: &str, key: &str) -> Option<usize> {
        let s = self.section_index(section)?;
        self.index.sections[s].by_key.get(&fold(key)).copied()
    }

    /// The line (from 1, as in [`IniWarning::line`]) that gives `key` in `section`
    /// its value: the first occurrence, the one [`get`](Self::get) reads.
    pub fn line_of(&self, section: &str, key: &str) -> Option<usize> {
        self.first_line_of(section, key).map(|l| l + 1)
    }

    /// The value of `key` in `section` (first occurrence wins).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.first_line_of(section, key).map(|l| self.entry_at(l).1)
    }

    fn new_line(&self, text: String, kind: Kind) -> Line {
        Line { raw: RawLine { text, original: None, ending: self.newline }, kind }
    }

    /// Inserts `line` before `at`; at the end of a document without a final line
    /// break, the new last line goes without one too.
    fn insert_line(&mut self, at: usize, mut line: Line) {
        if at == self.lines.len()
            && let Some(last) = self.lines.last_mut()
            && last.raw.ending == Ending::None
        {
            last.raw.ending = self.newline;
            line.raw.ending = Ending::None;
        }
        self.lines.insert(at, line);
    }

    /// Sets `key` in `section`: rewrites the first existing entry in place (dropping
    /// later duplicates, which lookups never saw), else appends it at the end of the
    /// section's first block, else appends a new section at the end of the document.
    /// Returns the previous value.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Option<String> {
        let entry = Kind::Entry { key: key.to_string(), value: value.to_string() };
        let text = format!("{key}={value}");
        if let Some(first) = self.first_line_of(section, key) {
            let previous = self.entry_at(first).1.to_string();
            let line = &mut self.lines[first];
            line.raw.text = text;
            line.raw.original = None;
            line.kind = entry;
            self.drop_entries(first, key, Some(first));
            return Some(previous);
        }
        match self.section_index(section) {
            Some(s) => {
                let header = self.index.sections[s].header;
                let mut end = header + 1;
                for (i, line) in self.lines.iter().enumerate().skip(header + 1) {
                    match line.kind {
                        Kind::Section(_) => break,
                        Kind::Entry { .. } => end = i + 1,
                        Kind::Other => {}
                    }
                }
                let line = self.new_line(text, entry);
                self.insert_line(end, line);
            }
            None => {
                let header = self.new_line(format!("[{section}]"), Kind::Section(section.to_string()));
                self.insert_line(self.lines.len(), header);
                let line = self.new_line(text, entry);
                self.insert_line(self.lines.len(), line);
            }
        }
        self.reindex();
        None
    }

    /// Lays `entries` of `section` over the document, for a view of several sources
    /// that is never written back (the Windows registry key over `system.ini`): a
    /// key the section has takes the new value on the line of its first
    /// occurrence; the others follow in a `[section]` block appended at the end. No
    /// line moves, so line numbers and warnings stay the source's.
    pub(crate) fn overlay(&mut self, section: &str, entries: &[(String, String)]) {
        let mut appended = Vec::new();
        for (key, value) in entries {
            match self.first_line_of(section, key) {
                Some(first) => {
                    let line = &mut self.lines[first];
                    line.raw.text = format!("{key}={value}");
                    line.raw.original = None;
                    line.kind = Kind::Entry { key: key.clone(), value: value.clone() };
                }
                None => appended.push((key, value)),
            }
        }
        if appended.is_empty() {
            return;
        }
        let header = self.new_line(format!("[{section}]"), Kind::Section(section.to_string()));
        self.insert_line(self.lines.len(), header);
        for (key, value) in appended {
            let entry = Kind::Entry { key: key.clone(), value: value.clone() };
            let line = self.new_line(format!("{key}={value}"), entry);
            self.insert_line(self.lines.len(), line);
        }
        self.reindex();
    }

    /// Removes every entry of `key` in `section`; returns the value lookups saw.
    pub fn remove(&mut self, section: &str, key: &str) -> Option<String> {
        let first = self.first_line_of(section, key)?;
        let previous = self.entry_at(first).1.to_string();
        self.drop_entries(first, key, None);
        Some(previous)
    }

    /// Drops the entries of `key` in the section of line `like`, except line `keep`,
    /// and rebuilds the index.
    fn drop_entries(&mut self, like: usize, key: &str, keep: Option<usize>) {
        let owner = self.index.owner[like];
        let last_unterminated = self.lines.last().is_some_and(|l| l.raw.ending == Ending::None);
        let mut i = 0;
        let index = &self.index;
        self.lines.retain(|line| {
            let at = i;
            i += 1;
            let doomed = Some(at) != keep
                && index.owner[at] == owner
                && matches!(&line.kind, Kind::Entry { key: k, .. } if k.eq_ignore_ascii_case(key));
            !doomed
        });
        // A file without a final line break keeps lacking one.
        if last_unterminated && let Some(last) = self.lines.last_mut() {
            last.raw.ending = Ending::None;
        }
        self.reindex();
    }
}

impl fmt::Display for IniDocument {
    /// Renders the document as text: untouched lines as read (undecodable bytes as
    /// U+FFFD), with the source's line endings, byte-order mark and final newline.
    /// [`IniDocument::to_bytes`] is what is written to the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.encoding != TextEncoding::Utf8
            && self.encoding != TextEncoding::Legacy8Bit
            && !self.lines.is_empty()
        {
            f.write_str("\u{FEFF}")?;
        }
        for line in &self.lines {
            f.write_str(&line.raw.text)?;
            f.write_str(line.raw.ending.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "; drivers\r\n[Drivers32]\r\nmsacm.a = a.acm  args here\r\n\r\n; mci\r\n[mci]\r\ncdaudio=mcicda.drv\r\n";

    #[test]
    fn an_overlay_moves_no_line() {
        let mut doc = IniDocument::parse("[Drivers32]\na=a.so\nbad line\n[mci]\nx=x.so\n");
        let entries = [("A".to_string(), "key.so 1".to_string()), ("b".to_string(), "b.so".to_string())];
        doc.overlay("drivers32", &entries);
        doc.overlay("MCI32", &[("m".to_string(), "m.so".to_string())]);
        assert_eq!(doc.entries("Drivers32"), [("A", "key.so 1"), ("b", "b.so")]);
        assert_eq!(doc.get("mci32", "m"), Some("m.so"));
        assert_eq!((doc.line_of("Drivers32", "a"), doc.line_of("mci", "x")), (Some(2), Some(5)));
        assert_eq!(doc.warnings()[0].line, 3);
        assert_eq!(doc.sections(), ["Drivers32", "mci", "MCI32"]);
    }

    #[test]
    fn parses_and_renders_losslessly() {
        let doc = IniDocument::parse(SAMPLE);
        assert_eq!(doc.to_string(), SAMPLE);
        assert_eq!(doc.to_bytes(), SAMPLE.as_bytes());
        assert_eq!(doc.sections(), ["Drivers32", "mci"]);
        assert_eq!(doc.get("drivers32", "MSACM.A"), Some("a.acm  args here"));
        assert_eq!(doc.get("MCI", "cdaudio"), Some("mcicda.drv"));
        assert_eq!(doc.get("mci", "missing"), None);
        assert!(doc.warnings().is_empty());
    }

    #[test]
    fn first_duplicate_wins_across_repeated_sections() {
        let doc = IniDocument::parse("[s]\nk=1\nk=2\n[t]\nk=9\n[S]\nk=3\nj=4\n");
        assert_eq!(doc.get("s", "k"), Some("1"));
        assert_eq!(doc.entries("s"), [("k", "1"), ("j", "4")]);
        assert_eq!(doc.sections(), ["s", "t"]);
    }

    #[test]
    fn lines_are_found_by_section_and_key() {
        let doc = IniDocument::parse("; c\n[a]\nx=1\n[Drivers32]\r\n X = 2\nx=3\n");
        assert_eq!(doc.line_of("drivers32", "x"), Some(5));
        assert_eq!(doc.line_of("b", "x"), None);
        let utf16: Vec<u8> =
            "\u{FEFF}[s]\r\nbad\r\nk=v\r\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(IniDocument::from_bytes(&utf16).line_of("s", "k"), Some(3));
    }

    #[test]
    fn set_rewrites_in_place_and_appends_in_section() {
        let mut doc = IniDocument::parse(SAMPLE);
        assert_eq!(doc.set("DRIVERS32", "msacm.a", "b.acm"), Some("a.acm  args here".into()));
        assert_eq!(doc.set("drivers32", "new", "n.dll x"), None);
        assert_eq!(doc.set("extra", "k", "v"), None);
        assert_eq!(
            doc.to_string(),
            "; drivers\r\n[Drivers32]\r\nmsacm.a=b.acm\r\nnew=n.dll x\r\n\r\n; mci\r\n[mci]\r\ncdaudio=mcicda.drv\r\n[extra]\r\nk=v\r\n"
        );
        assert_eq!(doc.get("extra", "K"), Some("v"));
    }

    #[test]
    fn remove_drops_every_duplicate() {
        let mut doc = IniDocument::parse("[s]\nk=1\n;c\nk=2\nj=3\n");
        assert_eq!(doc.remove("S", "K"), Some("1".into()));
        assert_eq!(doc.to_string(), "[s]\n;c\nj=3\n");
        assert_eq!(doc.remove("s", "k"), None);
    }

    #[test]
    fn duplicates_in_other_sections_survive_set_and_remove() {
        let mut doc = IniDocument::parse("[s]\nk=1\n[t]\nk=9\n[s]\nk=2");
        doc.set("s", "k", "3");
        assert_eq!(doc.to_string(), "[s]\nk=3\n[t]\nk=9\n[s]");
        doc.remove("t", "k");
        assert_eq!(doc.to_string(), "[s]\nk=3\n[t]\n[s]");
    }

    #[test]
    fn unusable_lines_are_reported_and_kept() {
        let text = "x=1\n[s]\nno equals\n=v\n[t\nk=1\n[]\nh=2\n[u] junk\n[v] ; fine\n";
        let doc = IniDocument::parse(text);
        assert_eq!(doc.to_string(), text);
        let got: Vec<(usize, IniWarningKind)> = doc.warnings().iter().map(|w| (w.line, w.reason)).collect();
        assert_eq!(
            got,
            [
                (1, IniWarningKind::OutsideSection),
                (3, IniWarningKind::NotAnEntry),
                (4, IniWarningKind::EmptyKey),
                (5, IniWarningKind::UnclosedHeader),
                (7, IniWarningKind::EmptySectionName),
                (8, IniWarningKind::OutsideSection),
                (9, IniWarningKind::TextAfterHeader),
            ]
        );
        assert_eq!(doc.warnings()[1].to_string(), "line 3: not a key=value entry, skipped: \"no equals\"");
        assert_eq!(doc.entries("s"), [("k", "1")]);
        assert_eq!(doc.sections(), ["s", "u", "v"]);
    }

    #[test]
    fn bom_and_missing_final_newline_are_kept() {
        let text = "\u{FEFF}[s]\nk=v";
        let mut doc = IniDocument::parse(text);
        assert_eq!(doc.encoding(), TextEncoding::Utf8Bom);
        assert_eq!(doc.to_string(), text);
        doc.set("s", "j", "w");
        assert_eq!(doc.to_string(), "\u{FEFF}[s]\nk=v\nj=w");
        doc.remove("s", "j");
        assert_eq!(doc.to_string(), text);
        assert_eq!(IniDocument::parse("").to_string(), "");
        let mut empty = IniDocument::parse("");
        empty.set("s", "k", "v");
        assert_eq!(empty.to_bytes(), b"[s]\nk=v\n");
    }
}
