//! A driver written with the SDK, unloaded by its last close, on a thread that then
//! exits: nothing of the unmapped library may run at that thread's exit. Played in a
//! child process, since a failure kills the process at thread exit.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{nowhere, run_scenario_in_child, scenario_arg};
use drvproc_host::{DriverManager, ManagerOptions};

/// The SDK's sample driver, built beside this test binary (a dev-dependency).
fn sample_driver() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let name = format!("{}drvsample{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let path = exe.parent().expect("test binary directory").join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

#[test]
fn threads_that_loaded_and_unloaded_an_sdk_driver_exit_cleanly() {
    const NAME: &str = "threads_that_loaded_and_unloaded_an_sdk_driver_exit_cleanly";
    if let Some(path) = scenario_arg(NAME) {
        let manager = DriverManager::new(ManagerOptions::new().config_path(nowhere()));
        for _ in 0..3 {
            let m = manager.clone();
            let path = path.clone();
            // DRV_LOAD .. DRV_FREE on this thread, then the library is unmapped, then
            // the thread exits.
            std::thread::spawn(move || {
                let instance = m.open(&path, None).expect("open the sample driver");
                instance.close().expect("close it");
                assert_eq!(m.instance_count(), 0);
            })
            .join()
            .expect("the thread");
        }
        println!("scenario: done");
        return;
    }
    let run = run_scenario_in_child(NAME, sample_driver().to_str().unwrap(), Duration::from_secs(60));
    run.assert_success("load, unload, thread exit");
    assert_eq!(run.reported(), ["done"]);
}
