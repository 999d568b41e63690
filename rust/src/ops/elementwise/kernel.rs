//! The two makers: slice kernels (concrete) and DAGs (symbolic).
use super::Maker;
use crate::base::dtype::DType;
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

#[inline]
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

#[inline]
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

/// Elements converted per step in the kernels that widen (f16/bf16).
const STAGE: usize = 256;

/// `dst[i] = src[i]` cast (the `cast` primitive); f16/bf16 <-> f32 use
/// `half`'s slice conversions (SIMD where the CPU has it, the same bits).
#[inline(always)]
fn convert<A: Value<Fam = Concrete>, B: Value<Fam = Concrete>>(src: &[A], dst: &mut [B]) {
    use half::f16;
    use half::slice::HalfFloatSliceExt;
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    // SAFETY (all casts below): the concrete family is sealed, so a value
    // type with a given DTYPE is that dtype's storage type.
    match (A::DTYPE, B::DTYPE) {
        // SAFETY: the value types are f16 and f32 (sealed family), `n`
        // elements each, and `dst` is a distinct `&mut`.
        (DType::F16, DType::F32) => unsafe {
            std::slice::from_raw_parts(src.as_ptr() as *const f16, n).convert_to_f32_slice(
                std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut f32, n),
            )
        },
        // SAFETY: bf16/f32 are u16/u32 newtypes of the same size, `n` each.
        (DType::BF16, DType::F32) => unsafe {
            // half's `bf16::to_f32`, without branches: NaNs become quiet
            let (s, d) = (
                std::slice::from_raw_parts(src.as_ptr() as *const u16, n),
                std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut u32, n),
            );
            for (d, &b) in d.iter_mut().zip(s) {
                let nan = (b & 0x7fff) > 0x7f80;
                *d = ((b as u32) | ((nan as u32) << 6)) << 16;
            }
        },
        // SAFETY: the value types are f32 and f16, `n` elements each.
        (DType::F32, DType::F16) => unsafe {
            std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut f16, n)
                .convert_from_f32_slice(std::slice::from_raw_parts(src.as_ptr() as *const f32, n))
        },
        // SAFETY: f32/bf16 are u32/u16 of the same size, `n` each.
        (DType::F32, DType::BF16) => unsafe {
            // half's `bf16::from_f32` (round to nearest even; NaNs quiet),
            // without branches
            let (s, d) = (
                std::slice::from_raw_parts(src.as_ptr() as *const u32, n),
                std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut u16, n),
            );
            for (d, &x) in d.iter_mut().zip(s) {
                let nan = (x & 0x7fff_ffff) > 0x7f80_0000;
                let up = (x & 0x8000) != 0 && (x & 0x1_7fff) != 0;
                let r = (x >> 16) + up as u32;
                *d = if nan { (x >> 16) | 0x40 } else { r } as u16;
            }
        },
        _ => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s.cast();
            }
        }
    }
}

/// Operand `x`, widened to `C`, for elements `[i, i + m)` into `buf`.
#[inline(always)]
fn widen<S: Value<Fam = Concrete>, C: Value<Fam = Concrete>>(
    x: &Operand<'_, S>,
    i: usize,
    m: usize,
    buf: &mut [C; STAGE],
) {
    if let Operand::Slice(v) = x {
        convert(&v[i..i + m], &mut buf[..m]);
    }
}

impl Maker<Concrete> for SliceMaker {
    type Out = SliceKernel;

