//! Which manager issued a handle, process-wide: the C ABI's handles are process-wide,
//! as winmm's are, even when several managers — and several *copies* of this library
//! — live in one process.
//!
//! The common case: a C driver linked with `-ldrvproc` is hosted by a manager of a
//! program's own (drvctl's, or any `DriverManager::new`), and sends to its own
//! `hdrvr` through `SendDriverMessage`. libdrvproc's process-wide manager did not
//! issue that handle, and may be another copy of this library that shares no statics
//! with the host's. Routing finds the owner:
//!
//! * **this copy**: every manager registers under its table's identity
//!   ([`crate::identity`]) in a copy-local list, held weakly;
//! * **other copies**: each copy publishes a small table of C-ABI functions (a
//!   [`Router`]) in a page every copy finds at one fixed address. The first copy maps
//!   it (`MAP_FIXED_NOREPLACE`, so nothing else there is ever replaced); the others find
//!   it there, check that it is readable without touching it (the kernel copies it into
//!   a pipe, failing cleanly if it is not) and check its magic number. A router answers
//!   only for identities of its own copy's live managers.
//!
//! Routing is a cold path: a handle the caller's manager knows never reaches it. A
//! copy's router lives in its static data; before publishing it, a copy pins the
//! object it lives in (`RTLD_NODELETE`; an executable is never unloaded), so a
//! published router stays callable for the life of the process.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};

use drvproc::{Hdrvr, LParam, LResult, Msg};

use crate::error::{BadHandle, CloseError};
use crate::manager::{DriverManager, ManagerState};

/// This copy's managers, by table identity.
static LOCAL: Mutex<Vec<(usize, Weak<ManagerState>)>> = Mutex::new(Vec::new());

fn local() -> MutexGuard<'static, Vec<(usize, Weak<ManagerState>)>> {
    LOCAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers a new manager under its table identity.
pub(crate) fn register(id: usize, manager: Weak<ManagerState>) {
    local().push((id, manager));
    shared::publish_once();
}

/// Forgets a manager that is going away.
pub(crate) fn unregister(id: usize) {
    local().retain(|(i, _)| *i != id);
}

/// The live manager of this copy whose table has identity `id`.
pub(crate) fn find_local(id: usize) -> Option<DriverManager> {
    let state = local().iter().find(|(i, _)| *i == id).and_then(|(_, w)| w.upgrade())?;
    Some(DriverManager::from_state(state))
}

/// What a router call did. `repr(i32)` values are the C ABI between copies.
const NOT_MINE: i32 = 0;
const DONE: i32 = 1;
const WOULD_DEADLOCK: i32 = 2;

/// The functions one copy offers the others (a C ABI: copies may be built apart).
#[repr(C)]
pub(crate) struct Router {
    version: u32,
    /// `size_of::<Router>()` of the copy that made it: a later version appends
    /// functions, and a reader uses only those the size covers.
    size: u32,
    send: unsafe extern "C" fn(h: usize, msg: Msg, l1: LParam, l2: LParam, out: *mut LResult) -> i32,
    close: unsafe extern "C" fn(h: usize, l1: LParam, l2: LParam) -> i32,
    module_handle: unsafe extern "C" fn(h: usize, out: *mut usize) -> i32,
    /// `GetDriverFlags`: the flags, 0 when not this copy's.
    flags: unsafe extern "C" fn(h: usize) -> u32,
}

const ROUTER_VERSION: u32 = 1;

static ROUTER: Router = Router {
    version: ROUTER_VERSION,
    size: std::mem::size_of::<Router>() as u32,
    send: route_send,
    close: route_close,
    module_handle: route_module_handle,
    flags: route_flags,
};

/// The manager of this copy that issued `h`, for a router call.
fn owner(h: usize) -> Option<(DriverManager, Hdrvr)> {
    let h = Hdrvr::from_raw(h);
    Some((find_local(crate::handle_table::identity_of(h))?, h))
}

