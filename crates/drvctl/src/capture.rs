//! Records every message the manager delivers to a driver, from its `tracing` events
//! (target `drvproc::call`), so commands can show exactly what a driver received.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// One delivered message and the driver's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The decoded message name (`DRV_OPEN`, `DRV_USER+3`, ...).
    pub msg: String,
    /// The message number.
    pub code: u32,
    /// `dwDriverId`.
    pub id: u64,
    /// The instance handle.
    pub hdrvr: String,
    pub l1: i64,
    pub l2: i64,
    /// The driver's answer.
    pub ret: i64,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<20} id={:<#8x} h={:<10} l1={:<#16x} l2={:<#16x} -> {}",
            self.msg, self.id, self.hdrvr, self.l1, self.l2, self.ret
        )
    }
}

#[derive(Default)]
struct Fields(Call);

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "l1" => self.0.l1 = value,
            "l2" => self.0.l2 = value,
            "ret" => self.0.ret = value,
            "id" => self.0.id = value as u64,
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "id" => self.0.id = value,
            "code" => self.0.code = value as u32,
            _ => self.record_i64(field, value as i64),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "msg" => self.0.msg = format!("{value:?}"),
            "hdrvr" => self.0.hdrvr = format!("{value:?}"),
            _ => {}
        }
    }
}

struct CaptureLayer {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Print each call as it happens (with this prefix) instead of keeping it.
    live: Option<&'static str>,
}

impl<S: tracing::Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "drvproc::call" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        match self.live {
            Some(prefix) => println!("{prefix}{}", fields.0),
            None => self.calls.lock().unwrap_or_else(PoisonError::into_inner).push(fields.0),
        }
    }
}

/// A capture in force on this thread until dropped.
pub struct Capture {
    calls: Arc<Mutex<Vec<Call>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Capture {
    /// Starts recording the calls made on this thread.
    pub fn start() -> Capture {
        Self::with(None)
    }

    /// Prints the calls made on this thread as they happen, each after `prefix`.
    pub fn live(prefix: &'static str) -> Capture {
        Self::with(Some(prefix))
    }

    fn with(live: Option<&'static str>) -> Capture {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(CaptureLayer { calls: calls.clone(), live });
        let guard = tracing::subscriber::set_default(subscriber);
        Capture { calls, _guard: guard }
    }

    /// The calls recorded since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
