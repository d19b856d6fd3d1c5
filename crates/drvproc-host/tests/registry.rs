//! The registry file: Wine's layout, comments, duplicates, case, broken lines and
//! concurrent writers.

use std::sync::Arc;

use drvproc_host::{IniDocument, Registry, RegistryError};

const WINE_LAYOUT: &str = "[mci]\r\ncdaudio=mcicda.drv\r\nsequencer=mciseq.drv\r\nwaveaudio=mciwave.drv\r\n\
avivideo=mciavi.drv\r\nvideodisc=mcipionr.drv\r\nvcr=mciviscd.drv\r\nMPEGVideo=mciqtz.drv\r\n\
MPEGVideo2=mciqtz.drv\r\n[drivers32]\r\nmsacm.imaadpcm=imaadp32.acm\r\nmsacm.msadpcm=msadp32.acm\r\n\
msacm.msg711=msg711.acm\r\nmsacm.msgsm610=msgsm32.acm\r\nvidc.mrle=msrle32.dll\r\nvidc.msvc=msvidc32.dll\r\n\
vidc.cvid=iccvid.dll\r\nMSACM.winemp3=winemp3.acm\r\nwavemapper=msacm32.drv\r\nmidimapper=midimap.dll\r\n\
[drivers]\r\nwave=mmdrv.dll\r\ntimer=timer.drv\r\n[386enh]\r\nwoafont=dosapp.fon\r\n";

fn registry_with(text: &str) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, text).unwrap();
    (dir, Registry::new(path))
}

#[test]
fn wine_layout_reads_with_any_case() {
    let (_d, r) = registry_with(WINE_LAYOUT);
    assert_eq!(r.lookup("Drivers32", "msacm.imaadpcm").unwrap().as_deref(), Some("imaadp32.acm"));
    assert_eq!(r.lookup("DRIVERS32", "msacm.WINEMP3").unwrap().as_deref(), Some("winemp3.acm"));
    assert_eq!(r.lookup("MCI", "mpegvideo").unwrap().as_deref(), Some("mciqtz.drv"));
    assert_eq!(r.lookup("mci", "nothing").unwrap(), None);
    let doc = r.read().unwrap();
    assert_eq!(doc.sections(), ["mci", "drivers32", "drivers", "386enh"]);
    assert_eq!(doc.entries("drivers32").len(), 10);
}

#[test]
fn writes_keep_comments_order_and_line_endings() {
    let text =
        "; installed drivers\r\n[drivers32]\r\n; codecs\r\nmsacm.a=a.acm\r\n\r\n[mci]\r\ncd=cd.drv\r\n";
    let (_d, r) = registry_with(text);
    assert_eq!(r.set_entry("Drivers32", "msacm.b", "b.acm x=1").unwrap(), None);
    assert_eq!(r.set_entry("drivers32", "MSACM.A", "a2.acm").unwrap().as_deref(), Some("a.acm"));
    assert_eq!(
        std::fs::read_to_string(r.path()).unwrap(),
        "; installed drivers\r\n[drivers32]\r\n; codecs\r\nMSACM.A=a2.acm\r\nmsacm.b=b.acm x=1\r\n\r\n[mci]\r\ncd=cd.drv\r\n"
    );
    assert_eq!(r.remove_entry("DRIVERS32", "msacm.b").unwrap().as_deref(), Some("b.acm x=1"));
    assert_eq!(r.remove_entry("drivers32", "msacm.b").unwrap(), None);
    assert_eq!(
        std::fs::read_to_string(r.path()).unwrap(),
        "; installed drivers\r\n[drivers32]\r\n; codecs\r\nMSACM.A=a2.acm\r\n\r\n[mci]\r\ncd=cd.drv\r\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(r.path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn duplicates_first_wins_and_set_collapses_them() {
    let (_d, r) = registry_with("[drivers32]\nx=first.so\nx=second.so\n");
    assert_eq!(r.lookup("drivers32", "X").unwrap().as_deref(), Some("first.so"));
    r.set_entry("drivers32", "x", "third.so").unwrap();
    assert_eq!(std::fs::read_to_string(r.path()).unwrap(), "[drivers32]\nx=third.so\n");
}

#[test]
fn broken_lines_are_reported_and_do_not_block_reads_or_writes() {
    let (_d, r) = registry_with("[drivers32]\nok=a.so\n[broken\n");
    assert_eq!(r.lookup("drivers32", "ok").unwrap().as_deref(), Some("a.so"));
    let warnings: Vec<String> = r.read().unwrap().warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings, ["line 3: section header without ']', skipped: \"[broken\""]);
    r.set_entry("drivers32", "new", "n.so").unwrap();
    assert_eq!(std::fs::read_to_string(r.path()).unwrap(), "[drivers32]\nok=a.so\nnew=n.so\n[broken\n");
}

#[test]
fn invalid_entries_are_refused_and_nothing_is_written() {
    let (_d, r) = registry_with("[drivers32]\n");
    for (alias, value) in
        [("a=b", "x.so"), ("a\nb", "x.so"), ("[a", "x.so"), ("a", "x.so\n[evil]"), ("", "x")]
    {
        assert!(matches!(r.set_entry("drivers32", alias, value), Err(RegistryError::Invalid { .. })));
    }
    assert!(r.set_entry("drivers]", "a", "x").is_err());
    assert_eq!(std::fs::read_to_string(r.path()).unwrap(), "[drivers32]\n");
}

#[test]
fn missing_file_reads_empty_and_is_created_on_write() {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::new(dir.path().join("sub").join("system.ini"));
    assert_eq!(r.lookup("drivers32", "a").unwrap(), None);
    r.set_entry("Drivers32", "a", "a.so").unwrap();
    assert_eq!(std::fs::read_to_string(r.path()).unwrap(), "[Drivers32]\na=a.so\n");
}

#[test]
fn cached_reads_see_outside_changes() {
    let (_d, r) = registry_with("[drivers32]\na=1.so\n");
    assert_eq!(r.lookup("drivers32", "a").unwrap().as_deref(), Some("1.so"));
    std::fs::write(r.path(), "[drivers32]\na=2.so\n").unwrap();
    assert_eq!(r.lookup("drivers32", "a").unwrap().as_deref(), Some("2.so"));
}

#[test]
fn concurrent_writers_lose_nothing() {
    let (_d, r) = registry_with("; keep me\n[drivers32]\nbase=base.so\n");
    let path = r.path().to_path_buf();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each writer has its own Registry (its own cache and lock handle),
                // like separate processes.
                let r = Registry::new(path);
                for i in 0..15 {
                    r.set_entry("drivers32", &format!("w{w}.{i}"), &format!("d{w}.so {i}")).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let r = Arc::new(Registry::new(path.clone()));
        std::thread::spawn(move || {
            for _ in 0..200 {
                // Readers never see a half-written file.
                let doc = r.read().expect("always a complete file");
                assert_eq!(doc.get("drivers32", "base"), Some("base.so"));
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = IniDocument::parse(&text);
    assert!(text.starts_with("; keep me\n[drivers32]\nbase=base.so\n"));
    for w in 0..6 {
        for i in 0..15 {
            let want = format!("d{w}.so {i}");
            assert_eq!(doc.get("drivers32", &format!("w{w}.{i}")), Some(want.as_str()));
        }
    }
    assert_eq!(doc.entries("drivers32").len(), 1 + 6 * 15);
}
