//! The two makers: slice kernels (concrete) and DAGs (symbolic).
use super::Maker;
use crate::base::error::{Error, Result};
use crate::base::slice::{Slice, SliceMut};
use crate::ops::scalar::concrete::{values, values_mut};
use crate::ops::scalar::sym::{self, Graph, Symbolic};
use crate::ops::scalar::{Concrete, Value};
use std::sync::Arc;

/// One op over slices: `kernel(operands, out)`. Each operand has
/// `out.len()` elements, or one element that stands for all of them.
pub type SliceKernel = Arc<dyn Fn(&[Slice<'_>], SliceMut<'_>) -> Result<()> + Send + Sync>;

/// An operand of a slice kernel.
#[derive(Clone, Copy)]
enum Operand<'a, T> {
    Slice(&'a [T]),
    Splat(T),
}

impl<T: Copy> Operand<'_, T> {
    #[inline(always)]
    fn at(&self, i: usize) -> T {
        match self {
            Operand::Slice(v) => v[i],
            Operand::Splat(v) => *v,
        }
    }
}

fn operand<'a, T: Value<Fam = Concrete>>(
    args: &[Slice<'a>],
    k: usize,
    n: usize,
) -> Result<Operand<'a, T>> {
    let s = args
        .get(k)
        .ok_or_else(|| Error::Internal(format!("slice kernel: no operand {k}")))?;
    let v = values::<T>(*s).ok_or_else(|| {
        Error::Internal(format!(
            "slice kernel: operand {k} is {}, expected {}",
            s.dtype(),
            T::DTYPE
        ))
    })?;
    match v.len() {
        m if m == n => Ok(Operand::Slice(v)),
        1 => Ok(Operand::Splat(v[0])),
        m => Err(Error::Internal(format!(
            "slice kernel: operand {k} has {m} elements for {n}"
        ))),
    }
}

fn output<T: Value<Fam = Concrete>>(out: SliceMut<'_>) -> Result<&mut [T]> {
    let d = out.dtype();
    values_mut::<T>(out).ok_or_else(|| {
        Error::Internal(format!(
            "slice kernel: output is {d}, expected {}",
            T::DTYPE
        ))
    })
}

/// Makes slice kernels from concrete scalar functions.
pub struct SliceMaker;

impl Maker<Concrete> for SliceMaker {
    type Out = SliceKernel;

