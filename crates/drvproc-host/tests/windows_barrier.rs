//! On Windows the close side's process-wide barrier is `FlushProcessWriteBuffers`,
//! so sends skip the fence, unless `DRVPROC_NO_MEMBARRIER` asks for full fences, or
//! the process runs under Wine, whose `FlushProcessWriteBuffers` does nothing.
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

/// Whether this is Wine, whose `FlushProcessWriteBuffers` (8.0) is a stub that orders
/// nothing: there sends must keep their fence.
fn under_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: NUL-terminated names; ntdll is loaded in every process.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

#[test]
fn sends_are_fence_free_unless_the_environment_or_wine_says_otherwise() {
    let native = if under_wine() { "false" } else { "true" };
    for (setting, expected) in [(None, native), (Some("0"), native), (Some("1"), "false")] {
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
