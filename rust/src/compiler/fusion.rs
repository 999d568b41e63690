//! Loop fusion: chains of elementwise ops (with broadcasts, reshapes and
//! converts of their inputs, and selects), and the reductions that consume
//! them, become one kernel that streams `TILE`-element tiles through every
//! op, in parallel over chunks of tiles. Intermediate values live in small
//! per-thread tile buffers (L1/L2), never in memory-sized arrays.
//!
//! Planning (`plan`) walks the program backwards, absorbing each fusible
//! instruction into the group of its consumers when that is safe:
//! - every member of a group has the group's shape (reductions: their operand);
//! - a group runs at the position of its last instruction (its *root*), so an
//!   instruction may join only if each consumer outside the group runs after
//!   that root (then its value is written out by the group, "materialized");
//! - an operand whose shape differs from the group's (a rank-0 literal, a
//!   size-1-dim operand, a broadcast_in_dim/reshape source) is read from
//!   memory through an index map, so its producer must stay outside.
//! All reductions of a group share one pattern: everything (`Full`), trailing
//! axes (`Rows`) or leading axes (`Cols`). Others are not fused.
//!
//! Tiles compute with the same scalar functions as the one-op kernels, so a
//! fused elementwise result equals the unfused one bit for bit; fused float32
//! sums accumulate in float64 (at least as accurate as the unfused sum).
use crate::base::buffer::{numel, strides, Buffer, RawBuf};
use crate::base::dtype::{CastTo, DType, Element};
use crate::base::error::{Error, Result};
use crate::base::params::Params;
use crate::loops::parallel::{num_threads, GRAIN};
use crate::ops::scalar::{Bits, Num};
use crate::ops::unary::Math;
use crate::ops::{Aval, Kernel};
use rayon::prelude::*;
use std::collections::HashMap;

/// Elements per tile: every node's tile of a group fits in L1/L2.
pub const TILE: usize = 1024;

/// The longest row a multi-phase row group handles: its tiles hold whole
/// rows, so that a later phase reads an earlier phase's per-row reduction.
pub const MAX_ROW: usize = 16384;

/// The dtypes fused code computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    F32,
    F64,
    I32,
    Bool,
}

