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
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
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
    drvproc_host::CloseError,
    std::io::Error,
    serde_json::Error,
    drvproc::wide::InteriorNul
);

pub type CliResult<T = ()> = Result<T, CliError>;
