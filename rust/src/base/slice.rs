//! Typed slices whose element type is known at run time (`Slice`,
//! `SliceMut`), and `Col`, a growable typed vector of any dtype: what the
//! slice kernels read and write, whether the elements live in a buffer or in
//! a fused kernel's tile.
use super::buffer::Buffer;
use super::dtype::{DType, Element, C128, C64};
use super::error::{Error, Result};
use half::{bf16, f16};
use std::marker::PhantomData;

/// `[start, start + len)` lies within `n` elements (without wrapping: a
/// wrapped end would pass a plain `start + len > n` in release builds).
#[inline]
fn in_range(start: usize, len: usize, n: usize) -> Result<()> {
    match start.checked_add(len) {
        Some(end) if end <= n => Ok(()),
        _ => Err(Error::Internal(format!(
            "slice of {len} elements from {start} of {n} elements"
        ))),
    }
}

/// A read-only slice of `len` elements of `dtype`.
#[derive(Clone, Copy, Debug)]
pub struct Slice<'a> {
    dtype: DType,
    ptr: *const u8,
    len: usize,
    _life: PhantomData<&'a [u8]>,
}

// SAFETY: a `Slice` is a shared borrow of plain data (like `&[T]` with
// `T: Element`, which is Sync), so it may cross and be shared by threads.
unsafe impl Send for Slice<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for Slice<'_> {}

impl<'a> Slice<'a> {
    #[inline]
    pub fn new<T: Element>(v: &'a [T]) -> Slice<'a> {
        Slice {
            dtype: T::DTYPE,
            ptr: v.as_ptr() as *const u8,
            len: v.len(),
            _life: PhantomData,
        }
    }

    /// `len` elements of `dtype` at `ptr`.
    ///
    /// # Safety
    /// `ptr` must point to `len` live, aligned elements of `dtype` that
    /// nothing writes while the result lives.
    #[inline]
    pub unsafe fn from_raw(dtype: DType, ptr: *const u8, len: usize) -> Slice<'a> {
        Slice {
            dtype,
            ptr,
            len,
            _life: PhantomData,
        }
    }

    /// The elements `[start, start + len)` of a buffer.
    #[inline]
    pub fn of_buffer(b: &'a Buffer, start: usize, len: usize) -> Result<Slice<'a>> {
        in_range(start, len, b.len())?;
        let bytes = b.data.bytes();
        Ok(Slice {
            dtype: b.dtype,
            // SAFETY: in bounds (checked above).
            ptr: unsafe { bytes.as_ptr().add(start * b.dtype.itemsize()) },
            len,
            _life: PhantomData,
        })
    }

    #[inline]
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements as `T`s, if they are `T`s.
    #[inline]
    pub fn get<T: Element>(&self) -> Option<&'a [T]> {
        // SAFETY: the dtype says the elements are Ts.
        (self.dtype == T::DTYPE)
            .then(|| unsafe { std::slice::from_raw_parts(self.ptr as *const T, self.len) })
    }

    /// Elements `[start, start + len)`; out of range is an error.
    #[inline]
    pub fn sub(&self, start: usize, len: usize) -> Result<Slice<'a>> {
        in_range(start, len, self.len)?;
        Ok(Slice {
            // SAFETY: in bounds (checked above).
            ptr: unsafe { self.ptr.add(start * self.dtype.itemsize()) },
            len,
            ..*self
        })
    }

    /// (dtype, pointer to the first element, length).
    #[inline]
    pub fn raw_parts(&self) -> (DType, *const u8, usize) {
        (self.dtype, self.ptr, self.len)
    }
}

/// A mutable slice of `len` elements of `dtype`.
#[derive(Debug)]
pub struct SliceMut<'a> {
    dtype: DType,
    ptr: *mut u8,
    len: usize,
    _life: PhantomData<&'a mut [u8]>,
}

// SAFETY: a `SliceMut` is an exclusive borrow of plain data (like `&mut [T]`).
unsafe impl Send for SliceMut<'_> {}

