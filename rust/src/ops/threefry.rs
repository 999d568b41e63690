//! threefry2x32: the counter-based hash behind JAX's default PRNG (Salmon et
//! al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), 20 rounds, as
//! JAX computes it. Four uint32 operands `(key0, key1, x0, x1)` with lax's
//! broadcasting (rank-0 operands, size-1 dims); two uint32 outputs.
//!
//! The common case (rank-0 keys, counters either full or rank 0) runs on
//! blocks of `LANES` counters at a time, written lane-wise so that the
//! compiler vectorises each round across the block.
use super::{Kernel, OpSpec};
use crate::base::buffer::strides;
use crate::base::buffer::{numel, Buffer};
use crate::base::dtype::DType;
use crate::base::error::shape_err;
use crate::base::error::{dtype_err, Result};
use crate::loops::parallel::{num_threads, split_chunks_mut2, GRAIN};

const ROTATIONS: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];
const PARITY: u32 = 0x1BD1_1BDA;
const LANES: usize = 16;

/// One threefry2x32 hash of the counter pair `(x0, x1)` under key `(k0, k1)`.
#[inline(always)]
pub fn threefry2x32(k0: u32, k1: u32, x0: u32, x1: u32) -> (u32, u32) {
    let ks = [k0, k1, k0 ^ k1 ^ PARITY];
    let (mut a, mut b) = (x0.wrapping_add(ks[0]), x1.wrapping_add(ks[1]));
    for i in 0..5 {
        for &r in &ROTATIONS[i % 2] {
            a = a.wrapping_add(b);
            b = b.rotate_left(r) ^ a;
        }
        a = a.wrapping_add(ks[(i + 1) % 3]);
        b = b.wrapping_add(ks[(i + 2) % 3]).wrapping_add(i as u32 + 1);
    }
    (a, b)
}

/// The hash of `LANES` counter pairs under one key, in place, lane-wise.
#[inline(always)]
fn hash_block(k0: u32, k1: u32, a: &mut [u32; LANES], b: &mut [u32; LANES]) {
    let ks = [k0, k1, k0 ^ k1 ^ PARITY];
    for l in 0..LANES {
        a[l] = a[l].wrapping_add(ks[0]);
        b[l] = b[l].wrapping_add(ks[1]);
    }
    for i in 0..5 {
        for &r in &ROTATIONS[i % 2] {
            for l in 0..LANES {
                a[l] = a[l].wrapping_add(b[l]);
                b[l] = b[l].rotate_left(r) ^ a[l];
            }
        }
        let (ia, ib) = (ks[(i + 1) % 3], ks[(i + 2) % 3].wrapping_add(i as u32 + 1));
        for l in 0..LANES {
            a[l] = a[l].wrapping_add(ia);
            b[l] = b[l].wrapping_add(ib);
        }
    }
}

/// Element `i` of a full or one-element operand.
#[inline(always)]
fn at(x: &[u32], i: usize) -> u32 {
    if x.len() == 1 {
        x[0]
    } else {
        x[i]
    }
}

/// Rank-0 keys; counters full-size or one element. Fills `o0`/`o1` starting
/// at flat index `off`, on the widest vectors this CPU has (the same integer
/// operations, so the same bits: AVX-512 rotates in one instruction, 16
/// lanes; the portable build's SSE2 needs three per rotate, 4 lanes).
fn hash_scalar_key(
    k0: u32,
    k1: u32,
    x0: &[u32],
    x1: &[u32],
    off: usize,
    o0: &mut [u32],
    o1: &mut [u32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::ops::dot::gemm_float::avx512_available() {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { hash_scalar_key_avx512(k0, k1, x0, x1, off, o0, o1) };
        }
        if avx2_available() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { hash_scalar_key_avx2(k0, k1, x0, x1, off, o0, o1) };
        }
    }
    hash_scalar_key_body(k0, k1, x0, x1, off, o0, o1)
}

/// Whether this CPU has AVX2 (checked once).
#[cfg(target_arch = "x86_64")]
fn avx2_available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2"))
}

/// `hash_scalar_key_body` compiled for AVX-512.
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn hash_scalar_key_avx512(
    k0: u32,
    k1: u32,
    x0: &[u32],
    x1: &[u32],
    off: usize,
    o0: &mut [u32],
    o1: &mut [u32],
) {
    hash_scalar_key_body(k0, k1, x0, x1, off, o0, o1)
}

