//! conv_general_dilated: XLA's convolution, by im2col into the GEMM.
//!
//! Dimension numbers arrive as three specs, each listing dims in the order
//! (batch, feature, spatial...) for lhs and out, and (out feature, in feature,
//! spatial...) for rhs. For each group `g` (feature or batch group) the
//! kernel is packed once into a contiguous (K, O/groups) matrix with
//! K = (kernel spatial positions) x (input features per group). Output rows
//! (batch x output positions) are processed in blocks: each block's patches
//! are gathered (im2col, in parallel over rows) into a (rows, K) matrix and
//! multiplied by the packed kernel with the float GEMM of `dot`
//! (f16/bf16 accumulate in f32; integers use the wrapping row kernel). When
//! there is one group and the output layout is (N, spatial..., C), as for
//! NHWC, the GEMM writes straight into the output; otherwise the result is
//! permuted into the output layout at the end.
//!
//! A position in padding or in an lhs-dilation hole reads as zero. Python has
//! checked every shape; the builder re-derives the output shape and compares.
use super::dot::gemm_float::{gemm_native, gemm_via_f32};
use super::dot::gemm_loop::gemm_generic;
use super::dot::{Dims, MatView};
use super::window::{axis_table, par_outputs};
use super::{Kernel, OpSpec};
use crate::base::buffer::{numel, strides, Buffer, RawBuf};
use crate::base::dtype::{DType, Element};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::par_fill_rows;
use crate::loops::strided::strided_copy;

/// Scratch memory for `n` elements from the buffer pool (fresh pages cost
/// more than the work on them); every caller writes all of it before reading.
fn scratch<T: Element>(n: usize) -> RawBuf {
    RawBuf::alloc_array(T::DTYPE, &[n])
}

/// Elements of the im2col block gathered before each GEMM call.
const BLOCK: usize = 1 << 21;

/// The validated geometry of one convolution.
#[derive(Clone)]
struct Plan {
    lhs_st: Vec<usize>,
    rhs_st: Vec<usize>,
    lhs_spec: Vec<usize>,
    rhs_spec: Vec<usize>,
    out_spec: Vec<usize>,
    out_shape: Vec<usize>,
    /// Per spatial dim: for each (output coord, kernel offset), the lhs coord
    /// or -1 (padding or a dilation hole).
    table: Vec<Vec<i64>>,
    ksp: Vec<usize>,
    osp: Vec<usize>,
    n_out: usize,
    /// Input features per group (the rhs in-feature size).
    cin: usize,
    /// Output features per group.
    og: usize,
    groups: usize,
    feature_groups: bool,
    /// K = prod(ksp) * cin.
    k: usize,
    /// Output positions per batch element.
    npos: usize,
}

