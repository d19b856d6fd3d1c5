//! Every driver call is traced with the message name, id, handle, parameters and
//! answer (target `drvproc::call`, level TRACE).

mod common;

use common::{Captured, Trace, send_numbers_to};
use drvproc::consts::DRV_USER;

#[test]
fn calls_are_traced_with_their_fields() {
    let t = Trace::new();
    let m = t.manager();
    let buffer = Captured::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("drvproc::call=trace")
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let i = m.open(t.path(), None).unwrap();
        // SAFETY: numbers only.
        unsafe { send_numbers_to(&i, DRV_USER + 3, 5, -6) }.unwrap();
    });
    let text = buffer.text();
    let lines: Vec<&str> = text.lines().collect();
    let h = t.take();
    assert_eq!(h.len(), 7, "load, enable, open, user, close, disable, free: {h:?}");
    let expected_tail = "msg=DRV_USER+3 id=4097 hdrvr=".to_string();
    let user_line = lines.iter().find(|l| l.contains(&expected_tail)).expect("the custom message is traced");
    assert!(user_line.contains("DriverProc{driver="), "inside the DriverProc span: {user_line}");
    assert!(user_line.ends_with("l1=5 l2=-6 ret=0"), "{user_line}");
    for msg in ["DRV_LOAD", "DRV_ENABLE", "DRV_OPEN", "DRV_CLOSE", "DRV_DISABLE", "DRV_FREE"] {
        assert!(lines.iter().any(|l| l.contains(&format!(" msg={msg} "))), "{msg} traced:\n{text}");
    }
}
