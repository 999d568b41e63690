//! A fused group as one LLVM IR function that does what the interpreter
//! (`exec::fused`) does for one chunk:
//!
//! `void @f(i64 a, i64 b, ptr ins, ptr outs, ptr accs, i64 r0, i64 tile)`
//!
//! - elementwise groups: elements `[a, b)`, every output stored;
//! - whole-array and single-phase row reductions: the chunk in tiles of
//!   `tile` elements, each tile cut at row ends, each piece folded with
//!   eight lanes, then the lanes in order, then the rest in order, into
//!   accumulator slot `row - r0` (the interpreter's `seg`, same order);
//! - column reductions: each element into slot `i % width`, in order
//!   (by rows of the last dimension: the slot is the row's first plus the
//!   index in the row);
//! - elementwise groups with strided (broadcast) loads: by rows of the
//!   last dimension, each load's offset computed once per row;
//! - multi-phase row groups: rows `[a, b)`, each row phase by phase (a pass
//!   over the row per phase, folding that phase's reductions as above),
//!   then a pass storing the outputs; the last folding pass keeps the
//!   values the output pass needs in a row scratch on the stack, so that an
//!   expensive node (softmax's `exp`) is computed once per element.
//!
//! Values are computed per element with every node inlined (`ir.rs`), so
//! they stay in registers; LLVM vectorizes the loops (the eight lanes of a
//! reduction are eight independent chains: SLP vectorization). The
//! function asks for 512-bit vectors where the host has them (LLVM's
//! default for AVX-512 hosts is 256): measured faster here, and no bits
//! change, as the IR fixes every operation's order.
//! Variables live in stack slots that LLVM promotes to registers.
// The lane loops name IR values by their lane index as well as reading them.
#![allow(clippy::needless_range_loop)]
use super::ir::{self, Body, Unsupported};
use crate::base::dtype::DType;
use crate::compiler::fusion::classify::acc_dtype;
use crate::compiler::fusion::{Fused, Node, Out, Pattern};
use crate::loops::strided::LoadMap;
use crate::ops::reduce::Monoid;
use crate::ops::scalar::sym::Prim;
use std::fmt::Write;

/// Whether `f` has a native rendering (no IR is built).
pub fn supported(f: &Fused) -> Result<(), Unsupported> {
    for n in &f.nodes {
        ir::ty(n.dtype)?;
    }
    for r in &f.reds {
        let a = acc_dtype(r.op, r.dtype);
        if ir::is_half(a) || ir::is_half(r.dtype) {
            return Err("an f16/bf16 reduction".into());
        }
        let v = f.nodes[r.node].dtype;
        if v != a && !(v == DType::F32 && a == DType::F64) {
            return Err(format!("a {v} reduction into {a}"));
        }
    }
    if f.pattern.is_none() && !f.reds.is_empty() {
        return Err("reductions without a pattern".into());
    }
    Ok(())
}

struct K<'a> {
    f: &'a Fused,
    /// Elements per step in the folding loops' vector form (`fold`; 1:
    /// none): a multiple of their eight lanes.
    vw: usize,
    /// The function's entry: stack slots, pointers, hoisted loads.
    entry: Body,
    /// The rest, in blocks.
    code: Body,
    labels: usize,
    /// Each node's hoisted value (one-element loads).
    hoisted: Vec<Option<String>>,
    /// Inside a row of the iteration space: its first flat index and each
    /// strided load's offset there (the loads are then affine in the index).
    row: Option<(String, Vec<Option<String>>)>,
    /// A multi-phase row group's row scratch: nodes whose values the last
    /// folding phase stores (`spill`) and the output pass reads back
    /// instead of computing them again (`reload`): softmax's `exp(x - m)`
    /// is computed once per element, not twice. Each entry is the node, its
    /// scratch array and the row's first flat index.
    spill: Vec<(usize, String, String)>,
    reload: Vec<(usize, String, String)>,
}

/// The IR module of group `f`, its function named `name`: with its
/// reductions folded a vector at a time where every node has a vector
/// form, else one element at a time.
pub fn render(f: &Fused, name: &str) -> Result<String, Unsupported> {
    supported(f)?;
    render_with(f, name, fold_width(f)).or_else(|_| render_with(f, name, 1))
}

/// Elements per step of a folding loop's vector form: 16 (a 512-bit
/// vector of f32), 8 when a node is 64 bits wide.
fn fold_width(f: &Fused) -> usize {
    if f.reds.is_empty() {
        return 1;
    }
    if f.nodes.iter().any(|n| n.dtype.itemsize() == 8) {
        8
    } else {
        16
    }
}

