//! Loop fusion: chains of elementwise ops (with broadcasts, reshapes and
//! converts of their inputs, and selects), and the reductions that consume
//! them, become one kernel that streams tiles through every op, in parallel
//! over chunks of tiles. Intermediate values live in small per-thread tile
//! buffers (L1/L2), never in memory-sized arrays.
//!
//! The jobs, one file each:
//! - `classify.rs`: what an instruction is to the fuser, read from the op
//!   table (an elementwise entry, a view with a load map, a reduction the
//!   tile runner can fold), in every dtype;
//! - `plan.rs`: which instructions form a group;
//! - `group.rs`: a group as a `Fused` program: nodes in evaluation order,
//!   each elementwise node holding its op's slice kernel;
//! - `exec::fused` runs a `Fused` program over tiles.
//!
//! Tiles compute with the same slice kernels as the one-op eager kernels, so
//! a fused elementwise result equals the unfused one bit for bit. Fused
//! reductions fold tiles in another order than the eager pairwise kernels:
//! integer sums (wrapping) and max/min (any order) are still exact; float32
//! sums accumulate in float64 (at least as accurate); float64 sums may differ
//! in the last bits; f16/bf16 sums are not fused (see `classify.rs`).
use crate::base::dtype::DType;
use crate::base::error::Result;
use crate::base::params::Params;
use crate::loops::strided::LoadMap;
use crate::ops::elementwise::SliceKernel;
use crate::ops::reduce::Monoid;
use crate::ops::scalar::sym::Graph;

pub mod classify;
pub mod group;
pub mod plan;

pub use group::build_group;
pub use plan::{plan, Step};

/// Elements per tile: every node's tile of a group fits in L1/L2.
pub const TILE: usize = 1024;

/// The longest row a multi-phase row group handles: its tiles hold whole
/// rows, so that a later phase reads an earlier phase's per-row reduction.
pub const MAX_ROW: usize = 16384;

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

/// A node of a fused program.
#[derive(Clone)]
pub enum Node {
    /// External input `input` read through `map`.
    Load { input: usize, map: LoadMap },
    /// An elementwise op: its slice kernel over the argument nodes.
    Op {
        kernel: SliceKernel,
        args: Vec<usize>,
        sym: SymOp,
    },
    /// Reduction `k`'s value for the element's row (a row group's earlier
    /// phase).
    RowRed(usize),
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Load { input, map } => write!(f, "Load({input}, {map:?})"),
            Node::Op { args, .. } => write!(f, "Op{args:?}"),
            Node::RowRed(k) => write!(f, "RowRed({k})"),
        }
    }
}

/// How to record an elementwise node's scalar function as a DAG of
/// primitives (the op table entry's `record`, with the node's params and
/// operand dtypes): what the native tier (`exec::native`) renders.
#[derive(Clone)]
pub struct SymOp {
    pub record: fn(&Params, &[DType], DType) -> Result<Graph>,
    pub params: Params,
    pub ins: Vec<DType>,
}

/// A node and the dtype of its values.
#[derive(Clone, Debug)]
pub struct FNode {
    pub node: Node,
    pub dtype: DType,
}

/// A reduction of node `node` (of `dtype`) with `op`.
#[derive(Clone, Debug)]
pub struct Red {
    pub op: Monoid,
    pub node: usize,
    pub dtype: DType,
}

/// One output of a fused kernel: a materialized node or a reduction.
#[derive(Clone, Debug)]
pub enum Out {
    Node(usize),
    Red(usize),
}

/// A fused kernel's program: nodes in evaluation order over a `shape`d
/// iteration space, reductions with one `pattern`, and outputs.
#[derive(Clone, Debug)]
pub struct Fused {
    pub shape: Vec<usize>,
    pub nodes: Vec<FNode>,
    pub reds: Vec<Red>,
    pub pattern: Option<Pattern>,
    pub outs: Vec<Out>,
    pub n_inputs: usize,
    /// Nodes stored or reduced: expanded to full tiles when one-element.
    pub full_cols: Vec<usize>,
    /// Node indices by phase (stable): phase `p` is
    /// `order[phase_end[p-1]..phase_end[p]]`.
    pub order: Vec<usize>,
    pub phase_end: Vec<usize>,
    /// The phase in which each reduction is folded.
    pub red_phase: Vec<usize>,
    /// The original op names, for the plan text.
    pub ops: Vec<String>,
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
}
