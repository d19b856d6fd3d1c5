//! Instances used from thread-local destructors: a thread that keeps its instance in
//! a `thread_local!` closes it when it exits, after the manager's own per-thread
//! state may already be gone. The process must survive, and the driver must get the
//! full close sequence.
//!
//! A failure here aborts the process, so each scenario runs in a child process (this
//! test binary, re-run with the scenario selected) and the parent checks its exit
//! status, what it reported, and the trace.

mod common;

use std::cell::RefCell;
use std::time::Duration;

use common::{Trace, nowhere, run_scenario_in_child, scenario_arg, send_numbers_to, strings};
use drvproc::consts::*;
use drvproc_host::{DriverManager, Instance, ManagerOptions};

const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

fn manager() -> DriverManager {
    DriverManager::new(ManagerOptions::new().config_path(nowhere()))
}

thread_local! {
    /// An instance owned by its thread, closed by the thread-local's destructor.
    static HELD: RefCell<Option<Instance>> = const { RefCell::new(None) };
}

/// In the child: a thread opens the driver, keeps the instance in a thread-local,
/// sends to it, and exits; the thread-local's destructor closes it.
fn play_instance_held_in_a_thread_local(lib: String) {
    let m = manager();
    let worker = {
        let m = m.clone();
        std::thread::spawn(move || {
            let instance = m.open(&lib, None).expect("open the trace driver");
            HELD.with(|held| *held.borrow_mut() = Some(instance));
            // SAFETY: the trace driver treats every parameter as a number.
            let answer = HELD
                .with(|held| unsafe { held.borrow().as_ref().map(|i| send_numbers_to(i, DRV_USER, 1, 2)) });
            println!("scenario: send -> {answer:?}");
        })
    };
    let joined = worker.join();
    println!("scenario: thread joined: {}", joined.is_ok());
    println!("scenario: instances left: {}", m.instance_count());
}

#[test]
fn an_instance_in_a_thread_local_is_closed_when_its_thread_exits() {
    const NAME: &str = "an_instance_in_a_thread_local_is_closed_when_its_thread_exits";
    if let Some(lib) = scenario_arg(NAME) {
        return play_instance_held_in_a_thread_local(lib);
    }
    let t = Trace::new();
    let run = run_scenario_in_child(NAME, t.path(), CHILD_TIMEOUT);
    run.assert_success("closing an instance from a thread-local destructor");
    assert_eq!(
        run.reported(),
        strings(&["send -> Some(Ok(0))", "thread joined: true", "instances left: 0"]),
        "{}",
        run.stdout
    );
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_USER+0(0x1001, H1, 1, 2) -> 0x0",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
}

/// Sends to its instance, then closes it, when dropped.
struct SendsWhenDropped(Option<Instance>);

impl Drop for SendsWhenDropped {
    fn drop(&mut self) {
        if let Some(instance) = self.0.take() {
            // SAFETY: numbers only.
            let answer = unsafe { send_numbers_to(&instance, DRV_USER + 2, 3, 4) };
            println!("scenario: send from a thread-local destructor -> {answer:?}");
            println!("scenario: close from a thread-local destructor -> {:?}", instance.close());
        }
    }
}

thread_local! {
    static SENDER: RefCell<SendsWhenDropped> = const { RefCell::new(SendsWhenDropped(None)) };
}

/// In the child: as above, but the destructor also sends a message before closing.
fn play_send_from_a_thread_local_destructor(lib: String) {
    let m = manager();
    let worker = {
        let m = m.clone();
        std::thread::spawn(move || {
            let instance = m.open(&lib, None).expect("open the trace driver");
            SENDER.with(|s| s.borrow_mut().0 = Some(instance));
            // SAFETY: numbers only.
            let answer = SENDER
                .with(|s| unsafe { s.borrow().0.as_ref().map(|i| send_numbers_to(i, DRV_USER + 1, 1, 2)) });
            println!("scenario: send -> {answer:?}");
        })
    };
    let joined = worker.join();
    println!("scenario: thread joined: {}", joined.is_ok());
    println!("scenario: instances left: {}", m.instance_count());
}

#[test]
fn an_instance_can_be_sent_to_from_a_thread_local_destructor() {
    const NAME: &str = "an_instance_can_be_sent_to_from_a_thread_local_destructor";
    if let Some(lib) = scenario_arg(NAME) {
        return play_send_from_a_thread_local_destructor(lib);
    }
    let t = Trace::with(&[("ANSWER", "DRV_USER+2:77")]);
    let run = run_scenario_in_child(NAME, t.path(), CHILD_TIMEOUT);
    run.assert_success("sending from a thread-local destructor");
    assert_eq!(
        run.reported(),
        strings(&[
            "send -> Some(Ok(0))",
            "send from a thread-local destructor -> Ok(77)",
            "close from a thread-local destructor -> Ok(())",
            "thread joined: true",
            "instances left: 0",
        ]),
        "{}",
        run.stdout
    );
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_USER+1(0x1001, H1, 1, 2) -> 0x0",
            "DRV_USER+2(0x1001, H1, 3, 4) -> 0x4d",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
}
