//! dot_general: batched tensor contraction with XLA's output layout (batch
//! dims, then lhs free dims, then rhs free dims).
//!
//! Each operand is viewed as a stack of matrices, lhs (B, M, K) and rhs
//! (B, K, N). When the dims of each group (batch, free, contracting) are
//! already adjacent and in order in the operand's row-major layout, the view is
//! just three strides and nothing is copied (so `a @ b`, `a @ b.T`, `a.T @ b`
//! and batched matmuls read their inputs in place); otherwise the operand is
//! first permuted into a contiguous (B, M, K) / (B, K, N) copy.
//!
//! Floats go through our AVX-512 GEMM where the CPU has it and the product is
//! big enough (`gemm_avx512.rs`), else the `gemm` crate (f16/bf16 via f32,
//! `gemm_float.rs` picks the path); integers and bool
//! use a generic row kernel (`gemm_loop.rs`) with wrapping arithmetic and
//! or-of-ands for bool. Python (abstract eval + lowering) has already decided
//! the output dtype and inserted any input conversions, so both inputs and the
//! output have one dtype here.
use super::{Kernel, OpSpec};
use crate::base::buffer::{numel, strides, Buffer};
use crate::base::dtype::{DType, Element};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{num_threads, split_chunks_mut, GRAIN};

#[cfg(target_arch = "x86_64")]
mod gemm_avx512;
pub(crate) mod gemm_complex;
pub(crate) mod gemm_float;
pub(crate) mod gemm_loop;

/// A stack of matrices inside a flat slice: element (b, i, j) lives at
/// `b * bs + i * rs + j * cs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatView {
    pub bs: isize,
    pub rs: isize,
    pub cs: isize,
}

/// The problem sizes: `b` batches of an (m x k) @ (k x n) product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dims {
    pub b: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// The stride of a group of dims merged into one, if they are adjacent and in
/// order in the row-major layout (size-1 dims are ignored); `None` otherwise.
fn group_stride(shape: &[usize], st: &[usize], dims: &[usize]) -> Option<isize> {
    let ds: Vec<usize> = dims.iter().copied().filter(|&d| shape[d] != 1).collect();
    for w in ds.windows(2) {
        if st[w[0]] != st[w[1]] * shape[w[1]] {
            return None;
        }
    }
    Some(ds.last().map_or(0, |&d| st[d] as isize))
}

/// How one operand is read: its three group dim lists (batch, rows, cols).
struct Operand {
    shape: Vec<usize>,
    groups: [Vec<usize>; 3],
}

impl Operand {
    /// The in-place view, if the layout allows one.
    fn view(&self) -> Option<MatView> {
        let st = strides(&self.shape);
        Some(MatView {
            bs: group_stride(&self.shape, &st, &self.groups[0])?,
            rs: group_stride(&self.shape, &st, &self.groups[1])?,
            cs: group_stride(&self.shape, &st, &self.groups[2])?,
        })
    }

    fn sizes(&self) -> [usize; 3] {
        let s = |g: &[usize]| g.iter().map(|&d| self.shape[d]).product::<usize>();
        [s(&self.groups[0]), s(&self.groups[1]), s(&self.groups[2])]
    }

    /// The operand permuted to a contiguous (B, rows, cols) copy.
    fn contiguous<T: Element>(&self, src: &[T]) -> Vec<T> {
        let st = strides(&self.shape);
        let perm: Vec<usize> = self.groups.iter().flatten().copied().collect();
        let shape: Vec<usize> = perm.iter().map(|&d| self.shape[d]).collect();
        let pst: Vec<isize> = perm.iter().map(|&d| st[d] as isize).collect();
        let mut out = vec![T::default(); numel(&shape)];
        permute_copy(src, &shape, &pst, &mut out);
        out
    }
}

/// Fill the row-major `out` (over `shape`) from `src` read with strides `st`.
/// Parallel over whole rows of the last dim. (Not `exec::strided::strided_copy`:
/// its parallel split can fall inside a row, see the branch notes.)
fn permute_copy<T: Element>(src: &[T], shape: &[usize], st: &[isize], out: &mut [T]) {
    let nd = shape.len();
    let inner = shape.last().copied().unwrap_or(1);
    if out.is_empty() || inner == 0 {
        return;
    }
    let is = st.last().copied().unwrap_or(0);
    let body = |r0: usize, chunk: &mut [T]| {
        for (ri, orow) in chunk.chunks_mut(inner).enumerate() {
            let mut rem = r0 + ri;
            let mut base = 0isize;
            for d in (0..nd.saturating_sub(1)).rev() {
                base += (rem % shape[d]) as isize * st[d];
                rem /= shape[d];
            }
            for (j, o) in orow.iter_mut().enumerate() {
                *o = src[(base + j as isize * is) as usize];
            }
        }
    };
    if out.len() <= GRAIN || num_threads() <= 1 {
        body(0, out);
    } else {
        let rows_per = (GRAIN / inner).max(1);
        split_chunks_mut(out, rows_per * inner, |t, c| body(t * rows_per, c));
    }
}

