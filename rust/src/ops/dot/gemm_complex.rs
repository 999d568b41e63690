//! Complex products (complex64, complex128): the `gemm` crate's native
//! complex kernels (`gemm::c32`/`c64`, num-complex's layout: the real part
//! then the imaginary part, as `base::dtype::Complex`). One complex GEMM
//! does the work of the four real GEMMs of the decomposition
//! `(A + iB)(C + iD) = (AC - BD) + i(AD + BC)` in one pass over the
//! operands, with no temporaries.
use super::{Dims, MatView};
use crate::base::dtype::{C128, C64};
use crate::base::error::Result;
use crate::loops::parallel::{num_threads, split_chunks_mut};
use gemm::Parallelism;

/// Below this many complex multiply-adds in total, stay on the calling thread.
const SMALL: usize = 1 << 16;
/// Batched products smaller than this run single-threaded, in parallel over
/// the batch.
const PER_BATCH: usize = 1 << 19;

/// A complex dtype and the `gemm` crate's type of the same layout.
pub trait GemmComplex: crate::base::dtype::Element {
    type G: 'static + Copy;
    const ZERO: Self::G;
    const ONE: Self::G;
}
impl GemmComplex for C64 {
    type G = gemm::c32;
    const ZERO: gemm::c32 = gemm::c32::new(0.0, 0.0);
    const ONE: gemm::c32 = gemm::c32::new(1.0, 0.0);
}
impl GemmComplex for C128 {
    type G = gemm::c64;
    const ZERO: gemm::c64 = gemm::c64::new(0.0, 0.0);
    const ONE: gemm::c64 = gemm::c64::new(1.0, 0.0);
}

#[allow(clippy::too_many_arguments)]
fn one<T: GemmComplex>(
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    bi: usize,
    out: &mut [T],
    par: Parallelism,
) {
    // SAFETY: `T` and `T::G` have the same layout (two reals, real part
    // first, `repr(C)`); `dot::run` checked that every offset the views
    // reach is inside `l` and `r`, and `out` holds m * n elements.
    unsafe {
        gemm::gemm(
            d.m,
            d.n,
            d.k,
            out.as_mut_ptr() as *mut T::G,
            1,
            d.n as isize,
            false,
            l.as_ptr().offset(bi as isize * lv.bs) as *const T::G,
            lv.cs,
            lv.rs,
            r.as_ptr().offset(bi as isize * rv.bs) as *const T::G,
            rv.cs,
            rv.rs,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            par,
        )
    }
}

/// All batches of a complex product (the float path's parallel strategy).
pub fn gemm_complex<T: GemmComplex>(
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    out: &mut [T],
) -> Result<()> {
    let per = d.m * d.n * d.k;
    let threads = num_threads();
    let mn = d.m * d.n;
    if per.saturating_mul(d.b) <= SMALL || threads <= 1 {
        for (bi, o) in out.chunks_mut(mn).enumerate() {
            one(d, l, lv, r, rv, bi, o, Parallelism::None);
        }
    } else if d.b >= 2 && per <= PER_BATCH {
        split_chunks_mut(out, mn, |bi, o| {
            one(d, l, lv, r, rv, bi, o, Parallelism::None)
        });
    } else {
        for (bi, o) in out.chunks_mut(mn).enumerate() {
            one(d, l, lv, r, rv, bi, o, Parallelism::Rayon(threads));
        }
    }
    Ok(())
}
