//! Reductions over any subset of axes (`reduce_sum`, `reduce_prod`,
//! `reduce_max`, `reduce_min`, `reduce_and`, `reduce_or`, `reduce_xor`) and
//! `argmax`/`argmin` over one axis.
//!
//! Every reduction is a monoid `(id, f)` over an accumulator type `A`
//! (f16/bf16 accumulate in f32). The input is viewed as `(outer, red, inner)`
//! after collapsing dims; axis sets that do not fit that form are first
//! transposed (kept dims first) with `strided_copy`. Two loops cover it all:
//! - `inner == 1`: each output reduces a contiguous row, pairwise in blocks of
//!   eight lanes (accuracy like NumPy's pairwise sum, and vectorisable);
//! - `inner > 1`: rows of the input are accumulated into an output row, in
//!   blocks of `ROW_BLOCK` rows (two-level blocked summation).
//!
//! Large outputs are split over threads by output position; small outputs with
//! long reductions (e.g. a full reduction) split the reduced range instead and
//! combine the partial results in order.
use super::scalar::{Bits, Num};
use super::{Kernel, OpSpec};
use crate::base::buffer::{numel, strides, Buffer};
use crate::base::dtype::Element;
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{num_threads, par_fill, split_map, GRAIN};
use crate::loops::strided::strided_buffer;
use half::{bf16, f16};

/// Accumulator type of a number: f16/bf16 accumulate in f32.
pub trait Accum: Num + Element {
    type A: Num;
    fn up(self) -> Self::A;
    fn down(a: Self::A) -> Self;
}

macro_rules! accum_self {
    ($($t:ty),*) => {$(
        impl Accum for $t {
            type A = $t;
            #[inline(always)] fn up(self) -> $t { self }
            #[inline(always)] fn down(a: $t) -> $t { a }
        }
    )*};
}
accum_self!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    crate::base::dtype::C64,
    crate::base::dtype::C128
);

macro_rules! accum_half {
    ($($t:ty),*) => {$(
        impl Accum for $t {
            type A = f32;
            #[inline(always)] fn up(self) -> f32 { self.to_f32() }
            #[inline(always)] fn down(a: f32) -> $t { <$t>::from_f32(a) }
        }
    )*};
}
accum_half!(f16, bf16);

/// The reductions that fused code can run (`compiler::fusion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Monoid {
    Sum,
    Max,
    Min,
}

/// Rows reduced together before their partial is folded into the result.
const ROW_BLOCK: usize = 128;
/// Contiguous elements below which a row is reduced without splitting.
const PAIRWISE_BLOCK: usize = 256;

/// Pairwise reduction of a contiguous slice (eight lanes per block).
#[inline]
pub fn pairwise<T: Copy, A: Copy>(
    x: &[T],
    id: A,
    lift: &impl Fn(T) -> A,
    f: &impl Fn(A, A) -> A,
) -> A {
    let n = x.len();
    if n <= PAIRWISE_BLOCK {
        let mut acc = [id; 8];
        let chunks = x.chunks_exact(8);
        let rem = chunks.remainder();
        for c in chunks {
            for l in 0..8 {
                acc[l] = f(acc[l], lift(c[l]));
            }
        }
        let mut r = f(
            f(f(acc[0], acc[1]), f(acc[2], acc[3])),
            f(f(acc[4], acc[5]), f(acc[6], acc[7])),
        );
        for &v in rem {
            r = f(r, lift(v));
        }
        r
    } else {
        let h = (n / 2) / 8 * 8;
        f(
            pairwise(&x[..h], id, lift, f),
            pairwise(&x[h..], id, lift, f),
        )
    }
}

/// The geometry `(outer, red, inner)` of an input after collapsing dims.
struct Geometry {
    outer: usize,
    red: usize,
    inner: usize,
    /// `Some((shape, strides))`: transpose (kept dims first) before reducing.
    transpose: Option<(Vec<usize>, Vec<isize>)>,
}

