//! `fft` (XLA's FFT, as `lax.fft`): a transform over the trailing
//! `fft_lengths.len()` dims (1 to 3), batched over the leading ones.
//! `fft_type` 0 is FFT (complex -> complex), 1 IFFT (normalised by 1/N), 2
//! RFFT (real -> the n/2 + 1 non-negative frequencies of the last dim), 3
//! IRFFT (those frequencies -> real, normalised by 1/N; the imaginary parts
//! of the zero and Nyquist frequencies are ignored, as XLA does).
//!
//! One-dimensional transforms come from `rustfft` (complex) and `realfft`
//! (real <-> complex), planned once per size and kind in a process-wide
//! planner (it caches the plans); a multi-dimensional transform runs the 1-D
//! one along each axis. Lines run in parallel (`loops::parallel`: the
//! calling thread works too) in chunks of about `GRAIN` elements.
use super::{Kernel, OpSpec};
use crate::base::buffer::{numel, Buffer};
use crate::base::dtype::{Complex, DType, Element, C128, C64};
use crate::base::error::{shape_err, Error, Result};
use crate::loops::parallel::{num_threads, par_fill, split, try_par_fill, GRAIN};
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex as Nc;
use rustfft::{Fft, FftPlanner};
use std::sync::{Arc, Mutex, OnceLock};

/// The part types the transforms run in (f32, f64), with their planners.
pub trait FftFloat: rustfft::FftNum + realfft::FftNum + Element + Default {
    fn complex(n: usize, inverse: bool) -> Arc<dyn Fft<Self>>;
    fn r2c(n: usize) -> Arc<dyn RealToComplex<Self>>;
    fn c2r(n: usize) -> Arc<dyn ComplexToReal<Self>>;
}

