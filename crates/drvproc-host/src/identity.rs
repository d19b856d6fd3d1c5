//! Table identities: the number every handle of a table carries, and which no other
//! live table in the process uses — including tables of *other copies* of this
//! library (a program's own `DriverManager` next to libdrvproc's process-wide one, or
//! two libdrvproc files loaded side by side), which share no statics with this copy.
//!
//! A counter cannot be shared between copies that know nothing of each other, but the
//! address space is: an identity is the index of an aligned block of addresses whose
//! first page this copy reserves (an inaccessible mapping, no memory) and never gives
//! back. No other mapping — of this copy or any other — can then start that block, so
//! no other copy can get the same identity, ever. A copy reuses its own freed
//! identities, and the next table with one starts its generations above every
//! generation the last one issued, so a dead table's handles are refused too.
//!
//! Where address space cannot be reserved this way (32-bit targets, platforms other
//! than Linux and Windows) identities come from a counter of this copy alone,
//! starting at a random point, and the guarantee across copies is only probabilistic.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Bits of a handle that hold the identity.
#[cfg(all(any(target_os = "linux", windows), target_pointer_width = "64"))]
pub(crate) const BITS: u32 = 23;
#[cfg(not(all(any(target_os = "linux", windows), target_pointer_width = "64")))]
pub(crate) const BITS: u32 = if usize::BITS == 64 { 16 } else { 6 };
pub(crate) const MASK: usize = (1 << BITS) - 1;

/// An identity and the first generation its table may hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) id: usize,
    pub(crate) first_generation: u64,
}

struct Pool {
    /// Freed identities, oldest first, with the generation their next table starts at.
    freed: VecDeque<Identity>,
    /// Identities this copy made (live or freed).
    made: usize,
}

impl Pool {
    const fn new() -> Self {
        Pool { freed: VecDeque::new(), made: 0 }
    }

    /// A freed identity (longest freed first), else a new one from `fresh`.
    fn acquire(&mut self, fresh: impl FnOnce(usize) -> Option<usize>) -> Option<Identity> {
        if let Some(identity) = self.freed.pop_front() {
            return Some(identity);
        }
        let id = fresh(self.made)?;
        self.made += 1;
        Some(Identity { id, first_generation: 0 })
    }

    fn release(&mut self, id: usize, next_generation: u64, max_generation: u64) {
        if next_generation <= max_generation {
            self.freed.push_back(Identity { id, first_generation: next_generation });
        }
    }
}

fn pool() -> MutexGuard<'static, Pool> {
    static POOL: Mutex<Pool> = Mutex::new(Pool::new());
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An identity for a new table: a freed one of this copy (longest freed first), else
/// a new one. `None` when no identity is left.
pub(crate) fn acquire() -> Option<Identity> {
    pool().acquire(fresh::reserve)
}

/// Gives an identity back; its next table starts at generation `next_generation`. An
/// identity with no generations left (beyond `max_generation`) is never used again.
pub(crate) fn release(id: usize, next_generation: u64, max_generation: u64) {
    pool().release(id, next_generation, max_generation);
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod fresh {
    use super::BITS;

    /// User-space addresses are below 2^47 on x86-64 and 2^48 elsewhere (Linux hands
    /// out higher ones only to callers that ask for them).
    const ADDRESS_BITS: u32 = if cfg!(target_arch = "x86_64") { 47 } else { 48 };
    /// Size of the block one identity stands for.
    const BLOCK_LOG2: u32 = ADDRESS_BITS - BITS;
    const BLOCK: usize = 1 << BLOCK_LOG2;

    /// Reserves the first page of a block no mapping starts yet; its index is the
    /// identity. `_made` is unused: the address space itself is the limit.
    pub(super) fn reserve(_made: usize) -> Option<usize> {
        // SAFETY: sysconf only reads a system constant.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        let span = 2 * BLOCK;
        // SAFETY: a new private, inaccessible, unbacked mapping chosen by the kernel;
        // it touches no existing memory.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return None;
        }
        let start = raw as usize;
        let aligned = (start + BLOCK - 1) & !(BLOCK - 1);
        let keep_end = aligned + page;
        // SAFETY: both ranges lie inside the mapping just made, which nothing else
        // uses; only the page at `aligned` stays reserved.
        unsafe {
            if aligned > start {
                libc::munmap(raw, aligned - start);
            }
            libc::munmap(keep_end as *mut libc::c_void, start + span - keep_end);
        }
        let id = aligned >> BLOCK_LOG2;
        // Address 0 is never mapped, and addresses stay below 2^ADDRESS_BITS.
        if id == 0 || id > super::MASK {
            // SAFETY: the page kept above, used by no one.
            unsafe { libc::munmap(aligned as *mut libc::c_void, page) };
            return None;
        }
        Some(id)
    }
}

#[cfg(all(windows, target_pointer_width = "64"))]
mod fresh {
    use windows_sys::Win32::System::Memory::{
        MEM_RELEASE, MEM_RESERVE, PAGE_NOACCESS, VirtualAlloc, VirtualFree,
    };

