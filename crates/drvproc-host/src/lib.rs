//! # drvproc-host
//!
//! The installable-driver manager: it finds drivers by file name or alias, loads
//! them, opens instances and delivers messages with the exact order of the Windows
//! driver manager (spec §7), with safe handles, thread safety and re-entrancy.
//!
//! * [`DriverManager`]: `open` / `send` / `close` / `module_handle` / `flags`, and
//!   drivers that are functions in this process ([`DriverManager::register_function`]);
//! * [`Instance`]: an owned open instance, closed on drop, with typed wrappers;
//! * [`Registry`]: the `system.ini`-format configuration (aliases per section);
//! * [`probe_library`]: whether a file maps as a driver, judged exactly as `open`
//!   judges it (for tools that report on drivers);
//! * [`driver_callback`] with the portable [`Event`] and [`MessageQueue`] targets.
//!
//! Calls into drivers are traced with `tracing` spans (target `drvproc::call`, level
//! TRACE) carrying the message name, id, handle, parameters and answer; with no
//! subscriber in the process they cost one atomic load per call.

mod barrier;
mod callback;
mod error;
mod handle_table;
mod ini;
mod instance;
mod lifecycle;
mod loader;
mod manager;
mod module;
mod modules;
mod options;
mod registry;
mod resolve;

/// Whether sends use the light barrier (Linux `membarrier` available) rather than a
/// full fence each; see the handle table's design notes.
pub use barrier::expedited as sends_are_fence_free;
pub use callback::{DEFAULT_QUEUE_CAPACITY, Event, MessageQueue, PostedMessage, driver_callback};
pub use drvproc::def_driver_proc;
pub use error::{BadHandle, OpenError};
pub use ini::{IniDocument, IniSyntaxError};
pub use instance::Instance;
pub use loader::{LoadError, probe_library};
pub use manager::{DRIVER_FLAGS_VALID, DriverManager};
pub use options::ManagerOptions;
pub use registry::{DRIVERS32, Registry, RegistryError};
pub use resolve::split_entry;