fn render_with(f: &Fused, name: &str, vw: usize) -> Result<String, Unsupported> {
    let mut k = K {
        f,
        vw,
        entry: Body::new(0),
        code: Body::new(1_000_000),
        labels: 0,
        hoisted: vec![None; f.nodes.len()],
        row: None,
        spill: vec![],
        reload: vec![],
    };
    k.prologue()?;
    let all: Vec<usize> = (0..f.nodes.len()).collect();
    // the last dimension's extent: rows of it are the unit of `by_rows`
    let last = f.shape.last().copied().unwrap_or(0);
    let rowed = f.shape.len() > 1 && last > 0;
    let strided = f.nodes.iter().any(|n| {
        matches!(
            n.node,
            Node::Load {
                map: LoadMap::Strided(_),
                ..
            }
        )
    });
    match f.pattern {
        None if strided && rowed => k.by_rows(None)?,
        None => k.for_range("%a", "%b", |k, i| {
            let v = k.element(i, &all, &[])?;
            k.store_outs(i, &v)
        })?,
        Some(Pattern::Cols { width, .. }) if rowed && width % last == 0 => {
            k.by_rows(Some(width))?
        }
        Some(Pattern::Cols { width, .. }) => k.for_range("%a", "%b", |k, i| {
            let v = k.element(i, &all, &[])?;
            k.store_outs(i, &v)?;
            let slot = k.code.let_(format!("urem i64 {i}, {width}"));
            k.cols_update(&slot, &v)
        })?,
        Some(Pattern::Full) => k.tiled(None)?,
        Some(Pattern::Rows { len, .. }) if f.phase_end.len() <= 1 => k.tiled(Some(len))?,
        Some(Pattern::Rows { len, .. }) => k.phased(len)?,
    }
    let mut m = String::new();
    let decls: std::collections::BTreeSet<String> =
        k.entry.decls.union(&k.code.decls).cloned().collect();
    for d in decls {
        let _ = writeln!(m, "{d}");
    }
    let _ = write!(
        m,
        "\ndefine void @{name}(i64 %a, i64 %b, ptr noalias readonly %ins, \
         ptr noalias readonly %outs, ptr noalias readonly %accs, \
         i64 %r0, i64 %tile) nounwind #0 {{\nentry:\n{}  br label %body\nbody:\n{}  ret void\n}}\n\n\
         attributes #0 = {{ \"prefer-vector-width\"=\"512\" }}\n",
        k.entry.text, k.code.text
    );
    Ok(m)
}