macro_rules! fft_float {
    ($t:ty) => {
        impl FftFloat for $t {
            fn complex(n: usize, inverse: bool) -> Arc<dyn Fft<$t>> {
                static P: OnceLock<Mutex<FftPlanner<$t>>> = OnceLock::new();
                let mut p = P
                    .get_or_init(|| Mutex::new(FftPlanner::new()))
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if inverse {
                    p.plan_fft_inverse(n)
                } else {
                    p.plan_fft_forward(n)
                }
            }
            fn r2c(n: usize) -> Arc<dyn RealToComplex<$t>> {
                real_planner_for_type!($t).plan_fft_forward(n)
            }
            fn c2r(n: usize) -> Arc<dyn ComplexToReal<$t>> {
                real_planner_for_type!($t).plan_fft_inverse(n)
            }
        }
    };
}
macro_rules! real_planner_for_type {
    ($t:ty) => {{
        static P: OnceLock<Mutex<RealFftPlanner<$t>>> = OnceLock::new();
        P.get_or_init(|| Mutex::new(RealFftPlanner::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }};
}
fft_float!(f32);
fft_float!(f64);

/// Our complex slices as num-complex's (the same `repr(C)` layout).
fn nc<T>(v: &mut [Complex<T>]) -> &mut [Nc<T>] {
    // SAFETY: `Complex<T>` and `num_complex::Complex<T>` are both
    // `repr(C)` structs of `re` then `im`.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut Nc<T>, v.len()) }
}

/// The lines along `axis` of a row-major array of `shape`: (outer, n, inner).
fn lines(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

/// How many lines of `n` elements one task takes.
fn per_task(n: usize) -> usize {
    (GRAIN / n.max(1)).max(1)
}

/// Columns one strided task gathers: 256 bytes of each row for complex64,
/// 512 for complex128.
const COLS: usize = 32;

/// Elements of padding after each gathered line, so that the lines of a
/// power-of-two length do not all map to the same cache sets.
const PAD: usize = 8;

/// A raw pointer shared by the strided tasks, each of which touches only
/// its own columns.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: the tasks that share it write disjoint elements (see `complex_along`).
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as for `Send`.
unsafe impl<T> Sync for Shared<T> {}

/// In-place complex transforms of every line along `axis`.
///
/// Contiguous lines (the last axis) run `per_task` lines a task. Strided
/// lines (an earlier axis, `inner` > 1) run as tasks of `COLS` adjacent
/// columns of one block of `n * inner`: the task reads them row by row
/// (contiguous reads) into `COLS` lines of a buffer whose lines are `PAD`
/// elements apart, transforms each line, and writes them back row by row. A
/// single 2-D array so splits into `inner / COLS` tasks rather than one.
fn complex_along<T: FftFloat>(data: &mut [Complex<T>], shape: &[usize], axis: usize, inv: bool) {
    let (outer, n, inner) = lines(shape, axis);
    if n <= 1 || data.is_empty() {
        return;
    }
    let fft = T::complex(n, inv);
    let zero = Nc::new(T::zero(), T::zero());
    let scratch_len = fft.get_inplace_scratch_len();
    if inner == 1 {
        let chunk = n * per_task(n);
        if data.len() <= chunk {
            let mut scratch = vec![zero; scratch_len];
            fft.process_with_scratch(nc(data), &mut scratch);
            return;
        }
        // chunks of whole lines (multiples of `chunk`), one scratch each
        par_fill(data, chunk, |_, c| {
            let mut scratch = vec![zero; scratch_len];
            fft.process_with_scratch(nc(c), &mut scratch)
        });
        return;
    }
    let g = COLS.min(inner);
    let ld = n + PAD;
    let per_block = inner.div_ceil(g);
    let ptr = Shared(data.as_mut_ptr());
    let task = |(buf, scratch): &mut (Vec<Nc<T>>, Vec<Nc<T>>), t: usize| {
        let (b, j0) = (t / per_block, (t % per_block) * g);
        let w = g.min(inner - j0);
        let base = b * n * inner + j0;
        let p = ptr;
        let lines = &mut buf[..w * ld];
        for k in 0..n {
            // SAFETY: row k's columns j0..j0 + w of block b lie inside
            // `data`, and only task t touches them.
            let row = unsafe { std::slice::from_raw_parts(p.0.add(base + k * inner), w) };
            for (j, v) in row.iter().enumerate() {
                lines[j * ld + k] = Nc::new(v.re, v.im);
            }
        }
        for line in lines.chunks_exact_mut(ld) {
            fft.process_with_scratch(&mut line[..n], scratch);
        }
        for k in 0..n {
            // SAFETY: as for the gather.
            let row = unsafe { std::slice::from_raw_parts_mut(p.0.add(base + k * inner), w) };
            for (j, v) in row.iter_mut().enumerate() {
                let x = lines[j * ld + k];
                *v = Complex::new(x.re, x.im);
            }
        }
    };
    let init = || (vec![zero; ld * g], vec![zero; scratch_len]);
    let tasks = outer * per_block;
    if data.len() <= GRAIN || tasks == 1 {
        let mut st = init();
        (0..tasks).for_each(|t| task(&mut st, t));
    } else {
        // runs of at least GRAIN elements, a few per thread, one buffer each
        let min_len = (GRAIN / (n * g)).max(1);
        let groups = tasks.div_ceil(min_len).min(4 * num_threads()).max(1);
        split(groups, |i| {
            let mut st = init();
            (i * tasks / groups..(i + 1) * tasks / groups).for_each(|t| task(&mut st, t));
        });
    }
}

/// Multiply every element by `s`.
fn scale<T: FftFloat>(data: &mut [Complex<T>], s: T) {
    par_fill(data, GRAIN, |_, c| {
        for v in c {
            *v = Complex::new(v.re * s, v.im * s);
        }
    });
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("fft: {e}"))
}

/// FFT / IFFT over the trailing `k` dims, in place on `out` (the input).
fn run_complex<T: FftFloat>(out: &mut [Complex<T>], shape: &[usize], k: usize, inv: bool) {
    let r = shape.len();
    for axis in r - k..r {
        complex_along(out, shape, axis, inv);
    }
    if inv {
        let total: usize = shape[r - k..].iter().product();
        if total > 0 {
            scale(out, T::one() / T::from_usize(total).unwrap_or_else(T::one));
        }
    }
}

/// RFFT: real input of `shape`, complex output of `oshape`.
fn run_rfft<T: FftFloat>(
    x: &[T],
    shape: &[usize],
    oshape: &[usize],
    k: usize,
) -> Result<Vec<Complex<T>>> {
    let r = shape.len();
    let n = shape[r - 1];
    let m = oshape[r - 1];
    let mut out = vec![Complex::new(T::zero(), T::zero()); numel(oshape)];
    if n > 0 && !out.is_empty() {
        let plan = T::r2c(n);
        let rows = per_task(n);
        // chunks of whole output lines; line l reads x's line l
        try_par_fill(&mut out, m * rows, |off, o| -> Result<()> {
            let l0 = off / m;
            let xi = &x[l0 * n..(l0 + o.len() / m) * n];
            let mut inp = vec![T::zero(); n];
            let mut scratch = plan.make_scratch_vec();
            for (oline, xline) in o.chunks_mut(m).zip(xi.chunks(n)) {
                inp.copy_from_slice(xline);
                plan.process_with_scratch(&mut inp, nc(oline), &mut scratch)
                    .map_err(internal)?;
            }
            Ok(())
        })?;
    }
    for axis in r - k..r - 1 {
        complex_along(&mut out, oshape, axis, false);
    }
    Ok(out)
}

/// IRFFT: complex input of `shape` (last dim n/2 + 1), real output of `oshape`.
fn run_irfft<T: FftFloat>(
    x: &[Complex<T>],
    shape: &[usize],
    oshape: &[usize],
    k: usize,
) -> Result<Vec<T>> {
    let r = shape.len();
    let mut work = x.to_vec();
    for axis in r - k..r - 1 {
        complex_along(&mut work, shape, axis, true);
    }
    let n = oshape[r - 1];
    let m = shape[r - 1];
    let mut out = vec![T::zero(); numel(oshape)];
    if n > 0 && !out.is_empty() {
        let plan = T::c2r(n);
        let rows = per_task(n);
        let work = &work;
        // chunks of whole output lines; line l reads work's line l
        try_par_fill(&mut out, n * rows, |off, o| -> Result<()> {
            let l0 = off / n;
            let w = &work[l0 * m..(l0 + o.len() / n) * m];
            let mut inp = vec![Nc::new(T::zero(), T::zero()); n / 2 + 1];
            let mut scratch = plan.make_scratch_vec();
            for (oline, wline) in o.chunks_mut(n).zip(w.chunks(m)) {
                for (d, s) in inp.iter_mut().zip(wline.iter()) {
                    *d = Nc::new(s.re, s.im);
                }
                // the zero and Nyquist frequencies of a real signal are real
                inp[0].im = T::zero();
                if n.is_multiple_of(2) {
                    inp[n / 2].im = T::zero();
                }
                plan.process_with_scratch(&mut inp, oline, &mut scratch)
                    .map_err(internal)?;
            }
            Ok(())
        })?;
        let total: usize = oshape[r - k..].iter().product();
        let s = T::one() / T::from_usize(total).unwrap_or_else(T::one);
        par_fill(&mut out, GRAIN, |_, c| {
            c.iter_mut().for_each(|v| *v = *v * s)
        });
    }
    Ok(out)
}

pub fn build_fft(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let kind = spec.params.int("fft_type")?;
    let lengths = spec.params.usizes("fft_lengths")?;
    let (ishape, idt) = (spec.ins[0].shape.clone(), spec.ins[0].dtype);
    let (oshape, odt) = (spec.outs[0].shape.clone(), spec.outs[0].dtype);
    let k = lengths.len();
    crate::ensure!(
        (1..=3).contains(&k) && k <= ishape.len() && ishape.len() == oshape.len(),
        shape_err(
            "fft",
            format!("fft_lengths {lengths:?} for an operand of shape {ishape:?}")
        )
    );
    macro_rules! kernel {
        ($body:expr) => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![$body(ins[0])?])) as Kernel)
        };
    }
    match (kind, idt, odt) {
        (0 | 1, DType::C64, DType::C64) => kernel!(|b: &Buffer| {
            let x = b.slice::<C64>()?;
            Ok::<_, Error>(Buffer::build(oshape.clone(), |o: &mut [C64]| {
                o.copy_from_slice(x);
                run_complex::<f32>(o, &ishape, k, kind == 1)
            }))
        }),
        (0 | 1, DType::C128, DType::C128) => kernel!(|b: &Buffer| {
            let x = b.slice::<C128>()?;
            Ok::<_, Error>(Buffer::build(oshape.clone(), |o: &mut [C128]| {
                o.copy_from_slice(x);
                run_complex::<f64>(o, &ishape, k, kind == 1)
            }))
        }),
        (2, DType::F32, DType::C64) => kernel!(|b: &Buffer| {
            let out = run_rfft::<f32>(b.slice()?, &ishape, &oshape, k)?;
            Buffer::from_vec(oshape.clone(), &out)
        }),
        (2, DType::F64, DType::C128) => kernel!(|b: &Buffer| {
            let out = run_rfft::<f64>(b.slice()?, &ishape, &oshape, k)?;
            Buffer::from_vec(oshape.clone(), &out)
        }),
        (3, DType::C64, DType::F32) => kernel!(|b: &Buffer| {
            let out = run_irfft::<f32>(b.slice()?, &ishape, &oshape, k)?;
            Buffer::from_vec(oshape.clone(), &out)
        }),
        (3, DType::C128, DType::F64) => kernel!(|b: &Buffer| {
            let out = run_irfft::<f64>(b.slice()?, &ishape, &oshape, k)?;
            Buffer::from_vec(oshape.clone(), &out)
        }),
        _ => Err(Error::Internal(format!(
            "fft: fft_type {kind} does not take {idt} to {odt}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct O(n^2) DFT of one line.
    fn dft(x: &[Complex<f64>], inv: bool) -> Vec<Complex<f64>> {
        let n = x.len();
        let s = if inv { 1.0 } else { -1.0 };
        (0..n)
            .map(|k| {
                let mut acc = Complex::new(0.0, 0.0);
                for (j, v) in x.iter().enumerate() {
                    let a = s * 2.0 * std::f64::consts::PI * (j * k) as f64 / n as f64;
                    let (sn, cs) = a.sin_cos();
                    acc = Complex::new(
                        acc.re + v.re * cs - v.im * sn,
                        acc.im + v.re * sn + v.im * cs,
                    );
                }
                acc
            })
            .collect()
    }

    #[test]
    fn two_dim_transform_matches_the_direct_dft_and_inverts() {
        let shape = [3usize, 5, 6];
        let x: Vec<Complex<f64>> = (0..90)
            .map(|i| Complex::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
            .collect();
        let mut y = x.clone();
        run_complex::<f64>(&mut y, &shape, 2, false);
        // rows, then columns, by the direct DFT
        let mut want = x.clone();
        for b in 0..3 {
            for r in 0..5 {
                let line: Vec<_> = (0..6).map(|c| want[b * 30 + r * 6 + c]).collect();
                for (c, v) in dft(&line, false).into_iter().enumerate() {
                    want[b * 30 + r * 6 + c] = v;
                }
            }
            for c in 0..6 {
                let line: Vec<_> = (0..5).map(|r| want[b * 30 + r * 6 + c]).collect();
                for (r, v) in dft(&line, false).into_iter().enumerate() {
                    want[b * 30 + r * 6 + c] = v;
                }
            }
        }
        for (a, b) in y.iter().zip(&want) {
            assert!((a.re - b.re).abs() < 1e-9 && (a.im - b.im).abs() < 1e-9);
        }
        let mut back = y.clone();
        run_complex::<f64>(&mut back, &shape, 2, true);
        for (a, b) in back.iter().zip(&x) {
            assert!((a.re - b.re).abs() < 1e-12 && (a.im - b.im).abs() < 1e-12);
        }
    }

    #[test]
    fn strided_axes_of_a_parallel_sized_array_match_the_direct_dft() {
        // 3 blocks of 128 x 100: more than GRAIN elements (parallel tasks),
        // 100 columns = three groups of 32 and a partial one of 4
        let shape = [3usize, 128, 100];
        let len = 3 * 128 * 100;
        let x: Vec<Complex<f64>> = (0..len)
            .map(|i| Complex::new((i as f64 * 0.013).sin(), (i as f64 * 0.029).cos()))
            .collect();
        let mut y = x.clone();
        complex_along(&mut y, &shape, 1, false);
        for b in [0usize, 2] {
            for c in [0usize, 31, 32, 63, 99] {
                let line: Vec<_> = (0..128).map(|r| x[b * 12800 + r * 100 + c]).collect();
                for (r, v) in dft(&line, false).into_iter().enumerate() {
                    let g = y[b * 12800 + r * 100 + c];
                    assert!((g.re - v.re).abs() < 1e-9 && (g.im - v.im).abs() < 1e-9);
                }
            }
        }
        // the strided axis of the flattened (384, 100) array is one block
        let mut z = x.clone();
        complex_along(&mut z, &[384, 100], 0, true);
        let line: Vec<_> = (0..384).map(|r| x[r * 100 + 57]).collect();
        for (r, v) in dft(&line, true).into_iter().enumerate() {
            let g = z[r * 100 + 57];
            assert!((g.re - v.re).abs() < 1e-9 && (g.im - v.im).abs() < 1e-9);
        }
    }

    #[test]
    fn real_transforms_round_trip() {
        for n in [1usize, 2, 7, 8] {
            let shape = [4usize, n];
            let x: Vec<f64> = (0..4 * n).map(|i| (i as f64 * 0.7).cos()).collect();
            let oshape = [4usize, n / 2 + 1];
            let y = run_rfft::<f64>(&x, &shape, &oshape, 1).unwrap();
            let full: Vec<Complex<f64>> = x[..n].iter().map(|&v| Complex::new(v, 0.0)).collect();
            for (a, b) in y[..n / 2 + 1].iter().zip(dft(&full, false)) {
                assert!((a.re - b.re).abs() < 1e-9 && (a.im - b.im).abs() < 1e-9);
            }
            let back = run_irfft::<f64>(&y, &oshape, &shape, 1).unwrap();
            for (a, b) in back.iter().zip(&x) {
                assert!((a - b).abs() < 1e-12, "n = {n}");
            }
        }
    }
}
