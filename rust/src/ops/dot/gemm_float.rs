//! Float products through the `gemm` crate (f32, f64; f16/bf16 via f32).
use super::{Dims, MatView};
use crate::dtype::Element;
use crate::error::Result;
use crate::exec::parallel::num_threads;
use gemm::Parallelism;
use rayon::prelude::*;

/// Below this many multiply-adds in total, stay on the calling thread.
const SMALL: usize = 1 << 18;
/// Batched products smaller than this each run single-threaded, in parallel
/// over the batch.
const PER_BATCH: usize = 1 << 21;

/// Element types the `gemm` crate multiplies natively.
pub trait GemmFloat: Element {
    const ZERO: Self;
    const ONE: Self;
}
impl GemmFloat for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}
impl GemmFloat for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// One (m x k) @ (k x n) product of batch `bi` into the row-major `out`.
#[allow(clippy::too_many_arguments)]
fn one<T: GemmFloat>(
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    bi: usize,
    out: &mut [T],
    par: Parallelism,
) {
    // SAFETY: `run` checked that every offset the views reach is inside `l`
    // and `r` (max_offset), and `out` holds exactly m * n elements.
    unsafe {
        gemm::gemm(
            d.m,
            d.n,
            d.k,
            out.as_mut_ptr(),
            1,
            d.n as isize,
            false,
            l.as_ptr().offset(bi as isize * lv.bs),
            lv.cs,
            lv.rs,
            r.as_ptr().offset(bi as isize * rv.bs),
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

/// All batches of the product, picking the parallel strategy by size: small
/// problems never touch the thread pool; many small batches run in parallel
/// over the batch; large products let `gemm` split each one.
pub fn gemm_native<T: GemmFloat>(
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
        out.par_chunks_mut(mn)
            .enumerate()
            .for_each(|(bi, o)| one(d, l, lv, r, rv, bi, o, Parallelism::None));
    } else {
        for (bi, o) in out.chunks_mut(mn).enumerate() {
            one(d, l, lv, r, rv, bi, o, Parallelism::Rayon(threads));
        }
    }
    Ok(())
}

/// f16/bf16: widen to f32 (same layout), multiply, round back once.
pub fn gemm_via_f32<T: Element>(
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    out: &mut [T],
) -> Result<()> {
    let widen = |s: &[T]| -> Vec<f32> { s.iter().map(|x| x.to_f64() as f32).collect() };
    let (lf, rf) = (widen(l), widen(r));
    let mut of = vec![0f32; out.len()];
    gemm_native::<f32>(d, &lf, lv, &rf, rv, &mut of)?;
    for (o, x) in out.iter_mut().zip(of) {
        *o = T::from_f64(x as f64);
    }
    Ok(())
}
