//! `sturm_count(alpha, beta_sq, pivmin, alpha0_perturbation, x)`: for each
//! `x`, how many eigenvalues of the symmetric tridiagonal T (diagonal
//! `alpha` [n], squared off-diagonal `beta_sq` [n - 1]) lie below `x`: the
//! negative pivots of the LDL^T of T - x I (Sturm's sequence). The
//! recurrence, with its first step and its clamp of pivots below `pivmin`,
//! is `jax.scipy.linalg.eigh_tridiagonal`'s, so the counts (and the bisection
//! built on them) are JAX's; one pass over T serves a chunk of targets, the
//! inner loop over the targets vectorizes.
use super::{batch_of, for_batch, read, Out};
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::Result;
use crate::loops::parallel::split_chunks_mut;
use crate::ops::{Kernel, OpSpec};

/// Targets per task: one pass over T for each chunk.
const CHUNK: usize = 256;

/// The counts for the targets `x` into `out` (the same length).
fn counts<T: num_traits::Float>(
    alpha: &[T],
    beta_sq: &[T],
    pivmin: &[T],
    a0: &[T],
    x: &[T],
    out: &mut [i32],
) {
    let k = x.len();
    let mut q = vec![T::zero(); k];
    for j in 0..k {
        let v = alpha[0] - x[j];
        out[j] = i32::from(v < T::zero());
        q[j] = if alpha[0] == x[j] { a0[j] } else { v };
    }
    for i in 1..alpha.len() {
        let (a, b) = (alpha[i], beta_sq[i - 1]);
        for j in 0..k {
            let v = a - b / q[j] - x[j];
            let neg = v <= pivmin[j];
            let lo = -pivmin[j];
            // jnp.minimum(v, -pivmin) where v <= pivmin (v is not NaN there)
            q[j] = if neg {
                if v < lo {
                    v
                } else {
                    lo
                }
            } else {
                v
            };
            out[j] += i32::from(neg);
        }
    }
}

fn run<T: num_traits::Float + super::Stored>(
    spec_shapes: &(Vec<usize>, usize, usize, usize),
    ins: &[&Buffer],
) -> Result<Buffer> {
    let (out_shape, batch, n, k) = spec_shapes;
    let (n, k) = (*n, *k);
    let (alpha, beta_sq, pivmin, a0, x) = (
        read::<T>(ins[0])?,
        read::<T>(ins[1])?,
        read::<T>(ins[2])?,
        read::<T>(ins[3])?,
        read::<T>(ins[4])?,
    );
    let out = Out::<i32>::new(out_shape, 1);
    let nb = n.saturating_sub(1);
    for_batch(*batch, |i| {
        // SAFETY: `for_batch` visits each batch item once.
        let o = unsafe { out.block(i) };
        let (a, b) = (&alpha[i * n..(i + 1) * n], &beta_sq[i * nb..(i + 1) * nb]);
        let t = i * k..(i + 1) * k;
        let (p, z, xs) = (&pivmin[t.clone()], &a0[t.clone()], &x[t]);
        let one = |c: usize, oc: &mut [i32]| {
            let r = c * CHUNK..(c * CHUNK + oc.len());
            counts(a, b, &p[r.clone()], &z[r.clone()], &xs[r], oc);
        };
        if *batch <= 1 && k > CHUNK && n * k >= 1 << 16 {
            split_chunks_mut(o, CHUNK, one);
        } else {
            o.chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(c, oc)| one(c, oc));
        }
    });
    out.finish()
}

pub fn build_sturm_count(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(5, 1)?;
    let dt = spec.ins[0].dtype;
    for a in spec.ins {
        crate::ensure!(a.dtype == dt, "sturm_count: operand dtypes differ");
    }
    crate::ensure!(
        spec.outs[0].dtype == DType::I32,
        "sturm_count: the counts are int32"
    );
    let alpha = &spec.ins[0].shape;
    let n = alpha[alpha.len() - 1];
    crate::ensure!(n >= 1, "sturm_count: T must have at least one row");
    let out_shape = spec.outs[0].shape.clone();
    let k = out_shape[out_shape.len() - 1];
    let shapes = (out_shape.clone(), batch_of(&out_shape, 1), n, k);
    match dt {
        DType::F32 => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![run::<f32>(&shapes, ins)?])) as Kernel)
        }
        DType::F64 => {
            Ok(Box::new(move |ins: &[&Buffer]| Ok(vec![run::<f64>(&shapes, ins)?])) as Kernel)
        }
        other => Err(crate::base::error::dtype_err("sturm_count", other)),
    }
}