fn plan(spec: &OpSpec) -> Result<Plan> {
    spec.arity(2, 1)?;
    let op = spec.name();
    let p = spec.params;
    let (ls, rs) = (&spec.ins[0].shape, &spec.ins[1].shape);
    let nd = ls.len();
    let bad = |m: &str| shape_err(op, m.to_string());
    if nd < 2 || rs.len() != nd {
        return Err(bad("lhs and rhs need the same rank >= 2"));
    }
    let nsp = nd - 2;
    let lhs_spec = p.usizes("lhs_spec")?;
    let rhs_spec = p.usizes("rhs_spec")?;
    let out_spec = p.usizes("out_spec")?;
    let is_perm = |s: &[usize]| {
        let mut v = s.to_vec();
        v.sort_unstable();
        v == (0..nd).collect::<Vec<_>>()
    };
    if !(is_perm(&lhs_spec) && is_perm(&rhs_spec) && is_perm(&out_spec)) {
        return Err(bad("dimension numbers are not permutations"));
    }
    let strd = p.usizes("window_strides")?;
    let pads = p.int_lists("padding")?;
    let ldil = p.usizes("lhs_dilation")?;
    let rdil = p.usizes("rhs_dilation")?;
    let fgc = p.usize("feature_group_count")?;
    let bgc = p.usize("batch_group_count")?;
    let ok = [strd.len(), pads.len(), ldil.len(), rdil.len()]
        .iter()
        .all(|&l| l == nsp)
        && pads.iter().all(|q| q.len() == 2)
        && strd.iter().chain(&ldil).chain(&rdil).all(|&s| s >= 1)
        && fgc >= 1
        && bgc >= 1
        && (fgc == 1 || bgc == 1);
    if !ok {
        return Err(bad("inconsistent convolution parameters"));
    }
    let (n_in, c_in) = (ls[lhs_spec[0]], ls[lhs_spec[1]]);
    let (o_all, cin) = (rs[rhs_spec[0]], rs[rhs_spec[1]]);
    let groups = fgc * bgc;
    if c_in != cin * fgc || o_all % groups != 0 || n_in % bgc != 0 {
        return Err(bad("feature or batch group sizes do not match"));
    }
    let ksp: Vec<usize> = (0..nsp).map(|j| rs[rhs_spec[2 + j]]).collect();
    let mut osp = Vec::with_capacity(nsp);
    let mut table = Vec::with_capacity(nsp);
    for j in 0..nsp {
        let (n, t) = axis_table(
            ls[lhs_spec[2 + j]],
            ksp[j],
            strd[j],
            ldil[j],
            rdil[j],
            &pads[j],
        );
        osp.push(n);
        table.push(t);
    }
    let n_out = n_in / bgc;
    let mut out_shape = vec![0usize; nd];
    out_shape[out_spec[0]] = n_out;
    out_shape[out_spec[1]] = o_all;
    for j in 0..nsp {
        out_shape[out_spec[2 + j]] = osp[j];
    }
    if out_shape != spec.outs[0].shape {
        return Err(shape_err(
            op,
            format!(
                "output shape {:?} != expected {:?}",
                spec.outs[0].shape, out_shape
            ),
        ));
    }
    spec.same_dtypes()?;
    let k = ksp.iter().product::<usize>() * cin;
    let npos = osp.iter().product();
    Ok(Plan {
        lhs_st: strides(ls),
        rhs_st: strides(rs),
        lhs_spec,
        rhs_spec,
        out_spec,
        out_shape,
        table,
        ksp,
        osp,
        n_out,
        cin,
        og: o_all / groups,
        groups,
        feature_groups: fgc > 1,
        k,
        npos,
    })
}

impl Plan {
    /// One output row per (batch, output position); direct when the GEMM
    /// output is the output itself.
    fn direct(&self) -> bool {
        let nd = self.out_spec.len();
        self.groups == 1
            && self.out_spec[0] == 0
            && self.out_spec[1] == nd - 1
            && (0..nd - 2).all(|j| self.out_spec[2 + j] == 1 + j)
    }

    /// The kernel of group `g` as a contiguous (K, og) matrix, K ordered
    /// (kernel position, in feature).
    fn pack_rhs<T: Element>(&self, r: &[T], g: usize) -> RawBuf {
        let (k, og, cin) = (self.k, self.og, self.cin);
        let mut raw = scratch::<T>(k * og);
        let w = raw.as_mut_slice::<T>();
        let nsp = self.ksp.len();
        let mut kidx = vec![0usize; nsp];
        for kp in 0..k / cin.max(1) {
            let mut rem = kp;
            for j in (0..nsp).rev() {
                kidx[j] = rem % self.ksp[j];
                rem /= self.ksp[j];
            }
            let base: usize = (0..nsp)
                .map(|j| kidx[j] * self.rhs_st[self.rhs_spec[2 + j]])
                .sum();
            for i in 0..cin {
                for o in 0..og {
                    let off = base
                        + i * self.rhs_st[self.rhs_spec[1]]
                        + (g * og + o) * self.rhs_st[self.rhs_spec[0]];
                    w[(kp * cin + i) * og + o] = r[off];
                }
            }
        }
        raw
    }

    /// Gather rows `row0..` of group `g`'s patch matrix into `a` (whole rows
    /// of K elements).
    fn im2col<T: Element>(&self, l: &[T], g: usize, row0: usize, a: &mut [T]) {
        let nsp = self.ksp.len();
        let (cin, k) = (self.cin, self.k);
        let st_n = self.lhs_st[self.lhs_spec[0]];
        let st_c = self.lhs_st[self.lhs_spec[1]];
        let c0 = if self.feature_groups { g * cin } else { 0 };
        let nb0 = if self.feature_groups {
            0
        } else {
            g * self.n_out
        };
        let mut oidx = vec![0usize; nsp];
        let mut kidx = vec![0usize; nsp];
        for (ri, arow) in a.chunks_mut(k).enumerate() {
            let row = row0 + ri;
            let (n, mut pos) = (row / self.npos.max(1), row % self.npos.max(1));
            for j in (0..nsp).rev() {
                oidx[j] = pos % self.osp[j];
                pos /= self.osp[j];
            }
            let nbase = (nb0 + n) * st_n + c0 * st_c;
            kidx.iter_mut().for_each(|x| *x = 0);
            for seg in arow.chunks_mut(cin.max(1)) {
                let mut off = nbase;
                let mut valid = true;
                for j in 0..nsp {
                    let c = self.table[j][oidx[j] * self.ksp[j] + kidx[j]];
                    if c < 0 {
                        valid = false;
                        break;
                    }
                    off += c as usize * self.lhs_st[self.lhs_spec[2 + j]];
                }
                if !valid {
                    seg.iter_mut().for_each(|x| *x = T::default());
                } else if st_c == 1 {
                    seg.copy_from_slice(&l[off..off + seg.len()]);
                } else {
                    for (i, x) in seg.iter_mut().enumerate() {
                        *x = l[off + i * st_c];
                    }
                }
                for j in (0..nsp).rev() {
                    kidx[j] += 1;
                    if kidx[j] < self.ksp[j] {
                        break;
                    }
                    kidx[j] = 0;
                }
            }
        }
    }

