//! Indexed reads and writes: dynamic_slice, dynamic_update_slice, gather and
//! the scatter family, with XLA's general dimension numbers. The index vector
//! is always the last dimension of the indices (as JAX builds them).
use super::scalar::Num;
use super::{InPlace, Kernel, OpSpec};
use crate::base::buffer::{note_copied, numel, Buffer, RawBuf};
use crate::base::dtype::{DType, Element};
use crate::base::error::{shape_err, Result};
use crate::loops::strided::{istrides, par_rows, strided_buffer, Walk};

/// Exact conversion of an index to i64 (u64 beyond i64::MAX saturates: it is
/// out of bounds either way).
trait ToI64: Element {
    fn to_i64(self) -> i64;
}
macro_rules! impl_to_i64 {
    ($($t:ty),*) => {$( impl ToI64 for $t {
        #[inline(always)]
        fn to_i64(self) -> i64 { i64::try_from(self).unwrap_or(i64::MAX) }
    } )*};
}
impl_to_i64!(i8, i16, i32, i64, u8, u16, u32, u64);

/// Integer index values of any int dtype, as i64.
fn read_indices(op: &str, b: &Buffer) -> Result<Vec<i64>> {
    crate::dispatch_dtype!(b.dtype, op, T => {
        Ok(b.slice::<T>()?.iter().map(|&v| v.to_i64()).collect())
    }, int)
}

fn clamp_start(s: i64, dim: usize, size: usize) -> i64 {
    s.clamp(0, dim.saturating_sub(size) as i64)
}

/// Start indices of a dynamic_slice/dynamic_update_slice, clamped as XLA does.
fn dyn_starts(op: &str, idx: &[&Buffer], shape: &[usize], sizes: &[usize]) -> Result<isize> {
    let st = istrides(shape);
    let mut off = 0isize;
    for (d, b) in idx.iter().enumerate() {
        let v = *read_indices(op, b)?
            .first()
            .ok_or_else(|| shape_err(op, "empty index"))?;
        off += clamp_start(v, shape[d], sizes[d]) as isize * st[d];
    }
    Ok(off)
}

pub fn build_dynamic_slice(spec: &OpSpec) -> Result<Kernel> {
    let shape = spec.ins[0].shape.clone();
    let sizes = spec.params.usizes("slice_sizes")?;
    crate::ensure!(
        spec.ins.len() == shape.len() + 1 && spec.outs.len() == 1 && sizes.len() == shape.len(),
        shape_err("dynamic_slice", "one index per dimension")
    );
    for d in 0..shape.len() {
        crate::ensure!(
            sizes[d] <= shape[d],
            shape_err("dynamic_slice", "slice larger than operand")
        );
    }
    let st = istrides(&shape);
    crate::dispatch_dtype!(spec.ins[0].dtype, "dynamic_slice", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let off = if numel(&sizes) == 0 { 0 } else { dyn_starts("dynamic_slice", &ins[1..], &shape, &sizes)? };
            Ok(vec![strided_buffer::<T>(ins[0], off, &sizes, &st)?])
        }) as Kernel)
    }, all)
}

/// The operand's and the update's shapes, and the walk writing the update.
fn dus_plan(spec: &OpSpec) -> Result<(Vec<usize>, Vec<usize>, Walk)> {
    let shape = spec.ins[0].shape.clone();
    crate::ensure!(
        spec.ins.len() == shape.len() + 2 && spec.outs.len() == 1,
        shape_err("dynamic_update_slice", "one index per dimension")
    );
    let ushape = spec.ins[1].shape.clone();
    crate::ensure!(
        ushape.len() == shape.len() && ushape.iter().zip(&shape).all(|(u, s)| u <= s),
        shape_err("dynamic_update_slice", "update larger than operand")
    );
    let walk = Walk::new(&ushape, &istrides(&ushape), &istrides(&shape));
    Ok((shape, ushape, walk))
}

