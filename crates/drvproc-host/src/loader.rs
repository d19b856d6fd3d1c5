//! The platform layer: mapping a driver library and finding its `DriverProc`.
//! Everything platform-specific about loading lives here.

use std::path::{Path, PathBuf};

use drvproc::DriverProc;

use crate::resolve::{Target, is_path};

/// A mapped driver library.
pub(crate) struct LoadedLibrary {
    pub(crate) library: libloading::Library,
    /// The platform's handle: the `dlopen` handle on Unix, the `HMODULE` on Windows.
    /// Identical for every load of the same file, so it identifies the module.
    pub(crate) raw_handle: usize,
    pub(crate) proc_: DriverProc,
}

/// Why a library cannot be used as a driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// There is no file to load: nothing at the path, or a bare name that is in
    /// none of the directories the platform loader searches. Decided from the
    /// loader's error code (Windows) and the file system, never from the loader's
    /// message, which it keeps when it was asked.
    #[error("not found{}", loader_said.as_ref().map_or(String::new(), |m| format!(": {m}")))]
    NotFound {
        /// What the platform loader said, when the name went to it.
        loader_said: Option<String>,
    },
    /// It exists but did not load.
    #[error("cannot load: {message}")]
    NotLoadable {
        /// The loader's message, or why the file was not handed to the loader
        /// (`not a regular file (fifo)`).
        message: String,
    },
    /// It loaded but exports no `DriverProc`.
    #[error("not a driver: no DriverProc export")]
    NoDriverProc,
}

/// Maps `file` the way [`DriverManager::open`](crate::DriverManager::open) maps a
/// driver — same loader flags, same refusals, same "not found" decision — checks
/// that it exports `DriverProc`, and unmaps it. No message is sent.
///
/// A `file` with a directory part is used as given; a bare file name goes to the
/// platform loader's own search (apply the manager's search path first with
/// [`DriverManager::locate_file`](crate::DriverManager::locate_file)). Tools that
/// report on drivers use this so they never call a driver fine that `open` refuses.
///
/// Mapping a library runs its initialisers, as opening it would: probe files you do
/// not trust in a child process.
pub fn probe_library(file: &Path) -> Result<(), LoadError> {
    let target = if is_path(&file.to_string_lossy()) {
        Target::Path(file.to_path_buf())
    } else {
        Target::System(file.to_string_lossy().into_owned())
    };
    load(&target).map(drop)
}

/// Maps `target` and resolves `DriverProc`.
///
/// A path is checked first: it must exist and be a regular file once symlinks are
/// followed. `dlopen` of a FIFO blocks until something writes to it, and of a
/// directory or device fails with a confusing message, so those are refused here.
/// (A file replaced between the check and the load is not caught; the check is
/// about mistakes, and whoever can swap files in a driver directory can plant a
/// driver anyway.)
pub(crate) fn load(target: &Target) -> Result<LoadedLibrary, LoadError> {
    let (file, lookup) = match target {
        Target::Path(p) => {
            regular_file(p)?;
            (p.as_os_str(), Lookup::Path)
        }
        Target::System(name) => (std::ffi::OsStr::new(name), Lookup::Search),
    };
    let (library, raw_handle) =
        open(file, lookup).map_err(|refusal| failure_in(target, refusal, &loader_dirs()))?;
    // SAFETY: `DriverProc` is declared by the driver ABI with exactly this signature;
    // a library exporting that name with another type breaks the ABI contract.
    let proc_ = unsafe { library.get::<DriverProc>(b"DriverProc\0") }.map(|s| *s);
    match proc_ {
        Ok(proc_) => Ok(LoadedLibrary { library, raw_handle, proc_ }),
        Err(_) => Err(LoadError::NoDriverProc),
    }
}

/// How the platform loader is to find a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    /// The name is a path: load that file (its dependencies may come from its directory).
    Path,
    /// A bare name: the loader's own search.
    Search,
}

/// Why the platform loader refused a file: its words, and on Windows its error
/// code (`dlopen` has none, only text).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Refusal {
    message: String,
    code: Option<u32>,
}

