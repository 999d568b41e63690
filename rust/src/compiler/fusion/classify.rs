//! What an instruction is to the fuser, read from the op table: an
//! elementwise entry fuses in every dtype its slice kernel resolves for; a
//! view with a load map is read through that map; a reduction fuses when the
//! tile runner can fold it exactly as described in `fusion/mod.rs`.
use super::Pattern;
use crate::base::buffer::numel;
use crate::base::dtype::DType;
use crate::base::params::Params;
use crate::loops::strided::LoadMap;
use crate::ops::reduce::Monoid;
use crate::ops::table::{self, OpKind};
use crate::ops::Aval;

/// What an instruction is, to the planner.
#[derive(Clone, Debug)]
pub enum Kind {
    /// Elementwise over equal-rank operands (lax broadcasting of rank-0 and
    /// size-1 dims is read through load maps).
    Elementwise,
    /// A view (broadcast_in_dim, reshape): only ever a load map of an
    /// outside value.
    View(LoadMap),
    Reduce(Monoid, Pattern),
}

/// Whether fused code folds reduction `op` of `dtype` values. Sums: the
/// integers (wrapping, so any order gives eager's bits), f32 (in f64) and
/// f64. Not f16/bf16 sums: eager accumulates them in f32 pairwise and
/// rounds once, which a tile-ordered fold cannot reproduce bit for bit (and
/// not bool: there is no bool sum). Max and min: every numeric dtype and
/// bool (`or`/`and`), exact in any order.
pub fn reduction_fuses(op: Monoid, dtype: DType) -> bool {
    match op {
        Monoid::Sum => dtype.is_int() || matches!(dtype, DType::F32 | DType::F64),
        Monoid::Max | Monoid::Min => true,
    }
}

/// The dtype a fused reduction accumulates in: f64 for f32 sums, else the
/// values' own.
pub fn acc_dtype(op: Monoid, dtype: DType) -> DType {
    if op == Monoid::Sum && dtype == DType::F32 {
        DType::F64
    } else {
        dtype
    }
}

/// The pattern of a reduction of `shape` over `axes`, if fused code handles it.
pub fn pattern_of(shape: &[usize], axes: &[usize]) -> Option<Pattern> {
    let r = shape.len();
    let mut ax = axes.to_vec();
    ax.sort_unstable();
    ax.dedup();
    if ax.len() != axes.len() || ax.iter().any(|&a| a >= r) {
        return None;
    }
    let k = ax.len();
    if k == r {
        return Some(Pattern::Full);
    }
    if k == 0 {
        return None;
    }
    if ax.iter().enumerate().all(|(i, &a)| a == r - k + i) {
        return Some(Pattern::Rows {
            rows: numel(&shape[..r - k]),
            len: numel(&shape[r - k..]),
        });
    }
    if ax.iter().enumerate().all(|(i, &a)| a == i) {
        return Some(Pattern::Cols {
            rows: numel(&shape[..k]),
            width: numel(&shape[k..]),
        });
    }
    None
}

/// The instruction `p` with operands `ins` and results `outs`, to the
/// planner (`None`: not fusible).
pub fn kind_of(p: &Params, ins: &[Aval], outs: &[Aval]) -> Option<Kind> {
    if outs.len() != 1 {
        return None;
    }
    let out = &outs[0];
    let def = table::lookup(&p.op)?;
    match def.kind {
        OpKind::Reduction(Some(op)) => {
            let x = ins.first()?;
            if ins.len() != 1 || x.dtype != out.dtype || !reduction_fuses(op, x.dtype) {
                return None;
            }
            let axes = p.usizes("axes").ok()?;
            pattern_of(&x.shape, &axes).map(|pat| Kind::Reduce(op, pat))
        }
        OpKind::View(Some(map)) => {
            if ins.len() != 1 || ins[0].dtype != out.dtype {
                return None;
            }
            map(p, &ins[0], out).map(Kind::View)
        }
        OpKind::Elementwise(e) => {
            let dtypes: Vec<DType> = ins.iter().map(|a| a.dtype).collect();
            (e.resolve)(p, &dtypes, out.dtype).ok()?;
            // lax broadcasting: every operand is rank 0 or the output's rank.
            let ranks_ok = ins
                .iter()
                .all(|a| a.shape.is_empty() || a.shape.len() == out.shape.len());
            ranks_ok.then_some(Kind::Elementwise)
        }
        _ => None,
    }
}