impl K<'_> {
    fn label(&mut self, what: &str) -> String {
        self.labels += 1;
        format!("{what}{}", self.labels)
    }

    fn block(&mut self, l: &str) {
        let _ = writeln!(self.code.text, "{l}:");
    }

    fn br(&mut self, l: &str) {
        let _ = writeln!(self.code.text, "  br label %{l}");
    }

    /// A stack slot of IR type `t`, set to `init` at the function's entry.
    fn var(&mut self, t: &str, init: &str) -> String {
        let p = self.entry.let_(format!("alloca {t}"));
        let _ = writeln!(self.entry.text, "  store {t} {init}, ptr {p}");
        p
    }

    fn get(&mut self, t: &str, p: &str) -> String {
        self.code.let_(format!("load {t}, ptr {p}"))
    }

    fn set(&mut self, t: &str, p: &str, v: &str) {
        let _ = writeln!(self.code.text, "  store {t} {v}, ptr {p}");
    }

    /// Pointers to the inputs, outputs and accumulators, and the loads of
    /// one-element inputs.
    fn prologue(&mut self) -> Result<(), Unsupported> {
        let e = &mut self.entry;
        for (name, n) in [
            ("in", self.f.n_inputs),
            ("out", self.f.outs.len()),
            ("acc", self.f.reds.len()),
        ] {
            for k in 0..n {
                let _ = writeln!(
                    e.text,
                    "  %gp.{name}{k} = getelementptr ptr, ptr %{name}s, i64 {k}\n  \
                     %{name}{k} = load ptr, ptr %gp.{name}{k}"
                );
            }
        }
        for (i, n) in self.f.nodes.iter().enumerate() {
            if let Node::Load {
                input,
                map: LoadMap::Scalar,
            } = &n.node
            {
                let v = load(&mut self.entry, n.dtype, &format!("%in{input}"), "0")?;
                self.hoisted[i] = Some(v);
            }
        }
        Ok(())
    }

    /// `for i in [lo, hi) { body(i) }`.
    fn for_range(
        &mut self,
        lo: &str,
        hi: &str,
        body: impl FnOnce(&mut Self, &str) -> Result<(), Unsupported>,
    ) -> Result<(), Unsupported> {
        let iv = self.var("i64", "0");
        self.set("i64", &iv, lo);
        self.while_(
            |k| {
                let i = k.get("i64", &iv);
                let c = k.code.let_(format!("icmp slt i64 {i}, {hi}"));
                (i, c)
            },
            |k, i| {
                body(k, &i)?;
                let n = k.code.let_(format!("add i64 {i}, 1"));
                k.set("i64", &iv, &n);
                Ok(())
            },
        )
    }

    /// `loop { (v, c) = head(); if !c break; body(v) }`.
    fn while_(
        &mut self,
        head: impl FnOnce(&mut Self) -> (String, String),
        body: impl FnOnce(&mut Self, String) -> Result<(), Unsupported>,
    ) -> Result<(), Unsupported> {
        let (lh, lb, le) = (self.label("head"), self.label("loop"), self.label("done"));
        self.br(&lh);
        self.block(&lh);
        let (v, c) = head(self);
        let _ = writeln!(self.code.text, "  br i1 {c}, label %{lb}, label %{le}");
        self.block(&lb);
        body(self, v)?;
        self.br(&lh);
        self.block(&le);
        Ok(())
    }

    /// The values of nodes `which` (in order) at element `i`; `rows` are
    /// the per-row values of earlier reductions (by reduction).
    fn element(
        &mut self,
        i: &str,
        which: &[usize],
        rows: &[Option<String>],
    ) -> Result<Vec<Option<String>>, Unsupported> {
        let f = self.f;
        let mut val: Vec<Option<String>> = vec![None; f.nodes.len()];
        for &j in which {
            let n = &f.nodes[j];
            if let Some((_, ptr, lo)) = self.reload.iter().find(|r| r.0 == j) {
                let (ptr, lo) = (ptr.clone(), lo.clone());
                let d = self.code.let_(format!("sub i64 {i}, {lo}"));
                val[j] = Some(load(&mut self.code, n.dtype, &ptr, &d)?);
                continue;
            }
            let v = match &n.node {
                Node::Load {
                    map: LoadMap::Scalar,
                    ..
                } => {
                    let h = self.hoisted[j].clone().ok_or("a load not hoisted")?;
                    self.code.splat(n.dtype, &h)?
                }
                Node::Load {
                    input,
                    map: LoadMap::Contig,
                } => load(&mut self.code, n.dtype, &format!("%in{input}"), i)?,
                Node::Load {
                    input,
                    map: LoadMap::Strided(st),
                } if self.code.vector() => {
                    // in a row, a load along the last dimension is
                    // contiguous (stride 1) or one value (stride 0)
                    let (rs, bases) = self.row.as_ref().ok_or("a strided load outside a row")?;
                    let base = bases[j].clone().ok_or("a strided load without a base")?;
                    let rs = rs.clone();
                    let ptr = format!("%in{input}");
                    match st.last().copied().unwrap_or(0) {
                        0 => {
                            let vw = std::mem::replace(&mut self.code.vw, 1);
                            let x = load(&mut self.code, n.dtype, &ptr, &base)?;
                            self.code.vw = vw;
                            self.code.splat(n.dtype, &x)?
                        }
                        1 => {
                            let d = self.code.let_(format!("sub i64 {i}, {rs}"));
                            let idx = self.code.let_(format!("add i64 {base}, {d}"));
                            load(&mut self.code, n.dtype, &ptr, &idx)?
                        }
                        _ => return Err("a strided load along the row".into()),
                    }
                }
                Node::Load {
                    input,
                    map: LoadMap::Strided(st),
                } => {
                    let idx = match &self.row {
                        Some((rs, bases)) => {
                            // the row's offset, plus the index in the row
                            // times the last dimension's stride
                            let base = bases[j].clone().ok_or("a strided load without a base")?;
                            let last = st.last().copied().unwrap_or(0);
                            let d = self.code.let_(format!("sub i64 {i}, {rs}"));
                            let m = self.code.let_(format!("mul i64 {d}, {last}"));
                            self.code.let_(format!("add i64 {base}, {m}"))
                        }
                        None => strided_index(&mut self.code, i, &f.shape, st),
                    };
                    load(&mut self.code, n.dtype, &format!("%in{input}"), &idx)?
                }
                Node::RowRed(r) => {
                    let x = rows
                        .get(*r)
                        .cloned()
                        .flatten()
                        .ok_or("a per-row value before its reduction")?;
                    self.code.splat(n.dtype, &x)?
                }
                Node::Op { args, sym, .. } => {
                    let g =
                        (sym.record)(&sym.params, &sym.ins, n.dtype).map_err(|e| e.to_string())?;
                    let inputs: Vec<String> = args
                        .iter()
                        .map(|&a| val[a].clone().ok_or("an operand not computed"))
                        .collect::<Result<_, _>>()?;
                    ir::graph(&mut self.code, &g, &inputs)?
                }
            };
            val[j] = Some(v);
        }
        Ok(val)
    }

    /// Store the output nodes' values at element `i`.
    fn store_outs(&mut self, i: &str, val: &[Option<String>]) -> Result<(), Unsupported> {
        for (o, out) in self.f.outs.iter().enumerate() {
            if let Out::Node(j) = out {
                let d = self.f.nodes[*j].dtype;
                let v = val[*j].clone().ok_or("an output not computed")?;
                store(&mut self.code, d, &format!("%out{o}"), i, &v)?;
            }
        }
        Ok(())
    }

    /// Store the spilled nodes' values at element `i` into the row scratch.
    fn spill_vals(&mut self, i: &str, val: &[Option<String>]) -> Result<(), Unsupported> {
        for q in 0..self.spill.len() {
            let (j, ptr, lo) = self.spill[q].clone();
            let v = val[j].clone().ok_or("a spilled node not computed")?;
            let d = self.code.let_(format!("sub i64 {i}, {lo}"));
            store(&mut self.code, self.f.nodes[j].dtype, &ptr, &d, &v)?;
        }
        Ok(())
    }

    /// Reduction `r`'s accumulator dtype.
    fn acc_ty(&self, r: usize) -> DType {
        let red = &self.f.reds[r];
        acc_dtype(red.op, red.dtype)
    }

    /// Reduction `r`'s value at this element, in its accumulator dtype.
    fn up(&mut self, r: usize, val: &[Option<String>]) -> Result<String, Unsupported> {
        let red = &self.f.reds[r];
        let v = val[red.node]
            .clone()
            .ok_or("a reduced value not computed")?;
        let (vd, ad) = (self.f.nodes[red.node].dtype, self.acc_ty(r));
        ir::cast(&mut self.code, &v, vd, ad)
    }

    /// `a op b` in reduction `r`'s accumulator dtype (`Fold::comb`).
    fn comb(&mut self, r: usize, a: &str, b: &str) -> Result<String, Unsupported> {
        let d = self.acc_ty(r);
        let p = match (self.f.reds[r].op, d) {
            (Monoid::Sum, _) => Prim::Add,
            (Monoid::Max, DType::Bool) => Prim::Or,
            (Monoid::Min, DType::Bool) => Prim::And,
            (Monoid::Max, _) => Prim::Max,
            (Monoid::Min, _) => Prim::Min,
        };
        let args = [(a.to_string(), d), (b.to_string(), d)];
        ir::prim(&mut self.code, p, d, &|k| Ok(args[k].clone()))
    }

    /// The identity of reduction `r` (`Fold::ident`).
    fn ident(&self, r: usize) -> Result<String, Unsupported> {
        let d = self.acc_ty(r);
        let op = self.f.reds[r].op;
        if d == DType::Bool {
            return Ok((if op == Monoid::Min { "true" } else { "false" }).into());
        }
        let float = matches!(d, DType::F32 | DType::F64);
        let raw: u64 = match (op, float) {
            (Monoid::Sum, _) => 0,
            (Monoid::Max, true) | (Monoid::Min, true) => {
                let inf = if op == Monoid::Max {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                if d == DType::F32 {
                    (inf as f32).to_bits() as u64
                } else {
                    inf.to_bits()
                }
            }
            (Monoid::Max, false) | (Monoid::Min, false) => {
                let w = d.itemsize() * 8;
                let signed = matches!(d, DType::I8 | DType::I16 | DType::I32 | DType::I64);
                let ones = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
                match (op == Monoid::Max, signed) {
                    (true, true) => 1u64 << (w - 1), // MIN
                    (true, false) => 0,              // MIN
                    (false, true) => ones >> 1,      // MAX
                    (false, false) => ones,          // MAX
                }
            }
        };
        ir::konst(d, raw)
    }

    /// `acc_r[slot] = comb(acc_r[slot], x)`.
    fn acc_update(&mut self, r: usize, slot: &str, x: &str) -> Result<(), Unsupported> {
        let d = self.acc_ty(r);
        let cur = load(&mut self.code, d, &format!("%acc{r}"), slot)?;
        let n = self.comb(r, &cur, x)?;
        store(&mut self.code, d, &format!("%acc{r}"), slot, &n)
    }

    /// Fold elements `[lo, hi)` of the reductions `reds` into slot `slot`
    /// (the interpreter's `seg`): eight lanes over whole groups of eight,
    /// the lanes in order, then the rest in order. Every element's nodes
    /// `which` are computed (outputs stored if `store`).
    #[allow(clippy::too_many_arguments)]
    fn fold(
        &mut self,
        lo: &str,
        hi: &str,
        slot: &str,
        reds: &[usize],
        which: &[usize],
        rows: &[Option<String>],
        store: bool,
    ) -> Result<(), Unsupported> {
        let mut lanes: Vec<Vec<String>> = Vec::new();
        for &r in reds {
            let t = ir::ty(self.acc_ty(r))?;
            let id = self.ident(r)?;
            let ls: Vec<String> = (0..8).map(|_| self.var(t, &id)).collect();
            for l in &ls {
                self.set(t, l, &id);
            }
            lanes.push(ls);
        }
        let jv = self.var("i64", "0");
        self.set("i64", &jv, lo);
        if self.vw > 1 {
            self.fold_vectors(&jv, hi, reds, which, rows, store, &lanes)?;
        }
        // whole groups of eight (two groups per iteration measured no
        // faster, and 60% longer to compile)
        self.while_(
            |k| {
                let j = k.get("i64", &jv);
                let js = k.code.let_(format!("add i64 {j}, 8"));
                let c = k.code.let_(format!("icmp sle i64 {js}, {hi}"));
                (j, c)
            },
            |k, j| {
                let mut vals = Vec::with_capacity(8);
                for l in 0..8 {
                    let i = k.code.let_(format!("add i64 {j}, {l}"));
                    let v = k.element(&i, which, rows)?;
                    if store {
                        k.store_outs(&i, &v)?;
                    }
                    k.spill_vals(&i, &v)?;
                    vals.push(v);
                }
                for (l, v) in vals.iter().enumerate() {
                    for (q, &r) in reds.iter().enumerate() {
                        let t = ir::ty(k.acc_ty(r))?;
                        let x = k.up(r, v)?;
                        let cur = k.get(t, &lanes[q][l]);
                        let n = k.comb(r, &cur, &x)?;
                        k.set(t, &lanes[q][l], &n);
                    }
                }
                let n = k.code.let_(format!("add i64 {j}, 8"));
                k.set("i64", &jv, &n);
                Ok(())
            },
        )?;
        // the lanes in order, from the identity
        let mut sums = Vec::new();
        for (q, &r) in reds.iter().enumerate() {
            let t = ir::ty(self.acc_ty(r))?;
            let mut s = self.ident(r)?;
            for l in 0..8 {
                let x = self.get(t, &lanes[q][l]);
                s = self.comb(r, &s, &x)?;
            }
            let id = self.ident(r)?;
            let sv = self.var(t, &id);
            self.set(t, &sv, &s);
            sums.push(sv);
        }
        // the rest, one by one
        let start = self.get("i64", &jv);
        self.for_range(&start, hi, |k, i| {
            let v = k.element(i, which, rows)?;
            if store {
                k.store_outs(i, &v)?;
            }
            k.spill_vals(i, &v)?;
            for (q, &r) in reds.iter().enumerate() {
                let t = ir::ty(k.acc_ty(r))?;
                let x = k.up(r, &v)?;
                let cur = k.get(t, &sums[q]);
                let n = k.comb(r, &cur, &x)?;
                k.set(t, &sums[q], &n);
            }
            Ok(())
        })?;
        for (q, &r) in reds.iter().enumerate() {
            let t = ir::ty(self.acc_ty(r))?;
            let s = self.get(t, &sums[q]);
            self.acc_update(r, slot, &s)?;
        }
        Ok(())
    }

    /// `fold`'s whole vectors of `vw` elements from `jv` (advanced past
    /// them): element `j + l` folds into lane `l % 8`, the eight lanes as
    /// one vector and the elements' vector cut into eights in order, so each
    /// lane sees its elements in the scalar loop's order (the same bits).
    /// The lanes end in `lanes` for the scalar loops that follow.
    #[allow(clippy::too_many_arguments)]
    fn fold_vectors(
        &mut self,
        jv: &str,
        hi: &str,
        reds: &[usize],
        which: &[usize],
        rows: &[Option<String>],
        store: bool,
        lanes: &[Vec<String>],
    ) -> Result<(), Unsupported> {
        let vw = self.vw;
        let mut accs = Vec::new();
        for &r in reds {
            let st = ir::ty(self.acc_ty(r))?;
            let vt = format!("<8 x {st}>");
            let init = format!("splat ({st} {})", self.ident(r)?);
            let p = self.var(&vt, &init);
            self.set(&vt, &p, &init);
            accs.push((p, vt, st));
        }
        self.while_(
            |k| {
                let j = k.get("i64", jv);
                let js = k.code.let_(format!("add i64 {j}, {vw}"));
                let c = k.code.let_(format!("icmp sle i64 {js}, {hi}"));
                (j, c)
            },
            |k, j| {
                k.code.vw = vw;
                let v = k.element(&j, which, rows)?;
                if store {
                    k.store_outs(&j, &v)?;
                }
                k.spill_vals(&j, &v)?;
                let mut xs = Vec::with_capacity(reds.len());
                for &r in reds {
                    xs.push(k.up(r, &v)?);
                }
                k.code.vw = 8;
                for (q, &r) in reds.iter().enumerate() {
                    let (p, vt, st) = accs[q].clone();
                    let mut cur = k.get(&vt, &p);
                    for h in 0..vw / 8 {
                        let part = if vw == 8 {
                            xs[q].clone()
                        } else {
                            let idx: Vec<String> =
                                (h * 8..h * 8 + 8).map(|i| format!("i32 {i}")).collect();
                            k.code.let_(format!(
                                "shufflevector <{vw} x {st}> {x}, <{vw} x {st}> poison, <8 x i32> <{}>",
                                idx.join(", "),
                                x = xs[q]
                            ))
                        };
                        cur = k.comb(r, &cur, &part)?;
                    }
                    k.set(&vt, &p, &cur);
                }
                k.code.vw = 1;
                let n = k.code.let_(format!("add i64 {j}, {vw}"));
                k.set("i64", jv, &n);
                Ok(())
            },
        )?;
        for (q, (p, vt, st)) in accs.into_iter().enumerate() {
            let v = self.get(&vt, &p);
            for (l, lane) in lanes[q].iter().enumerate() {
                let x = self.code.let_(format!("extractelement {vt} {v}, i64 {l}"));
                self.set(st, lane, &x);
            }
        }
        Ok(())
    }

    /// `[a, b)` cut at the ends of the iteration space's rows (its last
    /// dimension), each strided load's offset computed once per row, so
    /// that in the inner loop every load is contiguous, constant or affine
    /// in the index (no division or remainder per element: LLVM
    /// vectorizes it). For an elementwise group with strided (broadcast)
    /// loads, and for column reductions (`cols`: the accumulator row's
    /// width, a multiple of the last dimension): there each element folds
    /// into slot `i % width`, the row's first slot plus the index in the
    /// row, in the same order as the interpreter (`fused::cols`: each
    /// column in row order).
    fn by_rows(&mut self, cols: Option<usize>) -> Result<(), Unsupported> {
        let f = self.f;
        let w = *f.shape.last().ok_or("a rank-0 group")?;
        let all: Vec<usize> = (0..f.nodes.len()).collect();
        let iv = self.var("i64", "0");
        self.set("i64", &iv, "%a");
        self.while_(
            |k| {
                let i = k.get("i64", &iv);
                let c = k.code.let_(format!("icmp slt i64 {i}, %b"));
                (i, c)
            },
            |k, i| {
                let row = k.code.let_(format!("udiv i64 {i}, {w}"));
                let rs = k.code.let_(format!("mul i64 {row}, {w}"));
                let e = k.code.let_(format!("add i64 {rs}, {w}"));
                let lt = k.code.let_(format!("icmp slt i64 {e}, %b"));
                let re = k.code.let_(format!("select i1 {lt}, i64 {e}, i64 %b"));
                let mut bases = vec![None; f.nodes.len()];
                for (j, n) in f.nodes.iter().enumerate() {
                    if let Node::Load {
                        map: LoadMap::Strided(st),
                        ..
                    } = &n.node
                    {
                        bases[j] = Some(strided_index(&mut k.code, &rs, &f.shape, st));
                    }
                }
                // the accumulator slot of the row's first element
                let slot0 = match cols {
                    Some(width) => Some(k.code.let_(format!("urem i64 {rs}, {width}"))),
                    None => None,
                };
                k.row = Some((rs.clone(), bases));
                let r = k.for_range(&i, &re, |k, idx| {
                    let v = k.element(idx, &all, &[])?;
                    k.store_outs(idx, &v)?;
                    if let Some(s0) = &slot0 {
                        let d = k.code.let_(format!("sub i64 {idx}, {rs}"));
                        let slot = k.code.let_(format!("add i64 {s0}, {d}"));
                        k.cols_update(&slot, &v)?;
                    }
                    Ok(())
                });
                k.row = None;
                r?;
                k.set("i64", &iv, &re);
                Ok(())
            },
        )
    }

    /// Fold every reduction's value at this element into slot `slot`.
    fn cols_update(&mut self, slot: &str, v: &[Option<String>]) -> Result<(), Unsupported> {
        for r in 0..self.f.reds.len() {
            let x = self.up(r, v)?;
            self.acc_update(r, slot, &x)?;
        }
        Ok(())
    }

    /// Whole-array (`rlen` None) and single-phase row reductions: tiles of
    /// `%tile` elements from `%a`, each cut at row ends (slot `row - r0`).
    fn tiled(&mut self, rlen: Option<usize>) -> Result<(), Unsupported> {
        let all: Vec<usize> = (0..self.f.nodes.len()).collect();
        let reds: Vec<usize> = (0..self.f.reds.len()).collect();
        let tv = self.var("i64", "0");
        self.set("i64", &tv, "%a");
        self.while_(
            |k| {
                let t0 = k.get("i64", &tv);
                let c = k.code.let_(format!("icmp slt i64 {t0}, %b"));
                (t0, c)
            },
            |k, t0| {
                let e = k.code.let_(format!("add i64 {t0}, %tile"));
                let lt = k.code.let_(format!("icmp slt i64 {e}, %b"));
                let tend = k.code.let_(format!("select i1 {lt}, i64 {e}, i64 %b"));
                let iv = k.var("i64", "0");
                k.set("i64", &iv, &t0);
                k.while_(
                    |k| {
                        let i = k.get("i64", &iv);
                        let c = k.code.let_(format!("icmp slt i64 {i}, {tend}"));
                        (i, c)
                    },
                    |k, i| {
                        let (slot, seg_end) = match rlen {
                            None => ("0".to_string(), tend.clone()),
                            Some(n) => {
                                let row = k.code.let_(format!("udiv i64 {i}, {n}"));
                                let slot = k.code.let_(format!("sub i64 {row}, %r0"));
                                let r1 = k.code.let_(format!("add i64 {row}, 1"));
                                let end = k.code.let_(format!("mul i64 {r1}, {n}"));
                                let lt = k.code.let_(format!("icmp slt i64 {end}, {tend}"));
                                let se = k
                                    .code
                                    .let_(format!("select i1 {lt}, i64 {end}, i64 {tend}"));
                                (slot, se)
                            }
                        };
                        k.fold(&i, &seg_end, &slot, &reds, &all, &[], true)?;
                        k.set("i64", &iv, &seg_end);
                        Ok(())
                    },
                )?;
                k.set("i64", &tv, &tend);
                Ok(())
            },
        )
    }

    /// Multi-phase row groups: rows `[a, b)`, each phase a pass over the
    /// row folding its reductions, later phases reading earlier ones' row
    /// values; then a pass storing the outputs.
    fn phased(&mut self, rlen: usize) -> Result<(), Unsupported> {
        let f = self.f;
        let phases = f.phase_end.len();
        let has_outs = f.outs.iter().any(|o| matches!(o, Out::Node(_)));
        // The row scratch: the elementwise nodes that the last folding
        // phase computes and the output pass reads (as an operand of a
        // later node, or as an output), while they fit in 128 KiB of stack.
        let last = f.red_phase.iter().copied().max().unwrap_or(0);
        let done = &f.order[..f.phase_end[last]];
        let later = &f.order[f.phase_end[last]..];
        let mut cached: Vec<usize> = Vec::new();
        if has_outs {
            for &j in done {
                let read_later = later.iter().any(|&m| match &f.nodes[m].node {
                    Node::Op { args, .. } => args.contains(&j),
                    _ => false,
                });
                let is_out = f.outs.iter().any(|o| matches!(o, Out::Node(m) if *m == j));
                if matches!(f.nodes[j].node, Node::Op { .. }) && (read_later || is_out) {
                    cached.push(j);
                }
            }
            let bytes: usize = cached
                .iter()
                .map(|&j| f.nodes[j].dtype.itemsize() * rlen)
                .sum();
            if bytes > 128 * 1024 {
                cached.clear();
            }
        }
        let mut scratch = Vec::new();
        for &j in &cached {
            let mt = ir::mem_ty(f.nodes[j].dtype)?;
            scratch.push((
                j,
                self.entry
                    .let_(format!("alloca {mt}, i64 {rlen}, align 64")),
            ));
        }
        self.for_range("%a", "%b", |k, row| {
            let slot = k.code.let_(format!("sub i64 {row}, %r0"));
            let lo = k.code.let_(format!("mul i64 {row}, {rlen}"));
            let hi = k.code.let_(format!("add i64 {lo}, {rlen}"));
            let mut rows: Vec<Option<String>> = vec![None; f.reds.len()];
            for p in 0..phases {
                let which = f.order[..f.phase_end[p]].to_vec();
                let reds: Vec<usize> = (0..f.reds.len()).filter(|&r| f.red_phase[r] == p).collect();
                if !reds.is_empty() {
                    if p == last {
                        k.spill = scratch
                            .iter()
                            .map(|(j, s)| (*j, s.clone(), lo.clone()))
                            .collect();
                    }
                    let r = k.fold(&lo, &hi, &slot, &reds, &which, &rows, false);
                    k.spill.clear();
                    r?;
                }
                // this phase's row values, for the next phases
                for &r in &reds {
                    let ad = k.acc_ty(r);
                    let v = load(&mut k.code, ad, &format!("%acc{r}"), &slot)?;
                    rows[r] = Some(ir::cast(&mut k.code, &v, ad, f.reds[r].dtype)?);
                }
            }
            if has_outs {
                let all: Vec<usize> = f.order.clone();
                k.reload = scratch
                    .iter()
                    .map(|(j, s)| (*j, s.clone(), lo.clone()))
                    .collect();
                let r = k.for_range(&lo, &hi, |k, i| {
                    let v = k.element(i, &all, &rows)?;
                    k.store_outs(i, &v)
                });
                k.reload.clear();
                r?;
            }
            Ok(())
        })
    }
}

