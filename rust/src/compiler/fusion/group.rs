//! A planned group as a `Fused` program: one node per value (loads of
//! outside values, elementwise ops with their slice kernels from the op
//! table, per-row reads of earlier reductions), the reductions, the
//! outputs, and the phases of a multi-phase row group.
use super::classify::{kind_of, Kind};
use super::{FNode, Fused, Node, Out, Pattern, Red, SymOp, MAX_ROW};
use crate::base::buffer::{numel, strides};
use crate::base::dtype::DType;
use crate::base::error::{Error, Result};
use crate::base::params::Params;
use crate::loops::strided::LoadMap;
use crate::ops::table;
use crate::ops::Aval;
use std::collections::HashMap;

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
    let first_in: Vec<Aval> = ins[first].iter().map(|&v| avals[v].clone()).collect();
    let first_out: Vec<Aval> = outs[first].iter().map(|&v| avals[v].clone()).collect();
    let shape = match kind_of(params[first], &first_in, &first_out) {
        Some(Kind::Reduce(..)) => avals[ins[first][0]].shape.clone(),
        _ => avals[outs[first][0]].shape.clone(),
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
        let oty = avals[out].dtype;
        let idx = match kind {
            Kind::Reduce(op, pat) => {
                pattern = Some(pat);
                let x = b.operand(ins[k][0])?;
                reds.push(Red {
                    op,
                    node: x,
                    dtype: oty,
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
                let e = table::lookup(&p.op)
                    .and_then(|d| d.elementwise_kind())
                    .ok_or_else(|| {
                        Error::Internal(format!("fusion: {} is not elementwise", p.op))
                    })?;
                let dtypes: Vec<DType> = ia.iter().map(|a| a.dtype).collect();
                let kernel = (e.resolve)(p, &dtypes, oty)?;
                let sym = SymOp {
                    record: e.record,
                    params: p.clone(),
                    ins: dtypes,
                };
                let node = Node::Op { kernel, args, sym };
                b.nodes.push(FNode { node, dtype: oty });
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
            Node::Op { args, .. } => args.iter().map(|&a| phase[a]).max().unwrap_or(0),
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
        let ty = self.avals[v].dtype;
        let input = match self.inputs.iter().position(|&x| x == v) {
            Some(i) => i,
            None => {
                self.inputs.push(v);
                self.inputs.len() - 1
            }
        };
        self.nodes.push(FNode {
            node: Node::Load { input, map },
            dtype: ty,
        });
        self.loads.insert(key, self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }

    /// The node reading reduction `r`'s value per row.
    fn row_red(&mut self, r: usize, ty: DType) -> usize {
        if let Some(&i) = self.row_nodes.get(&r) {
            return i;
        }
        self.nodes.push(FNode {
            node: Node::RowRed(r),
            dtype: ty,
        });
        self.row_nodes.insert(r, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    /// An operand of an elementwise member: its in-group node, or a load with
    /// lax broadcasting (one element: scalar; size-1 dims: stride 0).
    fn operand(&mut self, v: usize) -> Result<usize> {
        if let Some(&r) = self.red_of.get(&v) {
            let ty = self.avals[v].dtype;
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
