//! Immutable, reference-counted, typed array storage.
//!
//! A `Buffer` is a dtype, a row-major shape and an `Arc<RawBuf>`. Buffers are
//! never written after construction: a kernel allocates a `RawBuf`, fills it
//! through `as_mut_slice`, then freezes it into a `Buffer`.
//! Large allocations come from a size-class pool (fresh pages cost ~3 µs each on
//! our VMs), so a freed buffer's pages are reused by the next allocation.
use crate::base::dtype::{DType, Element};
use crate::base::error::{Error, Result, OOM_PREFIX};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

const ALIGN: usize = 64;
/// Allocations at least this large go through the pool.
const POOL_MIN: usize = 32 * 1024;
/// The pool keeps at most this many idle bytes.
const POOL_MAX_IDLE: usize = 2 << 30;

/// Raw, always-initialised bytes: 64-byte aligned memory of our own (from the
/// pool), or memory borrowed from an immutable foreign object (a read-only
/// NumPy array) that `owner` keeps alive.
pub struct RawBuf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
    owner: Option<Box<dyn std::any::Any + Send + Sync>>,
}

// SAFETY: a `RawBuf` owns its allocation (or borrows immutable memory kept
// alive by `owner`, itself Send + Sync); `&RawBuf` only reads it and writes
// need `&mut RawBuf`, so it follows the rules of `Box<[u8]>`.
unsafe impl Send for RawBuf {}
// SAFETY: as for `Send`: shared references only read.
unsafe impl Sync for RawBuf {}

struct Pool {
    /// (capacity, pointers) buckets, few enough that a linear scan is fine.
    free: Vec<(usize, Vec<NonNull<u8>>)>,
    idle: usize,
}
// SAFETY: the pool's pointers are idle allocations that no `RawBuf` refers
// to; they are only touched under `POOL`'s mutex.
unsafe impl Send for Pool {}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    idle: 0,
});

/// Round up to a size class: 4 classes per power of two above POOL_MIN.
fn size_class(n: usize) -> usize {
    if n < POOL_MIN {
        return n.max(1).next_multiple_of(ALIGN);
    }
    let p = usize::BITS - 1 - n.leading_zeros(); // floor(log2 n)
    let step = 1usize << (p - 2);
    n.next_multiple_of(step)
}

impl RawBuf {
    /// `len` zero (or recycled, hence initialised) bytes. A failed
    /// allocation panics (see `alloc_array`, which names the array).
    pub fn alloc(len: usize) -> RawBuf {
        RawBuf::try_alloc(len).unwrap_or_else(|| panic!("{}", oom_message(len, None)))
    }

    /// Memory for an array of `dtype` and `shape`. A byte count beyond the
    /// address space or a failed allocation panics with an `OutOfMemory`
    /// message that names the shape, the dtype and the bytes asked for
    /// (every entry point turns it into a Python exception; the process
    /// never aborts in `handle_alloc_error`).
    pub fn alloc_array(dtype: DType, shape: &[usize]) -> RawBuf {
        let len = byte_size(dtype, shape)
            .unwrap_or_else(|| panic!("{}", oom_message(usize::MAX, Some((dtype, shape)))));
        RawBuf::try_alloc(len)
            .unwrap_or_else(|| panic!("{}", oom_message(len, Some((dtype, shape)))))
    }

    /// `len` zero (or recycled) bytes, or None if the allocation fails.
    pub fn try_alloc(len: usize) -> Option<RawBuf> {
        if len > isize::MAX as usize - ALIGN {
            return None;
        }
        let cap = size_class(len);
        if cap >= POOL_MIN {
            if let Ok(mut pool) = POOL.lock() {
                if let Some((_, v)) = pool.free.iter_mut().find(|(c, _)| *c == cap) {
                    if let Some(ptr) = v.pop() {
                        pool.idle -= cap;
                        return Some(RawBuf {
                            ptr,
                            len,
                            cap,
                            owner: None,
                        });
                    }
                }
            }
        }
        let layout = Layout::from_size_align(cap, ALIGN).ok()?;
        // SAFETY: cap > 0 (size_class rounds up to at least ALIGN) and the
        // layout is valid (checked just above).
        let p = unsafe { alloc_zeroed(layout) };
        Some(RawBuf {
            ptr: NonNull::new(p)?,
            len,
            cap,
            owner: None,
        })
    }

