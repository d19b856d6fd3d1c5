//! Replacing a file atomically while holding an exclusive lock on the file itself.
//!
//! # The locking argument
//!
//! Writers lock the file they are about to replace (`flock` on Unix, `LockFileEx` on
//! Windows, through [`File::lock`]), so no lock file is ever left beside it. Replacing
//! a file by `rename` gives the path a new inode, and a writer that was waiting for
//! the lock of the old one now holds a lock on a file no longer in use. So after
//! acquiring the lock a writer checks that the path still resolves to the file it
//! locked (same device and inode), and otherwise lets go and starts over. A lock that
//! passes the check is on the file the path names, and every other writer either
//! waits for it or will fail the check: writers are serialised. Readers take no lock:
//! they see the old file or the new one, never a partial one.
//!
//! A missing file is created empty, to have something to lock, and locked before
//! anyone else can open it: it is made and locked under a temporary name, then
//! hard-linked to its name, which fails if another writer created it first (then
//! this one locks theirs). So the creator is the one writer that finds the file
//! missing, and it can say so. If the edit is abandoned the file is removed again
//! under the lock, and a waiting writer then fails its check and starts over.
//!
//! Symbolic links are followed to the file they name: the temporary file is created
//! in that file's directory and renamed over it there, so the link stays a link.
//! The replacement keeps the file's permission bits (and, where allowed, its owner).
//! After the rename the directory is flushed so that the rename itself is durable.
//!
//! Programs that do not take the lock (an editor, Wine) are not serialised with
//! writers; they only ever see a complete file.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::registry::RegistryError;

/// How many symbolic links are followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// How many times the lock is retried when the file keeps being replaced under it.
const MAX_ATTEMPTS: usize = 1000;

/// What to do when the file does not exist.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Creation {
    pub file: bool,
    pub dirs: bool,
}

/// The locked file, with a temporary file ready beside it.
#[derive(Debug)]
pub(crate) struct LockedFile {
    /// The file the path resolves to (links followed).
    target: PathBuf,
    /// Locked; dropping it releases the lock.
    file: File,
    /// Created empty by us, to be removed if nothing is committed.
    created: bool,
    /// Directories created by us, outermost first.
    created_dirs: Vec<PathBuf>,
    /// The temporary file in the target's directory, until renamed or removed.
    temp: Option<(PathBuf, File)>,
}

/// The file `path` names: symbolic links followed (relative ones against the link's
/// directory), whether or not that file exists.
pub(crate) fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!("more than {MAX_LINKS} symbolic links")))
}

/// The directory a file is in (`.` for a bare name).
pub(crate) fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    // Windows does not let a file that is open without sharing deletion be replaced;
    // the identity check is a Unix concern.
    true
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io { path: path.to_path_buf(), source }
}

fn is_read_only_error(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem)
}

