//! Test helpers: every signature an elementwise entry supports, and sample
//! operands full of special values. Shared by the scalar layer's symbolic
//! test and by the fusion tests.
use super::Sig;
use crate::base::dtype::{Complex, DType};
use crate::base::params::{Param, Params};
use crate::base::slice::Col;
use crate::ops::table::OpDef;
use half::{bf16, f16};

/// One way to call an op: params, operand dtypes, result dtype.
#[derive(Clone, Debug)]
pub struct Case {
    pub params: Params,
    pub ins: Vec<DType>,
    pub out: DType,
}

/// The param variants an op is tested with.
fn param_variants(name: &str) -> Vec<Params> {
    let p = Params::new(name);
    match name {
        "integer_pow" => [0, 1, 2, 3, 5, -1, -2]
            .iter()
            .map(|&y| p.clone().with("y", Param::Int(y)))
            .collect(),
        "round" => [0, 1]
            .iter()
            .map(|&m| p.clone().with("rounding_method", Param::Int(m)))
            .collect(),
        "convert_element_type" => vec![p],
        _ => vec![p],
    }
}

/// Every (params, operand dtypes, result dtype) of entry `def` whose dtype
/// is `d`.
pub fn cases(def: &OpDef, d: DType) -> Vec<Case> {
    let Some(e) = def.elementwise_kind() else {
        return vec![];
    };
    let mut out = Vec::new();
    for params in param_variants(def.name) {
        let mut add = |ins: Vec<DType>, o: DType| {
            out.push(Case {
                params: params.clone(),
                ins,
                out: o,
            })
        };
        match e.sig {
            Sig::Same(n) => add(vec![d; n], d),
            Sig::Pred(n) => add(vec![d; n], DType::Bool),
            Sig::Select => {
                add(vec![DType::Bool, d, d], d);
                add(vec![DType::I32, d, d, d], d);
            }
            Sig::Convert => DType::ALL.iter().for_each(|&o| add(vec![d], o)),
            Sig::Real(n) => add(vec![d; n], d.real_part()),
            Sig::MakeComplex => {
                if let Some(c) = d.complex_of() {
                    add(vec![d, d], c)
                }
            }
            Sig::Pow => {
                add(vec![d, d], d);
                DType::ALL
                    .iter()
                    .filter(|t| t.is_int())
                    .for_each(|&y| add(vec![d, y], d));
            }
        }
    }
    out
}

/// A small deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    /// Uniform in [-r, r).
    pub fn f64(&mut self, r: f64) -> f64 {
        (self.next_u64() as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * r
    }
}

/// Special float values (as f64; narrower types round them).
fn special_floats() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        3.0,
        0.49999997,
        8.0,
        -8.0,
        10.0,
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f32::MIN_POSITIVE as f64,
        f32::from_bits(1) as f64,
        f32::from_bits(0x007f_ffff) as f64,
        -(f32::from_bits(3) as f64),
        f64::MIN_POSITIVE,
        5e-324,
        f32::MAX as f64,
        -(f32::MAX as f64),
        f64::MAX,
        1e-30,
        88.72283,
        -103.97208,
        -20.5,
        1e5 + 0.37,
        std::f64::consts::PI,
        65504.0,
        6e-8,
        1e10,
        -1e10,
        0.625,
        0.875,
        4.0,
    ]
}