    /// Borrow `len` bytes at `ptr`, kept alive (and never written) by `owner`.
    ///
    /// # Safety
    /// `ptr` must be valid for reads of `len` bytes, suitably aligned for the
    /// dtype it will be read as, and immutable for as long as `owner` lives.
    pub unsafe fn borrowed(
        ptr: *const u8,
        len: usize,
        owner: Box<dyn std::any::Any + Send + Sync>,
    ) -> RawBuf {
        let ptr = NonNull::new(ptr as *mut u8).unwrap_or(NonNull::dangling());
        RawBuf {
            ptr,
            len,
            cap: 0,
            owner: Some(owner),
        }
    }

    /// True if this memory belongs to a foreign object.
    pub fn is_borrowed(&self) -> bool {
        self.owner.is_some()
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for cap >= len initialised bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        assert!(self.owner.is_none(), "borrowed memory is never written");
        // SAFETY: ptr is valid for `len` initialised bytes of our own
        // (checked just above: not borrowed), and `&mut self` makes this the
        // only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// View as `&[T]`. The caller guarantees the bytes hold `T`s (checked by `Buffer`).
    pub fn as_slice<T: Element>(&self) -> &[T] {
        let n = self.len / std::mem::size_of::<T>();
        // SAFETY: `n * size_of::<T>() <= len` initialised bytes, aligned to
        // 64 (ours) or to the dtype (`borrowed`'s contract); `Element` makes
        // every byte pattern the core stores a valid `T` (bools are
        // normalised to 0/1 where bytes enter).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr() as *const T, n) }
    }

    pub fn as_mut_slice<T: Element>(&mut self) -> &mut [T] {
        assert!(self.owner.is_none(), "borrowed memory is never written");
        let n = self.len / std::mem::size_of::<T>();
        // SAFETY: as `as_slice`, on memory of our own (checked above), and
        // `&mut self` makes it the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr() as *mut T, n) }
    }
}

impl Drop for RawBuf {
    fn drop(&mut self) {
        if self.owner.is_some() {
            return; // the owner frees its memory when it is dropped
        }
        if self.cap >= POOL_MIN {
            if let Ok(mut pool) = POOL.lock() {
                if pool.idle + self.cap <= POOL_MAX_IDLE {
                    pool.idle += self.cap;
                    let cap = self.cap;
                    match pool.free.iter_mut().find(|(c, _)| *c == cap) {
                        Some((_, v)) => v.push(self.ptr),
                        None => pool.free.push((cap, vec![self.ptr])),
                    }
                    return;
                }
            }
        }
        let layout = Layout::from_size_align(self.cap, ALIGN).expect("layout");
        // SAFETY: `ptr` came from `alloc_zeroed` with this same layout (cap,
        // ALIGN) and is not borrowed (checked above) nor in the pool.
        unsafe { dealloc(self.ptr.as_ptr(), layout) }
    }
}

/// Number of elements of a shape. Never wraps: a count beyond `usize` is
/// `usize::MAX` (the passes reject such shapes before any kernel sees them,
/// and an allocation of that many elements fails cleanly).
pub fn numel(shape: &[usize]) -> usize {
    if shape.contains(&0) {
        return 0;
    }
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

/// The byte count of an array of `dtype` and `shape`, if it fits the
/// address space (at most `isize::MAX` bytes, Rust's limit for one object).
pub fn byte_size(dtype: DType, shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape
        .iter()
        .try_fold(dtype.itemsize(), |n, &d| n.checked_mul(d))
        .filter(|&n| n <= isize::MAX as usize)
}

/// `byte_size`, or the `ValueError` (`ShapeMismatch`) that names the shape.
pub fn checked_byte_size(op: &str, dtype: DType, shape: &[usize]) -> Result<usize> {
    byte_size(dtype, shape).ok_or_else(|| Error::ShapeMismatch {
        op: op.to_string(),
        msg: format!(
            "an array of shape {} and dtype {dtype} needs more bytes than this machine can address",
            fmt_shape(shape)
        ),
    })
}

/// A shape as Python prints a tuple: `(3,)`, `(2, 4)`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The message of a failed allocation (it starts with `OOM_PREFIX`, which is
/// how `error::panic_error` recognises it).
fn oom_message(bytes: usize, array: Option<(DType, &[usize])>) -> String {
    let what = match array {
        Some((dtype, shape)) => format!(
            " for an array of shape {} and dtype {dtype}",
            fmt_shape(shape)
        ),
        None => String::new(),
    };
    if bytes == usize::MAX {
        format!("{OOM_PREFIX} more bytes than this machine can address{what}")
    } else {
        format!("{OOM_PREFIX} while trying to allocate {bytes} bytes{what}")
    }
}

/// Row-major strides (in elements) of a shape. Never wraps (a stride past a
/// zero-extent dimension is never used to address an element).
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// Bytes that ops able to update their operand in place (`ops::InPlace`)
/// copied because the operand was still in use (or the run did not own
/// it): the executor's avoidable copies, counted for tests.
static COPIED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Count `bytes` copied by such an op.
pub fn note_copied(bytes: usize) {
    COPIED.fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
}

/// The bytes counted by `note_copied` so far in this process.
pub fn copied_bytes() -> u64 {
    COPIED.load(std::sync::atomic::Ordering::Relaxed)
}

#[derive(Clone)]
pub struct Buffer {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Arc<RawBuf>,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({}{:?})", self.dtype, self.shape)
    }
}

impl Buffer {
    /// A buffer over `raw`, which must hold exactly the array's bytes. Bool
    /// bytes are normalised (every nonzero byte becomes 1, as NumPy reads
    /// them): in place in memory of our own, into a copy for borrowed memory.
    pub fn new(dtype: DType, shape: Vec<usize>, mut raw: RawBuf) -> Result<Buffer> {
        let want = checked_byte_size("array", dtype, &shape)?;
        if raw.len() != want {
            return Err(Error::Internal(format!(
                "buffer of {} bytes does not hold {}{:?}",
                raw.len(),
                dtype,
                shape
            )));
        }
        if dtype == DType::Bool && !bools_are_normal(raw.bytes()) {
            if raw.is_borrowed() {
                let mut own = RawBuf::alloc_array(dtype, &shape);
                normalize_bools(own.bytes_mut(), raw.bytes());
                raw = own;
            } else {
                let b = raw.bytes_mut();
                for x in b.iter_mut() {
                    *x = (*x != 0) as u8;
                }
            }
        }
        Ok(Buffer {
            dtype,
            shape,
            data: Arc::new(raw),
        })
    }

