//! Shape ops: reshape and squeeze (free), broadcast_in_dim, transpose, rev,
//! slice (strided copies), concatenate and pad.
use super::{Kernel, OpSpec};
use crate::base::buffer::{strides, Buffer};
use crate::base::dtype::{DType, Element};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{par_fill, GRAIN};
use crate::loops::strided::{istrides, par_rows, strided_buffer, Walk};

pub fn build_reshape(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let shape = spec.outs[0].shape.clone();
    crate::ensure!(
        spec.ins[0].numel() == spec.outs[0].numel(),
        shape_err(spec.name(), "element count changes")
    );
    Ok(Box::new(move |ins: &[&Buffer]| {
        Ok(vec![ins[0].reshaped(shape.clone())?])
    }))
}

/// A kernel that reads its one input with `strides` from `offset`.
fn strided_kernel(spec: &OpSpec, offset: isize, st: Vec<isize>) -> Result<Kernel> {
    let out_shape = spec.outs[0].shape.clone();
    crate::ensure!(
        st.len() == out_shape.len(),
        shape_err(spec.name(), "rank mismatch")
    );
    crate::dispatch_dtype!(spec.ins[0].dtype, spec.name(), T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![strided_buffer::<T>(ins[0], offset, &out_shape, &st)?])) as Kernel)
    }, all)
}

pub fn build_broadcast_in_dim(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let out_shape = &spec.outs[0].shape;
    let in_shape = &spec.ins[0].shape;
    let dims = spec.params.usizes("broadcast_dimensions")?;
    crate::ensure!(
        dims.len() == in_shape.len(),
        shape_err("broadcast_in_dim", "one dimension per operand dim")
    );
    let in_strides = strides(in_shape);
    let mut st = vec![0isize; out_shape.len()];
    for (i, &d) in dims.iter().enumerate() {
        if d >= out_shape.len() {
            crate::bail!("broadcast_in_dim: dimension {} out of range", d);
        }
        if in_shape[i] != 1 {
            st[d] = in_strides[i] as isize;
        }
    }
    strided_kernel(spec, 0, st)
}

pub fn build_transpose(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let perm = spec.params.usizes("permutation")?;
    let in_shape = &spec.ins[0].shape;
    let mut seen = vec![false; in_shape.len()];
    for &p in &perm {
        crate::ensure!(
            p < in_shape.len() && !seen[p],
            shape_err("transpose", format!("bad permutation {perm:?}"))
        );
        seen[p] = true;
    }
    crate::ensure!(
        perm.len() == in_shape.len(),
        shape_err("transpose", format!("bad permutation {perm:?}"))
    );
    let ist = istrides(in_shape);
    let st = perm.iter().map(|&p| ist[p]).collect();
    strided_kernel(spec, 0, st)
}

pub fn build_rev(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let dims = spec.params.usizes("dimensions")?;
    let shape = &spec.ins[0].shape;
    let mut st = istrides(shape);
    let mut offset = 0isize;
    for &d in &dims {
        crate::ensure!(
            d < shape.len(),
            shape_err("rev", format!("dimension {d} out of range"))
        );
        if shape[d] > 0 {
            offset += (shape[d] as isize - 1) * st[d];
        }
        st[d] = -st[d];
    }
    strided_kernel(spec, offset, st)
}

pub fn build_slice(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let shape = &spec.ins[0].shape;
    let out = &spec.outs[0].shape;
    let start = spec.params.usizes("start_indices")?;
    let steps = if spec.params.has("strides") {
        spec.params.usizes("strides")?
    } else {
        vec![1; shape.len()]
    };
    crate::ensure!(
        start.len() == shape.len() && steps.len() == shape.len() && out.len() == shape.len(),
        shape_err("slice", "one start index and stride per dimension")
    );
    let ist = istrides(shape);
    let mut offset = 0isize;
    let mut st = Vec::with_capacity(shape.len());
    for d in 0..shape.len() {
        crate::ensure!(
            steps[d] >= 1 && (out[d] == 0 || start[d] + (out[d] - 1) * steps[d] < shape[d]),
            shape_err("slice", format!("slice out of bounds in dimension {d}"))
        );
        if out[d] > 0 {
            offset += start[d] as isize * ist[d];
        }
        st.push(ist[d] * steps[d] as isize);
    }
    strided_kernel(spec, offset, st)
}