impl Ty {
    pub fn of(d: DType) -> Option<Ty> {
        match d {
            DType::F32 => Some(Ty::F32),
            DType::F64 => Some(Ty::F64),
            DType::I32 => Some(Ty::I32),
            DType::Bool => Some(Ty::Bool),
            _ => None,
        }
    }
    fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Un {
    Neg,
    Abs,
    Sign,
    Square,
    Floor,
    Ceil,
    RoundEven,
    RoundAway,
    Exp,
    Exp2,
    Log,
    Log1p,
    Expm1,
    Tanh,
    Logistic,
    Sin,
    Cos,
    Tan,
    Sqrt,
    Rsqrt,
    Cbrt,
    Erf,
    IsFinite,
    IntPow(i64),
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Max,
    Min,
    Pow,
    Atan2,
    And,
    Or,
    Xor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedOp {
    Sum,
    Max,
    Min,
}

/// How a group's reductions map its iteration space to their outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Everything into one value.
    Full,
    /// `rows` outputs, each reducing a contiguous run of `len` elements.
    Rows { rows: usize, len: usize },
    /// `width` outputs; output `j` reduces elements `j, j + width, ...`.
    Cols { rows: usize, width: usize },
}

/// How a tile reads an input: same layout as the iteration space, one
/// element everywhere, or general strides (0 on broadcast dims).
#[derive(Clone, Debug, PartialEq)]
enum LoadMap {
    Contig,
    Scalar,
    Strided(Vec<isize>),
}

#[derive(Clone, Debug)]
enum Node {
    Load {
        input: usize,
        map: LoadMap,
    },
    Un(Un, usize),
    Bin(Bin, usize, usize),
    Select(usize, Vec<usize>),
    Convert(usize),
    /// Reduction `k`'s value for the element's row (a row group's earlier phase).
    RowRed(usize),
}

#[derive(Clone, Debug)]
struct FNode {
    node: Node,
    ty: Ty,
}

#[derive(Clone, Debug)]
struct Red {
    op: RedOp,
    node: usize,
    ty: Ty,
}

/// One output of a fused kernel: a materialized node or a reduction.
#[derive(Clone, Debug)]
enum Out {
    Node(usize),
    Red(usize),
}

/// A fused kernel's program: nodes in evaluation order over a `shape`d
/// iteration space, reductions with one `pattern`, and outputs.
#[derive(Clone, Debug)]
pub struct Fused {
    shape: Vec<usize>,
    nodes: Vec<FNode>,
    reds: Vec<Red>,
    pattern: Option<Pattern>,
    outs: Vec<Out>,
    n_inputs: usize,
    /// Nodes stored or reduced: expanded to full tiles when one-element.
    full_cols: Vec<usize>,
    /// Node indices by phase (stable): phase `p` is `order[phase_end[p-1]..phase_end[p]]`.
    order: Vec<usize>,
    phase_end: Vec<usize>,
    /// The phase in which each reduction is folded.
    red_phase: Vec<usize>,
    /// The original op names, for the plan text.
    pub ops: Vec<String>,
}

// ---------------------------------------------------------------------------
// Which instructions fuse

fn un_of(p: &Params) -> Option<Un> {
    Some(match p.op.as_str() {
        "neg" => Un::Neg,
        "abs" => Un::Abs,
        "sign" => Un::Sign,
        "square" => Un::Square,
        "floor" => Un::Floor,
        "ceil" => Un::Ceil,
        "round" => match p.int("rounding_method").ok()? {
            1 => Un::RoundEven,
            0 => Un::RoundAway,
            _ => return None,
        },
        "exp" => Un::Exp,
        "exp2" => Un::Exp2,
        "log" => Un::Log,
        "log1p" => Un::Log1p,
        "expm1" => Un::Expm1,
        "tanh" => Un::Tanh,
        "logistic" => Un::Logistic,
        "sin" => Un::Sin,
        "cos" => Un::Cos,
        "tan" => Un::Tan,
        "sqrt" => Un::Sqrt,
        "rsqrt" => Un::Rsqrt,
        "cbrt" => Un::Cbrt,
        "erf" => Un::Erf,
        "is_finite" => Un::IsFinite,
        "integer_pow" => Un::IntPow(p.int("y").ok()?),
        "not" => Un::Not,
        _ => return None,
    })
}

fn bin_of(op: &str) -> Option<Bin> {
    Some(match op {
        "add" | "add_any" => Bin::Add,
        "sub" => Bin::Sub,
        "mul" => Bin::Mul,
        "div" => Bin::Div,
        "rem" => Bin::Rem,
        "max" => Bin::Max,
        "min" => Bin::Min,
        "pow" => Bin::Pow,
        "atan2" => Bin::Atan2,
        "and" => Bin::And,
        "or" => Bin::Or,
        "xor" => Bin::Xor,
        "eq" => Bin::Eq,
        "ne" => Bin::Ne,
        "lt" => Bin::Lt,
        "le" => Bin::Le,
        "gt" => Bin::Gt,
        "ge" => Bin::Ge,
        _ => return None,
    })
}

fn un_ok(op: Un, t: Ty) -> bool {
    use Un::*;
    match op {
        Neg | Abs | Sign | Square | IntPow(_) => t != Ty::Bool,
        Not => matches!(t, Ty::I32 | Ty::Bool),
        _ => t.is_float(),
    }
}

fn bin_ok(op: Bin, t: Ty) -> bool {
    use Bin::*;
    match op {
        Add | Sub | Mul | Div | Rem => t != Ty::Bool,
        Max | Min => true,
        Pow | Atan2 => t.is_float(),
        And | Or | Xor => matches!(t, Ty::I32 | Ty::Bool),
        Eq | Ne | Lt | Le | Gt | Ge => true,
    }
}

fn red_of(op: &str) -> Option<RedOp> {
    Some(match op {
        "reduce_sum" => RedOp::Sum,
        "reduce_max" => RedOp::Max,
        "reduce_min" => RedOp::Min,
        _ => return None,
    })
}

/// The pattern of a reduction of `shape` over `axes`, if fused code handles it.
fn pattern_of(shape: &[usize], axes: &[usize]) -> Option<Pattern> {
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

/// What an instruction is, to the planner.
#[derive(Clone, Debug)]
enum Kind {
    /// Elementwise over equal-rank operands (lax broadcasting of rank-0 and
    /// size-1 dims is read through load maps).
    Elementwise,
    /// broadcast_in_dim / reshape: only ever a load map of an outside value.
    View(LoadMap),
    Reduce(RedOp, Pattern),
}

fn kind_of(p: &Params, ins: &[Aval], outs: &[Aval]) -> Option<Kind> {
    if outs.len() != 1 {
        return None;
    }
    let out = &outs[0];
    let oty = Ty::of(out.dtype)?;
    let op = p.op.as_str();
    if let Some(r) = red_of(op) {
        let ity = Ty::of(ins.first()?.dtype)?;
        if ity == Ty::Bool || ins.len() != 1 || ity != oty {
            return None;
        }
        let axes = p.usizes("axes").ok()?;
        return pattern_of(&ins[0].shape, &axes).map(|pat| Kind::Reduce(r, pat));
    }
    match op {
        "broadcast_in_dim" => {
            let dims = p.usizes("broadcast_dimensions").ok()?;
            let (src, dst) = (&ins[0].shape, &out.shape);
            if dims.len() != src.len() || dims.iter().any(|&d| d >= dst.len()) {
                return None;
            }
            Ty::of(ins[0].dtype)?;
            let st = strides(src);
            let mut map = vec![0isize; dst.len()];
            for (i, &d) in dims.iter().enumerate() {
                if src[i] != 1 {
                    map[d] = st[i] as isize;
                }
            }
            return Some(Kind::View(if numel(src) == 1 {
                LoadMap::Scalar
            } else {
                LoadMap::Strided(map)
            }));
        }
        "reshape" => {
            Ty::of(ins[0].dtype)?;
            return Some(Kind::View(LoadMap::Contig));
        }
        "convert_element_type" => {
            Ty::of(ins[0].dtype)?;
            return Some(Kind::Elementwise);
        }
        "select_n" => {
            let pty = Ty::of(ins[0].dtype)?;
            if !matches!(pty, Ty::Bool | Ty::I32) || ins.len() < 2 {
                return None;
            }
            if ins[1..].iter().any(|a| a.dtype != out.dtype) {
                return None;
            }
        }
        _ => {
            if let Some(u) = un_of(p) {
                let ity = Ty::of(ins[0].dtype)?;
                if ins.len() != 1 || !un_ok(u, ity) {
                    return None;
                }
            } else if let Some(b) = bin_of(op) {
                if ins.len() != 2 || ins[0].dtype != ins[1].dtype {
                    return None;
                }
                if !bin_ok(b, Ty::of(ins[0].dtype)?) {
                    return None;
                }
            } else {
                return None;
            }
        }
    }
    // lax broadcasting: every operand is rank 0 or the output's rank.
    for a in ins {
        if !(a.shape.is_empty() || a.shape.len() == out.shape.len()) {
            return None;
        }
    }
    Some(Kind::Elementwise)
}

// ---------------------------------------------------------------------------
// Planning

/// A planned step of a program: one original instruction, or a fused group
/// (`members` are original instruction indices in program order).
#[derive(Debug)]
pub enum Step {
    Single(usize),
    Group { members: Vec<usize> },
}

struct Group {
    root: usize,
    /// The iteration shape.
    shape: Vec<usize>,
    pattern: Option<Pattern>,
    members: Vec<usize>,
    /// Values that must be read from memory (their producers stay out).
    external: Vec<usize>,
    /// Values read one per row (a row map): read from memory, unless their
    /// producer is a `Rows` reduction of this group (then an earlier phase).
    row_vals: Vec<usize>,
    /// Members that read a value per row: broadcasts of it, and reshapes
    /// of a reduction's output (`aliases`, dropped if it does not join).
    row_users: Vec<usize>,
    aliases: Vec<usize>,
}

/// The strides of a load of a `src`-shaped operand broadcast (lax-style:
/// size-1 dims) over `shape`, if the ranks agree.
fn bcast_strides(src: &[usize], shape: &[usize]) -> Option<Vec<isize>> {
    if src.len() != shape.len() {
        return None;
    }
    let st = strides(src);
    Some(
        (0..src.len())
            .map(|d| if src[d] == 1 { 0 } else { st[d] as isize })
            .collect(),
    )
}

/// If a load with strides `st` over `shape` reads one value per row of a
/// `Rows` pattern (row-major over leading dims, 0 on the trailing ones):
/// the number of rows.
fn row_count(st: &[isize], shape: &[usize]) -> Option<usize> {
    let r = shape.len();
    let j = (0..r)
        .rev()
        .find(|&d| st[d] != 0 && shape[d] != 1)
        .map_or(0, |d| d + 1);
    if j == r {
        return None;
    }
    let want = strides(&shape[..j]);
    (0..j)
        .all(|d| shape[d] == 1 || st[d] == want[d] as isize)
        .then(|| numel(&shape[..j]))
}

/// Group the instructions of a program. `ins[k]`/`outs[k]` are instruction
/// `k`'s input and output value ids, `avals` all values' avals, `outputs`
/// the program's outputs. Groups of a single instruction that gains nothing
/// from fusion (a lone reshape, say) are left as `Single`.
///
/// A `Rows` reduction may also join a group that reads its result per row
/// (softmax's `exp(x - max(x))`, then `e / sum(e)`): the group runs in
/// phases over tiles of whole rows, each phase reading the earlier phases'
/// reductions of the tile's rows.
pub fn plan(
    params: &[&Params],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
    avals: &[Aval],
    outputs: &[usize],
) -> Vec<Step> {
    let n = params.len();
    let mut users: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut producer: HashMap<usize, usize> = HashMap::new();
    for (k, i) in ins.iter().enumerate() {
        for &v in i {
            users.entry(v).or_default().push(k);
        }
        for &v in &outs[k] {
            producer.insert(v, k);
        }
    }
    let kinds: Vec<Option<Kind>> = (0..n)
        .map(|k| {
            let ia: Vec<Aval> = ins[k].iter().map(|&v| avals[v].clone()).collect();
            let oa: Vec<Aval> = outs[k].iter().map(|&v| avals[v].clone()).collect();
            kind_of(params[k], &ia, &oa)
        })
        .collect();
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: Vec<Option<usize>> = vec![None; n];
    // When each instruction runs: its group's root, or itself.
    let exec_time = |k: usize, group_of: &Vec<Option<usize>>, groups: &Vec<Group>| match group_of[k]
    {
        Some(g) => groups[g].root,
        None => k,
    };
    // Does member `c` of group `g` read a value per row of `rows` rows?
    let reads_rows = |c: usize, rows: usize, gr: &Group| -> bool {
        if !gr.row_users.contains(&c) {
            return false;
        }
        let st = match &kinds[c] {
            Some(Kind::View(LoadMap::Strided(st))) => st.clone(),
            Some(Kind::View(LoadMap::Contig)) => {
                match bcast_strides(&avals[outs[c][0]].shape, &gr.shape) {
                    Some(st) => st,
                    None => return false,
                }
            }
            _ => return false,
        };
        row_count(&st, &gr.shape) == Some(rows)
    };
    for k in (0..n).rev() {
        let Some(kind) = kinds[k].clone() else {
            continue;
        };
        let out = outs[k][0];
        let out_shape = &avals[out].shape;
        let is_output = outputs.contains(&out);
        let cons: Vec<usize> = users.get(&out).cloned().unwrap_or_default();
        // A reshape of a `Rows` reduction's output that a group reads per row
        // (keepdims): it joins that group as an alias of the reduction.
        if let (Kind::View(LoadMap::Contig), Some(&p)) = (&kind, producer.get(&ins[k][0])) {
            if let Some(Kind::Reduce(_, pat @ Pattern::Rows { rows, len })) = &kinds[p] {
                let g = (0..groups.len()).find(|&g| {
                    let gr = &groups[g];
                    gr.root > k
                        && *len <= MAX_ROW
                        && gr.row_vals.contains(&out)
                        && !gr.external.contains(&out)
                        && avals[ins[p][0]].shape == gr.shape
                        && gr.pattern.is_none_or(|q| q == *pat)
                        && bcast_strides(out_shape, &gr.shape)
                            .is_some_and(|st| row_count(&st, &gr.shape) == Some(*rows))
                        && cons.iter().all(|&c| {
                            group_of[c] == Some(g) || exec_time(c, &group_of, &groups) > gr.root
                        })
                });
                if let Some(g) = g {
                    let gr = &mut groups[g];
                    gr.members.push(k);
                    gr.row_vals.push(ins[k][0]);
                    gr.row_users.push(k);
                    gr.aliases.push(k);
                    group_of[k] = Some(g);
                    continue;
                }
            }
        }
        // A reduction read per row by aliases in a group joins it, or the
        // aliases go back to being plain reshapes (run at their place).
        if let Kind::Reduce(_, pat) = &kind {
            let alias_groups: Vec<usize> = cons
                .iter()
                .filter_map(|&c| group_of[c].filter(|&g| groups[g].aliases.contains(&c)))
                .collect();
            let mut joined = false;
            if let (Some(&g), Pattern::Rows { rows, .. }) = (alias_groups.first(), pat) {
                let gr = &groups[g];
                joined = alias_groups.iter().all(|&h| h == g)
                    && gr.root > k
                    && !gr.external.contains(&out)
                    && avals[ins[k][0]].shape == gr.shape
                    && gr.pattern.is_none_or(|q| q == *pat)
                    && cons.iter().all(|&c| {
                        if group_of[c] == Some(g) {
                            reads_rows(c, *rows, gr)
                        } else {
                            exec_time(c, &group_of, &groups) > gr.root
                        }
                    });
                if joined {
                    let gr = &mut groups[g];
                    gr.members.push(k);
                    gr.pattern = Some(*pat);
                    group_of[k] = Some(g);
                    continue;
                }
            }
            if !joined {
                for &c in &cons {
                    if let Some(g) = group_of[c].filter(|&g| groups[g].aliases.contains(&c)) {
                        let gr = &mut groups[g];
                        gr.members.retain(|&m| m != c);
                        gr.aliases.retain(|&m| m != c);
                        gr.row_users.retain(|&m| m != c);
                        gr.external.push(outs[c][0]);
                        group_of[c] = None;
                    }
                }
            }
        }
        // Can instruction k join group g?
        let fits = |g: usize, groups: &Vec<Group>, group_of: &Vec<Option<usize>>| -> bool {
            let gr = &groups[g];
            if gr.external.contains(&out) {
                return false;
            }
            match &kind {
                Kind::Reduce(_, pat) => {
                    let src = &avals[ins[k][0]].shape;
                    if *src != gr.shape || gr.pattern.is_some_and(|p| p != *pat) {
                        return false;
                    }
                    // its consumers in the group read it per row (a later
                    // phase); the others must run after the root
                    let rows = match pat {
                        Pattern::Rows { rows, len } if *len <= MAX_ROW => Some(*rows),
                        _ => None,
                    };
                    cons.iter().all(|&c| {
                        if group_of[c] == Some(g) {
                            rows.is_some_and(|r| reads_rows(c, r, gr))
                        } else {
                            exec_time(c, group_of, groups) > gr.root
                        }
                    })
                }
                _ => {
                    if *out_shape != gr.shape {
                        return false;
                    }
                    cons.iter().all(|&c| {
                        group_of[c] == Some(g) || exec_time(c, group_of, groups) > gr.root
                    })
                }
            }
        };
        // Candidates: groups of consumers (elementwise) or any group
        // rooted after k (sibling reductions); earliest root first.
        let mut cands: Vec<usize> = match &kind {
            Kind::Reduce(..) => (0..groups.len()).collect(),
            _ => cons.iter().filter_map(|&c| group_of[c]).collect(),
        };
        cands.sort_by_key(|&g| groups[g].root);
        cands.dedup();
        let chosen = cands
            .into_iter()
            .find(|&g| groups[g].root > k && fits(g, &groups, &group_of));
        let g = match chosen {
            Some(g) => g,
            None => {
                if matches!(kind, Kind::View(_)) && !is_output {
                    // A view nobody fused: leave it as its own instruction
                    // (reshape is free; broadcast_in_dim has its kernel).
                    continue;
                }
                let (shape, pattern) = match &kind {
                    Kind::Reduce(_, pat) => (avals[ins[k][0]].shape.clone(), Some(*pat)),
                    _ => (out_shape.clone(), None),
                };
                groups.push(Group {
                    root: k,
                    shape,
                    pattern,
                    members: vec![],
                    external: vec![],
                    row_vals: vec![],
                    row_users: vec![],
                    aliases: vec![],
                });
                groups.len() - 1
            }
        };
        let gr = &mut groups[g];
        gr.members.push(k);
        group_of[k] = Some(g);
        match &kind {
            Kind::Reduce(_, pat) => gr.pattern = Some(*pat),
            Kind::View(map) => {
                let v = ins[k][0];
                match map {
                    LoadMap::Strided(st) if row_count(st, &gr.shape).is_some() => {
                        gr.row_vals.push(v);
                        gr.row_users.push(k);
                    }
                    _ => gr.external.push(v),
                }
            }
            Kind::Elementwise => {
                for &v in &ins[k] {
                    let s = &avals[v].shape;
                    if *s != gr.shape {
                        match bcast_strides(s, &gr.shape) {
                            Some(st) if row_count(&st, &gr.shape).is_some() => gr.row_vals.push(v),
                            _ => gr.external.push(v),
                        }
                    }
                }
            }
        }
    }
    // Emit in program order: a group at its root.
    let mut steps = Vec::new();
    for k in 0..n {
        match group_of[k] {
            None => steps.push(Step::Single(k)),
            Some(g) if groups[g].root == k => {
                let mut m = groups[g].members.clone();
                m.sort_unstable();
                // A group of one gains nothing: keep the op's own kernel (a lone
                // reduction keeps its pairwise sum, equal to eager's bit for bit).
                if m.len() == 1 {
                    steps.push(Step::Single(m[0]));
                } else {
                    steps.push(Step::Group { members: m });
                }
            }
            Some(_) => {}
        }
    }
    steps
}

/// Build the fused kernel of a group. Returns the kernel description, the
/// external input value ids (the kernel's arguments, in order) and the
/// output value ids (in the kernel's output order).
pub fn build_group(
    members: &[usize],
    params: &[&Params],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
    avals: &[Aval],
    live_after: &dyn Fn(usize) -> bool,
) -> Result<(Fused, Vec<usize>, Vec<usize>)> {
    let in_group: std::collections::HashSet<usize> = members
        .iter()
        .flat_map(|&k| outs[k].iter().copied())
        .collect();
    // The iteration shape: a member's output (or a reduction's operand).
    let first = members[0];
    let shape = match red_of(&params[first].op) {
        Some(_) => avals[ins[first][0]].shape.clone(),
        None => avals[outs[first][0]].shape.clone(),
    };
    let mut b = GroupBuilder {
        avals,
        shape: shape.clone(),
        in_group,
        nodes: Vec::new(),
        node_of: HashMap::new(),
        loads: HashMap::new(),
        inputs: Vec::new(),
        red_of: HashMap::new(),
        row_nodes: HashMap::new(),
    };
    let mut reds: Vec<Red> = Vec::new();
    let mut out_ids: Vec<usize> = Vec::new();
    let mut out_specs: Vec<Out> = Vec::new();
    let mut pattern = None;
    let mut ops = Vec::new();
    for &k in members {
        let p = params[k];
        let ia: Vec<Aval> = ins[k].iter().map(|&v| avals[v].clone()).collect();
        let oa: Vec<Aval> = outs[k].iter().map(|&v| avals[v].clone()).collect();
        let kind = kind_of(p, &ia, &oa)
            .ok_or_else(|| Error::Internal(format!("fusion: {} is not fusible", p.op)))?;
        ops.push(p.op.clone());
        let out = outs[k][0];
        let oty = Ty::of(avals[out].dtype).unwrap();
        let idx = match kind {
            Kind::Reduce(op, pat) => {
                pattern = Some(pat);
                let x = b.operand(ins[k][0])?;
                reds.push(Red {
                    op,
                    node: x,
                    ty: oty,
                });
                b.red_of.insert(out, reds.len() - 1);
                if live_after(out) {
                    out_ids.push(out);
                    out_specs.push(Out::Red(reds.len() - 1));
                }
                continue;
            }
            Kind::View(map) => match b.red_of.get(&ins[k][0]).copied() {
                // a reshape of a reduction's output: the same values
                Some(r) if map == LoadMap::Contig => {
                    b.red_of.insert(out, r);
                    if live_after(out) {
                        out_ids.push(out);
                        out_specs.push(Out::Red(r));
                    }
                    continue;
                }
                Some(r) => b.row_red(r, oty),
                None => b.load(ins[k][0], map)?,
            },
            Kind::Elementwise => {
                let args: Vec<usize> = ins[k]
                    .iter()
                    .map(|&v| b.operand(v))
                    .collect::<Result<_>>()?;
                let node = match p.op.as_str() {
                    "convert_element_type" => Node::Convert(args[0]),
                    "select_n" => Node::Select(args[0], args[1..].to_vec()),
                    op => {
                        if let Some(u) = un_of(p) {
                            Node::Un(u, args[0])
                        } else {
                            Node::Bin(bin_of(op).unwrap(), args[0], args[1])
                        }
                    }
                };
                b.nodes.push(FNode { node, ty: oty });
                b.nodes.len() - 1
            }
        };
        b.node_of.insert(out, idx);
        if live_after(out) {
            out_ids.push(out);
            out_specs.push(Out::Node(idx));
        }
    }
    let n_inputs = b.inputs.len();
    let mut full_cols: Vec<usize> = reds.iter().map(|r| r.node).collect();
    full_cols.extend(out_specs.iter().filter_map(|o| match o {
        Out::Node(i) => Some(*i),
        _ => None,
    }));
    full_cols.sort_unstable();
    full_cols.dedup();
    // Phases: a node runs after the reductions it reads per row.
    let mut phase = vec![0usize; b.nodes.len()];
    for i in 0..b.nodes.len() {
        phase[i] = match &b.nodes[i].node {
            Node::Load { .. } => 0,
            Node::RowRed(r) => phase[reds[*r].node] + 1,
            Node::Un(_, x) | Node::Convert(x) => phase[*x],
            Node::Bin(_, x, y) => phase[*x].max(phase[*y]),
            Node::Select(p, cs) => cs.iter().map(|&c| phase[c]).fold(phase[*p], usize::max),
        };
    }
    let red_phase: Vec<usize> = reds.iter().map(|r| phase[r.node]).collect();
    let n_phases = phase.iter().max().map_or(1, |&m| m + 1);
    let mut order: Vec<usize> = (0..b.nodes.len()).collect();
    order.sort_by_key(|&i| phase[i]);
    let phase_end: Vec<usize> = (0..n_phases)
        .map(|p| phase.iter().filter(|&&q| q <= p).count())
        .collect();
    if n_phases > 1 && !matches!(pattern, Some(Pattern::Rows { len, .. }) if len <= MAX_ROW) {
        return Err(Error::Internal(
            "fusion: a per-row value outside a row group".into(),
        ));
    }
    Ok((
        Fused {
            order,
            phase_end,
            red_phase,
            full_cols,
            shape,
            nodes: b.nodes,
            reds,
            pattern,
            outs: out_specs,
            n_inputs,
            ops,
        },
        b.inputs,
        out_ids,
    ))
}

struct GroupBuilder<'a> {
    avals: &'a [Aval],
    shape: Vec<usize>,
    in_group: std::collections::HashSet<usize>,
    nodes: Vec<FNode>,
    node_of: HashMap<usize, usize>,
    loads: HashMap<(usize, String), usize>,
    inputs: Vec<usize>,
    /// Values that are a reduction's result (or a reshape of it): read per row.
    red_of: HashMap<usize, usize>,
    row_nodes: HashMap<usize, usize>,
}

impl GroupBuilder<'_> {
    /// A load of outside value `v` through `map` (one node per value and map).
    fn load(&mut self, v: usize, map: LoadMap) -> Result<usize> {
        let key = (v, format!("{map:?}"));
        if let Some(&i) = self.loads.get(&key) {
            return Ok(i);
        }
        let ty = Ty::of(self.avals[v].dtype)
            .ok_or_else(|| Error::Internal("fusion: unsupported load dtype".into()))?;
        let input = match self.inputs.iter().position(|&x| x == v) {
            Some(i) => i,
            None => {
                self.inputs.push(v);
                self.inputs.len() - 1
            }
        };
        self.nodes.push(FNode {
            node: Node::Load { input, map },
            ty,
        });
        self.loads.insert(key, self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }

    /// The node reading reduction `r`'s value per row.
    fn row_red(&mut self, r: usize, ty: Ty) -> usize {
        if let Some(&i) = self.row_nodes.get(&r) {
            return i;
        }
        self.nodes.push(FNode {
            node: Node::RowRed(r),
            ty,
        });
        self.row_nodes.insert(r, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// An operand of an elementwise member: its in-group node, or a load with
    /// lax broadcasting (one element: scalar; size-1 dims: stride 0).
    fn operand(&mut self, v: usize) -> Result<usize> {
        if let Some(&r) = self.red_of.get(&v) {
            let ty = Ty::of(self.avals[v].dtype)
                .ok_or_else(|| Error::Internal("fusion: row value dtype".into()))?;
            return Ok(self.row_red(r, ty));
        }
        if self.in_group.contains(&v) {
            return self
                .node_of
                .get(&v)
                .copied()
                .ok_or_else(|| Error::Internal("fusion: operand not yet computed".into()));
        }
        let s = self.avals[v].shape.clone();
        let rank = self.shape.len();
        let map = if numel(&s) == 1 {
            LoadMap::Scalar
        } else if s == self.shape {
            LoadMap::Contig
        } else {
            if s.len() != rank {
                return Err(Error::Internal("fusion: operand rank mismatch".into()));
            }
            let st = strides(&s);
            LoadMap::Strided(
                (0..rank)
                    .map(|d| if s[d] == 1 { 0 } else { st[d] as isize })
                    .collect(),
            )
        };
        self.load(v, map)
    }
}

impl Fused {
    /// One line for the plan text: `fused[mul, add, tanh -> reduce_sum rows]`.
    pub fn describe(&self) -> String {
        let pat = match self.pattern {
            None => String::new(),
            Some(Pattern::Full) => " (reduce all)".into(),
            Some(Pattern::Rows { rows, len }) if self.phase_end.len() > 1 => format!(
                " (reduce rows: {rows}x{len}, {} phases)",
                self.phase_end.len()
            ),
            Some(Pattern::Rows { rows, len }) => format!(" (reduce rows: {rows}x{len})"),
            Some(Pattern::Cols { rows, width }) => format!(" (reduce columns: {rows}x{width})"),
        };
        format!(
            "fused[{} ops: {}]{} over {:?}",
            self.ops.len(),
            self.ops.join(", "),
            pat,
            self.shape
        )
    }

    pub fn into_kernel(self, out_avals: Vec<Aval>) -> Kernel {
        Box::new(move |args: &[&Buffer]| self.run(args, &out_avals))
    }

    /// Run over the iteration space; `args` are the external inputs.
    pub fn run(&self, args: &[&Buffer], out_avals: &[Aval]) -> Result<Vec<Buffer>> {
        if args.len() != self.n_inputs {
            return Err(Error::Internal(format!(
                "fused kernel expects {} inputs, got {}",
                self.n_inputs,
                args.len()
            )));
        }
        let total = numel(&self.shape);
        // Output storage, written in disjoint ranges by the chunks.
        let mut raws: Vec<RawBuf> = out_avals
            .iter()
            .map(|a| RawBuf::alloc(a.numel() * a.dtype.itemsize()))
            .collect();
        let ptrs: Vec<usize> = raws
            .iter_mut()
            .map(|r| r.bytes_mut().as_mut_ptr() as usize)
            .collect();
        let outs = OutPtrs {
            ptrs: &ptrs,
            avals: out_avals,
        };
        match self.pattern {
            None => {
                let chunk = GRAIN;
                let nch = total.div_ceil(chunk);
                self.par_chunks(nch, |c| {
                    let (a, b) = (c * chunk, ((c + 1) * chunk).min(total));
                    let mut s = Scratch::new(&self.nodes);
                    self.tiles(args, a, b, &mut s, &outs, |_, _, _| {});
                    Ok(())
                })?;
            }
            Some(Pattern::Full) => {
                let chunk = GRAIN;
                let nch = total.div_ceil(chunk).max(1);
                let parts = self.par_chunks(nch, |c| {
                    let (a, b) = (c * chunk, ((c + 1) * chunk).min(total));
                    let mut s = Scratch::new(&self.nodes);
                    let mut acc = self.new_accs(1);
                    self.tiles(args, a, b, &mut s, &outs, |vs, t0, len| {
                        for ((r, ac), v) in self.reds.iter().zip(acc.iter_mut()).zip(vs) {
                            ac.fold_seg(r.op, *v, 0, len, 0);
                        }
                        let _ = t0;
                    });
                    Ok(acc)
                })?;
                self.finish(parts, 1, &outs)?;
            }
            Some(Pattern::Cols { rows, width }) => {
                // Chunks of whole rows, each with its own accumulator row;
                // partials combine in chunk order (deterministic).
                let rows_per = (GRAIN / width.max(1)).max(1);
                let nch = rows.div_ceil(rows_per).max(1);
                let parts = self.par_chunks(nch, |c| {
                    let (r0, r1) = (c * rows_per, ((c + 1) * rows_per).min(rows));
                    let mut s = Scratch::new(&self.nodes);
                    let mut acc = self.new_accs(width);
                    self.tiles(
                        args,
                        r0 * width,
                        r1 * width,
                        &mut s,
                        &outs,
                        |vs, t0, len| {
                            let mut i = 0;
                            while i < len {
                                let j = (t0 + i) % width;
                                let m = (width - j).min(len - i);
                                for ((r, ac), v) in self.reds.iter().zip(acc.iter_mut()).zip(vs) {
                                    ac.fold_cols(r.op, *v, i, m, j);
                                }
                                i += m;
                            }
                        },
                    );
                    Ok(acc)
                })?;
                self.finish(parts, width, &outs)?;
            }
            Some(Pattern::Rows { rows, len: rlen }) if self.phase_end.len() > 1 => {
                // Tiles of whole rows, each run phase by phase; chunks of whole tiles.
                let per_tile = (TILE / rlen.max(1)).max(1);
                let per_chunk = (GRAIN / rlen.max(1)).max(1).next_multiple_of(per_tile);
                let nch = rows.div_ceil(per_chunk);
                self.par_chunks(nch, |c| {
                    let (r0, r1) = (c * per_chunk, ((c + 1) * per_chunk).min(rows));
                    let mut s = Scratch::new(&self.nodes);
                    let mut acc = self.new_accs(r1 - r0);
                    let mut q0 = r0;
                    while q0 < r1 {
                        let q1 = (q0 + per_tile).min(r1);
                        self.row_tile(args, q0, q1, r0, rlen, &mut s, &mut acc, &outs);
                        q0 = q1;
                    }
                    self.write_accs(&acc, &outs, r0);
                    Ok(())
                })?;
            }
            Some(Pattern::Rows { rows, len: rlen }) => {
                // Chunks of whole rows; each row's result is written directly.
                let rows_per = (GRAIN / rlen.max(1)).max(1);
                let nch = rows.div_ceil(rows_per);
                self.par_chunks(nch, |c| {
                    let (r0, r1) = (c * rows_per, ((c + 1) * rows_per).min(rows));
                    let mut s = Scratch::new(&self.nodes);
                    let mut acc = self.new_accs(r1 - r0);
                    self.tiles(args, r0 * rlen, r1 * rlen, &mut s, &outs, |vs, t0, len| {
                        let mut i = 0;
                        while i < len {
                            let row = (t0 + i) / rlen;
                            let end = ((row + 1) * rlen - t0).min(len);
                            for ((r, ac), v) in self.reds.iter().zip(acc.iter_mut()).zip(vs) {
                                ac.fold_seg(r.op, *v, i, end - i, row - r0);
                            }
                            i = end;
                        }
                    });
                    self.write_accs(&acc, &outs, r0);
                    Ok(())
                })?;
            }
        }
        raws.into_iter()
            .zip(out_avals)
            .map(|(r, a)| Buffer::new(a.dtype, a.shape.clone(), r))
            .collect()
    }

    /// The outputs that reduction `k` writes (a reshape of it is another).
    fn red_outs(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        self.outs
            .iter()
            .enumerate()
            .filter(move |(_, o)| matches!(o, Out::Red(j) if *j == k))
            .map(|(i, _)| i)
    }

    /// Write each reduction's accumulator to the outputs it feeds, from row `at`.
    fn write_accs(&self, acc: &[Acc], outs: &OutPtrs, at: usize) {
        for (k, ac) in acc.iter().enumerate() {
            for o in self.red_outs(k) {
                ac.write(outs, o, at);
            }
        }
    }

    fn new_accs(&self, n: usize) -> Vec<Acc> {
        self.reds.iter().map(|r| Acc::new(r.op, r.ty, n)).collect()
    }

    /// Combine per-chunk accumulators in order and write the reductions.
    fn finish(&self, parts: Vec<Vec<Acc>>, n: usize, outs: &OutPtrs) -> Result<()> {
        let mut acc = self.new_accs(n);
        for (k, (r, a)) in self.reds.iter().zip(acc.iter_mut()).enumerate() {
            for p in &parts {
                a.merge(r.op, &p[k]);
            }
        }
        self.write_accs(&acc, outs, 0);
        Ok(())
    }

    /// Run `f(chunk)` for chunks `0..n`, in parallel when there are several.
    fn par_chunks<R: Send>(
        &self,
        n: usize,
        f: impl Fn(usize) -> Result<R> + Sync + Send,
    ) -> Result<Vec<R>> {
        if n <= 1 || num_threads() <= 1 {
            (0..n).map(f).collect()
        } else {
            (0..n).into_par_iter().map(f).collect()
        }
    }

    /// Evaluate tiles over the flat range `[a, b)`, write materialized
    /// outputs, and hand each tile to `reduce(scratch, t0, len)`.
    fn tiles(
        &self,
        args: &[&Buffer],
        a: usize,
        b: usize,
        s: &mut Scratch,
        outs: &OutPtrs,
        mut reduce: impl FnMut(&[ColRef], usize, usize),
    ) {
        let mut t0 = a;
        while t0 < b {
            let len = TILE.min(b - t0);
            for i in 0..self.nodes.len() {
                self.eval(i, args, t0, len, s, None);
            }
            for &i in &self.full_cols {
                s.cols[i].expand(len);
            }
            for (o, spec) in self.outs.iter().enumerate() {
                if let Out::Node(i) = spec {
                    self.view(*i, &s.cols, args, t0, len)
                        .store(outs, o, t0, len);
                }
            }
            let views: Vec<ColRef> = self
                .reds
                .iter()
                .map(|r| self.view(r.node, &s.cols, args, t0, len))
                .collect();
            reduce(&views, t0, len);
            t0 += len;
        }
    }

    /// One tile of whole rows `[q0, q1)` of a multi-phase row group, in a
    /// chunk starting at row `r0`: each phase evaluates its nodes, then folds
    /// its reductions per row, which the next phases read.
    #[allow(clippy::too_many_arguments)]
    fn row_tile(
        &self,
        args: &[&Buffer],
        q0: usize,
        q1: usize,
        r0: usize,
        rlen: usize,
        s: &mut Scratch,
        acc: &mut [Acc],
        outs: &OutPtrs,
    ) {
        let (t0, len) = (q0 * rlen, (q1 - q0) * rlen);
        let mut start = 0;
        for (p, &end) in self.phase_end.iter().enumerate() {
            let rc = RowCtx {
                acc,
                slot0: q0 - r0,
                rlen,
            };
            for &i in &self.order[start..end] {
                self.eval(i, args, t0, len, s, Some(&rc));
            }
            start = end;
            for (k, r) in self.reds.iter().enumerate() {
                if self.red_phase[k] != p {
                    continue;
                }
                s.cols[r.node].expand(len);
                let v = self.view(r.node, &s.cols, args, t0, len);
                for q in 0..q1 - q0 {
                    acc[k].fold_seg(r.op, v, q * rlen, rlen, q0 - r0 + q);
                }
            }
        }
        for &i in &self.full_cols {
            s.cols[i].expand(len);
        }
        for (o, spec) in self.outs.iter().enumerate() {
            if let Out::Node(i) = spec {
                self.view(*i, &s.cols, args, t0, len)
                    .store(outs, o, t0, len);
            }
        }
    }

    /// Node `j` as a view: a contiguous load reads its input in place.
    fn view<'a>(
        &self,
        j: usize,
        cols: &'a [Col],
        args: &[&'a Buffer],
        t0: usize,
        len: usize,
    ) -> ColRef<'a> {
        match &self.nodes[j].node {
            Node::Load {
                input,
                map: LoadMap::Contig,
            } => ColRef::of_input(args[*input], t0, len),
            _ => ColRef::of_col(&cols[j]),
        }
    }

    fn eval(
        &self,
        i: usize,
        args: &[&Buffer],
        t0: usize,
        len: usize,
        s: &mut Scratch,
        rows: Option<&RowCtx>,
    ) {
        match &self.nodes[i].node {
            Node::Load {
                map: LoadMap::Contig,
                ..
            } => return, // read in place by its users
            Node::RowRed(r) => {
                let rc = rows.expect("fusion: a row value outside a row group");
                // one row: one value, broadcast by its users
                let n = if len == rc.rlen { 1 } else { len };
                let out = &mut s.cols[i];
                out.set_len(n);
                rc.acc[*r].fill_rows(rc.slot0, rc.rlen, out);
                return;
            }
            _ => {}
        }
        let (done, rest) = s.cols.split_at_mut(i);
        let done: &[Col] = done;
        let out = &mut rest[0];
        let v = |j: usize| self.view(j, done, args, t0, len);
        // A value that is the same for every element (a scalar load, or an op
        // on such values only) is kept as one element: ops broadcast it.
        let n = match &self.nodes[i].node {
            Node::Load {
                map: LoadMap::Scalar,
                ..
            } => 1,
            Node::Load { .. } => len,
            Node::Un(_, x) | Node::Convert(x) => v(*x).len(),
            Node::Bin(_, x, y) => v(*x).len().max(v(*y).len()),
            Node::Select(p, cases) => cases
                .iter()
                .map(|&c| v(c).len())
                .fold(v(*p).len(), usize::max),
            Node::RowRed(_) => unreachable!(),
        };
        out.set_len(n);
        match &self.nodes[i].node {
            Node::Load { input, map } => out.load(args[*input], map, &self.shape, t0, n),
            Node::Un(op, x) => un(*op, v(*x), out),
            Node::Bin(op, x, y) => bin(*op, v(*x), v(*y), out),
            Node::Convert(x) => convert(v(*x), out),
            Node::Select(p, cases) => {
                let cs: Vec<ColRef> = cases.iter().map(|&c| v(c)).collect();
                select(v(*p), &cs, out)
            }
            Node::RowRed(_) => unreachable!(),
        }
    }
}

/// A row group's reductions so far, for the tile's rows: the tile's first
/// row is accumulator slot `slot0`.
struct RowCtx<'a> {
    acc: &'a [Acc],
    slot0: usize,
    rlen: usize,
}

struct OutPtrs<'a> {
    ptrs: &'a [usize],
    avals: &'a [Aval],
}

