//! Elementwise binary ops and comparisons, with lax's broadcasting: operands
//! have equal rank and size-1 dims broadcast, or an operand is rank 0 (as in
//! JAX, where `mul a 2.0:f32[]` appears in jaxprs).
use super::scalar::{Bits, Int, Num};
use super::unary::{Math, Real};
use super::{Kernel, OpSpec, Registry};
use crate::base::buffer::{numel, strides, Buffer};
use crate::base::dtype::{DType, Element};
use crate::base::error::{shape_err, Result};
use crate::loops::parallel::{par_fill, GRAIN};

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

/// `typed_binary!(registry, "name", Trait, kind, |x, y| expr)`: a same-dtype
/// op over the dtypes of `kind` whose scalar type implements `Trait`.
macro_rules! typed_binary {
    ($r:expr, $name:literal, $tr:ident, $kind:ident, |$x:ident, $y:ident| $body:expr) => {{
        fn scalar<T: $tr>($x: T, $y: T) -> T {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(2, 1)?;
            let shape = spec.outs[0].shape.clone();
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<T, T, T>($name, ins[0], ins[1], &shape, scalar::<T>)?])
                }) as Kernel)
            }, $kind)
        });
    }};
}

/// `float_binary!(registry, "name", |x, y| expr)`: generic over `M: Math`,
/// computed in the dtype's compute type (f32 for f16/bf16).
macro_rules! float_binary {
    ($r:expr, $name:literal, |$x:ident, $y:ident| $body:expr) => {{
        fn scalar<M: Math>($x: M, $y: M) -> M {
            $body
        }
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(2, 1)?;
            let shape = spec.outs[0].shape.clone();
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<T, T, T>($name, ins[0], ins[1], &shape,
                        |a: T, b: T| T::down(scalar(a.up(), b.up())))?])
                }) as Kernel)
            }, float)
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

/// max/min: NaN-propagating for floats (`Num`), or/and for bool.
macro_rules! min_max {
    ($r:expr, $name:literal, $f:ident, $bool_f:ident) => {{
        $r.add($name, |spec: &OpSpec| -> Result<Kernel> {
            spec.arity(2, 1)?;
            let shape = spec.outs[0].shape.clone();
            if spec.ins[0].dtype == DType::Bool {
                return Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<bool, bool, bool>($name, ins[0], ins[1], &shape, Bits::$bool_f)?])
                }));
            }
            crate::dispatch_dtype!(spec.ins[0].dtype, $name, T => {
                Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<T, T, T>($name, ins[0], ins[1], &shape, Num::$f)?])
                }) as Kernel)
            }, numeric)
        });
    }};
}

/// pow: float ** float (same dtype) or float ** integer (any int dtype; done
/// by repeated squaring, as JAX lowers it).
fn build_pow(spec: &OpSpec) -> Result<Kernel> {
    spec.arity(2, 1)?;
    let shape = spec.outs[0].shape.clone();
    let ydt = spec.ins[1].dtype;
    crate::dispatch_dtype!(spec.ins[0].dtype, "pow", T => {
        if ydt.is_int() {
            crate::dispatch_dtype!(ydt, "pow", Y => {
                Ok(Box::new(move |ins: &[&Buffer]| {
                    Ok(vec![map2::<T, Y, T>("pow", ins[0], ins[1], &shape, |a: T, b: Y| {
                        let b = b.to_f64().clamp(i64::MIN as f64, i64::MAX as f64) as i64;
                        T::down(Num::ipow(a.up(), b))
                    })?])
                }) as Kernel)
            }, int)
        } else {
            crate::ensure!(ydt == spec.ins[0].dtype, crate::base::error::dtype_err("pow", ydt));
            Ok(Box::new(move |ins: &[&Buffer]| {
                Ok(vec![map2::<T, T, T>("pow", ins[0], ins[1], &shape,
                    |a: T, b: T| T::down(a.up().powf(b.up())))?])
            }) as Kernel)
        }
    }, float)
}

