//! The driver registry: a `system.ini`-format file mapping aliases to driver files,
//! per section (`[drivers32]`, `[mci]`, ...). It plays the part of the Windows
//! registry key `HKLM\...\CurrentVersion\<section>` and of `SYSTEM.INI`, and reads
//! Wine's own `drive_c/windows/system.ini` unchanged.
//!
//! Reads are cached and revalidated by the file's size, modification time and inode,
//! so opening by alias costs one `stat` when nothing changed. Writes take an exclusive
//! lock on a `<file>.lock` beside the file, re-read it, apply the change, write a
//! temporary file in the same directory and rename it over the original: concurrent
//! writers are serialised, readers never see a half-written file, and comments and
//! order survive (see [`IniDocument`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::ini::{IniDocument, IniSyntaxError};

/// The section drivers live in when none is named (Microsoft's `DRIVERS_SECTION`).
pub const DRIVERS32: &str = "Drivers32";

/// Errors reading or writing the registry file.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file exists but cannot be read, or cannot be written.
    #[error("{path}: {source}")]
    Io {
        /// The file (or its lock or temporary file).
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A line of the file is not INI syntax.
    #[error("{path}: {source}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Which line and why.
        source: IniSyntaxError,
    },
    /// An alias, section or value that cannot be written as an INI entry.
    #[error("invalid {what} {text:?}: {reason}")]
    Invalid {
        /// `alias`, `section` or `value`.
        what: &'static str,
        /// The rejected text.
        text: String,
        /// Why.
        reason: &'static str,
    },
}

type Stamp = (SystemTime, u64, u64);

/// How long after a modification a file's stamp is not trusted to identify it.
const RACY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// One registry file.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    cache: Mutex<Option<(Stamp, Arc<IniDocument>)>>,
}

impl Registry {
    /// A registry backed by `path` (which need not exist yet: it reads as empty).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Registry { path: path.into(), cache: Mutex::new(None) }
    }

    /// Where the configuration lives when no path is given: `$DRVPROC_CONFIG`, else
    /// `$XDG_CONFIG_HOME/drvproc/system.ini`, else `$HOME/.config/drvproc/system.ini`.
    ///
    /// `$DRVPROC_CONFIG` is used as given, like a `--config` argument. A relative
    /// `$XDG_CONFIG_HOME` or `$HOME` is ignored with a warning, as the XDG base
    /// directory specification asks: it would make the configuration (and its
    /// directory, where bare driver names are looked for) depend on the current
    /// directory.
    pub fn default_path() -> Option<PathBuf> {
        let non_empty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(p) = non_empty("DRVPROC_CONFIG") {
            return Some(p);
        }
        let absolute = |var: &str| {
            non_empty(var).filter(|p| {
                let ok = p.is_absolute();
                if !ok {
                    tracing::warn!("ignoring {var}={}: not an absolute path", p.display());
                }
                ok
            })
        };
        let config_home = absolute("XDG_CONFIG_HOME").or_else(|| absolute("HOME").map(|h| h.join(".config")));
        config_home.map(|c| c.join("drvproc").join("system.ini"))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file an entry's file part names, when it has a directory part: a relative
    /// one is relative to this registry file's directory, so an entry means the same
    /// file whatever directory the program reading it runs in. `None` for a bare file
    /// name, which is looked for in the search path (see
    /// [`DriverManager::open`](crate::DriverManager::open)). A registry given by a
    /// relative path is itself relative to the current directory, and so are its
    /// entries, through it.
    ///
    /// ```
    /// let registry = drvproc_host::Registry::new("/etc/drvproc/system.ini");
    /// assert_eq!(registry.entry_path("sub/x.so"), Some("/etc/drvproc/sub/x.so".into()));
    /// assert_eq!(registry.entry_path("/opt/x.so"), Some("/opt/x.so".into()));
    /// assert_eq!(registry.entry_path("x.so"), None);
    /// ```
    pub fn entry_path(&self, file: &str) -> Option<PathBuf> {
        if !crate::resolve::is_path(file) {
            return None;
        }
        Some(self.path.parent().map_or_else(|| PathBuf::from(file), |dir| dir.join(file)))
    }

    fn io_err(&self, path: &Path, source: std::io::Error) -> RegistryError {
        RegistryError::Io { path: path.to_path_buf(), source }
    }

    /// The current document (empty if the file does not exist).
    pub fn read(&self) -> Result<Arc<IniDocument>, RegistryError> {
        let stamp = match fs::metadata(&self.path) {
            Ok(meta) => stamp_of(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Arc::new(IniDocument::default()));
            }
            Err(e) => return Err(self.io_err(&self.path, e)),
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        // Timestamps are coarse (a few ms on common file systems): a file modified
        // within the last seconds may change again without its stamp changing, so it
        // is re-read rather than trusted (git's "racily clean" rule).
        let settled = SystemTime::now().duration_since(stamp.0).is_ok_and(|age| age > RACY_WINDOW);
        if let Some((cached, doc)) = cache.as_ref()
            && settled
            && *cached == stamp
        {
            return Ok(doc.clone());
        }
        let doc = Arc::new(self.parse_file()?);
        *cache = Some((stamp, doc.clone()));
        Ok(doc)
    }

    fn parse_file(&self) -> Result<IniDocument, RegistryError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IniDocument::default()),
            Err(e) => return Err(self.io_err(&self.path, e)),
        };
        // system.ini files written by Windows tools may be in a legacy code page;
        // undecodable bytes become U+FFFD rather than making the whole file unreadable.
        let text = String::from_utf8_lossy(&bytes);
        IniDocument::parse(&text).map_err(|source| RegistryError::Syntax { path: self.path.clone(), source })
    }

    /// The value of `alias` in `section`, e.g. `imaadp32.acm` for `msacm.imaadpcm`.
    pub fn lookup(&self, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        Ok(self.read()?.get(section, alias).map(str::to_string))
    }

    /// Writes `alias=value` into `section`; returns the previous value.
    pub fn set_entry(
        &self,
        section: &str,
        alias: &str,
        value: &str,
    ) -> Result<Option<String>, RegistryError> {
        check_name("section", section)?;
        check_name("alias", alias)?;
        check_value(value)?;
        self.update(|doc| doc.set(section, alias, value))
    }

    /// Removes `alias` from `section`; returns the value it had.
    pub fn remove_entry(&self, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        self.update(|doc| doc.remove(section, alias))
    }

    /// Applies `edit` to the current file under the write lock and replaces the file
    /// atomically. The file is not rewritten when the edit changes nothing.
    pub fn update<R>(&self, edit: impl FnOnce(&mut IniDocument) -> R) -> Result<R, RegistryError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| self.io_err(dir, e))?;
        }
        let lock_path = sidecar(&self.path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io_err(&lock_path, e))?;
        lock.lock().map_err(|e| self.io_err(&lock_path, e))?;
        let mut doc = self.parse_file()?;
        let before = doc.clone();
        let result = edit(&mut doc);
        if doc != before {
            self.replace_file(&doc.to_string())?;
        }
        // Dropping `lock` closes the file and releases the lock.
        drop(lock);
        Ok(result)
    }

    fn replace_file(&self, contents: &str) -> Result<(), RegistryError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = sidecar(&self.path, &format!(".tmp.{}.{n}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            if let Ok(meta) = fs::metadata(&self.path) {
                file.set_permissions(meta.permissions())?;
            }
            file.write_all(contents.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            self.io_err(&self.path, e)
        })
    }
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn stamp_of(meta: &fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), inode)
}