impl OutPtrs<'_> {
    /// Output `o` as a mutable slice. Callers write disjoint ranges only.
    #[allow(clippy::mut_from_ref)]
    fn slice<T: Element>(&self, o: usize) -> &mut [T] {
        let n = self.avals[o].numel();
        debug_assert_eq!(self.avals[o].dtype, T::DTYPE);
        // SAFETY: the pointer is to a live, aligned allocation of n Ts owned
        // by `run`; chunks write disjoint index ranges.
        unsafe { std::slice::from_raw_parts_mut(self.ptrs[o] as *mut T, n) }
    }
}

// ---------------------------------------------------------------------------
// Tiles

enum Col {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
}

/// Dispatch on a column's type with a typed binding.
macro_rules! with_col {
    ($c:expr, $v:ident => $body:expr) => {
        match $c {
            Col::F32($v) => $body,
            Col::F64($v) => $body,
            Col::I32($v) => $body,
            Col::Bool($v) => $body,
        }
    };
}

impl Col {
    fn new(ty: Ty) -> Col {
        match ty {
            Ty::F32 => Col::F32(Vec::with_capacity(TILE)),
            Ty::F64 => Col::F64(Vec::with_capacity(TILE)),
            Ty::I32 => Col::I32(Vec::with_capacity(TILE)),
            Ty::Bool => Col::Bool(Vec::with_capacity(TILE)),
        }
    }