/// An operand's data, borrowed in place or permuted into a new vector.
pub enum Data<'a, T> {
    Borrowed(&'a [T]),
    Owned(Vec<T>),
}

impl<T> Data<'_, T> {
    pub fn get(&self) -> &[T] {
        match self {
            Data::Borrowed(s) => s,
            Data::Owned(v) => v,
        }
    }
}

/// Read an operand in place when its layout allows, else permute a copy.
/// `need_unit_cs` forces a copy unless columns are contiguous (for kernels
/// that want unit-stride rows).
fn prepare<'a, T: Element>(
    op: &Operand,
    src: &'a [T],
    need_unit_cs: bool,
) -> (Data<'a, T>, MatView) {
    let [_, r, c] = op.sizes();
    if let Some(v) = op.view() {
        if !need_unit_cs || v.cs == 1 || c <= 1 {
            return (Data::Borrowed(src), v);
        }
    }
    let v = MatView {
        bs: (r * c) as isize,
        rs: c as isize,
        cs: 1,
    };
    (Data::Owned(op.contiguous(src)), v)
}

/// Highest element offset a view reaches, for the bounds check before the
/// unsafe GEMM call.
pub fn max_offset(v: MatView, b: usize, r: usize, c: usize) -> isize {
    let last = |n: usize, s: isize| (n.saturating_sub(1) as isize) * s.max(0);
    last(b, v.bs) + last(r, v.rs) + last(c, v.cs)
}

/// The validated plan of one dot_general instruction.
struct Plan {
    lhs: Operand,
    rhs: Operand,
    dims: Dims,
    out_shape: Vec<usize>,
}

fn parse_pair(spec: &OpSpec, v: &crate::base::params::Param) -> Result<(Vec<usize>, Vec<usize>)> {
    use crate::base::params::Param;
    let bad = || shape_err(spec.name(), "bad dimension_numbers".to_string());
    let ints = |p: &Param| -> Result<Vec<usize>> {
        match p {
            Param::List(v) => v
                .iter()
                .map(|q| match q {
                    Param::Int(i) if *i >= 0 => Ok(*i as usize),
                    _ => Err(bad()),
                })
                .collect(),
            _ => Err(bad()),
        }
    };
    match v {
        Param::List(p) if p.len() == 2 => Ok((ints(&p[0])?, ints(&p[1])?)),
        _ => Err(bad()),
    }
}

fn plan(spec: &OpSpec) -> Result<Plan> {
    spec.arity(2, 1)?;
    let op = spec.name();
    let dn = spec.params.list("dimension_numbers")?;
    crate::ensure!(dn.len() == 2, "{}: dimension_numbers needs 2 entries", op);
    let (lc, rc) = parse_pair(spec, &dn[0])?;
    let (lb, rb) = parse_pair(spec, &dn[1])?;
    let (ls, rs) = (&spec.ins[0].shape, &spec.ins[1].shape);
    let check = |shape: &[usize], c: &[usize], b: &[usize]| -> Result<Vec<usize>> {
        let mut seen = vec![false; shape.len()];
        for &d in c.iter().chain(b) {
            if d >= shape.len() || seen[d] {
                return Err(shape_err(
                    op,
                    format!("bad dimension numbers for {:?}", shape),
                ));
            }
            seen[d] = true;
        }
        Ok((0..shape.len()).filter(|&d| !seen[d]).collect())
    };
    let lf = check(ls, &lc, &lb)?;
    let rf = check(rs, &rc, &rb)?;
    crate::ensure!(
        lc.len() == rc.len() && lb.len() == rb.len(),
        "{}: mismatched dimension numbers",
        op
    );
    for (&a, &b) in lc.iter().zip(&rc).chain(lb.iter().zip(&rb)) {
        if ls[a] != rs[b] {
            return Err(shape_err(
                op,
                format!("dimension {} of {:?} != dimension {} of {:?}", a, ls, b, rs),
            ));
        }
    }
    let out_shape: Vec<usize> = lb
        .iter()
        .map(|&d| ls[d])
        .chain(lf.iter().map(|&d| ls[d]))
        .chain(rf.iter().map(|&d| rs[d]))
        .collect();
    crate::ensure!(
        out_shape == spec.outs[0].shape,
        "{}: output shape {:?} != expected {:?}",
        op,
        spec.outs[0].shape,
        out_shape
    );
    spec.same_dtypes()?;
    let lhs = Operand {
        shape: ls.clone(),
        groups: [lb, lf, lc],
    };
    let rhs = Operand {
        shape: rs.clone(),
        groups: [rb, rc, rf],
    };
    let [b, m, k] = lhs.sizes();
    let n = rhs.sizes()[2];
    Ok(Plan {
        lhs,
        rhs,
        dims: Dims { b, m, k, n },
        out_shape,
    })
}

