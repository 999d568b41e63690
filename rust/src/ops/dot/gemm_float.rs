//! Float products (f32, f64; f16/bf16 via f32): our AVX-512 GEMM
//! (`gemm_avx512.rs`) where the CPU has it and the product is big enough for
//! it to win, else the `gemm` crate.
#[cfg(target_arch = "x86_64")]
use super::gemm_avx512;
use super::{Dims, MatView};
use crate::base::dtype::Element;
use crate::base::error::Result;
use crate::loops::parallel::{num_threads, split_chunks_mut, GRAIN};
use gemm::Parallelism;

/// Below this many multiply-adds in total, stay on the calling thread.
const SMALL: usize = 1 << 18;
/// Batched products smaller than this each run single-threaded, in parallel
/// over the batch.
const PER_BATCH: usize = 1 << 21;

/// Which code multiplies one float matrix pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Path {
    /// The `gemm` crate (every CPU; best for thin products).
    Crate,
    /// `gemm_avx512` (x86-64 with AVX-512F only).
    Avx512,
}

/// Whether this machine can run `Path::Avx512`.
pub fn avx512_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return gemm_avx512::available();
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// The path for one (m x k) @ (k x n) product. The AVX-512 kernel's tile is
/// 14 x 32 (f32) / 14 x 16 (f64) and it packs both operands, so it loses to
/// the crate on thin products (few rows, or fewer columns than a tile, e.g.
/// matrix-vector) and ties it on tiny ones (bench: benches/bench_matmul.py).
pub fn choose<T: GemmFloat>(d: Dims) -> Path {
    let wide = d.n >= T::MIN_N && d.m >= 8;
    if wide && d.m * d.n * d.k >= 1 << 18 && avx512_available() {
        Path::Avx512
    } else {
        Path::Crate
    }
}

/// Element types the `gemm` crate (and the AVX-512 kernel) multiply natively.
pub trait GemmFloat: Element + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> {
    const ZERO: Self;
    const ONE: Self;
    /// Fewest output columns for `Path::Avx512` (one tile width).
    const MIN_N: usize;
    /// `gemm_avx512::gemm` for this type: `c = a b`, row stride `n`.
    ///
    /// # Safety
    /// `avx512_available()`, and the views in bounds (see `gemm_avx512::gemm`).
    #[allow(clippy::too_many_arguments)]
    unsafe fn avx512(
        d: Dims,
        a: *const Self,
        av: MatView,
        b: *const Self,
        bv: MatView,
        c: *mut Self,
        parallel: bool,
    );
}

macro_rules! gemm_float {
    ($t:ty, $min_n:expr) => {
        impl GemmFloat for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const MIN_N: usize = $min_n;
            unsafe fn avx512(
                d: Dims,
                a: *const Self,
                av: MatView,
                b: *const Self,
                bv: MatView,
                c: *mut Self,
                parallel: bool,
            ) {
                #[cfg(target_arch = "x86_64")]
                {
                    use gemm_avx512::Strided;
                    let a = Strided {
                        ptr: a,
                        rs: av.rs,
                        cs: av.cs,
                    };
                    let b = Strided {
                        ptr: b,
                        rs: bv.rs,
                        cs: bv.cs,
                    };
                    // SAFETY: forwarded contract: AVX-512F is present, the
                    // views stay in bounds and C is `m x n`, row stride `n`.
                    unsafe { gemm_avx512::gemm(d.m, d.k, d.n, a, b, c, d.n, parallel) }
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = (d, a, av, b, bv, c, parallel);
                    unreachable!("AVX-512 path chosen on a CPU without it")
                }
            }
        }
    };
}
gemm_float!(f32, 32);
gemm_float!(f64, 16);

/// One (m x k) @ (k x n) product of batch `bi` into the row-major `out`.
#[allow(clippy::too_many_arguments)]
fn one<T: GemmFloat>(
    path: Path,
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    bi: usize,
    out: &mut [T],
    par: Parallelism,
) {
    if path == Path::Avx512 {
        // SAFETY: `run` checked that every offset the views reach is inside
        // `l` and `r` (max_offset), and `out` holds exactly m * n elements;
        // `path` is Avx512 only where `avx512_available()` (`gemm_with`).
        unsafe {
            T::avx512(
                d,
                l.as_ptr().offset(bi as isize * lv.bs),
                lv,
                r.as_ptr().offset(bi as isize * rv.bs),
                rv,
                out.as_mut_ptr(),
                !matches!(par, Parallelism::None),
            )
        }
        return;
    }
    // SAFETY: as above, the views and `out` are in bounds; `gemm` writes C
    // (row stride n, column stride 1) and only reads A and B.
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
    gemm_with(choose::<T>(d), d, l, lv, r, rv, out)
}