    fn len(&self) -> usize {
        with_col!(self, v => v.len())
    }

    fn ty(&self) -> Ty {
        match self {
            Col::F32(_) => Ty::F32,
            Col::F64(_) => Ty::F64,
            Col::I32(_) => Ty::I32,
            Col::Bool(_) => Ty::Bool,
        }
    }

    /// Broadcast a one-element column to `len` elements (before a store or
    /// a reduction, which need every element).
    fn expand(&mut self, len: usize) {
        if self.len() == 1 && len > 1 {
            with_col!(self, v => { let x = v[0]; v.resize(len, x) })
        }
    }

    fn set_len(&mut self, len: usize) {
        with_col!(self, v => v.resize(len, Default::default()))
    }

    fn load(&mut self, b: &Buffer, map: &LoadMap, shape: &[usize], t0: usize, len: usize) {
        with_col!(self, v => load_into(v, b, map, shape, t0, len))
    }
}

fn load_into<T: Element>(
    v: &mut [T],
    b: &Buffer,
    map: &LoadMap,
    shape: &[usize],
    t0: usize,
    len: usize,
) {
    let x = b.slice::<T>().expect("fusion: load dtype");
    match map {
        LoadMap::Contig => v[..len].copy_from_slice(&x[t0..t0 + len]),
        LoadMap::Scalar => v[..len].fill(x[0]),
        LoadMap::Strided(st) => {
            // Odometer over the iteration shape from flat index t0.
            let r = shape.len();
            let mut idx = vec![0usize; r];
            let mut rem = t0;
            for d in (0..r).rev() {
                idx[d] = rem % shape[d];
                rem /= shape[d];
            }
            let mut off: isize = (0..r).map(|d| idx[d] as isize * st[d]).sum();
            let (inner, ist) = (shape[r - 1], st[r - 1]);
            let mut i = 0;
            while i < len {
                let m = (inner - idx[r - 1]).min(len - i);
                if ist == 0 {
                    v[i..i + m].fill(x[off as usize]);
                } else {
                    let base = off as usize;
                    v[i..i + m].copy_from_slice(&x[base..base + m]);
                }
                i += m;
                off += m as isize * ist;
                idx[r - 1] += m;
                // carry
                let mut d = r - 1;
                while idx[d] == shape[d] && d > 0 {
                    off -= idx[d] as isize * st[d];
                    idx[d] = 0;
                    d -= 1;
                    idx[d] += 1;
                    off += st[d];
                }
            }
        }
    }
}

