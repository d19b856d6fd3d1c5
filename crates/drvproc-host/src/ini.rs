//! A lossless `system.ini`-format document: sections, `key=value` entries, `;`
//! comments, kept line for line so that an edit rewrites only the lines it changes.
//!
//! Written by hand because the INI crates (rust-ini among them) drop comments and
//! formatting when they write a file back, and `drvctl install` must not destroy a
//! user's or Wine's hand-kept configuration.
//!
//! Lookups follow `GetPrivateProfileString`: section and key names are
//! case-insensitive, surrounding blanks are trimmed, and when a key appears more than
//! once the first occurrence (in file order, across repeated sections) wins.

use std::fmt;

/// One line of the document, with its original text for faithful rewriting.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    /// Blank or comment (`;` or `#`): kept verbatim, never interpreted.
    Other(String),
    /// `[name]`, with the name trimmed.
    Section { raw: String, name: String },
    /// `key=value`, both trimmed.
    Entry { raw: String, key: String, value: String },
}

/// A line the parser cannot make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}: {text:?}")]
pub struct IniSyntaxError {
    /// 1-based line number.
    pub line: usize,
    /// The offending line as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniDocument {
    lines: Vec<Line>,
    /// Line ending of the source (`\r\n` for files Windows or Wine wrote).
    newline: &'static str,
    bom: bool,
    /// Whether the source ended with a line ending.
    trailing_newline: bool,
}

impl Default for IniDocument {
    fn default() -> Self {
        IniDocument { lines: Vec::new(), newline: "\n", bom: false, trailing_newline: true }
    }
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl IniDocument {
    /// Parses `text`. Blank lines and comments may appear anywhere; every other line
    /// must be a `[section]` header or a `key=value` entry inside a section.
    pub fn parse(text: &str) -> Result<Self, IniSyntaxError> {
        let (bom, text) = match text.strip_prefix('\u{FEFF}') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let trailing_newline = text.is_empty() || text.ends_with('\n');
        let mut lines = Vec::new();
        let mut in_section = false;
        for (i, raw) in text.lines().enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let t = raw.trim();
            let err = |reason| IniSyntaxError { line: i + 1, text: raw.to_string(), reason };
            let line = if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
                Line::Other(raw.to_string())
            } else if let Some(rest) = t.strip_prefix('[') {
                let name = rest.strip_suffix(']').ok_or_else(|| err("section header without ']'"))?.trim();
                if name.is_empty() {
                    return Err(err("empty section name"));
                }
                in_section = true;
                Line::Section { raw: raw.to_string(), name: name.to_string() }
            } else {
                let (key, value) = t.split_once('=').ok_or_else(|| err("expected key=value"))?;
                if key.trim().is_empty() {
                    return Err(err("entry without a key"));
                }
                if !in_section {
                    return Err(err("entry outside any [section]"));
                }
                Line::Entry {
                    raw: raw.to_string(),
                    key: key.trim().to_string(),
                    value: value.trim().to_string(),
                }
            };
            lines.push(line);
        }
        Ok(IniDocument { lines, newline, bom, trailing_newline })
    }

    /// Names of the sections, in file order, each once (first spelling kept).
    pub fn sections(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for line in &self.lines {
            if let Line::Section { name, .. } = line
                && !out.iter().any(|s| eq_ci(s, name))
            {
                out.push(name);
            }
        }
        out
    }

    /// Whether a section of that name exists.
    pub fn has_section(&self, section: &str) -> bool {
        self.sections().iter().any(|s| eq_ci(s, section))
    }

    /// Entries of `section` in file order, as `(key, value)`; a repeated key is listed
    /// once, with its first value.
    pub fn entries(&self, section: &str) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        let mut current: Option<&str> = None;
        for line in &self.lines {
            match line {
                Line::Section { name, .. } => current = Some(name),
                Line::Entry { key, value, .. }
                    if current.is_some_and(|c| eq_ci(c, section))
                        && !out.iter().any(|(k, _)| eq_ci(k, key)) =>
                {
                    out.push((key, value));
                }
                _ => {}
            }
        }
        out
    }

    /// The value of `key` in `section` (first occurrence wins).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries(section).into_iter().find(|(k, _)| eq_ci(k, key)).map(|(_, v)| v)
    }

    /// Sets `key` in `section`: rewrites the first existing entry in place (dropping
    /// later duplicates, which lookups never saw), else appends it at the end of the
    /// section's first block, else appends a new section at the end of the document.
    /// Returns the previous value.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Option<String> {
        let previous = self.get(section, key).map(str::to_string);
        let raw = format!("{key}={value}");
        let entry = Line::Entry { raw, key: key.to_string(), value: value.to_string() };
        if previous.is_some() {
            let mut first = true;
            self.retain_entries(section, key, |line| {
                if std::mem::take(&mut first) {
                    *line = entry.clone();
                    true
                } else {
                    false
                }
            });
            return previous;
        }
        match self.section_block_end(section) {
            Some(at) => self.lines.insert(at, entry),
            None => {
                self.lines.push(Line::Section { raw: format!("[{section}]"), name: section.to_string() });
                self.lines.push(entry);
            }
        }
        None
    }

    /// Removes every entry of `key` in `section`; returns the value lookups saw.
    pub fn remove(&mut self, section: &str, key: &str) -> Option<String> {
        let previous = self.get(section, key).map(str::to_string);
        self.retain_entries(section, key, |_| false);
        previous
    }

    /// Keeps or rewrites each entry of `key` within `section`, in file order.
    fn retain_entries(&mut self, section: &str, key: &str, mut keep: impl FnMut(&mut Line) -> bool) {
        let mut current_matches = false;
        let mut out = Vec::with_capacity(self.lines.len());
        for mut line in self.lines.drain(..) {
            let is_target = match &line {
                Line::Section { name, .. } => {
                    current_matches = eq_ci(name, section);
                    false
                }
                Line::Entry { key: k, .. } => current_matches && eq_ci(k, key),
                Line::Other(_) => false,
            };
            if is_target && !keep(&mut line) {
                continue;
            }
            out.push(line);
        }
        self.lines = out;
    }

    /// Index just after the last entry of the first block of `section` (so trailing
    /// comments and blank lines stay between sections), if the section exists.
    fn section_block_end(&self, section: &str) -> Option<usize> {
        let start = self
            .lines
            .iter()
            .position(|l| matches!(l, Line::Section { name, .. } if eq_ci(name, section)))?;
        let mut end = start + 1;
        for (i, line) in self.lines.iter().enumerate().skip(start + 1) {
            match line {
                Line::Section { .. } => break,
                Line::Entry { .. } => end = i + 1,
                Line::Other(_) => {}
            }
        }
        Some(end)
    }
}

