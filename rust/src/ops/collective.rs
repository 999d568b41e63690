//! Collectives over the replicas of a `pmap` (see `exec/comm.rs`): each
//! kernel exchanges its operand with the other replicas and combines them in
//! replica order, so the result has the same bits on every replica and every
//! run. Outside a pmap (no replica on this thread) a collective is an error.
//! Across processes the ranks are global; reductions combine this process's
//! replicas first and then one partial result per process.
use super::scalar::Num;
use super::{Kernel, OpSpec};
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::dtype::Element;
use crate::base::error::Error;
use crate::base::error::Result;
use crate::loops::parallel::{par_fill, GRAIN};
use std::cell::RefCell;
use std::sync::Arc;

/// The rendezvous of the replicas of one pmap call, as the collective ops
/// see it. Owned here, implemented above (`exec::comm::Comm`), so that ops
/// never depend on the executor.
pub trait Communicator: Send + Sync {
    /// Every replica's `buf` (in all processes), in global rank order.
    fn exchange(&self, rank: usize, buf: Buffer) -> Result<Arc<Vec<Buffer>>>;
    /// `combine` of every replica's `buf`, the same on every replica.
    fn exchange_reduced(
        &self,
        rank: usize,
        buf: Buffer,
        combine: &dyn Fn(&[Buffer]) -> Result<Buffer>,
    ) -> Result<Buffer>;
    /// The global rank of local replica `rank`.
    fn global_rank(&self, rank: usize) -> usize;
    /// A replica failed with `why`: every replica waiting in (or later
    /// reaching) a collective of this communicator fails with the same error,
    /// so the original exception surfaces everywhere and nobody waits forever.
    fn poison(&self, why: &Error);
}

thread_local! {
    static REPLICA: RefCell<Option<(Arc<dyn Communicator>, usize)>> = const { RefCell::new(None) };
}

/// Run `f` as replica `rank` of `comm` (collective kernels find it here). A
/// failure or panic poisons the communicator, so the other replicas stop
/// waiting.
pub fn as_replica<T>(
    comm: Arc<dyn Communicator>,
    rank: usize,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let prev = REPLICA.with(|r| r.borrow_mut().replace((Arc::clone(&comm), rank)));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    REPLICA.with(|r| *r.borrow_mut() = prev);
    let out = match out {
        Ok(r) => r,
        Err(p) => {
            comm.poison(&Error::Internal(
                "a device panicked inside a collective computation".into(),
            ));
            std::panic::resume_unwind(p)
        }
    };
    if let Err(e) = &out {
        comm.poison(e);
    }
    out
}

/// The communicator and rank of the replica running on this thread.
fn current(op: &str) -> Result<(Arc<dyn Communicator>, usize)> {
    REPLICA.with(|r| r.borrow().clone()).ok_or_else(|| {
        Error::Internal(format!(
            "{op}: a collective ran outside pmap (no replica on this thread)"
        ))
    })
}

#[derive(Clone, Copy)]
enum Red {
    Sum,
    Max,
    Min,
}

fn combine<T: Num + Element>(bufs: &[Buffer], red: Red, shape: &[usize]) -> Result<Buffer> {
    let parts: Vec<&[T]> = bufs.iter().map(|b| b.slice::<T>()).collect::<Result<_>>()?;
    Ok(Buffer::build::<T>(shape.to_vec(), |out| {
        par_fill(out, GRAIN, |off, chunk| {
            chunk.copy_from_slice(&parts[0][off..off + chunk.len()]);
            for p in &parts[1..] {
                let p = &p[off..off + chunk.len()];
                for (o, &v) in chunk.iter_mut().zip(p) {
                    *o = match red {
                        Red::Sum => o.add(v),
                        Red::Max => o.max(v),
                        Red::Min => o.min(v),
                    };
                }
            }
        })
    }))
}

fn build_reduce(spec: &OpSpec, red: Red) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let name = spec.name().to_string();
    let dtype = spec.outs[0].dtype;
    let shape = spec.outs[0].shape.clone();
    crate::dispatch_dtype!(dtype, &name, T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let (c, rank) = current(&name)?;
            Ok(vec![c.exchange_reduced(rank, ins[0].clone(), &|all| combine::<T>(all, red, &shape))?])
        }) as Kernel)
    }, numeric)
}

/// Byte blocks: the operand viewed as `outer` rows of `inner` bytes.
fn blocks(shape: &[usize], axis: usize, itemsize: usize) -> (usize, usize) {
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis..].iter().product::<usize>() * itemsize;
    (outer, inner)
}

