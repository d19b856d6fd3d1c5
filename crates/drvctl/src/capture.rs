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
    /// The instance handle, a number in JSON like every other field (the text
    /// output shows it in hex).
    pub hdrvr: u64,
    pub l1: i64,
    pub l2: i64,
    /// The driver's answer.
    pub ret: i64,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<20} id={:<#8x} h={:<#10x} l1={:<#16x} l2={:<#16x} -> {}",
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
            "hdrvr" => self.0.hdrvr = value as u64,
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "id" => self.0.id = value,
            "code" => self.0.code = value as u32,
            "hdrvr" => self.0.hdrvr = value,
            _ => self.record_i64(field, value as i64),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "msg" => self.0.msg = value.to_string(),
            "hdrvr" => self.0.hdrvr = handle(value).unwrap_or_default(),
            _ => {}
        }
    }

    /// The manager records `msg` and `hdrvr` with `%` (their `Display`), which
    /// arrives here.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"))
    }
}

/// A handle as the manager's event shows it: `0x` hex (how `Hdrvr` displays), or
/// decimal.
fn handle(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
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
        let subscriber = tracing_subscriber::registry()
            .with(CaptureLayer { calls: calls.clone(), live })
            .with(crate::output::call_log());
        let guard = tracing::subscriber::set_default(subscriber);
        Capture { calls, _guard: guard }
    }

    /// The calls recorded since the last `take`.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_parse_from_hex_or_decimal() {
        assert_eq!(handle("0x7f917e000001"), Some(0x7f91_7e00_0001));
        assert_eq!(handle("0X1F"), Some(31));
        assert_eq!(handle("31"), Some(31));
        assert_eq!(handle("0x0"), Some(0));
        assert_eq!(handle("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(handle("handle"), None);
    }

    /// The fields of the manager's `drvproc::call` event, recorded as it records
    /// them; the text line shows the handle in hex as before.
    #[test]
    fn calls_are_captured_with_numeric_handles() {
        let capture = Capture::start();
        let h = drvproc::Hdrvr::from_raw(0x7f91_7e00_0002);
        let name = "DRV_USER+1";
        tracing::trace!(target: "drvproc::call", msg = %name, code = 0x4001u32, id = 2usize, hdrvr = %h, l1 = 1isize, l2 = -2isize, ret = 0isize);
        let calls = capture.take();
        let expected = Call {
            msg: "DRV_USER+1".into(),
            code: 0x4001,
            id: 2,
            hdrvr: 0x7f91_7e00_0002,
            l1: 1,
            l2: -2,
            ret: 0,
        };
        assert_eq!(calls, std::slice::from_ref(&expected));
        assert_eq!(
            serde_json::to_value(&expected).unwrap(),
            serde_json::json!({"msg": "DRV_USER+1", "code": 16385, "id": 2, "hdrvr": 0x7f91_7e00_0002u64, "l1": 1, "l2": -2, "ret": 0})
        );
        assert_eq!(
            expected.to_string(),
            "DRV_USER+1           id=0x2      h=0x7f917e000002 l1=0x1              l2=0xfffffffffffffffe -> 0"
        );
    }
}