/// `gemm_native` on a given path (tests run both); Avx512 falls back to the
/// crate where the CPU lacks it.
pub fn gemm_with<T: GemmFloat>(
    path: Path,
    d: Dims,
    l: &[T],
    lv: MatView,
    r: &[T],
    rv: MatView,
    out: &mut [T],
) -> Result<()> {
    let path = if avx512_available() {
        path
    } else {
        Path::Crate
    };
    if gemv(d, l, lv, r, rv, out) {
        return Ok(());
    }
    let per = d.m * d.n * d.k;
    let threads = num_threads();
    let mn = d.m * d.n;
    if per.saturating_mul(d.b) <= SMALL || threads <= 1 {
        for (bi, o) in out.chunks_mut(mn).enumerate() {
            one(path, d, l, lv, r, rv, bi, o, Parallelism::None);
        }
    } else if d.b >= 2 && per <= PER_BATCH {
        split_chunks_mut(out, mn, |bi, o| {
            one(path, d, l, lv, r, rv, bi, o, Parallelism::None)
        });
    } else {
        for (bi, o) in out.chunks_mut(mn).enumerate() {
            one(path, d, l, lv, r, rv, bi, o, Parallelism::Rayon(threads));
        }
    }
    Ok(())
}

/// The dot product of `a` and `x` (equal lengths): 32 lanes over whole
/// groups of 32 (vectors of the host's width: four 512-bit ones of f64),
/// the lanes summed pairwise, then the rest in order. Multiplies and adds
/// stay separate (Rust never contracts them), so the bits do not depend on
/// the CPU.
#[inline(always)]
fn dot_lanes<T: GemmFloat>(a: &[T], x: &[T]) -> T {
    const L: usize = 32;
    let n = a.len().min(x.len());
    let whole = n / L * L;
    let mut acc = [T::ZERO; L];
    for (ca, cx) in a[..whole].chunks_exact(L).zip(x[..whole].chunks_exact(L)) {
        for l in 0..L {
            acc[l] = acc[l] + ca[l] * cx[l];
        }
    }
    let mut w = L;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] = acc[l] + acc[l + w];
        }
    }
    let mut s = acc[0];
    for i in whole..n {
        s = s + a[i] * x[i];
    }
    s
}

/// `out[i] = A[row0 + i] . x` for the rows of `a` (each `k` long, `rs`
/// apart, from `a0`).
#[inline(always)]
fn gemv_rows<T: GemmFloat>(a: &[T], a0: usize, rs: usize, k: usize, x: &[T], out: &mut [T]) {
    for (i, o) in out.iter_mut().enumerate() {
        let s = a0 + i * rs;
        *o = dot_lanes(&a[s..s + k], x);
    }
}

/// `gemv_rows` compiled for AVX-512 (the same operations, wider vectors).
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gemv_rows_avx512<T: GemmFloat>(
    a: &[T],
    a0: usize,
    rs: usize,
    k: usize,
    x: &[T],
    out: &mut [T],
) {
    gemv_rows(a, a0, rs, k, x, out)
}

fn gemv_rows_host<T: GemmFloat>(a: &[T], a0: usize, rs: usize, k: usize, x: &[T], out: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if avx512_available() {
        // SAFETY: the CPU has AVX-512F (checked just above).
        unsafe { gemv_rows_avx512(a, a0, rs, k, x, out) };
        return;
    }
    gemv_rows(a, a0, rs, k, x, out)
}