unsafe extern "C" fn route_send(h: usize, msg: Msg, l1: LParam, l2: LParam, out: *mut LResult) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        let Some((manager, h)) = owner(h) else { return NOT_MINE };
        // SAFETY: the parameters' contract is the original caller's, passed on as is.
        match unsafe { manager.send(h, msg, l1, l2) } {
            Ok(answer) => {
                // SAFETY: `out` points to the caller's LResult (see `send`).
                unsafe { out.write(answer) };
                DONE
            }
            Err(_) => NOT_MINE,
        }
    }))
    .unwrap_or(NOT_MINE)
}

unsafe extern "C" fn route_close(h: usize, l1: LParam, l2: LParam) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        let Some((manager, h)) = owner(h) else { return NOT_MINE };
        // SAFETY: as in `route_send`.
        match unsafe { manager.close_with(h, l1, l2) } {
            Ok(()) => DONE,
            Err(CloseError::WouldDeadlock(_)) => WOULD_DEADLOCK,
            Err(CloseError::BadHandle(_)) => NOT_MINE,
        }
    }))
    .unwrap_or(NOT_MINE)
}

unsafe extern "C" fn route_module_handle(h: usize, out: *mut usize) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        let Some((manager, h)) = owner(h) else { return NOT_MINE };
        match manager.module_handle(h) {
            Ok(raw) => {
                // SAFETY: `out` points to the caller's usize (see `module_handle`).
                unsafe { out.write(raw.unwrap_or(0)) };
                DONE
            }
            Err(_) => NOT_MINE,
        }
    }))
    .unwrap_or(NOT_MINE)
}

unsafe extern "C" fn route_flags(h: usize) -> u32 {
    catch_unwind(AssertUnwindSafe(|| owner(h).and_then(|(manager, h)| manager.flags(h).ok()).unwrap_or(0)))
        .unwrap_or(0)
}

/// Routers to ask for a handle: this copy's own first (its other managers), then the
/// other copies'.
fn routers() -> impl Iterator<Item = &'static Router> {
    std::iter::once(&ROUTER).chain(shared::others())
}

/// `SendDriverMessage` for a handle of any manager in the process.
///
/// # Safety
/// As for [`DriverManager::send`].
pub(crate) unsafe fn send(h: Hdrvr, msg: Msg, l1: LParam, l2: LParam) -> Result<LResult, BadHandle> {
    let mut answer: LResult = 0;
    for router in routers() {
        // SAFETY: a published router's functions stay callable (module docs); the
        // parameters' contract is the caller's; `answer` outlives the call.
        if unsafe { (router.send)(h.raw(), msg, l1, l2, &mut answer) } == DONE {
            return Ok(answer);
        }
    }
    Err(BadHandle(h))
}

/// `CloseDriver` for a handle of any manager in the process.
///
/// # Safety
/// As for [`DriverManager::close_with`].
pub(crate) unsafe fn close(h: Hdrvr, l1: LParam, l2: LParam) -> Result<(), CloseError> {
    for router in routers() {
        // SAFETY: as in `send`.
        match unsafe { (router.close)(h.raw(), l1, l2) } {
            DONE => return Ok(()),
            WOULD_DEADLOCK => return Err(CloseError::WouldDeadlock(h)),
            _ => {}
        }
    }
    Err(BadHandle(h).into())
}

/// `GetDriverModuleHandle` for a handle of any manager in the process.
pub(crate) fn module_handle(h: Hdrvr) -> Result<Option<usize>, BadHandle> {
    let mut raw = 0usize;
    for router in routers() {
        // SAFETY: as in `send`; `raw` outlives the call.
        if unsafe { (router.module_handle)(h.raw(), &mut raw) } == DONE {
            return Ok((raw != 0).then_some(raw));
        }
    }
    Err(BadHandle(h))
}

/// `GetDriverFlags` for a handle of any manager in the process.
pub(crate) fn flags(h: Hdrvr) -> Result<u32, BadHandle> {
    routers()
        // SAFETY: as in `send`.
        .map(|router| unsafe { (router.flags)(h.raw()) })
        .find(|&flags| flags != 0)
        .ok_or(BadHandle(h))
}