/// Run the plan for element type `T` with a product kernel `mm`:
/// `mm(dims, lhs, lhs_view, rhs, rhs_view, out)` writes the row-major
/// (B, M, N) output.
fn run<T: Element>(
    p: &Plan,
    ins: &[&Buffer],
    unit_cs: bool,
    mm: impl Fn(Dims, &[T], MatView, &[T], MatView, &mut [T]) -> Result<()>,
) -> Result<Buffer> {
    let (l, r) = (ins[0].slice::<T>()?, ins[1].slice::<T>()?);
    let d = p.dims;
    Buffer::try_build::<T>(p.out_shape.clone(), |out| {
        if out.is_empty() {
            return Ok(());
        }
        if d.k == 0 {
            out.iter_mut().for_each(|o| *o = T::default());
            return Ok(());
        }
        let (ld, lv) = prepare(&p.lhs, l, false);
        let (rd, rv) = prepare(&p.rhs, r, unit_cs);
        let (ls, rs) = (ld.get(), rd.get());
        crate::ensure!(
            (max_offset(lv, d.b, d.m, d.k) as usize) < ls.len()
                && (max_offset(rv, d.b, d.k, d.n) as usize) < rs.len(),
            "dot_general: internal view out of bounds"
        );
        mm(d, ls, lv, rs, rv, out)
    })
}