pub fn build_dynamic_update_slice(spec: &OpSpec) -> Result<Kernel> {
    let (shape, ushape, walk) = dus_plan(spec)?;
    crate::dispatch_dtype!(spec.ins[0].dtype, "dynamic_update_slice", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let (src, upd) = (ins[0].slice::<T>()?, ins[1].slice::<T>()?);
            let off = if walk.numel() == 0 { 0 } else { dyn_starts("dynamic_update_slice", &ins[2..], &shape, &ushape)? };
            note_copied(std::mem::size_of_val(src));
            Ok(vec![Buffer::build::<T>(shape.clone(), |out| {
                out.copy_from_slice(src);
                walk.assign(upd, 0, out, off);
            })])
        }) as Kernel)
    }, all)
}

/// `dynamic_update_slice` writing into its operand (`ops::InPlace`).
pub fn build_dynamic_update_slice_in_place(spec: &OpSpec) -> Result<InPlace> {
    let (shape, ushape, walk) = dus_plan(spec)?;
    crate::dispatch_dtype!(spec.ins[0].dtype, "dynamic_update_slice", T => {
        Ok(Box::new(move |out: &mut RawBuf, rest: &[&Buffer]| {
            let upd = rest[0].slice::<T>()?;
            let off = if walk.numel() == 0 { 0 } else { dyn_starts("dynamic_update_slice", &rest[1..], &shape, &ushape)? };
            walk.assign(upd, 0, out.as_mut_slice::<T>(), off);
            Ok(())
        }) as InPlace)
    }, all)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Clip,
    Fill,
}

fn mode(spec: &OpSpec) -> Result<Mode> {
    Ok(match spec.params.str("mode")? {
        "clip" => Mode::Clip,
        // XLA clamps gathers and skips out-of-bounds scatters when indices are
        // promised in bounds; we clamp gathers and drop scatters likewise.
        "promise_in_bounds" => {
            if spec.name() == "gather" {
                Mode::Clip
            } else {
                Mode::Fill
            }
        }
        "fill" => Mode::Fill,
        m => crate::bail!(shape_err(spec.name(), format!("unknown mode {m}"))),
    })
}

/// What gather and scatter share: where each index vector lands in the operand.
struct IndexMap {
    op_shape: Vec<usize>,
    op_strides: Vec<isize>,
    /// indices shape without the index vector dim
    batch_shape: Vec<usize>,
    k: usize,
    start_map: Vec<usize>,
    /// (operand dim, indices dim) batching pairs
    batching: Vec<(usize, usize)>,
    /// the window size in every operand dim (1 for collapsed/batching dims)
    window: Vec<usize>,
    mode: Mode,
}

impl IndexMap {
    fn n_points(&self) -> usize {
        numel(&self.batch_shape)
    }

    /// Operand offset of the window of point `p`, or None when out of bounds
    /// in fill/drop mode.
    fn offset(&self, idx: &[i64], p: usize) -> Option<isize> {
        let mut off = 0isize;
        let vec = &idx[p * self.k..p * self.k + self.k];
        for (&d, &v) in self.start_map.iter().zip(vec) {
            let hi = self.op_shape[d] as i64 - self.window[d] as i64;
            let s = match self.mode {
                Mode::Clip => v.clamp(0, Ord::max(hi, 0)),
                Mode::Fill => {
                    if v < 0 || v > hi {
                        return None;
                    }
                    v
                }
            };
            off += s as isize * self.op_strides[d];
        }
        if !self.batching.is_empty() {
            // coordinates of p in batch_shape
            let mut rem = p;
            let mut coord = vec![0usize; self.batch_shape.len()];
            for d in (0..self.batch_shape.len()).rev() {
                coord[d] = rem % self.batch_shape[d];
                rem /= self.batch_shape[d];
            }
            for &(od, id) in &self.batching {
                off += coord[id] as isize * self.op_strides[od];
            }
        }
        Some(off)
    }
}

