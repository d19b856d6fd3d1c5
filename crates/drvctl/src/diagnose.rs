//! What a driver file is, in words every command shares.
//!
//! A loader's refusal ("invalid ELF header", "file too short") says what it could
//! not do, not what the file is. This module looks instead: the file system says
//! whether something is there and what kind of thing it is; the headers, parsed
//! with the `object` crate and never loaded, say whether it is an ELF, PE or Mach-O
//! image, for which machine, and whether it exports `DriverProc`. `send`, `trace`,
//! `list`, `doctor`, `remove` (and anything else that fails to open a driver) word
//! the same file the same way, through [`file`] and [`explain_open_error`].

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use drvproc_host::{OpenError, is_path};
use object::read::elf::FileHeader as _;
use object::{Architecture, FileKind, Object, ObjectKind};

use crate::context::Ctx;

/// What is known about one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// Its object format, when it has one: "ELF 64-bit x86-64", "PE32+ x86-64 DLL".
    pub format: Option<String>,
    /// Whether it exports `DriverProc`; `None` when that cannot be read from it.
    pub driver_proc: Option<bool>,
    /// Why it cannot be a driver on this machine: a sentence whose subject is the
    /// file. `None` when the headers allow loading it (the loader may still fail,
    /// on a missing dependency say).
    pub problem: Option<String>,
    /// What to do about the problem.
    pub fix: Option<&'static str>,
}

const FIX_MISSING: &str = "install the driver file there, or fix the entry";
const FIX_REPLACE: &str = "replace it with the driver library, or fix the entry";
/// What to do about a library of another system.
const FIX_NATIVE: &str = if cfg!(windows) {
    "install the Windows build of the driver (a DLL)"
} else {
    "install a native build of the driver, or run it under Wine"
};
const FIX_ARCH: &str = "install the build of the driver for this machine's architecture";
/// What to do about a 32-bit DLL on 64-bit Windows.
const FIX_32_BIT: &str = "install the 64-bit (x64) build of the driver";
/// What to do about a library that is not a driver.
pub const FIX_NO_DRIVER_PROC: &str = "register the driver's own library, not a helper library";

impl Diagnosis {
    fn problem(problem: String, fix: &'static str) -> Diagnosis {
        Diagnosis { problem: Some(problem), fix: Some(fix), ..Diagnosis::default() }
    }
}

/// What to do about a library the loader refused although its headers are fine:
/// usually a library it depends on is missing.
pub fn fix_dependencies(shown: &str) -> String {
    if cfg!(windows) {
        format!("check that the DLLs {shown} depends on are installed, beside it or in the system directory")
    } else {
        format!("check the library's dependencies (ldd {shown})")
    }
}

/// The sentence for a library without `DriverProc`.
pub fn no_driver_proc(path: &str) -> String {
    format!("{path} exports no DriverProc: it is a shared library but not an installable driver")
}

/// Diagnoses the file at `path` without loading it. Nothing is opened but a
/// regular file, and that without blocking; only its headers are read.
pub fn file(path: &Path) -> Diagnosis {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return not_there(path, &e),
    };
    if !meta.is_file() {
        return Diagnosis::problem(
            format!("{shown} is {}, not a driver library", kind_of(&meta)),
            FIX_REPLACE,
        );
    }
    if meta.len() == 0 {
        return Diagnosis::problem(format!("{shown} is an empty file, not a driver library"), FIX_REPLACE);
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO swapped in after the check above must not block the open.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    match options.open(path) {
        Ok(f) => headers(&shown.to_string(), f),
        Err(e) => not_there(path, &e),
    }
}

