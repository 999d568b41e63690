//! Cumulative (scan) ops along one axis: `cumsum`, `cumprod`, `cummax`,
//! `cummin`, `cumlogsumexp`, each with `reverse`. The input is viewed as
//! `(outer, n, inner)`; a running accumulator row of length `inner` walks the
//! `n` rows (f16/bf16 accumulate in f32). Work is split over `outer` blocks.
use super::reduce::Accum;
use super::scalar::Num;
use super::{Kernel, OpSpec};
use crate::base::buffer::Buffer;
use crate::base::dtype::Element;
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{num_threads, par_fill, GRAIN};
use rayon::prelude::*;

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
        let tots: Vec<A> = x
            .par_chunks(step)
            .map(|c| c.iter().fold(id, |a, &v| f(a, lift(v))))
            .collect();
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
        out.par_chunks_mut(step)
            .zip(x.par_chunks(step))
            .zip(pre.par_iter())
            .for_each(|((ob, xs), &p0)| {
                let mut acc = p0;
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

fn scan_kernel<T: Element>(spec: &OpSpec, run: ScanFn<T>) -> Result<Kernel> {
    spec.arity(1, 1)?;
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
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cummax::<T>), numeric)
}
pub fn build_cummin(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => scan_kernel::<T>(spec, cummin::<T>), numeric)
}
pub fn build_cumlogsumexp(spec: &OpSpec) -> Result<Kernel> {
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
}
