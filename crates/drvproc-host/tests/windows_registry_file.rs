//! Replacing the registry file on Windows while others have it open: a reader's
//! open handle must not make a commit fail, and a writer's lock must not stop
//! readers (Windows byte-range locks are mandatory: a lock on the contents would
//! make every read of them fail while an edit is open).
#![cfg(windows)]

use std::io::Read;

use drvproc_host::{EditOptions, Registry};

#[test]
fn a_commit_replaces_the_file_while_a_reader_has_it_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\na=a.dll\n").unwrap();
    let mut reader = std::fs::File::open(&path).unwrap();
    let r = Registry::new(&path);
    r.set_entry("drivers32", "b", "b.dll").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[drivers32]\na=a.dll\nb=b.dll\n");
    // The reader still reads a whole file: the old one.
    let mut old = String::new();
    reader.read_to_string(&mut old).unwrap();
    assert_eq!(old, "[drivers32]\na=a.dll\n");
    drop(reader);
    // Nothing left beside it, and the next edit works on the new file.
    r.set_entry("drivers32", "c", "c.dll").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[drivers32]\na=a.dll\nb=b.dll\nc=c.dll\n");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["system.ini"]);
}

#[test]
fn readers_read_while_an_edit_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\na=a.dll\n").unwrap();
    let r = Registry::new(&path);
    let mut edit = r.edit(EditOptions::default()).unwrap();
    edit.insert("drivers32", "b", "b.dll", true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")), "[drivers32]\na=a.dll\n");
    assert_eq!(
        Registry::new(&path).lookup("drivers32", "a").unwrap_or_else(|e| panic!("{e}")),
        Some("a.dll".into())
    );
    edit.commit().unwrap();
    assert_eq!(Registry::new(&path).lookup("drivers32", "b").unwrap(), Some("b.dll".into()));
}

#[test]
fn writers_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\n").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let r = Registry::new(&path);
                for i in 0..5 {
                    r.set_entry("drivers32", &format!("t{t}x{i}"), "x.dll").unwrap_or_else(|e| panic!("{e}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1 + 4 * 5, "{text}");
}

#[test]
fn writers_racing_to_create_the_file_each_keep_their_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("system.ini");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                Registry::new(&path)
                    .set_entry("drivers32", &format!("t{t}"), "x.dll")
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), None);
    }
    let r = Registry::new(&path);
    for t in 0..4 {
        assert_eq!(r.lookup("drivers32", &format!("t{t}")).unwrap(), Some("x.dll".into()), "t{t}");
    }
    let names: Vec<_> =
        std::fs::read_dir(dir.path().join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["system.ini"]);
}

/// Where a commit cannot rename over the open file (Wine), `ReplaceFileW` moves the
/// old file aside before moving the new one in. A lookup in that moment must still
/// find the alias (it is in both files), never an empty registry.
#[test]
fn a_lookup_during_a_commit_finds_the_alias() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("system.ini");
    std::fs::write(&path, "[drivers32]\nkept=kept.dll\n").unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut found, mut missed) = (0u32, 0u32);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                // A new Registry each time: no cached document to fall back on.
                match Registry::new(&path).lookup("drivers32", "kept") {
                    Ok(Some(v)) if v == "kept.dll" => found += 1,
                    other => {
                        missed += 1;
                        eprintln!("lookup during a commit: {other:?}");
                    }
                }
            }
            (found, missed)
        })
    };
    let r = Registry::new(&path);
    for i in 0..100 {
        r.set_entry("drivers32", &format!("n{i}"), "x.dll").unwrap_or_else(|e| panic!("{e}"));
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (found, missed) = reader.join().unwrap();
    assert!(found > 0);
    assert_eq!(missed, 0, "{missed} of {} lookups missed the alias", found + missed);
}
