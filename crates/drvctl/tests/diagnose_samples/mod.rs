//! Files that look like libraries of other systems, built byte by byte: the
//! headers a diagnosis reads, and nothing a loader could run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The headers of a Windows DLL with no sections: PE32 for x86 or PE32+ for x86-64.
pub fn pe_dll(plus: bool) -> Vec<u8> {
    let mut b = vec![0u8; 0x40];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    b.extend_from_slice(b"PE\0\0");
    let (machine, optional_size, characteristics, magic): (u16, u16, u16, u16) =
        if plus { (0x8664, 240, 0x2022, 0x20b) } else { (0x14c, 224, 0x2102, 0x10b) };
    b.extend_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(&[0; 14]); // no sections, no time stamp, no symbols
    b.extend_from_slice(&optional_size.to_le_bytes());
    b.extend_from_slice(&characteristics.to_le_bytes());
    let mut optional = vec![0u8; optional_size as usize];
    optional[..2].copy_from_slice(&magic.to_le_bytes());
    optional[32..36].copy_from_slice(&0x1000u32.to_le_bytes()); // section alignment
    optional[36..40].copy_from_slice(&0x200u32.to_le_bytes()); // file alignment
    optional[56..60].copy_from_slice(&0x1000u32.to_le_bytes()); // size of image
    optional[60..64].copy_from_slice(&0x200u32.to_le_bytes()); // size of headers
    let directories = if plus { 108 } else { 92 };
    optional[directories..directories + 4].copy_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&optional);
    b.resize(0x200, 0);
    b
}

/// The header of a little-endian ELF shared object (`ET_DYN`) for `machine`
/// (`e_machine`), without sections or segments.
pub fn elf_header(bits64: bool, machine: u16) -> Vec<u8> {
    let mut b = vec![0x7f, b'E', b'L', b'F', if bits64 { 2 } else { 1 }, 1, 1];
    b.resize(16, 0);
    b.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    b.extend_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    let word = if bits64 { 8 } else { 4 };
    b.extend_from_slice(&vec![0; 3 * word]); // entry, program and section header offsets
    b.extend_from_slice(&0u32.to_le_bytes()); // flags
    let (ehsize, phentsize, shentsize): (u16, u16, u16) = if bits64 { (64, 56, 64) } else { (52, 32, 40) };
    for v in [ehsize, phentsize, 0, shentsize, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(b.len(), ehsize as usize);
    b
}

/// Builds `lib<name>.so` in `dir` from C `source`, with the host's C compiler.
#[cfg(unix)]
pub fn c_library(dir: &Path, name: &str, source: &str) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    let so = dir.join(format!("lib{name}.so"));
    std::fs::write(&c, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .status()
        .unwrap_or_else(|e| panic!("this test needs a C compiler ({cc}): {e}"));
    assert!(status.success(), "{cc} failed on {}", c.display());
    so
}

/// A copy of the trace driver in `dir`, with `settings` in the settings file beside
/// it (`LOAD=0`, `ABORT=DRV_LOAD`, ...): each copy answers as its own file says.
pub fn trace_copy(dir: &Path, name: &str, settings: &str) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    let lib = sub.join(format!("{}drvtrace{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    std::fs::copy(crate::common::lib("drvtrace"), &lib).unwrap();
    std::fs::write(sub.join("drvtrace.env"), settings).unwrap();
    lib
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
pub fn fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}