/// Section names and aliases become `[name]` headers and `name=` keys: they must
/// not be able to start another line, section or entry.
fn check_name(what: &'static str, text: &str) -> Result<(), RegistryError> {
    let invalid = |reason| Err(RegistryError::Invalid { what, text: text.to_string(), reason });
    if text.trim().is_empty() {
        return invalid("it is empty");
    }
    if text.trim() != text {
        return invalid("it has leading or trailing blanks");
    }
    if text.contains(['\n', '\r', '\0']) {
        return invalid("it contains a line break or NUL");
    }
    if text.contains(['=', '[', ']']) {
        return invalid("it contains '=', '[' or ']'");
    }
    if text.starts_with([';', '#']) {
        return invalid("it would read as a comment");
    }
    Ok(())
}

/// Values (`file args`) may hold `=` and brackets (INI splits at the first `=`), but
/// not a line break, which would inject lines into the file.
fn check_value(text: &str) -> Result<(), RegistryError> {
    let invalid = |reason| Err(RegistryError::Invalid { what: "value", text: text.to_string(), reason });
    if text.trim().is_empty() {
        return invalid("it is empty");
    }
    if text.contains(['\n', '\r', '\0']) {
        return invalid("it contains a line break or NUL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_validated() {
        for bad in ["", " a", "a\nb", "a=b", "[a", "a]", ";a", "a\r"] {
            assert!(check_name("alias", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("alias", "msacm.imaadpcm").is_ok());
        assert!(check_value("trace.so log=x [y]").is_ok());
        for bad in ["", "a\nb", "a\rb"] {
            assert!(check_value(bad).is_err(), "{bad:?}");
        }
        let err = check_name("alias", "a=b").unwrap_err();
        assert_eq!(err.to_string(), "invalid alias \"a=b\": it contains '=', '[' or ']'");
    }

    #[test]
    fn sidecars_sit_beside_the_file() {
        assert_eq!(sidecar(Path::new("/x/system.ini"), ".lock"), Path::new("/x/system.ini.lock"));
    }
}
