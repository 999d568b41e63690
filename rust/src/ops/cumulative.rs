//! Cumulative (scan) ops along one axis: `cumsum`, `cumprod`, `cummax`,
//! `cummin`, `cumlogsumexp`, each with `reverse`. The input is viewed as
//! `(outer, n, inner)`; a running accumulator row of length `inner` walks the
//! `n` rows (f16/bf16 accumulate in f32). Work is split over `outer` blocks.
//!
//! Complex `cummax`, `cummin` and `cumlogsumexp` follow XLA's evaluation
//! order instead ([`xla_scan`]): their combining functions are not
//! associative where NaNs meet JAX's lexicographic `x > y ? x : y`, so the
//! order decides the result, and JAX's is XLA's tree rewrite of the
//! reduce-window that JAX lowers a cumulative op to.
use super::reduce::Accum;
use super::scalar::{complex, Num};
use super::{Kernel, OpSpec};
use crate::base::buffer::Buffer;
use crate::base::dtype::{Complex, Element, C128, C64};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{num_threads, par_fill, split_chunks_mut, split_map, GRAIN};

/// Scan `x` viewed as `(outer, n, inner)` into `out` with the monoid `(id, f)`.
#[allow(clippy::too_many_arguments)]
pub fn scan_into<T: Copy + Send + Sync, A: Copy + Send + Sync>(
    x: &[T],
    n: usize,
    inner: usize,
    reverse: bool,
    out: &mut [T],
    id: A,
    lift: impl Fn(T) -> A + Sync + Send,
    f: impl Fn(A, A) -> A + Sync + Send,
    fin: impl Fn(A) -> T + Sync + Send,
) {
    let block = n * inner;
    if block == 0 {
        return;
    }
    let threads = num_threads();
    if inner == 1 && n == x.len() && n > 4 * GRAIN && threads > 1 {
        // One long scan: block totals in parallel, a short sequential scan of
        // the totals, then every block scans from its offset in parallel.
        let step = n.div_ceil(threads * 2);
        let tots: Vec<A> = split_map(n.div_ceil(step), |i| {
            x[i * step..((i + 1) * step).min(n)]
                .iter()
                .fold(id, |a, &v| f(a, lift(v)))
        });
        let mut pre = vec![id; tots.len()];
        let mut acc = id;
        let order: Vec<usize> = if reverse {
            (0..tots.len()).rev().collect()
        } else {
            (0..tots.len()).collect()
        };
        for p in order {
            pre[p] = acc;
            acc = f(acc, tots[p]);
        }
        split_chunks_mut(out, step, |i, ob| {
            let xs = &x[i * step..i * step + ob.len()];
            let mut acc = pre[i];
            if reverse {
                for (o, &v) in ob.iter_mut().zip(xs).rev() {
                    acc = f(acc, lift(v));
                    *o = fin(acc);
                }
            } else {
                for (o, &v) in ob.iter_mut().zip(xs) {
                    acc = f(acc, lift(v));
                    *o = fin(acc);
                }
            }
        });
        return;
    }
    let grain = GRAIN.next_multiple_of(block);
    par_fill(out, grain, |off, chunk| {
        let mut acc = vec![id; inner];
        for (bi, ob) in chunk.chunks_mut(block).enumerate() {
            let base = off + bi * block;
            acc.iter_mut().for_each(|a| *a = id);
            for s in 0..n {
                let r = if reverse { n - 1 - s } else { s };
                let xr = &x[base + r * inner..base + (r + 1) * inner];
                let or = &mut ob[r * inner..(r + 1) * inner];
                for ((a, &v), o) in acc.iter_mut().zip(xr).zip(or.iter_mut()) {
                    *a = f(*a, lift(v));
                    *o = fin(*a);
                }
            }
        }
    });
}

type ScanFn<T> = fn(&[T], usize, usize, bool, &mut [T]);

fn cumsum<T: Accum + Send + Sync>(x: &[T], n: usize, inner: usize, rev: bool, out: &mut [T]) {
    scan_into(
        x,
        n,
        inner,
        rev,
        out,
        T::A::zero(),
        T::up,
        |a, b| a.add(b),
        T::down,
    )
}
fn cumprod<T: Accum + Send + Sync>(x: &[T], n: usize, inner: usize, rev: bool, out: &mut [T]) {
    scan_into(
        x,
        n,
        inner,
        rev,
        out,
        T::A::one(),
        T::up,
        |a, b| a.mul(b),
        T::down,
    )
}
fn cummax<T: Num + Element>(x: &[T], n: usize, inner: usize, rev: bool, out: &mut [T]) {
    scan_into(
        x,
        n,
        inner,
        rev,
        out,
        T::lowest(),
        |v| v,
        |a, b| a.max(b),
        |a| a,
    )
}
fn cummin<T: Num + Element>(x: &[T], n: usize, inner: usize, rev: bool, out: &mut [T]) {
    scan_into(
        x,
        n,
        inner,
        rev,
        out,
        T::highest(),
        |v| v,
        |a, b| a.min(b),
        |a| a,
    )
}