    fn lift1<
        S: Value<Fam = Concrete>,
        C: Value<Fam = Concrete>,
        R: Value<Fam = Concrete>,
        O: Value<Fam = Concrete>,
    >(
        self,
        f: impl Fn(C) -> R + Copy + Send + Sync + 'static,
    ) -> SliceKernel {
        if S::DTYPE == C::DTYPE && R::DTYPE == O::DTYPE {
            return self.un(move |x: S| f(x.cast::<C>()).cast::<O>());
        }
        // Widen a stage of operands, compute, round a stage of results: each
        // loop stays a plain (vectorised) loop.
        Arc::new(move |args: &[Slice<'_>], out: SliceMut<'_>| {
            let o = output::<O>(out)?;
            let n = o.len();
            let x = operand::<S>(args, 0, n)?;
            if let Operand::Splat(a) = x {
                o.fill(f(a.cast()).cast());
                return Ok(());
            }
            let mut xb = [false.cast::<C>(); STAGE];
            let mut rb = [false.cast::<R>(); STAGE];
            let mut i = 0;
            while i < n {
                let m = STAGE.min(n - i);
                widen(&x, i, m, &mut xb);
                for (r, &a) in rb[..m].iter_mut().zip(&xb[..m]) {
                    *r = f(a);
                }
                convert(&rb[..m], &mut o[i..i + m]);
                i += m;
            }
            Ok(())
        })
    }

    fn lift2<
        S: Value<Fam = Concrete>,
        C: Value<Fam = Concrete>,
        R: Value<Fam = Concrete>,
        O: Value<Fam = Concrete>,
    >(
        self,
        f: impl Fn(C, C) -> R + Copy + Send + Sync + 'static,
    ) -> SliceKernel {
        if S::DTYPE == C::DTYPE && R::DTYPE == O::DTYPE {
            return self.bin(move |x: S, y: S| f(x.cast::<C>(), y.cast::<C>()).cast::<O>());
        }
        Arc::new(move |args: &[Slice<'_>], out: SliceMut<'_>| {
            let o = output::<O>(out)?;
            let n = o.len();
            let (x, y) = (operand::<S>(args, 0, n)?, operand::<S>(args, 1, n)?);
            if n == 0 {
                return Ok(());
            }
            // splat operands are widened once
            let mut xb = [x.at(0).cast::<C>(); STAGE];
            let mut yb = [y.at(0).cast::<C>(); STAGE];
            let mut rb = [false.cast::<R>(); STAGE];
            let mut i = 0;
            while i < n {
                let m = STAGE.min(n - i);
                widen(&x, i, m, &mut xb);
                widen(&y, i, m, &mut yb);
                for ((r, &a), &b) in rb[..m].iter_mut().zip(&xb[..m]).zip(&yb[..m]) {
                    *r = f(a, b);
                }
                convert(&rb[..m], &mut o[i..i + m]);
                i += m;
            }
            Ok(())
        })
    }

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
            let c0 = operand::<A>(args, 1, len)?;
            if n == 2 {
                // one pass: `step(p, 1, c1, c0)`
                let c1 = operand::<A>(args, 2, len)?;
                if let (Operand::Slice(p), Operand::Slice(c1), Operand::Slice(c0)) = (p, c1, c0) {
                    for (((o, &p), &a), &b) in o.iter_mut().zip(p).zip(c1).zip(c0) {
                        *o = step(p, 1, a, b);
                    }
                } else {
                    for (i, o) in o.iter_mut().enumerate() {
                        *o = step(p.at(i), 1, c1.at(i), c0.at(i));
                    }
                }
                return Ok(());
            }
            match c0 {
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
    const COMPLEX: bool = false;

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

#[cfg(test)]
mod tests {
    use super::convert;
    use half::bf16;

    #[test]
    fn bf16_conversions_are_halfs() {
        let all: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        let mut wide = vec![0f32; all.len()];
        convert(&all, &mut wide);
        for (h, w) in all.iter().zip(&wide) {
            assert_eq!(h.to_f32().to_bits(), w.to_bits(), "{h:?}");
        }
        let xs: Vec<f32> = (0..=u32::MAX >> 7)
            .map(|i| f32::from_bits(i << 7 | (i & 0x7f)))
            .collect();
        let mut narrow = vec![bf16::ZERO; xs.len()];
        convert(&xs, &mut narrow);
        for (x, h) in xs.iter().zip(&narrow) {
            assert_eq!(bf16::from_f32(*x).to_bits(), h.to_bits(), "{x:e}");
        }
    }
}
