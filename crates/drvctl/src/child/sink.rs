//! Where the bytes of a child's three pipes go, whichever way the platform reads them.

use std::io::{self, Write};
use std::process::ExitStatus;

use super::{Finished, REPORT_LIMIT, Tail};

/// stdout and stderr keep their last bytes (stderr is copied to ours as it comes with
/// `-v`: the child's call log); the report pipe keeps everything, up to a limit.
pub(super) enum Sink {
    /// The last bytes; and whether to copy each to drvctl's stderr as it comes.
    Tail(Tail, bool),
    Report(Vec<u8>),
}

impl Sink {
    /// Takes `bytes` read from the pipe; false when the pipe is to be read no more (a
    /// report over [`REPORT_LIMIT`]: the child is not telling the truth).
    pub(super) fn take(&mut self, bytes: &[u8]) -> bool {
        match self {
            Sink::Tail(tail, relay) => {
                tail.push(bytes);
                if *relay {
                    crate::output::end_progress();
                    let _ = io::stderr().write_all(bytes);
                }
                true
            }
            Sink::Report(report) if report.len() + bytes.len() <= REPORT_LIMIT => {
                report.extend_from_slice(bytes);
                true
            }
            Sink::Report(_) => false,
        }
    }

    /// What a child whose pipes went to `[stdout, stderr, report]` left.
    pub(super) fn finished(status: Option<ExitStatus>, [_, stderr, report]: [Sink; 3]) -> Finished {
        let stderr = match stderr {
            Sink::Tail(tail, _) => tail,
            Sink::Report(_) => Tail::new(0),
        };
        let report = match report {
            Sink::Report(report) => report,
            Sink::Tail(..) => Vec::new(),
        };
        Finished { status, report, stderr }
    }
}