fn geometry(shape: &[usize], axes: &[usize]) -> Geometry {
    // Segments of (size, reduced?), skipping size-1 dims and merging neighbours.
    let mut segs: Vec<(usize, bool)> = Vec::new();
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let r = axes.contains(&d);
        match segs.last_mut() {
            // (saturating: with a zero extent elsewhere the array is empty
            // and this product of the other extents may exceed usize)
            Some((m, lr)) if *lr == r => *m = m.saturating_mul(n),
            _ => segs.push((n, r)),
        }
    }
    let n_red = segs.iter().filter(|s| s.1).count();
    if n_red <= 1 {
        let pos = segs.iter().position(|s| s.1);
        let (outer, red, inner) = match pos {
            None => (numel(shape), 1, 1),
            Some(p) => (
                segs[..p].iter().map(|s| s.0).product(),
                segs[p].0,
                segs[p + 1..].iter().map(|s| s.0).product(),
            ),
        };
        return Geometry {
            outer,
            red,
            inner,
            transpose: None,
        };
    }
    let st = strides(shape);
    let perm: Vec<usize> = (0..shape.len())
        .filter(|d| !axes.contains(d))
        .chain((0..shape.len()).filter(|d| axes.contains(d)))
        .collect();
    let outer = (0..shape.len())
        .filter(|d| !axes.contains(d))
        .map(|d| shape[d])
        .product();
    let red = axes.iter().map(|&d| shape[d]).product();
    Geometry {
        outer,
        red,
        inner: 1,
        transpose: Some((
            perm.iter().map(|&d| shape[d]).collect(),
            perm.iter().map(|&d| st[d] as isize).collect(),
        )),
    }
}

/// Reduce rows `r0..r1` for the outputs at flat positions `off..off + n`
/// (position `p` is `(o, j)` with `p = o * inner + j`), calling `put(k, acc)`.
#[allow(clippy::too_many_arguments)]
fn reduce_range<T: Copy, A: Copy>(
    x: &[T],
    red: usize,
    inner: usize,
    (r0, r1): (usize, usize),
    (off, n): (usize, usize),
    id: A,
    lift: &impl Fn(T) -> A,
    f: &impl Fn(A, A) -> A,
    mut put: impl FnMut(usize, A),
) {
    if inner == 1 {
        for k in 0..n {
            let b = (off + k) * red;
            put(k, pairwise(&x[b + r0..b + r1], id, lift, f));
        }
        return;
    }
    let mut acc: Vec<A> = Vec::new();
    let mut tmp: Vec<A> = Vec::new();
    let mut p = off;
    while p < off + n {
        let (o, j0) = (p / inner, p % inner);
        let w = (inner - j0).min(off + n - p);
        acc.clear();
        acc.resize(w, id);
        let mut rb = r0;
        while rb < r1 {
            let re = (rb + ROW_BLOCK).min(r1);
            let dst: &mut Vec<A> = if r1 - r0 <= ROW_BLOCK {
                &mut acc
            } else {
                tmp.clear();
                tmp.resize(w, id);
                &mut tmp
            };
            for r in rb..re {
                let b = (o * red + r) * inner + j0;
                for (a, &v) in dst.iter_mut().zip(&x[b..b + w]) {
                    *a = f(*a, lift(v));
                }
            }
            if r1 - r0 > ROW_BLOCK {
                for (a, &t) in acc.iter_mut().zip(tmp.iter()) {
                    *a = f(*a, t);
                }
            }
            rb = re;
        }
        for (k, &a) in acc.iter().enumerate() {
            put(p - off + k, a);
        }
        p += w;
    }
}

