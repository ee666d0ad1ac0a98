//! Asking the CPU to load memory ahead of its use.
//!
//! With a million keys cached, each verify reads a row, and the row's usage
//! cell, that are not in the CPU's caches. Read one field at a time, each
//! of the row's cache lines is a wait of its own; asked for at once, they
//! arrive together, while the verify hashes the key.

/// Starts loading every cache line of `value`.
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        let start = (value as *const T).cast::<i8>();
        // From the line `value` starts on to the one it ends on: a value
        // that does not start on a line boundary spans one line more than
        // its size in lines.
        let lines = (start as usize % LINE + std::mem::size_of::<T>()).div_ceil(LINE);
        let first = start.wrapping_sub(start as usize % LINE);
        for line in 0..lines {
            // SAFETY: a prefetch is only a hint: it reads nothing into the
            // program and cannot fault, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(line * LINE)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
