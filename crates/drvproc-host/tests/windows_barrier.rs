//! On Windows the close side's process-wide barrier is `FlushProcessWriteBuffers`,
//! so sends skip the fence, unless `DRVPROC_NO_MEMBARRIER` asks for full fences.
//! The choice is made once per process, so each case runs in a child process.
#![cfg(windows)]

use std::process::Command;

use drvproc_host::{DriverManager, ManagerOptions};

/// Set in the child: what `sends_are_fence_free` must say there.
const EXPECT: &str = "DRVPROC_TEST_EXPECT_FENCE_FREE";

#[test]
fn the_barrier_choice() {
    let Ok(expected) = std::env::var(EXPECT) else { return };
    let _m = DriverManager::new(ManagerOptions::new().config_path("Z:\\nonexistent\\system.ini"));
    assert_eq!(drvproc_host::sends_are_fence_free().to_string(), expected);
}

#[test]
fn sends_are_fence_free_unless_the_environment_says_otherwise() {
    for (setting, expected) in [(None, "true"), (Some("0"), "true"), (Some("1"), "false")] {
        let mut child = Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", "the_barrier_choice", "--nocapture"]).env(EXPECT, expected);
        match setting {
            Some(v) => child.env("DRVPROC_NO_MEMBARRIER", v),
            None => child.env_remove("DRVPROC_NO_MEMBARRIER"),
        };
        let out = child.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "DRVPROC_NO_MEMBARRIER={setting:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