/// Reduce `x` viewed as `(outer, red, inner)` into `out` (`outer * inner`).
#[allow(clippy::too_many_arguments)]
pub fn reduce_into<T: Copy + Send + Sync, A: Copy + Send + Sync, U: Send>(
    x: &[T],
    red: usize,
    inner: usize,
    out: &mut [U],
    id: A,
    lift: impl Fn(T) -> A + Sync + Send,
    f: impl Fn(A, A) -> A + Sync + Send,
    fin: impl Fn(A) -> U + Sync + Send,
) {
    let n_out = out.len();
    if n_out == 0 {
        return;
    }
    if red == 0 {
        out.iter_mut().for_each(|o| *o = fin(id));
        return;
    }
    let threads = num_threads();
    let total = n_out.saturating_mul(red);
    if threads > 1 && total > 2 * GRAIN && n_out < threads * 8 {
        // Few outputs, long reductions: split the reduced range.
        let parts = (threads * 4).min(red).min(total / GRAIN).max(1);
        let step = red.div_ceil(parts);
        let partials: Vec<Vec<A>> = split_map(parts, |i| {
            let (r0, r1) = ((i * step).min(red), ((i + 1) * step).min(red));
            let mut v = vec![id; n_out];
            reduce_range(
                x,
                red,
                inner,
                (r0, r1),
                (0, n_out),
                id,
                &lift,
                &f,
                |k, a| v[k] = a,
            );
            v
        });
        for (k, o) in out.iter_mut().enumerate() {
            let mut a = id;
            for p in &partials {
                a = f(a, p[k]);
            }
            *o = fin(a);
        }
        return;
    }
    let grain = (GRAIN / red).max(1);
    par_fill(out, grain, |off, chunk| {
        let n = chunk.len();
        reduce_range(x, red, inner, (0, red), (off, n), id, &lift, &f, |k, a| {
            chunk[k] = fin(a)
        });
    });
}

/// Build a reduction kernel: `make` runs `reduce_into` on the (possibly
/// transposed) typed input.
fn reduce_kernel<T: Element>(
    spec: &OpSpec,
    run: fn(&[T], usize, usize, &mut [T]),
) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let shape = spec.ins[0].shape.clone();
    let out_shape = spec.outs[0].shape.clone();
    let axes = spec.params.usizes("axes")?;
    for &a in &axes {
        crate::ensure!(
            a < shape.len(),
            shape_err(
                spec.name(),
                format!("axis {a} out of range for {:?}", shape)
            )
        );
    }
    let g = geometry(&shape, &axes);
    crate::ensure!(
        g.outer * g.inner == numel(&out_shape) || numel(&shape) == 0,
        shape_err(
            spec.name(),
            format!("output {:?} does not match {:?}", out_shape, shape)
        )
    );
    Ok(Box::new(move |ins: &[&Buffer]| {
        let moved;
        let src = match &g.transpose {
            Some((sh, st)) => {
                moved = strided_buffer::<T>(ins[0], 0, sh, st)?;
                &moved
            }
            None => ins[0],
        };
        let x = src.slice::<T>()?;
        let out = Buffer::build::<T>(out_shape.clone(), |out| run(x, g.red, g.inner, out));
        Ok(vec![out])
    }))
}

fn sum<T: Accum + Send + Sync>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(
        x,
        red,
        inner,
        out,
        T::A::zero(),
        T::up,
        |a, b| a.add(b),
        T::down,
    )
}
fn prod<T: Accum + Send + Sync>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(
        x,
        red,
        inner,
        out,
        T::A::one(),
        T::up,
        |a, b| a.mul(b),
        T::down,
    )
}
fn max<T: Num + Element>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(
        x,
        red,
        inner,
        out,
        T::lowest(),
        |v| v,
        |a, b| a.max(b),
        |a| a,
    )
}
fn min<T: Num + Element>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(
        x,
        red,
        inner,
        out,
        T::highest(),
        |v| v,
        |a, b| a.min(b),
        |a| a,
    )
}
fn and<T: Bits + Element>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(x, red, inner, out, T::ones(), |v| v, |a, b| a.and(b), |a| a)
}
fn or<T: Bits + Element>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(x, red, inner, out, T::zeros(), |v| v, |a, b| a.or(b), |a| a)
}
fn xor<T: Bits + Element>(x: &[T], red: usize, inner: usize, out: &mut [T]) {
    reduce_into(
        x,
        red,
        inner,
        out,
        T::zeros(),
        |v| v,
        |a, b| a.xor(b),
        |a| a,
    )
}

