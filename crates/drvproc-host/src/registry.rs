//! The driver registry: a `system.ini`-format file mapping aliases to driver files,
//! per section (`[drivers32]`, `[mci]`, ...). It plays the part of the Windows
//! registry key `HKLM\...\CurrentVersion\<section>` and of `SYSTEM.INI`, and reads
//! Wine's own `drive_c/windows/system.ini` unchanged, in any encoding Windows writes
//! (see [`IniDocument`] for how lines are read and [`TextEncoding`](crate::TextEncoding) for encodings).
//!
//! Reads are cached and revalidated by the file's size, modification time, device
//! and inode (of the file a symbolic link names), so opening by alias costs one
//! `stat` when nothing changed.
//!
//! On Windows the default registry ([`Registry::default_registry`]) is Windows' own:
//! the key `HKLM\Software\Microsoft\Windows NT\CurrentVersion\<section>` (see
//! [`SystemKey`]), read first, then `%WINDIR%\system.ini`, as winmm reads them.
//!
//! Writes are transactions ([`Registry::edit`]): lock the file itself, re-read it,
//! create the temporary file that will replace it, let the caller look and change,
//! then write the temporary file and rename it over the original. A caller can so
//! check everything that could make the write fail (the lock, a read-only file, an
//! unwritable directory, an alias already taken) before acting on anything else,
//! such as a driver's `DRV_INSTALL`. Concurrent writers are serialised, readers never
//! see a half-written file, no lock file is left behind, and comments, order,
//! encoding and unusable lines survive. The locking argument is in `locked_file.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::ini::IniDocument;
use crate::locked_file::{Creation, LockedFile};
use crate::system_registry::SystemKey;

/// The section drivers live in when none is named (Microsoft's `DRIVERS_SECTION`).
pub const DRIVERS32: &str = "Drivers32";

/// The section of the registry file that marks aliases to be hosted in a process
/// other than the program's (`drvctl isolate ALIAS on [--group NAME]`): `ALIAS=1`
/// or `ALIAS=group:NAME`.
///
/// A section of its own, rather than a flag in the alias's value, so that Windows,
/// Wine and any other reader of `system.ini` see the driver entries unchanged and
/// ignore the section (winmm reads only the sections it asks for). A marker names
/// an alias, whatever section the alias is found in. It lives in the file only,
/// also where the aliases come from the Windows registry key. Its value
/// ([`Isolation::from_marker`]) is one of:
///
/// - `1`, `on`, `yes` or `true`, in any case: isolated ([`Isolation::Own`]), in a
///   host process of its own, or in the manager's host group when it has one
///   ([`ManagerOptions::host_group`](crate::ManagerOptions::host_group));
/// - `group:NAME` (`group:` in any case): isolated in the host group `NAME`
///   ([`Isolation::Group`]), whatever group the manager has: the aliases marked
///   with one group share one host process (of each width). `NAME` is taken
///   trimmed, must not be empty, and follows an alias's rules (no `=`, `[` or
///   `]`); it is matched exactly, case included, also against the manager's
///   group, so that a marker and the manager may name the same group;
/// - anything else: not isolated ([`Isolation::Off`]), as if there were no marker.
///
/// The marker is read when a driver file is loaded: a file already hosted for
/// another open is not moved (see [`Isolation::Group`]).
pub const ISOLATE_SECTION: &str = "drvproc.isolate";

/// What an alias's marker in [`ISOLATE_SECTION`] asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// No marker, or one that means neither of the others: the open's option and
    /// the manager's decide.
    #[default]
    Off,
    /// Hosted in a process other than the program's: one of its own, or the
    /// manager's host group's when it has one (marker `1`).
    Own,
    /// Hosted in the named host group's process (marker `group:NAME`), shared with
    /// the other files of that group of the same width.
    ///
    /// The group decides where a driver file's host is started. A file already
    /// hosted by the manager (opened through another alias, by its path, or under
    /// another group) keeps the host it has: one file is one hosted module, whose
    /// `DRV_LOAD` ran once, and it is not loaded a second time to follow a group.
    Group(String),
}

/// The prefix of a marker that names a host group.
const GROUP_PREFIX: &str = "group:";

impl Isolation {
    /// The isolation a marker's value asks for (see [`ISOLATE_SECTION`]); a
    /// `group:` marker whose name breaks the rules is [`Off`](Isolation::Off).
    pub fn from_marker(value: &str) -> Isolation {
        Self::parse_marker(value).unwrap_or_default()
    }

