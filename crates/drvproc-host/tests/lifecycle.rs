//! The exact message sequences of spec §7.3 (a)–(f), §7.4 and §7.5, as the trace
//! driver records them.

mod common;

use common::{Trace, send_numbers_to, strings};
use drvproc::consts::*;
use drvproc_host::OpenError;

/// Opens with a non-zero lParam2 (the trace driver never dereferences it).
fn open_l2(
    m: &drvproc_host::DriverManager,
    name: &str,
    l2: isize,
) -> Result<drvproc_host::Instance, OpenError> {
    // SAFETY: the trace driver treats lParam2 as a plain number.
    unsafe { m.open_with_number(name, None, l2) }
}

#[test]
fn a_first_open_with_zero_lparam2() {
    let t = Trace::new();
    let m = t.manager();
    let inst = m.open(t.path(), None).unwrap();
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
        ])
    );
    assert_eq!(inst.handle(), t.handle(1));
    assert_eq!(m.instance_count(), 1);
    assert_eq!(m.loaded_module_count(), 1);
}

#[test]
fn b_first_open_with_nonzero_lparam2_opens_a_session_instance() {
    let t = Trace::new();
    let m = t.manager();
    let inst = open_l2(&m, &format!("{} mode=x", t.path()), 0x77).unwrap();
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, \"mode=x\", 0) -> 0x1001",
            "DRV_OPEN(0x0, H2, \"mode=x\", 119) -> 0x1002",
        ])
    );
    assert_eq!(inst.handle(), t.handle(2), "the real instance is returned");
    assert_eq!(m.instance_count(), 2, "the session instance counts");
    assert!(m.close(t.handle(1)).is_err(), "callers cannot close the session instance");
    inst.close().unwrap();
    // (f): the last real instance closes, then the session one, which carries
    // DISABLE and FREE.
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_CLOSE(0x1002, H2, 0, 0) -> 0x1",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    assert_eq!((m.instance_count(), m.loaded_module_count()), (0, 0));
}

#[test]
fn c_later_opens_send_only_drv_open_whatever_lparam2() {
    let t = Trace::new();
    let m = t.manager();
    let _a = m.open(t.path(), None).unwrap();
    t.take();
    let _b = open_l2(&m, t.path(), 5).unwrap();
    let _c = m.open(&format!("{} second args", t.path()), None).unwrap();
    assert_eq!(
        t.take(),
        strings(&["DRV_OPEN(0x0, H2, NULL, 5) -> 0x1002", "DRV_OPEN(0x0, H3, \"second args\", 0) -> 0x1003"])
    );
    assert_eq!(m.instance_count(), 3, "no session instance on later opens");
}

#[test]
fn d_close_of_a_non_last_instance_sends_only_drv_close() {
    let t = Trace::new();
    let m = t.manager();
    let _a = m.open(t.path(), None).unwrap();
    let b = m.open(t.path(), None).unwrap();
    t.take();
    // SAFETY: the trace driver treats DRV_CLOSE's parameters as numbers.
    unsafe { b.close_with(11, 22) }.unwrap();
    assert_eq!(t.take(), strings(&["DRV_CLOSE(0x1002, H2, 11, 22) -> 0x1"]));
    assert_eq!((m.instance_count(), m.loaded_module_count()), (1, 1));
}

#[test]
fn e_close_of_the_last_instance_disables_frees_and_unloads() {
    let t = Trace::new();
    let m = t.manager();
    let a = m.open(t.path(), None).unwrap();
    t.take();
    // SAFETY: as above.
    unsafe { a.close_with(3, 4) }.unwrap();
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_CLOSE(0x1001, H1, 3, 4) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    assert_eq!((m.instance_count(), m.loaded_module_count()), (0, 0));
}

#[test]
fn drv_close_answer_is_ignored() {
    let t = Trace::with(&[("ANSWER", "DRV_CLOSE:0")]);
    let m = t.manager();
    let a = m.open(t.path(), None).unwrap();
    let h = a.handle();
    assert_eq!(a.close(), Ok(()));
    assert!(m.close(h).is_err(), "destroyed anyway");
    assert_eq!(t.take().last().unwrap(), "DRV_FREE(0x0, H1, 0, 0) -> 0x1");
}

#[test]
fn f_session_instance_closes_after_the_last_real_instance_in_either_order() {
    for close_first_opened_first in [true, false] {
        let t = Trace::new();
        let m = t.manager();
        let a = open_l2(&m, t.path(), 1).unwrap(); // H1 session, H2 = a
        let b = m.open(t.path(), None).unwrap(); // H3 = b
        t.take();
        let (first, second, first_name, second_name, first_id, second_id) = if close_first_opened_first {
            (a, b, "H2", "H3", "0x1002", "0x1003")
        } else {
            (b, a, "H3", "H2", "0x1003", "0x1002")
        };
        first.close().unwrap();
        assert_eq!(t.take(), vec![format!("DRV_CLOSE({first_id}, {first_name}, 0, 0) -> 0x1")]);
        second.close().unwrap();
        assert_eq!(
            t.take(),
            vec![
                format!("DRV_CLOSE({second_id}, {second_name}, 0, 0) -> 0x1"),
                "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1".to_string(),
                "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1".to_string(),
                "DRV_FREE(0x0, H1, 0, 0) -> 0x1".to_string(),
            ]
        );
        assert_eq!((m.instance_count(), m.loaded_module_count()), (0, 0));
    }
}

