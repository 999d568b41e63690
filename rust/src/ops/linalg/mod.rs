//! Dense linear algebra through `faer`: `cholesky`, `lu`,
//! `lu_pivots_to_permutation`, `qr`, `eigh`, `svd`, `triangular_solve` and
//! `tridiagonal_solve`, `eig` and `hessenberg`, with the semantics of `jax.lax.linalg`'s primitives.
//!
//! Every op is batched over the leading dims of its operands (the Python
//! rules checked the shapes at trace time): one matrix runs with faer's own
//! parallelism, a batch runs its matrices as `loops::parallel::split` tasks
//! (faer does not split small matrices, so the nesting costs nothing there).
//!
//! Buffers are row-major (C order); faer's matrices are views with strides,
//! so a row-major `m x n` block is `MatRef::from_row_major_slice`. Kernels
//! are generic over [`Scalar`] (faer's `ComplexField` plus our `Element`), so
//! complex dtypes need one `impl Scalar` line and a dispatch arm each; every
//! adjoint is written with `conj` (the identity for real dtypes).
//!
//! Failure is data, as in JAX: a matrix that is not positive definite gives a
//! Cholesky factor of NaNs, a decomposition that does not converge (or a
//! non-finite input to `eigh`/`svd`) gives NaNs, a zero pivot in LU leaves
//! its column as LAPACK's `getrf` does (no division).
mod eig;
mod factor;
mod small;
mod solve;
mod sturm;

pub use eig::{build_eig, build_hessenberg, build_schur};
pub use factor::{build_cholesky, build_eigh, build_lu, build_qr, build_svd};
pub use solve::{build_lu_pivots_to_permutation, build_triangular_solve, build_tridiagonal_solve};
pub use sturm::build_sturm_count;

use crate::base::buffer::{numel, Buffer, RawBuf};
use crate::base::dtype::{DType, Element, C128, C64};
use crate::base::error::Result;
use crate::loops::parallel::{num_threads, split};
use faer::traits::{ComplexField, RealField};
use faer::{c32, c64};

/// A type the kernels read from and write to buffers: a dtype's element
/// type itself, or faer's complex type (`num_complex::Complex`), which has
/// our `Complex`'s layout (`#[repr(C)]` real and imaginary parts).
///
/// # Safety
/// `Self` must have the size, alignment and bit validity of `Self::Elem`.
pub unsafe trait Stored: Copy + Send + Sync + 'static {
    type Elem: Element;
}

macro_rules! stored {
    ($($t:ty => $e:ty),*) => {$(
        // SAFETY: the same type, or two `#[repr(C)]` pairs of the same real
        // (checked by the assertions below).
        unsafe impl Stored for $t {
            type Elem = $e;
        }
        const _: () = assert!(
            std::mem::size_of::<$t>() == std::mem::size_of::<$e>()
                && std::mem::align_of::<$t>() == std::mem::align_of::<$e>()
        );
    )*};
}
stored!(i32 => i32, f32 => f32, f64 => f64, c32 => C64, c64 => C128);

/// The elements of `b` as `T` (its dtype must be `T`'s).
pub(crate) fn read<T: Stored>(b: &Buffer) -> Result<&[T]> {
    let s = b.slice::<T::Elem>()?;
    // SAFETY: `T` and `T::Elem` have the same layout (`Stored`'s contract).
    Ok(unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len()) })
}

