//! The Windows registry key drivers are recorded in (spec §8, D18):
//! `HKEY_LOCAL_MACHINE\Software\Microsoft\Windows NT\CurrentVersion\<section>`, one
//! value per alias, its text `file[ args]`. Windows and Wine read it before
//! `system.ini`, and installers write it; a [`Registry`](crate::Registry) for the
//! Windows default location reads it the same way (see
//! [`Registry::system_key`](crate::Registry::system_key)).
//!
//! Values are read as text: `REG_SZ`, and `REG_EXPAND_SZ` with its `%VARIABLES%`
//! expanded. winmm reads a value without checking its type; a value of another type,
//! or one too long to be a file name with arguments, is reported here rather than
//! opened as garbage. Names and sections are matched case-insensitively, by the
//! registry itself.
//!
//! The key is opened without `KEY_WOW64_64KEY`: a 32-bit build on 64-bit Windows
//! sees the 32-bit view (`WOW6432Node`), where Windows records the 32-bit drivers
//! that 32-bit winmm loads, which are the only ones such a process can load.

use crate::registry::RegistryError;

/// The key whose subkeys are the sections, as Windows tools spell it.
pub const SYSTEM_KEY: &str = r"HKEY_LOCAL_MACHINE\Software\Microsoft\Windows NT\CurrentVersion";

/// The longest value read, in UTF-16 units: the longest path Windows takes
/// (`\\?\` paths), which is also the most `OpenDriver` could use.
pub const MAX_VALUE_UNITS: usize = 32_767;

/// The driver sections of [`SYSTEM_KEY`] (one subkey each). Only Windows has one;
/// elsewhere no value of this type exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemKey {
    _only_on_windows: (),
}

impl SystemKey {
    /// The key on this machine.
    #[cfg(windows)]
    pub fn local_machine() -> SystemKey {
        SystemKey { _only_on_windows: () }
    }

    /// The key of `section`, as Windows tools spell it.
    pub fn key_path(&self, section: &str) -> String {
        format!(r"{SYSTEM_KEY}\{section}")
    }

    /// The value of `alias` in `section`; `None` when the section's key or the value
    /// does not exist.
    pub fn get(&self, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        imp::get(self, section, alias)
    }

    /// The values of `section` in the registry's order, each as text or as the
    /// error reading it gave (a value of another type, or too long). Empty when the
    /// section's key does not exist.
    #[allow(clippy::type_complexity)]
    pub fn entries(
        &self,
        section: &str,
    ) -> Result<Vec<(String, Result<String, RegistryError>)>, RegistryError> {
        imp::entries(self, section)
    }

    /// Writes `alias` = `value` (`REG_SZ`) into `section`, creating the section's key
    /// if needed; returns the previous value. Validated as a
    /// [`Registry`](crate::Registry) entry is, so the value reads back the same from
    /// the registry and from a `system.ini` copy of it.
    pub fn set(&self, section: &str, alias: &str, value: &str) -> Result<Option<String>, RegistryError> {
        crate::Registry::validate_entry(section, alias, value)?;
        let previous = self.get(section, alias).or_else(|e| match e {
            // A value of another type is replaced like any other.
            RegistryError::NotText { .. } | RegistryError::TooLong { .. } => Ok(None),
            e => Err(e),
        })?;
        imp::set(self, section, alias, value)?;
        Ok(previous)
    }

    /// Deletes `alias` from `section`; returns the value it had (`None`, and nothing
    /// done, when there is none).
    pub fn remove(&self, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        let previous = match self.get(section, alias) {
            Ok(None) => return Ok(None),
            Ok(Some(v)) => Some(v),
            Err(RegistryError::NotText { .. } | RegistryError::TooLong { .. }) => Some(String::new()),
            Err(e) => return Err(e),
        };
        imp::remove(self, section, alias)?;
        Ok(previous)
    }
}

