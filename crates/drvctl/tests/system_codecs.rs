//! On Windows (and under Wine) drvctl opens the codecs the system ships, by the bare
//! names the system's own registry gives them: Microsoft's RLE video codec and IMA
//! ADPCM audio codec are installable drivers that Windows and Wine both provide.
#![cfg(windows)]

mod common;

use common::*;

#[test]
fn check_passes_a_system_codec_by_its_bare_name() {
    let (code, out, err) =
        run(drvctl(&["check", "msrle32.dll", "--config", "/nonexistent/x.ini", "--timeout", "10"]));
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(out.ends_with("9 of 9 rules pass\n"), "{out}");
}

#[test]
fn doctor_and_send_open_system_codecs_by_alias() {
    let s = Scratch::new();
    s.write_config("[drivers32]\r\nvidc.mrle=msrle32.dll\r\nmsacm.imaadpcm=imaadp32.acm\r\n");
    let (code, out, err) = run(s.drvctl(&["doctor"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok     [drivers32] vidc.mrle = msrle32.dll: loads and opens"), "{out}");
    assert!(out.contains("\nok     [drivers32] msacm.imaadpcm = imaadp32.acm: loads and opens"), "{out}");
    assert!(out.ends_with("2 entries, 0 broken\n"), "{out}");
    let (code, out, err) = run(s.drvctl(&["send", "vidc.mrle", "DRV_QUERYCONFIGURE"]));
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(out.starts_with("DRV_QUERYCONFIGURE answered "), "{out}");
}