/// `hash_scalar_key_body` compiled for AVX2.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn hash_scalar_key_avx2(
    k0: u32,
    k1: u32,
    x0: &[u32],
    x1: &[u32],
    off: usize,
    o0: &mut [u32],
    o1: &mut [u32],
) {
    hash_scalar_key_body(k0, k1, x0, x1, off, o0, o1)
}

/// The counters of block `i..i + LANES`: a full operand's slice, or its one
/// element in every lane.
#[inline(always)]
fn load_block(x: &[u32], at: usize, v: &mut [u32; LANES]) {
    if x.len() == 1 {
        *v = [x[0]; LANES];
    } else {
        v.copy_from_slice(&x[at..at + LANES]);
    }
}

#[inline(always)]
fn hash_scalar_key_body(
    k0: u32,
    k1: u32,
    x0: &[u32],
    x1: &[u32],
    off: usize,
    o0: &mut [u32],
    o1: &mut [u32],
) {
    let n = o0.len();
    let mut i = 0;
    let (mut a, mut b) = ([0u32; LANES], [0u32; LANES]);
    while i + LANES <= n {
        load_block(x0, off + i, &mut a);
        load_block(x1, off + i, &mut b);
        hash_block(k0, k1, &mut a, &mut b);
        o0[i..i + LANES].copy_from_slice(&a);
        o1[i..i + LANES].copy_from_slice(&b);
        i += LANES;
    }
    for j in i..n {
        let (p, q) = threefry2x32(k0, k1, at(x0, off + j), at(x1, off + j));
        o0[j] = p;
        o1[j] = q;
    }
}

/// Flat offset of every operand for output element `i` (general broadcasting).
fn offsets(i: usize, shape: &[usize], strides: &[Vec<isize>]) -> [usize; 4] {
    let mut rem = i;
    let mut off = [0isize; 4];
    for d in (0..shape.len()).rev() {
        let k = (rem % shape[d]) as isize;
        rem /= shape[d];
        for (o, st) in off.iter_mut().zip(strides) {
            *o += k * st[d];
        }
    }
    off.map(|o| o as usize)
}

/// Fill both outputs by calling `f(offset, chunk0, chunk1)` on equal,
/// disjoint ranges, in parallel when the output is large.
fn par_fill2(
    o0: &mut [u32],
    o1: &mut [u32],
    f: impl Fn(usize, &mut [u32], &mut [u32]) + Sync + Send,
) {
    // hashing costs ~30x a cheap elementwise op: use smaller chunks
    let grain = GRAIN / 16;
    let n = o0.len();
    if n <= grain || num_threads() <= 1 {
        return f(0, o0, o1);
    }
    let chunks = (n / grain).min(num_threads() * 4).max(1);
    let chunk = n.div_ceil(chunks).next_multiple_of(LANES);
    split_chunks_mut2(o0, o1, chunk, |i, c0, c1| f(i * chunk, c0, c1));
}

fn threefry_kernel(ins: &[&Buffer], shape: &[usize]) -> Result<Vec<Buffer>> {
    let xs: Vec<&[u32]> = ins
        .iter()
        .map(|b| b.slice::<u32>())
        .collect::<Result<_>>()?;
    let n = numel(shape);
    let simple = ins[..2].iter().all(|b| b.len() == 1)
        && ins[2..]
            .iter()
            .all(|b| b.len() == 1 || (b.len() == n && b.shape == shape));
    let mut st: Vec<Vec<isize>> = Vec::with_capacity(4);
    if !simple {
        for b in ins {
            st.push(broadcast_strides("threefry2x32", &b.shape, shape)?);
        }
    }
    let mut o0 = None;
    let o1 = Buffer::build::<u32>(shape.to_vec(), |out1| {
        o0 = Some(Buffer::build::<u32>(shape.to_vec(), |out0| {
            if simple {
                let (k0, k1) = (xs[0][0], xs[1][0]);
                par_fill2(out0, out1, |off, c0, c1| {
                    hash_scalar_key(k0, k1, xs[2], xs[3], off, c0, c1)
                });
            } else {
                par_fill2(out0, out1, |off, c0, c1| {
                    for (j, (p, q)) in c0.iter_mut().zip(c1.iter_mut()).enumerate() {
                        let [a, b, c, d] = offsets(off + j, shape, &st);
                        (*p, *q) = threefry2x32(xs[0][a], xs[1][b], xs[2][c], xs[3][d]);
                    }
                });
            }
        }));
    });
    match o0 {
        Some(o0) => Ok(vec![o0, o1]),
        None => Err(crate::base::error::Error::Internal(
            "threefry2x32: no output".into(),
        )),
    }
}