impl Refusal {
    /// Whether the loader's code allows "nothing there". On Windows a missing
    /// module and a missing *dependency* of a module that is there give the same
    /// code (`ERROR_MOD_NOT_FOUND`), so the code alone can only rule absence out;
    /// the file system decides the rest ([`failure_in`]).
    fn allows_absence(&self) -> bool {
        match self.code {
            None => true,
            // ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_INVALID_DRIVE,
            // ERROR_BAD_NETPATH, ERROR_BAD_NET_NAME, ERROR_MOD_NOT_FOUND,
            // ERROR_BAD_PATHNAME.
            Some(code) => matches!(code, 2 | 3 | 15 | 53 | 67 | 126 | 161),
        }
    }
}

/// Whether the file system has nothing at `path`: it, or a directory on the way to
/// it, does not exist. Other errors (no permission, say) mean something is there.
pub(crate) fn absent(path: &Path) -> bool {
    match kind_at(path) {
        Ok(_) => false,
        Err(e) => is_absence(&e),
    }
}

/// Whether a regular file is at `path` (links followed): [`Path::is_file`], at the
/// cost of one attribute lookup on Windows (see [`kind_at`]).
pub(crate) fn is_regular_file(path: &Path) -> bool {
    matches!(kind_at(path), Ok(Kind::File))
}

fn is_absence(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}

/// What is at a path, links followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    /// Anything else, in words.
    Other(&'static str),
}

#[cfg(not(windows))]
fn kind_at(path: &Path) -> std::io::Result<Kind> {
    kind_from_metadata(path)
}

/// What is at a path, from its metadata (links followed).
fn kind_from_metadata(path: &Path) -> std::io::Result<Kind> {
    let meta = std::fs::metadata(path)?;
    Ok(if meta.is_file() { Kind::File } else { Kind::Other(kind_of(&meta.file_type())) })
}

/// On Windows, from the attributes alone: `std::fs::metadata` opens the file and
/// asks for its volume too, which under Wine is a round trip to its device service
/// and was most of the cost of mapping a driver; the attributes are one lookup.
/// A reparse point (a symbolic link) is followed by `metadata`, as the loader would.
#[cfg(windows)]
fn kind_at(path: &Path) -> std::io::Result<Kind> {
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_ATTRIBUTE_DEVICE, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT, GetFileAttributesW,
        INVALID_FILE_ATTRIBUTES,
    };
    let wide = crate::wide::nul_terminated(path);
    // SAFETY: `wide` is a NUL-terminated UTF-16 string that lives across the call.
    let attributes = unsafe { GetFileAttributesW(wide.as_ptr()) };
    if attributes == INVALID_FILE_ATTRIBUTES {
        return Err(std::io::Error::last_os_error());
    }
    if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return kind_from_metadata(path);
    }
    Ok(if attributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
        Kind::Other("directory")
    } else if attributes & FILE_ATTRIBUTE_DEVICE != 0 {
        Kind::Other("device")
    } else {
        Kind::File
    })
}

/// Refuses what the loader must not be given: nothing, or anything but a regular file.
pub(crate) fn regular_file(path: &Path) -> Result<(), LoadError> {
    match kind_at(path) {
        Ok(Kind::File) => Ok(()),
        Ok(Kind::Other(kind)) => {
            Err(LoadError::NotLoadable { message: format!("not a regular file ({kind})") })
        }
        Err(e) if is_absence(&e) => Err(LoadError::NotFound { loader_said: None }),
        Err(e) => Err(LoadError::NotLoadable { message: e.to_string() }),
    }
}

/// A file type in words, for [`regular_file`]'s refusals.
fn kind_of(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "fifo";
        }
        if kind.is_socket() {
            return "socket";
        }
        if kind.is_char_device() {
            return "character device";
        }
        if kind.is_block_device() {
            return "block device";
        }
    }
    if kind.is_dir() { "directory" } else { "special file" }
}

