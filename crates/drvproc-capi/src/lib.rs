//! `libdrvproc`: the driver-manager functions of winmm with their Windows names and
//! the C ABI, over `drvproc-host`'s process-wide manager.
//!
//! Every function is declared and documented in `include/drvproc.h`; this crate owns
//! the C ABI and nothing else. The manager is `DriverManager::global()`: its
//! configuration comes from `$DRVPROC_CONFIG` and its search path from
//! `$DRVPROC_PATH`, read the first time any function here is called.
//!
//! Conventions, as winmm's: failures return 0 / `FALSE` / `NULL` and never crash;
//! no function unwinds into C (a Rust panic is caught and reported as a failure).
//! Because Windows gives no reason for a failed `OpenDriver`, the reason is kept per
//! thread and readable with `drvproc_last_error()`.

mod exports;
mod last_error;