    /// [`from_marker`](Self::from_marker), with the reason a `group:` marker is
    /// not one.
    fn parse_marker(value: &str) -> Result<Isolation, RegistryError> {
        let value = value.trim();
        if ["1", "on", "yes", "true"].iter().any(|on| value.eq_ignore_ascii_case(on)) {
            return Ok(Isolation::Own);
        }
        match value.get(..GROUP_PREFIX.len()) {
            Some(prefix) if prefix.eq_ignore_ascii_case(GROUP_PREFIX) => {
                let name = value[GROUP_PREFIX.len()..].trim();
                check_name("host group", name)?;
                Ok(Isolation::Group(name.to_string()))
            }
            _ => Ok(Isolation::Off),
        }
    }

    /// The value written for it (`None`: no marker), after checking a group's name.
    fn marker(&self) -> Result<Option<String>, RegistryError> {
        match self {
            Isolation::Off => Ok(None),
            Isolation::Own => Ok(Some("1".to_string())),
            Isolation::Group(name) => {
                check_name("host group", name)?;
                Ok(Some(format!("{GROUP_PREFIX}{name}")))
            }
        }
    }

    /// Whether it asks for a host process ([`Own`](Isolation::Own) or a
    /// [`Group`](Isolation::Group)).
    pub fn is_on(&self) -> bool {
        !matches!(self, Isolation::Off)
    }

    /// The host group it names, if any.
    pub fn group(&self) -> Option<&str> {
        match self {
            Isolation::Group(name) => Some(name),
            _ => None,
        }
    }
}

/// The isolation the marker of `alias` in `doc` asks for.
fn marker_of(doc: &IniDocument, alias: &str) -> Isolation {
    doc.get(ISOLATE_SECTION, alias).map(Isolation::from_marker).unwrap_or_default()
}

/// Errors reading or writing the registry file, one line each.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file (or its directory) cannot be read, locked or written.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file does not exist (from [`Registry::read_existing`], or an edit that may
    /// not create it).
    #[error("no registry file at {path}{link}", path = path.display(), link = dangling(target.as_deref()))]
    Missing {
        /// Where it was looked for, made absolute.
        path: PathBuf,
        /// When `path` is a symbolic link: the missing file it names.
        target: Option<PathBuf>,
    },
    /// The file may not be written: no write permission, or a read-only file system.
    #[error("{path}: the file is read-only (no write permission); nothing was changed", path = path.display())]
    ReadOnly {
        /// The file (symbolic links followed).
        path: PathBuf,
    },
    /// The file is to be created, but its directory does not exist.
    #[error("cannot create {path}: the directory {dir} does not exist", path = path.display(), dir = dir.display())]
    NoDirectory {
        /// The missing directory.
        dir: PathBuf,
        /// The file that was to be created in it.
        path: PathBuf,
    },
    /// A file cannot be created in the file's directory.
    #[error("{dir}: cannot create {what} in this directory: {source}", dir = dir.display())]
    CannotCreate {
        /// The directory.
        dir: PathBuf,
        /// `a temporary file` or `the registry file`.
        what: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// An alias, section, value or host group name that cannot be written as an INI
    /// entry.
    #[error("invalid {what} {text:?}: {reason}")]
    Invalid {
        /// `alias`, `section`, `value` or `host group`.
        what: &'static str,
        /// The rejected text.
        text: String,
        /// Why.
        reason: &'static str,
    },
    /// The Windows registry refused to open, read or write a key.
    #[error("{key}: {source}{hint}")]
    Key {
        /// The key, as Windows tools spell it.
        key: String,
        /// What the system said.
        source: std::io::Error,
        /// What to do about it, when something can be done; else empty.
        hint: &'static str,
    },
    /// A registry value that is not text (`REG_SZ` or `REG_EXPAND_SZ`).
    #[error("{key}\\{name}: a {kind} value, where a driver entry is text (REG_SZ or REG_EXPAND_SZ)")]
    NotText {
        /// The key holding the value.
        key: String,
        /// The value's name (the alias).
        name: String,
        /// Its type, e.g. `REG_DWORD`.
        kind: String,
    },
    /// A registry value longer than any file name with arguments.
    #[error(
        "{key}\\{name}: the value is {units} characters long, more than the {max} a driver entry may have"
    )]
    TooLong {
        /// The key holding the value.
        key: String,
        /// The value's name (the alias).
        name: String,
        /// Its length in UTF-16 units.
        units: usize,
        /// The most read.
        max: usize,
    },
    /// [`RegistryEdit::insert`] without `replace` found the alias taken.
    #[error("{alias} is already registered in [{section}] as {value:?}")]
    AlreadyRegistered {
        /// The section, as asked for.
        section: String,
        /// The alias, as asked for.
        alias: String,
        /// Its current value.
        value: String,
    },
}