/// Words for a path whose metadata or contents could not be read.
fn not_there(path: &Path, error: &std::io::Error) -> Diagnosis {
    let shown = path.display();
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Diagnosis::problem(
            format!("{:?} contains a NUL byte, which no file name can", path.to_string_lossy()),
            "fix the entry's file name",
        );
    }
    match error.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => match std::fs::read_link(path) {
            Ok(target) => Diagnosis::problem(
                format!("{shown} is a symbolic link to {}, which does not exist", target.display()),
                FIX_MISSING,
            ),
            Err(_) => Diagnosis::problem(format!("{shown} does not exist"), FIX_MISSING),
        },
        _ if is_loop(error) => Diagnosis::problem(
            format!("{shown} is a symbolic link loop (too many levels of symbolic links)"),
            "point the symbolic link at the driver library",
        ),
        ErrorKind::PermissionDenied => Diagnosis::problem(
            format!("{shown} cannot be read: permission denied"),
            "make it (and its directories) readable by the user running the program",
        ),
        ErrorKind::InvalidFilename => Diagnosis::problem(
            format!("{shown} is too long a file name for this system"),
            "fix the entry's file name",
        ),
        _ => {
            Diagnosis::problem(format!("{shown} cannot be read: {error}"), "check the file and its directory")
        }
    }
}

/// Whether the error is a symbolic link loop (`ELOOP`).
fn is_loop(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// A file type that is not a regular file, with its article.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// The object format this machine's loader takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Elf,
    Pe,
    MachO,
}

fn host_family() -> Family {
    if cfg!(windows) {
        Family::Pe
    } else if cfg!(target_vendor = "apple") {
        Family::MachO
    } else {
        Family::Elf
    }
}

/// This build's architecture as `object` names it.
fn host_architecture() -> Architecture {
    match std::env::consts::ARCH {
        "x86" => Architecture::I386,
        "x86_64" if cfg!(target_pointer_width = "32") => Architecture::X86_64_X32,
        "x86_64" => Architecture::X86_64,
        "arm" => Architecture::Arm,
        "aarch64" => Architecture::Aarch64,
        "riscv32" => Architecture::Riscv32,
        "riscv64" => Architecture::Riscv64,
        "powerpc" => Architecture::PowerPc,
        "powerpc64" => Architecture::PowerPc64,
        "s390x" => Architecture::S390x,
        "loongarch64" => Architecture::LoongArch64,
        "mips" => Architecture::Mips,
        "mips64" => Architecture::Mips64,
        "sparc64" => Architecture::Sparc64,
        _ => Architecture::Unknown,
    }
}

