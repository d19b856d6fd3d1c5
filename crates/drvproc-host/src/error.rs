//! Errors of the manager API. Each says which step failed and why, in one line.

use drvproc::Hdrvr;

use crate::registry::RegistryError;

/// Why an open failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The name is empty or holds a NUL character.
    #[error("invalid driver name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Neither a file nor an alias of that name exists.
    #[error("{name}: not found {looked}")]
    NotFound {
        /// The name given.
        name: String,
        /// Where it was looked for.
        looked: String,
    },
    /// The file exists but the platform loader refused it.
    #[error("{path}: cannot load: {message}")]
    NotLoadable {
        /// The file.
        path: String,
        /// The loader's message.
        message: String,
    },
    /// The library loaded but exports no `DriverProc`.
    #[error("{path}: not a driver: no DriverProc export")]
    NoDriverProc {
        /// The file.
        path: String,
    },
    /// The driver answered 0 to `DRV_LOAD`.
    #[error("{driver}: the driver refused DRV_LOAD")]
    LoadRefused {
        /// The driver's file or alias.
        driver: String,
    },
    /// The driver answered 0 to `DRV_OPEN`.
    #[error("{driver}: the driver refused DRV_OPEN")]
    OpenRefused {
        /// The driver's file or alias.
        driver: String,
    },
    /// An isolated driver's open failed in a way no driver answers: its host
    /// process died (or was killed for hanging), or `DRV_LOAD`/`DRV_OPEN`'s
    /// parameters could not be carried to it. `reason` names the driver, the
    /// message and what happened.
    #[error("{reason}")]
    HostFailed {
        /// The driver's file or alias.
        driver: String,
        /// What happened, in words.
        reason: String,
    },
    /// Isolation was asked for (by the open or by the registry's marker of the
    /// alias) of a driver that cannot be hosted in a process of its own.
    #[error("{name}: cannot be hosted in a process of its own: {reason}")]
    CannotIsolate {
        /// The name given.
        name: String,
        /// Why not.
        reason: &'static str,
    },
    /// A driver tried to open its own module from inside its `DRV_DISABLE`/`DRV_FREE`.
    #[error("{driver}: cannot open a module while it is being unloaded by the same thread")]
    Unloading {
        /// The driver's file or alias.
        driver: String,
    },
    /// The handle table is full.
    #[error("too many open driver instances (at most {limit})")]
    TooManyInstances {
        /// The limit.
        limit: usize,
    },
    /// The registry file could not be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// A handle that names no open instance of this manager: 0, random, stale, closed,
/// or another manager's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bad driver handle {0}")]
pub struct BadHandle(pub Hdrvr);

/// Why a close failed. The instance is untouched either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    /// The handle names no open instance of this manager.
    #[error(transparent)]
    BadHandle(#[from] BadHandle),
    /// A close with `DRV_CLOSE` parameters would wait for ever for the sends in
    /// progress on the instance: a thread inside one of them is itself waiting to
    /// close an instance this thread is inside a message to. The instance stays open;
    /// close it after this message returns. (A close without parameters never fails
    /// this way: it is finished by the last of those sends.)
    #[error(
        "closing driver handle {0} would deadlock: a message in progress on it waits for this thread's own"
    )]
    WouldDeadlock(Hdrvr),
}

/// More driver managers are alive at once than handles can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many driver managers alive at once (at most {max})")]
pub struct TooManyManagers {
    /// The limit.
    pub max: usize,
}
