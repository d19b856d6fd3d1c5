//! The sample driver of the "Creating a DriverProc function" chapter, in safe Rust.
//!
//! It accepts `DRV_LOAD`, `DRV_ENABLE`, `DRV_OPEN`, `DRV_CLOSE`, `DRV_DISABLE`,
//! `DRV_FREE`, `DRV_INSTALL` (`DRVCNF_OK`) and `DRV_REMOVE`, answers 0 to
//! `DRV_QUERYCONFIGURE` and `DRVCNF_OK` to `DRV_CONFIGURE`, and leaves everything else
//! to `DefDriverProc`. Build it with `cargo build -p drvproc-sample`: the result is
//! `libdrvsample.so` on Linux and `drvsample.dll` on Windows, both exporting `DriverProc`.

use drvproc::config_info::ConfigInfo;
use drvproc::consts::{DRV_OK, DRVCNF_OK};
use drvproc::sdk::{Context, Driver, Instance, OpenParams};
use drvproc::{Hdrvr, LParam, LResult};

/// The module: no state beyond being loaded.
#[derive(Default)]
pub struct Sample;

/// One open instance; it remembers the args string it was opened with.
pub struct SampleInstance {
    args: Option<String>,
}

impl Driver for Sample {
    type Instance = SampleInstance;

    fn open(&self, params: &OpenParams) -> Option<SampleInstance> {
        tracing::debug!(args = ?params.args, "sample: DRV_OPEN");
        Some(SampleInstance { args: params.args.clone() })
    }

    fn install(&self, _h: Hdrvr, _parent: LParam, config: Option<&ConfigInfo>) -> LResult {
        tracing::debug!(?config, "sample: DRV_INSTALL");
        DRVCNF_OK
    }

    fn remove(&self, _h: Hdrvr) -> LResult {
        DRVCNF_OK
    }

    fn query_configure(&self, _h: Hdrvr) -> LResult {
        0
    }

    fn configure(&self, _h: Hdrvr, _parent: LParam, _config: Option<&ConfigInfo>) -> LResult {
        DRVCNF_OK
    }
}

impl Instance<Sample> for SampleInstance {
    fn close(&self, _cx: &Context<'_, Sample>, _l1: LParam, _l2: LParam) -> LResult {
        tracing::debug!(args = ?self.args, "sample: DRV_CLOSE");
        DRV_OK
    }
}

drvproc::export_driver!(Sample);

#[cfg(test)]
mod tests {
    use super::*;
    use drvproc::consts::*;
    use drvproc::def_driver_proc;
    use drvproc::wide::WideString;

    const H: Hdrvr = Hdrvr::from_raw(0x77);

    fn send(id: usize, msg: u32) -> LResult {
        // SAFETY: no message sent here carries a pointer.
        unsafe { DriverProc(id, H, msg, 0, 0) }
    }

    #[test]
    fn answers_like_the_chapter_sample() {
        assert_eq!(send(0, DRV_LOAD), 1);
        assert_eq!(send(0, DRV_ENABLE), 1);
        let args = WideString::new("rate=44100").unwrap();
        // SAFETY: lParam1 is a live NUL-terminated UTF-16 string.
        let id = unsafe { DriverProc(0, H, DRV_OPEN, args.as_ptr() as LParam, 0) } as usize;
        assert_ne!(id, 0);
        assert_eq!(send(id, DRV_INSTALL), DRVCNF_OK);
        assert_eq!(send(id, DRV_REMOVE), DRVCNF_OK);
        assert_eq!(send(id, DRV_QUERYCONFIGURE), 0);
        assert_eq!(send(id, DRV_CONFIGURE), DRVCNF_OK);
        for msg in [DRV_POWER, DRV_EXITSESSION, DRV_RESERVED + 1, DRV_USER, DRV_USER + 42] {
            assert_eq!(send(id, msg), def_driver_proc(id, H, msg, 0, 0));
        }
        assert_eq!(send(id, DRV_CLOSE), 1);
        assert_eq!(send(0, DRV_DISABLE), 1);
        assert_eq!(send(0, DRV_FREE), 1);
    }
}
