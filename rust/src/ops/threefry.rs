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

/// The hash of `LANES` counter pairs under `LANES` keys, in place,
/// lane-wise.
#[inline(always)]
fn hash_block(k0: &[u32; LANES], k1: &[u32; LANES], a: &mut [u32; LANES], b: &mut [u32; LANES]) {
    let mut k2 = [0u32; LANES];
    for l in 0..LANES {
        k2[l] = k0[l] ^ k1[l] ^ PARITY;
    }
    let ks = [k0, k1, &k2];
    for l in 0..LANES {
        a[l] = a[l].wrapping_add(ks[0][l]);
        b[l] = b[l].wrapping_add(ks[1][l]);
    }
    for i in 0..5 {
        for &r in &ROTATIONS[i % 2] {
            for l in 0..LANES {
                a[l] = a[l].wrapping_add(b[l]);
                b[l] = b[l].rotate_left(r) ^ a[l];
            }
        }
        let (ia, ib) = (ks[(i + 1) % 3], ks[(i + 2) % 3]);
        for l in 0..LANES {
            a[l] = a[l].wrapping_add(ia[l]);
            b[l] = b[l].wrapping_add(ib[l]).wrapping_add(i as u32 + 1);
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

/// Every operand full-size or one element (rank-0 keys and per-element
/// keys alike). Fills `o0`/`o1` starting at flat index `off`, on the widest
/// vectors this CPU has (the same integer operations, so the same bits:
/// AVX-512 rotates in one instruction, 16 lanes; the portable build's SSE2
/// needs three per rotate, 4 lanes).
fn hash_flat(x: [&[u32]; 4], off: usize, o0: &mut [u32], o1: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::ops::dot::gemm_float::avx512_available() {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { hash_flat_avx512(x, off, o0, o1) };
        }
        if avx2_available() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { hash_flat_avx2(x, off, o0, o1) };
        }
    }
    hash_flat_body(x, off, o0, o1)
}

/// Whether this CPU has AVX2 (checked once).
#[cfg(target_arch = "x86_64")]
fn avx2_available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2"))
}

/// `hash_flat_body` compiled for AVX-512.
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn hash_flat_avx512(x: [&[u32]; 4], off: usize, o0: &mut [u32], o1: &mut [u32]) {
    hash_flat_body(x, off, o0, o1)
}

/// `hash_flat_body` compiled for AVX2.
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn hash_flat_avx2(x: [&[u32]; 4], off: usize, o0: &mut [u32], o1: &mut [u32]) {
    hash_flat_body(x, off, o0, o1)
}

/// Block `at..at + LANES` of an operand: a full operand's slice, or its one
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
fn hash_flat_body(x: [&[u32]; 4], off: usize, o0: &mut [u32], o1: &mut [u32]) {
    let n = o0.len();
    let mut i = 0;
    let mut k0 = [0u32; LANES];
    let mut k1 = [0u32; LANES];
    let (mut a, mut b) = ([0u32; LANES], [0u32; LANES]);
    while i + LANES <= n {
        load_block(x[0], off + i, &mut k0);
        load_block(x[1], off + i, &mut k1);
        load_block(x[2], off + i, &mut a);
        load_block(x[3], off + i, &mut b);
        hash_block(&k0, &k1, &mut a, &mut b);
        o0[i..i + LANES].copy_from_slice(&a);
        o1[i..i + LANES].copy_from_slice(&b);
        i += LANES;
    }
    for j in i..n {
        let [p, q, r, t] = x.map(|v| at(v, off + j));
        (o0[j], o1[j]) = threefry2x32(p, q, r, t);
    }
}

/// `x` (read with broadcast strides `st`) written out at the full `shape`
/// into `out`, row by row (the last dim innermost): an odometer, no
/// division per element.
fn expand(x: &[u32], st: &[isize], shape: &[usize], out: &mut [u32]) {
    let Some((&last, outer)) = shape.split_last() else {
        out[0] = x[0];
        return;
    };
    if out.is_empty() {
        return;
    }
    let sl = st[outer.len()];
    let mut idx = vec![0usize; outer.len()];
    let mut base: isize = 0;
    for row in out.chunks_exact_mut(last) {
        for (j, o) in row.iter_mut().enumerate() {
            *o = x[(base + j as isize * sl) as usize];
        }
        for k in (0..outer.len()).rev() {
            idx[k] += 1;
            base += st[k];
            if idx[k] < outer[k] {
                break;
            }
            base -= st[k] * outer[k] as isize;
            idx[k] = 0;
        }
    }
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
    // Operands broadcast along some dims (vmapped keys split in two, say)
    // are written out at full size first, so that every operand is full or
    // one element and the hash runs on whole vectors.
    let expanded: Vec<Option<Buffer>> = ins
        .iter()
        .zip(&xs)
        .map(|(b, x)| {
            if b.len() == 1 || (b.len() == n && b.shape == shape) {
                return Ok(None);
            }
            let st = broadcast_strides("threefry2x32", &b.shape, shape)?;
            Ok(Some(Buffer::build::<u32>(shape.to_vec(), |o| {
                expand(x, &st, shape, o)
            })))
        })
        .collect::<Result<_>>()?;
    let full: Vec<&[u32]> = expanded
        .iter()
        .zip(&xs)
        .map(|(e, x)| e.as_ref().map_or(Ok(*x), |b| b.slice::<u32>()))
        .collect::<Result<_>>()?;
    let x = [full[0], full[1], full[2], full[3]];
    let mut o0 = None;
    let o1 = Buffer::build::<u32>(shape.to_vec(), |out1| {
        o0 = Some(Buffer::build::<u32>(shape.to_vec(), |out0| {
            par_fill2(out0, out1, |off, c0, c1| hash_flat(x, off, c0, c1));
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

    #[test]
    fn per_element_keys_take_the_block_path_and_agree_with_scalar() {
        // every operand full-size (vmapped keys): blocks of 16 and a tail,
        // split across threads; and one full key beside a one-element one
        for n in [1usize, 15, 16, 17, 100_003] {
            let f = |m: u32| {
                (0..n as u32)
                    .map(|i| i.wrapping_mul(m))
                    .collect::<Vec<u32>>()
            };
            let (k0, k1, x0, x1) = (f(2654435761), f(40503), f(7), f(1));
            let (a, b) = run(
                &[
                    (vec![n], k0.clone()),
                    (vec![n], k1.clone()),
                    (vec![n], x0.clone()),
                    (vec![n], x1.clone()),
                ],
                vec![n],
            );
            for i in 0..n {
                assert_eq!((a[i], b[i]), threefry2x32(k0[i], k1[i], x0[i], x1[i]));
            }
            let (a, b) = run(
                &[
                    (vec![n], k0.clone()),
                    (vec![], vec![11]),
                    (vec![], vec![0]),
                    (vec![n], x1.clone()),
                ],
                vec![n],
            );
            for i in 0..n {
                assert_eq!((a[i], b[i]), threefry2x32(k0[i], 11, 0, x1[i]));
            }
        }
    }
}
