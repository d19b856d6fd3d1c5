//! The Windows registry as the default registry (spec §8, D18): the key
//! `HKLM\Software\Microsoft\Windows NT\CurrentVersion\<section>` first, then
//! `%WINDIR%\system.ini`, with no configuration named. Run under Wine, whose
//! `system.ini` lists its codecs in `[drivers32]` (`vidc.mrle=msrle32.dll`, ...).
//! Each test uses its own aliases, so they may run at once.
#![cfg(windows)]

use std::path::PathBuf;

use drvproc_host::{DriverManager, EntrySource, ManagerOptions, Registry, RegistryError};
use windows_sys::Win32::Foundation::ERROR_SUCCESS;
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_QUERY_VALUE, KEY_SET_VALUE, REG_DWORD, REG_EXPAND_SZ,
    REG_OPTION_NON_VOLATILE, REG_SZ, REG_VALUE_TYPE, RegCloseKey, RegCreateKeyExW, RegDeleteValueW,
    RegOpenKeyExW, RegQueryValueExW, RegSetValueExW,
};

const KEY: &str = r"Software\Microsoft\Windows NT\CurrentVersion";
const SHOWN_KEY: &str = r"HKEY_LOCAL_MACHINE\Software\Microsoft\Windows NT\CurrentVersion";

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(Some(0)).collect()
}

/// A value written into the key by hand (as `reg add` would), deleted on drop.
struct RawValue {
    section: &'static str,
    alias: &'static str,
}

fn open_key(section: &str, access: u32) -> Option<HKEY> {
    let path = wide(&format!(r"{KEY}\{section}"));
    let mut hkey: HKEY = std::ptr::null_mut();
    // SAFETY: NUL-terminated path; `hkey` receives the key.
    let code = unsafe { RegOpenKeyExW(HKEY_LOCAL_MACHINE, path.as_ptr(), 0, access, &mut hkey) };
    (code == ERROR_SUCCESS).then_some(hkey)
}

