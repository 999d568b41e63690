//! Program-level passes, run by `Executable::new` before it builds kernels:
//! dead-code elimination, common-subexpression elimination (constants
//! included) and constant folding. They take and return a Program in
//! `program.rs`'s numbering (inputs `0..n_in`, then constants, then each
//! instruction's outputs in order) and rely on every op being pure.
//!
//! The order: a backward liveness sweep drops dead instructions first (so no
//! time is spent folding work nobody reads); one forward sweep then
//! value-numbers the live instructions: an instruction equal to an earlier
//! one (same op and params, same input values, same output avals) reuses its
//! outputs, and one whose inputs are all constants (or that has none) and
//! whose outputs are small is run now, its outputs becoming constants. As a
//! folded result is a constant, a chain of such instructions folds in this one
//! sweep. A last liveness sweep drops the constants (and anything else) no
//! longer read, and the survivors are renumbered.
//!
//! Two of XLA's algebraic simplifications change numbers, so the forward
//! sweep does them too, for rjax to give JAX's results (`xla_rewrite`):
//! `x / d` of dtype f16/f32/f64 (not bf16), where `d` is a constant or is
//! broadcast (an operand with fewer elements than the result, or an
//! explicit broadcast of one),
//! becomes `x * (1 / d)`, the reciprocal rounded to the dtype (about a third
//! of f32 quotients by 3 differ from the true quotient by one ulp, in JAX as
//! here; eager calls are one-op Programs and get it too, as JAX's eager ops,
//! which XLA compiles, do); and `convert(p) * x` with a boolean `p` becomes
//! `select_n(p, 0, x)` (not for bf16 either), so a mask gives 0 where it is
//! false even where `x` is NaN or inf (under `jit`; an eager multiply sees
//! no convert).
//!
//! Host callbacks (`ops::callback`) are the exception to purity: an op with
//! an effect (a debug callback, or control flow whose body has one) is live
//! whatever reads it and is never merged with an equal one; no host call is
//! ever folded (it would run Python at compile time).
use crate::base::buffer::Buffer;
use crate::base::dtype::DType;
use crate::base::error::{Error, Result};
use crate::base::params::Params;
use crate::compiler::program::InstrSpec;
use crate::ops::{self, Aval, OpSpec};
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An instruction is folded only if its outputs hold at most this many
/// elements in all, so folding never bloats a Program with huge constants.
pub const MAX_FOLD_ELEMENTS: usize = 64 * 1024;
/// Largest output folded for an op whose output is larger than its inputs.
pub const MAX_EXPANDING_FOLD: usize = 4096;

/// Constants of at most this many bytes are deduplicated by content (larger
/// ones only when they are the very same buffer).
pub const MAX_DEDUP_CONST_BYTES: usize = 4096;

/// What the passes did to one Program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    pub instrs_before: usize,
    pub instrs_after: usize,
    /// Instructions evaluated at compile time (their outputs became constants).
    pub folded: usize,
    /// Instructions dropped as duplicates of an earlier one.
    pub cse: usize,
    /// Instructions dropped because no output reads them.
    pub dce: usize,
    /// Instructions added by XLA's rewrites (a reciprocal `1/d`).
    pub added: usize,
    pub consts_before: usize,
    /// Constants in the result, folded ones included.
    pub consts_after: usize,
    /// Live constants (given or folded) merged into an equal earlier one.
    pub consts_deduped: usize,
}

impl fmt::Display for PassStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "passes: {} -> {} instructions (folded {}, cse {}, dce {}); \
             {} -> {} constants ({} deduplicated)",
            self.instrs_before,
            self.instrs_after,
            self.folded,
            self.cse,
            self.dce,
            self.consts_before,
            self.consts_after,
            self.consts_deduped
        )?;
        if self.added > 0 {
            write!(f, "; {} added by rewrites", self.added)?;
        }
        Ok(())
    }
}

/// An optimized Program and what the passes did.
pub struct Optimized {
    pub consts: Vec<Buffer>,
    pub specs: Vec<InstrSpec>,
    pub outputs: Vec<usize>,
    pub stats: PassStats,
}

/// Run all passes; returns an equivalent, renumbered Program.
pub fn optimize(
    in_avals: &[Aval],
    consts: Vec<Buffer>,
    specs: Vec<InstrSpec>,
    outputs: Vec<usize>,
) -> Result<(Vec<Buffer>, Vec<InstrSpec>, Vec<usize>)> {
    let o = optimize_with_stats(in_avals, consts, specs, outputs)?;
    Ok((o.consts, o.specs, o.outputs))
}

/// A value of the Program being built: an input, a constant of the new
/// constant list, or output `k` of kept instruction `j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Val {
    In(usize),
    Const(usize),
    Out(usize, usize),
}

/// An instruction's identity for CSE; also how kept instructions are stored.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Node {
    params: Params,
    ins: Vec<Val>,
    outs: Vec<Aval>,
}

#[derive(PartialEq, Eq, Hash)]
struct ConstKey {
    dtype: DType,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// The forward sweep's state: the new constants and instructions.
#[derive(Default)]
struct Builder {
    consts: Vec<Buffer>,
    by_content: HashMap<ConstKey, usize>,
    /// (dtype, shape, address) of the big constants: the same buffer twice.
    by_identity: HashMap<(DType, Vec<usize>, usize), usize>,
    nodes: Vec<Node>,
    /// A seen instruction -> its output values (kept or folded).
    seen: HashMap<Node, Vec<Val>>,
    deduped: usize,
    /// Instructions the rewrites added.
    added: usize,
}

impl Builder {
    fn add_const(&mut self, c: Buffer) -> Val {
        let next = self.consts.len();
        let bytes = c.data.bytes();
        let found = if bytes.len() <= MAX_DEDUP_CONST_BYTES {
            let key = ConstKey {
                dtype: c.dtype,
                shape: c.shape.clone(),
                bytes: bytes.to_vec(),
            };
            *self.by_content.entry(key).or_insert(next)
        } else {
            let key = (c.dtype, c.shape.clone(), bytes.as_ptr() as usize);
            *self.by_identity.entry(key).or_insert(next)
        };
        if found == next {
            self.consts.push(c);
        } else {
            self.deduped += 1;
        }
        Val::Const(found)
    }

