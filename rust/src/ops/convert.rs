//! convert_element_type: every dtype to every dtype with `CastTo`'s semantics.
use super::unary::map1;
use super::{Kernel, OpSpec, Registry};
use crate::buffer::Buffer;
use crate::error::Result;

fn build_convert(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let (src, dst) = (spec.ins[0].dtype, spec.outs[0].dtype);
    if src == dst {
        return Ok(Box::new(|ins: &[&Buffer]| Ok(vec![ins[0].clone()])));
    }
    crate::dispatch_dtype!(src, "convert_element_type", S => {
        crate::dispatch_dtype!(dst, "convert_element_type", D => {
            Ok(Box::new(|ins: &[&Buffer]| {
                Ok(vec![map1::<S, D>(ins[0], crate::dtype::CastTo::<D>::cast)?])
            }) as Kernel)
        }, all)
    }, all)
}

pub fn register(r: &mut Registry) {
    r.add("convert_element_type", build_convert);
}