    /// A buffer of `T`s built by `fill`, which receives the whole output slice.
    pub fn build<T: Element>(shape: Vec<usize>, fill: impl FnOnce(&mut [T])) -> Buffer {
        let mut raw = RawBuf::alloc_array(T::DTYPE, &shape);
        fill(raw.as_mut_slice::<T>());
        Buffer {
            dtype: T::DTYPE,
            shape,
            data: Arc::new(raw),
        }
    }

    /// Like `build`, but the fill may fail.
    pub fn try_build<T: Element>(
        shape: Vec<usize>,
        fill: impl FnOnce(&mut [T]) -> Result<()>,
    ) -> Result<Buffer> {
        checked_byte_size("array", T::DTYPE, &shape)?;
        let mut raw = RawBuf::alloc_array(T::DTYPE, &shape);
        fill(raw.as_mut_slice::<T>())?;
        Ok(Buffer {
            dtype: T::DTYPE,
            shape,
            data: Arc::new(raw),
        })
    }

    pub fn from_vec<T: Element>(shape: Vec<usize>, v: &[T]) -> Result<Buffer> {
        if v.len() != numel(&shape) {
            return Err(Error::Internal(format!(
                "{} values for shape {:?}",
                v.len(),
                shape
            )));
        }
        Ok(Buffer::build::<T>(shape, |o| o.copy_from_slice(v)))
    }