/// The page the copies of a process share.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod shared {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

    use super::{ROUTER, ROUTER_VERSION, Router};

    /// Where the page lives: the same fixed address in every copy, in the part of the
    /// address space the kernel does not hand out by itself on x86-64 or aarch64.
    const ADDRESS: usize = 0x0044_7276_0000;
    /// "drvproc directory, version 1", twice over, so a stray page never passes.
    const MAGIC: [u64; 2] = [0x6472_7670_726f_6364, 0x6469_7265_6374_7931];
    const SLOTS: usize = 64;

    #[repr(C)]
    struct Page {
        magic: [AtomicU64; 2],
        routers: [AtomicPtr<Router>; SLOTS],
    }

    static PAGE: OnceLock<Option<&'static Page>> = OnceLock::new();

    fn page() -> Option<&'static Page> {
        *PAGE.get_or_init(find_or_create)
    }

    /// Puts this copy's router in the page, once.
    pub(super) fn publish_once() {
        static PUBLISHED: OnceLock<()> = OnceLock::new();
        PUBLISHED.get_or_init(|| {
            // Another copy may call this router at any time from now on: the code and
            // data holding it must never be unmapped.
            if !pin_own_object() {
                tracing::warn!("cannot keep this copy of drvproc loaded; its handles stay local");
                return;
            }
            let Some(page) = page() else { return };
            let mine = (&ROUTER as *const Router).cast_mut();
            for slot in &page.routers {
                match slot.compare_exchange(std::ptr::null_mut(), mine, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return,
                    Err(p) if p == mine => return,
                    Err(_) => {}
                }
            }
            tracing::warn!(
                "more than {SLOTS} copies of drvproc in this process; this one's handles stay local"
            );
        });
    }

    /// The other copies' routers.
    pub(super) fn others() -> impl Iterator<Item = &'static Router> {
        let mine = &ROUTER as *const Router;
        page().into_iter().flat_map(|p| p.routers.iter()).filter_map(move |slot| {
            let router = slot.load(Ordering::Acquire);
            if router.is_null() || std::ptr::eq(router, mine) {
                return None;
            }
            // SAFETY: only copies of this code publish, and only pointers to their
            // static ROUTER, whose object they pinned first (`pin_own_object`), so it
            // stays mapped. The two leading u32s are in every version's layout.
            let (version, size) = unsafe { ((*router).version, (*router).size) };
            if version != ROUTER_VERSION || (size as usize) < std::mem::size_of::<Router>() {
                return None;
            }
            // SAFETY: as above; the size covers every field of this version.
            Some(unsafe { &*router })
        })
    }

    /// Makes sure the object holding [`ROUTER`] is never unloaded: the main program
    /// never is; a shared object (a cdylib, or a driver linked with `libdrvproc.a`) is
    /// pinned with `RTLD_NODELETE`. False if it cannot be.
    fn pin_own_object() -> bool {
        struct Search {
            address: usize,
            index: usize,
            found: Option<Option<std::ffi::CString>>,
        }
        unsafe extern "C" fn visit(
            info: *mut libc::dl_phdr_info,
            _: libc::size_t,
            data: *mut libc::c_void,
        ) -> i32 {
            // SAFETY: dl_iterate_phdr passes the `Search` given below and a valid
            // `dl_phdr_info` whose program headers it describes, for this call.
            let (search, info) = unsafe { (&mut *(data as *mut Search), &*info) };
            for i in 0..usize::from(info.dlpi_phnum) {
                // SAFETY: `dlpi_phdr` has `dlpi_phnum` entries.
                let header = unsafe { &*info.dlpi_phdr.add(i) };
                let start = info.dlpi_addr as usize + header.p_vaddr as usize;
                if header.p_type == libc::PT_LOAD
                    && (start..start + header.p_memsz as usize).contains(&search.address)
                {
                    // The first object is the main program; the others have names.
                    search.found = Some((search.index != 0 && !info.dlpi_name.is_null()).then(|| {
                        // SAFETY: a non-null dlpi_name is a NUL-terminated path.
                        unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }.to_owned()
                    }));
                    return 1;
                }
            }
            search.index += 1;
            0
        }
        let mut search = Search { address: &ROUTER as *const Router as usize, index: 0, found: None };
        // SAFETY: `visit` only reads what dl_iterate_phdr hands it and writes `search`.
        unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
        match search.found {
            None => false,
            Some(None) => true,
            Some(Some(path)) => {
                // SAFETY: RTLD_NOLOAD only finds the already-loaded object (running no
                // initialisers) and RTLD_NODELETE keeps it; the handle is kept forever.
                let handle = unsafe {
                    libc::dlopen(path.as_ptr(), libc::RTLD_NOLOAD | libc::RTLD_NODELETE | libc::RTLD_LAZY)
                };
                !handle.is_null()
            }
        }
    }

    fn find_or_create() -> Option<&'static Page> {
        // SAFETY: sysconf only reads a system constant.
        let page_size = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let size = std::mem::size_of::<Page>().next_multiple_of(page_size);
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping: it maps at
        // ADDRESS only if nothing is there, else fails with EEXIST.
        let raw = unsafe {
            libc::mmap(
                ADDRESS as *mut libc::c_void,
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if raw as usize == ADDRESS {
            // SAFETY: a fresh zeroed mapping of at least size_of::<Page>() bytes, made
            // for this page; all-zero is a valid Page (atomics).
            let page: &'static Page = unsafe { &*(raw as *const Page) };
            page.magic[1].store(MAGIC[1], Ordering::Relaxed);
            page.magic[0].store(MAGIC[0], Ordering::Release);
            return Some(page);
        }
        if raw != libc::MAP_FAILED {
            // An old kernel took the address as a hint and mapped elsewhere.
            // SAFETY: the mapping just made, used by no one.
            unsafe { libc::munmap(raw, size) };
            return None;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) || !readable(ADDRESS, size) {
            return None;
        }
        // SAFETY: the range is mapped and readable (checked just above, and
        // mappings of this page are never removed); a Page is atomics only.
        let page: &'static Page = unsafe { &*(ADDRESS as *const Page) };
        // The copy that made it writes the magic right after mapping it.
        for _ in 0..10_000 {
            if page.magic[0].load(Ordering::Acquire) == MAGIC[0]
                && page.magic[1].load(Ordering::Relaxed) == MAGIC[1]
            {
                return Some(page);
            }
            std::thread::yield_now();
        }
        None
    }

    /// Whether `len` bytes at `address` can be read, without reading them here: the
    /// kernel copies them into a pipe and reports EFAULT instead of faulting.
    fn readable(address: usize, len: usize) -> bool {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return false;
        }
        let mut ok = true;
        let mut offset = 0;
        // A pipe holds at least one page: probe page by page, draining in between.
        while ok && offset < len {
            let chunk = (len - offset).min(4096);
            // SAFETY: write() only reads the range through the kernel, which fails with
            // EFAULT rather than faulting when it is not readable.
            let wrote = unsafe { libc::write(fds[1], (address + offset) as *const libc::c_void, chunk) };
            ok = wrote == chunk as isize;
            let mut sink = [0u8; 4096];
            // SAFETY: reading into a local buffer of the given size.
            unsafe { libc::read(fds[0], sink.as_mut_ptr().cast(), chunk) };
            offset += chunk;
        }
        // SAFETY: closing the two descriptors made above.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        ok
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_probe_tells_readable_from_unmapped_memory() {
            let local = [7u8; 64];
            assert!(readable(local.as_ptr() as usize, local.len()));
            assert!(!readable(8, 16), "the first page is never mapped");
        }

        #[test]
        fn this_copy_publishes_its_router_once() {
            publish_once();
            publish_once();
            let page = page().expect("the shared page can be made or found");
            let mine = &ROUTER as *const Router;
            let count = page.routers.iter().filter(|s| std::ptr::eq(s.load(Ordering::Acquire), mine)).count();
            assert_eq!(count, 1);
            assert_eq!(others().count(), 0, "no other copy in a test binary");
        }
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
mod shared {
    use super::Router;

    /// Without a shared page, handles route within this copy only.
    pub(super) fn publish_once() {}

    pub(super) fn others() -> impl Iterator<Item = &'static Router> {
        std::iter::empty()
    }
}
