//! The report a child step sends cannot be forged by the driver it runs: the
//! descriptor's number is gone from the environment before the driver loads, and a
//! child that does not exit cleanly after reporting never passes.
#![cfg(target_os = "linux")]

mod common;
mod diagnose_samples;

use common::{Scratch, path_str, run};

/// On DRV_LOAD, writes a passing verdict to the descriptor drvctl names in the
/// environment (or, without it, to 3, the number it had) and ends the process.
const FORGER: &str = r#"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
long DriverProc(unsigned long id, void *h, unsigned int msg, long l1, long l2) {
    if (msg == 1) {
        const char *name = getenv("DRVCTL_REPORT_FD");
        int fd = name ? atoi(name) : 3;
        const char *forged = "report {\"pass\":true,\"evidence\":\"forged\"}\n";
        write(fd, forged, strlen(forged));
        _exit(0);
    }
    return 1;
}
"#;

#[test]
fn a_driver_cannot_forge_a_passing_verdict() {
    let s = Scratch::new();
    let forger = diagnose_samples::c_library(s.dir.path(), "forger", FORGER);
    let (code, out, err) = run(s.drvctl(&["check", "--timeout", "5", path_str(&forger)]));
    assert!(!out.contains("9 of 9 rules pass"), "a forged verdict passed\n{out}{err}");
    assert!(!out.contains("forged"), "a forged verdict was taken as evidence\n{out}{err}");
    assert_eq!(code, 1, "{out}{err}");
}