#[test]
fn session_instance_can_be_switched_off() {
    let t = Trace::new();
    let m = drvproc_host::DriverManager::new(t.options().session_instance(false));
    let a = open_l2(&m, t.path(), 9).unwrap();
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 9) -> 0x1001",
        ])
    );
    drop(a);
    assert_eq!(t.take().len(), 3, "close, disable, free");
}

#[test]
fn load_refused_sends_nothing_else_and_unloads() {
    let t = Trace::with(&[("LOAD", "0")]);
    let m = t.manager();
    let err = m.open(t.path(), None).unwrap_err();
    assert!(matches!(err, OpenError::LoadRefused { .. }), "{err}");
    assert_eq!(err.to_string(), format!("{}: the driver refused DRV_LOAD", t.path()));
    assert_eq!(t.take(), strings(&["DRV_LOAD(0x0, H1, 0, 0) -> 0x0"]));
    assert_eq!((m.instance_count(), m.loaded_module_count()), (0, 0));
    assert!(m.flags(t.handle(1)).is_err(), "the handle died with the load");
}

#[test]
fn first_open_refused_sends_disable_and_free() {
    let t = Trace::with(&[("FAIL_OPEN", "1")]);
    let m = t.manager();
    let err = m.open(t.path(), None).unwrap_err();
    assert!(matches!(err, OpenError::OpenRefused { .. }), "{err}");
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x0",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    assert_eq!((m.instance_count(), m.loaded_module_count()), (0, 0));
    // The next open loads afresh (and the driver, counting opens since its load,
    // refuses again).
    assert!(m.open(t.path(), None).is_err());
    assert_eq!(t.take()[0], "DRV_LOAD(0x0, H2, 0, 0) -> 0x1");
}

#[test]
fn later_open_refused_touches_nothing_else() {
    let t = Trace::with(&[("FAIL_OPEN", "2")]);
    let m = t.manager();
    let a = m.open(t.path(), None).unwrap();
    t.take();
    assert!(matches!(m.open(t.path(), None), Err(OpenError::OpenRefused { .. })));
    assert_eq!(t.take(), strings(&["DRV_OPEN(0x0, H2, NULL, 0) -> 0x0"]));
    assert_eq!((m.instance_count(), m.loaded_module_count()), (1, 1));
    drop(a);
}

#[test]
fn session_real_open_refused_closes_the_session_instance_once() {
    let t = Trace::with(&[("FAIL_OPEN", "2")]);
    let m = t.manager();
    assert!(matches!(open_l2(&m, t.path(), 3), Err(OpenError::OpenRefused { .. })));
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x1001",
            "DRV_OPEN(0x0, H2, NULL, 3) -> 0x0",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
    assert_eq!((m.instance_count(), m.loaded_module_count()), (0, 0));
}

#[test]
fn session_open_refused_fails_the_open() {
    let t = Trace::with(&[("FAIL_OPEN", "1")]);
    let m = t.manager();
    assert!(matches!(open_l2(&m, t.path(), 3), Err(OpenError::OpenRefused { .. })));
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_LOAD(0x0, H1, 0, 0) -> 0x1",
            "DRV_ENABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_OPEN(0x0, H1, NULL, 0) -> 0x0",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
}

#[test]
fn sends_reach_the_instance_id_and_answers_come_back_unchanged() {
    let t = Trace::with(&[("ANSWER", "DRV_USER+1:-7,DRV_QUERYCONFIGURE:1")]);
    let m = t.manager();
    let a = m.open(t.path(), None).unwrap();
    let b = m.open(t.path(), None).unwrap();
    t.take();
    // SAFETY: the trace driver treats every parameter as a number.
    unsafe {
        assert_eq!(send_numbers_to(&b, DRV_USER + 1, 1, 2), Ok(-7));
        assert_eq!(send_numbers_to(&a, DRV_USER + 2, -1, 4), Ok(0));
        assert_eq!(a.send(DRV_CLOSE, 0, 0), Ok(1), "forwarded verbatim, not a close");
    }
    assert!(a.query_configure().unwrap());
    assert_eq!(
        t.take(),
        strings(&[
            "DRV_USER+1(0x1002, H2, 1, 2) -> 0xfffffffffffffff9",
            "DRV_USER+2(0x1001, H1, -1, 4) -> 0x0",
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_QUERYCONFIGURE(0x1001, H1, 0, 0) -> 0x1",
        ])
    );
    assert_eq!(m.flags(a.handle()), Ok(drvproc_host::DRIVER_FLAGS_VALID));
}

#[test]
fn dropping_the_manager_closes_what_is_open() {
    let t = Trace::new();
    {
        let m = drvproc_host::DriverManager::new(t.options());
        let h = m.open(t.path(), None).unwrap().into_raw();
        assert!(!h.is_null());
    }
    let seq = t.take();
    assert_eq!(
        &seq[3..],
        strings(&[
            "DRV_CLOSE(0x1001, H1, 0, 0) -> 0x1",
            "DRV_DISABLE(0x0, H1, 0, 0) -> 0x1",
            "DRV_FREE(0x0, H1, 0, 0) -> 0x1",
        ])
    );
}
