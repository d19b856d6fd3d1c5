//! A C client drives the G.711 codec driver through libdrvproc with the ACM
//! structures of `drvproc.h`, as msacm32 would: every PCM value converts to the code
//! the codec's own sample functions give. Unix only (the platform C compiler).
#![cfg(unix)]

use std::process::Command;

use drvproc_capi_tests::*;

#[test]
fn a_c_client_converts_every_pcm_value_through_the_g711_driver() {
    let dir = tempfile::tempdir().unwrap();
    let client = build_c_program("acm_g711", dir.path());
    let driver = built(&dylib("drvg711"));
    for (tag, encode) in
        [(6u16, drvg711::codec::linear_to_alaw as fn(i16) -> u8), (7, drvg711::codec::linear_to_ulaw)]
    {
        let out = dir.path().join(format!("codes-{tag}"));
        let mut cmd = Command::new(&client);
        cmd.arg(&driver).arg(tag.to_string()).arg(&out).env("DRVPROC_CONFIG", nowhere_config());
        let printed = String::from_utf8(run(cmd).stdout).unwrap();
        assert_eq!(
            printed,
            "format tags: 3\nsize of 131072 source bytes: 65536\nconverted 131072 bytes into 65536 in 132 calls\n"
        );
        let expected: Vec<u8> = (i16::MIN..=i16::MAX).map(encode).collect();
        assert_eq!(std::fs::read(&out).unwrap(), expected, "tag {tag}");
    }
}

fn nowhere_config() -> &'static str {
    "/nonexistent/drvproc-test/system.ini"
}
