//! select_n and clamp: elementwise ops with more than two operands.
use super::scalar::Num;
use super::{Kernel, OpSpec, Registry};
use crate::base::buffer::Buffer;
use crate::base::dtype::{DType, Element};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{par_fill, GRAIN};

/// Element `i` of a full-size or one-element operand.
#[inline(always)]
fn at<T: Copy>(x: &[T], i: usize) -> T {
    if x.len() == 1 {
        x[0]
    } else {
        x[i]
    }
}

fn check_len(op: &str, b: &Buffer, n: usize) -> Result<()> {
    if b.len() == n || b.len() == 1 {
        Ok(())
    } else {
        Err(shape_err(
            op,
            format!(
                "operand shape {:?} does not match output of {} elements",
                b.shape, n
            ),
        ))
    }
}

fn select_kernel<T: Element>(ins: &[&Buffer], shape: &[usize]) -> Result<Buffer> {
    let n: usize = shape.iter().product();
    for b in ins {
        check_len("select_n", b, n)?;
    }
    let cases: Vec<&[T]> = ins[1..]
        .iter()
        .map(|b| b.slice::<T>())
        .collect::<Result<_>>()?;
    let pred = ins[0];
    let idx: Box<dyn Fn(usize) -> usize + Sync + Send> = match pred.dtype {
        DType::Bool => {
            let p = pred.slice::<bool>()?;
            let last = cases.len() - 1;
            Box::new(move |i| (at(p, i) as usize).min(last))
        }
        DType::I32 => {
            let p = pred.slice::<i32>()?;
            let last = cases.len() - 1;
            Box::new(move |i| (Ord::max(at(p, i), 0) as usize).min(last))
        }
        other => return Err(crate::base::error::dtype_err("select_n", other)),
    };
    Ok(Buffer::build::<T>(shape.to_vec(), |out| {
        par_fill(out, GRAIN, |off, chunk| {
            for (j, o) in chunk.iter_mut().enumerate() {
                let i = off + j;
                *o = at(cases[idx(i)], i);
            }
        })
    }))
}

fn build_select_n(spec: &OpSpec) -> Result<Kernel> {
    crate::ensure!(
        spec.ins.len() >= 2 && spec.outs.len() == 1,
        "select_n: needs a predicate and cases"
    );
    let shape = spec.outs[0].shape.clone();
    crate::dispatch_dtype!(spec.outs[0].dtype, "select_n", T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![select_kernel::<T>(ins, &shape)?])) as Kernel)
    }, all)
}

fn clamp_kernel<T: Num>(ins: &[&Buffer], shape: &[usize]) -> Result<Buffer> {
    let n: usize = shape.iter().product();
    for b in ins {
        check_len("clamp", b, n)?;
    }
    let (lo, x, hi) = (
        ins[0].slice::<T>()?,
        ins[1].slice::<T>()?,
        ins[2].slice::<T>()?,
    );
    Ok(Buffer::build::<T>(shape.to_vec(), |out| {
        par_fill(out, GRAIN, |off, chunk| {
            for (j, o) in chunk.iter_mut().enumerate() {
                let i = off + j;
                // XLA: min(max(x, lo), hi), NaN-propagating.
                *o = at(x, i).max(at(lo, i)).min(at(hi, i));
            }
        })
    }))
}

fn build_clamp(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(3, 1)?;
    let shape = spec.outs[0].shape.clone();
    crate::dispatch_dtype!(spec.outs[0].dtype, "clamp", T => {
        Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![clamp_kernel::<T>(ins, &shape)?])) as Kernel)
    }, numeric)
}

pub fn register(r: &mut Registry) {
    r.add("select_n", build_select_n);
    r.add("clamp", build_clamp);
}
