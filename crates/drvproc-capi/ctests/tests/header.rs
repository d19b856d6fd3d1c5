//! `drvproc.h` and the Rust crate agree: every constant, the DRVCONFIGINFO layout and
//! the type widths, checked by compiling a C program against the header. The header
//!
//! also compiles warning-free as C99 and as C++.
//! Runs the platform C and C++ compilers: Unix only.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::process::Command;

use drvproc::config_info::DrvConfigInfo;
use drvproc_capi_tests::*;

fn header() -> String {
    std::fs::read_to_string(include_dir().join("drvproc.h")).unwrap()
}

/// Names the header `#define`s as values (not include guards or calling conventions).
fn defined_constants() -> Vec<String> {
    let skip = [
        "DRVPROC_H",
        "DRVPROC_STDCALL",
        "WINAPI",
        "CALLBACK",
        "APIENTRY",
        "PASCAL",
        "FAR",
        "TRUE",
        "FALSE",
        "_WAVEFORMATEX_",
    ];
    header()
        .lines()
        .filter_map(|l| {
            l.trim_start().strip_prefix('#')?.trim_start().strip_prefix("define")?.split_whitespace().next()
        })
        .filter(|n| !skip.contains(n))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_constant_matches_and_none_is_missing() {
    let rust: BTreeMap<&str, i64> = drvproc::consts::ALL
        .iter()
        .chain(drvproc::acm::consts::ALL)
        .chain(drvproc::vfw::consts::ALL)
        .copied()
        .collect();
    let header_names = defined_constants();
    let extra: Vec<_> = header_names.iter().filter(|n| !rust.contains_key(n.as_str())).collect();
    assert!(extra.is_empty(), "constants in drvproc.h but not in drvproc::consts: {extra:?}");
    let missing: Vec<_> = rust.keys().filter(|n| !header_names.iter().any(|h| h == *n)).collect();
    assert!(missing.is_empty(), "constants in drvproc::consts but not in drvproc.h: {missing:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut src =
        String::from("#include <stdio.h>\n#include <stddef.h>\n#include <drvproc.h>\nint main(void) {\n");
    for name in rust.keys() {
        src += &format!("    printf(\"{name} %lld\\n\", (long long)({name}));\n");
    }
    for (name, expr) in [
        ("sizeof(DRVCONFIGINFO)", "sizeof(DRVCONFIGINFO)"),
        ("offsetof(dwDCISize)", "offsetof(DRVCONFIGINFO, dwDCISize)"),
        ("offsetof(lpszDCISectionName)", "offsetof(DRVCONFIGINFO, lpszDCISectionName)"),
        ("offsetof(lpszDCIAliasName)", "offsetof(DRVCONFIGINFO, lpszDCIAliasName)"),
        ("sizeof(HDRVR)", "sizeof(HDRVR)"),
        ("sizeof(LPARAM)", "sizeof(LPARAM)"),
        ("sizeof(LRESULT)", "sizeof(LRESULT)"),
        ("sizeof(DWORD_PTR)", "sizeof(DWORD_PTR)"),
        ("sizeof(DWORD)", "sizeof(DWORD)"),
        ("sizeof(UINT)", "sizeof(UINT)"),
        ("sizeof(LONG)", "sizeof(LONG)"),
        ("sizeof(BOOL)", "sizeof(BOOL)"),
        ("sizeof(WCHAR)", "sizeof(WCHAR)"),
        ("sizeof(DRIVERPROC)", "sizeof(DRIVERPROC)"),
    ] {
        src += &format!("    printf(\"{name} %lld\\n\", (long long)({expr}));\n");
    }
    src += "    return 0;\n}\n";
    let c = dir.path().join("consts.c");
    std::fs::write(&c, src).unwrap();
    let exe = dir.path().join("consts");
    let mut cmd = cc();
    cmd.args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I"])
        .arg(include_dir())
        .arg(&c)
        .arg("-o")
        .arg(&exe);
    compile_clean(cmd);
    let out = String::from_utf8(run(Command::new(&exe)).stdout).unwrap();
    let c_values: BTreeMap<String, i64> = out
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    for (name, value) in &rust {
        assert_eq!(c_values[*name], *value, "{name}");
    }
    let ptr = std::mem::size_of::<usize>() as i64;
    let layout = [
        ("sizeof(DRVCONFIGINFO)", std::mem::size_of::<DrvConfigInfo>() as i64),
        ("offsetof(dwDCISize)", std::mem::offset_of!(DrvConfigInfo, dw_dci_size) as i64),
        ("offsetof(lpszDCISectionName)", std::mem::offset_of!(DrvConfigInfo, lpsz_dci_section_name) as i64),
        ("offsetof(lpszDCIAliasName)", std::mem::offset_of!(DrvConfigInfo, lpsz_dci_alias_name) as i64),
        ("sizeof(HDRVR)", std::mem::size_of::<drvproc::Hdrvr>() as i64),
        ("sizeof(LPARAM)", std::mem::size_of::<drvproc::LParam>() as i64),
        ("sizeof(LRESULT)", std::mem::size_of::<drvproc::LResult>() as i64),
        ("sizeof(DWORD_PTR)", std::mem::size_of::<drvproc::DriverId>() as i64),
        ("sizeof(DWORD)", 4),
        ("sizeof(UINT)", std::mem::size_of::<drvproc::Msg>() as i64),
        ("sizeof(LONG)", 4),
        ("sizeof(BOOL)", 4),
        ("sizeof(WCHAR)", 2),
        ("sizeof(DRIVERPROC)", ptr),
    ];
    for (name, value) in layout {
        assert_eq!(c_values[name], value, "{name}");
    }
}

#[test]
fn header_compiles_cleanly_as_c99_c11_and_cpp() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("use.c");
    std::fs::write(
        &c,
        "#include <drvproc.h>\nint main(void) { HDRVR h = OpenDriverA(\"x\", NULL, 0); return h != NULL; }\n",
    )
    .unwrap();
    for std in ["-std=c99", "-std=c11"] {
        let mut cmd = cc();
        cmd.args([std, "-Wall", "-Wextra", "-pedantic", "-Werror", "-fsyntax-only", "-I"])
            .arg(include_dir())
            .arg(&c);
        compile_clean(cmd);
    }
    let cpp = dir.path().join("use.cpp");
    std::fs::write(
        &cpp,
        "#include <drvproc.h>\nint main() { HDRVR h = OpenDriver(u\"sample\", nullptr, 0); return h != nullptr; }\n",
    )
    .unwrap();
    let mut cmd = Command::new(std::env::var_os("CXX").unwrap_or_else(|| "c++".into()));
    cmd.args(["-std=c++11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-fsyntax-only", "-I"])
        .arg(include_dir())
        .arg(&cpp);
    compile_clean(cmd);
}

/// The ACM structures of `drvproc.h` have the layouts of `drvproc::acm::layout`:
/// every size and field offset, compiled and printed by C.
#[test]
fn acm_and_vfw_structures_match_the_rust_layouts() {
    use drvproc::acm::layout::*;
    use std::mem::{offset_of, size_of};
    let rust: Vec<(&str, &str, usize)> = vec![
        ("WAVEFORMATEX", "", size_of::<WaveFormatEx>()),
        ("WAVEFORMATEX", "cbSize", offset_of!(WaveFormatEx, cb_size)),
        ("ACMDRVOPENDESCW", "", size_of::<AcmDrvOpenDescW>()),
        ("ACMDRVOPENDESCW", "dwError", offset_of!(AcmDrvOpenDescW, error)),
        ("ACMDRVOPENDESCW", "pszAliasName", offset_of!(AcmDrvOpenDescW, alias_name)),
        ("ACMDRVOPENDESCW", "dnDevNode", offset_of!(AcmDrvOpenDescW, dev_node)),
        ("ACMDRVSTREAMINSTANCE", "", size_of::<AcmDrvStreamInstance>()),
        ("ACMDRVSTREAMINSTANCE", "fdwOpen", offset_of!(AcmDrvStreamInstance, fdw_open)),
        ("ACMDRVSTREAMINSTANCE", "dwDriver", offset_of!(AcmDrvStreamInstance, dw_driver)),
        ("ACMDRVSTREAMINSTANCE", "has", offset_of!(AcmDrvStreamInstance, has)),
        ("ACMDRVSTREAMHEADER", "", size_of::<AcmDrvStreamHeader>()),
        ("ACMDRVSTREAMHEADER", "cbSrcLengthUsed", offset_of!(AcmDrvStreamHeader, cb_src_length_used)),
        ("ACMDRVSTREAMHEADER", "cbDstLengthUsed", offset_of!(AcmDrvStreamHeader, cb_dst_length_used)),
        ("ACMDRVSTREAMHEADER", "fdwConvert", offset_of!(AcmDrvStreamHeader, fdw_convert)),
        ("ACMDRVSTREAMHEADER", "dwDriver", offset_of!(AcmDrvStreamHeader, dw_driver)),
        ("ACMDRVSTREAMHEADER", "cbPreparedDstLength", offset_of!(AcmDrvStreamHeader, cb_prepared_dst_length)),
        ("ACMDRVSTREAMSIZE", "", size_of::<AcmDrvStreamSize>()),
        ("ACMDRVFORMATSUGGEST", "", size_of::<AcmDrvFormatSuggest>()),
        ("ACMDRVFORMATSUGGEST", "cbwfxDst", offset_of!(AcmDrvFormatSuggest, cbwfx_dst)),
        ("ACMDRIVERDETAILSW", "", size_of::<AcmDriverDetailsW>()),
        ("ACMDRIVERDETAILSW", "hicon", offset_of!(AcmDriverDetailsW, hicon)),
        ("ACMDRIVERDETAILSW", "szFeatures", offset_of!(AcmDriverDetailsW, features)),
        ("ACMFORMATTAGDETAILSW", "", size_of::<AcmFormatTagDetailsW>()),
        ("ACMFORMATTAGDETAILSW", "szFormatTag", offset_of!(AcmFormatTagDetailsW, format_tag_name)),
        ("ACMFORMATDETAILSW", "", size_of::<AcmFormatDetailsW>()),
        ("ACMFORMATDETAILSW", "cbwfx", offset_of!(AcmFormatDetailsW, cbwfx)),
        ("ACMFORMATDETAILSW", "szFormat", offset_of!(AcmFormatDetailsW, format_name)),
        ("BITMAPINFOHEADER", "", size_of::<drvproc::vfw::layout::BitmapInfoHeader>()),
        ("BITMAPINFOHEADER", "biSizeImage", offset_of!(drvproc::vfw::layout::BitmapInfoHeader, size_image)),
        ("ICOPEN", "", size_of::<drvproc::vfw::layout::IcOpen>()),
        ("ICOPEN", "dwError", offset_of!(drvproc::vfw::layout::IcOpen, error)),
        ("ICOPEN", "dnDevNode", offset_of!(drvproc::vfw::layout::IcOpen, dev_node)),
        ("ICINFO", "", size_of::<drvproc::vfw::layout::IcInfo>()),
        ("ICINFO", "szDriver", offset_of!(drvproc::vfw::layout::IcInfo, driver)),
        ("ICCOMPRESS", "", size_of::<drvproc::vfw::layout::IcCompress>()),
        ("ICCOMPRESS", "lFrameNum", offset_of!(drvproc::vfw::layout::IcCompress, frame_num)),
        ("ICCOMPRESS", "lpPrev", offset_of!(drvproc::vfw::layout::IcCompress, prev)),
        ("ICDECOMPRESS", "", size_of::<drvproc::vfw::layout::IcDecompress>()),
        ("ICDECOMPRESS", "ckid", offset_of!(drvproc::vfw::layout::IcDecompress, ckid)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut src =
        String::from("#include <stdio.h>\n#include <stddef.h>\n#include <drvproc.h>\nint main(void) {\n");
    for (ty, field, _) in &rust {
        let expr =
            if field.is_empty() { format!("sizeof({ty})") } else { format!("offsetof({ty}, {field})") };
        src += &format!("    printf(\"{ty}.{field} %lld\\n\", (long long)({expr}));\n");
    }
    src += "    return 0;\n}\n";
    let c = dir.path().join("acm.c");
    std::fs::write(&c, src).unwrap();
    let exe = dir.path().join("acm");
    let mut cmd = cc();
    cmd.args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I"])
        .arg(include_dir())
        .arg(&c)
        .arg("-o")
        .arg(&exe);
    compile_clean(cmd);
    let out = String::from_utf8(run(Command::new(&exe)).stdout).unwrap();
    let c_values: BTreeMap<&str, usize> =
        out.lines().map(|l| l.rsplit_once(' ').unwrap()).map(|(k, v)| (k, v.parse().unwrap())).collect();
    for (ty, field, value) in &rust {
        assert_eq!(c_values[format!("{ty}.{field}").as_str()], *value, "{ty}.{field}");
    }
}
