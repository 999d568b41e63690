//! Shape ops: reshape (free), broadcast_in_dim (and, added later in this
//! family: transpose, rev, concatenate, pad, iota, squeeze/expand via reshape).
use super::{Kernel, OpSpec, Registry};
use crate::buffer::{strides, Buffer};
use crate::error::Result;
use crate::exec::strided::strided_buffer;

fn build_reshape(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let shape = spec.outs[0].shape.clone();
    Ok(Box::new(move |ins: &[&Buffer]| {
        Ok(vec![ins[0].reshaped(shape.clone())?])
    }))
}

fn build_broadcast_in_dim(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let out_shape = spec.outs[0].shape.clone();
    let in_shape = &spec.ins[0].shape;
    let dims = spec.params.usizes("broadcast_dimensions")?;
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
    crate::dispatch_dtype!(spec.ins[0].dtype, "broadcast_in_dim", T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![strided_buffer::<T>(ins[0], 0, &out_shape, &st)?])) as Kernel)
    }, all)
}

pub fn register(r: &mut Registry) {
    r.add("reshape", build_reshape);
    r.add("broadcast_in_dim", build_broadcast_in_dim);
}