impl<'a> SliceMut<'a> {
    #[inline]
    pub fn new<T: Element>(v: &'a mut [T]) -> SliceMut<'a> {
        SliceMut {
            dtype: T::DTYPE,
            ptr: v.as_mut_ptr() as *mut u8,
            len: v.len(),
            _life: PhantomData,
        }
    }

    /// `len` elements of `dtype` at `ptr`.
    ///
    /// # Safety
    /// `ptr` must point to `len` live, aligned elements of `dtype` that
    /// nothing else reads or writes while the result lives.
    #[inline]
    pub unsafe fn from_raw(dtype: DType, ptr: *mut u8, len: usize) -> SliceMut<'a> {
        SliceMut {
            dtype,
            ptr,
            len,
            _life: PhantomData,
        }
    }

    #[inline]
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements as `T`s, if they are `T`s.
    #[inline]
    pub fn get<T: Element>(self) -> Option<&'a mut [T]> {
        // SAFETY: the dtype says the elements are Ts; `self` is consumed.
        (self.dtype == T::DTYPE)
            .then(|| unsafe { std::slice::from_raw_parts_mut(self.ptr as *mut T, self.len) })
    }

    /// A shorter borrow of the same elements.
    #[inline]
    pub fn reborrow(&mut self) -> SliceMut<'_> {
        SliceMut {
            dtype: self.dtype,
            ptr: self.ptr,
            len: self.len,
            _life: PhantomData,
        }
    }

    /// Elements `[start, start + len)`; out of range is an error.
    #[inline]
    pub fn sub(self, start: usize, len: usize) -> Result<SliceMut<'a>> {
        in_range(start, len, self.len)?;
        Ok(SliceMut {
            // SAFETY: in bounds (checked above).
            ptr: unsafe { self.ptr.add(start * self.dtype.itemsize()) },
            len,
            ..self
        })
    }

    /// A read-only view of the same elements.
    #[inline]
    pub fn as_slice(&self) -> Slice<'_> {
        Slice {
            dtype: self.dtype,
            ptr: self.ptr,
            len: self.len,
            _life: PhantomData,
        }
    }

    /// Copy `src` (same dtype and length) into these elements.
    #[inline]
    pub fn copy_from(self, src: Slice<'_>) -> Result<()> {
        if src.dtype != self.dtype || src.len != self.len {
            return Err(Error::Internal(format!(
                "copy of {} {} into {} {}",
                src.len, src.dtype, self.len, self.dtype
            )));
        }
        let n = self.len * self.dtype.itemsize();
        // SAFETY: both ranges are live, of n bytes, and do not overlap
        // (`self` is an exclusive borrow).
        unsafe { std::ptr::copy_nonoverlapping(src.ptr, self.ptr, n) };
        Ok(())
    }

    /// (dtype, pointer to the first element, length).
    #[inline]
    pub fn raw_parts(&self) -> (DType, *mut u8, usize) {
        (self.dtype, self.ptr, self.len)
    }
}

/// `with_dtype!(dtype, T => expr)`: `expr` with the type alias `T` bound to
/// the storage type of `dtype` (every dtype).
#[macro_export]
macro_rules! with_dtype {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::base::dtype::DType as D;
        match $dt {
            D::Bool => {
                #[allow(dead_code)]
                type $T = bool;
                $body
            }
            D::I8 => {
                #[allow(dead_code)]
                type $T = i8;
                $body
            }
            D::I16 => {
                #[allow(dead_code)]
                type $T = i16;
                $body
            }
            D::I32 => {
                #[allow(dead_code)]
                type $T = i32;
                $body
            }
            D::I64 => {
                #[allow(dead_code)]
                type $T = i64;
                $body
            }
            D::U8 => {
                #[allow(dead_code)]
                type $T = u8;
                $body
            }
            D::U16 => {
                #[allow(dead_code)]
                type $T = u16;
                $body
            }
            D::U32 => {
                #[allow(dead_code)]
                type $T = u32;
                $body
            }
            D::U64 => {
                #[allow(dead_code)]
                type $T = u64;
                $body
            }
            D::F16 => {
                #[allow(dead_code)]
                type $T = half::f16;
                $body
            }
            D::BF16 => {
                #[allow(dead_code)]
                type $T = half::bf16;
                $body
            }
            D::F32 => {
                #[allow(dead_code)]
                type $T = f32;
                $body
            }
            D::F64 => {
                #[allow(dead_code)]
                type $T = f64;
                $body
            }
            D::C64 => {
                #[allow(dead_code)]
                type $T = $crate::base::dtype::C64;
                $body
            }
            D::C128 => {
                #[allow(dead_code)]
                type $T = $crate::base::dtype::C128;
                $body
            }
        }
    }};
}