    fn aval(&self, v: Val, in_avals: &[Aval]) -> Aval {
        match v {
            Val::In(i) => in_avals[i].clone(),
            Val::Const(c) => Aval::new(self.consts[c].dtype, self.consts[c].shape.clone()),
            Val::Out(j, k) => self.nodes[j].outs[k].clone(),
        }
    }

    /// Run one op on constants (a folding helper for the rewrites).
    fn run_now(&self, params: Params, args: &[&Buffer], out: Aval) -> Result<Option<Buffer>> {
        let avals: Vec<Aval> = args
            .iter()
            .map(|a| Aval::new(a.dtype, a.shape.clone()))
            .collect();
        let outs = [out];
        let kernel = ops::build(&OpSpec {
            params: &params,
            ins: &avals,
            outs: &outs,
        })?;
        Ok(match catch_unwind(AssertUnwindSafe(|| kernel(args))) {
            Ok(Ok(mut bufs)) if bufs.len() == 1 => bufs.pop(),
            _ => None,
        })
    }

    /// True if `v` reaches an output of `n` elements by a broadcast that
    /// repeats elements (lax broadcasting of a smaller operand, or an
    /// explicit broadcast): XLA sees a broadcast there. A broadcast that
    /// only adds size-1 dims is a reshape to XLA, and is not one here.
    fn is_broadcast(&self, v: Val, n: usize, in_avals: &[Aval]) -> bool {
        if self.aval(v, in_avals).numel() < n {
            return true;
        }
        match v {
            Val::Out(j, 0) if self.nodes[j].params.op == "broadcast_in_dim" => {
                self.nodes[j].ins.len() == 1
                    && self.aval(self.nodes[j].ins[0], in_avals).numel() < n
            }
            _ => false,
        }
    }

    /// XLA's number-changing simplifications (see the module docs):
    /// `div(x, d)` -> `mul(x, 1/d)` for f16/f32/f64 when `d` is a constant
    /// or is broadcast (then `1/d` is computed at `d`'s own shape), then
    /// `mul(convert(bool p), x)` (either order) -> `select_n(p, 0, x)`.
    fn xla_rewrite(&mut self, mut node: Node, in_avals: &[Aval]) -> Result<Node> {
        let Some(out) = node.outs.first().cloned() else {
            return Ok(node);
        };
        if node.outs.len() != 1 || node.ins.len() != 2 || !out.dtype.is_float() {
            return Ok(node);
        }
        if node.params.op == "div"
            && matches!(out.dtype, DType::F16 | DType::F32 | DType::F64)
            && !matches!(node.ins[0], Val::Const(_))
        {
            let (a, d) = (node.ins[0], node.ins[1]);
            let d_aval = self.aval(d, in_avals);
            let one64 = Buffer::from_vec::<f64>(vec![], &[1.0])?;
            let scalar = Aval::new(out.dtype, vec![]);
            let Some(one) = self.run_now(Params::new("convert_element_type"), &[&one64], scalar)?
            else {
                return Ok(node);
            };
            let recip = match d {
                // a constant divisor: its reciprocal, folded now
                Val::Const(c) => {
                    let c = self.consts[c].clone();
                    self.run_now(Params::new("div"), &[&one, &c], d_aval)?
                        .map(|r| self.add_const(r))
                }
                // a broadcast divisor (lax broadcasting of a smaller
                // operand, or an explicit broadcast): 1/d at run time, at
                // the result's shape (the same numbers as at d's own shape,
                // and it fuses where the division did: a softmax's sum and
                // its normalisation stay one pass)
                _ if self.is_broadcast(d, out.numel(), in_avals) => {
                    let one = self.add_const(one);
                    let r = Node {
                        params: Params::new("div"),
                        ins: vec![one, d],
                        outs: vec![out.clone()],
                    };
                    match self.seen.get(&r) {
                        Some(vals) => Some(vals[0]),
                        None => {
                            let v = Val::Out(self.nodes.len(), 0);
                            self.nodes.push(r.clone());
                            self.seen.insert(r, vec![v]);
                            self.added += 1;
                            Some(v)
                        }
                    }
                }
                _ => None,
            };
            if let Some(r) = recip {
                node = Node {
                    params: Params::new("mul"),
                    ins: vec![a, r],
                    outs: node.outs,
                };
            }
        }
        // (bfloat16 arithmetic is widened to f32 before XLA's simplifier
        // runs, so neither rewrite happens there)
        if node.params.op == "mul" && out.dtype != DType::BF16 {
            for k in 0..2 {
                let Val::Out(j, 0) = node.ins[k] else {
                    continue;
                };
                let conv = &self.nodes[j];
                let is_mask = conv.params.op == "convert_element_type"
                    && conv.ins.len() == 1
                    && conv.outs[0].shape == out.shape
                    && self.aval(conv.ins[0], in_avals).dtype == DType::Bool;
                if !is_mask {
                    continue;
                }
                let (pred, other) = (conv.ins[0], node.ins[1 - k]);
                let zero = Buffer::from_bytes(out.dtype, vec![], &vec![0u8; out.dtype.itemsize()])?;
                let zero = self.add_const(zero);
                return Ok(Node {
                    params: Params::new("select_n"),
                    ins: vec![pred, zero, other],
                    outs: node.outs,
                });
            }
        }
        Ok(node)
    }

