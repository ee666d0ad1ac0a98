//! Asking the CPU to load memory ahead of its use.
//!
//! With a million keys cached, each verify reads a row, and the row's usage
//! cell, that are not in the CPU's caches. Read one field at a time, each
//! of the row's cache lines is a wait of its own; asked for at once, they
//! arrive together, while the verify hashes the key.

/// Starts loading every cache line of `value`.
pub(crate) fn prefetch<T>(value: &T) {
    prefetch_bytes((value as *const T).cast(), std::mem::size_of::<T>());
}

/// Starts loading the first cache line of `items`, where a short text (an
/// owner, a name, metadata) or list lies whole, or most of it.
pub(crate) fn prefetch_start<T>(items: &[T]) {
    prefetch_bytes(items.as_ptr().cast(), std::mem::size_of_val(items).min(1));
}

/// Starts loading every cache line of the `len` bytes at `start`.
fn prefetch_bytes(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if len > 0 {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        let start = start.cast::<i8>();
        // From the line the bytes start on to the one they end on: bytes
        // that do not start on a line boundary span one line more than
        // their size in lines.
        let lines = (start as usize % LINE + len).div_ceil(LINE);
        let first = start.wrapping_sub(start as usize % LINE);
        for line in 0..lines {
            // SAFETY: a prefetch is only a hint: it reads nothing into the
            // program and cannot fault, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(line * LINE)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}
