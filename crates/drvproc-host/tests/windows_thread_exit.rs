//! On Windows (key-based thread-locals, destroyed newest key first) a thread-local
//! whose key was made before the manager's own per-thread state is destroyed after
//! it: closing an instance from its destructor must still work. The child process
//! (this binary, re-run) aborts if it does not.
#![cfg(windows)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::Command;

use drvproc_host::{DriverManager, Instance, ManagerOptions};

const CHILD: &str = "DRVPROC_TEST_THREAD_EXIT_CHILD";

thread_local! {
    /// Made (in the child) before the manager is ever used, so destroyed after its state.
    static EARLY: RefCell<Option<Instance>> = const { RefCell::new(None) };
}

fn built_null_driver() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("test binary directory").join("drvnull.dll")
}

#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    EARLY.with(|_| {});
    let m = DriverManager::new(ManagerOptions::new().config_path("Z:\\nonexistent\\system.ini"));
    let worker = {
        let m = m.clone();
        std::thread::spawn(move || {
            let instance = m.open(built_null_driver().to_str().unwrap(), None).expect("open");
            EARLY.with(|early| *early.borrow_mut() = Some(instance));
        })
    };
    println!("joined: {}", worker.join().is_ok());
    println!("instances left: {}", m.instance_count());
}

#[test]
fn an_instance_is_closed_from_a_thread_local_destroyed_after_the_managers_state() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("joined: true\ninstances left: 0\n"), "{stdout}");
}