/// `log(exp(a) + exp(b))`, stable, with NaN propagation.
#[inline]
fn logaddexp(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    let m = a.max(b);
    if m.is_infinite() {
        return m;
    }
    m + (-(a - b).abs()).exp().ln_1p()
}

fn cumlogsumexp<T: Element>(x: &[T], n: usize, inner: usize, rev: bool, out: &mut [T]) {
    scan_into(
        x,
        n,
        inner,
        rev,
        out,
        f64::NEG_INFINITY,
        |v: T| v.to_f64(),
        logaddexp,
        T::from_f64,
    )
}

/// The length up to which XLA's CPU compiler keeps a cumulative
/// reduce-window as it is (`ReduceWindowRewriter`'s base length there).
const XLA_SCAN_BASE: usize = 16;

/// One line of a cumulative reduce-window as XLA's CPU backend computes it
/// (JAX lowers `cummax` and friends to a reduce-window of the whole length,
/// padded on one side, with `init` the reduction's identity):
///
/// - up to [`XLA_SCAN_BASE`] elements, each output folds its window from
///   `init` in index order, skipping the padding: `out[j] = f(..f(f(init,
///   x[0]), x[1]).., x[j])` forward, and `f(..f(f(init, x[j]), x[j+1]).., x[n-1])`
///   in reverse (so a reverse scan is not a forward scan of the flipped line);
/// - longer lines are XLA's tree rewrite: padded with `init` to whole rows of
///   the base length, each row scanned as above, the rows' last (reverse:
///   first) elements scanned exclusively (recursively, the same way), and
///   each element combined as `f(row scan, exclusive scan of the rows before)`.
pub fn xla_scan<T: Copy>(x: &[T], forward: bool, init: T, f: &impl Fn(T, T) -> T) -> Vec<T> {
    let n = x.len();
    if n <= XLA_SCAN_BASE {
        return window_scan(x, forward, init, f);
    }
    let rows = n.div_ceil(XLA_SCAN_BASE);
    let mut padded = x.to_vec();
    padded.resize(rows * XLA_SCAN_BASE, init);
    let scans: Vec<T> = padded
        .chunks(XLA_SCAN_BASE)
        .flat_map(|row| window_scan(row, forward, init, f))
        .collect();
    let ends: Vec<T> = scans
        .chunks(XLA_SCAN_BASE)
        .map(|s| if forward { s[XLA_SCAN_BASE - 1] } else { s[0] })
        .collect();
    let before = exclusive_scan(&ends, forward, init, f);
    scans[..n]
        .iter()
        .enumerate()
        .map(|(i, &s)| f(s, before[i / XLA_SCAN_BASE]))
        .collect()
}

/// Each output's window folded from `init` (the reduce-window itself).
fn window_scan<T: Copy>(x: &[T], forward: bool, init: T, f: &impl Fn(T, T) -> T) -> Vec<T> {
    if forward {
        let mut acc = init;
        x.iter()
            .map(|&v| {
                acc = f(acc, v);
                acc
            })
            .collect()
    } else {
        (0..x.len())
            .map(|j| x[j..].iter().fold(init, |a, &v| f(a, v)))
            .collect()
    }
}

/// The exclusive scan of `t` (one value per row; forward: the rows before,
/// reverse: the rows after), as XLA's rewrite computes it: a reduce-window
/// padded by the whole length, itself rewritten as a tree past the base.
fn exclusive_scan<T: Copy>(t: &[T], forward: bool, init: T, f: &impl Fn(T, T) -> T) -> Vec<T> {
    let n = t.len();
    if n <= XLA_SCAN_BASE {
        return (0..n)
            .map(|r| {
                let w = if forward { &t[..r] } else { &t[r + 1..] };
                w.iter().fold(init, |a, &v| f(a, v))
            })
            .collect();
    }
    let inclusive = xla_scan(t, forward, init, f);
    if forward {
        std::iter::once(init)
            .chain(inclusive[..n - 1].iter().copied())
            .collect()
    } else {
        inclusive[1..]
            .iter()
            .copied()
            .chain(std::iter::once(init))
            .collect()
    }
}