/// Strides (in elements) with which an operand of shape `s` is read for an
/// output of shape `out`: rank-0 operands broadcast everywhere; otherwise the
/// ranks are equal and size-1 dims broadcast (lax's rule).
pub fn broadcast_strides(op: &str, s: &[usize], out: &[usize]) -> Result<Vec<isize>> {
    if s.is_empty() {
        return Ok(vec![0; out.len()]);
    }
    if s.len() != out.len() {
        return Err(shape_err(
            op,
            format!("operand shape {:?} does not broadcast to {:?}", s, out),
        ));
    }
    let st = strides(s);
    s.iter()
        .zip(out)
        .zip(st)
        .map(|((&a, &o), st)| {
            if a == o {
                Ok(if a == 1 { 0 } else { st as isize })
            } else if a == 1 {
                Ok(0)
            } else {
                Err(shape_err(
                    op,
                    format!("operand shape {:?} does not broadcast to {:?}", s, out),
                ))
            }
        })
        .collect()
}

pub fn build_threefry(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(4, 2)?;
    for a in spec.ins.iter().chain(spec.outs) {
        if a.dtype != DType::U32 {
            return Err(dtype_err("threefry2x32", a.dtype));
        }
    }
    let shape = spec.outs[0].shape.clone();
    Ok(Box::new(move |ins: &[&Buffer]| {
        threefry_kernel(ins, &shape)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::params::Params;
    use crate::ops::{build, Aval};

    fn run(ins: &[(Vec<usize>, Vec<u32>)], out: Vec<usize>) -> (Vec<u32>, Vec<u32>) {
        let p = Params::new("threefry2x32");
        let avals: Vec<Aval> = ins
            .iter()
            .map(|(s, _)| Aval::new(DType::U32, s.clone()))
            .collect();
        let outs = [
            Aval::new(DType::U32, out.clone()),
            Aval::new(DType::U32, out),
        ];
        let k = build(&OpSpec {
            params: &p,
            ins: &avals,
            outs: &outs,
        })
        .unwrap();
        let bufs: Vec<Buffer> = ins
            .iter()
            .map(|(s, v)| Buffer::from_vec(s.clone(), v).unwrap())
            .collect();
        let refs: Vec<&Buffer> = bufs.iter().collect();
        let r = k(&refs).unwrap();
        (
            r[0].slice::<u32>().unwrap().to_vec(),
            r[1].slice::<u32>().unwrap().to_vec(),
        )
    }

    #[test]
    fn known_answer_vectors() {
        // Random123's known-answer tests for threefry2x32_20 (kat_vectors).
        assert_eq!(threefry2x32(0, 0, 0, 0), (0x6b200159, 0x99ba4efe));
        assert_eq!(
            threefry2x32(u32::MAX, u32::MAX, u32::MAX, u32::MAX),
            (0x1cb996fc, 0xbb002be7)
        );
        assert_eq!(
            threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3),
            (0xc4923a9c, 0x483df7a0)
        );
    }

    #[test]
    fn blocks_and_broadcasting_agree_with_scalar() {
        let n = 1000;
        let lo: Vec<u32> = (0..n as u32).collect();
        let (a, b) = run(
            &[
                (vec![], vec![7]),
                (vec![], vec![9]),
                (vec![], vec![0]),
                (vec![n], lo.clone()),
            ],
            vec![n],
        );
        for i in 0..n {
            assert_eq!((a[i], b[i]), threefry2x32(7, 9, 0, i as u32));
        }
        // keys batched along dim 0, counters along dim 1
        let (a, b) = run(
            &[
                (vec![2, 1], vec![1, 2]),
                (vec![2, 1], vec![3, 4]),
                (vec![], vec![5]),
                (vec![1, 3], vec![0, 1, 2]),
            ],
            vec![2, 3],
        );
        for r in 0..2 {
            for c in 0..3 {
                let e = threefry2x32([1, 2][r], [3, 4][r], 5, c as u32);
                assert_eq!((a[r * 3 + c], b[r * 3 + c]), e);
            }
        }
    }
}
