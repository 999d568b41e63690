//! The symbolic evaluator: `Sym<T>` values record each primitive they go
//! through as a node of a DAG (`record`), and `eval` interprets a recorded
//! DAG with the concrete primitives. Code generators walk the same DAG.
//!
//! Conversions of f16/bf16 to f32 are explicit `Cast` nodes: comparisons of
//! f16/bf16 values are recorded as comparisons of their f32 values, so a DAG
//! has no f16/bf16 arithmetic.
use super::concrete::Raw;
use super::{sealed, Bits, Ext1, Ext2, Family, Float, FloatBits, Int, Num, Value};
use crate::base::dtype::DType;
use crate::base::error::{Error, Result};
use half::{bf16, f16};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The family of symbolic values.
#[derive(Clone, Copy, Debug)]
pub struct Symbolic;

impl Family for Symbolic {
    type Bool = Sym<bool>;
    type I8 = Sym<i8>;
    type I16 = Sym<i16>;
    type I32 = Sym<i32>;
    type I64 = Sym<i64>;
    type U8 = Sym<u8>;
    type U16 = Sym<u16>;
    type U32 = Sym<u32>;
    type U64 = Sym<u64>;
    type F16 = Sym<f16>;
    type BF16 = Sym<bf16>;
    type F32 = Sym<f32>;
    type F64 = Sym<f64>;
}

/// A primitive operation (see the scalar module's docs for the semantics).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prim {
    /// Operand `k` of the op.
    Input(usize),
    /// A constant, as raw bits of the node's dtype.
    Const(u64),
    Select,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Cast,
    And,
    Or,
    Xor,
    Not,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Neg,
    Abs,
    Min,
    Max,
    Shl,
    ShrLogical,
    ShrArith,
    Popcount,
    Clz,
    ToBits,
    FromBits,
    Sqrt,
    Floor,
    Ceil,
    Trunc,
    RoundEven,
    Ext1(Ext1),
    Ext2(Ext2),
}

/// A node: a primitive, its argument nodes, and its result dtype.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub prim: Prim,
    pub args: Vec<usize>,
    pub dtype: DType,
}

/// A recorded scalar function: nodes in evaluation order, and the node of
/// its result.
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub output: usize,
}

thread_local! {
    static NODES: RefCell<Vec<Node>> = const { RefCell::new(Vec::new()) };
}

fn push(prim: Prim, args: Vec<usize>, dtype: DType) -> usize {
    NODES.with(|n| {
        let mut n = n.borrow_mut();
        n.push(Node { prim, args, dtype });
        n.len() - 1
    })
}

