//! Where an SDK driver's image stays between its last `DRV_FREE` and its next `DRV_LOAD`.
//!
//! On Windows, a DLL built with Rust's std takes a thread-local-storage index each
//! time it is unloaded (std's per-thread clean-up at `DLL_PROCESS_DETACH` allocates
//! the key it then tears down) and never frees it. A process has about a thousand of
//! those indexes, so a host that opens and closes a codec again and again (listing
//! codecs does) would abort after about a thousand unloads with "out of TLS indexes".
//! std offers no way to free the index, so the SDK keeps its image mapped from its
//! first `DRV_LOAD` until the process ends: later `FreeLibrary` calls only lower the
//! count, and the next `LoadLibrary` finds the image already there. The driver still
//! sees every `DRV_LOAD` .. `DRV_FREE` pair; only the mapping outlives them.
//!
//! Elsewhere unloading takes nothing that is not given back, and the image goes.

/// Keeps the image that holds this function mapped until the process ends (Windows);
/// nothing elsewhere. Idempotent and cheap after the first call.
#[cfg(windows)]
pub(super) fn stay_resident() {
    use std::sync::Once;
    use windows_sys::Win32::System::LibraryLoader::{
        GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, GET_MODULE_HANDLE_EX_FLAG_PIN, GetModuleHandleExW,
    };

    static PINNED: Once = Once::new();
    PINNED.call_once(|| {
        let mut module = std::ptr::null_mut();
        // SAFETY: with FROM_ADDRESS the "name" is an address inside the module to
        // look up, never read as a string; `stay_resident` is code of this image.
        // `module` is a valid place for the handle. A failure leaves the image
        // unpinned, which is how it was: nothing to undo.
        let pinned = unsafe {
            GetModuleHandleExW(
                GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                stay_resident as *const () as *const u16,
                &mut module,
            )
        };
        if pinned == 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not keep the driver's image mapped; each unload will use up a TLS index"
            );
        }
    });
}

#[cfg(not(windows))]
pub(super) fn stay_resident() {}