/// A growable vector of one dtype: a tile of a fused kernel, or a scratch
/// operand of an eager one.
#[derive(Clone, Debug)]
pub enum Col {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    C64(Vec<C64>),
    C128(Vec<C128>),
}

/// `with_col!(col, v => expr)`: `expr` with `v` bound to the typed vector.
macro_rules! with_col {
    ($c:expr, $v:ident => $body:expr) => {
        match $c {
            Col::Bool($v) => $body,
            Col::I8($v) => $body,
            Col::I16($v) => $body,
            Col::I32($v) => $body,
            Col::I64($v) => $body,
            Col::U8($v) => $body,
            Col::U16($v) => $body,
            Col::U32($v) => $body,
            Col::U64($v) => $body,
            Col::F16($v) => $body,
            Col::BF16($v) => $body,
            Col::F32($v) => $body,
            Col::F64($v) => $body,
            Col::C64($v) => $body,
            Col::C128($v) => $body,
        }
    };
}

impl Col {
    /// An empty column of `dtype` with room for `cap` elements.
    #[inline]
    pub fn new(dtype: DType, cap: usize) -> Col {
        match dtype {
            DType::Bool => Col::Bool(Vec::with_capacity(cap)),
            DType::I8 => Col::I8(Vec::with_capacity(cap)),
            DType::I16 => Col::I16(Vec::with_capacity(cap)),
            DType::I32 => Col::I32(Vec::with_capacity(cap)),
            DType::I64 => Col::I64(Vec::with_capacity(cap)),
            DType::U8 => Col::U8(Vec::with_capacity(cap)),
            DType::U16 => Col::U16(Vec::with_capacity(cap)),
            DType::U32 => Col::U32(Vec::with_capacity(cap)),
            DType::U64 => Col::U64(Vec::with_capacity(cap)),
            DType::F16 => Col::F16(Vec::with_capacity(cap)),
            DType::BF16 => Col::BF16(Vec::with_capacity(cap)),
            DType::F32 => Col::F32(Vec::with_capacity(cap)),
            DType::F64 => Col::F64(Vec::with_capacity(cap)),
            DType::C64 => Col::C64(Vec::with_capacity(cap)),
            DType::C128 => Col::C128(Vec::with_capacity(cap)),
        }
    }

    #[inline]
    pub fn dtype(&self) -> DType {
        match self {
            Col::Bool(_) => DType::Bool,
            Col::I8(_) => DType::I8,
            Col::I16(_) => DType::I16,
            Col::I32(_) => DType::I32,
            Col::I64(_) => DType::I64,
            Col::U8(_) => DType::U8,
            Col::U16(_) => DType::U16,
            Col::U32(_) => DType::U32,
            Col::U64(_) => DType::U64,
            Col::F16(_) => DType::F16,
            Col::BF16(_) => DType::BF16,
            Col::F32(_) => DType::F32,
            Col::F64(_) => DType::F64,
            Col::C64(_) => DType::C64,
            Col::C128(_) => DType::C128,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        with_col!(self, v => v.len())
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resize to `len` elements (new ones are zero).
    #[inline]
    pub fn set_len(&mut self, len: usize) {
        with_col!(self, v => v.resize(len, Default::default()))
    }

    /// Broadcast a one-element column to `len` elements.
    #[inline]
    pub fn expand(&mut self, len: usize) {
        if self.len() == 1 && len > 1 {
            with_col!(self, v => { let x = v[0]; v.resize(len, x) })
        }
    }

    #[inline]
    pub fn as_slice(&self) -> Slice<'_> {
        with_col!(self, v => Slice::new(v))
    }

    #[inline]
    pub fn as_mut(&mut self) -> SliceMut<'_> {
        with_col!(self, v => SliceMut::new(v))
    }

