//! One handle shared by several threads that send to it while another thread closes
//! it: each send gets either the driver's answer or `BadHandle`, a handle once
//! refused stays refused, and the raw trace driver records nothing for the instance
//! after its `DRV_CLOSE`.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{Trace, assert_no_message_after_close, send_numbers, within};
use drvproc::consts::*;
use drvproc::{Hdrvr, LResult};
use drvproc_host::BadHandle;

const SENDERS: usize = 4;
const ROUNDS: usize = 40;
const ANSWER: LResult = 0x77;
/// Sends per thread at most (a close that never takes effect must not loop forever).
const MAX_SENDS: usize = 100_000;

/// What one sender saw: how many sends were answered, and whether every result was
/// the answer or `BadHandle`, with no answer after a refusal.
fn hammer(m: &drvproc_host::DriverManager, h: Hdrvr) -> Result<usize, String> {
    let mut answered = 0;
    for _ in 0..MAX_SENDS {
        // SAFETY: the trace driver treats the parameters as numbers.
        match unsafe { send_numbers(m, h, DRV_USER, 1, 2) } {
            Ok(ANSWER) => answered += 1,
            Err(BadHandle(bad)) if bad == h => {
                // Refused once: refused for good.
                // SAFETY: as above.
                return match unsafe { send_numbers(m, h, DRV_USER, 1, 2) } {
                    Err(BadHandle(_)) => Ok(answered),
                    other => Err(format!("{h}: a send after a refusal returned {other:?}")),
                };
            }
            other => return Err(format!("{h}: a send returned {other:?}, not Ok({ANSWER}) or BadHandle")),
        }
    }
    Err(format!("{h}: still answered after {MAX_SENDS} sends: the close did not take effect"))
}

#[test]
fn sends_on_one_handle_racing_its_close_get_the_answer_or_bad_handle() {
    let t = Trace::with(&[("ANSWER", "DRV_USER:0x77"), ("SLEEP", "DRV_USER:50")]);
    let m = t.manager();
    // Keeps the module loaded, so instance ids are unique over the whole test.
    let _keep = m.open(t.path(), None).unwrap();
    let mut instances = Vec::new();
    for round in 0..ROUNDS {
        let h = m.open(t.path(), None).unwrap().into_raw();
        let id = t.records().last().map(|r| r.ret as usize).expect("DRV_OPEN recorded");
        let delay = Duration::from_micros((round as u64 * 37) % 500);
        let m2 = m.clone();
        let (delivered, closed) = within(Duration::from_secs(10), "sends racing a close", move || {
            let start = Arc::new(Barrier::new(SENDERS + 1));
            let senders: Vec<_> = (0..SENDERS)
                .map(|_| {
                    let (m, start) = (m2.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        hammer(&m, h)
                    })
                })
                .collect();
            let closer = {
                let (m, start) = (m2.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    std::thread::sleep(delay);
                    m.close(h)
                })
            };
            let closed = closer.join().expect("closer thread");
            let results: Vec<Result<usize, String>> =
                senders.into_iter().map(|s| s.join().expect("sender thread")).collect();
            (results, closed)
        });
        assert_eq!(closed, Ok(()), "round {round}: the close");
        let mut total = 0;
        for result in delivered {
            total += result.unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        instances.push((h, id, total));
    }
    assert_eq!(m.instance_count(), 1);
    let records = t.records();
    for (h, id, delivered) in instances {
        assert_no_message_after_close(&records, h, id, delivered);
    }
}
