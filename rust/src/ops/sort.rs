//! `sort` (multi-operand, lexicographic over the first `num_keys` operands)
//! and `top_k`.
//!
//! Order: NaNs sort after everything (as JAX does); -0.0 and +0.0 compare equal
//! and keep their input order (JAX puts -0.0 first); complex values order by
//! the real parts, then the imaginary parts, each so. Every sort here breaks
//! ties by position, so the result is always the stable one.
//!
//! `sort` computes one permutation per lane (a lane is a 1-d slice along
//! `dimension`), then gathers every operand through it by item size, so the
//! payload operands need no dtype dispatch.
use super::{Kernel, OpSpec};
use crate::base::buffer::{numel, Buffer};
use crate::base::dtype::{DType, Element, C128, C64};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{par_fill, split_chunks_mut, GRAIN};
use std::cmp::Ordering;

/// Total order with NaNs last (NaNs equal to each other). Complex values
/// order lexicographically with this order on each part (JAX sorts the real
/// parts, then the imaginary parts, each with NaNs last).
#[inline(always)]
pub fn cmp_nan_last<T: Element>(a: T, b: T) -> Ordering {
    match T::DTYPE {
        DType::C64 => {
            // SAFETY: `T` is `C64` (the dtype of an `Element` is its type).
            let (a, b): (C64, C64) =
                unsafe { (std::mem::transmute_copy(&a), std::mem::transmute_copy(&b)) };
            return cmp_nan_last(a.re, b.re).then(cmp_nan_last(a.im, b.im));
        }
        DType::C128 => {
            // SAFETY: as above, `T` is `C128`.
            let (a, b): (C128, C128) =
                unsafe { (std::mem::transmute_copy(&a), std::mem::transmute_copy(&b)) };
            return cmp_nan_last(a.re, b.re).then(cmp_nan_last(a.im, b.im));
        }
        _ => {}
    }
    match a.partial_cmp(&b) {
        Some(o) => o,
        None => {
            #[allow(clippy::eq_op)]
            let (an, bn) = (a != a, b != b);
            an.cmp(&bn)
        }
    }
}

type KeyCmp<'a> = Box<dyn Fn(usize, usize) -> Ordering + Sync + Send + 'a>;

fn key_cmp<'a>(op: &str, b: &'a Buffer) -> Result<KeyCmp<'a>> {
    crate::dispatch_dtype!(b.dtype, op, T => {
        let s = b.slice::<T>()?;
        Ok(Box::new(move |i: usize, j: usize| cmp_nan_last(s[i], s[j])) as KeyCmp<'a>)
    }, all)
}

/// Run `f(lane, chunk)` over consecutive chunks of `n`, in parallel if large.
fn for_lanes(perm: &mut [u32], n: usize, f: impl Fn(usize, &mut [u32]) + Sync + Send) {
    if perm.len() <= GRAIN {
        perm.chunks_mut(n).enumerate().for_each(|(l, c)| f(l, c));
    } else {
        split_chunks_mut(perm, n, f);
    }
}

/// Permutations (`[outer][inner][n]`) sorting by one typed key.
fn perm_one_key<T: Element>(x: &[T], n: usize, inner: usize, perm: &mut [u32]) {
    for_lanes(perm, n, |lane, p| {
        let (o, j) = (lane / inner, lane % inner);
        let base = o * n * inner + j;
        let mut kv: Vec<(T, u32)> = (0..n).map(|i| (x[base + i * inner], i as u32)).collect();
        kv.sort_unstable_by(|a, b| cmp_nan_last(a.0, b.0).then(a.1.cmp(&b.1)));
        for (d, (_, i)) in p.iter_mut().zip(kv) {
            *d = i;
        }
    });
}

/// Permutations sorting lexicographically by several keys of any dtypes.
fn perm_keys(keys: &[KeyCmp], n: usize, inner: usize, perm: &mut [u32]) {
    for_lanes(perm, n, |lane, p| {
        let (o, j) = (lane / inner, lane % inner);
        let base = o * n * inner + j;
        for (i, d) in p.iter_mut().enumerate() {
            *d = i as u32;
        }
        p.sort_unstable_by(|&a, &b| {
            let (ia, ib) = (base + a as usize * inner, base + b as usize * inner);
            for k in keys {
                match k(ia, ib) {
                    Ordering::Equal => continue,
                    o => return o,
                }
            }
            a.cmp(&b)
        });
    });
}

