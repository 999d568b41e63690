//! The functions native code calls back into: the extern calls of the
//! scalar layer (`Ext1`/`Ext2`: the platform math library, `libm`,
//! `special`) and the conversions to and from f16/bf16, each the concrete
//! family's own code, so that native results equal the interpreter's bit
//! for bit. `table()` gives their names and addresses to the JIT.
use crate::base::dtype::DType;
use crate::ops::scalar::{Ext1, Ext2, Float, Value};
use half::{bf16, f16};

const EXT1: [Ext1; 23] = [
    Ext1::Exp,
    Ext1::Exp2,
    Ext1::Log,
    Ext1::Log1p,
    Ext1::Expm1,
    Ext1::Tanh,
    Ext1::Sin,
    Ext1::Cos,
    Ext1::Tan,
    Ext1::Asin,
    Ext1::Acos,
    Ext1::Atan,
    Ext1::Sinh,
    Ext1::Cosh,
    Ext1::Asinh,
    Ext1::Acosh,
    Ext1::Atanh,
    Ext1::Cbrt,
    Ext1::Erf,
    Ext1::Erfc,
    Ext1::ErfInv,
    Ext1::Lgamma,
    Ext1::Digamma,
];
const EXT2: [Ext2; 2] = [Ext2::Atan2, Ext2::Pow];

fn fname(d: DType) -> &'static str {
    if d == DType::F32 {
        "f32"
    } else {
        "f64"
    }
}

/// The symbol of extern call `f` on dtype `d` (f32 or f64).
pub fn ext1(f: Ext1, d: DType) -> String {
    format!("rjax_ext1_{f:?}_{}", fname(d)).to_lowercase()
}

pub fn ext2(f: Ext2, d: DType) -> String {
    format!("rjax_ext2_{f:?}_{}", fname(d)).to_lowercase()
}

/// `f32 (bits: u32)`: an f16/bf16 (its bits) widened to f32.
pub fn half_to_f32(h: DType) -> String {
    format!("rjax_{h}_to_f32")
}

/// `u32 (x)`: `x` (f32 or f64) rounded to f16/bf16 `h` (its bits).
pub fn to_half(from: DType, h: DType) -> String {
    format!("rjax_{from}_to_{h}")
}

// One callback per (extern call, dtype): a table of function pointers
// built by monomorphising over the call's index.
extern "C" fn ext1_f32<const K: usize>(x: f32) -> f32 {
    Float::ext1(x, EXT1[K])
}
extern "C" fn ext1_f64<const K: usize>(x: f64) -> f64 {
    Float::ext1(x, EXT1[K])
}
extern "C" fn ext2_f32<const K: usize>(x: f32, y: f32) -> f32 {
    Float::ext2(x, EXT2[K], y)
}
extern "C" fn ext2_f64<const K: usize>(x: f64, y: f64) -> f64 {
    Float::ext2(x, EXT2[K], y)
}

extern "C" fn f16_to_f32(b: u32) -> f32 {
    Value::cast::<f32>(f16::from_bits(b as u16))
}
extern "C" fn bf16_to_f32(b: u32) -> f32 {
    Value::cast::<f32>(bf16::from_bits(b as u16))
}
extern "C" fn f32_to_f16(x: f32) -> u32 {
    Value::cast::<f16>(x).to_bits() as u32
}
extern "C" fn f64_to_f16(x: f64) -> u32 {
    Value::cast::<f16>(x).to_bits() as u32
}
extern "C" fn f32_to_bf16(x: f32) -> u32 {
    Value::cast::<bf16>(x).to_bits() as u32
}
extern "C" fn f64_to_bf16(x: f64) -> u32 {
    Value::cast::<bf16>(x).to_bits() as u32
}

macro_rules! ext_table {
    ($t:ident, $f32:ident, $f64:ident, $name:ident, $list:ident; $($k:literal),*) => {
        $(
            if $k < $list.len() {
                $t.push(($name($list[$k], DType::F32), $f32::<$k> as *const () as usize));
                $t.push(($name($list[$k], DType::F64), $f64::<$k> as *const () as usize));
            }
        )*
    };
}

/// Every callback's symbol and address.
pub fn table() -> Vec<(String, usize)> {
    let mut t: Vec<(String, usize)> = Vec::new();
    ext_table!(t, ext1_f32, ext1_f64, ext1, EXT1;
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22);
    ext_table!(t, ext2_f32, ext2_f64, ext2, EXT2; 0, 1);
    t.push((half_to_f32(DType::F16), f16_to_f32 as *const () as usize));
    t.push((half_to_f32(DType::BF16), bf16_to_f32 as *const () as usize));
    t.push((
        to_half(DType::F32, DType::F16),
        f32_to_f16 as *const () as usize,
    ));
    t.push((
        to_half(DType::F64, DType::F16),
        f64_to_f16 as *const () as usize,
    ));
    t.push((
        to_half(DType::F32, DType::BF16),
        f32_to_bf16 as *const () as usize,
    ));
    t.push((
        to_half(DType::F64, DType::BF16),
        f64_to_bf16 as *const () as usize,
    ));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_extern_call_has_a_callback_per_float_type() {
        let t = table();
        assert_eq!(t.len(), 2 * (EXT1.len() + EXT2.len()) + 6);
        let names: std::collections::HashSet<&String> = t.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), t.len(), "symbols are unique");
        assert!(names.contains(&"rjax_ext1_erfinv_f32".to_string()));
        assert!(names.contains(&"rjax_float16_to_f32".to_string()));
        assert!(names.contains(&"rjax_float64_to_bfloat16".to_string()));
    }
}