/// Expands `%NAME%` with the environment variable `NAME`, as
/// `ExpandEnvironmentStrings` does: an unknown or unterminated reference stays as
/// written.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn expand_variables(text: &str, var: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                match var(&after[..end]).filter(|_| end > 0) {
                    Some(value) => out.push_str(&value),
                    // Unknown (or empty): kept with both signs, and reading goes on
                    // after the closing one.
                    None => {
                        out.push('%');
                        out.push_str(&after[..=end]);
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(windows)]
mod imp {
    use std::io;

    use windows_sys::Win32::Foundation::{
        ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS,
        WIN32_ERROR,
    };
    use windows_sys::Win32::System::Registry::{
        HKEY, HKEY_LOCAL_MACHINE, KEY_QUERY_VALUE, KEY_READ, KEY_SET_VALUE, REG_EXPAND_SZ,
        REG_OPTION_NON_VOLATILE, REG_SAM_FLAGS, REG_SZ, RegCloseKey, RegCreateKeyExW, RegDeleteValueW,
        RegEnumValueW, RegOpenKeyExW, RegQueryValueExW, RegSetValueExW,
    };

    use super::{MAX_VALUE_UNITS, SystemKey, expand_variables};
    use crate::registry::RegistryError;
    use crate::wide::nul_terminated;

    /// `Software\Microsoft\Windows NT\CurrentVersion`, below `HKEY_LOCAL_MACHINE`.
    const SUBKEY: &str = r"Software\Microsoft\Windows NT\CurrentVersion";

    /// An open key, closed on drop.
    struct Key(HKEY);

    impl Drop for Key {
        fn drop(&mut self) {
            // SAFETY: the key was opened by this module and is closed once.
            unsafe { RegCloseKey(self.0) };
        }
    }

    fn os_error(key: &SystemKey, section: &str, code: WIN32_ERROR, writing: bool) -> RegistryError {
        let hint = if writing && code == ERROR_ACCESS_DENIED {
            " (writing HKEY_LOCAL_MACHINE takes an administrator; or keep the entry in a system.ini-format file \
             named with --config or DRVPROC_CONFIG)"
        } else {
            ""
        };
        RegistryError::Key {
            key: key.key_path(section),
            source: io::Error::from_raw_os_error(code as i32),
            hint,
        }
    }

    /// Opens the section's key; `None` when it does not exist.
    fn open(key: &SystemKey, section: &str, access: REG_SAM_FLAGS) -> Result<Option<Key>, RegistryError> {
        if section.contains(['\\', '\0']) || section.is_empty() {
            // Not one subkey: no such section.
            return Ok(None);
        }
        let path = nul_terminated(&format!(r"{SUBKEY}\{section}"));
        let mut hkey: HKEY = std::ptr::null_mut();
        // SAFETY: `path` is NUL-terminated UTF-16; `hkey` receives the opened key.
        let code = unsafe { RegOpenKeyExW(HKEY_LOCAL_MACHINE, path.as_ptr(), 0, access, &mut hkey) };
        match code {
            ERROR_SUCCESS => Ok(Some(Key(hkey))),
            ERROR_FILE_NOT_FOUND => Ok(None),
            code => Err(os_error(key, section, code, access & KEY_SET_VALUE != 0)),
        }
    }

    fn type_name(kind: u32) -> String {
        match kind {
            0 => "REG_NONE".into(),
            3 => "REG_BINARY".into(),
            4 => "REG_DWORD".into(),
            5 => "REG_DWORD_BIG_ENDIAN".into(),
            6 => "REG_LINK".into(),
            7 => "REG_MULTI_SZ".into(),
            11 => "REG_QWORD".into(),
            other => format!("type {other}"),
        }
    }