    use super::BITS;

    /// User-mode addresses on 64-bit Windows (and Wine) are below 2^47.
    const ADDRESS_BITS: u32 = 47;
    /// Size of the block one identity stands for.
    const BLOCK_LOG2: u32 = ADDRESS_BITS - BITS;
    const BLOCK: usize = 1 << BLOCK_LOG2;
    /// Reservations start at multiples of this and cover at least this much.
    const GRANULARITY: usize = 64 << 10;
    /// Another thread can take the block between the two reservations below.
    const TRIES: usize = 8;

    /// Reserves the start of a block no reservation starts yet (address space only,
    /// no memory); its index is the identity. Windows cannot give back part of a
    /// reservation, so a region twice the block is reserved to find an aligned
    /// address, released, and the block's first granule reserved on its own.
    pub(super) fn reserve(_made: usize) -> Option<usize> {
        for _ in 0..TRIES {
            // SAFETY: a new inaccessible reservation chosen by the system; it touches
            // no existing memory.
            let raw = unsafe { VirtualAlloc(std::ptr::null(), 2 * BLOCK, MEM_RESERVE, PAGE_NOACCESS) };
            if raw.is_null() {
                return None;
            }
            let aligned = (raw as usize + BLOCK - 1) & !(BLOCK - 1);
            // SAFETY: releases exactly the reservation made above, which nothing uses.
            unsafe { VirtualFree(raw, 0, MEM_RELEASE) };
            // SAFETY: asks for a reservation at a fixed address; the system refuses
            // (returns null) if anything is there, so nothing existing is touched.
            let kept = unsafe { VirtualAlloc(aligned as *const _, GRANULARITY, MEM_RESERVE, PAGE_NOACCESS) };
            if kept.is_null() {
                continue;
            }
            if kept as usize != aligned {
                // SAFETY: the reservation just made, used by no one.
                unsafe { VirtualFree(kept, 0, MEM_RELEASE) };
                continue;
            }
            let id = aligned >> BLOCK_LOG2;
            if id == 0 || id > super::MASK {
                // SAFETY: the reservation kept above, used by no one.
                unsafe { VirtualFree(kept, 0, MEM_RELEASE) };
                return None;
            }
            return Some(id);
        }
        None
    }
}

#[cfg(not(all(any(target_os = "linux", windows), target_pointer_width = "64")))]
mod fresh {
    use super::MASK;
    use std::hash::{BuildHasher, RandomState};

    /// The `made`-th identity of this copy, counting from a random start (so that two
    /// copies are unlikely to collide); never 0.
    pub(super) fn reserve(made: usize) -> Option<usize> {
        use std::sync::OnceLock;
        static START: OnceLock<usize> = OnceLock::new();
        if made >= MASK {
            return None;
        }
        let start = *START.get_or_init(|| RandomState::new().hash_one(0u8) as usize % MASK);
        Some((start + made) % MASK + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_identities_are_distinct_and_never_zero() {
        let ids: Vec<usize> = (0..50).map(|made| fresh::reserve(made).unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(ids.iter().all(|&id| id != 0 && id <= MASK));
    }

    /// On Windows, as on Linux, an identity is the index of a block whose start this
    /// copy holds reserved, so no other copy of the library can get it.
    #[cfg(all(windows, target_pointer_width = "64"))]
    #[test]
    fn a_windows_identity_is_a_block_whose_start_is_reserved() {
        use windows_sys::Win32::System::Memory::{MEM_RESERVE, MEMORY_BASIC_INFORMATION, VirtualQuery};
        for made in 0..3 {
            let id = fresh::reserve(made).unwrap();
            let start = id << (47 - BITS);
            // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is valid; VirtualQuery fills it.
            let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
            // SAFETY: VirtualQuery only describes the address space; `info` is writable.
            let size = unsafe { VirtualQuery(start as *const _, &mut info, std::mem::size_of_val(&info)) };
            assert_ne!(size, 0);
            assert_eq!((info.State, info.AllocationBase as usize), (MEM_RESERVE, start), "identity {id}");
        }
    }

    #[test]
    fn a_freed_identity_comes_back_with_its_next_generation() {
        let mut pool = Pool::new();
        let mut next = 100;
        let mut fresh = |made: usize| -> Option<usize> {
            next += 1;
            (made < 2).then_some(next)
        };
        let a = pool.acquire(&mut fresh).unwrap();
        let b = pool.acquire(&mut fresh).unwrap();
        assert_eq!(
            (a, b),
            (Identity { id: 101, first_generation: 0 }, Identity { id: 102, first_generation: 0 })
        );
        assert_eq!(pool.acquire(&mut fresh), None, "none left");
        pool.release(102, 12, 100);
        pool.release(101, 101, 100);
        assert_eq!(pool.acquire(&mut fresh), Some(Identity { id: 102, first_generation: 12 }));
        assert_eq!(pool.acquire(&mut fresh), None, "an identity with no generations left is retired");
    }
}