/// `out[o, i, j] = x[o, perm[o, j, i], j]` for one item type.
fn gather_typed<T: Element>(x: &[T], perm: &[u32], n: usize, inner: usize, out: &mut [T]) {
    let block = n * inner;
    par_fill(out, GRAIN, |off, chunk| {
        for (k, d) in chunk.iter_mut().enumerate() {
            let f = off + k;
            let (o, rem) = (f / block, f % block);
            let (i, j) = (rem / inner, rem % inner);
            let src = perm[(o * inner + j) * n + i] as usize;
            *d = x[o * block + src * inner + j];
        }
    });
}

/// Gather a buffer of any dtype through `perm`, by item size.
fn gather(b: &Buffer, perm: &[u32], n: usize, inner: usize) -> Result<Buffer> {
    fn go<U: Element>(b: &Buffer, perm: &[u32], n: usize, inner: usize) -> Buffer {
        let x = b.data.as_slice::<U>();
        let mut out =
            Buffer::build::<U>(b.shape.clone(), |out| gather_typed(x, perm, n, inner, out));
        out.dtype = b.dtype;
        out
    }
    Ok(match b.dtype.itemsize() {
        1 => go::<u8>(b, perm, n, inner),
        2 => go::<u16>(b, perm, n, inner),
        4 => go::<u32>(b, perm, n, inner),
        8 => go::<u64>(b, perm, n, inner),
        16 => go::<C128>(b, perm, n, inner),
        s => crate::bail!("sort: unsupported item size {}", s),
    })
}

pub fn build_sort(spec: &OpSpec) -> Result<Kernel> {
    crate::ensure!(
        !spec.ins.is_empty() && spec.ins.len() == spec.outs.len(),
        shape_err("sort", "needs as many outputs as operands")
    );
    let shape = spec.ins[0].shape.clone();
    for a in spec.ins.iter().chain(spec.outs) {
        crate::ensure!(
            a.shape == shape,
            shape_err("sort", format!("operand shapes differ: {:?}", a.shape))
        );
    }
    let dim = spec.params.usize("dimension")?;
    let num_keys = spec.params.usize("num_keys")?;
    crate::ensure!(
        dim < shape.len(),
        shape_err(
            "sort",
            format!("dimension {dim} out of range for {:?}", shape)
        )
    );
    crate::ensure!(
        num_keys >= 1 && num_keys <= spec.ins.len(),
        shape_err("sort", format!("bad num_keys {num_keys}"))
    );
    let n = shape[dim];
    crate::ensure!(
        n <= u32::MAX as usize,
        shape_err("sort", "dimension too large")
    );
    let inner: usize = shape[dim + 1..].iter().product();
    let total = numel(&shape);
    let key0 = spec.ins[0].dtype;
    Ok(Box::new(move |ins: &[&Buffer]| {
        if total == 0 {
            return Ok(ins.iter().map(|b| (*b).clone()).collect());
        }
        let mut perm = vec![0u32; total];
        if num_keys == 1 {
            crate::dispatch_dtype!(key0, "sort", T => {
                perm_one_key::<T>(ins[0].slice::<T>()?, n, inner, &mut perm);
                Ok::<(), crate::base::error::Error>(())
            }, all)?;
        } else {
            let keys: Vec<KeyCmp> = ins[..num_keys]
                .iter()
                .map(|b| key_cmp("sort", b))
                .collect::<Result<_>>()?;
            perm_keys(&keys, n, inner, &mut perm);
        }
        ins.iter().map(|b| gather(b, &perm, n, inner)).collect()
    }))
}