    /// The text of a value read as `kind` with `data` (UTF-16 units, maybe with a
    /// terminating NUL).
    fn text_of(
        key: &SystemKey,
        section: &str,
        alias: &str,
        kind: u32,
        data: &[u16],
    ) -> Result<String, RegistryError> {
        let name = || (key.key_path(section), alias.to_string());
        if kind != REG_SZ && kind != REG_EXPAND_SZ {
            let (key, name) = name();
            return Err(RegistryError::NotText { key, name, kind: type_name(kind) });
        }
        // The data ends at its first NUL, as Windows reads a string.
        let end = data.iter().position(|&u| u == 0).unwrap_or(data.len());
        if end > MAX_VALUE_UNITS {
            let (key, name) = name();
            return Err(RegistryError::TooLong { key, name, units: end, max: MAX_VALUE_UNITS });
        }
        let text = String::from_utf16_lossy(&data[..end]);
        Ok(if kind == REG_EXPAND_SZ { expand_variables(&text, |v| std::env::var(v).ok()) } else { text })
    }

    /// Reads the value `name` of an open key: its type and its data.
    fn query(
        owner: &SystemKey,
        section: &str,
        hkey: &Key,
        name: &str,
    ) -> Result<Option<(u32, Vec<u16>)>, RegistryError> {
        let wname = nul_terminated(name);
        let mut data: Vec<u16> = vec![0; 260];
        loop {
            let mut kind = 0u32;
            let mut bytes = u32::try_from(data.len() * 2).unwrap_or(u32::MAX);
            // SAFETY: `wname` is NUL-terminated; `data` has room for `bytes` bytes.
            let code = unsafe {
                RegQueryValueExW(
                    hkey.0,
                    wname.as_ptr(),
                    std::ptr::null(),
                    &mut kind,
                    data.as_mut_ptr().cast(),
                    &mut bytes,
                )
            };
            match code {
                ERROR_SUCCESS => {
                    data.truncate((bytes as usize).div_ceil(2));
                    return Ok(Some((kind, data)));
                }
                ERROR_FILE_NOT_FOUND => return Ok(None),
                ERROR_MORE_DATA if (bytes as usize) / 2 <= (MAX_VALUE_UNITS + 1) * 4 => {
                    data = vec![0; (bytes as usize).div_ceil(2)];
                }
                ERROR_MORE_DATA => {
                    // Far beyond any use: say how long without reading it.
                    if kind == REG_SZ || kind == REG_EXPAND_SZ {
                        return Err(RegistryError::TooLong {
                            key: owner.key_path(section),
                            name: name.to_string(),
                            units: (bytes as usize) / 2,
                            max: MAX_VALUE_UNITS,
                        });
                    }
                    return Ok(Some((kind, Vec::new())));
                }
                code => return Err(os_error(owner, section, code, false)),
            }
        }
    }

