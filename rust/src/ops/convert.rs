//! convert_element_type: every dtype to every dtype with `CastTo`'s semantics.
use super::unary::map1;
use super::{Kernel, OpSpec, Registry};
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::Result;

fn build_convert(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let (src, dst) = (spec.ins[0].dtype, spec.outs[0].dtype);
    if src == dst {
        return Ok(Box::new(|ins: &[&Buffer]| Ok(vec![ins[0].clone()])));
    }
    crate::dispatch_dtype!(src, "convert_element_type", S => {
        crate::dispatch_dtype!(dst, "convert_element_type", D => {
            Ok(Box::new(|ins: &[&Buffer]| {
                Ok(vec![map1::<S, D>(ins[0], crate::base::dtype::CastTo::<D>::cast)?])
            }) as Kernel)
        }, all)
    }, all)
}

/// bitcast_convert_type[new_dtype]: reinterpret the bytes. Row-major data
/// makes every case free: equal itemsizes keep the shape; a smaller target
/// adds a trailing dim, a larger one removes it (Python's abstract eval
/// decides the output shape). Bool targets are normalised to 0/1.
fn build_bitcast(spec: &OpSpec) -> Result<Kernel> {
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

pub fn register(r: &mut Registry) {
    r.add("convert_element_type", build_convert);
    r.add("bitcast_convert_type", build_bitcast);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::params::Params;
    use crate::ops::{build, Aval, OpSpec};

    #[test]
    fn bitcast_f32_to_i16_pairs() {
        let p = Params::new("bitcast_convert_type");
        let ins = [Aval::new(DType::F32, vec![1])];
        let outs = [Aval::new(DType::I16, vec![1, 2])];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        let b = Buffer::from_vec(vec![1], &[1.0f32]).unwrap();
        let r = k(&[&b]).unwrap();
        assert_eq!(r[0].slice::<i16>().unwrap(), &[0, 16256]);
        let bad = [Aval::new(DType::I16, vec![1])];
        assert!(build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &bad
        })
        .is_err());
    }

    #[test]
    fn convert_saturates() {
        let p = Params::new("convert_element_type");
        let ins = [Aval::new(DType::F32, vec![4])];
        let outs = [Aval::new(DType::I32, vec![4])];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        let b = Buffer::from_vec(vec![4], &[f32::NAN, 1e10, -1e10, -1.7]).unwrap();
        let r = k(&[&b]).unwrap();
        assert_eq!(r[0].slice::<i32>().unwrap(), &[0, i32::MAX, i32::MIN, -1]);
    }
}