fn index_map(
    spec: &OpSpec,
    operand: usize,
    indices: usize,
    start_map: &str,
    op_batch: &str,
    idx_batch: &str,
    window: Vec<usize>,
) -> Result<IndexMap> {
    let op = spec.name();
    let op_shape = spec.ins[operand].shape.clone();
    let ishape = &spec.ins[indices].shape;
    crate::ensure!(
        !ishape.is_empty(),
        shape_err(op, "indices need an index vector dimension")
    );
    let k = ishape[ishape.len() - 1];
    let batch_shape = ishape[..ishape.len() - 1].to_vec();
    let start_map = spec.params.usizes(start_map)?;
    let ob = spec.params.usizes(op_batch)?;
    let ib = spec.params.usizes(idx_batch)?;
    crate::ensure!(
        start_map.len() == k
            && start_map.iter().all(|&d| d < op_shape.len())
            && ob.len() == ib.len()
            && ob.iter().all(|&d| d < op_shape.len())
            && ib.iter().all(|&d| d < batch_shape.len())
            && window.len() == op_shape.len()
            && window.iter().zip(&op_shape).all(|(w, s)| w <= s),
        shape_err(op, "bad dimension numbers")
    );
    Ok(IndexMap {
        op_strides: istrides(&op_shape),
        op_shape,
        batch_shape,
        k,
        start_map,
        batching: ob.into_iter().zip(ib).collect(),
        window,
        mode: mode(spec)?,
    })
}

/// Position of each output dim in the canonical (batch dims, then window dims) layout.
fn canonical_perm(out_rank: usize, window_dims: &[usize]) -> Vec<usize> {
    let nb = out_rank - window_dims.len();
    let (mut b, mut perm) = (0, Vec::with_capacity(out_rank));
    for d in 0..out_rank {
        match window_dims.iter().position(|&w| w == d) {
            Some(i) => perm.push(nb + i),
            None => {
                perm.push(b);
                b += 1;
            }
        }
    }
    perm
}

struct GatherPlan {
    map: IndexMap,
    walk: Walk,
    wsize: usize,
    canon_shape: Vec<usize>,
    /// strides reading the canonical result into the output layout, if not identity
    perm_strides: Option<Vec<isize>>,
    out_shape: Vec<usize>,
    fill: f64,
}

fn gather_kernel<T: Element>(plan: &GatherPlan, ins: &[&Buffer]) -> Result<Buffer> {
    let src = ins[0].slice::<T>()?;
    let idx = read_indices("gather", ins[1])?;
    let m = &plan.map;
    let fv = T::from_f64(plan.fill);
    let canon = Buffer::build::<T>(plan.canon_shape.clone(), |out| {
        if plan.wsize == 0 || out.is_empty() {
            return;
        }
        par_rows(out, plan.wsize, |p0, chunk| {
            for (j, w) in chunk.chunks_mut(plan.wsize).enumerate() {
                match m.offset(&idx, p0 + j) {
                    Some(off) => plan.walk.assign(src, off, w, 0),
                    None => w.iter_mut().for_each(|o| *o = fv),
                }
            }
        })
    });
    match &plan.perm_strides {
        None => Ok(canon),
        Some(st) => strided_buffer::<T>(&canon, 0, &plan.out_shape, st),
    }
}

pub fn build_gather(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(2, 1)?;
    let p = spec.params;
    let sizes = p.usizes("slice_sizes")?;
    let offset_dims = p.usizes("offset_dims")?;
    let collapsed = p.usizes("collapsed_slice_dims")?;
    let ob = p.usizes("operand_batching_dims")?;
    let map = index_map(
        spec,
        0,
        1,
        "start_index_map",
        "operand_batching_dims",
        "start_indices_batching_dims",
        sizes.clone(),
    )?;
    let out_shape = spec.outs[0].shape.clone();
    let wdims: Vec<usize> = (0..sizes.len())
        .filter(|d| !collapsed.contains(d) && !ob.contains(d))
        .collect();
    let wshape: Vec<usize> = wdims.iter().map(|&d| sizes[d]).collect();
    crate::ensure!(
        wdims.len() == offset_dims.len()
            && offset_dims.iter().all(|&d| d < out_shape.len())
            && out_shape.len() == map.batch_shape.len() + wdims.len(),
        shape_err("gather", "offset_dims do not match the window")
    );
    let mut canon_shape = map.batch_shape.clone();
    canon_shape.extend(&wshape);
    let perm = canonical_perm(out_shape.len(), &offset_dims);
    let cst = istrides(&canon_shape);
    let perm_strides = if perm.iter().enumerate().all(|(i, &q)| i == q) {
        None
    } else {
        Some(perm.iter().map(|&q| cst[q]).collect())
    };
    for (d, &q) in perm.iter().enumerate() {
        crate::ensure!(
            canon_shape.get(q) == Some(&out_shape[d]),
            shape_err("gather", "output shape does not match dimension numbers")
        );
    }
    let wsrc: Vec<isize> = wdims.iter().map(|&d| map.op_strides[d]).collect();
    let walk = Walk::new(&wshape, &wsrc, &istrides(&wshape));
    let fill = if p.has("fill_value") {
        p.float("fill_value")?
    } else {
        0.0
    };
    let plan = GatherPlan {
        map,
        walk,
        wsize: numel(&wshape),
        canon_shape,
        perm_strides,
        out_shape,
        fill,
    };
    crate::dispatch_dtype!(spec.ins[0].dtype, "gather", T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![gather_kernel::<T>(&plan, ins)?])) as Kernel)
    }, all)
}

