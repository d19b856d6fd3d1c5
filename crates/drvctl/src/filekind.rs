//! What kind of binary a driver file is, so broken entries get a precise diagnosis
//! (a Windows DLL, or a library for another architecture) instead of a loader error.

use std::io::Read;
use std::path::Path;

/// The binary format of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// An ELF shared object for machine `e_machine`.
    Elf { machine: u16, bits: u8 },
    /// A Windows PE image (a DLL, `.acm`, `.drv`).
    Pe,
    /// Anything else.
    Other,
}

/// ELF `e_machine` of this build's target, where known.
pub fn host_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86" => Some(3),
        "arm" => Some(40),
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        "riscv64" => Some(243),
        "powerpc64" => Some(21),
        "s390x" => Some(22),
        "loongarch64" => Some(258),
        _ => None,
    }
}

/// A readable name for an ELF machine number.
pub fn machine_name(machine: u16) -> String {
    match machine {
        3 => "x86".into(),
        40 => "arm".into(),
        62 => "x86-64".into(),
        183 => "aarch64".into(),
        243 => "riscv".into(),
        21 => "powerpc64".into(),
        22 => "s390x".into(),
        258 => "loongarch".into(),
        other => format!("machine {other}"),
    }
}

/// Reads the first bytes of `path`. Anything but a regular file is [`FileKind::Other`];
/// it is opened without blocking, since opening a FIFO for reading waits for a writer.
pub fn inspect(path: &Path) -> std::io::Result<FileKind> {
    let mut head = [0u8; 20];
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let mut file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Ok(FileKind::Other);
    }
    let n = file.read(&mut head)?;
    let head = &head[..n];
    if head.len() >= 20 && head.starts_with(b"\x7fELF") {
        let machine = match head[5] {
            2 => u16::from_be_bytes([head[18], head[19]]),
            _ => u16::from_le_bytes([head[18], head[19]]),
        };
        let bits = if head[4] == 2 { 64 } else { 32 };
        return Ok(FileKind::Elf { machine, bits });
    }
    if head.starts_with(b"MZ") {
        return Ok(FileKind::Pe);
    }
    Ok(FileKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let dir = tempfile::tempdir().unwrap();
        let pe = dir.path().join("a.dll");
        std::fs::write(&pe, b"MZ\x90\x00rest").unwrap();
        assert_eq!(inspect(&pe).unwrap(), FileKind::Pe);
        let text = dir.path().join("t");
        std::fs::write(&text, b"hello").unwrap();
        assert_eq!(inspect(&text).unwrap(), FileKind::Other);
        let me = std::env::current_exe().unwrap();
        match inspect(&me).unwrap() {
            FileKind::Elf { machine, .. } => assert_eq!(Some(machine), host_machine()),
            other => panic!("the test binary is {other:?}"),
        }
        assert_eq!(machine_name(62), "x86-64");
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_not_libraries_and_do_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.so");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(inspect(&fifo).map_err(|e| e.to_string()));
        });
        let kind = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("inspecting a fifo blocked");
        assert_eq!(kind, Ok(FileKind::Other));
        assert_eq!(inspect(dir.path()).map_err(|e| e.to_string()), Ok(FileKind::Other));
    }
}