fn dangling(target: Option<&Path>) -> String {
    target.map(|t| format!(" (a symbolic link to {}, which does not exist)", t.display())).unwrap_or_default()
}

impl RegistryError {
    pub(crate) fn missing(path: &Path) -> Self {
        let target = crate::locked_file::resolve_links(path).ok().filter(|t| t != path);
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        RegistryError::Missing { path, target }
    }
}

/// What an edit may do when the file does not exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EditOptions {
    /// Create the file if it does not exist (else [`RegistryError::Missing`]).
    pub create: bool,
    /// Also create its missing directories (else [`RegistryError::NoDirectory`]).
    pub create_dirs: bool,
}

/// The outcome of [`RegistryEdit::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The file written (symbolic links followed).
    pub path: PathBuf,
    /// Whether the file did not exist before.
    pub created: bool,
    /// Whether anything was written (an edit that changes nothing writes nothing).
    pub changed: bool,
}

/// An edit of the registry file in progress: holds the file's lock, its contents as
/// of taking the lock, and the temporary file that will replace it.
///
/// Dropping it without [`commit`](RegistryEdit::commit) changes nothing and leaves
/// nothing behind (no temporary file, no created file or directory).
///
/// Other writers of the file wait while an edit is open, in this process too: the
/// thread holding one must not write the same file through another edit (or
/// [`Registry::set_entry`]), which would wait for itself. Reads do not wait.
#[derive(Debug)]
pub struct RegistryEdit {
    file: LockedFile,
    original: Vec<u8>,
    doc: IniDocument,
}

impl RegistryEdit {
    /// The document as read under the lock, with the changes made so far.
    pub fn document(&self) -> &IniDocument {
        &self.doc
    }

    /// The document, to change.
    pub fn document_mut(&mut self) -> &mut IniDocument {
        &mut self.doc
    }

    /// The file that will be written (symbolic links followed).
    pub fn path(&self) -> &Path {
        self.file.target()
    }

    /// Whether the file did not exist and will be created by the commit.
    pub fn creates(&self) -> bool {
        self.file.creates()
    }

    /// Sets `alias=value` in `section` after validating all three
    /// ([`Registry::validate_entry`]). If the alias is registered already, that is
    /// [`RegistryError::AlreadyRegistered`] unless `replace`. Returns the previous
    /// value. Decided under the lock: of concurrent inserts of one alias without
    /// `replace`, exactly one succeeds.
    pub fn insert(
        &mut self,
        section: &str,
        alias: &str,
        value: &str,
        replace: bool,
    ) -> Result<Option<String>, RegistryError> {
        Registry::validate_entry(section, alias, value)?;
        if !replace && let Some(existing) = self.doc.get(section, alias) {
            return Err(RegistryError::AlreadyRegistered {
                section: section.to_string(),
                alias: alias.to_string(),
                value: existing.to_string(),
            });
        }
        Ok(self.doc.set(section, alias, value))
    }

    /// Removes `alias` from `section`; returns the value it had.
    pub fn remove(&mut self, section: &str, alias: &str) -> Option<String> {
        self.doc.remove(section, alias)
    }

    /// Marks `alias` to be hosted in a process of its own (`on`: the marker `1`), or
    /// removes its marker (see [`ISOLATE_SECTION`]); a host group the marker named
    /// is dropped either way. Returns whether it was marked before, with a group or
    /// without.
    pub fn set_isolated(&mut self, alias: &str, on: bool) -> Result<bool, RegistryError> {
        let wanted = if on { Isolation::Own } else { Isolation::Off };
        Ok(self.set_isolation(alias, &wanted)?.is_on())
    }