/// [`xla_scan`] over every line of `x` viewed as `(outer, n, inner)`.
fn xla_scan_lines<T: Copy + Send + Sync>(
    x: &[T],
    n: usize,
    inner: usize,
    reverse: bool,
    out: &mut [T],
    init: T,
    f: impl Fn(T, T) -> T + Sync + Send,
) {
    let block = n * inner;
    if block == 0 {
        return;
    }
    par_fill(out, GRAIN.next_multiple_of(block), |off, chunk| {
        let mut line = Vec::with_capacity(n);
        for (bi, ob) in chunk.chunks_mut(block).enumerate() {
            let base = off + bi * block;
            for i in 0..inner {
                line.clear();
                line.extend((0..n).map(|s| x[base + s * inner + i]));
                for (s, v) in xla_scan(&line, !reverse, init, &f).into_iter().enumerate() {
                    ob[s * inner + i] = v;
                }
            }
        }
    });
}

/// The complex dtypes' combining functions for the scans in XLA's order.
trait CumComplex: Copy + Send + Sync + Num {
    /// JAX's complex `logaddexp` (`lax.other.logaddexp`): `amax +
    /// log1p(exp(x + y - 2 amax))` with `amax` the lexicographic max, the
    /// imaginary part wrapped into [-pi, pi].
    fn logaddexp(self, o: Self) -> Self;
    /// `-inf + 0j`, the identity JAX gives `cummax` and `cumlogsumexp`.
    fn neg_inf() -> Self;
    /// `inf + 0j`, the identity of `cummin`.
    fn pos_inf() -> Self;
}

macro_rules! cum_complex {
    ($($c:ty, $f:ty);*) => {$(
        impl CumComplex for $c {
            fn logaddexp(self, o: Self) -> Self {
                let amax = Num::max(self, o);
                let two = Complex::new(2.0, 0.0);
                let delta = Num::sub(Num::add(self, o), Num::mul(amax, two));
                let out = Num::add(amax, complex::log1p(complex::exp(delta)));
                // `_wrap_between(imag, pi)`: the constants rounded to the dtype
                let (a, two_a) = (std::f64::consts::PI as $f, (2.0 * std::f64::consts::PI) as $f);
                let rem = (out.im + a) % two_a;
                let rem = if rem < 0.0 { rem + two_a } else { rem };
                Complex::new(out.re, rem - a)
            }
            fn neg_inf() -> Self {
                Complex::new(<$f>::NEG_INFINITY, 0.0)
            }
            fn pos_inf() -> Self {
                Complex::new(<$f>::INFINITY, 0.0)
            }
        }
    )*};
}
cum_complex!(C64, f32; C128, f64);

fn complex_kernel<T: CumComplex + Element>(
    spec: &OpSpec,
    init: T,
    f: fn(T, T) -> T,
) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let (shape, axis, reverse) = scan_params(spec)?;
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    Ok(Box::new(move |ins: &[&Buffer]| {
        let x = ins[0].slice::<T>()?;
        Ok(vec![Buffer::build::<T>(shape.clone(), |out| {
            xla_scan_lines(x, n, inner, reverse, out, init, f)
        })])
    }))
}

fn scan_params(spec: &OpSpec) -> Result<(Vec<usize>, usize, bool)> {
    let shape = spec.ins[0].shape.clone();
    let axis = spec.params.usize("axis")?;
    let reverse = spec.params.bool("reverse")?;
    crate::ensure!(
        axis < shape.len(),
        shape_err(
            spec.name(),
            format!("axis {axis} out of range for {:?}", shape)
        )
    );
    Ok((shape, axis, reverse))
}

fn scan_kernel<T: Element>(spec: &OpSpec, run: ScanFn<T>) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let (shape, axis, reverse) = scan_params(spec)?;
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    Ok(Box::new(move |ins: &[&Buffer]| {
        let x = ins[0].slice::<T>()?;
        Ok(vec![Buffer::build::<T>(shape.clone(), |out| {
            run(x, n, inner, reverse, out)
        })])
    }))
}

