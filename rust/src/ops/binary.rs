//! Elementwise binary ops and comparisons, with lax's broadcasting: operands
//! have equal rank and size-1 dims broadcast, or an operand is rank 0 (as in
//! JAX, where `mul a 2.0:f32[]` appears in jaxprs).
use super::scalar::Num;
use super::{Kernel, OpSpec, Registry};
use crate::buffer::{numel, strides, Buffer};
use crate::dtype::Element;
use crate::error::{shape_err, Result};
use crate::exec::parallel::{par_fill, GRAIN};

/// Strides (in elements) with which an operand of shape `s` is read for an
/// output of shape `out`: rank-0 operands broadcast everywhere; otherwise the
/// ranks are equal and size-1 dims broadcast (lax's rule).
pub fn broadcast_strides(op: &str, s: &[usize], out: &[usize]) -> Result<Vec<isize>> {
    if s.is_empty() {
        return Ok(vec![0; out.len()]);
    }
    if s.len() != out.len() {
        return Err(shape_err(
            op,
            format!("operand shape {:?} does not broadcast to {:?}", s, out),
        ));
    }
    let st = strides(s);
    s.iter()
        .zip(out)
        .zip(st)
        .map(|((&a, &o), st)| {
            if a == o {
                Ok(if a == 1 { 0 } else { st as isize })
            } else if a == 1 {
                Ok(0)
            } else {
                Err(shape_err(
                    op,
                    format!("operand shape {:?} does not broadcast to {:?}", s, out),
                ))
            }
        })
        .collect()
}

/// Apply `f` to pairs with lax's broadcasting (rank-0 operands, size-1 dims).
pub fn map2<A: Element, B: Element, U: Element>(
    op: &str,
    a: &Buffer,
    b: &Buffer,
    shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Result<Buffer> {
    let (xa, xb) = (a.slice::<A>()?, b.slice::<B>()?);
    let n: usize = numel(shape);
    let (sa, sb) = (
        broadcast_strides(op, &a.shape, shape)?,
        broadcast_strides(op, &b.shape, shape)?,
    );
    let full = |len: usize, sh: &[usize]| len == n && (sh.is_empty() || sh == shape);
    let (fa, fb) = (full(xa.len(), &a.shape), full(xb.len(), &b.shape));
    let (oa, ob) = (xa.len() == 1, xb.len() == 1);
    if n == 0 {
        return Ok(Buffer::build::<U>(shape.to_vec(), |_| {}));
    }
    if (fa || oa) && (fb || ob) {
        return Ok(Buffer::build::<U>(shape.to_vec(), |out| {
            par_fill(out, GRAIN, |off, chunk| {
                let m = chunk.len();
                match (fa, fb) {
                    (true, true) => {
                        for ((o, &x), &y) in chunk
                            .iter_mut()
                            .zip(&xa[off..off + m])
                            .zip(&xb[off..off + m])
                        {
                            *o = f(x, y);
                        }
                    }
                    (true, false) => {
                        let y = xb[0];
                        for (o, &x) in chunk.iter_mut().zip(&xa[off..off + m]) {
                            *o = f(x, y);
                        }
                    }
                    (false, true) => {
                        let x = xa[0];
                        for (o, &y) in chunk.iter_mut().zip(&xb[off..off + m]) {
                            *o = f(x, y);
                        }
                    }
                    (false, false) => {
                        let v = f(xa[0], xb[0]);
                        chunk.iter_mut().for_each(|o| *o = v);
                    }
                }
            })
        }));
    }
    // General broadcasting: walk output rows; each operand's inner stride is 0 or 1.
    let nd = shape.len();
    let inner = shape[nd - 1];
    let (ia, ib) = (sa[nd - 1], sb[nd - 1]);
    let grain = GRAIN.next_multiple_of(inner.max(1));
    Ok(Buffer::build::<U>(shape.to_vec(), |out| {
        par_fill(out, grain, |off, chunk| {
            let mut row = off / inner;
            for orow in chunk.chunks_mut(inner) {
                let (mut ba, mut bb, mut rem) = (0isize, 0isize, row);
                for d in (0..nd - 1).rev() {
                    let i = (rem % shape[d]) as isize;
                    rem /= shape[d];
                    ba += i * sa[d];
                    bb += i * sb[d];
                }
                for (j, o) in orow.iter_mut().enumerate() {
                    let j = j as isize;
                    *o = f(xa[(ba + j * ia) as usize], xb[(bb + j * ib) as usize]);
                }
                row += 1;
            }
        })
    }))
}

/// `numeric_binary!(registry, "name", |x, y| expr)` for every non-bool dtype.
macro_rules! numeric_binary {
    ($r:expr, $name:literal, |$x:ident, $y:ident| $body:expr) => {{
        fn scalar<T: Num>($x: T, $y: T) -> T {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(2, 1)?;
            let shape = spec.outs[0].shape.clone();
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<T, T, T>($name, ins[0], ins[1], &shape, scalar::<T>)?])
                }) as Kernel)
            }, numeric)
        });
    }};
}

/// `compare!(registry, "name", |x, y| bool-expr)` for every dtype; output bool.
macro_rules! compare {
    ($r:expr, $name:literal, |$x:ident, $y:ident| $body:expr) => {{
        fn scalar<T: Element>($x: T, $y: T) -> bool {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(2, 1)?;
            let shape = spec.outs[0].shape.clone();
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<T, T, bool>($name, ins[0], ins[1], &shape, scalar::<T>)?])
                }) as Kernel)
            }, all)
        });
    }};
}

pub fn register(r: &mut Registry) {
    numeric_binary!(r, "add", |x, y| x.add(y));
    numeric_binary!(r, "sub", |x, y| x.sub(y));
    numeric_binary!(r, "mul", |x, y| x.mul(y));
    numeric_binary!(r, "div", |x, y| x.div(y));
    numeric_binary!(r, "max", |x, y| x.max(y));
    numeric_binary!(r, "min", |x, y| x.min(y));
    compare!(r, "eq", |x, y| x == y);
    compare!(r, "ne", |x, y| x != y);
    compare!(r, "lt", |x, y| x < y);
    compare!(r, "le", |x, y| x <= y);
    compare!(r, "gt", |x, y| x > y);
    compare!(r, "ge", |x, y| x >= y);
}