/// psum / pmax / pmin over the replicas.
pub fn build_psum(spec: &OpSpec) -> Result<Kernel> {
    build_reduce(spec, Red::Sum)
}
pub fn build_pmax(spec: &OpSpec) -> Result<Kernel> {
    build_reduce(spec, Red::Max)
}
pub fn build_pmin(spec: &OpSpec) -> Result<Kernel> {
    build_reduce(spec, Red::Min)
}

pub fn build_all_gather(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let axis = spec.params.usize("axis")?;
    let in_shape = spec.ins[0].shape.clone();
    crate::ensure!(
        axis <= in_shape.len(),
        "all_gather: axis {} out of range",
        axis
    );
    let out_shape = spec.outs[0].shape.clone();
    let (outer, inner) = blocks(&in_shape, axis, spec.outs[0].dtype.itemsize());
    Ok(Box::new(move |ins: &[&Buffer]| {
        let (c, rank) = current("all_gather")?;
        let all = c.exchange(rank, ins[0].clone())?;
        let n = all.len();
        // Stacked or tiled along `axis`: for each outer row, replica r's row
        // comes r-th. (Both layouts are the same bytes.)
        let out = Buffer::build::<u8>(vec![outer * n * inner], |o| {
            for (r, b) in all.iter().enumerate() {
                let src = b.data.bytes();
                for i in 0..outer {
                    let d = (i * n + r) * inner;
                    o[d..d + inner].copy_from_slice(&src[i * inner..(i + 1) * inner]);
                }
            }
        });
        Ok(vec![out.reinterpret(ins[0].dtype, out_shape.clone())?])
    }))
}

pub fn build_psum_scatter(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let d = spec.params.usize("scatter_dimension")?;
    let tiled = spec.params.bool("tiled")?;
    let in_shape = spec.ins[0].shape.clone();
    let out = spec.outs[0].clone();
    crate::ensure!(
        d < in_shape.len(),
        "psum_scatter: dimension {} out of range",
        d
    );
    crate::dispatch_dtype!(out.dtype, "psum_scatter", T => {
        Ok(Box::new(move |ins: &[&Buffer]| {
            let (c, rank) = current("psum_scatter")?;
            let all = c.exchange(rank, ins[0].clone())?;
            let rank = c.global_rank(rank);
            let n = all.len();
            let blk = if tiled { in_shape[d] / n } else { 1 };
            crate::ensure!(blk * n == in_shape[d], "psum_scatter: dimension {} of {:?} does not split over {} devices", d, in_shape, n);
            let outer: usize = in_shape[..d].iter().product();
            let inner: usize = in_shape[d + 1..].iter().product::<usize>() * blk;
            let parts: Vec<&[T]> = all.iter().map(|b| b.slice::<T>()).collect::<Result<_>>()?;
            let row = in_shape[d] * in_shape[d + 1..].iter().product::<usize>();
            Ok(vec![Buffer::build::<T>(out.shape.clone(), |o| {
                for i in 0..outer {
                    let src = i * row + rank * inner;
                    let dst = &mut o[i * inner..(i + 1) * inner];
                    dst.copy_from_slice(&parts[0][src..src + inner]);
                    for p in &parts[1..] {
                        for (x, &v) in dst.iter_mut().zip(&p[src..src + inner]) {
                            *x = x.add(v);
                        }
                    }
                }
            })])
        }) as Kernel)
    }, numeric)
}

pub fn build_ppermute(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(1, 1)?;
    let perm: Vec<(usize, usize)> = spec
        .params
        .int_lists("perm")?
        .into_iter()
        .map(|p| (p[0] as usize, p[1] as usize))
        .collect();
    let out = spec.outs[0].clone();
    Ok(Box::new(move |ins: &[&Buffer]| {
        let (c, rank) = current("ppermute")?;
        let all = c.exchange(rank, ins[0].clone())?;
        let rank = c.global_rank(rank);
        match perm.iter().find(|&&(_, dst)| dst == rank) {
            Some(&(src, _)) => Ok(vec![all[src].clone()]),
            None => {
                let nbytes = out.numel() * out.dtype.itemsize();
                let z = Buffer::build::<u8>(vec![nbytes], |o| o.fill(0));
                Ok(vec![z.reinterpret(out.dtype, out.shape.clone())?])
            }
        }
    }))
}

pub fn build_axis_index(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(0, 1)?;
    crate::ensure!(
        spec.outs[0].dtype == DType::I32,
        "axis_index: the result is int32"
    );
    Ok(Box::new(|_: &[&Buffer]| {
        let (c, rank) = current("axis_index")?;
        Ok(vec![Buffer::from_vec::<i32>(
            vec![],
            &[c.global_rank(rank) as i32],
        )?])
    }))
}