/// Matrix-vector products (`n == 1`) whose matrix rows are contiguous: one
/// dot product per row, rows split across the threads. Memory-bound, so
/// this streams A once at the machine's bandwidth (the `gemm` crate's
/// path reached about half of it). Returns false (nothing done) for other
/// shapes and layouts.
fn gemv<T: GemmFloat>(d: Dims, l: &[T], lv: MatView, r: &[T], rv: MatView, out: &mut [T]) -> bool {
    if d.n != 1
        || d.k < 32
        || lv.cs != 1
        || lv.rs < d.k as isize
        || lv.bs < 0
        || rv.bs < 0
        || rv.rs < 0
    {
        return false;
    }
    let (m, k, rs) = (d.m, d.k, lv.rs as usize);
    let rows_per_task = (GRAIN / k).max(1);
    for (bi, o) in out.chunks_mut(m).enumerate() {
        let a0 = bi * lv.bs as usize;
        let xs = bi * rv.bs as usize;
        // the vector in place when contiguous, else gathered once
        let gathered: Vec<T>;
        let x: &[T] = if rv.rs == 1 {
            &r[xs..xs + k]
        } else {
            gathered = (0..k).map(|p| r[xs + p * rv.rs as usize]).collect();
            &gathered
        };
        if m * k <= SMALL || num_threads() <= 1 {
            gemv_rows_host(l, a0, rs, k, x, o);
        } else {
            split_chunks_mut(o, rows_per_task, |t, oc| {
                gemv_rows_host(l, a0 + t * rows_per_task * rs, rs, k, x, oc)
            });
        }
    }
    true
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `b` products of small-integer matrices (exact in f32), each operand
    /// stored row-major or transposed, on `path`, against an f64 loop.
    #[allow(clippy::too_many_arguments)]
    fn check<T: GemmFloat>(
        path: Path,
        from: fn(f64) -> T,
        (b, m, k, n): (usize, usize, usize, usize),
        ta: bool,
        tb: bool,
    ) {
        let av: Vec<f64> = (0..b * m * k)
            .map(|i| ((i * 7 + 3) % 17) as f64 - 8.0)
            .collect();
        let bv: Vec<f64> = (0..b * k * n)
            .map(|i| ((i * 5 + 1) % 13) as f64 - 6.0)
            .collect();
        // Element (bi, i, j) of an (r x c) stack, at its place in the layout.
        let lay = |v: &[f64], r: usize, c: usize, t: bool| -> (Vec<T>, MatView) {
            let mut s = vec![from(0.0); v.len()];
            for (x, &e) in v.iter().enumerate() {
                let (bi, i, j) = (x / (r * c), x / c % r, x % c);
                s[bi * r * c + if t { j * r + i } else { i * c + j }] = from(e);
            }
            let (rs, cs) = if t { (1, r) } else { (c, 1) };
            let view = MatView {
                bs: (r * c) as isize,
                rs: rs as isize,
                cs: cs as isize,
            };
            (s, view)
        };
        let (l, lv) = lay(&av, m, k, ta);
        let (r, rv) = lay(&bv, k, n, tb);
        let mut out = vec![from(f64::NAN); b * m * n];
        gemm_with(path, Dims { b, m, k, n }, &l, lv, &r, rv, &mut out).unwrap();
        for bi in 0..b {
            for i in 0..m {
                for j in 0..n {
                    let e: f64 = (0..k)
                        .map(|p| av[(bi * m + i) * k + p] * bv[(bi * k + p) * n + j])
                        .sum();
                    let got = out[(bi * m + i) * n + j].to_f64();
                    assert_eq!(
                        got, e,
                        "{path:?} b={b} m={m} k={k} n={n} ta={ta} tb={tb} at ({bi},{i},{j})"
                    );
                }
            }
        }
    }

    /// Both paths, explicitly, over edge sizes (1, MR +- 1, KC + 1, primes),
    /// transposed layouts, batches, and sizes that take the parallel splits.
    #[test]
    fn both_paths_match_loop() {
        let shapes = [
            (1, 1, 1, 1),
            (1, 13, 7, 15),
            (2, 15, 257, 33),
            (1, 29, 300, 17),
            (3, 14, 97, 32),
            (1, 131, 97, 260),
            (1, 200, 513, 70),
            (5, 64, 64, 64),
            (1, 300, 301, 47),
            // matrix-vector (`gemv` where A's rows are contiguous)
            (1, 300, 97, 1),
            (3, 70, 64, 1),
            (1, 5000, 100, 1),
            (2, 9, 31, 1),
        ];
        for path in [Path::Crate, Path::Avx512] {
            for &s in &shapes {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    check::<f32>(path, |x| x as f32, s, ta, tb);
                    check::<f64>(path, |x| x, s, ta, tb);
                }
            }
        }
    }

    #[test]
    fn choose_keeps_thin_and_tiny_products_on_the_crate() {
        let d = |m, k, n| Dims { b: 1, m, k, n };
        assert_eq!(choose::<f32>(d(4096, 512, 1)), Path::Crate);
        assert_eq!(choose::<f32>(d(1, 512, 512)), Path::Crate);
        assert_eq!(choose::<f32>(d(32, 32, 32)), Path::Crate);
        assert_eq!(choose::<f32>(d(128, 512, 10)), Path::Crate);
        let big = if avx512_available() {
            Path::Avx512
        } else {
            Path::Crate
        };
        assert_eq!(choose::<f32>(d(128, 784, 512)), big);
        assert_eq!(choose::<f64>(d(1024, 1024, 1024)), big);
    }
}