pub fn build_cumsum(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cumsum::<T>), number)
}
pub fn build_cumprod(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cumprod::<T>), number)
}
pub fn build_cummax(spec: &OpSpec) -> Result<Kernel> {
    if spec.ins[0].dtype.is_complex() {
        return crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(),
            T => complex_kernel::<T>(spec, T::neg_inf(), Num::max), complex);
    }
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cummax::<T>), numeric)
}
pub fn build_cummin(spec: &OpSpec) -> Result<Kernel> {
    if spec.ins[0].dtype.is_complex() {
        return crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(),
            T => complex_kernel::<T>(spec, T::pos_inf(), Num::min), complex);
    }
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cummin::<T>), numeric)
}
pub fn build_cumlogsumexp(spec: &OpSpec) -> Result<Kernel> {
    if spec.ins[0].dtype.is_complex() {
        return crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(),
            T => complex_kernel::<T>(spec, T::neg_inf(), T::logaddexp), complex);
    }
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cumlogsumexp::<T>), float)
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::ops::{build, Aval, OpSpec};

    fn run(op: &str, x: &Buffer, axis: i64, reverse: bool) -> Buffer {
        let p = Params::new(op)
            .with("axis", Param::Int(axis))
            .with("reverse", Param::Bool(reverse));
        let ins = [Aval::new(x.dtype, x.shape.clone())];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &ins,
        })
        .unwrap();
        k(&[x]).unwrap().remove(0)
    }

    #[test]
    fn cumsum_axes_and_reverse() {
        let x = Buffer::from_vec(vec![2, 3], &[1i32, 2, 3, 4, 5, 6]).unwrap();
        let r = run("cumsum", &x, 1, false);
        assert_eq!(r.slice::<i32>().unwrap(), &[1, 3, 6, 4, 9, 15]);
        let r = run("cumsum", &x, 0, true);
        assert_eq!(r.slice::<i32>().unwrap(), &[5, 7, 9, 4, 5, 6]);
        let r = run("cummax", &x, 0, false);
        assert_eq!(r.slice::<i32>().unwrap(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(x.dtype, DType::I32);
    }

    #[test]
    fn long_cumsum_parallel_matches_sequential() {
        let n = 1_000_003usize;
        let v: Vec<i64> = (0..n as i64).map(|i| i % 7 - 3).collect();
        let x = Buffer::from_vec(vec![n], &v).unwrap();
        for rev in [false, true] {
            let r = run("cumsum", &x, 0, rev);
            let got = r.slice::<i64>().unwrap();
            let mut acc = 0i64;
            let idx: Vec<usize> = if rev {
                (0..n).rev().collect()
            } else {
                (0..n).collect()
            };
            for i in idx {
                acc += v[i];
                assert_eq!(got[i], acc);
            }
        }
    }

    #[test]
    fn cumlogsumexp_basic() {
        let x = Buffer::from_vec(vec![3], &[0.0f64, 0.0, f64::NEG_INFINITY]).unwrap();
        let r = run("cumlogsumexp", &x, 0, false);
        let v = r.slice::<f64>().unwrap();
        assert!((v[1] - 2f64.ln()).abs() < 1e-15 && (v[2] - v[1]).abs() < 1e-15);
    }

    #[test]
    fn complex_cummax_is_lexicographic_in_xla_order() {
        use crate::base::dtype::C64;
        let c = |re: f32, im: f32| C64::new(re, im);
        let x = Buffer::from_vec(vec![4], &[c(1., 2.), c(3., -1.), c(1., 5.), c(3., 0.)]).unwrap();
        let r = run("cummax", &x, 0, false);
        assert_eq!(
            r.slice::<C64>().unwrap(),
            &[c(1., 2.), c(3., -1.), c(3., -1.), c(3., 0.)]
        );
        let r = run("cummin", &x, 0, false);
        assert_eq!(r.slice::<C64>().unwrap(), &[c(1., 2.); 4]);
        // reverse folds each window from its first element: [1, nan] gives
        // nan at both places (a forward scan of the flipped line gives 1 first)
        let nan = c(f32::NAN, 0.);
        let x = Buffer::from_vec(vec![2], &[c(1., 0.), nan]).unwrap();
        let r = run("cummax", &x, 0, true);
        assert!(r.slice::<C64>().unwrap().iter().all(|v| v.re.is_nan()));
    }

    #[test]
    fn xla_scan_equals_a_plain_scan_for_an_associative_function() {
        for n in [0usize, 1, 15, 16, 17, 33, 256, 257, 300, 4100] {
            let x: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 13 - 6).collect();
            for forward in [true, false] {
                let got = super::xla_scan(&x, forward, 0i64, &|a, b| a + b);
                let mut acc = 0;
                let mut want = vec![0; n];
                let idx: Vec<usize> = if forward {
                    (0..n).collect()
                } else {
                    (0..n).rev().collect()
                };
                for i in idx {
                    acc += x[i];
                    want[i] = acc;
                }
                assert_eq!(got, want, "n = {n}, forward = {forward}");
            }
        }
    }
}