/// `n` sample values of dtype `d`: special values first, then random ones
/// (small and large magnitudes, and for floats random bit patterns).
pub fn sample(d: DType, n: usize, seed: u64) -> Col {
    let mut rng = Rng::new(seed);
    let mut col = Col::new(d, n);
    macro_rules! fill {
        ($v:expr, $special:expr, $rand:expr) => {{
            let v = $v;
            for x in $special {
                if v.len() < n {
                    v.push(x);
                }
            }
            while v.len() < n {
                v.push($rand(&mut rng));
            }
        }};
    }
    macro_rules! ints {
        ($t:ty, $v:expr) => {
            fill!(
                $v,
                [
                    0 as $t,
                    1,
                    2,
                    7,
                    <$t>::MAX,
                    <$t>::MIN,
                    <$t>::MAX - 1,
                    <$t>::MIN.wrapping_add(1),
                    <$t>::BITS as $t,
                    (<$t>::BITS - 1) as $t,
                    (<$t>::BITS + 1) as $t,
                    (0 as $t).wrapping_sub(1),
                    (0 as $t).wrapping_sub(2),
                    (0 as $t).wrapping_sub(7),
                ],
                |r: &mut Rng| match r.next_u64() % 3 {
                    0 => r.next_u64() as $t,
                    1 => (r.next_u64() % 17) as $t,
                    _ => (0 as $t).wrapping_sub((r.next_u64() % 17) as $t),
                }
            )
        };
    }
    let float = |r: &mut Rng| match r.next_u64() % 4 {
        0 => r.f64(10.0),
        1 => r.f64(200.0),
        2 => r.f64(1.0) * 1e-3,
        _ => f64::from_bits(r.next_u64() << 11 | r.next_u64() & 0x7ff),
    };
    match &mut col {
        Col::Bool(v) => fill!(v, [false, true], |r: &mut Rng| r.next_u64() % 2 == 1),
        Col::I8(v) => ints!(i8, v),
        Col::I16(v) => ints!(i16, v),
        Col::I32(v) => ints!(i32, v),
        Col::I64(v) => ints!(i64, v),
        Col::U8(v) => ints!(u8, v),
        Col::U16(v) => ints!(u16, v),
        Col::U32(v) => ints!(u32, v),
        Col::U64(v) => ints!(u64, v),
        Col::F16(v) => fill!(
            v,
            special_floats().into_iter().map(f16::from_f64),
            |r: &mut Rng| match r.next_u64() % 2 {
                0 => f16::from_bits(r.next_u64() as u16),
                _ => f16::from_f64(float(r)),
            }
        ),
        Col::BF16(v) => fill!(
            v,
            special_floats().into_iter().map(bf16::from_f64),
            |r: &mut Rng| match r.next_u64() % 2 {
                0 => bf16::from_bits(r.next_u64() as u16),
                _ => bf16::from_f64(float(r)),
            }
        ),
        Col::F32(v) => fill!(
            v,
            special_floats().into_iter().map(|x| x as f32),
            |r: &mut Rng| match r.next_u64() % 2 {
                0 => f32::from_bits(r.next_u64() as u32),
                _ => float(r) as f32,
            }
        ),
        Col::F64(v) => fill!(v, special_floats(), float),
        // complex: pairs of special values (so each part meets every other),
        // then random parts
        Col::C64(v) => {
            let sp = special_floats();
            let pairs = sp
                .iter()
                .flat_map(|&a| sp.iter().map(move |&b| Complex::new(a as f32, b as f32)));
            fill!(v, pairs, |r: &mut Rng| Complex::new(
                float(r) as f32,
                float(r) as f32
            ))
        }
        Col::C128(v) => {
            let sp = special_floats();
            let pairs = sp
                .iter()
                .flat_map(|&a| sp.iter().map(move |&b| Complex::new(a, b)));
            fill!(v, pairs, |r: &mut Rng| Complex::new(float(r), float(r)))
        }
    }
    col
}

/// Operands for a case: every operand gets `n` samples, shuffled against
/// each other so that special values meet.
pub fn operands(case: &Case, n: usize, seed: u64) -> Vec<Col> {
    case.ins
        .iter()
        .enumerate()
        .map(|(k, &d)| {
            let mut c = sample(d, n, seed + 7919 * k as u64);
            if k > 0 {
                rotate(&mut c, k * 5);
            }
            c
        })
        .collect()
}

fn rotate(c: &mut Col, by: usize) {
    crate::with_dtype!(c.dtype(), T => {
        if let Some(v) = c.vec_mut::<T>() {
            let n = v.len();
            if n > 0 {
                v.rotate_left(by % n);
            }
        }
    })
}