pub fn build_sum(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, sum::<T>), number)
}
pub fn build_prod(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, prod::<T>), number)
}
pub fn build_max(spec: &OpSpec) -> Result<Kernel> {
    if spec.ins.first().map(|a| a.dtype) == Some(crate::base::dtype::DType::Bool) {
        return reduce_kernel::<bool>(spec, or::<bool>);
    }
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, max::<T>), number)
}
pub fn build_min(spec: &OpSpec) -> Result<Kernel> {
    if spec.ins.first().map(|a| a.dtype) == Some(crate::base::dtype::DType::Bool) {
        return reduce_kernel::<bool>(spec, and::<bool>);
    }
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, min::<T>), number)
}
pub fn build_and(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, and::<T>), intbool)
}
pub fn build_or(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, or::<T>), intbool)
}
pub fn build_xor(spec: &OpSpec) -> Result<Kernel> {
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => reduce_kernel::<T>(spec, xor::<T>), intbool)
}

// ---------------------------------------------------------------------------
// argmax / argmin: first occurrence; NaN counts as the extreme (JAX/NumPy).

#[inline(always)]
fn is_nan<T: Element>(v: T) -> bool {
    #[allow(clippy::eq_op)]
    let r = v != v;
    r
}

fn arg_kernel<T: Element>(
    x: &[T],
    red: usize,
    inner: usize,
    out: &mut [i64],
    better: fn(T, T) -> bool,
) {
    let grain = (GRAIN / red.max(1)).max(1);
    par_fill(out, grain, |off, chunk| {
        for (k, o) in chunk.iter_mut().enumerate() {
            let p = off + k;
            let (oi, j) = (p / inner, p % inner);
            let base = oi * red * inner + j;
            let mut best_i = 0usize;
            if red > 0 {
                let mut best = x[base];
                for r in 1..red {
                    let v = x[base + r * inner];
                    if better(v, best) {
                        best = v;
                        best_i = r;
                    }
                }
            }
            *o = best_i as i64;
        }
    });
}

/// Indices computed as i64, stored as the requested index dtype.
fn indices_as<I: Element>(shape: Vec<usize>, idx: &[i64]) -> Buffer {
    Buffer::build::<I>(shape, |out| {
        for (o, &i) in out.iter_mut().zip(idx) {
            *o = I::from_f64(i as f64);
        }
    })
}

fn gt_nan<T: Element>(v: T, best: T) -> bool {
    !is_nan(best) && (v > best || is_nan(v))
}
fn lt_nan<T: Element>(v: T, best: T) -> bool {
    !is_nan(best) && (v < best || is_nan(v))
}