/// A read-only view of a tile: a computed column, or a slice of an input
/// read in place (same layout as the iteration space: no copy).
#[derive(Clone, Copy)]
enum ColRef<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    I32(&'a [i32]),
    Bool(&'a [bool]),
}

impl<'a> ColRef<'a> {
    fn len(&self) -> usize {
        match self {
            ColRef::F32(v) => v.len(),
            ColRef::F64(v) => v.len(),
            ColRef::I32(v) => v.len(),
            ColRef::Bool(v) => v.len(),
        }
    }

    fn of_col(c: &'a Col) -> ColRef<'a> {
        match c {
            Col::F32(v) => ColRef::F32(v),
            Col::F64(v) => ColRef::F64(v),
            Col::I32(v) => ColRef::I32(v),
            Col::Bool(v) => ColRef::Bool(v),
        }
    }

    /// Elements `[t0, t0 + len)` of buffer `b`, in place.
    fn of_input(b: &'a Buffer, t0: usize, len: usize) -> ColRef<'a> {
        let e = "fusion: input dtype";
        match b.dtype {
            DType::F32 => ColRef::F32(&b.slice::<f32>().expect(e)[t0..t0 + len]),
            DType::F64 => ColRef::F64(&b.slice::<f64>().expect(e)[t0..t0 + len]),
            DType::I32 => ColRef::I32(&b.slice::<i32>().expect(e)[t0..t0 + len]),
            DType::Bool => ColRef::Bool(&b.slice::<bool>().expect(e)[t0..t0 + len]),
            _ => unreachable!("{e}"),
        }
    }

    fn store(&self, outs: &OutPtrs, o: usize, t0: usize, len: usize) {
        match self {
            ColRef::F32(v) => outs.slice(o)[t0..t0 + len].copy_from_slice(&v[..len]),
            ColRef::F64(v) => outs.slice(o)[t0..t0 + len].copy_from_slice(&v[..len]),
            ColRef::I32(v) => outs.slice(o)[t0..t0 + len].copy_from_slice(&v[..len]),
            ColRef::Bool(v) => outs.slice(o)[t0..t0 + len].copy_from_slice(&v[..len]),
        }
    }
}

struct Scratch {
    cols: Vec<Col>,
}

thread_local! {
    /// Columns of finished kernels on this thread, kept for the next one:
    /// small kernels run often (a loop body per iteration), and allocating
    /// a tile per node each time cost more than the work.
    static FREE_COLS: std::cell::RefCell<Vec<Col>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// At most this many columns wait on a thread for reuse.
const FREE_COLS_MAX: usize = 64;

impl Scratch {
    fn new(nodes: &[FNode]) -> Scratch {
        FREE_COLS.with(|free| {
            let mut free = free.borrow_mut();
            let cols = nodes
                .iter()
                .map(|n| match free.iter().rposition(|c| c.ty() == n.ty) {
                    Some(i) => {
                        let mut c = free.swap_remove(i);
                        c.set_len(0);
                        c
                    }
                    None => Col::new(n.ty),
                })
                .collect();
            Scratch { cols }
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = FREE_COLS.try_with(|free| {
            if let Ok(mut free) = free.try_borrow_mut() {
                let room = FREE_COLS_MAX.saturating_sub(free.len());
                free.extend(self.cols.drain(..).take(room));
            }
        });
    }
}

macro_rules! map1 {
    ($x:expr, $o:expr, |$a:ident| $body:expr) => {
        for (o, &$a) in $o.iter_mut().zip($x.iter()) {
            *o = $body;
        }
    };
}

fn un_float<M: Math + Num>(op: Un, x: &[M], o: &mut [M]) {
    use Un::*;
    match op {
        Neg => map1!(x, o, |a| Num::neg(a)),
        Abs => map1!(x, o, |a| Num::abs(a)),
        Sign => map1!(x, o, |a| Num::sign(a)),
        Square => map1!(x, o, |a| Num::mul(a, a)),
        IntPow(y) => map1!(x, o, |a| a.ipow(y)),
        Floor => map1!(x, o, |a| a.floor()),
        Ceil => map1!(x, o, |a| a.ceil()),
        RoundEven => map1!(x, o, |a| a.round_even()),
        RoundAway => map1!(x, o, |a| a.round()),
        Exp => map1!(x, o, |a| a.exp_v()),
        Exp2 => map1!(x, o, |a| a.exp2()),
        Log => map1!(x, o, |a| a.log_v()),
        Log1p => map1!(x, o, |a| a.log1p_v()),
        Expm1 => map1!(x, o, |a| a.expm1_v()),
        Tanh => map1!(x, o, |a| a.tanh_v()),
        Logistic => map1!(x, o, |a| a.logistic_v()),
        Sin => map1!(x, o, |a| a.sin_v()),
        Cos => map1!(x, o, |a| a.cos_v()),
        Tan => map1!(x, o, |a| a.tan()),
        Sqrt => map1!(x, o, |a| a.sqrt()),
        Rsqrt => map1!(x, o, |a| a.sqrt().recip()),
        Cbrt => map1!(x, o, |a| a.cbrt()),
        Erf => map1!(x, o, |a| a.erf_v()),
        IsFinite | Not => unreachable!("typed elsewhere"),
    }
}

fn un(op: Un, x: ColRef, out: &mut Col) {
    match (x, out) {
        (ColRef::F32(x), Col::Bool(o)) if op == Un::IsFinite => map1!(x, o, |a| a.is_finite()),
        (ColRef::F64(x), Col::Bool(o)) if op == Un::IsFinite => map1!(x, o, |a| a.is_finite()),
        (ColRef::F32(x), Col::F32(o)) => un_float(op, x, o),
        (ColRef::F64(x), Col::F64(o)) => un_float(op, x, o),
        (ColRef::I32(x), Col::I32(o)) => match op {
            Un::Neg => map1!(x, o, |a| Num::neg(a)),
            Un::Abs => map1!(x, o, |a| Num::abs(a)),
            Un::Sign => map1!(x, o, |a| Num::sign(a)),
            Un::Square => map1!(x, o, |a| Num::mul(a, a)),
            Un::IntPow(y) => map1!(x, o, |a| a.ipow(y)),
            Un::Not => map1!(x, o, |a| Bits::not(a)),
            _ => unreachable!(),
        },
        (ColRef::Bool(x), Col::Bool(o)) => map1!(x, o, |a| Bits::not(a)),
        _ => unreachable!("fusion: unary type mismatch"),
    }
}

/// Elementwise over two columns; a one-element column broadcasts (the
/// scalar operand of `x * 2.0` is never filled into a tile).
macro_rules! map2 {
    ($x:expr, $y:expr, $o:expr, |$a:ident, $b:ident| $body:expr) => {{
        let (xs, ys) = (&$x[..], &$y[..]);
        if xs.len() == ys.len() {
            for ((o, &$a), &$b) in $o.iter_mut().zip(xs.iter()).zip(ys.iter()) {
                *o = $body;
            }
        } else if xs.len() == 1 {
            let $a = xs[0];
            for (o, &$b) in $o.iter_mut().zip(ys.iter()) {
                *o = $body;
            }
        } else {
            let $b = ys[0];
            for (o, &$a) in $o.iter_mut().zip(xs.iter()) {
                *o = $body;
            }
        }
    }};
}

fn cmp<T: Element>(op: Bin, x: &[T], y: &[T], o: &mut [bool]) {
    match op {
        Bin::Eq => map2!(x, y, o, |a, b| a == b),
        Bin::Ne => map2!(x, y, o, |a, b| a != b),
        Bin::Lt => map2!(x, y, o, |a, b| a < b),
        Bin::Le => map2!(x, y, o, |a, b| a <= b),
        Bin::Gt => map2!(x, y, o, |a, b| a > b),
        Bin::Ge => map2!(x, y, o, |a, b| a >= b),
        _ => unreachable!(),
    }
}

fn arith<T: Num>(op: Bin, x: &[T], y: &[T], o: &mut [T]) -> bool {
    match op {
        Bin::Add => map2!(x, y, o, |a, b| a.add(b)),
        Bin::Sub => map2!(x, y, o, |a, b| a.sub(b)),
        Bin::Mul => map2!(x, y, o, |a, b| a.mul(b)),
        Bin::Div => map2!(x, y, o, |a, b| a.div(b)),
        Bin::Rem => map2!(x, y, o, |a, b| a.rem(b)),
        Bin::Max => map2!(x, y, o, |a, b| a.max(b)),
        Bin::Min => map2!(x, y, o, |a, b| a.min(b)),
        _ => return false,
    }
    true
}

fn float_bin<M: Math + Num>(op: Bin, x: &[M], y: &[M], o: &mut [M]) {
    if arith(op, x, y, o) {
        return;
    }
    match op {
        Bin::Pow => map2!(x, y, o, |a, b| a.powf(b)),
        Bin::Atan2 => map2!(x, y, o, |a, b| a.atan2(b)),
        _ => unreachable!(),
    }
}

fn bin(op: Bin, x: ColRef, y: ColRef, out: &mut Col) {
    use Bin::*;
    if matches!(op, Eq | Ne | Lt | Le | Gt | Ge) {
        let Col::Bool(o) = out else { unreachable!() };
        match (x, y) {
            (ColRef::F32(x), ColRef::F32(y)) => cmp(op, x, y, o),
            (ColRef::F64(x), ColRef::F64(y)) => cmp(op, x, y, o),
            (ColRef::I32(x), ColRef::I32(y)) => cmp(op, x, y, o),
            (ColRef::Bool(x), ColRef::Bool(y)) => cmp(op, x, y, o),
            _ => unreachable!(),
        }
        return;
    }
    match (x, y, out) {
        (ColRef::F32(x), ColRef::F32(y), Col::F32(o)) => float_bin(op, x, y, o),
        (ColRef::F64(x), ColRef::F64(y), Col::F64(o)) => float_bin(op, x, y, o),
        (ColRef::I32(x), ColRef::I32(y), Col::I32(o)) => {
            if !arith(op, x, y, o) {
                match op {
                    And => map2!(x, y, o, |a, b| a.and(b)),
                    Or => map2!(x, y, o, |a, b| a.or(b)),
                    Xor => map2!(x, y, o, |a, b| a.xor(b)),
                    _ => unreachable!(),
                }
            }
        }
        (ColRef::Bool(x), ColRef::Bool(y), Col::Bool(o)) => match op {
            And | Min => map2!(x, y, o, |a, b| a & b),
            Or | Max => map2!(x, y, o, |a, b| a | b),
            Xor => map2!(x, y, o, |a, b| a ^ b),
            _ => unreachable!(),
        },
        _ => unreachable!("fusion: binary type mismatch"),
    }
}

fn cast<S: Element + CastTo<D>, D: Element>(x: &[S], o: &mut [D]) {
    map1!(x, o, |a| a.cast());
}

fn convert(x: ColRef, out: &mut Col) {
    macro_rules! to {
        ($x:expr) => {
            match out {
                Col::F32(o) => cast($x, o),
                Col::F64(o) => cast($x, o),
                Col::I32(o) => cast($x, o),
                Col::Bool(o) => cast($x, o),
            }
        };
    }
    match x {
        ColRef::F32(x) => to!(x),
        ColRef::F64(x) => to!(x),
        ColRef::I32(x) => to!(x),
        ColRef::Bool(x) => to!(x),
    }
}

/// A value blended by bit masks: `if p { b } else { a }` on a whole tile
/// written as a select of values compiles to a gather of the chosen
/// addresses; masks keep it a vector blend.
trait Blend: Copy {
    fn blend(p: bool, a: Self, b: Self) -> Self;
}

macro_rules! blend_bits {
    ($t:ty, $u:ty, $from:expr, $to:expr) => {
        impl Blend for $t {
            #[inline(always)]
            fn blend(p: bool, a: Self, b: Self) -> Self {
                let m = (p as $u).wrapping_neg();
                $from(($to(a) & !m) | ($to(b) & m))
            }
        }
    };
}
blend_bits!(f32, u32, f32::from_bits, f32::to_bits);
blend_bits!(f64, u64, f64::from_bits, f64::to_bits);
blend_bits!(i32, u32, |v: u32| v as i32, |v: i32| v as u32);
blend_bits!(bool, u8, |v: u8| v != 0, |v: bool| v as u8);

fn blend<T: Blend>(p: &[bool], a: &[T], b: &[T], o: &mut [T]) {
    for (((o, &p), &a), &b) in o.iter_mut().zip(p).zip(a).zip(b) {
        *o = T::blend(p, a, b);
    }
}

fn select(p: ColRef, cases: &[ColRef], out: &mut Col) {
    let last = cases.len() - 1;
    // element i of a full or one-element column
    let at = |len: usize, i: usize| if len == 1 { 0 } else { i };
    let plen = p.len();
    let idx = |i: usize| -> usize {
        match p {
            ColRef::Bool(p) => (p[at(plen, i)] as usize).min(last),
            ColRef::I32(p) => (Ord::max(p[at(plen, i)], 0) as usize).min(last),
            _ => unreachable!(),
        }
    };
    macro_rules! sel {
        ($o:ident, $var:ident) => {{
            let cs: Vec<&[_]> = cases
                .iter()
                .map(|c| match *c {
                    ColRef::$var(v) => v,
                    _ => unreachable!(),
                })
                .collect();
            let n = $o.len();
            if cs.len() == 2 && plen == n && cs.iter().all(|c| c.len() == n) {
                if let ColRef::Bool(p) = p {
                    blend(&p[..n], &cs[0][..n], &cs[1][..n], $o);
                    return;
                }
            }
            for (i, o) in $o.iter_mut().enumerate() {
                let c = cs[idx(i)];
                *o = c[at(c.len(), i)];
            }
        }};
    }
    match out {
        Col::F32(o) => sel!(o, F32),
        Col::F64(o) => sel!(o, F64),
        Col::I32(o) => sel!(o, I32),
        Col::Bool(o) => sel!(o, Bool),
    }
}

// ---------------------------------------------------------------------------
// Accumulators: f32 sums accumulate in f64.

enum Acc {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I32(Vec<i32>),
}

fn ident<T: Num>(op: RedOp) -> T {
    match op {
        RedOp::Sum => T::ZERO,
        RedOp::Max => T::lowest(),
        RedOp::Min => T::highest(),
    }
}

#[inline(always)]
fn comb<T: Num>(op: RedOp, a: T, b: T) -> T {
    match op {
        RedOp::Sum => a.add(b),
        RedOp::Max => a.max(b),
        RedOp::Min => a.min(b),
    }
}

/// Reduce `x` into one value: eight lanes, then the lanes in order.
fn seg<T: Num, A: Num>(op: RedOp, x: &[T], up: impl Fn(T) -> A) -> A {
    // one loop per op (a match inside the loop keeps it scalar)
    match op {
        RedOp::Sum => seg_by(x, A::ZERO, up, |a: A, b| a.add(b)),
        RedOp::Max => seg_by(x, A::lowest(), up, |a: A, b| a.max(b)),
        RedOp::Min => seg_by(x, A::highest(), up, |a: A, b| a.min(b)),
    }
}

#[inline(always)]
fn seg_by<T: Num, A: Num>(x: &[T], id: A, up: impl Fn(T) -> A, f: impl Fn(A, A) -> A) -> A {
    let mut lanes = [id; 8];
    let mut ch = x.chunks_exact(8);
    for c in &mut ch {
        for l in 0..8 {
            lanes[l] = f(lanes[l], up(c[l]));
        }
    }
    let mut a = id;
    for l in lanes {
        a = f(a, l);
    }
    for &v in ch.remainder() {
        a = f(a, up(v));
    }
    a
}

/// `a[k] op= up(x[k])` for each `k` (column reductions), one loop per op.
fn cols<T: Copy, A: Num>(op: RedOp, a: &mut [A], x: &[T], up: impl Fn(T) -> A) {
    #[inline(always)]
    fn by<T: Copy, A>(a: &mut [A], x: &[T], up: impl Fn(T) -> A, f: impl Fn(&A, A) -> A) {
        for (a, &v) in a.iter_mut().zip(x) {
            *a = f(a, up(v));
        }
    }
    match op {
        RedOp::Sum => by(a, x, up, |a: &A, b| a.add(b)),
        RedOp::Max => by(a, x, up, |a: &A, b| a.max(b)),
        RedOp::Min => by(a, x, up, |a: &A, b| a.min(b)),
    }
}

impl Acc {
    fn new(op: RedOp, ty: Ty, n: usize) -> Acc {
        match (op, ty) {
            (RedOp::Sum, Ty::F32) | (_, Ty::F64) => Acc::F64(vec![ident(op); n]),
            (_, Ty::F32) => Acc::F32(vec![ident(op); n]),
            (_, Ty::I32) => Acc::I32(vec![ident(op); n]),
            (_, Ty::Bool) => unreachable!("bool reductions are not fused"),
        }
    }

    /// `self[slot] op= reduce(col[i..i+m])`.
    fn fold_seg(&mut self, op: RedOp, col: ColRef, i: usize, m: usize, slot: usize) {
        match (self, col) {
            (Acc::F64(a), ColRef::F32(x)) => {
                a[slot] = comb(op, a[slot], seg(op, &x[i..i + m], |v| v as f64))
            }
            (Acc::F64(a), ColRef::F64(x)) => {
                a[slot] = comb(op, a[slot], seg(op, &x[i..i + m], |v| v))
            }
            (Acc::F32(a), ColRef::F32(x)) => {
                a[slot] = comb(op, a[slot], seg(op, &x[i..i + m], |v| v))
            }
            (Acc::I32(a), ColRef::I32(x)) => {
                a[slot] = comb(op, a[slot], seg(op, &x[i..i + m], |v| v))
            }
            _ => unreachable!(),
        }
    }

    /// `self[j..j+m] op= col[i..i+m]` (column reductions).
    fn fold_cols(&mut self, op: RedOp, col: ColRef, i: usize, m: usize, j: usize) {
        match (self, col) {
            (Acc::F64(a), ColRef::F32(x)) => cols(op, &mut a[j..j + m], &x[i..i + m], |v| v as f64),
            (Acc::F64(a), ColRef::F64(x)) => cols(op, &mut a[j..j + m], &x[i..i + m], |v| v),
            (Acc::F32(a), ColRef::F32(x)) => cols(op, &mut a[j..j + m], &x[i..i + m], |v| v),
            (Acc::I32(a), ColRef::I32(x)) => cols(op, &mut a[j..j + m], &x[i..i + m], |v| v),
            _ => unreachable!(),
        }
    }

    fn merge(&mut self, op: RedOp, o: &Acc) {
        match (self, o) {
            (Acc::F64(a), Acc::F64(b)) => {
                a.iter_mut().zip(b).for_each(|(a, &b)| *a = comb(op, *a, b))
            }
            (Acc::F32(a), Acc::F32(b)) => {
                a.iter_mut().zip(b).for_each(|(a, &b)| *a = comb(op, *a, b))
            }
            (Acc::I32(a), Acc::I32(b)) => {
                a.iter_mut().zip(b).for_each(|(a, &b)| *a = comb(op, *a, b))
            }
            _ => unreachable!(),
        }
    }

    /// Each row's value (slots from `slot0`), rounded to the reduction's
    /// dtype, over its `rlen` elements of `out` (one value if `out` has one).
    fn fill_rows(&self, slot0: usize, rlen: usize, out: &mut Col) {
        fn fill<T: Copy>(o: &mut [T], rlen: usize, f: impl Fn(usize) -> T) {
            if o.len() == 1 {
                o[0] = f(0);
            } else {
                for (q, seg) in o.chunks_mut(rlen).enumerate() {
                    seg.fill(f(q));
                }
            }
        }
        match (self, out) {
            (Acc::F64(a), Col::F32(o)) => fill(o, rlen, |q| a[slot0 + q] as f32),
            (Acc::F64(a), Col::F64(o)) => fill(o, rlen, |q| a[slot0 + q]),
            (Acc::F32(a), Col::F32(o)) => fill(o, rlen, |q| a[slot0 + q]),
            (Acc::I32(a), Col::I32(o)) => fill(o, rlen, |q| a[slot0 + q]),
            _ => unreachable!("fusion: row value type"),
        }
    }

    /// Write the accumulators to output `o` starting at `at`.
    fn write(&self, outs: &OutPtrs, o: usize, at: usize) {
        match (self, outs.avals[o].dtype) {
            (Acc::F64(a), DType::F32) => {
                let s = outs.slice::<f32>(o);
                for (k, &v) in a.iter().enumerate() {
                    s[at + k] = v as f32;
                }
            }
            (Acc::F64(a), DType::F64) => outs.slice::<f64>(o)[at..at + a.len()].copy_from_slice(a),
            (Acc::F32(a), DType::F32) => outs.slice::<f32>(o)[at..at + a.len()].copy_from_slice(a),
            (Acc::I32(a), DType::I32) => outs.slice::<i32>(o)[at..at + a.len()].copy_from_slice(a),
            _ => unreachable!(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MAX_ROW;
    use crate::base::buffer::Buffer;
    use crate::base::dtype::DType;
    use crate::base::params::{Param, Params};
    use crate::exec::executable::{Executable, InstrSpec};
    use crate::ops::testing::ints;
    use crate::ops::Aval;

    fn f32s(shape: &[usize]) -> Aval {
        Aval::new(DType::F32, shape.to_vec())
    }

    fn ins(p: Params, ins: Vec<usize>, out: Aval) -> InstrSpec {
        InstrSpec {
            params: p,
            ins,
            outs: vec![out],
        }
    }

    fn op(name: &str) -> Params {
        Params::new(name)
    }

    /// Deterministic pseudo-random data in [-2, 2).
    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    /// Build the program fused and unfused, run both, return both outputs
    /// and the fused program's kernel count.
    fn both(
        in_avals: Vec<Aval>,
        consts: Vec<Buffer>,
        specs: impl Fn() -> Vec<InstrSpec>,
        outputs: Vec<usize>,
        args: &[Buffer],
    ) -> (Vec<Buffer>, Vec<Buffer>, usize) {
        let f = Executable::with_fusion(
            in_avals.clone(),
            consts.clone(),
            specs(),
            outputs.clone(),
            true,
        )
        .unwrap();
        let u = Executable::with_fusion(in_avals, consts, specs(), outputs, false).unwrap();
        (f.run(args).unwrap(), u.run(args).unwrap(), f.n_kernels())
    }

    fn close(a: &Buffer, b: &Buffer, tol: f64) {
        assert_eq!(a.shape, b.shape);
        let (x, y) = (a.slice::<f32>().unwrap(), b.slice::<f32>().unwrap());
        for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
            let d = (p as f64 - q as f64).abs();
            assert!(
                d <= tol * (1.0 + q.abs() as f64) || (p.is_nan() && q.is_nan()),
                "element {i}: fused {p} vs unfused {q}"
            );
        }
    }

    #[test]
    fn elementwise_chain_is_one_kernel_and_bit_exact() {
        for &n in &[1usize, 7, 1024, 1025, 100_003] {
            let a = f32s(&[n]);
            let x = Buffer::from_vec(vec![n], &data(n, 1)).unwrap();
            let y = Buffer::from_vec(vec![n], &data(n, 2)).unwrap();
            let specs = || {
                vec![
                    ins(op("mul"), vec![0, 1], a.clone()),
                    ins(op("tanh"), vec![2], a.clone()),
                    ins(op("exp"), vec![0], a.clone()),
                    ins(op("sub"), vec![3, 4], a.clone()),
                    ins(op("max"), vec![5, 1], a.clone()),
                    ins(op("logistic"), vec![6], a.clone()),
                    ins(
                        op("integer_pow").with("y", Param::Int(3)),
                        vec![7],
                        a.clone(),
                    ),
                ]
            };
            let (f, u, k) = both(vec![a.clone(), a.clone()], vec![], specs, vec![8], &[x, y]);
            assert_eq!(k, 1, "n={n}");
            assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
        }
    }

    #[test]
    fn reductions_join_their_producers() {
        // sum(x*x) over everything, rows (last axis) and columns (first axis)
        for (axes, out_shape) in [
            (vec![0i64, 1], vec![]),
            (vec![1], vec![300]),
            (vec![0], vec![129]),
        ] {
            let a = f32s(&[300, 129]);
            let x = Buffer::from_vec(vec![300, 129], &data(300 * 129, 3)).unwrap();
            let specs = || {
                vec![
                    ins(op("mul"), vec![0, 0], a.clone()),
                    ins(
                        op("reduce_sum").with("axes", ints(&axes)),
                        vec![1],
                        f32s(&out_shape),
                    ),
                    ins(
                        op("reduce_max").with("axes", ints(&axes)),
                        vec![1],
                        f32s(&out_shape),
                    ),
                ]
            };
            let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![2, 3], &[x]);
            assert_eq!(k, 1, "axes {axes:?}");
            close(&f[0], &u[0], 1e-5);
            assert_eq!(f[1].slice::<f32>().unwrap(), u[1].slice::<f32>().unwrap());
        }
    }

    #[test]
    fn broadcasts_and_literals_are_loads() {
        // x - broadcast(mean over rows) ; * scalar literal ; select
        let (m, n) = (37usize, 1030usize);
        let a = f32s(&[m, n]);
        let x = Buffer::from_vec(vec![m, n], &data(m * n, 4)).unwrap();
        let row = Buffer::from_vec(vec![n], &data(n, 5)).unwrap();
        let col = Buffer::from_vec(vec![m, 1], &data(m, 6)).unwrap();
        let lit = Buffer::from_vec::<f32>(vec![], &[0.5]).unwrap();
        // ids: 0 x, 1 row, 2 col, 3 lit (const)
        let specs = || {
            vec![
                ins(
                    op("broadcast_in_dim")
                        .with("broadcast_dimensions", ints(&[1]))
                        .with("shape", ints(&[m as i64, n as i64])),
                    vec![1],
                    a.clone(),
                ), // 4
                ins(op("sub"), vec![0, 4], a.clone()), // 5
                ins(op("mul"), vec![5, 3], a.clone()), // 6 (rank-0 literal)
                ins(op("add"), vec![6, 2], a.clone()), // 7 (size-1 dim)
                ins(op("gt"), vec![7, 3], Aval::new(DType::Bool, vec![m, n])), // 8
                ins(op("select_n"), vec![8, 0, 7], a.clone()), // 9
                ins(
                    op("convert_element_type").with("new_dtype", Param::Str("float64".into())),
                    vec![9],
                    Aval::new(DType::F64, vec![m, n]),
                ), // 10
            ]
        };
        let (f, u, k) = both(
            vec![a.clone(), f32s(&[n]), f32s(&[m, 1])],
            vec![lit],
            specs,
            vec![9, 10],
            &[x, row, col],
        );
        assert_eq!(k, 1);
        assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
        assert_eq!(f[1].slice::<f64>().unwrap(), u[1].slice::<f64>().unwrap());
    }

    #[test]
    fn values_used_elsewhere_are_materialized_and_order_is_kept() {
        // e = exp(x) is used by a fused chain and by a dot that runs between
        // the chain's members; the dot's result feeds the chain again.
        let n = 64usize;
        let a = f32s(&[n]);
        let x = Buffer::from_vec(vec![n], &data(n, 7)).unwrap();
        let dot = || {
            op("dot_general")
                .with(
                    "dimension_numbers",
                    Param::List(vec![
                        Param::List(vec![ints(&[0]), ints(&[0])]),
                        Param::List(vec![ints(&[]), ints(&[])]),
                    ]),
                )
                .with("precision", Param::None)
                .with("preferred_element_type", Param::None)
        };
        let specs = || {
            vec![
                ins(op("exp"), vec![0], a.clone()),    // 1
                ins(dot(), vec![1, 1], f32s(&[])),     // 2 (not fusible)
                ins(op("mul"), vec![1, 2], a.clone()), // 3 uses the dot
                ins(op("tanh"), vec![3], a.clone()),   // 4
                ins(op("neg"), vec![1], a.clone()),    // 5
            ]
        };
        let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![4, 5], &[x]);
        // exp must run before the dot, so it cannot join the later chain:
        // exp, dot, fused(mul, tanh), neg.
        assert_eq!(k, 4);
        for (p, q) in f.iter().zip(&u) {
            assert_eq!(p.slice::<f32>().unwrap(), q.slice::<f32>().unwrap());
        }
    }

    #[test]
    fn unsupported_patterns_stay_unfused_but_correct() {
        // a reduction over a middle axis and an f16 chain
        let a = f32s(&[4, 5, 6]);
        let x = Buffer::from_vec(vec![4, 5, 6], &data(120, 8)).unwrap();
        let specs = || {
            vec![
                ins(op("sin"), vec![0], a.clone()),
                ins(
                    op("reduce_sum").with("axes", ints(&[1])),
                    vec![1],
                    f32s(&[4, 6]),
                ),
            ]
        };
        let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![2], &[x]);
        assert_eq!(k, 2);
        close(&f[0], &u[0], 1e-6);
    }

    #[test]
    fn every_fused_unary_op_equals_its_kernel() {
        let n = 3000usize;
        let a = f32s(&[n]);
        let x: Vec<f32> = data(n, 11).iter().map(|v| v * 3.0).collect();
        let xb = Buffer::from_vec(vec![n], &x).unwrap();
        for name in [
            "neg", "abs", "sign", "square", "floor", "ceil", "exp", "exp2", "log", "log1p",
            "expm1", "tanh", "logistic", "sin", "cos", "tan", "sqrt", "rsqrt", "cbrt", "erf",
        ] {
            // op(x) * x: two ops, so the pair is fused
            let specs = || {
                vec![
                    ins(op(name), vec![0], a.clone()),
                    ins(op("mul"), vec![1, 0], a.clone()),
                ]
            };
            let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![2], &[xb.clone()]);
            assert_eq!(k, 1, "{name}");
            let (p, q) = (f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
            for i in 0..n {
                assert!(
                    p[i].to_bits() == q[i].to_bits() || (p[i].is_nan() && q[i].is_nan()),
                    "{name}({}) fused {} vs kernel {}",
                    x[i],
                    p[i],
                    q[i]
                );
            }
        }
    }

    fn red(name: &str, axes: &[i64]) -> Params {
        op(name).with("axes", ints(axes))
    }

    #[test]
    fn softmax_and_logsumexp_rows_are_one_kernel() {
        // softmax: e = exp(x - max(x)); e / sum(e), reductions over the last
        // axis read back per row through keepdims reshapes; logsumexp keeps
        // max(x) (reshaped) as an output too.
        for &(m, n) in &[
            (1usize, 1usize),
            (3, 7),
            (5, 1024),
            (70, 33),
            (2, 1500),
            (300, 129),
            (3, MAX_ROW + 5),
        ] {
            let a = f32s(&[m, n]);
            let k1 = f32s(&[m, 1]);
            let x = Buffer::from_vec(vec![m, n], &data(m * n, 21)).unwrap();
            let specs = || {
                vec![
                    ins(red("reduce_max", &[1]), vec![0], f32s(&[m])), // 1
                    ins(op("reshape"), vec![1], k1.clone()),           // 2
                    ins(op("sub"), vec![0, 2], a.clone()),             // 3
                    ins(op("exp"), vec![3], a.clone()),                // 4
                    ins(red("reduce_sum", &[1]), vec![4], f32s(&[m])), // 5
                    ins(op("reshape"), vec![5], k1.clone()),           // 6
                    ins(op("div"), vec![4, 6], a.clone()),             // 7
                ]
            };
            let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![7], &[x.clone()]);
            // (a 1-element row's keepdims value has the group's shape: fused
            // differently; rows over MAX_ROW: max, reshape, the exp-sum, reshape, div)
            let long = n > MAX_ROW;
            if n > 1 {
                assert_eq!(k, if long { 5 } else { 1 }, "softmax {m}x{n}");
            }
            close(&f[0], &u[0], 1e-6);
            // logsumexp: outputs sum(e) and the reshaped max
            let lse = || specs().into_iter().take(5).collect();
            let (f, u, k) = both(vec![a.clone()], vec![], lse, vec![5, 2], &[x]);
            if n > 1 {
                assert_eq!(k, if long { 3 } else { 1 }, "logsumexp {m}x{n}");
            }
            close(&f[0], &u[0], 1e-6);
            assert_eq!(f[1].shape, vec![m, 1]);
            assert_eq!(f[1].slice::<f32>().unwrap(), u[1].slice::<f32>().unwrap());
        }
    }

    #[test]
    fn row_values_through_broadcasts_and_three_dims() {
        // x - broadcast(mean over the last two axes), squared, summed per row,
        // with a [m, 1, 1] keepdims read, over a 3-d iteration space
        let (m, p, q) = (9usize, 4usize, 37usize);
        let a = f32s(&[m, p, q]);
        let x = Buffer::from_vec(vec![m, p, q], &data(m * p * q, 22)).unwrap();
        let specs = || {
            vec![
                ins(red("reduce_sum", &[1, 2]), vec![0], f32s(&[m])), // 1
                ins(
                    op("broadcast_in_dim")
                        .with("broadcast_dimensions", ints(&[0]))
                        .with("shape", ints(&[m as i64, p as i64, q as i64])),
                    vec![1],
                    a.clone(),
                ), // 2
                ins(op("sub"), vec![0, 2], a.clone()),                // 3
                ins(op("mul"), vec![3, 3], a.clone()),                // 4
                ins(red("reduce_sum", &[1, 2]), vec![4], f32s(&[m])), // 5
                ins(op("reshape"), vec![5], f32s(&[m, 1, 1])),        // 6
                ins(op("add"), vec![4, 6], a.clone()),                // 7
                ins(red("reduce_max", &[1, 2]), vec![7], f32s(&[m])), // 8
            ]
        };
        let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![8, 3], &[x]);
        assert_eq!(k, 1);
        close(&f[0], &u[0], 1e-5);
        close(&f[1], &u[1], 1e-5);
    }

    #[test]
    fn a_reduction_used_early_keeps_its_reshape_outside() {
        // m's other user (a dot) runs before the group, so m cannot join it:
        // its keepdims reshape goes back to being a plain instruction.
        let (m, n) = (6usize, 50usize);
        let a = f32s(&[m, n]);
        let x = Buffer::from_vec(vec![m, n], &data(m * n, 23)).unwrap();
        let dot = op("dot_general")
            .with(
                "dimension_numbers",
                Param::List(vec![
                    Param::List(vec![ints(&[0]), ints(&[0])]),
                    Param::List(vec![ints(&[]), ints(&[])]),
                ]),
            )
            .with("precision", Param::None)
            .with("preferred_element_type", Param::None);
        let specs = || {
            vec![
                ins(red("reduce_max", &[1]), vec![0], f32s(&[m])), // 1
                ins(op("reshape"), vec![1], f32s(&[m, 1])),        // 2
                ins(dot.clone(), vec![1, 1], f32s(&[])),           // 3
                ins(op("sub"), vec![0, 2], a.clone()),             // 4
                ins(op("mul"), vec![4, 3], a.clone()),             // 5
            ]
        };
        let (f, u, k) = both(vec![a.clone()], vec![], specs, vec![5], &[x]);
        assert_eq!(k, 4);
        assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
    }

    #[test]
    fn empty_arrays() {
        let a = f32s(&[0, 3]);
        let x = Buffer::from_vec::<f32>(vec![0, 3], &[]).unwrap();
        let specs = || {
            vec![
                ins(op("exp"), vec![0], a.clone()),
                ins(
                    op("reduce_sum").with("axes", ints(&[0])),
                    vec![1],
                    f32s(&[3]),
                ),
                ins(
                    op("reduce_max").with("axes", ints(&[0, 1])),
                    vec![1],
                    f32s(&[]),
                ),
            ]
        };
        let (f, u, _) = both(vec![a.clone()], vec![], specs, vec![2, 3], &[x]);
        assert_eq!(f[0].slice::<f32>().unwrap(), u[0].slice::<f32>().unwrap());
        assert_eq!(f[1].slice::<f32>().unwrap(), u[1].slice::<f32>().unwrap());
    }
}