fn concat_kernel<T: Element>(ins: &[&Buffer], out_shape: &[usize], dim: usize) -> Result<Buffer> {
    let srcs: Vec<&[T]> = ins.iter().map(|b| b.slice::<T>()).collect::<Result<_>>()?;
    let inner: usize = out_shape[dim + 1..].iter().product();
    let widths: Vec<usize> = ins.iter().map(|b| b.shape[dim] * inner).collect();
    let row: usize = widths.iter().sum();
    Ok(Buffer::build::<T>(out_shape.to_vec(), |out| {
        if row == 0 {
            return;
        }
        par_rows(out, row, |r0, chunk| {
            for (r, orow) in chunk.chunks_mut(row).enumerate() {
                let mut o = 0;
                for (src, &w) in srcs.iter().zip(&widths) {
                    let s = (r0 + r) * w;
                    orow[o..o + w].copy_from_slice(&src[s..s + w]);
                    o += w;
                }
            }
        })
    }))
}

pub fn build_concatenate(spec: &OpSpec) -> Result<Kernel> {
    crate::ensure!(
        !spec.ins.is_empty() && spec.outs.len() == 1,
        shape_err("concatenate", "needs at least one operand")
    );
    let dim = spec.params.usize("dimension")?;
    let out_shape = spec.outs[0].shape.clone();
    crate::ensure!(
        dim < out_shape.len(),
        shape_err("concatenate", format!("dimension {dim} out of range"))
    );
    let mut total = 0;
    for a in spec.ins {
        crate::ensure!(
            a.dtype == spec.outs[0].dtype && a.shape.len() == out_shape.len(),
            shape_err(
                "concatenate",
                "operands must have the output's dtype and rank"
            )
        );
        for (d, (&n, &m)) in a.shape.iter().zip(&out_shape).enumerate() {
            crate::ensure!(
                d == dim || n == m,
                shape_err("concatenate", "operand shapes differ outside the dimension")
            );
        }
        total += a.shape[dim];
    }
    crate::ensure!(
        total == out_shape[dim],
        shape_err("concatenate", "sizes do not add up")
    );
    crate::dispatch_dtype!(spec.outs[0].dtype, "concatenate", T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![concat_kernel::<T>(ins, &out_shape, dim)?])) as Kernel)
    }, all)
}

/// Fill `out` with `v` (in parallel for large outputs).
pub fn fill<T: Element>(out: &mut [T], v: T) {
    par_fill(out, GRAIN, |_, c| c.iter_mut().for_each(|o| *o = v));
}

pub fn build_pad(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(2, 1)?;
    let cfg = spec.params.int_lists("padding_config")?;
    let shape = spec.ins[0].shape.clone();
    let out_shape = spec.outs[0].shape.clone();
    crate::ensure!(
        cfg.len() == shape.len() && out_shape.len() == shape.len() && spec.ins[1].numel() == 1,
        shape_err(
            "pad",
            "one (lo, hi, interior) per dimension and a scalar padding value"
        )
    );
    let (ist, ost) = (istrides(&shape), istrides(&out_shape));
    let (mut so, mut dso) = (0isize, 0isize);
    let (mut bx, mut sst, mut dst) = (vec![], vec![], vec![]);
    for d in 0..shape.len() {
        let c = &cfg[d];
        crate::ensure!(
            c.len() == 3 && c[2] >= 0,
            shape_err("pad", "bad padding_config entry")
        );
        let (n, lo, hi, s) = (shape[d] as i64, c[0], c[1], c[2] + 1);
        let want = lo + hi + if n > 0 { (n - 1) * s + 1 } else { 0 };
        crate::ensure!(
            want == out_shape[d] as i64,
            shape_err("pad", "output shape does not match padding_config")
        );
        let od = out_shape[d] as i64;
        let imin = if lo >= 0 { 0 } else { (-lo + s - 1) / s };
        let imax = if od - 1 - lo >= 0 {
            ((od - 1 - lo) / s + 1).min(n)
        } else {
            0
        };
        let cnt = (imax - imin).max(0);
        bx.push(cnt as usize);
        so += imin as isize * ist[d];
        dso += (lo + imin * s) as isize * ost[d];
        sst.push(ist[d]);
        dst.push(ost[d] * s as isize);
    }
    let walk = Walk::new(&bx, &sst, &dst);
    crate::dispatch_dtype!(spec.outs[0].dtype, "pad", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let src = ins[0].slice::<T>()?;
            let v = *ins[1].slice::<T>()?.first().ok_or_else(|| shape_err("pad", "empty padding value"))?;
            Ok(vec![Buffer::build::<T>(out_shape.clone(), |out| {
                fill(out, v);
                walk.assign(src, so, out, dso);
            })])
        }) as Kernel)
    }, all)
}