    fn un<A: Value<Fam = Concrete>, R: Value<Fam = Concrete>>(
        self,
        f: impl Fn(A) -> R + Copy + Send + Sync + 'static,
    ) -> SliceKernel {
        Arc::new(move |args: &[Slice<'_>], out: SliceMut<'_>| {
            let o = output::<R>(out)?;
            match operand::<A>(args, 0, o.len())? {
                Operand::Slice(x) => {
                    for (o, &a) in o.iter_mut().zip(x) {
                        *o = f(a);
                    }
                }
                Operand::Splat(a) => o.fill(f(a)),
            }
            Ok(())
        })
    }

    fn bin<A: Value<Fam = Concrete>, B: Value<Fam = Concrete>, R: Value<Fam = Concrete>>(
        self,
        f: impl Fn(A, B) -> R + Copy + Send + Sync + 'static,
    ) -> SliceKernel {
        Arc::new(move |args: &[Slice<'_>], out: SliceMut<'_>| {
            let o = output::<R>(out)?;
            let n = o.len();
            match (operand::<A>(args, 0, n)?, operand::<B>(args, 1, n)?) {
                (Operand::Slice(x), Operand::Slice(y)) => {
                    for ((o, &a), &b) in o.iter_mut().zip(x).zip(y) {
                        *o = f(a, b);
                    }
                }
                (Operand::Slice(x), Operand::Splat(b)) => {
                    for (o, &a) in o.iter_mut().zip(x) {
                        *o = f(a, b);
                    }
                }
                (Operand::Splat(a), Operand::Slice(y)) => {
                    for (o, &b) in o.iter_mut().zip(y) {
                        *o = f(a, b);
                    }
                }
                (Operand::Splat(a), Operand::Splat(b)) => o.fill(f(a, b)),
            }
            Ok(())
        })
    }

    fn ter<
        A: Value<Fam = Concrete>,
        B: Value<Fam = Concrete>,
        C: Value<Fam = Concrete>,
        R: Value<Fam = Concrete>,
    >(
        self,
        f: impl Fn(A, B, C) -> R + Copy + Send + Sync + 'static,
    ) -> SliceKernel {
        Arc::new(move |args: &[Slice<'_>], out: SliceMut<'_>| {
            let o = output::<R>(out)?;
            let n = o.len();
            let (x, y, z) = (
                operand::<A>(args, 0, n)?,
                operand::<B>(args, 1, n)?,
                operand::<C>(args, 2, n)?,
            );
            match (x, y, z) {
                (Operand::Slice(x), Operand::Slice(y), Operand::Slice(z)) => {
                    for (((o, &a), &b), &c) in o.iter_mut().zip(x).zip(y).zip(z) {
                        *o = f(a, b, c);
                    }
                }
                // clamp with scalar bounds
                (Operand::Splat(a), Operand::Slice(y), Operand::Splat(c)) => {
                    for (o, &b) in o.iter_mut().zip(y) {
                        *o = f(a, b, c);
                    }
                }
                _ => {
                    for (i, o) in o.iter_mut().enumerate() {
                        *o = f(x.at(i), y.at(i), z.at(i));
                    }
                }
            }
            Ok(())
        })
    }

    fn select_n<P: Value<Fam = Concrete>, A: Value<Fam = Concrete>>(
        self,
        n: usize,
        step: impl Fn(P, u32, A, A) -> A + Copy + Send + Sync + 'static,
    ) -> SliceKernel {
        Arc::new(move |args: &[Slice<'_>], out: SliceMut<'_>| {
            let o = output::<A>(out)?;
            let len = o.len();
            let p = operand::<P>(args, 0, len)?;
            match operand::<A>(args, 1, len)? {
                Operand::Slice(c0) => o.copy_from_slice(c0),
                Operand::Splat(c0) => o.fill(c0),
            }
            for k in 1..n {
                let c = operand::<A>(args, k + 1, len)?;
                let k = k as u32;
                match (p, c) {
                    (Operand::Slice(p), Operand::Slice(c)) => {
                        for ((o, &p), &c) in o.iter_mut().zip(p).zip(c) {
                            *o = step(p, k, c, *o);
                        }
                    }
                    (Operand::Slice(p), Operand::Splat(c)) => {
                        for (o, &p) in o.iter_mut().zip(p) {
                            *o = step(p, k, c, *o);
                        }
                    }
                    (Operand::Splat(p), Operand::Slice(c)) => {
                        for (o, &c) in o.iter_mut().zip(c) {
                            *o = step(p, k, c, *o);
                        }
                    }
                    (Operand::Splat(p), Operand::Splat(c)) => {
                        for o in o.iter_mut() {
                            *o = step(p, k, c, *o);
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

/// Records the DAG of a symbolic scalar function.
pub struct SymMaker;

impl Maker<Symbolic> for SymMaker {
    type Out = Graph;

    fn un<A: Value<Fam = Symbolic>, R: Value<Fam = Symbolic>>(
        self,
        f: impl Fn(A) -> R + Copy + Send + Sync + 'static,
    ) -> Graph {
        sym::record(|| f(sym::input(0)))
    }

    fn bin<A: Value<Fam = Symbolic>, B: Value<Fam = Symbolic>, R: Value<Fam = Symbolic>>(
        self,
        f: impl Fn(A, B) -> R + Copy + Send + Sync + 'static,
    ) -> Graph {
        sym::record(|| f(sym::input(0), sym::input(1)))
    }

    fn ter<
        A: Value<Fam = Symbolic>,
        B: Value<Fam = Symbolic>,
        C: Value<Fam = Symbolic>,
        R: Value<Fam = Symbolic>,
    >(
        self,
        f: impl Fn(A, B, C) -> R + Copy + Send + Sync + 'static,
    ) -> Graph {
        sym::record(|| f(sym::input(0), sym::input(1), sym::input(2)))
    }

    fn select_n<P: Value<Fam = Symbolic>, A: Value<Fam = Symbolic>>(
        self,
        n: usize,
        step: impl Fn(P, u32, A, A) -> A + Copy + Send + Sync + 'static,
    ) -> Graph {
        sym::record(|| {
            let p: P = sym::input(0);
            let mut acc: A = sym::input(1);
            for k in 1..n {
                acc = step(p, k as u32, sym::input(k + 1), acc);
            }
            acc
        })
    }
}