    /// Writes the marker of `alias` that asks for `isolation` (removes it for
    /// [`Isolation::Off`]); returns what the marker asked for before. A host group's
    /// name is checked as an alias is ([`RegistryError::Invalid`] with `host group`).
    pub fn set_isolation(&mut self, alias: &str, isolation: &Isolation) -> Result<Isolation, RegistryError> {
        check_name("alias", alias)?;
        let marker = isolation.marker()?;
        let before = marker_of(&self.doc, alias);
        match marker {
            Some(value) => self.doc.set(ISOLATE_SECTION, alias, &value),
            None => self.doc.remove(ISOLATE_SECTION, alias),
        };
        Ok(before)
    }

    /// Writes the document (if it changed) and releases the lock.
    pub fn commit(self) -> Result<Committed, RegistryError> {
        let path = self.file.target().to_path_buf();
        let contents = self.doc.to_bytes();
        if contents == self.original {
            // Dropping `file` removes the temporary file and anything created.
            return Ok(Committed { path, created: false, changed: false });
        }
        let created = self.file.replace(&contents)?;
        Ok(Committed { path, created, changed: true })
    }
}

type Stamp = (SystemTime, u64, u64, u64);

/// How long after a modification a file's stamp is not trusted to identify it.
const RACY_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// Where an entry of a [`Registry`] is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntrySource {
    /// The Windows registry key of its section ([`Registry::system_key`]).
    SystemKey,
    /// The registry file.
    File,
}

/// The driver registry: one `system.ini`-format file, and on Windows by default
/// also the registry key read before it.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    cache: Mutex<Option<(Stamp, Arc<IniDocument>)>>,
    system: Option<SystemKey>,
}

