//! The platform layer: mapping a driver library and finding its `DriverProc`.
//! Everything platform-specific about loading lives here.

use std::path::Path;

use drvproc::DriverProc;

use crate::resolve::Target;

/// A mapped driver library.
pub(crate) struct LoadedLibrary {
    pub(crate) library: libloading::Library,
    /// The platform's handle: the `dlopen` handle on Unix, the `HMODULE` on Windows.
    /// Identical for every load of the same file, so it identifies the module.
    pub(crate) raw_handle: usize,
    pub(crate) proc_: DriverProc,
}

/// Why a library could not be used.
pub(crate) enum LoadFailure {
    /// The platform loader found no such file.
    NotFound,
    /// It exists but did not load.
    NotLoadable(String),
    /// It loaded but exports no `DriverProc`.
    NoDriverProc,
}

/// Maps `target` and resolves `DriverProc`.
pub(crate) fn load(target: &Target) -> Result<LoadedLibrary, LoadFailure> {
    let (library, raw_handle) = match target {
        Target::Path(p) => open(p.as_os_str())?,
        Target::System(name) => open(std::ffi::OsStr::new(name)).map_err(|e| match e {
            LoadFailure::NotLoadable(msg) if looks_not_found(&msg) => LoadFailure::NotFound,
            other => other,
        })?,
    };
    // SAFETY: `DriverProc` is declared by the driver ABI with exactly this signature;
    // a library exporting that name with another type breaks the ABI contract.
    let proc_ = unsafe { library.get::<DriverProc>(b"DriverProc\0") }.map(|s| *s);
    match proc_ {
        Ok(proc_) => Ok(LoadedLibrary { library, raw_handle, proc_ }),
        Err(_) => Err(LoadFailure::NoDriverProc),
    }
}

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

fn looks_not_found(message: &str) -> bool {
    message.contains("No such file") || message.contains("cannot find") || message.contains("not found")
}

#[cfg(unix)]
fn open(file: &std::ffi::OsStr) -> Result<(libloading::Library, usize), LoadFailure> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    if Path::new(file).is_dir() {
        return Err(LoadFailure::NotLoadable("is a directory".into()));
    }
    // SAFETY: mapping a driver runs its initialisers; loading the drivers named by
    // the configuration is what a driver manager is for (see the crate docs on trust).
    // RTLD_NOW reports missing symbols here instead of at some later call.
    let lib = unsafe { Library::open(Some(file), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| LoadFailure::NotLoadable(describe(&e)))?;
    let raw = lib.into_raw();
    // SAFETY: `raw` came from `into_raw` just above and is converted back once.
    let lib = unsafe { Library::from_raw(raw) };
    Ok((lib.into(), raw as usize))
}

#[cfg(windows)]
fn open(file: &std::ffi::OsStr) -> Result<(libloading::Library, usize), LoadFailure> {
    use libloading::os::windows::{
        LOAD_LIBRARY_SEARCH_DEFAULT_DIRS, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR, Library,
    };
    let _ = Path::new(file);
    // SAFETY: as on Unix. The flags keep the current directory out of the search.
    let lib = unsafe {
        Library::load_with_flags(file, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR)
    }
    .map_err(|e| LoadFailure::NotLoadable(describe(&e)))?;
    let raw = lib.into_raw();
    // SAFETY: `raw` came from `into_raw` just above and is converted back once.
    let lib = unsafe { Library::from_raw(raw) };
    Ok((lib.into(), raw as usize))
}