/// bitcast_convert_type[new_dtype]: reinterpret the bytes. Row-major data
/// makes every case free: equal itemsizes keep the shape; a smaller target
/// adds a trailing dim, a larger one removes it (Python's abstract eval
/// decides the output shape). Bool targets are normalised to 0/1.
pub fn build_bitcast(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let (src, out) = (spec.ins[0].clone(), spec.outs[0].clone());
    crate::ensure!(
        src.numel() * src.dtype.itemsize() == out.numel() * out.dtype.itemsize(),
        crate::base::error::shape_err(
            "bitcast_convert_type",
            format!(
                "cannot reinterpret {}{:?} as {}{:?}",
                src.dtype, src.shape, out.dtype, out.shape
            )
        )
    );
    Ok(Box::new(move |ins: &[&Buffer]| {
        let b = ins[0];
        if out.dtype == DType::Bool {
            let bytes = b.data.bytes();
            return Ok(vec![Buffer::build::<bool>(out.shape.clone(), |o| {
                for (o, &v) in o.iter_mut().zip(bytes) {
                    *o = v != 0;
                }
            })]);
        }
        Ok(vec![Buffer {
            dtype: out.dtype,
            shape: out.shape.clone(),
            data: b.data.clone(),
        }])
    }))
}

#[cfg(test)]
mod tests {
    use crate::base::buffer::Buffer;
    use crate::base::params::{Param, Params};

    use crate::ops::testing::{ints, run_op};

    fn run(p: Params, ins: &[Buffer], out: Vec<usize>) -> Vec<i32> {
        run_op::<i32>(p, ins, out)
    }

    fn x23() -> Buffer {
        Buffer::from_vec::<i32>(vec![2, 3], &[0, 1, 2, 3, 4, 5]).unwrap()
    }

    #[test]
    fn transpose_rev_slice() {
        let p = Params::new("transpose").with("permutation", ints(&[1, 0]));
        assert_eq!(run(p, &[x23()], vec![3, 2]), vec![0, 3, 1, 4, 2, 5]);
        let p = Params::new("rev").with("dimensions", ints(&[1]));
        assert_eq!(run(p, &[x23()], vec![2, 3]), vec![2, 1, 0, 5, 4, 3]);
        let p = Params::new("slice")
            .with("start_indices", ints(&[0, 1]))
            .with("limit_indices", ints(&[2, 3]))
            .with("strides", ints(&[1, 2]));
        assert_eq!(run(p, &[x23()], vec![2, 1]), vec![1, 4]);
    }

    #[test]
    fn concatenate_and_pad() {
        let p = Params::new("concatenate").with("dimension", Param::Int(1));
        assert_eq!(
            run(p, &[x23(), x23()], vec![2, 6]),
            vec![0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]
        );
        let cfg = Param::List(vec![ints(&[-1, 0, 0]), ints(&[1, -1, 1])]);
        let p = Params::new("pad").with("padding_config", cfg);
        let nine = Buffer::from_vec::<i32>(vec![], &[9]).unwrap();
        // row 1 only; columns: 9, 3, 9, 4, 9, (5 cut)
        assert_eq!(run(p, &[x23(), nine], vec![1, 5]), vec![9, 3, 9, 4, 9]);
    }
}