pub fn build_arg(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let op = spec.name().to_string();
    let shape = spec.ins[0].shape.clone();
    let axes = spec.params.usizes("axes")?;
    let index_dtype = spec.params.dtype("index_dtype")?;
    crate::ensure!(
        axes.len() == 1 && axes[0] < shape.len(),
        shape_err(&op, format!("bad axes {:?} for {:?}", axes, shape))
    );
    crate::ensure!(
        spec.outs[0].dtype == index_dtype,
        shape_err(&op, "output dtype differs from index_dtype")
    );
    let a = axes[0];
    let red = shape[a];
    let inner: usize = shape[a + 1..].iter().product();
    let out_shape = spec.outs[0].shape.clone();
    let is_max = op == "argmax";
    let n_out = numel(&out_shape);
    crate::dispatch_dtype!(index_dtype, &op, I => { let _ = I::DTYPE; Ok(()) }, int)?;
    crate::dispatch_dtype!(spec.ins[0].dtype, &op, T => {
        let better: fn(T, T) -> bool = if is_max { gt_nan::<T> } else { lt_nan::<T> };
        Ok(Box::new(move |ins: &[&Buffer]| {
            let x = ins[0].slice::<T>()?;
            let mut idx = vec![0i64; n_out];
            arg_kernel::<T>(x, red, inner, &mut idx, better);
            let shape = out_shape.clone();
            let out = crate::dispatch_dtype!(index_dtype, "argmax", I => Ok(indices_as::<I>(shape, &idx)), int)?;
            Ok(vec![out])
        }) as Kernel)
    }, all)
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::ops::{build, Aval, OpSpec};

    fn run(op: &str, x: &Buffer, axes: &[i64], out: Aval) -> Buffer {
        let p = Params::new(op).with(
            "axes",
            Param::List(axes.iter().map(|&a| Param::Int(a)).collect()),
        );
        let ins = [Aval::new(x.dtype, x.shape.clone())];
        let outs = [out];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        k(&[x]).unwrap().remove(0)
    }

    #[test]
    fn sum_axes_all_patterns() {
        let v: Vec<f64> = (0..24).map(|i| i as f64).collect();
        let x = Buffer::from_vec(vec![2, 3, 4], &v).unwrap();
        // axes (0, 2): needs the transpose path
        let r = run("reduce_sum", &x, &[0, 2], Aval::new(DType::F64, vec![3]));
        let want: Vec<f64> = (0..3)
            .map(|j| {
                (0..2)
                    .flat_map(|i| (0..4).map(move |k| (i * 12 + j * 4 + k) as f64))
                    .sum()
            })
            .collect();
        assert_eq!(r.slice::<f64>().unwrap(), &want[..]);
        let r = run("reduce_sum", &x, &[0], Aval::new(DType::F64, vec![3, 4]));
        assert_eq!(r.slice::<f64>().unwrap()[0], 12.0);
        let r = run("reduce_sum", &x, &[], Aval::new(DType::F64, vec![2, 3, 4]));
        assert_eq!(r.slice::<f64>().unwrap(), &v[..]);
    }

    #[test]
    fn large_sum_parallel_accurate() {
        let n = 3_000_001usize;
        let v: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) * 0.001 + 0.1).collect();
        let want: f64 = v.iter().map(|&a| a as f64).sum();
        let x = Buffer::from_vec(vec![n], &v).unwrap();
        let r = run("reduce_sum", &x, &[0], Aval::new(DType::F32, vec![]));
        let got = r.slice::<f32>().unwrap()[0] as f64;
        assert!((got - want).abs() / want < 1e-6, "{got} vs {want}");
        // leading-axis reduction of a (1000, 3000) view
        let x2 = Buffer::from_vec(vec![1000, 3000], &v[..3_000_000]).unwrap();
        let r = run("reduce_sum", &x2, &[0], Aval::new(DType::F32, vec![3000]));
        let got = r.slice::<f32>().unwrap();
        for j in [0usize, 1234, 2999] {
            let want: f64 = (0..1000).map(|i| v[i * 3000 + j] as f64).sum();
            assert!((got[j] as f64 - want).abs() / want < 1e-5);
        }
    }

    #[test]
    fn max_nan_and_empty() {
        let x = Buffer::from_vec(vec![3], &[1.0f32, f32::NAN, 2.0]).unwrap();
        let r = run("reduce_max", &x, &[0], Aval::new(DType::F32, vec![]));
        assert!(r.slice::<f32>().unwrap()[0].is_nan());
        let e = Buffer::from_vec::<f32>(vec![0, 2], &[]).unwrap();
        let r = run("reduce_max", &e, &[0], Aval::new(DType::F32, vec![2]));
        assert_eq!(r.slice::<f32>().unwrap(), &[f32::NEG_INFINITY; 2]);
    }

    #[test]
    fn argmax_first_and_nan() {
        let x = Buffer::from_vec(vec![5], &[1.0f32, 3.0, 3.0, f32::NAN, f32::NAN]).unwrap();
        let p = Params::new("argmax")
            .with("axes", Param::List(vec![Param::Int(0)]))
            .with("index_dtype", Param::Str("int32".into()));
        let ins = [Aval::new(DType::F32, vec![5])];
        let outs = [Aval::new(DType::I32, vec![])];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        assert_eq!(k(&[&x]).unwrap()[0].slice::<i32>().unwrap(), &[3]);
    }
}
