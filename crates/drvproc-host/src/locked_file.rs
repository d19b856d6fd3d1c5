//! Replacing a file atomically while holding an exclusive lock on the file itself.
//!
//! # The locking argument
//!
//! Writers lock the file they are about to replace (`flock` on Unix; on Windows
//! `LockFileEx` on one byte beyond any content, since Windows locks are mandatory and
//! a lock on the contents would stop readers), so no lock file is ever left beside
//! it. Replacing a file by `rename` (`ReplaceFileW` on Windows, which unlike a rename
//! replaces a file that is open) gives the path a new inode, and a writer that was
//! waiting for the lock of the old one now holds a lock on a file no longer in use.
//! So after acquiring the lock a writer checks that the path still resolves to the
//! file it locked (same device and inode; same volume and file index on Windows), and
//! otherwise lets go and starts over. A lock that
//! passes the check is on the file the path names, and every other writer either
//! waits for it or will fail the check: writers are serialised. Readers take no lock:
//! they see the old file or the new one, never a partial one.
//!
//! A missing file is created empty, to have something to lock, and locked before
//! anyone else can open it: it is made and locked under a temporary name, then
//! hard-linked to its name (on Windows moved there without replacing), which fails
//! if another writer created it first (then this one locks theirs). So the creator
//! is the one writer that finds the file missing, and it can say so. If the edit is
//! abandoned the file is removed again under the lock, and a waiting writer then
//! fails its check and starts over. (Windows without POSIX delete semantics, and
//! Wine, keep a deleted file's name until every handle on it is closed, a waiting
//! writer's included; there the file is first moved aside, so that its name is
//! free at once.)
//!
//! Symbolic links are followed to the file they name: the temporary file is created
//! in that file's directory and renamed over it there, so the link stays a link.
//! The replacement keeps the file's permission bits (and, where allowed, its owner).
//! After the rename the directory is flushed so that the rename itself is durable.
//!
//! Programs that do not take the lock (an editor, Wine) are not serialised with
//! writers; they only ever see a complete file. (Under Wine, which refuses to rename
//! over an open file, the replacement goes through `ReplaceFileW`, which moves the
//! old file aside before moving the new one in: a reader there can briefly find no
//! file.)

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

