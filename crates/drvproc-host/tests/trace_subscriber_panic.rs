//! A trace subscriber that panics inside a driver call's span: the close it
//! interrupts still finishes. A test binary of its own, because `tracing` caches
//! which call sites are enabled process-wide, and other tests' threads would race
//! with this one's scoped subscriber.

mod common;

use drvproc::consts::*;
use drvproc::{Hdrvr, LParam, LResult};
use drvproc_host::{DriverManager, ManagerOptions};

unsafe extern "system" fn quick_proc(_id: usize, _h: Hdrvr, msg: u32, _l1: LParam, _l2: LParam) -> LResult {
    match msg {
        DRV_OPEN => 7,
        _ => 1,
    }
}

/// A trace subscriber that panics when a driver call's span is made.
struct PanickingSubscriber;

impl tracing::Subscriber for PanickingSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        if attrs.metadata().target() == "drvproc::call" {
            panic!("the subscriber panics");
        }
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// A close that unwinds out of a trace subscriber still finishes: the instance is
/// gone, the module unloaded, and the process does not abort (the guards that finish
/// the close call the driver again while unwinding).
#[test]
fn a_close_unwinding_from_a_trace_subscriber_still_finishes() {
    let m = DriverManager::new(ManagerOptions::new().config_path(common::nowhere()));
    m.register_function("quick2", quick_proc).unwrap();
    let i = m.open("quick2", None).unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tracing::subscriber::with_default(PanickingSubscriber, || {
            let _ = i.close();
        })
    }));
    assert!(unwound.is_err(), "the subscriber's panic reaches the caller");
    assert_eq!(m.instance_count(), 0);
    assert_eq!(m.loaded_module_count(), 0);
    // The module loads afresh.
    let again = m.open("quick2", None).unwrap();
    again.close().unwrap();
}
