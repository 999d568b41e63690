//! iota: `out[idx] = idx[dimension]`, for any numeric dtype.
use super::{Kernel, OpSpec};
use crate::base::buffer::{strides, Buffer};
use crate::base::dtype::Element;
use crate::base::error::Result;
use crate::loops::parallel::{par_fill, GRAIN};

pub fn build_iota(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(0, 1)?;
    let shape = spec.outs[0].shape.clone();
    let dim = spec.params.usize("dimension")?;
    crate::ensure!(
        dim < shape.len().max(1),
        "iota: dimension {} out of range for {:?}",
        dim,
        shape
    );
    let (stride, size) = if shape.is_empty() {
        (1, 1)
    } else {
        (strides(&shape)[dim], shape[dim])
    };
    crate::dispatch_dtype!(spec.outs[0].dtype, "iota", T => {
        Ok(Box::new(move |_: &[&Buffer]| {
            Ok(vec![Buffer::build::<T>(shape.clone(), |out| {
                par_fill(out, GRAIN, |off, chunk| {
                    if chunk.is_empty() {
                        return;
                    }
                    // Walk the index instead of dividing per element.
                    let mut q = (off / stride) % size;
                    let mut r = off % stride;
                    let mut v = T::from_f64(q as f64);
                    for o in chunk.iter_mut() {
                        *o = v;
                        r += 1;
                        if r == stride {
                            r = 0;
                            q += 1;
                            if q == size {
                                q = 0;
                            }
                            v = T::from_f64(q as f64);
                        }
                    }
                })
            })])
        }) as Kernel)
    }, numeric)
}

#[cfg(test)]
mod tests {
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::ops::{build, Aval, OpSpec};

    #[test]
    fn iota_2d_dim1() {
        let p = Params::new("iota").with("dimension", Param::Int(1));
        let outs = [Aval::new(DType::I32, vec![2, 3])];
        let k = build(&OpSpec {
            params: &p,
            ins: &[],
            outs: &outs,
        })
        .unwrap();
        let r = k(&[]).unwrap();
        assert_eq!(r[0].slice::<i32>().unwrap(), &[0, 1, 2, 0, 1, 2]);
    }
}