/// Whether `path` names the file `held` is open on.
#[cfg(unix)]
fn names_file(path: &Path, held: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), held.metadata()) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Whether `path` names the file `held` is open on: same volume, same file index.
#[cfg(windows)]
fn names_file(path: &Path, held: &File) -> bool {
    match (File::open(path).and_then(|f| windows::identity(&f)), windows::identity(held)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(not(any(unix, windows)))]
fn names_file(_: &Path, _: &File) -> bool {
    true
}

/// Takes the writers' lock on `file`, waiting for it.
#[cfg(not(windows))]
fn lock(file: &File) -> std::io::Result<()> {
    file.lock()
}

/// Takes the writers' lock on `file`, waiting for it. Windows byte-range locks are
/// mandatory, so [`File::lock`] (the whole file) would make every reader's read
/// fail while an edit is open; the lock is on one byte far beyond any content
/// instead, which only writers ask for.
#[cfg(windows)]
fn lock(file: &File) -> std::io::Result<()> {
    windows::lock_beyond_contents(file)
}

/// Puts `temp` in the place of `target`.
#[cfg(not(windows))]
fn replace_with(temp: &Path, target: &Path) -> std::io::Result<()> {
    fs::rename(temp, target)
}

/// Puts `temp` in the place of `target`, which this writer holds open (and others
/// may). A rename is tried first: it is atomic, and `std` asks for POSIX semantics,
/// with which Windows 10 and later replace a file that is open (with delete
/// sharing, as `std` opens files). Where that is refused (Wine, older Windows)
/// `ReplaceFileW` replaces it; Wine's moves the old file aside first, so readers
/// there can briefly find no file.
#[cfg(windows)]
fn replace_with(temp: &Path, target: &Path) -> std::io::Result<()> {
    match fs::rename(temp, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => windows::replace(temp, target),
        Err(e) => Err(e),
    }
}

#[cfg(windows)]
mod windows {
    use std::fs::File;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use std::time::Duration;

    use windows_sys::Win32::Foundation::{
        ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_UNABLE_TO_MOVE_REPLACEMENT,
        ERROR_UNABLE_TO_REMOVE_REPLACED, HANDLE,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_RENAME_INFO, FileRenameInfo, GetFileInformationByHandle,
        LOCKFILE_EXCLUSIVE_LOCK, LockFileEx, MoveFileExW, REPLACEFILE_IGNORE_MERGE_ERRORS, ReplaceFileW,
        SetFileInformationByHandle,
    };
    use windows_sys::Win32::System::IO::OVERLAPPED;

    use crate::wide::nul_terminated;

    /// Where the writers' lock byte is: beyond any INI file, and a positive offset
    /// (file systems refuse negative ones).
    const LOCK_OFFSET: u64 = 1 << 62;

    /// How long a replacement is retried while something (a virus scanner, an
    /// indexer, a reader without `FILE_SHARE_DELETE`) keeps the file from moving.
    const REPLACE_PATIENCE: Duration = Duration::from_secs(2);

    /// The volume serial number and file index of an open file.
    pub(super) fn identity(file: &File) -> std::io::Result<(u32, u32, u32)> {
        // SAFETY: an all-zero BY_HANDLE_FILE_INFORMATION is a valid value (integers
        // and FILETIMEs); the call fills it.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: the handle is open for the life of `file`; `info` is writable.
        if unsafe { GetFileInformationByHandle(file.as_raw_handle() as HANDLE, &mut info) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((info.dwVolumeSerialNumber, info.nFileIndexHigh, info.nFileIndexLow))
    }

    pub(super) fn lock_beyond_contents(file: &File) -> std::io::Result<()> {
        // SAFETY: an all-zero OVERLAPPED is valid; it carries the offset.
        let mut at: OVERLAPPED = unsafe { std::mem::zeroed() };
        at.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
        at.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
        // SAFETY: the handle is open (synchronously, as std opens files) for the life
        // of `file`, so the call returns once the lock is held; `at` outlives it.
        // The lock goes when the handle is closed.
        if unsafe { LockFileEx(file.as_raw_handle() as HANDLE, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &mut at) }
            == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Moves `from` to `to` unless something is at `to` (then `AlreadyExists`).
    pub(super) fn move_new(from: &Path, to: &Path) -> std::io::Result<()> {
        let (from, to) = (nul_terminated(from), nul_terminated(to));
        // SAFETY: both names are NUL-terminated UTF-16 living across the call. No
        // flags: an existing `to` is an error, not replaced.
        if unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), 0) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Renames the file `file` is open on (with `DELETE` access) to `to`, unless
    /// something is at `to` (then `AlreadyExists`); its locks stay with it. Through
    /// the handle rather than by path because Wine remembers the name a handle was
    /// opened by, and tells the file's volume from it: after a rename by path the
    /// handle's volume serial number reads 0, and [`identity`] no longer matches the
    /// file's own.
    pub(super) fn rename_new(file: &File, to: &Path) -> std::io::Result<()> {
        let name: Vec<u16> = to.as_os_str().encode_wide().collect();
        let name_bytes = name.len() * 2;
        let length = u32::try_from(name_bytes).map_err(|_| std::io::Error::other("path too long"))?;
        let size = std::mem::offset_of!(FILE_RENAME_INFO, FileName) + name_bytes + 2;
        // Zeroed: not replacing, no root directory, a NUL after the name. `u64`s
        // give the alignment FILE_RENAME_INFO needs (that of a pointer).
        let mut buffer = vec![0u64; size.div_ceil(8)];
        let info = buffer.as_mut_ptr().cast::<FILE_RENAME_INFO>();
        // SAFETY: `buffer` holds `size` bytes: the header, then room for the name and
        // its NUL from `FileName` on; `info` is suitably aligned; the writes stay in it.
        unsafe {
            (&raw mut (*info).FileNameLength).write(length);
            (&raw mut (*info).FileName).cast::<u16>().copy_from_nonoverlapping(name.as_ptr(), name.len());
        }
        let size = u32::try_from(size).map_err(|_| std::io::Error::other("path too long"))?;
        // SAFETY: the handle is open for the life of `file`; `info` points to `size`
        // initialised bytes that live across the call.
        if unsafe {
            SetFileInformationByHandle(file.as_raw_handle() as HANDLE, FileRenameInfo, info.cast(), size)
        } == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn replace(temp: &Path, target: &Path) -> std::io::Result<()> {
        let (temp, target) = (nul_terminated(temp), nul_terminated(target));
        let started = std::time::Instant::now();
        loop {
            // SAFETY: both names are NUL-terminated UTF-16 living across the call;
            // the optional arguments are null.
            let done = unsafe {
                ReplaceFileW(
                    target.as_ptr(),
                    temp.as_ptr(),
                    std::ptr::null(),
                    REPLACEFILE_IGNORE_MERGE_ERRORS,
                    std::ptr::null(),
                    std::ptr::null(),
                )
            } != 0;
            if done {
                return Ok(());
            }
            let error = std::io::Error::last_os_error();
            // These leave both files as they were; anything else is final.
            let transient = matches!(
                error.raw_os_error().map(|c| c as u32),
                Some(
                    ERROR_ACCESS_DENIED
                        | ERROR_SHARING_VIOLATION
                        | ERROR_UNABLE_TO_REMOVE_REPLACED
                        | ERROR_UNABLE_TO_MOVE_REPLACEMENT
                )
            );
            if !transient || started.elapsed() > REPLACE_PATIENCE {
                return Err(error);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
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
        let started = std::time::Instant::now();
        for _ in 0..MAX_ATTEMPTS {
            let target = resolve_links(path).map_err(io(path))?;
            let (file, created, locked) = match OpenOptions::new().read(true).write(true).open(&target) {
                Ok(file) => (file, false, false),
                Err(e) if e.kind() == ErrorKind::NotFound && replacement_in_flight(&target, started) => {
                    continue;
                }
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
                lock(&locked.file).map_err(io(&locked.target))?;
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
        now == self.target && names_file(&now, &self.file)
    }

    fn create_temp(&mut self) -> Result<(), RegistryError> {
        let dir = directory_of(&self.target);
        let temp = new_temp(dir, &self.target, false).map_err(|source| RegistryError::CannotCreate {
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
            replace_with(&temp, &self.target)
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
        if self.created && names_file(&self.target, &self.file) {
            // Outside any directory created for it, so that those can go.
            let aside = match self.created_dirs.first() {
                Some(outermost) => directory_of(outermost),
                None => directory_of(&self.target),
            };
            discard(&self.target, aside);
        }
        remove_dirs(&self.created_dirs);
        // `self.file` is closed after this, releasing the lock.
    }
}

/// Whether a file found missing may be between the two moves of a replacement, and
/// is worth looking for again (this pauses 1 ms first): where a commit cannot rename
/// over the open file, Windows' `ReplaceFileW` (Wine's at least) moves the old file
/// aside before moving the new one in. A reader in between would take the registry
/// for empty, and a writer would create a new file and later commit over the other
/// writer's entry. A writer's temporary file beside it says a commit (or a creation)
/// is under way; a stale one (its writer died) costs at most 200 ms from `started`.
#[cfg(windows)]
pub(crate) fn replacement_in_flight(target: &Path, started: std::time::Instant) -> bool {
    const PATIENCE: std::time::Duration = std::time::Duration::from_millis(200);
    let pending = started.elapsed() < PATIENCE && replacement_pending(target);
    if pending {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    pending
}

/// A rename replaces a file in one step here: missing is missing.
#[cfg(not(windows))]
pub(crate) fn replacement_in_flight(_: &Path, _: std::time::Instant) -> bool {
    false
}

/// Whether a temporary file of a writer of `target` ([`new_temp`]'s names) is beside
/// it: a commit may be between the two moves of `ReplaceFileW`.
#[cfg(windows)]
fn replacement_pending(target: &Path) -> bool {
    let Some(name) = target.file_name() else { return false };
    // Windows names compare without case.
    let prefix = format!("{}.tmp.", name.to_string_lossy()).to_lowercase();
    fs::read_dir(directory_of(target)).is_ok_and(|entries| {
        entries.flatten().any(|entry| entry.file_name().to_string_lossy().to_lowercase().starts_with(&prefix))
    })
}

/// How a temporary file is created: new, for reading and writing; one that is to
/// be renamed through its handle ([`publish`]) also with `DELETE` access on
/// Windows. (Programs that open a file without delete sharing cannot open that one
/// while it is held, as the new, empty registry file of an edit that creates it;
/// they read nothing from it either way. The temporary files of commits are
/// renamed by path once closed, and need no such access.)
fn temp_options(renamed_by_handle: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(windows)]
    if renamed_by_handle {
        use std::os::windows::fs::OpenOptionsExt;
        use windows_sys::Win32::Storage::FileSystem::{DELETE, FILE_GENERIC_READ, FILE_GENERIC_WRITE};
        options.access_mode(FILE_GENERIC_READ | FILE_GENERIC_WRITE | DELETE);
    }
    #[cfg(not(windows))]
    let _ = renamed_by_handle;
    options
}

/// A new file in `dir` named after `target` (`system.ini.tmp.<pid>.<n>`), opened as
/// [`temp_options`] says.
fn new_temp(dir: &Path, target: &Path, renamed_by_handle: bool) -> std::io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut candidate = name.clone();
        candidate.push(format!(".tmp.{}.{n}", std::process::id()));
        let temp = dir.join(&candidate);
        match temp_options(renamed_by_handle).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            // Left by a process that died with our pid: take the next name.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => name = candidate,
            Err(e) => return Err(e),
        }
    }
}

/// Removes the abandoned file `target`, which this writer holds open.
#[cfg(not(windows))]
fn discard(target: &Path, _aside: &Path) {
    let _ = fs::remove_file(target);
}

/// Removes the abandoned file `target`, which this writer holds open, and so may
/// writers waiting for its lock. Windows before POSIX delete semantics (Windows 7,
/// FAT volumes) and Wine delete a file only when its last handle is closed, and
/// keep its name until then: a waiting writer would find the file still at its
/// name, take it for one someone else created and commit into it (reporting that
/// it created nothing), and a directory created for it could not be removed. So it
/// is moved into `aside` under a name no reader waits for, which frees its name at
/// once, and deleted there; if it cannot be moved it is deleted where it is.
#[cfg(windows)]
fn discard(target: &Path, aside: &Path) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".abandoned.{}.{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let moved = aside.join(name);
    match windows::move_new(target, &moved) {
        Ok(()) => {
            let _ = fs::remove_file(&moved);
        }
        Err(_) => {
            let _ = fs::remove_file(target);
        }
    }
}

/// Gives the new file `temp` the name `target` too, unless `target` exists.
#[cfg(not(windows))]
fn publish(_file: &File, temp: &Path, target: &Path) -> std::io::Result<()> {
    fs::hard_link(temp, target)
}

/// Renames the new file `temp` (open as `file`) to `target`, unless `target`
/// exists. A hard link would leave the temporary name behind while the file is
/// open, as a deleted name stays on Windows (see [`discard`]), and FAT volumes
/// have none.
#[cfg(windows)]
fn publish(file: &File, _temp: &Path, target: &Path) -> std::io::Result<()> {
    windows::rename_new(file, target)
}

/// Creates the missing file `target`, locked before anyone can open it: a new file
/// is locked under a temporary name, then published as `target` (which fails if
/// `target` appeared meanwhile). Returns the file and whether it is locked (`false`
/// where the file system cannot publish it so: then it is created directly, and a
/// writer may lock it first, which the caller's check after locking sorts out);
/// `None` when someone else created it first.
fn create_locked(target: &Path, dir: &Path) -> std::io::Result<Option<(File, bool)>> {
    let (temp, file) = new_temp(dir, target, true)?;
    match lock(&file).and_then(|()| publish(&file, &temp, target)) {
        Ok(()) => {
            // A move leaves nothing under the temporary name; a link does.
            if cfg!(not(windows)) {
                let _ = fs::remove_file(&temp);
            }
            Ok(Some((file, true)))
        }
        Err(e) => {
            // Closed first: Windows keeps a deleted name while the file is open.
            drop(file);
            let _ = fs::remove_file(&temp);
            if e.kind() == ErrorKind::AlreadyExists {
                return Ok(None);
            }
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