/// Classifies a failed load of `target` as "not found" or "not loadable" from the
/// loader's error code where it has one (Windows) and the file system, never from
/// the loader's message: that text is translated (glibc's `dlerror` under
/// `setlocale`, Windows' system messages), and "No such file" or "module could not
/// be found" in it may be about a missing *dependency* of a file that is there.
///
/// A code other than one of the "not found" codes means something was found
/// ([`Refusal::allows_absence`]). Otherwise a path is not found when nothing is at
/// it (it can vanish after [`regular_file`]). A bare name went to the platform
/// loader's own search: it is not found when no file of that name is in `dirs`, the
/// directories that search is known to cover ([`loader_dirs`]). Anything else the
/// loader's search consults (`ld.so.cache` on glibc, for one) cannot be listed
/// cheaply, so a broken library found only there is reported as not found; either
/// way the error keeps the loader's message, which says what really happened.
fn failure_in(target: &Target, refusal: Refusal, dirs: &[PathBuf]) -> LoadError {
    let there = !refusal.allows_absence()
        || match target {
            Target::Path(p) => !absent(p),
            Target::System(name) => dirs.iter().any(|d| !absent(&d.join(name))),
        };
    if there {
        LoadError::NotLoadable { message: refusal.message }
    } else {
        LoadError::NotFound { loader_said: Some(refusal.message) }
    }
}

/// The directories the platform loader searches for a bare name, where they can be
/// listed: on glibc, exactly the list `dlopen` walks for the main program
/// (`LD_LIBRARY_PATH`, its run paths, the system directories), from
/// `dlinfo(RTLD_DI_SERINFO)`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn loader_dirs() -> Vec<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;

    /// glibc's `Dl_serpath`.
    #[repr(C)]
    struct SearchDir {
        name: *const libc::c_char,
        flags: libc::c_uint,
    }
    /// glibc's `Dl_serinfo`, whose array has `count` entries.
    #[repr(C)]
    struct SearchInfo {
        size: libc::size_t,
        count: libc::c_uint,
        dirs: [SearchDir; 1],
    }

    // SAFETY: dlopen(NULL) returns a handle to the main program (never NULL on
    // glibc), released by the dlclose below.
    let handle = unsafe { libc::dlopen(std::ptr::null(), libc::RTLD_LAZY) };
    if handle.is_null() {
        return Vec::new();
    }
    let mut sizes = SearchInfo { size: 0, count: 0, dirs: [SearchDir { name: std::ptr::null(), flags: 0 }] };
    // SAFETY: RTLD_DI_SERINFOSIZE writes `size` and `count` of the struct passed.
    let sized = unsafe { libc::dlinfo(handle, libc::RTLD_DI_SERINFOSIZE, (&raw mut sizes).cast()) } == 0;
    let mut dirs = Vec::new();
    if sized && sizes.size >= std::mem::size_of::<SearchInfo>() {
        // u64 words: the buffer holds pointers and must be aligned for them.
        let mut buffer = vec![0u64; sizes.size.div_ceil(8)];
        let info = buffer.as_mut_ptr().cast::<SearchInfo>();
        // SAFETY: `buffer` is `sizes.size` bytes or more and aligned for
        // `SearchInfo`; RTLD_DI_SERINFO reads `size` and `count` from it and fills
        // `count` entries, whose names point into the same buffer, which outlives
        // every read below.
        unsafe {
            (*info).size = sizes.size;
            (*info).count = sizes.count;
            if libc::dlinfo(handle, libc::RTLD_DI_SERINFO, info.cast()) == 0 {
                let first = (&raw const (*info).dirs).cast::<SearchDir>();
                for i in 0..(*info).count as usize {
                    let name = (*first.add(i)).name;
                    if !name.is_null() {
                        let bytes = CStr::from_ptr(name).to_bytes();
                        dirs.push(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)));
                    }
                }
            }
        }
    }
    // SAFETY: `handle` came from the dlopen above and is closed once.
    unsafe { libc::dlclose(handle) };
    dirs
}