    /// Run `node` now if its inputs are all constants and its outputs small.
    /// `Ok(None)` leaves it to run time: not foldable, or the kernel failed
    /// (the failure then happens when the Program runs, as without folding).
    fn try_fold(&self, node: &Node, in_avals: &[Aval]) -> Result<Option<Vec<Buffer>>> {
        // Control flow (an op carrying sub-programs) never folds: a loop may
        // run long, and its cost is not bounded by its output size.
        if node.params.holds_program() || ops::is_host_op(&node.params) {
            return Ok(None);
        }
        let mut args = Vec::with_capacity(node.ins.len());
        for &v in &node.ins {
            match v {
                Val::Const(c) => args.push(&self.consts[c]),
                _ => return Ok(None),
            }
        }
        let n_out: usize = node.outs.iter().map(Aval::numel).sum();
        let avals: Vec<Aval> = node.ins.iter().map(|&v| self.aval(v, in_avals)).collect();
        let n_in: usize = avals.iter().map(Aval::numel).sum();
        // Folding an op that expands its data (a broadcast, an iota) trades a
        // cheap fused read for a large constant: only small ones fold.
        if n_out > MAX_FOLD_ELEMENTS || (n_out > MAX_EXPANDING_FOLD && n_out > n_in) {
            return Ok(None);
        }
        // A build error would fail `Executable::new` anyway: report it now.
        let kernel = ops::build(&OpSpec {
            params: &node.params,
            ins: &avals,
            outs: &node.outs,
        })?;
        let outs = match catch_unwind(AssertUnwindSafe(|| kernel(&args))) {
            Ok(Ok(outs)) => outs,
            _ => return Ok(None),
        };
        let matches = outs.len() == node.outs.len()
            && outs
                .iter()
                .zip(&node.outs)
                .all(|(b, a)| b.dtype == a.dtype && b.shape == a.shape);
        Ok(matches.then_some(outs))
    }
}

/// Backward liveness over `specs`: which instructions have an output that
/// reaches `outputs`. `first[k]` is instruction k's first output id.
fn live_instrs(
    n_values: usize,
    first: &[usize],
    specs: &[InstrSpec],
    outputs: &[usize],
) -> Vec<bool> {
    let mut live = vec![false; n_values];
    for &o in outputs {
        live[o] = true;
    }
    let mut keep = vec![false; specs.len()];
    for (k, s) in specs.iter().enumerate().rev() {
        if ops::has_effect(&s.params) || (first[k]..first[k] + s.outs.len()).any(|v| live[v]) {
            keep[k] = true;
            for &i in &s.ins {
                live[i] = true;
            }
        }
    }
    keep
}

/// Run all passes and report what they did.
pub fn optimize_with_stats(
    in_avals: &[Aval],
    consts: Vec<Buffer>,
    specs: Vec<InstrSpec>,
    outputs: Vec<usize>,
) -> Result<Optimized> {
    let n_in = in_avals.len();
    let mut stats = PassStats {
        instrs_before: specs.len(),
        consts_before: consts.len(),
        ..PassStats::default()
    };

    // Every value must fit in memory's address range: a shape whose byte
    // count overflows would otherwise wrap to a tiny allocation.
    for (a, op) in in_avals.iter().map(|a| (a, "input")).chain(
        specs
            .iter()
            .flat_map(|s| s.outs.iter().map(|a| (a, s.params.op.as_str()))),
    ) {
        crate::base::buffer::checked_byte_size(op, a.dtype, &a.shape)?;
    }

    // Check the numbering and find each instruction's first output id.
    let mut n_values = n_in + consts.len();
    let mut first = Vec::with_capacity(specs.len());
    for s in &specs {
        if let Some(&i) = s.ins.iter().find(|&&i| i >= n_values) {
            return Err(Error::Internal(format!(
                "program: {} reads value {} before it is defined",
                s.params.op, i
            )));
        }
        first.push(n_values);
        n_values += s.outs.len();
    }
    if let Some(&o) = outputs.iter().find(|&&o| o >= n_values) {
        return Err(Error::Internal(format!(
            "program: output {o} is not defined"
        )));
    }

    // 1. Dead code: never look at what no output reads.
    let keep = live_instrs(n_values, &first, &specs, &outputs);
    let n_fixed = n_in + consts.len();
    let mut read = vec![false; n_fixed];
    for (s, _) in specs.iter().zip(&keep).filter(|(_, &k)| k) {
        for &i in s.ins.iter().filter(|&&i| i < n_fixed) {
            read[i] = true;
        }
    }
    for &o in outputs.iter().filter(|&&o| o < n_fixed) {
        read[o] = true;
    }

    // 2. Forward sweep: dedupe constants, CSE and fold. `map` takes each old
    //    id to its new value (None: dead, never read).
    let mut b = Builder::default();
    let mut map: Vec<Option<Val>> = Vec::with_capacity(n_values);
    map.extend((0..n_in).map(|i| Some(Val::In(i))));
    for (k, c) in consts.into_iter().enumerate() {
        map.push(read[n_in + k].then(|| b.add_const(c)));
    }
    for (k, s) in specs.into_iter().enumerate() {
        let n_out = s.outs.len();
        if !keep[k] {
            stats.dce += 1;
            map.extend(std::iter::repeat_n(None, n_out));
            continue;
        }
        let ins = s
            .ins
            .iter()
            .map(|&i| {
                map[i].ok_or_else(|| {
                    Error::Internal(format!("passes: {} reads dead value {i}", s.params.op))
                })
            })
            .collect::<Result<Vec<Val>>>()?;
        let node = Node {
            params: s.params,
            ins,
            outs: s.outs,
        };
        let node = b.xla_rewrite(node, in_avals)?;
        let effect = ops::has_effect(&node.params);
        if let Some(vals) = b.seen.get(&node).filter(|_| !effect) {
            stats.cse += 1;
            map.extend(vals.iter().map(|&v| Some(v)));
            continue;
        }
        let vals: Vec<Val> = match b.try_fold(&node, in_avals)? {
            Some(bufs) => {
                stats.folded += 1;
                bufs.into_iter().map(|c| b.add_const(c)).collect()
            }
            None => {
                let j = b.nodes.len();
                b.nodes.push(node.clone());
                (0..n_out).map(|o| Val::Out(j, o)).collect()
            }
        };
        map.extend(vals.iter().map(|&v| Some(v)));
        if !effect {
            b.seen.insert(node, vals);
        }
    }
    let outputs = outputs
        .iter()
        .map(|&o| map[o].ok_or_else(|| Error::Internal(format!("passes: output {o} lost"))))
        .collect::<Result<Vec<Val>>>()?;

    // 3. Final liveness over the new Program (folding leaves constants, and
    //    possibly instructions, unread), then renumber.
    let mut used_const = vec![false; b.consts.len()];
    let mut used_node = vec![false; b.nodes.len()];
    fn mark(v: Val, used_const: &mut [bool], used_node: &mut [bool]) {
        match v {
            Val::In(_) => {}
            Val::Const(c) => used_const[c] = true,
            Val::Out(j, _) => used_node[j] = true,
        }
    }
    for &v in &outputs {
        mark(v, &mut used_const, &mut used_node);
    }
    for (j, n) in b.nodes.iter().enumerate() {
        if ops::has_effect(&n.params) {
            used_node[j] = true;
        }
    }
    for j in (0..b.nodes.len()).rev() {
        if used_node[j] {
            for &v in &b.nodes[j].ins {
                mark(v, &mut used_const, &mut used_node);
            }
        }
    }
    stats.dce += used_node.iter().filter(|&&u| !u).count();
    stats.consts_deduped = b.deduped;
    stats.added = b.added;

    let mut const_id = vec![usize::MAX; b.consts.len()];
    let mut new_consts = Vec::new();
    for (c, buf) in b.consts.into_iter().enumerate() {
        if used_const[c] {
            const_id[c] = n_in + new_consts.len();
            new_consts.push(buf);
        }
    }
    let mut next = n_in + new_consts.len();
    let mut out_base = vec![usize::MAX; b.nodes.len()];
    for (j, n) in b.nodes.iter().enumerate() {
        if used_node[j] {
            out_base[j] = next;
            next += n.outs.len();
        }
    }
    let id = |v: Val| match v {
        Val::In(i) => i,
        Val::Const(c) => const_id[c],
        Val::Out(j, k) => out_base[j] + k,
    };
    let new_specs: Vec<InstrSpec> = b
        .nodes
        .into_iter()
        .zip(&used_node)
        .filter(|(_, &u)| u)
        .map(|(n, _)| InstrSpec {
            ins: n.ins.iter().map(|&v| id(v)).collect(),
            params: n.params,
            outs: n.outs,
        })
        .collect();
    let new_outputs = outputs.iter().map(|&v| id(v)).collect();
    stats.instrs_after = new_specs.len();
    stats.consts_after = new_consts.len();
    Ok(Optimized {
        consts: new_consts,
        specs: new_specs,
        outputs: new_outputs,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::params::Param;
    use crate::exec::executable::Executable;

    fn f32v(shape: &[usize]) -> Aval {
        Aval::new(DType::F32, shape.to_vec())
    }

    fn buf(shape: &[usize], v: &[f32]) -> Buffer {
        Buffer::from_vec::<f32>(shape.to_vec(), v).unwrap()
    }

    fn ins(p: Params, ins: Vec<usize>, outs: Vec<Aval>) -> InstrSpec {
        InstrSpec {
            params: p,
            ins,
            outs,
        }
    }

    fn op(name: &str, i: Vec<usize>, out: Aval) -> InstrSpec {
        ins(Params::new(name), i, vec![out])
    }

    fn iota(n: usize) -> InstrSpec {
        ins(
            Params::new("iota").with("dimension", Param::Int(0)),
            vec![],
            vec![f32v(&[n])],
        )
    }

    fn ipow(y: i64, x: usize, a: Aval) -> InstrSpec {
        ins(
            Params::new("integer_pow").with("y", Param::Int(y)),
            vec![x],
            vec![a],
        )
    }

    fn copy(specs: &[InstrSpec]) -> Vec<InstrSpec> {
        specs
            .iter()
            .map(|s| ins(s.params.clone(), s.ins.clone(), s.outs.clone()))
            .collect()
    }

    /// Run a Program as written, with no passes: the reference result.
    fn reference(
        in_avals: &[Aval],
        consts: &[Buffer],
        specs: &[InstrSpec],
        outputs: &[usize],
        inputs: &[Buffer],
    ) -> Vec<Buffer> {
        let mut vals: Vec<Buffer> = inputs.to_vec();
        vals.extend(consts.iter().cloned());
        let mut avals: Vec<Aval> = in_avals.to_vec();
        avals.extend(consts.iter().map(|c| Aval::new(c.dtype, c.shape.clone())));
        for s in specs {
            let a: Vec<Aval> = s.ins.iter().map(|&i| avals[i].clone()).collect();
            let k = ops::build(&OpSpec {
                params: &s.params,
                ins: &a,
                outs: &s.outs,
            })
            .unwrap();
            let args: Vec<&Buffer> = s.ins.iter().map(|&i| &vals[i]).collect();
            let outs = k(&args).unwrap();
            vals.extend(outs);
            avals.extend(s.outs.iter().cloned());
        }
        outputs.iter().map(|&o| vals[o].clone()).collect()
    }

    fn same(a: &[Buffer], b: &[Buffer]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!((x.dtype, &x.shape), (y.dtype, &y.shape));
            assert_eq!(x.data.bytes(), y.data.bytes(), "{x:?} differs");
        }
    }

    /// Optimize, check the result runs like the original (bit for bit), and
    /// that the optimized Program is a fixpoint of the passes.
    fn check(
        in_avals: &[Aval],
        consts: Vec<Buffer>,
        specs: Vec<InstrSpec>,
        outputs: Vec<usize>,
        inputs: &[Buffer],
    ) -> Optimized {
        let want = reference(in_avals, &consts, &specs, &outputs, inputs);
        let o = optimize_with_stats(in_avals, consts, specs, outputs).unwrap();
        let s = o.stats;
        assert_eq!(
            s.instrs_before + s.added,
            s.instrs_after + s.folded + s.cse + s.dce
        );
        assert_eq!(o.specs.len(), s.instrs_after);
        assert_eq!(o.consts.len(), s.consts_after);
        same(
            &reference(in_avals, &o.consts, &o.specs, &o.outputs, inputs),
            &want,
        );
        let exe = Executable::new(
            in_avals.to_vec(),
            o.consts.clone(),
            copy(&o.specs),
            o.outputs.clone(),
        )
        .unwrap();
        same(&exe.run(inputs).unwrap(), &want);
        let again = optimize_with_stats(
            in_avals,
            o.consts.clone(),
            copy(&o.specs),
            o.outputs.clone(),
        )
        .unwrap();
        assert_eq!(
            again.stats,
            PassStats {
                instrs_before: s.instrs_after,
                instrs_after: s.instrs_after,
                consts_before: s.consts_after,
                consts_after: s.consts_after,
                ..PassStats::default()
            },
            "passes are not idempotent"
        );
        assert_eq!(again.outputs, o.outputs);
        for (x, y) in again.specs.iter().zip(&o.specs) {
            assert_eq!((&x.params, &x.ins, &x.outs), (&y.params, &y.ins, &y.outs));
        }
        same(&again.consts, &o.consts);
        o
    }

    /// XLA's rewrites: `x / c` -> `x * (1/c)` (f16/f32/f64, not bf16) and
    /// `convert(bool p) * x` -> `select_n(p, 0, x)`, as JAX's jit computes.
    #[test]
    fn division_by_constants_and_bool_masks_as_xla() {
        let a = f32v(&[5]);
        let pa = Aval::new(DType::Bool, vec![5]);
        let x = buf(&[5], &[1.0, f32::NAN, f32::INFINITY, 7.0, -0.0]);
        let p = Buffer::from_vec::<bool>(vec![5], &[true, false, false, true, false]).unwrap();
        let three = buf(&[], &[3.0]);
        let specs = vec![
            op("div", vec![0, 2], a.clone()),               // 3: x / 3
            op("convert_element_type", vec![1], a.clone()), // 4: f32(p)
            op("mul", vec![4, 0], a.clone()),               // 5: f32(p) * x
            op("mul", vec![0, 4], a.clone()),               // 6: x * f32(p)
            op("div", vec![4, 2], a.clone()),               // 7: f32(p) / 3
        ];
        let o = optimize_with_stats(
            &[a.clone(), pa.clone()],
            vec![three],
            copy(&specs),
            vec![3, 5, 6, 7],
        )
        .unwrap();
        let names: Vec<&str> = o.specs.iter().map(|s| s.params.op.as_str()).collect();
        assert!(
            !names.contains(&"div") && !names.contains(&"convert_element_type"),
            "{names:?}"
        );
        let exe = Executable::new(vec![a, pa], o.consts, o.specs, o.outputs).unwrap();
        let got = exe.run(&[x.clone(), p]).unwrap();
        let xs = x.slice::<f32>().unwrap();
        let r = 1.0f32 / 3.0;
        let want_div: Vec<f32> = xs.iter().map(|v| v * r).collect();
        let mask = [true, false, false, true, false];
        let want_mask: Vec<f32> = xs
            .iter()
            .zip(mask)
            .map(|(&v, m)| if m { v } else { 0.0 })
            .collect();
        let want_pdiv: Vec<f32> = mask.iter().map(|&m| if m { r } else { 0.0 }).collect();
        for (g, w) in got
            .iter()
            .zip([&want_div, &want_mask, &want_mask, &want_pdiv])
        {
            let g: Vec<u32> = g
                .slice::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            let w: Vec<u32> = w.iter().map(|v| v.to_bits()).collect();
            assert_eq!(g, w);
        }
        // 7/3 in f32 is not 7 * (1/3): the rewrite is visible, as in XLA
        assert_ne!((7.0f32 / 3.0).to_bits(), (7.0f32 * r).to_bits());
        // a broadcast divisor (rank 0, an input): x * (1/d) at run time
        let d = Aval::new(DType::F32, vec![]);
        let o = optimize_with_stats(
            &[f32v(&[5]), d.clone()],
            vec![],
            vec![
                op("div", vec![0, 1], f32v(&[5])),
                op("div", vec![0, 1], f32v(&[5])),
            ],
            vec![2, 3],
        )
        .unwrap();
        assert_eq!(o.stats.added, 1);
        let names: Vec<&str> = o.specs.iter().map(|s| s.params.op.as_str()).collect();
        assert_eq!(names, ["div", "mul"]);
        let exe = Executable::new(vec![f32v(&[5]), d], o.consts, o.specs, o.outputs).unwrap();
        let got = exe.run(&[x.clone(), buf(&[], &[3.0])]).unwrap();
        let g: Vec<u32> = got[0]
            .slice::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let w: Vec<u32> = want_div.iter().map(|v| v.to_bits()).collect();
        assert_eq!(g, w);
        // a divisor of the output's shape stays an exact division
        let o = optimize_with_stats(
            &[f32v(&[5]), f32v(&[5])],
            vec![],
            vec![op("div", vec![0, 1], f32v(&[5]))],
            vec![2],
        )
        .unwrap();
        assert_eq!(o.specs[0].params.op, "div");
        // bf16 division and a quotient of constants stay exact divisions
        let b = Aval::new(DType::BF16, vec![2]);
        let c = Buffer::from_vec::<half::bf16>(vec![], &[half::bf16::from_f32(3.0)]).unwrap();
        let o = optimize_with_stats(
            std::slice::from_ref(&b),
            vec![c],
            vec![op("div", vec![0, 1], b.clone())],
            vec![2],
        )
        .unwrap();
        assert_eq!(o.specs[0].params.op, "div");
        let o = optimize_with_stats(
            &[],
            vec![buf(&[], &[7.0]), buf(&[], &[3.0])],
            vec![op("div", vec![0, 1], f32v(&[]))],
            vec![2],
        )
        .unwrap();
        assert_eq!(o.consts[0].slice::<f32>().unwrap()[0], 7.0f32 / 3.0);
    }

    fn x3() -> Buffer {
        buf(&[3], &[0.5, -1.25, 2.0])
    }

    #[test]
    fn dce_removes_dead_work() {
        let a = f32v(&[3]);
        let o = check(
            std::slice::from_ref(&a),
            vec![],
            vec![
                op("exp", vec![0], a.clone()),    // 1: dead
                op("mul", vec![0, 0], a.clone()), // 2
                op("sin", vec![1], a.clone()),    // 3: dead
            ],
            vec![2],
            &[x3()],
        );
        assert_eq!(o.stats.dce, 2);
        assert_eq!(o.specs.len(), 1);
        assert_eq!(o.specs[0].params.op, "mul");
        assert_eq!(o.specs[0].ins, vec![0, 0]);
        assert_eq!(o.outputs, vec![1]);
    }

    #[test]
    fn dce_drops_unused_consts_and_renumbers() {
        let a = f32v(&[3]);
        let o = check(
            std::slice::from_ref(&a),
            vec![buf(&[3], &[9., 9., 9.]), buf(&[3], &[1., 2., 3.])],
            vec![op("add", vec![0, 2], a.clone())],
            vec![3],
            &[x3()],
        );
        assert_eq!(o.consts.len(), 1);
        assert_eq!(o.consts[0].slice::<f32>().unwrap(), &[1., 2., 3.]);
        assert_eq!(o.specs[0].ins, vec![0, 1]);
        assert_eq!(o.outputs, vec![2]);
        assert_eq!(o.stats.consts_before, 2);
    }

    #[test]
    fn cse_merges_duplicates_and_redirects_uses() {
        let a = f32v(&[3]);
        // (x*y + y) + (x*y + y)
        let o = check(
            &[a.clone(), a.clone()],
            vec![],
            vec![
                op("mul", vec![0, 1], a.clone()), // 2
                op("add", vec![2, 1], a.clone()), // 3
                op("mul", vec![0, 1], a.clone()), // 4 == 2
                op("add", vec![4, 1], a.clone()), // 5 == 3
                op("add", vec![3, 5], a.clone()), // 6
            ],
            vec![6],
            &[x3(), buf(&[3], &[3., 4., 5.])],
        );
        assert_eq!(o.stats.cse, 2);
        let names: Vec<&str> = o.specs.iter().map(|s| s.params.op.as_str()).collect();
        assert_eq!(names, ["mul", "add", "add"]);
        assert_eq!(o.specs[2].ins, vec![3, 3]);
    }

    #[test]
    fn cse_keeps_different_params_inputs_and_avals() {
        let a = f32v(&[3]);
        let o = check(
            &[a.clone(), a.clone()],
            vec![],
            vec![
                ipow(2, 0, a.clone()),            // 2
                ipow(3, 0, a.clone()),            // 3: other y
                ipow(2, 0, a.clone()),            // 4 == 2
                op("sub", vec![0, 1], a.clone()), // 5
                op("sub", vec![1, 0], a.clone()), // 6: other order
                op("add", vec![2, 3], a.clone()),
                op("add", vec![4, 5], a.clone()),
                op("add", vec![7, 8], a.clone()),
                op("add", vec![9, 6], a.clone()),
            ],
            vec![10],
            &[x3(), buf(&[3], &[3., 4., 5.])],
        );
        assert_eq!(o.stats.cse, 1);
        assert_eq!(o.specs.len(), 8);
        // Same op and inputs, different output dtype: two converts.
        let p =
            |d: &str| Params::new("convert_element_type").with("new_dtype", Param::Str(d.into()));
        let o = check(
            std::slice::from_ref(&a),
            vec![],
            vec![
                ins(p("float64"), vec![0], vec![Aval::new(DType::F64, vec![3])]),
                ins(p("int32"), vec![0], vec![Aval::new(DType::I32, vec![3])]),
            ],
            vec![1, 2],
            &[x3()],
        );
        assert_eq!(o.stats.cse, 0);
    }

    #[test]
    fn cse_of_multi_output_instructions() {
        let a = f32v(&[4]);
        let sort = || {
            ins(
                Params::new("sort")
                    .with("dimension", Param::Int(0))
                    .with("num_keys", Param::Int(1))
                    .with("is_stable", Param::Bool(true)),
                vec![0, 1],
                vec![a.clone(), a.clone()],
            )
        };
        let o = check(
            &[a.clone(), a.clone()],
            vec![],
            vec![
                sort(),                           // 2, 3
                sort(),                           // 4, 5
                op("add", vec![2, 5], a.clone()), // 6
            ],
            vec![6, 4, 3],
            &[
                buf(&[4], &[3., 1., 2., 0.]),
                buf(&[4], &[10., 11., 12., 13.]),
            ],
        );
        assert_eq!(o.stats.cse, 1);
        assert_eq!(o.specs[1].ins, vec![2, 3]);
        assert_eq!(o.outputs, vec![4, 2, 3]);
    }

    #[test]
    fn identical_small_constants_become_one() {
        let a = f32v(&[]);
        let two = || buf(&[], &[2.0]);
        let o = check(
            std::slice::from_ref(&a),
            vec![
                two(),
                two(),
                Buffer::from_vec::<i32>(vec![], &[2.0f32.to_bits() as i32]).unwrap(),
                buf(&[1], &[2.0]),
            ],
            vec![
                op("mul", vec![0, 1], a.clone()), // 5
                op("mul", vec![0, 2], a.clone()), // 6: same as 5 once 2 == 1
                op("add", vec![5, 6], a.clone()),
            ],
            vec![7, 3, 4],
            &[buf(&[], &[1.5])],
        );
        // 1 and 2 merge; the i32 with the same bytes and the f32[1] stay.
        assert_eq!(o.stats.consts_deduped, 1);
        assert_eq!(o.stats.cse, 1);
        assert_eq!(o.consts.len(), 3);
        assert_eq!(o.consts[1].dtype, DType::I32);
        assert_eq!(o.consts[2].shape, vec![1]);
    }

    #[test]
    fn big_constants_merge_only_when_the_same_buffer() {
        let n = MAX_DEDUP_CONST_BYTES / 4 + 1;
        let a = f32v(&[n]);
        let big = || buf(&[n], &vec![1.0; n]);
        let shared = big();
        let o = check(
            std::slice::from_ref(&a),
            vec![big(), big(), shared.clone(), shared],
            vec![
                op("add", vec![0, 1], a.clone()),
                op("add", vec![0, 2], a.clone()),
                op("add", vec![0, 3], a.clone()),
                op("add", vec![0, 4], a.clone()),
            ],
            vec![5, 6, 7, 8],
            &[buf(&[n], &vec![0.25; n])],
        );
        assert_eq!(o.stats.consts_deduped, 1);
        assert_eq!(o.stats.cse, 1);
        assert_eq!(o.consts.len(), 3);
    }

    #[test]
    fn folding_evaluates_constant_subgraphs() {
        let a = f32v(&[3]);
        let o = check(
            std::slice::from_ref(&a),
            vec![buf(&[3], &[1., 2., 3.]), buf(&[3], &[4., 5., 6.])],
            vec![
                op("add", vec![1, 2], a.clone()), // 3: folded
                op("exp", vec![3], a.clone()),    // 4: folded
                op("mul", vec![4, 0], a.clone()), // 5
            ],
            vec![5],
            &[x3()],
        );
        assert_eq!(o.stats.folded, 2);
        assert_eq!(o.specs.len(), 1);
        // The inputs of the fold are gone, only exp(a + b) is left.
        assert_eq!(o.consts.len(), 1);
        let want: Vec<f32> = [5f32, 7., 9.].iter().map(|v| v.exp()).collect();
        let got = o.consts[0].slice::<f32>().unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= w * 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn folding_reaches_a_fixpoint_from_iota() {
        let a = f32v(&[5]);
        let o = check(
            std::slice::from_ref(&a),
            vec![buf(&[5], &[2.; 5])],
            vec![
                iota(5),                          // 2
                op("mul", vec![2, 1], a.clone()), // 3
                op("sin", vec![3], a.clone()),    // 4
                op("add", vec![4, 0], a.clone()), // 5: reads the input
                iota(5),                          // 6: CSE'd with 2
                op("add", vec![6, 6], a.clone()), // 7 == 3 by value, folded, deduped
            ],
            vec![5, 7, 3],
            &[buf(&[5], &[1., 1., 1., 1., 1.])],
        );
        assert_eq!((o.stats.folded, o.stats.cse), (4, 1));
        assert_eq!(o.specs.len(), 1);
        assert_eq!(o.stats.consts_deduped, 1);
        // Outputs 7 and 3 are the same folded constant [0, 2, 4, 6, 8].
        assert_eq!(o.outputs[1], o.outputs[2]);
        assert_eq!(o.consts[0].slice::<f32>().unwrap().len(), 5);
    }

    #[test]
    fn folding_is_limited_to_small_outputs() {
        let big = MAX_FOLD_ELEMENTS + 1;
        let o = check(
            &[],
            vec![],
            vec![iota(big), op("neg", vec![0], f32v(&[big]))],
            vec![1],
            &[],
        );
        assert_eq!(o.stats.folded, 0);
        assert_eq!(o.specs.len(), 2);
        // An expanding op (iota: no inputs) folds only up to MAX_EXPANDING_FOLD.
        let o = check(&[], vec![], vec![iota(MAX_EXPANDING_FOLD)], vec![0], &[]);
        assert_eq!(o.stats.folded, 1);
        assert!(o.specs.is_empty());
        assert_eq!(o.outputs, vec![0]);
        let o = check(
            &[],
            vec![],
            vec![iota(MAX_EXPANDING_FOLD + 1)],
            vec![0],
            &[],
        );
        assert_eq!(o.stats.folded, 0);
        // A non-expanding op folds up to MAX_FOLD_ELEMENTS.
        let n = MAX_FOLD_ELEMENTS;
        let c = buf(&[n], &vec![1.0; n]);
        let o = check(
            &[],
            vec![c],
            vec![op("neg", vec![0], f32v(&[n]))],
            vec![1],
            &[],
        );
        assert_eq!(o.stats.folded, 1);
    }

    #[test]
    fn outputs_may_be_inputs_or_constants() {
        let a = f32v(&[3]);
        let o = check(
            &[a.clone(), a.clone()],
            vec![buf(&[3], &[7., 8., 9.]), buf(&[3], &[1., 1., 1.])],
            vec![op("add", vec![0, 3], a.clone())],
            vec![1, 3, 0, 4, 1, 3],
            &[x3(), buf(&[3], &[3., 4., 5.])],
        );
        // Constant 2 is unread and dropped; constant 3 becomes id 2.
        assert_eq!(o.outputs, vec![1, 2, 0, 3, 1, 2]);
        // No instructions at all.
        let o = check(
            std::slice::from_ref(&a),
            vec![buf(&[3], &[7., 8., 9.])],
            vec![],
            vec![1, 0],
            &[x3()],
        );
        assert_eq!(o.outputs, vec![1, 0]);
        let o = check(std::slice::from_ref(&a), vec![], vec![], vec![], &[x3()]);
        assert!(o.outputs.is_empty());
    }

    #[test]
    fn undefined_values_are_errors() {
        let a = f32v(&[3]);
        let r = optimize(
            std::slice::from_ref(&a),
            vec![],
            vec![op("neg", vec![1], a.clone())],
            vec![1],
        );
        assert!(matches!(r, Err(Error::Internal(m)) if m.contains("before it is defined")));
        let r = optimize(
            std::slice::from_ref(&a),
            vec![],
            vec![op("neg", vec![0], a.clone())],
            vec![2],
        );
        assert!(matches!(r, Err(Error::Internal(m)) if m.contains("not defined")));
    }

    #[test]
    fn a_bad_folded_instruction_reports_its_build_error() {
        let r = optimize(&[], vec![], vec![op("nope", vec![], f32v(&[1]))], vec![0]);
        assert!(matches!(r, Err(Error::UnknownOp(_))));
    }

    /// A small deterministic generator for the random-program test.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    #[test]
    fn random_programs_run_unchanged() {
        let a = f32v(&[4]);
        let inputs = [
            buf(&[4], &[0.5, -1.0, 2.0, 0.0]),
            buf(&[4], &[1.5, 3.0, -0.25, 4.0]),
        ];
        let mut totals = PassStats::default();
        for seed in 0..300 {
            let mut g = Lcg(seed);
            let pool = [1.0f32, 2.0, -0.5];
            let consts: Vec<Buffer> = (0..1 + g.next(4))
                .map(|_| buf(&[4], &[pool[g.next(3)]; 4]))
                .collect();
            let n_fixed = 2 + consts.len();
            let mut specs = Vec::new();
            for _ in 0..g.next(14) {
                let n = n_fixed + specs.len();
                // Favour recent values and repeat earlier instructions.
                let pick = |g: &mut Lcg| {
                    if g.next(2) == 0 {
                        g.next(n)
                    } else {
                        n - 1 - g.next(n.min(3))
                    }
                };
                let s = match g.next(9) {
                    0 if !specs.is_empty() => {
                        let s: &InstrSpec = &specs[g.next(specs.len())];
                        ins(s.params.clone(), s.ins.clone(), s.outs.clone())
                    }
                    0 | 1 => iota(4),
                    2 => op("add", vec![pick(&mut g), pick(&mut g)], a.clone()),
                    3 => op("mul", vec![pick(&mut g), pick(&mut g)], a.clone()),
                    4 => op("sub", vec![pick(&mut g), pick(&mut g)], a.clone()),
                    5 => op("max", vec![pick(&mut g), pick(&mut g)], a.clone()),
                    6 => op("tanh", vec![pick(&mut g)], a.clone()),
                    7 => op("neg", vec![pick(&mut g)], a.clone()),
                    _ => ipow(2 + g.next(2) as i64, pick(&mut g), a.clone()),
                };
                specs.push(s);
            }
            let n = n_fixed + specs.len();
            let outputs: Vec<usize> = (0..1 + g.next(3)).map(|_| g.next(n)).collect();
            let o = check(&[a.clone(), a.clone()], consts, specs, outputs, &inputs);
            totals.folded += o.stats.folded;
            totals.cse += o.stats.cse;
            totals.dce += o.stats.dce;
            totals.consts_deduped += o.stats.consts_deduped;
        }
        // The generator exercises every pass.
        assert!(totals.folded > 0 && totals.cse > 0 && totals.dce > 0);
        assert!(totals.consts_deduped > 0);
    }

    fn debug_callback(ins: Vec<usize>) -> InstrSpec {
        // The callable is only looked at when the op runs, never by the passes.
        let f = crate::base::params::HostObject(std::sync::Arc::new(0u8));
        InstrSpec {
            params: Params::new("debug_callback").with("callback", Param::Object(f)),
            ins,
            outs: vec![],
        }
    }

    #[test]
    fn effects_survive_dce_and_are_never_merged() {
        let a = f32v(&[3]);
        let o = optimize_with_stats(
            std::slice::from_ref(&a),
            vec![buf(&[3], &[1., 2., 3.])],
            vec![
                op("exp", vec![0], a.clone()), // 2: read only by the callbacks
                debug_callback(vec![2]),
                debug_callback(vec![2]), // equal to the one before: both run
                op("sin", vec![0], a.clone()), // 3: dead
                debug_callback(vec![1]), // all inputs constant: not folded
            ],
            vec![0],
        )
        .unwrap();
        let names: Vec<&str> = o.specs.iter().map(|s| s.params.op.as_str()).collect();
        assert_eq!(
            names,
            ["exp", "debug_callback", "debug_callback", "debug_callback"]
        );
        assert_eq!((o.stats.dce, o.stats.cse, o.stats.folded), (1, 0, 0));
        assert_eq!(o.consts.len(), 1);
        assert_eq!(o.specs[3].ins, vec![1]);
    }

    #[test]
    fn control_flow_with_an_effect_in_its_body_is_kept() {
        let a = f32v(&[]);
        let body = Executable::new(
            vec![a.clone()],
            vec![],
            vec![debug_callback(vec![0]), op("neg", vec![0], a.clone())],
            vec![1],
        )
        .unwrap();
        assert!(body.has_effects() && body.has_host_calls());
        let cond = Executable::new(vec![], vec![], vec![iota(1)], vec![0]).unwrap();
        assert!(!cond.has_effects());
        let branches = Param::List(vec![
            crate::ops::control::program_param(std::sync::Arc::new(body)),
            crate::ops::control::program_param(std::sync::Arc::new(cond)),
        ]);
        let o = optimize_with_stats(
            std::slice::from_ref(&a),
            vec![],
            vec![ins(
                Params::new("cond").with("branches", branches),
                vec![0, 0],
                vec![a.clone()],
            )],
            vec![0],
        )
        .unwrap();
        assert_eq!(
            o.specs.len(),
            1,
            "the cond's output is unused, but it prints"
        );
        assert_eq!(o.stats.dce, 0);
    }
}