struct ScatterPlan {
    map: IndexMap,
    walk: Walk,
    wsize: usize,
    /// strides reading updates in canonical (scatter dims, window dims) order, if needed
    canon: Option<(Vec<usize>, Vec<isize>)>,
}

/// Apply `updates` at `indices` to `out` (which holds the operand) with `f`.
fn scatter_into<T: Element>(
    plan: &ScatterPlan,
    out: &mut [T],
    indices: &Buffer,
    updates: &Buffer,
    f: impl Fn(T, T) -> T,
) -> Result<()> {
    let idx = read_indices("scatter", indices)?;
    let permuted;
    let upd = match &plan.canon {
        None => updates.slice::<T>()?,
        Some((shape, st)) => {
            permuted = strided_buffer::<T>(updates, 0, shape, st)?;
            permuted.slice::<T>()?
        }
    };
    if plan.wsize == 0 {
        return Ok(());
    }
    let m = &plan.map;
    // Sequential: several points may write the same element.
    for p in 0..m.n_points() {
        if let Some(off) = m.offset(&idx, p) {
            plan.walk
                .apply(upd, (p * plan.wsize) as isize, out, off, &f);
        }
    }
    Ok(())
}

fn scatter_kernel<T: Element>(
    plan: &ScatterPlan,
    ins: &[&Buffer],
    f: impl Fn(T, T) -> T,
) -> Result<Buffer> {
    let src = ins[0].slice::<T>()?;
    note_copied(std::mem::size_of_val(src));
    let mut r = Ok(());
    let out = Buffer::build::<T>(ins[0].shape.clone(), |out| {
        out.copy_from_slice(src);
        r = scatter_into(plan, out, ins[1], ins[2], f);
    });
    r.map(|()| out)
}

/// A scatter's index map and update walk.
fn scatter_plan(spec: &OpSpec) -> Result<ScatterPlan> {
    spec.arity(3, 1)?;
    let p = spec.params;
    let uwd = p.usizes("update_window_dims")?;
    let inserted = p.usizes("inserted_window_dims")?;
    let ob = p.usizes("operand_batching_dims")?;
    let op_rank = spec.ins[0].shape.len();
    let ushape = spec.ins[2].shape.clone();
    let wdims: Vec<usize> = (0..op_rank)
        .filter(|d| !inserted.contains(d) && !ob.contains(d))
        .collect();
    crate::ensure!(
        wdims.len() == uwd.len() && uwd.iter().all(|&d| d < ushape.len()),
        shape_err(spec.name(), "update_window_dims do not match the operand")
    );
    let mut window = vec![1usize; op_rank];
    for (&od, &ud) in wdims.iter().zip(&uwd) {
        window[od] = ushape[ud];
    }
    let map = index_map(
        spec,
        0,
        1,
        "scatter_dims_to_operand_dims",
        "operand_batching_dims",
        "scatter_indices_batching_dims",
        window,
    )?;
    let perm = canonical_perm(ushape.len(), &uwd);
    // canonical dim q holds update dim inv[q]
    let mut inv = vec![0usize; perm.len()];
    for (d, &q) in perm.iter().enumerate() {
        inv[q] = d;
    }
    let canon_shape: Vec<usize> = inv.iter().map(|&d| ushape[d]).collect();
    crate::ensure!(
        canon_shape[..canon_shape.len() - uwd.len()] == map.batch_shape[..],
        shape_err(spec.name(), "updates shape does not match the indices")
    );
    let ust = istrides(&ushape);
    let canon = if inv.iter().enumerate().all(|(i, &d)| i == d) {
        None
    } else {
        Some((canon_shape.clone(), inv.iter().map(|&d| ust[d]).collect()))
    };
    let wshape: Vec<usize> = uwd.iter().map(|&d| ushape[d]).collect();
    let wdst: Vec<isize> = wdims.iter().map(|&d| map.op_strides[d]).collect();
    let walk = Walk::new(&wshape, &istrides(&wshape), &wdst);
    Ok(ScatterPlan {
        map,
        walk,
        wsize: numel(&wshape),
        canon,
    })
}