/// On Windows: what `LOAD_LIBRARY_SEARCH_DEFAULT_DIRS` searches, the program's
/// directory and the system directory (plus directories added with `AddDllDirectory`,
/// which cannot be listed).
#[cfg(windows)]
fn loader_dirs() -> Vec<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
    let mut dirs = Vec::new();
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir);
    }
    let mut buffer = [0u16; 1024];
    // SAFETY: the buffer holds `buffer.len()` UTF-16 units; the call writes at most
    // that many and returns the length written (or the size needed, if larger).
    let len = unsafe { GetSystemDirectoryW(buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
    if len > 0 && len < buffer.len() {
        dirs.push(PathBuf::from(std::ffi::OsString::from_wide(&buffer[..len])));
    }
    dirs
}

/// Elsewhere: the variable the loader reads and its documented default directories.
#[cfg(not(any(windows, all(target_os = "linux", target_env = "gnu"))))]
fn loader_dirs() -> Vec<PathBuf> {
    let from_env = |var: &str| -> Vec<PathBuf> {
        std::env::var_os(var).map(|v| std::env::split_paths(&v).collect()).unwrap_or_default()
    };
    let mut dirs = Vec::new();
    if cfg!(target_os = "macos") {
        dirs.extend(from_env("DYLD_LIBRARY_PATH"));
        let fallback = from_env("DYLD_FALLBACK_LIBRARY_PATH");
        if fallback.is_empty() {
            dirs.extend(["/usr/local/lib", "/usr/lib"].map(PathBuf::from));
        } else {
            dirs.extend(fallback);
        }
    } else {
        dirs.extend(from_env("LD_LIBRARY_PATH"));
        dirs.extend(["/lib", "/usr/local/lib", "/usr/lib"].map(PathBuf::from));
    }
    dirs
}

#[cfg(unix)]
/// The loader's message with its causes (libloading puts `dlerror()`'s text in the
/// error's source, not in its own message).
fn describe(error: &libloading::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(unix)]
fn open(file: &std::ffi::OsStr, _lookup: Lookup) -> Result<(libloading::Library, usize), Refusal> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: mapping a driver runs its initialisers; loading the drivers named by
    // the configuration is what a driver manager is for (see the crate docs on trust).
    // RTLD_NOW reports missing symbols here instead of at some later call.
    let lib = unsafe { Library::open(Some(file), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| Refusal { message: describe(&e), code: None })?;
    let raw = lib.into_raw();
    // SAFETY: `raw` came from `into_raw` just above and is converted back once.
    let lib = unsafe { Library::from_raw(raw) };
    Ok((lib.into(), raw as usize))
}

/// Maps `file` with `LoadLibraryExW`, keeping the current directory (and `PATH`)
/// out of the search: a bare name is looked for where `LOAD_LIBRARY_SEARCH_DEFAULT_DIRS`
/// looks (the program's directory, the system directory where Windows and Wine keep
/// their codecs, and directories added with `AddDllDirectory`); a path is made
/// absolute (`LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR` requires a fully qualified name) and
/// its dependencies are also looked for beside it.
#[cfg(windows)]
fn open(file: &std::ffi::OsStr, lookup: Lookup) -> Result<(libloading::Library, usize), Refusal> {
    use windows_sys::Win32::Foundation::GetLastError;
    use windows_sys::Win32::System::Diagnostics::Debug::{SEM_FAILCRITICALERRORS, SetThreadErrorMode};
    use windows_sys::Win32::System::LibraryLoader::{
        LOAD_LIBRARY_SEARCH_DEFAULT_DIRS, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, LoadLibraryExW,
    };
    let (name, flags) = match lookup {
        Lookup::Path => {
            let full = std::path::absolute(file).map_or_else(|_| file.to_os_string(), |p| p.into_os_string());
            (full, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR)
        }
        Lookup::Search => (file.to_os_string(), LOAD_LIBRARY_SEARCH_DEFAULT_DIRS),
    };
    let wide = crate::wide::nul_terminated(&name);
    let mut previous_mode = 0;
    // SAFETY: SetThreadErrorMode writes the previous mode to the u32 passed. No
    // "insert a disk" dialog may stop a load that is not found.
    let mode_set = unsafe { SetThreadErrorMode(SEM_FAILCRITICALERRORS, &mut previous_mode) } != 0;
    // SAFETY: `wide` is NUL-terminated UTF-16 that lives across the call; mapping a
    // driver runs its initialisers, as on Unix.
    let module = unsafe { LoadLibraryExW(wide.as_ptr(), std::ptr::null_mut(), flags) };
    // SAFETY: reads this thread's last error, set by the failed call just above.
    let code = if module.is_null() { unsafe { GetLastError() } } else { 0 };
    if mode_set {
        // SAFETY: restores the mode read above; a null pointer asks for no old mode.
        unsafe { SetThreadErrorMode(previous_mode, std::ptr::null_mut()) };
    }
    if module.is_null() {
        let message = std::io::Error::from_raw_os_error(code as i32).to_string();
        return Err(Refusal { message, code: Some(code) });
    }
    // SAFETY: `module` is a module handle just returned by LoadLibraryExW, whose one
    // reference the `Library` now owns and releases with FreeLibrary when dropped.
    let lib = unsafe { libloading::os::windows::Library::from_raw(module as isize) };
    Ok((lib.into(), module as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text glibc's `dlerror` gives under a French locale for a missing file.
    const FRENCH: &str =
        "libabsent.so: impossible d'ouvrir le fichier objet partagé: Aucun fichier ou dossier de ce type";

    #[test]
    fn not_found_is_decided_by_the_file_system_not_by_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [dir.path().to_path_buf()];
        let absent = Target::System("libabsent.so".into());
        match failure_in(&absent, said(FRENCH), &dirs) {
            LoadError::NotFound { loader_said: Some(said) } => assert_eq!(said, FRENCH),
            other => panic!("{other:?}"),
        }
        // The file is there; the loader's "No such file" is about one of its dependencies.
        std::fs::write(dir.path().join("libpresent.so"), b"").unwrap();
        let dependency = "libdep.so: cannot open shared object file: No such file or directory";
        for present in
            [Target::System("libpresent.so".into()), Target::Path(dir.path().join("libpresent.so"))]
        {
            match failure_in(&present, said(dependency), &dirs) {
                LoadError::NotLoadable { message } => assert_eq!(message, dependency),
                other => panic!("{present:?}: {other:?}"),
            }
        }
        // A path that vanished between the check and the load is not found.
        let gone = Target::Path(dir.path().join("gone.so"));
        assert!(matches!(failure_in(&gone, said(FRENCH), &dirs), LoadError::NotFound { .. }));
    }

    /// A refusal with no code, as `dlopen` gives.
    fn said(message: &str) -> Refusal {
        Refusal { message: message.into(), code: None }
    }

    #[test]
    fn a_code_that_is_not_about_absence_means_something_was_found() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [dir.path().to_path_buf()];
        let refused = |code| Refusal { message: format!("code {code}"), code: Some(code) };
        for target in [Target::System("absent.dll".into()), Target::Path(dir.path().join("absent.dll"))] {
            // ERROR_BAD_EXE_FORMAT, ERROR_DLL_INIT_FAILED: found somewhere, refused.
            for code in [193, 1114] {
                assert_eq!(
                    failure_in(&target, refused(code), &dirs),
                    LoadError::NotLoadable { message: format!("code {code}") },
                    "{target:?}"
                );
            }
            // ERROR_MOD_NOT_FOUND, ERROR_FILE_NOT_FOUND with nothing there.
            for code in [126, 2] {
                assert_eq!(
                    failure_in(&target, refused(code), &dirs),
                    LoadError::NotFound { loader_said: Some(format!("code {code}")) },
                    "{target:?}"
                );
            }
        }
        // ERROR_MOD_NOT_FOUND for a file that is there: a dependency is missing.
        std::fs::write(dir.path().join("present.dll"), b"").unwrap();
        assert_eq!(
            failure_in(&Target::System("present.dll".into()), refused(126), &dirs),
            LoadError::NotLoadable { message: "code 126".into() }
        );
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_loaders_directories_hold_the_c_library() {
        let dirs = loader_dirs();
        assert!(dirs.iter().any(|d| d.join("libc.so.6").is_file()), "{dirs:?}");
        let libc = Target::System("libc.so.6".into());
        assert!(matches!(failure_in(&libc, said(FRENCH), &dirs), LoadError::NotLoadable { .. }));
    }
}