    /// A copy of `bytes` as an array of `dtype` and `shape` (bools
    /// normalised to 0/1).
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Buffer> {
        let want = checked_byte_size("array", dtype, &shape)?;
        if want != bytes.len() {
            return Err(Error::Internal(format!(
                "{} bytes do not hold an array of shape {} and dtype {dtype}",
                bytes.len(),
                fmt_shape(&shape)
            )));
        }
        let mut raw = RawBuf::alloc_array(dtype, &shape);
        if dtype == DType::Bool {
            normalize_bools(raw.bytes_mut(), bytes);
        } else {
            par_copy(raw.bytes_mut(), bytes);
        }
        Buffer::new(dtype, shape, raw)
    }

    pub fn len(&self) -> usize {
        numel(&self.shape)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Typed view; errors if `T` is not this buffer's dtype.
    pub fn slice<T: Element>(&self) -> Result<&[T]> {
        if T::DTYPE != self.dtype {
            return Err(Error::Internal(format!(
                "buffer of dtype {} read as {}",
                self.dtype,
                T::DTYPE
            )));
        }
        Ok(self.data.as_slice::<T>())
    }

    /// The same bytes read as another dtype and shape of the same byte size (free).
    /// Bytes read as bool are normalised (a copy, only if some byte is not 0/1).
    pub fn reinterpret(&self, dtype: DType, shape: Vec<usize>) -> Result<Buffer> {
        if byte_size(dtype, &shape) != Some(self.data.len()) {
            return Err(Error::Internal(format!(
                "cannot view {} bytes as {}{:?}",
                self.data.len(),
                dtype,
                shape
            )));
        }
        if dtype == DType::Bool && self.dtype != DType::Bool && !bools_are_normal(self.data.bytes())
        {
            return Buffer::from_bytes(dtype, shape, self.data.bytes());
        }
        Ok(Buffer {
            dtype,
            shape,
            data: self.data.clone(),
        })
    }

    /// The same data under another shape with the same element count (free).
    pub fn reshaped(&self, shape: Vec<usize>) -> Result<Buffer> {
        if numel(&shape) != self.len() {
            return Err(Error::Internal(format!(
                "reshape {:?} -> {:?}",
                self.shape, shape
            )));
        }
        Ok(Buffer {
            dtype: self.dtype,
            shape,
            data: self.data.clone(),
        })
    }
}

/// Whether every byte is a valid bool (0 or 1).
fn bools_are_normal(b: &[u8]) -> bool {
    b.iter().fold(0u8, |acc, &x| acc | (x & !1)) == 0
}

/// `dst[i] = (src[i] != 0)`: bytes from outside read as NumPy reads bools.
fn normalize_bools(dst: &mut [u8], src: &[u8]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = (s != 0) as u8;
    }
}

/// Parallel memcpy (rayon; the loop helpers live a layer up, in `loops`).
fn par_copy(dst: &mut [u8], src: &[u8]) {
    use rayon::prelude::*;
    let grain = 1 << 20;
    if src.len() <= grain || rayon::current_num_threads() <= 1 {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(grain)
        .zip(src.par_chunks(grain))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_read() {
        let b = Buffer::build::<f32>(vec![2, 3], |o| {
            for (i, x) in o.iter_mut().enumerate() {
                *x = i as f32
            }
        });
        assert_eq!(b.slice::<f32>().unwrap(), &[0., 1., 2., 3., 4., 5.]);
        assert!(b.slice::<f64>().is_err());
    }

    #[test]
    fn pool_reuses() {
        let n = 1 << 20;
        let p1 = {
            let r = RawBuf::alloc(n);
            r.ptr.as_ptr() as usize
        };
        let r2 = RawBuf::alloc(n);
        assert_eq!(p1, r2.ptr.as_ptr() as usize);
    }

    #[test]
    fn classes() {
        assert_eq!(size_class(1), 64);
        assert!(size_class(POOL_MIN + 1) > POOL_MIN);
        assert!(size_class(100_000) < 125_000);
    }
}