impl RawValue {
    fn new(section: &'static str, alias: &'static str, kind: REG_VALUE_TYPE, data: &[u8]) -> RawValue {
        let path = wide(&format!(r"{KEY}\{section}"));
        let mut hkey: HKEY = std::ptr::null_mut();
        // SAFETY: NUL-terminated path, no class or attributes; `hkey` receives the key.
        let code = unsafe {
            RegCreateKeyExW(
                HKEY_LOCAL_MACHINE,
                path.as_ptr(),
                0,
                std::ptr::null(),
                REG_OPTION_NON_VOLATILE,
                KEY_SET_VALUE,
                std::ptr::null(),
                &mut hkey,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(code, ERROR_SUCCESS, "RegCreateKeyExW");
        let name = wide(alias);
        // SAFETY: NUL-terminated name; `data` holds data.len() bytes.
        let code = unsafe { RegSetValueExW(hkey, name.as_ptr(), 0, kind, data.as_ptr(), data.len() as u32) };
        // SAFETY: opened above.
        unsafe { RegCloseKey(hkey) };
        assert_eq!(code, ERROR_SUCCESS, "RegSetValueExW");
        RawValue { section, alias }
    }

    fn text(section: &'static str, alias: &'static str, kind: REG_VALUE_TYPE, text: &str) -> RawValue {
        let data: Vec<u8> = wide(text).iter().flat_map(|u| u.to_le_bytes()).collect();
        RawValue::new(section, alias, kind, &data)
    }
}

impl Drop for RawValue {
    fn drop(&mut self) {
        delete(self.section, self.alias);
    }
}

fn delete(section: &str, alias: &str) {
    if let Some(hkey) = open_key(section, KEY_SET_VALUE) {
        let name = wide(alias);
        // SAFETY: an open key; NUL-terminated name.
        unsafe { RegDeleteValueW(hkey, name.as_ptr()) };
        // SAFETY: opened above.
        unsafe { RegCloseKey(hkey) };
    }
}

/// The value as stored, read by hand: (type, text).
fn raw_read(section: &str, alias: &str) -> Option<(u32, String)> {
    let hkey = open_key(section, KEY_QUERY_VALUE)?;
    let name = wide(alias);
    let mut data = vec![0u16; 4096];
    let mut bytes = (data.len() * 2) as u32;
    let mut kind = 0;
    // SAFETY: an open key; `data` has room for `bytes` bytes.
    let code = unsafe {
        RegQueryValueExW(
            hkey,
            name.as_ptr(),
            std::ptr::null(),
            &mut kind,
            data.as_mut_ptr().cast(),
            &mut bytes,
        )
    };
    // SAFETY: opened above.
    unsafe { RegCloseKey(hkey) };
    (code == ERROR_SUCCESS).then(|| {
        let units = &data[..bytes as usize / 2];
        let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
        (kind, String::from_utf16_lossy(&units[..end]))
    })
}

fn default_manager() -> DriverManager {
    assert!(std::env::var_os("DRVPROC_CONFIG").is_none(), "these tests need DRVPROC_CONFIG unset");
    DriverManager::new(ManagerOptions::new())
}

fn null_driver() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join("drvnull.dll");
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn windows_ini() -> PathBuf {
    PathBuf::from(std::env::var_os("WINDIR").expect("WINDIR")).join("system.ini")
}

#[test]
fn an_alias_in_the_registry_key_opens_with_no_configuration() {
    let driver = null_driver();
    let _value =
        RawValue::text("Drivers32", "drvproc.test.open", REG_SZ, &format!("{} some args", driver.display()));
    let manager = default_manager();
    let instance = manager.open("drvproc.test.open", None).expect("open by the registry key's alias");
    assert_eq!(manager.module_path(instance.handle()).unwrap(), Some(driver.clone()));
    drop(instance);
    // Sections and aliases match whatever their case, as in the registry.
    let instance = manager.open("DRVPROC.TEST.OPEN", Some("drivers32")).expect("open in section drivers32");
    assert_eq!(manager.module_path(instance.handle()).unwrap(), Some(driver));
}

#[test]
fn the_default_registry_is_the_key_and_windows_system_ini() {
    let manager = default_manager();
    assert_eq!(Registry::default_path(), Some(windows_ini()));
    let registry = manager.registry().expect("a default registry with no HOME or configuration");
    assert_eq!(registry.path(), windows_ini());
    // Wine's own codec, from system.ini.
    assert_eq!(registry.lookup("drivers32", "vidc.mrle").unwrap().as_deref(), Some("msrle32.dll"));
}

#[test]
fn the_key_wins_over_system_ini() {
    // A system.ini of its own, beside Wine's key, so that Wine's codecs stay as they are.
    let dir = std::env::temp_dir().join(format!("drvproc-win32-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ini = dir.join("system.ini");
    std::fs::write(&ini, "[drivers32]\ndrvproc.test.both=fromfile.acm\ndrvproc.test.fileonly=only.acm\n")
        .unwrap();
    let _value = RawValue::text("Drivers32", "drvproc.test.both", REG_SZ, "fromkey.acm x");
    let registry = Registry::windows(&ini);
    assert_eq!(registry.lookup("Drivers32", "drvproc.test.both").unwrap().as_deref(), Some("fromkey.acm x"));
    assert_eq!(registry.lookup("Drivers32", "drvproc.test.fileonly").unwrap().as_deref(), Some("only.acm"));
    assert_eq!(registry.source_of("Drivers32", "drvproc.test.both").unwrap(), Some(EntrySource::SystemKey));
    let doc = registry.read().unwrap();
    assert_eq!(doc.get("drivers32", "drvproc.test.both"), Some("fromkey.acm x"));
    // The view keeps the file's lines where they are.
    assert_eq!(doc.line_of("Drivers32", "drvproc.test.fileonly"), Some(3));
    // A file named by itself is the whole registry.
    assert_eq!(
        Registry::new(&ini).lookup("Drivers32", "drvproc.test.both").unwrap().as_deref(),
        Some("fromfile.acm")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expandable_values_are_expanded() {
    let _value = RawValue::text("Drivers32", "drvproc.test.expand", REG_EXPAND_SZ, r"%WINDIR%\x.dll a");
    let manager = default_manager();
    let windir = std::env::var("WINDIR").unwrap();
    let value = manager.registry().unwrap().lookup("Drivers32", "drvproc.test.expand").unwrap();
    assert_eq!(value, Some(format!(r"{windir}\x.dll a")));
}

#[test]
fn values_that_are_not_text_or_too_long_are_errors() {
    let _dword = RawValue::new("Drivers32", "drvproc.test.dword", REG_DWORD, &7u32.to_le_bytes());
    let long = "a".repeat(40_000);
    let _long = RawValue::text("Drivers32", "drvproc.test.long", REG_SZ, &long);
    let manager = default_manager();
    let registry = manager.registry().unwrap();
    let err = registry.lookup("Drivers32", "drvproc.test.dword").unwrap_err();
    assert!(matches!(err, RegistryError::NotText { .. }), "{err:?}");
    let text = format!(
        r"{SHOWN_KEY}\Drivers32\drvproc.test.dword: a REG_DWORD value, where a driver entry is text (REG_SZ or REG_EXPAND_SZ)"
    );
    assert_eq!(err.to_string(), text);
    let open_err = manager.open("drvproc.test.dword", None).unwrap_err();
    assert!(open_err.to_string().contains(&text), "{open_err}");
    let err = registry.lookup("Drivers32", "drvproc.test.long").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            r"{SHOWN_KEY}\Drivers32\drvproc.test.long: the value is 40000 characters long, more than the 32767 a driver entry may have"
        )
    );
    // The view leaves them out; they are still said to be in the key.
    let doc = registry.read().unwrap();
    assert_eq!(doc.get("Drivers32", "drvproc.test.dword"), None);
    assert_eq!(registry.source_of("Drivers32", "drvproc.test.dword").unwrap(), Some(EntrySource::SystemKey));
}

#[test]
fn the_view_has_both_sources_and_says_which_is_which() {
    let _value = RawValue::text("Drivers32", "drvproc.test.view", REG_SZ, "view.dll");
    let _mci = RawValue::text("MCI32", "drvproc.test.mci", REG_SZ, "mci.dll");
    let manager = default_manager();
    let registry = manager.registry().unwrap();
    let doc = registry.read().unwrap();
    let entries = doc.entries("Drivers32");
    assert!(entries.contains(&("drvproc.test.view", "view.dll")), "{entries:?}");
    assert!(entries.contains(&("vidc.mrle", "msrle32.dll")), "{entries:?}");
    assert_eq!(doc.get("mci32", "drvproc.test.mci"), Some("mci.dll"));
    assert_eq!(registry.source_of("Drivers32", "drvproc.test.view").unwrap(), Some(EntrySource::SystemKey));
    assert_eq!(registry.source_of("Drivers32", "vidc.mrle").unwrap(), Some(EntrySource::File));
    assert_eq!(registry.source_of("Drivers32", "drvproc.test.none").unwrap(), None);
    assert!(registry.exists().unwrap());
}

#[test]
fn the_system_key_writes_and_deletes_values() {
    let manager = default_manager();
    let key = manager.registry().unwrap().system_key().expect("the default registry has the key");
    assert_eq!(key.key_path("Drivers32"), format!(r"{SHOWN_KEY}\Drivers32"));
    delete("Drivers32", "drvproc.test.write");
    assert_eq!(key.set("Drivers32", "drvproc.test.write", "w.dll a b").unwrap(), None);
    assert_eq!(raw_read("Drivers32", "drvproc.test.write"), Some((REG_SZ, "w.dll a b".into())));
    assert_eq!(key.set("Drivers32", "drvproc.test.write", "w2.dll").unwrap().as_deref(), Some("w.dll a b"));
    assert_eq!(key.get("drivers32", "DRVPROC.TEST.WRITE").unwrap().as_deref(), Some("w2.dll"));
    assert!(key.set("Drivers32", "drvproc.test.write", "a\nb").is_err(), "a line break is refused");
    assert_eq!(key.remove("Drivers32", "drvproc.test.write").unwrap().as_deref(), Some("w2.dll"));
    assert_eq!(raw_read("Drivers32", "drvproc.test.write"), None);
    assert_eq!(key.remove("Drivers32", "drvproc.test.write").unwrap(), None);
    // A section whose key does not exist yet is created.
    delete("drvproc.test.section", "a");
    key.set("drvproc.test.section", "a", "a.dll").unwrap();
    assert_eq!(key.remove("drvproc.test.section", "a").unwrap().as_deref(), Some("a.dll"));
}

#[test]
fn not_found_names_the_key_and_the_file() {
    let manager = default_manager();
    let err = manager.open("drvproc.test.nothing", Some("Drivers32")).unwrap_err();
    let expected =
        format!("no alias in [Drivers32] of {SHOWN_KEY}\\Drivers32 and {}", windows_ini().display());
    assert!(err.to_string().contains(&expected), "{err}");
}