pub fn register(r: &mut Registry) {
    typed_binary!(r, "add", Num, numeric, |x, y| x.add(y));
    typed_binary!(r, "sub", Num, numeric, |x, y| x.sub(y));
    typed_binary!(r, "mul", Num, numeric, |x, y| x.mul(y));
    typed_binary!(r, "div", Num, numeric, |x, y| x.div(y));
    typed_binary!(r, "rem", Num, numeric, |x, y| x.rem(y));
    min_max!(r, "max", max, or);
    min_max!(r, "min", min, and);
    typed_binary!(r, "and", Bits, intbool, |x, y| x.and(y));
    typed_binary!(r, "or", Bits, intbool, |x, y| x.or(y));
    typed_binary!(r, "xor", Bits, intbool, |x, y| x.xor(y));
    typed_binary!(r, "shift_left", Int, int, |x, y| x.shl(y));
    typed_binary!(r, "shift_right_logical", Int, int, |x, y| x.shr_logical(y));
    typed_binary!(r, "shift_right_arithmetic", Int, int, |x, y| x
        .shr_arithmetic(y));
    typed_binary!(r, "nextafter", Real, float, |x, y| x.next_after(y));
    float_binary!(r, "atan2", |x, y| x.atan2(y));
    r.add("pow", build_pow);
    compare!(r, "eq", |x, y| x == y);
    compare!(r, "ne", |x, y| x != y);
    compare!(r, "lt", |x, y| x < y);
    compare!(r, "le", |x, y| x <= y);
    compare!(r, "gt", |x, y| x > y);
    compare!(r, "ge", |x, y| x >= y);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::params::Params;
    use crate::ops::{build, Aval};

    fn run2<A: Element, B: Element, U: Element>(op: &str, a: &[A], b: &[B], out: DType) -> Vec<U> {
        let p = Params::new(op);
        let n = a.len().max(b.len());
        let sh = |v: usize| if v == 1 && n != 1 { vec![] } else { vec![v] };
        let ins = [
            Aval::new(A::DTYPE, sh(a.len())),
            Aval::new(B::DTYPE, sh(b.len())),
        ];
        let outs = [Aval::new(out, vec![n])];
        let k = build(&OpSpec {
            params: &p,
            ins: &ins,
            outs: &outs,
        })
        .unwrap();
        let ba = Buffer::from_vec(ins[0].shape.clone(), a).unwrap();
        let bb = Buffer::from_vec(ins[1].shape.clone(), b).unwrap();
        k(&[&ba, &bb]).unwrap()[0].slice::<U>().unwrap().to_vec()
    }

    #[test]
    fn integer_semantics() {
        let r: Vec<i32> = run2("div", &[7, i32::MIN, -7], &[0, -1, 2], DType::I32);
        assert_eq!(r, [-1, i32::MIN, -3]);
        let r: Vec<i32> = run2("rem", &[7, i32::MIN, -7], &[0, -1, 2], DType::I32);
        assert_eq!(r, [7, 0, -1]);
        let r: Vec<i32> = run2("shift_left", &[1, 1, 1], &[3, 32, -1], DType::I32);
        assert_eq!(r, [8, 0, 0]);
        let r: Vec<i32> = run2(
            "shift_right_arithmetic",
            &[-8, -8, 8],
            &[1, 40, 40],
            DType::I32,
        );
        assert_eq!(r, [-4, -1, 0]);
        let r: Vec<u8> = run2("shift_right_arithmetic", &[200u8], &[1u8], DType::U8);
        assert_eq!(r, [228]);
        let r: Vec<i32> = run2("shift_right_logical", &[-8, -8], &[28, 32], DType::I32);
        assert_eq!(r, [15, 0]);
        let r: Vec<bool> = run2("max", &[true, false], &[false, false], DType::Bool);
        assert_eq!(r, [true, false]);
    }

    #[test]
    fn float_ops() {
        let r: Vec<f32> = run2("pow", &[2.0f32, 2.0, -2.0], &[3i32, -1, 3], DType::F32);
        assert_eq!(r, [8.0, 0.5, -8.0]);
        let r: Vec<f32> = run2("pow", &[0.0f32, 4.0], &[0.0f32, 0.5], DType::F32);
        assert_eq!(r, [1.0, 2.0]);
        let r: Vec<f64> = run2("atan2", &[1.0f64], &[1.0f64], DType::F64);
        assert!((r[0] - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
        let r: Vec<f32> = run2("max", &[f32::NAN, 1.0], &[1.0f32, 2.0], DType::F32);
        assert!(r[0].is_nan() && r[1] == 2.0);
    }
}