/// `top_k` along `axis`: the `k` largest values (NaN largest), ties by index.
fn top_k_typed<T: Element, I: Element>(
    x: &[T],
    n: usize,
    inner: usize,
    k: usize,
    vals: &mut [T],
    idx: &mut [I],
) {
    // Row-major output (outer, k, inner); compute lanes of indices first.
    let lanes = x.len() / n.max(1);
    let mut sel = vec![0u32; lanes * k];
    if k > 0 {
        for_lanes(&mut sel, k, |lane, p| {
            let (o, j) = (lane / inner, lane % inner);
            let base = o * n * inner + j;
            let mut kv: Vec<(T, u32)> = (0..n).map(|i| (x[base + i * inner], i as u32)).collect();
            let cmp = |a: &(T, u32), b: &(T, u32)| cmp_nan_last(b.0, a.0).then(a.1.cmp(&b.1));
            if k < n {
                kv.select_nth_unstable_by(k - 1, cmp);
                kv.truncate(k);
            }
            kv.sort_unstable_by(cmp);
            for (d, (_, i)) in p.iter_mut().zip(kv) {
                *d = i;
            }
        });
    }
    let block = k * inner;
    for (f, (v, ix)) in vals.iter_mut().zip(idx.iter_mut()).enumerate() {
        let (o, rem) = (f / block, f % block);
        let (i, j) = (rem / inner, rem % inner);
        let s = sel[(o * inner + j) * k + i] as usize;
        *ix = I::from_f64(s as f64);
        *v = x[o * n * inner + s * inner + j];
    }
}

pub fn build_top_k(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 2)?;
    let shape = spec.ins[0].shape.clone();
    let k = spec.params.usize("k")?;
    let axis = if spec.params.has("axis") {
        spec.params.usize("axis")?
    } else {
        shape.len().saturating_sub(1)
    };
    crate::ensure!(
        axis < shape.len() && k <= shape[axis],
        shape_err(
            "top_k",
            format!("bad k={k} or axis={axis} for shape {:?}", shape)
        )
    );
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let out_shape = spec.outs[0].shape.clone();
    let idx_dtype = spec.outs[1].dtype;
    crate::ensure!(
        idx_dtype == DType::I32,
        shape_err("top_k", "indices must be int32")
    );
    crate::dispatch_dtype!(spec.ins[0].dtype, "top_k", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let x = ins[0].slice::<T>()?;
            let m = numel(&out_shape);
            let mut vals = vec![T::default(); m];
            let mut idx = vec![0i32; m];
            if m > 0 {
                top_k_typed::<T, i32>(x, n, inner, k, &mut vals, &mut idx);
            }
            Ok(vec![
                Buffer::from_vec(out_shape.clone(), &vals)?,
                Buffer::from_vec(out_shape.clone(), &idx)?,
            ])
        }) as Kernel)
    }, all)
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::ops::{build, Aval, OpSpec};

    #[test]
    fn sort_two_keys_with_payload() {
        let k1 = Buffer::from_vec(vec![5], &[2i32, 1, 2, 1, 0]).unwrap();
        let k2 = Buffer::from_vec(vec![5], &[0.5f32, f32::NAN, 0.1, 0.2, 9.0]).unwrap();
        let pay = Buffer::from_vec(vec![5], &[10u8, 11, 12, 13, 14]).unwrap();
        let p = Params::new("sort")
            .with("dimension", Param::Int(0))
            .with("is_stable", Param::Bool(true))
            .with("num_keys", Param::Int(2));
        let avals = [
            Aval::new(DType::I32, vec![5]),
            Aval::new(DType::F32, vec![5]),
            Aval::new(DType::U8, vec![5]),
        ];
        let k = build(&OpSpec {
            params: &p,
            ins: &avals,
            outs: &avals,
        })
        .unwrap();
        let r = k(&[&k1, &k2, &pay]).unwrap();
        assert_eq!(r[0].slice::<i32>().unwrap(), &[0, 1, 1, 2, 2]);
        assert_eq!(r[2].slice::<u8>().unwrap(), &[14, 13, 11, 12, 10]);
    }

    #[test]
    fn top_k_nan_and_ties() {
        let x = Buffer::from_vec(vec![4], &[1.0f32, f32::NAN, 3.0, 3.0]).unwrap();
        let p = Params::new("top_k")
            .with("k", Param::Int(3))
            .with("axis", Param::Int(0));
        let ins = [Aval::new(DType::F32, vec![4])];
        let outs = [
            Aval::new(DType::F32, vec![3]),
            Aval::new(DType::I32, vec![3]),
        ];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        let r = k(&[&x]).unwrap();
        assert_eq!(r[1].slice::<i32>().unwrap(), &[1, 2, 3]);
    }
}