    pub(super) fn get(key: &SystemKey, section: &str, alias: &str) -> Result<Option<String>, RegistryError> {
        if alias.contains('\0') {
            return Ok(None);
        }
        let Some(hkey) = open(key, section, KEY_QUERY_VALUE)? else { return Ok(None) };
        match query(key, section, &hkey, alias)? {
            Some((kind, data)) => text_of(key, section, alias, kind, &data).map(Some),
            None => Ok(None),
        }
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn entries(
        key: &SystemKey,
        section: &str,
    ) -> Result<Vec<(String, Result<String, RegistryError>)>, RegistryError> {
        let Some(hkey) = open(key, section, KEY_READ)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        // Value names are at most 16,383 characters.
        let mut name = vec![0u16; 16_384];
        for index in 0.. {
            let mut len = name.len() as u32;
            let mut kind = 0u32;
            // SAFETY: `name` has room for `len` units; no data is asked for.
            let code = unsafe {
                RegEnumValueW(
                    hkey.0,
                    index,
                    name.as_mut_ptr(),
                    &mut len,
                    std::ptr::null(),
                    &mut kind,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            match code {
                ERROR_SUCCESS => {}
                ERROR_NO_MORE_ITEMS => break,
                code => return Err(os_error(key, section, code, false)),
            }
            let alias = String::from_utf16_lossy(&name[..len as usize]);
            if alias.is_empty() {
                // The key's default value is no alias.
                continue;
            }
            let value = match query(key, section, &hkey, &alias) {
                Ok(Some((kind, data))) => text_of(key, section, &alias, kind, &data),
                // Deleted since it was enumerated.
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            out.push((alias, value));
        }
        Ok(out)
    }

    pub(super) fn set(key: &SystemKey, section: &str, alias: &str, value: &str) -> Result<(), RegistryError> {
        let path = nul_terminated(&format!(r"{SUBKEY}\{section}"));
        let mut hkey: HKEY = std::ptr::null_mut();
        // SAFETY: `path` is NUL-terminated; no class, no security attributes;
        // `hkey` receives the key; the disposition is not asked for.
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
        if code != ERROR_SUCCESS {
            return Err(os_error(key, section, code, true));
        }
        let hkey = Key(hkey);
        let name = nul_terminated(alias);
        let data = nul_terminated(value);
        let bytes = u32::try_from(data.len() * 2).map_err(|_| RegistryError::TooLong {
            key: key.key_path(section),
            name: alias.to_string(),
            units: data.len(),
            max: MAX_VALUE_UNITS,
        })?;
        // SAFETY: `name` is NUL-terminated; `data` holds `bytes` bytes, NUL included.
        let code = unsafe { RegSetValueExW(hkey.0, name.as_ptr(), 0, REG_SZ, data.as_ptr().cast(), bytes) };
        if code != ERROR_SUCCESS {
            return Err(os_error(key, section, code, true));
        }
        Ok(())
    }

    pub(super) fn remove(key: &SystemKey, section: &str, alias: &str) -> Result<(), RegistryError> {
        let Some(hkey) = open(key, section, KEY_SET_VALUE)? else { return Ok(()) };
        let name = nul_terminated(alias);
        // SAFETY: `name` is NUL-terminated.
        match unsafe { RegDeleteValueW(hkey.0, name.as_ptr()) } {
            ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
            code => Err(os_error(key, section, code, true)),
        }
    }
}

/// No registry elsewhere; no [`SystemKey`] exists to call these with.
#[cfg(not(windows))]
mod imp {
    use super::SystemKey;
    use crate::registry::RegistryError;

    pub(super) fn get(_: &SystemKey, _: &str, _: &str) -> Result<Option<String>, RegistryError> {
        Ok(None)
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn entries(
        _: &SystemKey,
        _: &str,
    ) -> Result<Vec<(String, Result<String, RegistryError>)>, RegistryError> {
        Ok(Vec::new())
    }

    pub(super) fn set(key: &SystemKey, section: &str, _: &str, _: &str) -> Result<(), RegistryError> {
        Err(RegistryError::Key {
            key: key.key_path(section),
            source: std::io::ErrorKind::Unsupported.into(),
            hint: "",
        })
    }

    pub(super) fn remove(_: &SystemKey, _: &str, _: &str) -> Result<(), RegistryError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_as_windows_expands_them() {
        let var = |name: &str| match name {
            "SystemRoot" => Some(r"C:\windows".to_string()),
            "X" => Some("x".to_string()),
            _ => None,
        };
        assert_eq!(expand_variables(r"%SystemRoot%\system32\a.dll b", var), r"C:\windows\system32\a.dll b");
        assert_eq!(expand_variables("%X%%X%", var), "xx");
        assert_eq!(expand_variables("%NOPE%\\a %X%", var), "%NOPE%\\a x");
        assert_eq!(expand_variables("50% off %X", var), "50% off %X");
        assert_eq!(expand_variables("a%%X%", var), "a%%X%");
        assert_eq!(expand_variables("%NOPE%X%", var), "%NOPE%X%");
        assert_eq!(expand_variables("plain", var), "plain");
    }
}