impl LockedFile {
    /// Locks the file `path` names, creating it (and its directories) if `creation`
    /// allows, and creates the temporary file that will replace it, so that once this
    /// succeeds only running out of space or a failing disk can stop the commit.
    pub(crate) fn acquire(path: &Path, creation: Creation) -> Result<Self, RegistryError> {
        let mut created_dirs = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            let target = resolve_links(path).map_err(io(path))?;
            let (file, created, locked) = match OpenOptions::new().read(true).write(true).open(&target) {
                Ok(file) => (file, false, false),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if !creation.file {
                        return Err(RegistryError::missing(path));
                    }
                    let dir = directory_of(&target);
                    if !dir.exists() {
                        if !creation.dirs {
                            return Err(RegistryError::NoDirectory {
                                dir: dir.to_path_buf(),
                                path: target.clone(),
                            });
                        }
                        create_dirs(dir, &mut created_dirs)?;
                    }
                    match create_locked(&target, dir) {
                        Ok(Some((file, locked))) => (file, true, locked),
                        Ok(None) => continue,
                        Err(source) => {
                            remove_dirs(&created_dirs);
                            return Err(RegistryError::CannotCreate {
                                dir: dir.to_path_buf(),
                                what: "the registry file",
                                source,
                            });
                        }
                    }
                }
                Err(e) if is_read_only_error(&e) => {
                    remove_dirs(&created_dirs);
                    return Err(RegistryError::ReadOnly { path: target });
                }
                Err(e) => {
                    remove_dirs(&created_dirs);
                    return Err(io(&target)(e));
                }
            };
            let already_locked = locked;
            let mut locked = LockedFile {
                target,
                file,
                created,
                created_dirs: std::mem::take(&mut created_dirs),
                temp: None,
            };
            let meta = locked.file.metadata().map_err(io(&locked.target))?;
            // A file without any write permission is read-only, also for a user (root)
            // whom the system would let write it: like the read-only attribute on
            // Windows, it says the file is not to be changed.
            if meta.permissions().readonly() {
                return Err(RegistryError::ReadOnly { path: locked.target.clone() });
            }
            if !already_locked {
                locked.file.lock().map_err(io(&locked.target))?;
            }
            if locked.still_named_by(path) {
                locked.create_temp()?;
                return Ok(locked);
            }
            // Replaced or removed while we waited: let go and start over. Anything we
            // created was replaced by someone else, who now owns it.
            locked.created = false;
            created_dirs = std::mem::take(&mut locked.created_dirs);
        }
        Err(io(path)(std::io::Error::other("the file kept being replaced while waiting for its lock")))
    }

    fn still_named_by(&self, path: &Path) -> bool {
        let Ok(now) = resolve_links(path) else { return false };
        let (Ok(named), Ok(held)) = (fs::metadata(&now), self.file.metadata()) else { return false };
        now == self.target && same_file(&named, &held)
    }

    fn create_temp(&mut self) -> Result<(), RegistryError> {
        let dir = directory_of(&self.target);
        let temp = new_temp(dir, &self.target).map_err(|source| RegistryError::CannotCreate {
            dir: dir.to_path_buf(),
            what: "a temporary file",
            source,
        })?;
        self.temp = Some(temp);
        Ok(())
    }

    /// The file being edited (links followed).
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Whether the file did not exist and is created by this edit.
    pub(crate) fn creates(&self) -> bool {
        self.created
    }

    /// The file's current contents, read through the locked handle.
    pub(crate) fn read(&mut self) -> Result<Vec<u8>, RegistryError> {
        let mut bytes = Vec::new();
        self.file.rewind().map_err(io(&self.target))?;
        self.file.read_to_end(&mut bytes).map_err(io(&self.target))?;
        Ok(bytes)
    }

    /// Replaces the file with `contents`; returns whether it was created. The lock is
    /// released when `self` is dropped.
    pub(crate) fn replace(mut self, contents: &[u8]) -> Result<bool, RegistryError> {
        let Some((temp, mut file)) = self.temp.take() else {
            return Err(io(&self.target)(std::io::Error::other("already committed")));
        };
        let result = (|| -> std::io::Result<()> {
            let meta = self.file.metadata()?;
            file.set_permissions(meta.permissions())?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                // Only a privileged writer can give the file back to its owner; anyone
                // else is its owner already, or cannot have written it.
                let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
            }
            file.write_all(contents)?;
            file.sync_all()?;
            drop(file);
            fs::rename(&temp, &self.target)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(io(&self.target)(e));
        }
        sync_directory(directory_of(&self.target));
        let created = std::mem::take(&mut self.created);
        self.created_dirs.clear();
        Ok(created)
    }
}

impl Drop for LockedFile {
    /// Abandons the edit: the temporary file goes, and so does a file (and any
    /// directories) created for it, all while the lock is still held.
    fn drop(&mut self) {
        if let Some((temp, file)) = self.temp.take() {
            drop(file);
            let _ = fs::remove_file(temp);
        }
        if self.created {
            let ours = matches!(
                (fs::metadata(&self.target), self.file.metadata()),
                (Ok(a), Ok(b)) if same_file(&a, &b)
            );
            if ours {
                let _ = fs::remove_file(&self.target);
            }
        }
        remove_dirs(&self.created_dirs);
        // `self.file` is closed after this, releasing the lock.
    }
}

/// A new file in `dir` named after `target` (`system.ini.tmp.<pid>.<n>`).
fn new_temp(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut candidate = name.clone();
        candidate.push(format!(".tmp.{}.{n}", std::process::id()));
        let temp = dir.join(&candidate);
        match OpenOptions::new().read(true).write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            // Left by a process that died with our pid: take the next name.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => name = candidate,
            Err(e) => return Err(e),
        }
    }
}

/// Creates the missing file `target`, locked before anyone can open it: a new file
/// is locked under a temporary name, then linked as `target` (which fails if
/// `target` appeared meanwhile). Returns the file and whether it is locked (`false`
/// where the file system has no hard links: then it is created directly, and a
/// writer may lock it first, which the caller's check after locking sorts out);
/// `None` when someone else created it first.
fn create_locked(target: &Path, dir: &Path) -> std::io::Result<Option<(File, bool)>> {
    let (temp, file) = new_temp(dir, target)?;
    let linked = file.lock().and_then(|()| fs::hard_link(&temp, target));
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(Some((file, true))),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
        Err(_) => {
            drop(file);
            match OpenOptions::new().read(true).write(true).create_new(true).open(target) {
                Ok(file) => Ok(Some((file, false))),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(e),
            }
        }
    }
}

/// Creates `dir` and its missing ancestors, recording each one created.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), RegistryError> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(&d) {
            Ok(()) => created.push(d),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                remove_dirs(created);
                return Err(io(&d)(e));
            }
        }
    }
    Ok(())
}

/// Removes directories this edit created, innermost first, if they are still empty.
fn remove_dirs(created: &[PathBuf]) {
    for d in created.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// Makes a rename in `dir` durable. A failure is logged, not returned: the new file
/// is already in place and visible, and some file systems cannot flush directories.
fn sync_directory(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!("{}: cannot flush the directory after replacing a file in it: {e}", dir.display());
    }
    #[cfg(not(unix))]
    let _ = dir;
}