pub fn build_dot_general(spec: &OpSpec) -> Result<Kernel> {
    let p = plan(spec)?;
    let dt = spec.outs[0].dtype;
    match dt {
        DType::F32 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![run::<f32>(&p, ins, false, gemm_float::gemm_native)?])
        })),
        DType::F64 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![run::<f64>(&p, ins, false, gemm_float::gemm_native)?])
        })),
        DType::F16 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![run::<half::f16>(
                &p,
                ins,
                false,
                gemm_float::gemm_via_f32,
            )?])
        })),
        DType::BF16 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![run::<half::bf16>(
                &p,
                ins,
                false,
                gemm_float::gemm_via_f32,
            )?])
        })),
        DType::C64 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![run::<crate::base::dtype::C64>(
                &p,
                ins,
                false,
                gemm_complex::gemm_complex,
            )?])
        })),
        DType::C128 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![run::<crate::base::dtype::C128>(
                &p,
                ins,
                false,
                gemm_complex::gemm_complex,
            )?])
        })),
        _ => crate::dispatch_dtype!(dt, "dot_general", T => {
            Ok(Box::new(move |ins: &[&Buffer]| {
                Ok(vec![run::<T>(&p, ins, true, gemm_loop::gemm_generic::<T>)?])
            }) as Kernel)
        }, intbool),
    }
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::dtype::{DType, Element};
    use crate::base::params::{Param, Params};
    use crate::ops::{build, Aval, OpSpec};

    fn l(v: &[i64]) -> Param {
        Param::List(v.iter().map(|&i| Param::Int(i)).collect())
    }

    fn dot<T: Element>(
        a: (&[usize], Vec<T>),
        b: (&[usize], Vec<T>),
        dn: [&[i64]; 4],
        out: &[usize],
    ) -> Vec<T> {
        let p = Params::new("dot_general").with(
            "dimension_numbers",
            Param::List(vec![
                Param::List(vec![l(dn[0]), l(dn[1])]),
                Param::List(vec![l(dn[2]), l(dn[3])]),
            ]),
        );
        let ins = [
            Aval::new(T::DTYPE, a.0.to_vec()),
            Aval::new(T::DTYPE, b.0.to_vec()),
        ];
        let outs = [Aval::new(T::DTYPE, out.to_vec())];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        let x = Buffer::from_vec(a.0.to_vec(), &a.1).unwrap();
        let y = Buffer::from_vec(b.0.to_vec(), &b.1).unwrap();
        k(&[&x, &y]).unwrap()[0].slice::<T>().unwrap().to_vec()
    }

    /// Naive reference for (m,k)@(k,n) over f64.
    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut o = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                o[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        o
    }

    #[test]
    fn matmul_f32_and_transposed() {
        let a: Vec<f32> = (0..6).map(|i| i as f32).collect(); // 2x3
        let b: Vec<f32> = (0..12).map(|i| i as f32).collect(); // 3x4
        let o = dot(
            (&[2, 3], a.clone()),
            (&[3, 4], b.clone()),
            [&[1], &[0], &[], &[]],
            &[2, 4],
        );
        let e = naive(
            &a.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            &b.iter().map(|&x| x as f64).collect::<Vec<_>>(),
            2,
            3,
            4,
        );
        assert_eq!(o.iter().map(|&x| x as f64).collect::<Vec<_>>(), e);
        // a^T (3x2) contracted on dim 0 with itself: a^T a is 3x3
        let o2 = dot(
            (&[2, 3], a.clone()),
            (&[2, 3], a.clone()),
            [&[0], &[0], &[], &[]],
            &[3, 3],
        );
        assert_eq!(o2[0], 0.0 * 0.0 + 3.0 * 3.0);
        assert_eq!(o2[5], 1.0 * 2.0 + 4.0 * 5.0);
    }

    #[test]
    fn int_bool_and_batch() {
        let a: Vec<i32> = (0..12).collect(); // 2x2x3
        let b: Vec<i32> = (0..12).rev().collect(); // 2x3x2
        let o = dot(
            (&[2, 2, 3], a),
            (&[2, 3, 2], b),
            [&[2], &[1], &[0], &[0]],
            &[2, 2, 2],
        );
        // batch 0: [[0,1,2],[3,4,5]] @ [[11,10],[9,8],[7,6]]
        assert_eq!(&o[..4], &[23, 20, 104, 92]);
        let t = vec![true, false, false, true];
        let f = vec![false, false, true, false];
        let o = dot((&[2, 2], t), (&[2, 2], f), [&[1], &[0], &[], &[]], &[2, 2]);
        assert_eq!(o, vec![false, false, true, false]);
        let w = dot(
            (&[2], vec![200u8, 100]),
            (&[2], vec![2u8, 3]),
            [&[0], &[0], &[], &[]],
            &[],
        );
        assert_eq!(w, vec![(400u32 + 300) as u8]);
    }

    #[test]
    fn large_parallel_f64_and_f16() {
        let (m, k, n) = (130, 70, 90);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
        let o = dot(
            (&[m, k], a.clone()),
            (&[k, n], b.clone()),
            [&[1], &[0], &[], &[]],
            &[m, n],
        );
        assert_eq!(o, naive(&a, &b, m, k, n));
        let ah: Vec<half::f16> = a.iter().map(|&x| half::f16::from_f64(x / 8.0)).collect();
        let bh: Vec<half::f16> = b.iter().map(|&x| half::f16::from_f64(x / 8.0)).collect();
        let oh = dot(
            (&[m, k], ah),
            (&[k, n], bh),
            [&[1], &[0], &[], &[]],
            &[m, n],
        );
        for (x, e) in oh.iter().zip(naive(&a, &b, m, k, n)) {
            assert!((x.to_f64() - e / 64.0).abs() <= 1e-2 * (1.0 + (e / 64.0).abs()));
        }
    }

    #[test]
    fn permuted_copy_large_rows() {
        // Free dims (0, 2) are split by the batch dim: the lhs is copied, in
        // parallel row blocks whose size does not divide the element count.
        let (a_, b_, c_, k_) = (71usize, 2usize, 3usize, 333usize);
        let a: Vec<i32> = (0..a_ * b_ * c_ * k_).map(|i| (i % 7) as i32 - 3).collect();
        let b: Vec<i32> = (0..b_ * k_).map(|i| (i % 5) as i32 - 2).collect();
        let o = dot(
            (&[a_, b_, c_, k_], a.clone()),
            (&[b_, k_], b.clone()),
            [&[3], &[1], &[1], &[0]],
            &[b_, a_, c_],
        );
        for bi in 0..b_ {
            for m in 0..a_ {
                for c in 0..c_ {
                    let e: i32 = (0..k_)
                        .map(|p| a[((m * b_ + bi) * c_ + c) * k_ + p] * b[bi * k_ + p])
                        .sum();
                    assert_eq!(o[(bi * a_ + m) * c_ + c], e);
                }
            }
        }
    }

    #[test]
    fn empty_contraction_gives_zeros() {
        let o = dot(
            (&[2, 0], Vec::<f32>::new()),
            (&[0, 3], vec![]),
            [&[1], &[0], &[], &[]],
            &[2, 3],
        );
        assert_eq!(o, vec![0.0; 6]);
        let _ = DType::F32;
    }
}
