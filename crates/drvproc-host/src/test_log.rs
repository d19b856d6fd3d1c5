//! What code under test logs through `tracing`, as text, for tests that assert a
//! warning's words.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer that keeps every byte written to it, shared among its clones.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a subscriber of this thread's that writes each event as a line
/// (its level and message, no time, colour or target); `f`'s result and the text.
pub(crate) fn with_log<R>(f: impl FnOnce() -> R) -> (R, String) {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    (result, text)
}