/// A readable architecture name.
fn arch_name(arch: Architecture) -> String {
    match arch {
        Architecture::I386 => "x86".into(),
        Architecture::X86_64 => "x86-64".into(),
        Architecture::X86_64_X32 => "x86-64 (x32)".into(),
        Architecture::Arm => "arm".into(),
        Architecture::Aarch64 => "aarch64".into(),
        Architecture::Aarch64_Ilp32 => "aarch64 (ilp32)".into(),
        Architecture::Riscv32 => "riscv32".into(),
        Architecture::Riscv64 => "riscv64".into(),
        Architecture::PowerPc => "powerpc".into(),
        Architecture::PowerPc64 => "powerpc64".into(),
        Architecture::S390x => "s390x".into(),
        Architecture::LoongArch64 => "loongarch64".into(),
        Architecture::Mips => "mips".into(),
        Architecture::Mips64 => "mips64".into(),
        Architecture::Sparc64 => "sparc64".into(),
        Architecture::Unknown => "an unknown machine".into(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// "this machine loads ELF shared libraries (64-bit, x86-64)".
fn host_words() -> String {
    let family = match host_family() {
        Family::Elf => "ELF shared libraries",
        Family::Pe => "Windows DLLs",
        Family::MachO => "Mach-O libraries",
    };
    let bits = if cfg!(target_pointer_width = "64") { 64 } else { 32 };
    format!("this machine loads {family} ({bits}-bit, {})", arch_name(host_architecture()))
}

/// Reads the headers of the regular file `f` (shown as `shown`).
fn headers(shown: &str, f: File) -> Diagnosis {
    let cache = object::ReadCache::new(f);
    let kind = match FileKind::parse(&cache) {
        Ok(kind) => kind,
        Err(_) => {
            let mz = object::ReadRef::read_bytes_at(&cache, 0, 2).is_ok_and(|b| b == b"MZ");
            let why = if mz {
                "it starts with \"MZ\" but has no PE header"
            } else {
                "it has no ELF, PE or Mach-O header"
            };
            return Diagnosis::problem(format!("{shown} is not a shared library ({why})"), FIX_REPLACE);
        }
    };
    let not_shared =
        |what: &str| Diagnosis::problem(format!("{shown} is {what}, not a shared library"), FIX_REPLACE);
    match kind {
        FileKind::Archive => return not_shared("a static library (ar archive)"),
        FileKind::Coff | FileKind::CoffBig | FileKind::CoffImport => {
            return not_shared("a Windows object file (COFF)");
        }
        FileKind::MachOFat32 | FileKind::MachOFat64 => {
            return Diagnosis::problem(
                format!("{shown} is a macOS universal binary (Mach-O); {}", host_words()),
                "install a build of the driver for this system",
            );
        }
        FileKind::DyldCache => return not_shared("a macOS shared cache"),
        _ => {}
    }
    let parsed = match object::File::parse(&cache) {
        Ok(parsed) => parsed,
        Err(e) => {
            let format = match kind {
                FileKind::Elf32 | FileKind::Elf64 => "ELF",
                FileKind::Pe32 | FileKind::Pe64 => "PE",
                _ => "Mach-O",
            };
            return Diagnosis::problem(format!("{shown} is a damaged {format} file ({e})"), FIX_REPLACE);
        }
    };
    describe(shown, &parsed)
}

fn describe<'data, R: object::ReadRef<'data>>(shown: &str, file: &object::File<'data, R>) -> Diagnosis {
    let arch = file.architecture();
    let bits = if file.is_64() { 64 } else { 32 };
    let (family, format, what) = match file {
        object::File::Elf32(_) | object::File::Elf64(_) => (
            Family::Elf,
            format!("ELF {bits}-bit {}", arch_name(arch)),
            if host_family() == Family::Pe {
                format!("a {bits}-bit ELF shared library for {} (a Linux or Unix library)", arch_name(arch))
            } else {
                format!("a {bits}-bit ELF shared library for {}", arch_name(arch))
            },
        ),
        object::File::Pe32(_) | object::File::Pe64(_) => {
            let (pe, dll) = match file {
                object::File::Pe32(f) => {
                    ("PE32", f.nt_headers().file_header.characteristics.get(object::LittleEndian))
                }
                object::File::Pe64(f) => {
                    ("PE32+", f.nt_headers().file_header.characteristics.get(object::LittleEndian))
                }
                _ => unreachable!(),
            };
            let image = if dll.0 & object::pe::IMAGE_FILE_DLL.0 != 0 { "DLL" } else { "program" };
            (
                Family::Pe,
                format!("{pe} {} {image}", arch_name(arch)),
                format!("a Windows {image} ({pe}, {})", arch_name(arch)),
            )
        }
        _ => (
            Family::MachO,
            format!("Mach-O {bits}-bit {}", arch_name(arch)),
            format!("a macOS library (Mach-O {bits}-bit, {})", arch_name(arch)),
        ),
    };
    let mut d = Diagnosis { format: Some(format), ..Diagnosis::default() };
    let foreign = family != host_family()
        || arch != host_architecture()
        || file.is_little_endian() != cfg!(target_endian = "little");
    // Windows on x86-64 runs 32-bit programs, but a 64-bit process loads no
    // 32-bit DLL.
    if family == Family::Pe
        && host_family() == Family::Pe
        && arch == Architecture::I386
        && host_architecture() == Architecture::X86_64
    {
        d.problem = Some(format!(
            "{shown} is a 32-bit {}, which only a 32-bit process can load; this drvctl is 64-bit",
            what.trim_start_matches("a ")
        ));
        d.fix = Some(FIX_32_BIT);
        return d;
    }
    if foreign {
        let fix = if family == host_family() { FIX_ARCH } else { FIX_NATIVE };
        d.problem = Some(format!("{shown} is {what}; {}", host_words()));
        d.fix = Some(fix);
        return d;
    }
    match file.kind() {
        ObjectKind::Dynamic => {}
        ObjectKind::Executable => {
            return Diagnosis {
                problem: Some(format!("{shown} is a program, not a shared library")),
                fix: Some(FIX_REPLACE),
                ..d
            };
        }
        ObjectKind::Relocatable => {
            return Diagnosis {
                problem: Some(format!("{shown} is an object file (.o), not a shared library")),
                fix: Some(FIX_REPLACE),
                ..d
            };
        }
        ObjectKind::Core => {
            return Diagnosis {
                problem: Some(format!("{shown} is a core dump, not a shared library")),
                fix: Some(FIX_REPLACE),
                ..d
            };
        }
        _ => {}
    }
    d.driver_proc = exports_driver_proc(file);
    if d.driver_proc == Some(false) {
        d.problem = Some(no_driver_proc(shown));
        d.fix = Some(FIX_NO_DRIVER_PROC);
    }
    d
}

/// Whether `DriverProc` is among the exports. `None` when the export table cannot be
/// read, or (ELF) when there is no section table to find the dynamic symbols by: a
/// stripped header does not mean no export.
fn exports_driver_proc<'data, R: object::ReadRef<'data>>(file: &object::File<'data, R>) -> Option<bool> {
    let no_sections = match file {
        object::File::Elf32(f) => f.elf_header().e_shoff(f.endian()) == 0,
        object::File::Elf64(f) => f.elf_header().e_shoff(f.endian()) == 0,
        _ => false,
    };
    if no_sections {
        return None;
    }
    let mut found = false;
    for export in file.exports().ok()? {
        if let object::NameOrOrdinal::Name(name) = export.ok()?.name() {
            found |= is_driver_proc(name);
        }
    }
    Some(found)
}

/// `DriverProc` as the formats spell it: plain, with Mach-O's underscore, or with
/// 32-bit Windows' stdcall decoration.
fn is_driver_proc(name: &[u8]) -> bool {
    let name = name.strip_prefix(b"_").unwrap_or(name);
    name == b"DriverProc" || name == b"DriverProc@20"
}

/// The loader's message without what the caller already says: libloading's
/// "dlopen failed: " and the file's own path in front.
pub fn loader_words<'m>(path: &str, message: &'m str) -> &'m str {
    let message = message.strip_prefix("dlopen failed: ").unwrap_or(message);
    message.strip_prefix(path).and_then(|m| m.strip_prefix(": ")).unwrap_or(message)
}

/// Where `open(target, section)` takes the driver file from, as far as it can be
/// known without loading: a path given, a file found in the search path, or the
/// file of the alias's entry. `None` for a name left to the system loader.
pub fn resolve(ctx: &Ctx, target: &str, section: Option<&str>) -> Option<PathBuf> {
    let manager = ctx.manager();
    if section.is_none() {
        if let Some(p) = manager.locate_file(target).filter(|p| std::fs::symlink_metadata(p).is_ok()) {
            return Some(p);
        }
        let (file, args) = drvproc_host::split_entry(target);
        if args.is_some()
            && let Some(p) = manager.locate_file(file).filter(|p| std::fs::symlink_metadata(p).is_ok())
        {
            return Some(p);
        }
    }
    let registry = manager.registry()?;
    let doc = registry.read().ok()?;
    let section = section.unwrap_or(drvproc_host::DRIVERS32);
    let sections: &[&str] =
        if section.eq_ignore_ascii_case("mci32") { &[section, "MCI"] } else { &[section] };
    let value = sections.iter().find_map(|s| doc.get(s, target));
    match value {
        Some(value) => {
            let file = drvproc_host::split_entry(value).0;
            registry.entry_path(file).or_else(|| manager.locate_file(file))
        }
        // No such alias: a path given that leads nowhere is diagnosed as a path.
        None if section_is_default(section) && is_path(target) => Some(PathBuf::from(target)),
        None => None,
    }
}

fn section_is_default(section: &str) -> bool {
    section.eq_ignore_ascii_case(drvproc_host::DRIVERS32)
}

/// The words for a failed `open(target, section)`: what the file is, when that is
/// why; the loader's own words (once, after the file's name) when the headers allow
/// loading it; the manager's message otherwise (an alias that is not there, a
/// refused `DRV_LOAD`).
///
/// Every command that opens a driver shows its failures through this function.
pub fn explain_open_error(ctx: &Ctx, target: &str, section: Option<&str>, error: &OpenError) -> String {
    let diagnosed = |path: &Path| file(path).problem;
    match error {
        OpenError::NotFound { .. } => {
            resolve(ctx, target, section).and_then(|p| diagnosed(&p)).unwrap_or_else(|| {
                // "no alias in [Drivers32] of X" reads as if X were there: say when it is not.
                match ctx.config.as_deref().filter(|c| !c.exists()) {
                    Some(config) => format!("{error}; the registry file {} does not exist", config.display()),
                    None => error.to_string(),
                }
            })
        }
        OpenError::NotLoadable { path, message } => diagnosed(Path::new(path))
            .filter(|_| is_path(path))
            .unwrap_or_else(|| format!("{path}: cannot load: {}", loader_words(path, message))),
        OpenError::NoDriverProc { path } => {
            diagnosed(Path::new(path)).filter(|_| is_path(path)).unwrap_or_else(|| no_driver_proc(path))
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_a_native_executable() {
        let me = std::env::current_exe().unwrap();
        let d = file(&me);
        let format = d.format.expect("an object file");
        assert!(format.starts_with(match host_family() {
            Family::Elf => "ELF",
            Family::Pe => "PE",
            Family::MachO => "Mach-O",
        }));
        // A position-independent executable is ET_DYN; either way it is not foreign.
        assert!(!d.problem.unwrap_or_default().contains("this machine loads"));
    }

    #[test]
    fn io_errors_have_their_own_words() {
        let p = Path::new("/srv/x.so");
        let words = |kind: ErrorKind| not_there(p, &std::io::Error::from(kind)).problem.unwrap();
        assert_eq!(words(ErrorKind::PermissionDenied), "/srv/x.so cannot be read: permission denied");
        assert_eq!(words(ErrorKind::NotFound), "/srv/x.so does not exist");
        #[cfg(unix)]
        assert_eq!(
            not_there(p, &std::io::Error::from_raw_os_error(libc::ELOOP)).problem.unwrap(),
            "/srv/x.so is a symbolic link loop (too many levels of symbolic links)"
        );
        let nul = not_there(Path::new("/a\0b"), &std::io::Error::from(ErrorKind::InvalidInput));
        assert_eq!(nul.problem.unwrap(), "\"/a\\0b\" contains a NUL byte, which no file name can");
    }

    #[test]
    fn driver_proc_in_every_spelling() {
        for name in ["DriverProc", "_DriverProc", "_DriverProc@20"] {
            assert!(is_driver_proc(name.as_bytes()), "{name}");
        }
        assert!(!is_driver_proc(b"DriverProcX"));
    }

    #[test]
    fn missing_dependencies_are_looked_for_with_the_systems_words() {
        let fix = fix_dependencies("x");
        if cfg!(windows) {
            assert_eq!(
                fix,
                "check that the DLLs x depends on are installed, beside it or in the system directory"
            );
        } else {
            assert_eq!(fix, "check the library's dependencies (ldd x)");
        }
    }

    #[test]
    fn loader_words_drop_what_is_already_said() {
        assert_eq!(loader_words("/x.so", "dlopen failed: /x.so: undefined symbol: f"), "undefined symbol: f");
        assert_eq!(loader_words("/x.so", "something else"), "something else");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_named_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.so");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(file(&fifo).problem);
        });
        let problem = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("diagnosing a fifo blocked");
        assert!(problem.unwrap().ends_with("fifo.so is a named pipe (FIFO), not a driver library"));
    }
}
