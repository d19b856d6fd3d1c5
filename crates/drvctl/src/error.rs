//! drvctl's errors: one line each, and the exit code they map to.

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command ran and failed (exit code 1).
    #[error("{0}")]
    Failed(String),
    /// The command line was wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// SIGINT, SIGTERM or SIGHUP (on Windows Ctrl-C, Ctrl-Break or the console
    /// closing, numbered as the C runtime's signals) stopped the command while a
    /// driver ran in a child, whose process tree was killed. drvctl then dies of the
    /// signal; should it not, it exits with 128 + the signal's number, as a shell
    /// reports such a death.
    #[error("interrupted by {}: the driver's process was killed", crate::child::interruption_text(*.0))]
    Interrupted(i32),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Interrupted(signal) => (128 + signal).clamp(0, 255) as u8,
        }
    }
}

/// Shorthand for a failure with a formatted message.
macro_rules! failed {
    ($($arg:tt)*) => { $crate::error::CliError::Failed(format!($($arg)*)) };
}
pub(crate) use failed;

macro_rules! from_display {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::Failed(e.to_string())
            }
        }
    )*};
}
from_display!(
    drvproc_host::OpenError,
    drvproc_host::RegistryError,
    drvproc_host::BadHandle,
    drvproc_host::SendError,
    drvproc_host::CloseError,
    serde_json::Error,
    drvproc::wide::InteriorNul
);

/// An I/O error; [`child::run`](crate::child::run)'s interruption keeps its meaning.
impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<crate::child::Interrupted>()) {
            Some(&crate::child::Interrupted(signal)) => CliError::Interrupted(signal),
            None => CliError::Failed(e.to_string()),
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