pub fn build_scatter(spec: &OpSpec) -> Result<Kernel> {
    let plan = scatter_plan(spec)?;
    let dt = spec.ins[0].dtype;
    match spec.name() {
        "scatter" => crate::dispatch_dtype!(dt, "scatter", T => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![scatter_kernel::<T>(&plan, ins, |_, u| u)?])) as Kernel)
        }, all),
        "scatter-add" => crate::dispatch_dtype!(dt, "scatter-add", T => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![scatter_kernel::<T>(&plan, ins, |a: T, u| a.add(u))?])) as Kernel)
        }, number),
        "scatter-mul" => crate::dispatch_dtype!(dt, "scatter-mul", T => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![scatter_kernel::<T>(&plan, ins, |a: T, u| a.mul(u))?])) as Kernel)
        }, number),
        // bools: max is or, min is and (as JAX scatters them)
        "scatter-min" if dt == DType::Bool => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![scatter_kernel::<bool>(&plan, ins, |a: bool, u| {
                a & u
            })?])
        }) as Kernel),
        "scatter-max" if dt == DType::Bool => Ok(Box::new(move |ins: &[&Buffer]| {
            Ok(vec![scatter_kernel::<bool>(&plan, ins, |a: bool, u| {
                a | u
            })?])
        }) as Kernel),
        "scatter-min" => crate::dispatch_dtype!(dt, "scatter-min", T => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![scatter_kernel::<T>(&plan, ins, |a: T, u| Num::min(a, u))?])) as Kernel)
        }, numeric),
        "scatter-max" => crate::dispatch_dtype!(dt, "scatter-max", T => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![scatter_kernel::<T>(&plan, ins, |a: T, u| Num::max(a, u))?])) as Kernel)
        }, numeric),
        other => crate::bail!("unknown scatter op {}", other),
    }
}