/// An element type the linear-algebra kernels run on.
pub trait Scalar:
    Stored
    + ComplexField
    + small::Parts
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    /// The real type of eigenvalues and singular values (itself for reals).
    type Re: Stored + RealField;
    fn re(x: &Self) -> Self::Re;
    /// `a / b` as JAX's CPU kernels compute it (`smith_div`; for reals the
    /// plain quotient): where the quotient is representable, so is each
    /// step, unlike num-complex's `(a conj(b)) / |b|^2`.
    fn quot(a: Self, b: Self) -> Self {
        a / b
    }
    /// LAPACK's Householder QR (`factor::lapack_qr_c64`) of the column-major
    /// `m x n` matrix `a`, into the row-major `q` (`m x kq`) and `r` (`kq x
    /// n`), for the types whose reflectors faer makes differently from
    /// LAPACK's (complex: LAPACK's R has a real diagonal, faer's a complex
    /// one); false, with nothing written, for the others (real types, where
    /// faer's factors are LAPACK's).
    fn lapack_qr(
        a: &mut [Self],
        m: usize,
        n: usize,
        q: &mut [Self],
        r: &mut [Self],
        par: faer::Par,
    ) -> bool {
        let _ = (a, m, n, q, r, par);
        false
    }
}

impl Scalar for f32 {
    type Re = f32;
    fn re(x: &f32) -> f32 {
        *x
    }
}

impl Scalar for f64 {
    type Re = f64;
    fn re(x: &f64) -> f64 {
        *x
    }
}

impl Scalar for c32 {
    type Re = f32;
    fn re(x: &c32) -> f32 {
        x.re
    }
    fn quot(a: c32, b: c32) -> c32 {
        let (re, im) = smith_div(a.re, a.im, b.re, b.im);
        c32::new(re, im)
    }
    fn lapack_qr(
        a: &mut [c32],
        m: usize,
        n: usize,
        q: &mut [c32],
        r: &mut [c32],
        par: faer::Par,
    ) -> bool {
        factor::lapack_qr_c32(a, m, n, q, r, par);
        true
    }
}

impl Scalar for c64 {
    type Re = f64;
    fn re(x: &c64) -> f64 {
        x.re
    }
    fn quot(a: c64, b: c64) -> c64 {
        let (re, im) = smith_div(a.re, a.im, b.re, b.im);
        c64::new(re, im)
    }
    fn lapack_qr(
        a: &mut [c64],
        m: usize,
        n: usize,
        q: &mut [c64],
        r: &mut [c64],
        par: faer::Par,
    ) -> bool {
        factor::lapack_qr_c64(a, m, n, q, r, par);
        true
    }
}

/// `(a + b i) / (c + d i)` by Smith's algorithm, which gives JAX's CPU
/// kernels' quotients bit for bit (tested through
/// `tridiagonal_solve(perturb_singular=True)`): the ratio of the divisor's
/// smaller part to its larger, so nothing squares the divisor.
fn smith_div<F: num_traits::Float>(a: F, b: F, c: F, d: F) -> (F, F) {
    if c.abs() < d.abs() {
        let r = c / d;
        let den = d + r * c;
        ((r * a + b) / den, (r * b - a) / den)
    } else {
        let r = d / c;
        let den = c + r * d;
        ((a + r * b) / den, (b - r * a) / den)
    }
}

/// `linalg_dtype!(dt, op, T => body)`: run `body` with `T` the element type
/// of `dt`: float32/float64 (the Python side upcasts float16/bfloat16), and
/// faer's `c32`/`c64` for complex64/complex128.
#[macro_export]
macro_rules! linalg_dtype {
    ($dt:expr, $op:expr, $T:ident => $body:expr) => {{
        match $dt {
            $crate::base::dtype::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::base::dtype::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::base::dtype::DType::C64 => {
                type $T = faer::c32;
                $body
            }
            $crate::base::dtype::DType::C128 => {
                type $T = faer::c64;
                $body
            }
            other => Err($crate::base::error::dtype_err($op, other)),
        }
    }};
}

/// An output being filled, one disjoint `stride`-long block per batch item,
/// from several rayon tasks at once.
pub(crate) struct Out<T: Stored> {
    raw: RawBuf,
    dtype: DType,
    shape: Vec<usize>,
    stride: usize,
    ptr: *mut T,
}

// SAFETY: the pointer is into `raw`, which `Out` owns; each task writes only
// its own block (`block(b)` for its own `b`).
unsafe impl<T: Stored> Send for Out<T> {}
// SAFETY: as for `Send`: shared use only hands out disjoint blocks.
unsafe impl<T: Stored> Sync for Out<T> {}