impl Registry {
    /// A registry backed by `path` (which need not exist yet: it reads as empty).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Registry { path: path.into(), cache: Mutex::new(None), system: None }
    }

    /// Windows' own registry: the key of [`SystemKey`] first, then the file `ini`
    /// (`%WINDIR%\system.ini`), as winmm resolves aliases (spec §8).
    #[cfg(windows)]
    pub fn windows(ini: impl Into<PathBuf>) -> Self {
        Registry { system: Some(SystemKey::local_machine()), ..Registry::new(ini) }
    }

    /// The registry used when no path is given: `$DRVPROC_CONFIG` (a file only),
    /// else on Windows `Registry::windows` with `%WINDIR%\system.ini`, else the
    /// file at [`default_path`](Self::default_path). `None` when no location is known.
    pub fn default_registry() -> Option<Registry> {
        #[cfg(windows)]
        if !has_config_variable() {
            return windows_ini().map(Registry::windows);
        }
        Self::default_path().map(Registry::new)
    }

    /// The Windows registry key read before the file, if this registry has one
    /// (only `Registry::windows`, on Windows, has).
    pub fn system_key(&self) -> Option<&SystemKey> {
        self.system.as_ref()
    }

    /// Where aliases of `section` are looked up, in words: the file, or on Windows
    /// "HKEY_LOCAL_MACHINE\...\Drivers32 and C:\windows\system.ini".
    pub fn describe(&self, section: &str) -> String {
        match &self.system {
            Some(key) => format!("{} and {}", key.key_path(section), self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    /// Where the configuration file lives when no path is given: `$DRVPROC_CONFIG`,
    /// else on Windows `%WINDIR%\system.ini` (see [`default_registry`](Self::default_registry)
    /// for the registry key read before it), else
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
        #[cfg(windows)]
        let found = windows_ini();
        #[cfg(not(windows))]
        let found = xdg_path(non_empty);
        found
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

    fn io_err(&self, source: std::io::Error) -> RegistryError {
        RegistryError::Io { path: self.path.clone(), source }
    }

    /// Whether the file exists (a symbolic link counts when the file it names does).
    /// A registry with a [`system_key`](Self::system_key) always exists: the key is
    /// Windows' own.
    pub fn exists(&self) -> Result<bool, RegistryError> {
        if self.system.is_some() {
            return Ok(true);
        }
        match fs::metadata(&self.path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_err(e)),
        }
    }

    /// The current document; empty if the file does not exist (the driver manager
    /// treats a missing registry as one without aliases).
    ///
    /// With a [`system_key`](Self::system_key), the document is a view of what
    /// lookups find: the file with the key's values of its sections (and of
    /// `Drivers32`, `MCI32` and `MCI`) laid over it, see [`IniDocument`]'s
    /// `overlay`. Line numbers and warnings stay the file's. Values that cannot be
    /// read as text are left out of the view (a lookup reports them), with a
    /// warning. [`source_of`](Self::source_of) tells where an entry comes from.
    pub fn read(&self) -> Result<Arc<IniDocument>, RegistryError> {
        let doc = self.read_if_present()?.unwrap_or_default();
        match &self.system {
            Some(key) => Ok(Arc::new(self.overlaid(key, &doc)?)),
            None => Ok(doc),
        }
    }

    /// The current document; [`RegistryError::Missing`] if the file does not exist,
    /// for commands that must tell a mistyped path from an empty registry. (With a
    /// [`system_key`](Self::system_key): [`read`](Self::read).)
    pub fn read_existing(&self) -> Result<Arc<IniDocument>, RegistryError> {
        if self.system.is_some() {
            return self.read();
        }
        self.read_if_present()?.ok_or_else(|| RegistryError::missing(&self.path))
    }

    /// `doc` with the values of `key` laid over it, section by section.
    fn overlaid(&self, key: &SystemKey, doc: &IniDocument) -> Result<IniDocument, RegistryError> {
        let mut view = doc.clone();
        let mut sections: Vec<String> = doc.sections().into_iter().map(str::to_string).collect();
        for known in [DRIVERS32, "MCI32", "MCI"] {
            if !sections.iter().any(|s| s.eq_ignore_ascii_case(known)) {
                sections.push(known.to_string());
            }
        }
        for section in &sections {
            let mut entries = Vec::new();
            for (alias, value) in key.entries(section)? {
                match value {
                    Ok(value) => entries.push((alias, value)),
                    Err(e) => tracing::warn!("{e}; left out"),
                }
            }
            view.overlay(section, &entries);
        }
        Ok(view)
    }

    fn read_if_present(&self) -> Result<Option<Arc<IniDocument>>, RegistryError> {
        let started = std::time::Instant::now();
        loop {
            let found = self.read_once()?;
            if found.is_some() || !cfg!(windows) {
                return Ok(found);
            }
            if !crate::locked_file::replacement_in_flight(&self.path, started) {
                // One more look: a replacement that ended after the first one put
                // the file back (and took its temporary file away).
                return self.read_once();
            }
        }
    }

    fn read_once(&self) -> Result<Option<Arc<IniDocument>>, RegistryError> {
        let stamp = match fs::metadata(&self.path) {
            Ok(meta) => stamp_of(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_err(e)),
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
            return Ok(Some(doc.clone()));
        }
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io_err(e)),
        };
        let doc = Arc::new(IniDocument::from_bytes(&bytes));
        *cache = Some((stamp, doc.clone()));
        Ok(Some(doc))
    }

    /// The value of `alias` in `section`, e.g. `imaadp32.acm` for `msacm.imaadpcm`:
    /// from the [`system_key`](Self::system_key) if there is one and it has the
    /// value, else from the file. Section and alias match case-insensitively.
    pub fn lookup(&self, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        if let Some(key) = &self.system
            && let Some(value) = key.get(section, alias)?
        {
            return Ok(Some(value));
        }
        Ok(self.read_if_present()?.and_then(|doc| doc.get(section, alias).map(str::to_string)))
    }

    /// Whether `alias` is marked to be hosted in a process other than the program's,
    /// of its own or of a host group (see [`ISOLATE_SECTION`]); false when the file
    /// does not exist.
    pub fn is_isolated(&self, alias: &str) -> Result<bool, RegistryError> {
        Ok(self.isolation(alias)?.is_on())
    }

    /// What the marker of `alias` asks for (see [`ISOLATE_SECTION`]);
    /// [`Isolation::Off`] when the file does not exist.
    pub fn isolation(&self, alias: &str) -> Result<Isolation, RegistryError> {
        Ok(self.read_if_present()?.map(|doc| marker_of(&doc, alias)).unwrap_or_default())
    }

    /// Marks `alias` to be hosted in a process of its own, or removes the marker, in
    /// one locked, atomic edit of an existing file; returns whether it was marked
    /// before. Whether the alias is registered is the caller's to check.
    pub fn set_isolated(&self, alias: &str, on: bool) -> Result<bool, RegistryError> {
        let mut edit = self.edit(EditOptions::default())?;
        let before = edit.set_isolated(alias, on)?;
        edit.commit()?;
        Ok(before)
    }

    /// Writes the marker of `alias` for `isolation` (see
    /// [`RegistryEdit::set_isolation`]) in one locked, atomic edit of an existing
    /// file; returns what it asked for before. Nothing is written when the group's
    /// name is refused. Whether the alias is registered is the caller's to check.
    pub fn set_isolation(&self, alias: &str, isolation: &Isolation) -> Result<Isolation, RegistryError> {
        let mut edit = self.edit(EditOptions::default())?;
        let before = edit.set_isolation(alias, isolation)?;
        edit.commit()?;
        Ok(before)
    }

    /// [`lookup`](Self::lookup) and [`isolation`](Self::isolation) at once, from
    /// one read of the file (an open by alias costs one `stat` still). A `group:`
    /// marker with a name that breaks the rules reads as no marker, with a warning:
    /// the open that would have been hosted is not.
    pub(crate) fn lookup_marked(
        &self,
        section: &str,
        alias: &str,
    ) -> Result<Option<(String, Isolation)>, RegistryError> {
        let doc = self.read_if_present()?;
        let from_key = match &self.system {
            Some(key) => key.get(section, alias)?,
            None => None,
        };
        let Some(value) = from_key.or_else(|| doc.as_ref()?.get(section, alias).map(str::to_string)) else {
            return Ok(None);
        };
        let marker = doc.as_ref().and_then(|d| d.get(ISOLATE_SECTION, alias));
        let marked = match marker.map(Isolation::parse_marker) {
            None => Isolation::Off,
            Some(Ok(isolation)) => isolation,
            Some(Err(e)) => {
                tracing::warn!("[{ISOLATE_SECTION}] {alias}: {e}; the marker is ignored");
                Isolation::Off
            }
        };
        Ok(Some((value, marked)))
    }

    /// Where the value [`lookup`](Self::lookup) finds for `alias` comes from.
    pub fn source_of(&self, section: &str, alias: &str) -> Result<Option<EntrySource>, RegistryError> {
        if let Some(key) = &self.system {
            match key.get(section, alias) {
                Ok(Some(_)) | Err(RegistryError::NotText { .. } | RegistryError::TooLong { .. }) => {
                    return Ok(Some(EntrySource::SystemKey));
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        let in_file = self.read_if_present()?.is_some_and(|doc| doc.get(section, alias).is_some());
        Ok(in_file.then_some(EntrySource::File))
    }

    /// Checks that `alias=value` can be written into `[section]` as one entry that
    /// reads back as written, without touching the file.
    pub fn validate_entry(section: &str, alias: &str, value: &str) -> Result<(), RegistryError> {
        check_name("section", section)?;
        check_name("alias", alias)?;
        check_value(value)
    }

    /// Starts an edit: takes the file's lock (waiting for other writers), reads the
    /// file, checks it may be written and creates the temporary file beside it. See
    /// [`RegistryEdit`]. Edits, like [`set_entry`](Self::set_entry),
    /// [`remove_entry`](Self::remove_entry) and [`update`](Self::update), change the
    /// file only; the Windows registry key is written through
    /// [`system_key`](Self::system_key).
    pub fn edit(&self, options: EditOptions) -> Result<RegistryEdit, RegistryError> {
        let creation = Creation { file: options.create, dirs: options.create && options.create_dirs };
        let mut file = LockedFile::acquire(&self.path, creation)?;
        let original = file.read()?;
        let doc = IniDocument::from_bytes(&original);
        Ok(RegistryEdit { file, original, doc })
    }

    /// Writes `alias=value` into `section`, replacing any value; returns the previous
    /// value. Creates the file and its directories if missing (programs that own
    /// their configuration); use [`edit`](Registry::edit) to decide that.
    pub fn set_entry(
        &self,
        section: &str,
        alias: &str,
        value: &str,
    ) -> Result<Option<String>, RegistryError> {
        Self::validate_entry(section, alias, value)?;
        let mut edit = self.edit(EditOptions { create: true, create_dirs: true })?;
        let previous = edit.insert(section, alias, value, true)?;
        edit.commit()?;
        Ok(previous)
    }

    /// Removes `alias` from `section`; returns the value it had (`None` also when the
    /// file does not exist, which is left so).
    pub fn remove_entry(&self, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        let mut edit = match self.edit(EditOptions::default()) {
            Ok(edit) => edit,
            Err(RegistryError::Missing { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let previous = edit.remove(section, alias);
        edit.commit()?;
        Ok(previous)
    }

    /// Applies `edit` to the current file under the write lock and replaces the file
    /// atomically. The file is not rewritten when the edit changes nothing. Creates
    /// the file and its directories if missing, as [`set_entry`](Registry::set_entry).
    pub fn update<R>(&self, edit: impl FnOnce(&mut IniDocument) -> R) -> Result<R, RegistryError> {
        let mut tx = self.edit(EditOptions { create: true, create_dirs: true })?;
        let result = edit(tx.document_mut());
        tx.commit()?;
        Ok(result)
    }
}

/// `$XDG_CONFIG_HOME/drvproc/system.ini`, else `$HOME/.config/drvproc/system.ini`
/// (see [`Registry::default_path`]).
#[cfg(not(windows))]
fn xdg_path(non_empty: impl Fn(&str) -> Option<PathBuf>) -> Option<PathBuf> {
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

/// Whether `$DRVPROC_CONFIG` names a file (which then is the whole registry).
#[cfg(windows)]
fn has_config_variable() -> bool {
    std::env::var_os("DRVPROC_CONFIG").is_some_and(|v| !v.is_empty())
}

/// `%WINDIR%\system.ini` (or `%SystemRoot%`'s), where Windows keeps it.
#[cfg(windows)]
fn windows_ini() -> Option<PathBuf> {
    ["WINDIR", "SystemRoot"]
        .into_iter()
        .find_map(|var| std::env::var_os(var).filter(|v| !v.is_empty()))
        .map(|dir| PathBuf::from(dir).join("system.ini"))
}

fn stamp_of(meta: &fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let (dev, inode) = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let (dev, inode) = (0, 0);
    (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), dev, inode)
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
    fn isolation_markers_live_in_their_own_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        fs::write(&path, "[Drivers32]\r\nmsacm.x=x.so\r\n").unwrap();
        let registry = Registry::new(&path);
        assert!(!registry.is_isolated("msacm.x").unwrap());
        assert!(!registry.set_isolated("msacm.x", true).unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[Drivers32]\r\nmsacm.x=x.so\r\n[drvproc.isolate]\r\nmsacm.x=1\r\n"
        );
        assert!(registry.is_isolated("MSACM.X").unwrap());
        assert!(registry.set_isolated("msacm.x", false).unwrap());
        assert!(!registry.is_isolated("msacm.x").unwrap());
        assert_eq!(registry.lookup(DRIVERS32, "msacm.x").unwrap().as_deref(), Some("x.so"));
        for (value, on) in [("on", true), ("TRUE", true), ("0", false), ("off", false), ("2", false)] {
            fs::write(&path, format!("[drvproc.isolate]\nmsacm.x={value}\n")).unwrap();
            assert_eq!(registry.is_isolated("msacm.x").unwrap(), on, "{value}");
        }
        let err = registry.set_isolated("a=b", true).unwrap_err();
        assert_eq!(err.to_string(), "invalid alias \"a=b\": it contains '=', '[' or ']'");
    }

    #[test]
    fn markers_read_as_on_a_group_or_off() {
        let group = |name: &str| Isolation::Group(name.to_string());
        let cases = [
            ("1", Isolation::Own),
            (" Yes ", Isolation::Own),
            ("TRUE", Isolation::Own),
            ("on", Isolation::Own),
            ("group:codecs", group("codecs")),
            ("GROUP:Codecs", group("Codecs")),
            ("group:  video codecs ", group("video codecs")),
            ("  group:x", group("x")),
            ("group:", Isolation::Off),
            ("group:   ", Isolation::Off),
            ("group:a]b", Isolation::Off),
            ("group:a=b", Isolation::Off),
            ("group:;x", Isolation::Off),
            ("groups:x", Isolation::Off),
            ("group", Isolation::Off),
            ("0", Isolation::Off),
            ("off", Isolation::Off),
            ("2", Isolation::Off),
            ("", Isolation::Off),
        ];
        for (value, expected) in cases {
            assert_eq!(Isolation::from_marker(value), expected, "{value:?}");
        }
        let err = Isolation::parse_marker("group: ").unwrap_err();
        assert_eq!(err.to_string(), "invalid host group \"\": it is empty");
        assert!(group("x").is_on() && Isolation::Own.is_on() && !Isolation::Off.is_on());
        assert_eq!((group("x").group(), Isolation::Own.group()), (Some("x"), None));
    }

    #[test]
    fn a_group_marker_is_written_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        fs::write(&path, "[Drivers32]\nmsacm.x=x.so\nmsacm.y=y.so\n").unwrap();
        let registry = Registry::new(&path);
        let codecs = Isolation::Group("codecs".to_string());
        assert_eq!(registry.set_isolation("msacm.x", &codecs).unwrap(), Isolation::Off);
        assert_eq!(registry.set_isolation("msacm.y", &Isolation::Own).unwrap(), Isolation::Off);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[Drivers32]\nmsacm.x=x.so\nmsacm.y=y.so\n[drvproc.isolate]\nmsacm.x=group:codecs\nmsacm.y=1\n"
        );
        assert_eq!(registry.isolation("MSACM.X").unwrap(), codecs);
        assert!(registry.is_isolated("msacm.x").unwrap(), "a group is isolation too");
        assert_eq!(registry.isolation("msacm.y").unwrap(), Isolation::Own);
        assert_eq!(
            registry.lookup_marked(DRIVERS32, "msacm.x").unwrap(),
            Some(("x.so".into(), codecs.clone()))
        );
        assert_eq!(registry.lookup_marked(DRIVERS32, "msacm.z").unwrap(), None);

        // `set_isolated` writes the plain marker, dropping the group, and reports a
        // group as marked.
        assert!(registry.set_isolated("msacm.x", true).unwrap());
        assert_eq!(registry.isolation("msacm.x").unwrap(), Isolation::Own);
        assert_eq!(registry.set_isolation("msacm.x", &codecs).unwrap(), Isolation::Own);
        assert!(registry.set_isolated("msacm.x", false).unwrap());
        assert_eq!(registry.set_isolation("msacm.y", &Isolation::Off).unwrap(), Isolation::Own);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[Drivers32]\nmsacm.x=x.so\nmsacm.y=y.so\n[drvproc.isolate]\n"
        );
        assert_eq!(registry.isolation("msacm.x").unwrap(), Isolation::Off);
    }

    #[test]
    fn a_bad_group_name_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        let before = "[Drivers32]\nmsacm.x=x.so\n";
        fs::write(&path, before).unwrap();
        let registry = Registry::new(&path);
        let refused = [
            ("", "invalid host group \"\": it is empty"),
            (" codecs", "invalid host group \" codecs\": it has leading or trailing blanks"),
            ("a=b", "invalid host group \"a=b\": it contains '=', '[' or ']'"),
            ("[a]", "invalid host group \"[a]\": it contains '=', '[' or ']'"),
            ("a\nb", "invalid host group \"a\\nb\": it contains a line break or NUL"),
            (";a", "invalid host group \";a\": it would read as a comment"),
        ];
        for (name, message) in refused {
            let err = registry.set_isolation("msacm.x", &Isolation::Group(name.to_string())).unwrap_err();
            assert!(matches!(err, RegistryError::Invalid { what: "host group", .. }), "{err:?}");
            assert_eq!(err.to_string(), message);
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn a_group_marker_with_a_bad_name_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("system.ini");
        fs::write(&path, "[Drivers32]\nmsacm.x=x.so\n[drvproc.isolate]\nmsacm.x=group:\n").unwrap();
        let registry = Registry::new(&path);
        let (found, log) = with_log(|| registry.lookup_marked(DRIVERS32, "msacm.x").unwrap());
        assert_eq!(found, Some(("x.so".into(), Isolation::Off)));
        assert_eq!(
            log.trim_end(),
            "WARN [drvproc.isolate] msacm.x: invalid host group \"\": it is empty; the marker is ignored"
        );
        let (found, log) = with_log(|| registry.lookup_marked(DRIVERS32, "msacm.y").unwrap());
        assert_eq!((found, log.as_str()), (None, ""), "no warning for an alias not found");
    }

    /// What `f` logs, one event a line, with its level.
    fn with_log<R>(f: impl FnOnce() -> R) -> (R, String) {
        let (result, text) = crate::test_log::with_log(f);
        (result, text.lines().map(|l| format!("{}\n", l.trim_start())).collect())
    }
}