/// A symbolic value of type `T`: a node of the graph being recorded.
pub struct Sym<T> {
    id: usize,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Sym<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Sym<T> {}

impl<T> Sym<T> {
    fn at(id: usize) -> Sym<T> {
        Sym {
            id,
            _t: PhantomData,
        }
    }
    pub fn id(self) -> usize {
        self.id
    }
}

/// The node of any symbolic value.
pub fn id_of<V: Value<Fam = Symbolic>>(v: V) -> usize {
    assert!(!V::DTYPE.is_complex(), "symbolic complex values are pairs");
    // SAFETY: the symbolic family is sealed: its value types are `Sym<_>`,
    // which all have the layout of `Sym<()>`.
    unsafe { std::mem::transmute_copy::<V, Sym<()>>(&v) }.id
}

/// The symbolic value of node `id`, typed `V`.
fn of_id<V: Value<Fam = Symbolic>>(id: usize) -> V {
    // complex values are pairs of nodes: makers never record them
    // (`Maker::COMPLEX`), and this guards the transmute below
    assert!(!V::DTYPE.is_complex(), "symbolic complex values are pairs");
    // SAFETY: as in `id_of`.
    unsafe { std::mem::transmute_copy::<Sym<()>, V>(&Sym::at(id)) }
}

/// Operand `k` of the function being recorded.
pub fn input<V: Value<Fam = Symbolic>>(k: usize) -> V {
    of_id(push(Prim::Input(k), vec![], V::DTYPE))
}

/// Record the graph of `f`, which builds its inputs with `input` and
/// returns its result.
pub fn record<V: Value<Fam = Symbolic>>(f: impl FnOnce() -> V) -> Graph {
    let saved = NODES.with(|n| std::mem::take(&mut *n.borrow_mut()));
    let out = f();
    let nodes = NODES.with(|n| std::mem::replace(&mut *n.borrow_mut(), saved));
    Graph {
        nodes,
        output: id_of(out),
    }
}

fn node<T: Raw, R: Raw>(prim: Prim, args: &[usize]) -> Sym<R> {
    let _ = T::DTYPE;
    Sym::at(push(prim, args.to_vec(), R::DTYPE))
}

fn konst<T: Raw>(v: T) -> Sym<T> {
    Sym::at(push(Prim::Const(v.to_raw()), vec![], T::DTYPE))
}

impl<T: Raw> sealed::Sealed for Sym<T> {}

impl<T: Raw> Sym<T> {
    /// For comparisons: f16/bf16 compare as f32 (an explicit cast node).
    fn comparable(self) -> usize {
        match T::DTYPE {
            DType::F16 | DType::BF16 => push(Prim::Cast, vec![self.id], DType::F32),
            _ => self.id,
        }
    }
    fn cmp(self, prim: Prim, o: Self) -> Sym<bool> {
        let (a, b) = (self.comparable(), o.comparable());
        Sym::at(push(prim, vec![a, b], DType::Bool))
    }
}

impl<T: Raw> Value for Sym<T> {
    type Fam = Symbolic;
    const DTYPE: DType = T::DTYPE;
    fn select(m: Sym<bool>, a: Self, b: Self) -> Self {
        node::<T, T>(Prim::Select, &[m.id, a.id, b.id])
    }
    fn eq(self, o: Self) -> Sym<bool> {
        self.cmp(Prim::Eq, o)
    }
    fn ne(self, o: Self) -> Sym<bool> {
        self.cmp(Prim::Ne, o)
    }
    fn lt(self, o: Self) -> Sym<bool> {
        self.cmp(Prim::Lt, o)
    }
    fn le(self, o: Self) -> Sym<bool> {
        self.cmp(Prim::Le, o)
    }
    fn gt(self, o: Self) -> Sym<bool> {
        self.cmp(Prim::Gt, o)
    }
    fn ge(self, o: Self) -> Sym<bool> {
        self.cmp(Prim::Ge, o)
    }
    fn cast<U: Value<Fam = Symbolic>>(self) -> U {
        if U::DTYPE.is_complex() {
            return super::complex::real_to_complex(self);
        }
        if U::DTYPE == T::DTYPE {
            return of_id(self.id);
        }
        of_id(push(Prim::Cast, vec![self.id], U::DTYPE))
    }
}

impl<T: Raw + Bits> Bits for Sym<T> {
    fn and(self, o: Self) -> Self {
        node::<T, T>(Prim::And, &[self.id, o.id])
    }
    fn or(self, o: Self) -> Self {
        node::<T, T>(Prim::Or, &[self.id, o.id])
    }
    fn xor(self, o: Self) -> Self {
        node::<T, T>(Prim::Xor, &[self.id, o.id])
    }
    fn not(self) -> Self {
        node::<T, T>(Prim::Not, &[self.id])
    }
    fn zeros() -> Self {
        konst(T::zeros())
    }
    fn ones() -> Self {
        konst(T::ones())
    }
}

impl<T: Raw + Num> Num for Sym<T> {
    fn zero() -> Self {
        konst(T::zero())
    }
    fn one() -> Self {
        konst(T::one())
    }
    fn lowest() -> Self {
        konst(T::lowest())
    }
    fn highest() -> Self {
        konst(T::highest())
    }
    fn add(self, o: Self) -> Self {
        node::<T, T>(Prim::Add, &[self.id, o.id])
    }
    fn sub(self, o: Self) -> Self {
        node::<T, T>(Prim::Sub, &[self.id, o.id])
    }
    fn mul(self, o: Self) -> Self {
        node::<T, T>(Prim::Mul, &[self.id, o.id])
    }
    fn div(self, o: Self) -> Self {
        node::<T, T>(Prim::Div, &[self.id, o.id])
    }
    fn rem(self, o: Self) -> Self {
        node::<T, T>(Prim::Rem, &[self.id, o.id])
    }
    fn neg(self) -> Self {
        node::<T, T>(Prim::Neg, &[self.id])
    }
    fn abs(self) -> Self {
        node::<T, T>(Prim::Abs, &[self.id])
    }
    fn min(self, o: Self) -> Self {
        node::<T, T>(Prim::Min, &[self.id, o.id])
    }
    fn max(self, o: Self) -> Self {
        node::<T, T>(Prim::Max, &[self.id, o.id])
    }
}

impl<T: Raw + Int> Int for Sym<T> {
    const BITS: u32 = T::BITS;
    const SIGNED: bool = T::SIGNED;
    fn c(v: i128) -> Self {
        konst(T::c(v))
    }
    fn shl(self, s: Self) -> Self {
        node::<T, T>(Prim::Shl, &[self.id, s.id])
    }
    fn shr_logical(self, s: Self) -> Self {
        node::<T, T>(Prim::ShrLogical, &[self.id, s.id])
    }
    fn shr_arith(self, s: Self) -> Self {
        node::<T, T>(Prim::ShrArith, &[self.id, s.id])
    }
    fn popcount(self) -> Self {
        node::<T, T>(Prim::Popcount, &[self.id])
    }
    fn clz(self) -> Self {
        node::<T, T>(Prim::Clz, &[self.id])
    }
}

impl<T: Raw + FloatBits> FloatBits for Sym<T>
where
    T::Bits: Raw,
{
    type Bits = Sym<T::Bits>;
    fn to_bits(self) -> Sym<T::Bits> {
        node::<T, T::Bits>(Prim::ToBits, &[self.id])
    }
    fn from_bits(b: Sym<T::Bits>) -> Self {
        node::<T::Bits, T>(Prim::FromBits, &[b.id])
    }
}

impl<T: Raw + Float> Float for Sym<T>
where
    T::Bits: Raw,
{
    fn c(v: f64) -> Self {
        konst(T::c(v))
    }
    fn sqrt(self) -> Self {
        node::<T, T>(Prim::Sqrt, &[self.id])
    }
    fn floor(self) -> Self {
        node::<T, T>(Prim::Floor, &[self.id])
    }
    fn ceil(self) -> Self {
        node::<T, T>(Prim::Ceil, &[self.id])
    }
    fn trunc(self) -> Self {
        node::<T, T>(Prim::Trunc, &[self.id])
    }
    fn round_even(self) -> Self {
        node::<T, T>(Prim::RoundEven, &[self.id])
    }
    fn ext1(self, f: Ext1) -> Self {
        node::<T, T>(Prim::Ext1(f), &[self.id])
    }
    fn ext2(self, f: Ext2, o: Self) -> Self {
        node::<T, T>(Prim::Ext2(f), &[self.id, o.id])
    }
}

macro_rules! sym_op {
    ($tr:ident, $m:ident, $num:ident) => {
        impl<T: Raw + Float> $tr for Sym<T>
        where
            T::Bits: Raw,
        {
            type Output = Self;
            fn $m(self, o: Self) -> Self {
                Num::$num(self, o)
            }
        }
    };
}
sym_op!(Add, add, add);
sym_op!(Sub, sub, sub);
sym_op!(Mul, mul, mul);
sym_op!(Div, div, div);

impl<T: Raw + Float> Neg for Sym<T>
where
    T::Bits: Raw,
{
    type Output = Self;
    fn neg(self) -> Self {
        Num::neg(self)
    }
}

// ---------------------------------------------------------------------------
// The reference interpreter

/// `$body` with `T` bound to the concrete type of `$dt`, for the dtypes of
/// a primitive's kind; any other dtype is an error.
macro_rules! typed {
    ($dt:expr, $T:ident => $body:expr; $($d:ident => $t:ty),*) => {
        match $dt {
            $( DType::$d => { type $T = $t; $body } )*
            #[allow(unreachable_patterns)]
            d => return Err(Error::Internal(format!("interpreter: no such primitive on {d}"))),
        }
    };
}
macro_rules! all_types {
    ($dt:expr, $T:ident => $body:expr) => {
        typed!($dt, $T => $body; Bool => bool, I8 => i8, I16 => i16, I32 => i32, I64 => i64,
               U8 => u8, U16 => u16, U32 => u32, U64 => u64, F16 => f16, BF16 => bf16,
               F32 => f32, F64 => f64)
    };
}
macro_rules! bits_types {
    ($dt:expr, $T:ident => $body:expr) => {
        typed!($dt, $T => $body; Bool => bool, I8 => i8, I16 => i16, I32 => i32, I64 => i64,
               U8 => u8, U16 => u16, U32 => u32, U64 => u64)
    };
}
macro_rules! num_types {
    ($dt:expr, $T:ident => $body:expr) => {
        typed!($dt, $T => $body; I8 => i8, I16 => i16, I32 => i32, I64 => i64,
               U8 => u8, U16 => u16, U32 => u32, U64 => u64, F16 => f16, BF16 => bf16,
               F32 => f32, F64 => f64)
    };
}
macro_rules! int_types {
    ($dt:expr, $T:ident => $body:expr) => {
        typed!($dt, $T => $body; I8 => i8, I16 => i16, I32 => i32, I64 => i64,
               U8 => u8, U16 => u16, U32 => u32, U64 => u64)
    };
}
macro_rules! float_bits_types {
    ($dt:expr, $T:ident => $body:expr) => {
        typed!($dt, $T => $body; F16 => f16, BF16 => bf16, F32 => f32, F64 => f64)
    };
}
macro_rules! float_types {
    ($dt:expr, $T:ident => $body:expr) => {
        typed!($dt, $T => $body; F32 => f32, F64 => f64)
    };
}

/// Evaluate `g` on `inputs` (raw bits of the operands' dtypes) with the
/// concrete primitives; returns the raw bits of the result.
pub fn eval(g: &Graph, inputs: &[u64]) -> Result<u64> {
    let mut v: Vec<u64> = Vec::with_capacity(g.nodes.len());
    for n in &g.nodes {
        let arg = |k: usize| -> Result<(u64, DType)> {
            let a = *n
                .args
                .get(k)
                .ok_or_else(|| Error::Internal("interpreter: missing argument".into()))?;
            Ok((v[a], g.nodes[a].dtype))
        };
        let r = match n.prim {
            Prim::Input(k) => *inputs
                .get(k)
                .ok_or_else(|| Error::Internal(format!("interpreter: no input {k}")))?,
            Prim::Const(b) => b,
            Prim::Select => {
                let (m, _) = arg(0)?;
                let ((a, _), (b, _)) = (arg(1)?, arg(2)?);
                all_types!(n.dtype, T => <T as Value>::select(m != 0, T::from_raw(a), T::from_raw(b)).to_raw())
            }
            Prim::Eq | Prim::Ne | Prim::Lt | Prim::Le | Prim::Gt | Prim::Ge => {
                let ((a, d), (b, _)) = (arg(0)?, arg(1)?);
                let (p, q) = (a, b);
                all_types!(d, T => {
                    let (a, b) = (T::from_raw(p), T::from_raw(q));
                    let r = match n.prim {
                        Prim::Eq => Value::eq(a, b),
                        Prim::Ne => Value::ne(a, b),
                        Prim::Lt => Value::lt(a, b),
                        Prim::Le => Value::le(a, b),
                        Prim::Gt => Value::gt(a, b),
                        _ => Value::ge(a, b),
                    };
                    r as u64
                })
            }
            Prim::Cast => {
                let (a, d) = arg(0)?;
                all_types!(d, S => {
                    let s = S::from_raw(a);
                    all_types!(n.dtype, T => Value::cast::<T>(s).to_raw())
                })
            }
            Prim::And | Prim::Or | Prim::Xor | Prim::Not => {
                let (a, _) = arg(0)?;
                let b = if n.prim == Prim::Not { 0 } else { arg(1)?.0 };
                bits_types!(n.dtype, T => {
                    let (a, b) = (T::from_raw(a), T::from_raw(b));
                    match n.prim {
                        Prim::And => Bits::and(a, b),
                        Prim::Or => Bits::or(a, b),
                        Prim::Xor => Bits::xor(a, b),
                        _ => Bits::not(a),
                    }
                    .to_raw()
                })
            }
            Prim::Add
            | Prim::Sub
            | Prim::Mul
            | Prim::Div
            | Prim::Rem
            | Prim::Min
            | Prim::Max
            | Prim::Neg
            | Prim::Abs => {
                let (a, _) = arg(0)?;
                let b = if matches!(n.prim, Prim::Neg | Prim::Abs) {
                    0
                } else {
                    arg(1)?.0
                };
                num_types!(n.dtype, T => {
                    let (a, b) = (T::from_raw(a), T::from_raw(b));
                    match n.prim {
                        Prim::Add => Num::add(a, b),
                        Prim::Sub => Num::sub(a, b),
                        Prim::Mul => Num::mul(a, b),
                        Prim::Div => Num::div(a, b),
                        Prim::Rem => Num::rem(a, b),
                        Prim::Min => Num::min(a, b),
                        Prim::Max => Num::max(a, b),
                        Prim::Neg => Num::neg(a),
                        _ => Num::abs(a),
                    }
                    .to_raw()
                })
            }
            Prim::Shl | Prim::ShrLogical | Prim::ShrArith | Prim::Popcount | Prim::Clz => {
                let (a, _) = arg(0)?;
                let b = if matches!(n.prim, Prim::Popcount | Prim::Clz) {
                    0
                } else {
                    arg(1)?.0
                };
                int_types!(n.dtype, T => {
                    let (a, b) = (T::from_raw(a), T::from_raw(b));
                    match n.prim {
                        Prim::Shl => Int::shl(a, b),
                        Prim::ShrLogical => Int::shr_logical(a, b),
                        Prim::ShrArith => Int::shr_arith(a, b),
                        Prim::Popcount => Int::popcount(a),
                        _ => Int::clz(a),
                    }
                    .to_raw()
                })
            }
            Prim::ToBits => {
                let (a, d) = arg(0)?;
                float_bits_types!(d, T => FloatBits::to_bits(T::from_raw(a)).to_raw())
            }
            Prim::FromBits => {
                let (a, _) = arg(0)?;
                float_bits_types!(n.dtype, T => <T as FloatBits>::from_bits(Raw::from_raw(a)).to_raw())
            }
            Prim::Sqrt
            | Prim::Floor
            | Prim::Ceil
            | Prim::Trunc
            | Prim::RoundEven
            | Prim::Ext1(_)
            | Prim::Ext2(_) => {
                let (a, _) = arg(0)?;
                let b = if matches!(n.prim, Prim::Ext2(_)) {
                    arg(1)?.0
                } else {
                    0
                };
                float_types!(n.dtype, T => {
                    let (a, b) = (T::from_raw(a), T::from_raw(b));
                    match n.prim {
                        Prim::Sqrt => Float::sqrt(a),
                        Prim::Floor => Float::floor(a),
                        Prim::Ceil => Float::ceil(a),
                        Prim::Trunc => Float::trunc(a),
                        Prim::RoundEven => Float::round_even(a),
                        Prim::Ext1(f) => Float::ext1(a, f),
                        Prim::Ext2(f) => Float::ext2(a, f, b),
                        _ => unreachable!("matched above"),
                    }
                    .to_raw()
                })
            }
        };
        v.push(r);
    }
    v.get(g.output)
        .copied()
        .ok_or_else(|| Error::Internal("interpreter: no output node".into()))
}
