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
    fn sizes_never_wrap() {
        // 2**62 f32 elements: the element count fits, the byte count does not
        let big = [1usize << 31, 1 << 31];
        assert_eq!(numel(&big), 1 << 62);
        assert_eq!(byte_size(DType::F32, &big), None);
        assert_eq!(byte_size(DType::U8, &big), Some(1 << 62));
        assert_eq!(byte_size(DType::U8, &[1 << 32, 1 << 32]), None);
        let e = checked_byte_size("broadcast_in_dim", DType::F32, &big).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
        assert!(e.to_string().contains("(2147483648, 2147483648)"), "{e}");
        assert!(e.to_string().contains("float32"), "{e}");
        // a count beyond usize saturates, and a zero extent makes any shape fit
        assert_eq!(numel(&[1 << 40, 1 << 40]), usize::MAX);
        assert_eq!(numel(&[1 << 40, 0, 1 << 40]), 0);
        assert_eq!(byte_size(DType::C128, &[1 << 40, 0, 1 << 40]), Some(0));
        assert_eq!(
            strides(&[0, 1 << 40, 1 << 40]),
            vec![usize::MAX, 1 << 40, 1]
        );
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(fmt_shape(&[3]), "(3,)");
        assert_eq!(fmt_shape(&[]), "()");
    }

    #[test]
    fn an_unaddressable_array_is_an_out_of_memory_panic_naming_it() {
        assert!(RawBuf::try_alloc(usize::MAX).is_none());
        assert!(RawBuf::try_alloc(isize::MAX as usize).is_none());
        let p = std::panic::catch_unwind(|| RawBuf::alloc_array(DType::F64, &[1 << 31, 1 << 31]))
            .map(|_| ())
            .unwrap_err();
        let msg = crate::base::error::panic_message(p);
        assert!(msg.starts_with(OOM_PREFIX), "{msg}");
        assert!(
            msg.contains("(2147483648, 2147483648)") && msg.contains("float64"),
            "{msg}"
        );
        // and allocation goes on working
        assert_eq!(RawBuf::alloc_array(DType::F64, &[3]).len(), 24);
    }

    #[test]
    fn bool_bytes_are_normalised_wherever_they_enter() {
        let raw = [0u8, 1, 2, 255, 128];
        let b = Buffer::from_bytes(DType::Bool, vec![5], &raw).unwrap();
        assert_eq!(b.data.bytes(), &[0, 1, 1, 1, 1]);
        assert_eq!(b.slice::<bool>().unwrap(), &[false, true, true, true, true]);
        // a view of other bytes as bool copies; the source is untouched
        let u = Buffer::from_bytes(DType::U8, vec![5], &raw).unwrap();
        let v = u.reinterpret(DType::Bool, vec![5]).unwrap();
        assert_eq!(v.data.bytes(), &[0, 1, 1, 1, 1]);
        assert!(!Arc::ptr_eq(&u.data, &v.data));
        assert_eq!(u.data.bytes(), &raw);
        // valid bytes are shared, not copied
        let ok = Buffer::from_bytes(DType::U8, vec![2], &[1, 0]).unwrap();
        assert!(Arc::ptr_eq(
            &ok.data,
            &ok.reinterpret(DType::Bool, vec![2]).unwrap().data
        ));
        // borrowed memory is never written: the normalised bytes are a copy
        let owner: Box<Vec<u8>> = Box::new(raw.to_vec());
        let (ptr, len) = (owner.as_ptr(), owner.len());
        // SAFETY: the Vec's heap memory is valid for `len` bytes and lives
        // (unchanged) as long as the box, which the RawBuf owns.
        let borrowed = unsafe { RawBuf::borrowed(ptr, len, owner) };
        let b = Buffer::new(DType::Bool, vec![5], borrowed).unwrap();
        assert!(!b.data.is_borrowed());
        assert_eq!(b.data.bytes(), &[0, 1, 1, 1, 1]);
        // in place in memory of our own
        let mut own = RawBuf::alloc(3);
        own.bytes_mut().copy_from_slice(&[7, 0, 1]);
        let b = Buffer::new(DType::Bool, vec![3], own).unwrap();
        assert_eq!(b.data.bytes(), &[1, 0, 1]);
    }

    #[test]
    fn wrong_byte_counts_are_errors() {
        assert!(Buffer::from_bytes(DType::F32, vec![2], &[0; 7]).is_err());
        assert!(Buffer::new(DType::F32, vec![2], RawBuf::alloc(9)).is_err());
        let b = Buffer::from_vec::<f32>(vec![2], &[1.0, 2.0]).unwrap();
        assert!(b.reinterpret(DType::F64, vec![2]).is_err());
        assert!(b.reinterpret(DType::F32, vec![1 << 62, 4]).is_err());
        assert_eq!(b.reinterpret(DType::U8, vec![8]).unwrap().len(), 8);
        assert!(b.reshaped(vec![3]).is_err());
        assert!(Buffer::from_vec::<f32>(vec![3], &[1.0]).is_err());
        let e = Buffer::from_bytes(DType::F32, vec![1 << 31, 1 << 31], &[]).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e:?}");
    }

    #[test]
    fn pooled_memory_is_reused_at_every_length_of_its_class() {
        // a freed buffer comes back for a smaller length of the same size
        // class, its bytes initialised (recycled, not fresh)
        // (a size class no other test uses: tests run in parallel)
        let n = 5_300_000;
        let mut a = RawBuf::alloc(n);
        a.bytes_mut().fill(0xab);
        let p = a.ptr.as_ptr() as usize;
        drop(a);
        let mut b = RawBuf::alloc(n - 100);
        assert_eq!(b.ptr.as_ptr() as usize, p);
        assert_eq!(b.len(), n - 100);
        assert!(b.bytes().iter().all(|&x| x == 0xab));
        b.as_mut_slice::<f32>().fill(1.5);
        assert_eq!(b.as_slice::<f32>().len(), (n - 100) / 4);
        // small allocations are zeroed
        assert!(RawBuf::alloc(100).bytes().iter().all(|&x| x == 0));
    }

    #[test]
    fn borrowed_memory_is_never_written() {
        let owner: Box<Vec<u8>> = Box::new(vec![1, 2, 3, 4]);
        let ptr = owner.as_ptr();
        // SAFETY: as in `bool_bytes_are_normalised_wherever_they_enter`.
        let mut r = unsafe { RawBuf::borrowed(ptr, 4, owner) };
        assert_eq!(r.bytes(), &[1, 2, 3, 4]);
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            r.bytes_mut()[0] = 9;
        }));
        assert!(err.is_err());
        assert_eq!(r.bytes(), &[1, 2, 3, 4]);
    }

    #[test]
    fn classes() {
        assert_eq!(size_class(1), 64);
        assert!(size_class(POOL_MIN + 1) > POOL_MIN);
        assert!(size_class(100_000) < 125_000);
    }
}
