//! What the benches share: the drivers they measure and a manager that reads no
//! configuration.

use std::path::PathBuf;

use drvproc_host::{DriverManager, ManagerOptions};

/// `drvnull`: the smallest conforming driver.
pub fn null_driver() -> PathBuf {
    built_driver("drvnull")
}

/// `drvnullsdk`: answers like `drvnull`, through the SDK's `export_driver!`.
#[allow(dead_code, reason = "not every bench measures the SDK driver")]
pub fn null_sdk_driver() -> PathBuf {
    built_driver("drvnullsdk")
}

/// `drvg711`: the G.711 ACM codec.
#[allow(dead_code, reason = "not every bench measures a codec")]
pub fn g711_driver() -> PathBuf {
    built_driver("drvg711")
}

/// A driver library built beside the bench binary (a dev-dependency `cdylib`).
fn built_driver(lib: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("bench binary path");
    let name = format!("{}{lib}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("bench directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// A manager with no registry file and no search path: the figures are the
/// manager's own.
pub fn manager() -> DriverManager {
    DriverManager::new(options())
}

/// The options of [`manager`], for a bench that adds to them.
pub fn options() -> ManagerOptions {
    ManagerOptions::new()
        .config_path("/nonexistent/drvproc-bench/system.ini")
        .search_path(Vec::<PathBuf>::new())
}