impl<T: Stored> Out<T> {
    /// An output of `shape`, whose last `core` dims form one batch item.
    pub fn new(shape: &[usize], core: usize) -> Out<T> {
        let n = numel(shape);
        let stride = numel(&shape[shape.len() - core..]);
        let mut raw = RawBuf::alloc(n * std::mem::size_of::<T>());
        let ptr = raw.as_mut_slice::<T::Elem>().as_mut_ptr().cast::<T>();
        Out {
            raw,
            dtype: T::Elem::DTYPE,
            shape: shape.to_vec(),
            stride,
            ptr,
        }
    }

    /// Batch item `b`'s block.
    ///
    /// # Safety
    /// No two live blocks may have the same `b`.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn block(&self, b: usize) -> &mut [T] {
        // SAFETY: block `b` lies inside the allocation (b < batch, checked by
        // the callers' loops) and the caller guarantees it is not aliased.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(b * self.stride), self.stride) }
    }

    pub fn finish(self) -> Result<Buffer> {
        Buffer::new(self.dtype, self.shape, self.raw)
    }
}

/// Run `f(b)` for every batch item, in parallel when there are several
/// (`loops::parallel::split`: the calling thread takes items too).
pub(crate) fn for_batch(batch: usize, f: impl Fn(usize) + Sync + Send) {
    if batch <= 1 {
        (0..batch).for_each(f);
    } else {
        split(batch, f);
    }
}

/// Run `f(b)` for every batch item of a batch of small problems (about
/// `work` operations each), in parallel in runs of at least ~32k
/// operations, so that a task's cost does not dominate a batch of 8 x 8
/// matrices.
pub(crate) fn for_batch_small(batch: usize, work: usize, f: impl Fn(usize) + Sync + Send) {
    let min_len = (32768 / work.max(1)).max(1);
    if batch <= min_len {
        (0..batch).for_each(f);
    } else {
        let tasks = batch.div_ceil(min_len).min(4 * num_threads()).max(1);
        split(tasks, |t| {
            (t * batch / tasks..(t + 1) * batch / tasks).for_each(&f)
        });
    }
}

/// Run `f(w, b)` for every batch item, in parallel when there are several,
/// with a workspace `w` from `init` reused across the items one task runs
/// (a batch of small matrices then allocates per task, not per matrix).
pub(crate) fn for_batch_with<W>(
    batch: usize,
    init: impl Fn() -> W + Sync + Send,
    f: impl Fn(&mut W, usize) + Sync + Send,
) {
    if batch <= 1 {
        let mut w = init();
        (0..batch).for_each(|b| f(&mut w, b));
    } else {
        let tasks = batch.min(4 * num_threads());
        split(tasks, |t| {
            let mut w = init();
            (t * batch / tasks..(t + 1) * batch / tasks).for_each(|b| f(&mut w, b));
        });
    }
}

/// The batch size of an operand with `core` trailing core dims.
pub(crate) fn batch_of(shape: &[usize], core: usize) -> usize {
    numel(&shape[..shape.len().saturating_sub(core)])
}

/// A column-major copy of the row-major `m x n` block `a`.
pub(crate) fn load<T: Scalar>(a: &[T], m: usize, n: usize) -> faer::Mat<T> {
    faer::Mat::from_fn(m, n, |i, j| a[i * n + j])
}

/// Write `src` (any strides) into the row-major block `out`.
pub(crate) fn store<T: Scalar>(src: faer::MatRef<'_, T>, out: &mut [T]) {
    let n = src.ncols();
    for i in 0..src.nrows() {
        for j in 0..n {
            out[i * n + j] = src[(i, j)];
        }
    }
}

/// Whether every element of the block is finite.
pub(crate) fn all_finite<T: Scalar>(a: &[T]) -> bool {
    a.iter().all(faer::traits::math_utils::is_finite)
}

#[cfg(test)]
mod tests;