/// The scatters writing into their operand (`ops::InPlace`).
pub fn build_scatter_in_place(spec: &OpSpec) -> Result<InPlace> {
    let plan = scatter_plan(spec)?;
    let dt = spec.ins[0].dtype;
    macro_rules! in_place {
        ($T:ty, $f:expr) => {
            Ok(Box::new(move |out: &mut RawBuf, rest: &[&Buffer]| {
                scatter_into::<$T>(&plan, out.as_mut_slice::<$T>(), rest[0], rest[1], $f)
            }) as InPlace)
        };
    }
    match spec.name() {
        "scatter" => crate::dispatch_dtype!(dt, "scatter", T => in_place!(T, |_, u| u), all),
        "scatter-add" => {
            crate::dispatch_dtype!(dt, "scatter-add", T => in_place!(T, |a: T, u| a.add(u)), number)
        }
        "scatter-mul" => {
            crate::dispatch_dtype!(dt, "scatter-mul", T => in_place!(T, |a: T, u| a.mul(u)), number)
        }
        "scatter-min" if dt == DType::Bool => in_place!(bool, |a: bool, u| a & u),
        "scatter-max" if dt == DType::Bool => in_place!(bool, |a: bool, u| a | u),
        "scatter-min" => {
            crate::dispatch_dtype!(dt, "scatter-min", T => in_place!(T, |a: T, u| Num::min(a, u)), numeric)
        }
        "scatter-max" => {
            crate::dispatch_dtype!(dt, "scatter-max", T => in_place!(T, |a: T, u| Num::max(a, u)), numeric)
        }
        other => crate::bail!("unknown scatter op {}", other),
    }
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::params::{Param, Params};

    use crate::ops::testing::{ints, run_op};

    fn run(p: Params, ins: &[Buffer], out: Vec<usize>) -> Vec<f32> {
        run_op::<f32>(p, ins, out)
    }

    fn x34() -> Buffer {
        let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
        Buffer::from_vec::<f32>(vec![3, 4], &v).unwrap()
    }

    #[test]
    fn gather_rows_and_fill() {
        let idx = Buffer::from_vec::<i32>(vec![3, 1], &[2, 0, 5]).unwrap();
        let p = Params::new("gather")
            .with("offset_dims", ints(&[1]))
            .with("collapsed_slice_dims", ints(&[0]))
            .with("start_index_map", ints(&[0]))
            .with("operand_batching_dims", ints(&[]))
            .with("start_indices_batching_dims", ints(&[]))
            .with("slice_sizes", ints(&[1, 4]))
            .with("mode", Param::Str("fill".into()))
            .with("fill_value", Param::Float(-1.0));
        let r = run(p.clone(), &[x34(), idx.clone()], vec![3, 4]);
        assert_eq!(
            r,
            vec![8., 9., 10., 11., 0., 1., 2., 3., -1., -1., -1., -1.]
        );
        let p = p.with("mode", Param::Str("clip".into()));
        let r = run(p, &[x34(), idx], vec![3, 4]);
        assert_eq!(&r[8..], &[8., 9., 10., 11.]);
    }

    #[test]
    fn gather_columns_transposed_layout() {
        // x[:, [3, 1]] -> offset dim 0 (rows), batch dim 1
        let idx = Buffer::from_vec::<i64>(vec![2, 1], &[3, 1]).unwrap();
        let p = Params::new("gather")
            .with("offset_dims", ints(&[0]))
            .with("collapsed_slice_dims", ints(&[1]))
            .with("start_index_map", ints(&[1]))
            .with("operand_batching_dims", ints(&[]))
            .with("start_indices_batching_dims", ints(&[]))
            .with("slice_sizes", ints(&[3, 1]))
            .with("mode", Param::Str("clip".into()));
        assert_eq!(
            run(p, &[x34(), idx], vec![3, 2]),
            vec![3., 1., 7., 5., 11., 9.]
        );
    }

    #[test]
    fn scatter_add_repeats_and_drop() {
        let idx = Buffer::from_vec::<i32>(vec![3, 1], &[1, 1, 7]).unwrap();
        let upd = Buffer::from_vec::<f32>(vec![3, 4], &[1.; 12]).unwrap();
        let p = Params::new("scatter-add")
            .with("update_window_dims", ints(&[1]))
            .with("inserted_window_dims", ints(&[0]))
            .with("scatter_dims_to_operand_dims", ints(&[0]))
            .with("operand_batching_dims", ints(&[]))
            .with("scatter_indices_batching_dims", ints(&[]))
            .with("mode", Param::Str("fill".into()));
        let r = run(p, &[x34(), idx, upd], vec![3, 4]);
        assert_eq!(&r[4..8], &[6., 7., 8., 9.]);
        assert_eq!(&r[8..], &[8., 9., 10., 11.]);
    }

    #[test]
    fn huge_indices_are_exact() {
        let b = Buffer::from_vec::<u64>(vec![2], &[u64::MAX, (1 << 53) + 1]).unwrap();
        let v = super::read_indices("gather", &b).unwrap();
        assert_eq!(v, vec![i64::MAX, (1 << 53) + 1]);
        let f = Buffer::from_vec::<f32>(vec![1], &[1.0]).unwrap();
        assert!(super::read_indices("gather", &f).is_err());
    }

    #[test]
    fn dynamic_slice_clamps() {
        let i = |v: i32| Buffer::from_vec::<i32>(vec![], &[v]).unwrap();
        let p = Params::new("dynamic_slice").with("slice_sizes", ints(&[2, 2]));
        let r = run(p, &[x34(), i(5), i(-3)], vec![2, 2]);
        assert_eq!(r, vec![4., 5., 8., 9.]);
    }
}