    /// All rows of group `g` into the row-major (rows, og) `out`.
    fn group<T: Element>(
        &self,
        l: &[T],
        w: &[T],
        g: usize,
        out: &mut [T],
        mm: &(impl Fn(Dims, &[T], MatView, &[T], MatView, &mut [T]) -> Result<()> + Sync),
    ) -> Result<()> {
        let (k, og) = (self.k, self.og);
        let rows = out.len() / og.max(1);
        if rows == 0 || og == 0 {
            return Ok(());
        }
        if k == 0 {
            out.iter_mut().for_each(|x| *x = T::default());
            return Ok(());
        }
        // At least 128 rows per GEMM call when K is long (the rhs gradient has
        // K = batch x image), so the GEMM gets a useful M.
        let block_rows = (BLOCK / k).max(128).clamp(1, rows);
        let mut a_raw = scratch::<T>(block_rows * k);
        let a = a_raw.as_mut_slice::<T>();
        for (bi, oblk) in out.chunks_mut(block_rows * og).enumerate() {
            let r0 = bi * block_rows;
            let nr = oblk.len() / og;
            let ablk = &mut a[..nr * k];
            par_fill_rows(ablk, k, |first, chunk| self.im2col(l, g, r0 + first, chunk));
            let d = Dims {
                b: 1,
                m: nr,
                k,
                n: og,
            };
            let av = MatView {
                bs: 0,
                rs: k as isize,
                cs: 1,
            };
            let wv = MatView {
                bs: 0,
                rs: og as isize,
                cs: 1,
            };
            mm(d, ablk, av, w, wv, oblk)?;
        }
        Ok(())
    }

    fn run<T: Element>(
        &self,
        ins: &[&Buffer],
        mm: impl Fn(Dims, &[T], MatView, &[T], MatView, &mut [T]) -> Result<()> + Sync,
    ) -> Result<Buffer> {
        let (l, r) = (ins[0].slice::<T>()?, ins[1].slice::<T>()?);
        // A feature dim that is not innermost makes every im2col segment a
        // strided gather (the rhs gradient's conv reads the batch as its
        // features): copy the lhs once into (batch, spatial..., feature)
        // order, so the segments are contiguous copies.
        if self.lhs_st[self.lhs_spec[1]] != 1 && self.cin > 1 && !l.is_empty() {
            let nd = self.lhs_spec.len();
            let order: Vec<usize> = std::iter::once(self.lhs_spec[0])
                .chain(self.lhs_spec[2..].iter().copied())
                .chain(std::iter::once(self.lhs_spec[1]))
                .collect();
            let shape: Vec<usize> = order.iter().map(|&d| ins[0].shape[d]).collect();
            let st: Vec<isize> = order.iter().map(|&d| self.lhs_st[d] as isize).collect();
            let mut l2 = scratch::<T>(l.len());
            strided_copy(l, 0, &shape, &st, l2.as_mut_slice::<T>());
            let mut p = self.clone();
            p.lhs_spec = std::iter::once(0)
                .chain(std::iter::once(nd - 1))
                .chain(1..nd - 1)
                .collect();
            p.lhs_st = strides(&shape);
            return p.execute(l2.as_slice::<T>(), r, mm);
        }
        self.execute(l, r, mm)
    }