    /// The typed vector, if the column holds `T`s.
    #[inline]
    pub fn vec_mut<T: Element>(&mut self) -> Option<&mut Vec<T>> {
        fn cast<T: Element, U: Element>(v: &mut Vec<U>) -> Option<&mut Vec<T>> {
            // SAFETY: T and U are the same type when their dtypes agree
            // (each dtype has one storage type).
            (T::DTYPE == U::DTYPE).then(|| unsafe { &mut *(v as *mut Vec<U> as *mut Vec<T>) })
        }
        with_col!(self, v => cast::<T, _>(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_access_checks_the_dtype() {
        let v = [1.0f32, 2.0, 3.0];
        let s = Slice::new(&v);
        assert_eq!(s.dtype(), DType::F32);
        assert_eq!(s.get::<f32>(), Some(&v[..]));
        assert_eq!(s.get::<i32>(), None);
        assert_eq!(s.get::<f64>(), None);
        let mut w = [0u8; 4];
        assert!(SliceMut::new(&mut w).get::<bool>().is_none());
        assert_eq!(SliceMut::new(&mut w).get::<u8>().unwrap().len(), 4);
        let mut c = Col::new(DType::I16, 2);
        assert!(c.vec_mut::<u16>().is_none());
        c.vec_mut::<i16>().unwrap().extend([4, 5]);
        assert_eq!(c.as_slice().get::<i16>(), Some(&[4i16, 5][..]));
    }

    #[test]
    fn every_dtype_has_one_storage_type() {
        for d in DType::ALL {
            let mut c = Col::new(d, 3);
            assert_eq!(c.dtype(), d);
            c.set_len(3);
            assert_eq!(
                (c.len(), c.as_slice().dtype(), c.as_mut().dtype()),
                (3, d, d)
            );
            let n = crate::with_dtype!(d, T => {
                assert_eq!(std::mem::size_of::<T>(), d.itemsize());
                c.as_slice().get::<T>().map(|v| v.len())
            });
            assert_eq!(n, Some(3));
        }
    }

    #[test]
    fn copies_check_dtype_and_length_in_every_build() {
        let src = [1i32, 2, 3];
        let mut dst = [0i32; 3];
        SliceMut::new(&mut dst).copy_from(Slice::new(&src)).unwrap();
        assert_eq!(dst, src);
        let mut wrong_type = [0u32; 3];
        assert!(SliceMut::new(&mut wrong_type)
            .copy_from(Slice::new(&src))
            .is_err());
        assert_eq!(wrong_type, [0; 3]);
        let mut short = [0i32; 2];
        assert!(SliceMut::new(&mut short)
            .copy_from(Slice::new(&src))
            .is_err());
        assert_eq!(short, [0; 2]);
    }

    #[test]
    fn sub_ranges_are_checked_without_wrapping() {
        let v = [1u16, 2, 3, 4];
        let s = Slice::new(&v);
        assert_eq!(s.sub(1, 2).unwrap().get::<u16>(), Some(&[2u16, 3][..]));
        assert_eq!(s.sub(4, 0).unwrap().len(), 0);
        assert!(s.sub(3, 2).is_err());
        assert!(s.sub(5, 0).is_err());
        // start + len wraps to a small number: still out of range
        assert!(s.sub(usize::MAX, 2).is_err());
        assert!(s.sub(2, usize::MAX).is_err());
        let mut w = [0u16; 4];
        let mut m = SliceMut::new(&mut w);
        assert!(m.reborrow().sub(usize::MAX, 1).is_err());
        assert!(m.reborrow().sub(1, 4).is_err());
        m.reborrow()
            .sub(2, 2)
            .unwrap()
            .get::<u16>()
            .unwrap()
            .fill(7);
        assert_eq!(w, [0, 0, 7, 7]);
        let b = Buffer::from_vec::<u16>(vec![4], &v).unwrap();
        assert_eq!(
            Slice::of_buffer(&b, 1, 3).unwrap().get::<u16>(),
            Some(&[2u16, 3, 4][..])
        );
        assert!(Slice::of_buffer(&b, 2, 3).is_err());
        assert!(Slice::of_buffer(&b, usize::MAX, 2).is_err());
    }

    #[test]
    fn expand_broadcasts_one_element_only() {
        let mut c = Col::new(DType::F64, 1);
        c.vec_mut::<f64>().unwrap().push(2.5);
        c.expand(4);
        assert_eq!(c.as_slice().get::<f64>(), Some(&[2.5; 4][..]));
        c.expand(9); // not one element: unchanged
        assert_eq!(c.len(), 4);
    }
}