impl fmt::Display for IniDocument {
    /// Renders the document: untouched lines exactly as read, with the source's line
    /// endings, byte-order mark and final newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bom {
            f.write_str("\u{FEFF}")?;
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str(self.newline)?;
            }
            let raw = match line {
                Line::Other(raw) | Line::Section { raw, .. } | Line::Entry { raw, .. } => raw,
            };
            f.write_str(raw)?;
        }
        if !self.lines.is_empty() && self.trailing_newline {
            f.write_str(self.newline)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "; drivers\r\n[Drivers32]\r\nmsacm.a = a.acm  args here\r\n\r\n; mci\r\n[mci]\r\ncdaudio=mcicda.drv\r\n";

    #[test]
    fn parses_and_renders_losslessly() {
        let doc = IniDocument::parse(SAMPLE).unwrap();
        assert_eq!(doc.to_string(), SAMPLE);
        assert_eq!(doc.sections(), ["Drivers32", "mci"]);
        assert_eq!(doc.get("drivers32", "MSACM.A"), Some("a.acm  args here"));
        assert_eq!(doc.get("MCI", "cdaudio"), Some("mcicda.drv"));
        assert_eq!(doc.get("mci", "missing"), None);
    }

    #[test]
    fn first_duplicate_wins_across_repeated_sections() {
        let doc = IniDocument::parse("[s]\nk=1\nk=2\n[t]\nk=9\n[S]\nk=3\nj=4\n").unwrap();
        assert_eq!(doc.get("s", "k"), Some("1"));
        assert_eq!(doc.entries("s"), [("k", "1"), ("j", "4")]);
        assert_eq!(doc.sections(), ["s", "t"]);
    }

    #[test]
    fn set_rewrites_in_place_and_appends_in_section() {
        let mut doc = IniDocument::parse(SAMPLE).unwrap();
        assert_eq!(doc.set("DRIVERS32", "msacm.a", "b.acm"), Some("a.acm  args here".into()));
        assert_eq!(doc.set("drivers32", "new", "n.dll x"), None);
        assert_eq!(doc.set("extra", "k", "v"), None);
        assert_eq!(
            doc.to_string(),
            "; drivers\r\n[Drivers32]\r\nmsacm.a=b.acm\r\nnew=n.dll x\r\n\r\n; mci\r\n[mci]\r\ncdaudio=mcicda.drv\r\n[extra]\r\nk=v\r\n"
        );
    }

    #[test]
    fn remove_drops_every_duplicate() {
        let mut doc = IniDocument::parse("[s]\nk=1\n;c\nk=2\nj=3\n").unwrap();
        assert_eq!(doc.remove("S", "K"), Some("1".into()));
        assert_eq!(doc.to_string(), "[s]\n;c\nj=3\n");
        assert_eq!(doc.remove("s", "k"), None);
    }

    #[test]
    fn broken_lines_are_named() {
        let cases = [
            ("[s]\nok=1\nnot an entry\n", 3, "expected key=value"),
            ("[s\n", 1, "section header without ']'"),
            ("[ ]\n", 1, "empty section name"),
            ("[s]\n=v\n", 2, "entry without a key"),
            ("k=v\n[s]\n", 1, "entry outside any [section]"),
        ];
        for (text, line, reason) in cases {
            let err = IniDocument::parse(text).unwrap_err();
            assert_eq!((err.line, err.reason), (line, reason), "{text:?}");
        }
        let err = IniDocument::parse("[s]\nbad line\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: expected key=value: \"bad line\"");
    }

    #[test]
    fn bom_and_missing_final_newline_are_kept() {
        let text = "\u{FEFF}[s]\nk=v";
        let mut doc = IniDocument::parse(text).unwrap();
        assert_eq!(doc.to_string(), text);
        doc.set("s", "j", "w");
        assert_eq!(doc.to_string(), "\u{FEFF}[s]\nk=v\nj=w");
        assert_eq!(IniDocument::parse("").unwrap().to_string(), "");
    }
}