    fn execute<T: Element>(
        &self,
        l: &[T],
        r: &[T],
        mm: impl Fn(Dims, &[T], MatView, &[T], MatView, &mut [T]) -> Result<()> + Sync,
    ) -> Result<Buffer> {
        let rows = self.n_out * self.npos;
        let per_group = rows * self.og;
        Buffer::try_build::<T>(self.out_shape.clone(), |out| {
            if out.is_empty() {
                return Ok(());
            }
            if self.direct() {
                let w = self.pack_rhs(r, 0);
                return self.group(l, w.as_slice::<T>(), 0, out, &mm);
            }
            let mut tmp_raw = scratch::<T>(self.groups * per_group);
            let tmp = tmp_raw.as_mut_slice::<T>();
            for g in 0..self.groups {
                let w = self.pack_rhs(r, g);
                self.group(
                    l,
                    w.as_slice::<T>(),
                    g,
                    &mut tmp[g * per_group..(g + 1) * per_group],
                    &mm,
                )?;
            }
            // tmp is (group, n, position, o'); write it in the output layout.
            let nd = self.out_shape.len();
            par_outputs(&self.out_shape, 1, out, |idx| {
                let n = idx[self.out_spec[0]];
                let c = idx[self.out_spec[1]];
                let mut pos = 0;
                for j in 0..nd - 2 {
                    pos = pos * self.osp[j] + idx[self.out_spec[2 + j]];
                }
                let (g, oo) = (c / self.og, c % self.og);
                tmp[g * per_group + (n * self.npos + pos) * self.og + oo]
            });
            Ok(())
        })
    }
}

pub fn build_conv(spec: &OpSpec) -> Result<Kernel> {
    let p = plan(spec)?;
    let dt = spec.outs[0].dtype;
    debug_assert_eq!(numel(&p.out_shape), spec.outs[0].numel());
    match dt {
        DType::F32 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![p.run::<f32>(ins, gemm_native::<f32>)?])
        })),
        DType::F64 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![p.run::<f64>(ins, gemm_native::<f64>)?])
        })),
        DType::F16 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![p.run::<half::f16>(ins, gemm_via_f32::<half::f16>)?])
        })),
        DType::BF16 => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![p.run::<half::bf16>(ins, gemm_via_f32::<half::bf16>)?])
        })),
        _ => crate::dispatch_dtype!(dt, "conv_general_dilated", T => {
            Ok(Box::new(move |ins: &[&Buffer]| {
                Ok(vec![p.run::<T>(ins, gemm_generic::<T>)?])
            }) as Kernel)
        }, int),
    }
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::params::{Param, Params};
    use crate::ops::testing::{ints, run_op};

    fn conv(specs: [&[i64]; 3], strides: &[i64], pads: &[[i64; 2]], fgc: i64) -> Params {
        let n = strides.len();
        Params::new("conv_general_dilated")
            .with("lhs_spec", ints(specs[0]))
            .with("rhs_spec", ints(specs[1]))
            .with("out_spec", ints(specs[2]))
            .with("window_strides", ints(strides))
            .with(
                "padding",
                Param::List(pads.iter().map(|p| ints(p)).collect()),
            )
            .with("lhs_dilation", ints(&vec![1; n]))
            .with("rhs_dilation", ints(&vec![1; n]))
            .with("feature_group_count", Param::Int(fgc))
            .with("batch_group_count", Param::Int(1))
    }

    #[test]
    fn conv_1d_nwc_same_padding() {
        // x: N=1, W=4, C=1; k: W=3, I=1, O=1 = [1, 2, 3]
        let x = Buffer::from_vec(vec![1, 4, 1], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let k = Buffer::from_vec(vec![3, 1, 1], &[1.0f32, 2.0, 3.0]).unwrap();
        let p = conv([&[0, 2, 1], &[2, 1, 0], &[0, 2, 1]], &[1], &[[1, 1]], 1);
        let o: Vec<f32> = run_op(p, &[x, k], vec![1, 4, 1]);
        // out[i] = x[i-1] + 2 x[i] + 3 x[i+1]
        assert_eq!(o, vec![8.0, 14.0, 20.0, 11.0]);
    }

    #[test]
    fn grouped_nchw_int() {
        // N=1, C=2, W=2 ; two groups, O=2, I=1, W=1: out[c] = x[c] * k[c]
        let x = Buffer::from_vec(vec![1, 2, 2], &[1i32, 2, 3, 4]).unwrap();
        let k = Buffer::from_vec(vec![2, 1, 1], &[10i32, 100]).unwrap();
        let p = conv([&[0, 1, 2], &[0, 1, 2], &[0, 1, 2]], &[1], &[[0, 0]], 2);
        let o: Vec<i32> = run_op(p, &[x, k], vec![1, 2, 2]);
        assert_eq!(o, vec![10, 20, 300, 400]);
    }
}