/// Load element `idx` of dtype `d` from the array at `ptr` (elements
/// `idx..idx + b.vw` as a vector).
fn load(b: &mut Body, d: DType, ptr: &str, idx: &str) -> Result<String, Unsupported> {
    let mt = ir::mem_ty(d)?;
    let p = b.let_(format!("getelementptr {mt}, ptr {ptr}, i64 {idx}"));
    let vt = b.wide(mt);
    let x = b.let_(format!("load {vt}, ptr {p}, align {}", d.itemsize()));
    Ok(if d == DType::Bool {
        let bt = b.wide("i1");
        b.let_(format!("trunc {vt} {x} to {bt}"))
    } else {
        x
    })
}

/// Store `v` of dtype `d` at element `idx` of the array at `ptr` (a
/// vector at `idx..idx + b.vw`).
fn store(b: &mut Body, d: DType, ptr: &str, idx: &str, v: &str) -> Result<(), Unsupported> {
    let mt = ir::mem_ty(d)?;
    let vt = b.wide(mt);
    let v = if d == DType::Bool {
        let bt = b.wide("i1");
        b.let_(format!("zext {bt} {v} to {vt}"))
    } else {
        v.to_string()
    };
    let p = b.let_(format!("getelementptr {mt}, ptr {ptr}, i64 {idx}"));
    let _ = writeln!(b.text, "  store {vt} {v}, ptr {p}, align {}", d.itemsize());
    Ok(())
}

/// The offset of element `i` of the iteration space `shape` read through
/// element strides `st` (stride 0: a broadcast dimension).
fn strided_index(b: &mut Body, i: &str, shape: &[usize], st: &[isize]) -> String {
    let mut acc = "0".to_string();
    let mut inner: usize = 1;
    for d in (0..shape.len()).rev() {
        let n = shape[d];
        if st.get(d).copied().unwrap_or(0) != 0 && n > 1 {
            let q = if inner == 1 {
                i.to_string()
            } else {
                b.let_(format!("udiv i64 {i}, {inner}"))
            };
            let c = if d == 0 {
                q
            } else {
                b.let_(format!("urem i64 {q}, {n}"))
            };
            let t = b.let_(format!("mul i64 {c}, {}", st[d]));
            acc = b.let_(format!("add i64 {acc}, {t}"));
        }
        inner = inner.saturating_mul(n.max(1));
    }
    acc
}
