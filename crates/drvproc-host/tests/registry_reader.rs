//! Reading the registry as `GetPrivateProfileString` does: lines it cannot use are
//! skipped (and reported), every encoding Windows writes is read, and an edit leaves
//! every line it does not change byte for byte as it was.

use drvproc_host::{IniDocument, Registry};

fn registry_with(bytes: &[u8]) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, bytes).unwrap();
    (dir, Registry::new(path))
}

const TOLERATED: &str = "stray=before any section\r\n[boot.description]\r\nkeyboard.typ\r\n\
[drivers32]\r\nok=a.so\r\n  just words  \r\n=no key\r\n[broken\r\nafter=broken.so\r\n[]\r\nhidden=h.so\r\n\
[mci] ; the MCI drivers\r\ncd=cd.drv\r\n";

#[test]
fn unusable_lines_are_skipped_for_lookups() {
    let (_d, r) = registry_with(TOLERATED.as_bytes());
    assert_eq!(r.lookup("drivers32", "ok").unwrap().as_deref(), Some("a.so"));
    // A '[' line without ']' does not open a section (as on Windows): what follows
    // still belongs to [drivers32].
    assert_eq!(r.lookup("drivers32", "after").unwrap().as_deref(), Some("broken.so"));
    // Entries before any section, or under an empty name, belong to no section.
    assert_eq!(r.lookup("drivers32", "stray").unwrap(), None);
    assert_eq!(r.lookup("drivers32", "hidden").unwrap(), None);
    assert_eq!(r.lookup("mci", "cd").unwrap().as_deref(), Some("cd.drv"));
    let doc = r.read().unwrap();
    assert_eq!(doc.sections(), ["boot.description", "drivers32", "mci"]);
    assert_eq!(doc.entries("drivers32"), [("ok", "a.so"), ("after", "broken.so")]);
    assert_eq!(doc.entries("boot.description"), []);
}

#[test]
fn unusable_lines_survive_an_edit_verbatim() {
    let (_d, r) = registry_with(TOLERATED.as_bytes());
    r.set_entry("mci", "new", "n.drv").unwrap();
    r.set_entry("drivers32", "ok", "b.so").unwrap();
    let want = TOLERATED.replace("ok=a.so", "ok=b.so").replace("cd=cd.drv\r\n", "cd=cd.drv\r\nnew=n.drv\r\n");
    assert_eq!(std::fs::read_to_string(r.path()).unwrap(), want);
}

fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

#[test]
fn utf16le_with_bom_is_read_and_written_back_as_utf16le() {
    let text = "; système\r\n[drivers32]\r\nmsacm.imaadpcm=imaadp32.acm\r\nvidc.é=é.dll\r\n";
    let (_d, r) = registry_with(&utf16le(text));
    assert_eq!(r.lookup("Drivers32", "msacm.imaadpcm").unwrap().as_deref(), Some("imaadp32.acm"));
    assert_eq!(r.lookup("Drivers32", "vidc.é").unwrap().as_deref(), Some("é.dll"));
    r.set_entry("drivers32", "new", "n.so").unwrap();
    let want = format!("{text}new=n.so\r\n");
    assert_eq!(std::fs::read(r.path()).unwrap(), utf16le(&want));
}

#[test]
fn utf8_bom_is_kept() {
    let (_d, r) = registry_with("\u{FEFF}[drivers32]\na=a.so\n".as_bytes());
    assert_eq!(r.lookup("drivers32", "a").unwrap().as_deref(), Some("a.so"));
    r.set_entry("drivers32", "b", "b.so").unwrap();
    assert_eq!(std::fs::read(r.path()).unwrap(), "\u{FEFF}[drivers32]\na=a.so\nb=b.so\n".as_bytes());
}

#[test]
fn legacy_code_page_lines_are_kept_byte_for_byte() {
    // Windows-1252: "; Système" and a value "caf\xE9.drv".
    let mut bytes = b"; Syst\xE8me\r\n[drivers32]\r\nold=caf\xE9.drv\r\n[mci]\r\ncd=cd.drv\r\n".to_vec();
    let (_d, r) = registry_with(&bytes);
    // Lookups see undecodable bytes as U+FFFD.
    assert_eq!(r.lookup("drivers32", "old").unwrap().as_deref(), Some("caf\u{FFFD}.drv"));
    r.set_entry("drivers32", "new", "n.so").unwrap();
    let at = bytes.windows(7).position(|w| w == b"[mci]\r\n").unwrap();
    bytes.splice(at..at, b"new=n.so\r\n".iter().copied());
    assert_eq!(std::fs::read(r.path()).unwrap(), bytes);
}

#[test]
fn mixed_line_endings_are_kept_per_line() {
    let text = "[drivers32]\r\na=a.so\nb=b.so\r\n";
    let (_d, r) = registry_with(text.as_bytes());
    r.set_entry("drivers32", "a", "A.so").unwrap();
    assert_eq!(std::fs::read_to_string(r.path()).unwrap(), "[drivers32]\r\na=A.so\nb=b.so\r\n");
}

/// 160 000 entries in one section: with an index, parsing and looking every alias up
/// is linear (well under a second); a scan per lookup would take many minutes.
#[test]
fn a_huge_section_is_indexed() {
    const N: usize = 160_000;
    let mut text = String::from("[drivers32]\n");
    for i in 0..N {
        text.push_str(&format!("alias{i}=driver{i}.so\n"));
    }
    let doc = IniDocument::parse(&text);
    assert_eq!(doc.entries("DRIVERS32").len(), N);
    for i in (0..N).step_by(997) {
        assert_eq!(doc.get("drivers32", &format!("ALIAS{i}")), Some(format!("driver{i}.so").as_str()));
    }
}
