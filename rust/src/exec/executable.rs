//! `Executable` runs a Program (`compiler::program`): it builds every kernel
//! once and frees each intermediate buffer right after its last use; before
//! that, the Program goes through the compiler's passes (DCE, CSE, folding)
//! and fusion planning.
use crate::base::buffer::Buffer;
use crate::base::error::{Error, Result};

use super::frame::{elem_fits, group_fits, FStep, Plan};
use crate::compiler::fusion::classify::{kind_of, Kind};
use crate::compiler::fusion::{self, Step};
use crate::compiler::passes::{self, PassStats};
pub use crate::compiler::program::{InstrSpec, ProgramSpec};
use crate::ops::{self, Aval, InPlace, Kernel, OpSpec, OwnedKernel};

struct Instr {
    name: String,
    kernel: Kernel,
    /// The op's in-place form (`ops::InPlace`), if it has one.
    in_place: Option<InPlace>,
    /// The op's owning form (`ops::OwnedKernel`), if it has one.
    owned: Option<OwnedKernel>,
    ins: Vec<usize>,
    outs: Vec<usize>,
    /// Values whose last use is this instruction (freed after it runs).
    frees: Vec<usize>,
    /// Program inputs whose last use is this instruction: freed after it
    /// in a run that owns its inputs (`run_owned`).
    in_frees: Vec<usize>,
    /// How a loop frame runs it (`exec::frame`), if one can.
    frame: Option<FStep>,
}

impl Instr {
    /// Whether value `v` dies at this instruction: an intermediate at its
    /// last use, or an input at its last use that the run owns.
    fn dies_here(&self, v: usize, own: Own) -> bool {
        self.frees.contains(&v) || (own.has(v) && self.in_frees.contains(&v))
    }
}

/// Which of its inputs a run owns (may free early and update in place).
#[derive(Clone, Copy)]
enum Own<'a> {
    /// None: the caller keeps them (`run`).
    None,
    /// All (`run_owned`: a loop's body).
    All,
    /// The marked ones (`run_donated`: a jitted call's donated arguments).
    Some(&'a [bool]),
}

impl Own<'_> {
    fn has(self, input: usize) -> bool {
        match self {
            Own::None => false,
            Own::All => true,
            Own::Some(m) => m.get(input).copied().unwrap_or(false),
        }
    }
}

pub struct Executable {
    in_avals: Vec<Aval>,
    out_avals: Vec<Aval>,
    consts: Vec<Buffer>,
    instrs: Vec<Instr>,
    outputs: Vec<usize>,
    n_values: usize,
    stats: PassStats,
    /// Whether a run calls back into the host (Python) / has an effect
    /// (see `ops::callback`), here or in a sub-program.
    host_calls: bool,
    effects: bool,
    /// The fused groups' slots for native code (`exec::native`).
    native: Vec<std::sync::Arc<super::native::Slot>>,
    /// The Program as it came in, before the passes (what `api::format`
    /// exports).
    source: std::sync::Arc<ProgramSpec>,
    /// The plan of a loop frame (`exec::frame`), if every instruction has
    /// a frame step.
    frame_plan: Option<Plan>,
}

/// Whether programs fuse (default on; `RJAX_FUSION=0` turns it off, to
/// compare against the unfused plan).
pub fn fusion_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("RJAX_FUSION").map_or(true, |v| v != "0"))
}

impl Executable {
    pub fn new(
        in_avals: Vec<Aval>,
        consts: Vec<Buffer>,
        specs: Vec<InstrSpec>,
        outputs: Vec<usize>,
    ) -> Result<Executable> {
        Executable::with_fusion(in_avals, consts, specs, outputs, fusion_enabled())
    }

    /// Build, fusing elementwise chains and their reductions when `fuse`.
    pub fn with_fusion(
        in_avals: Vec<Aval>,
        consts: Vec<Buffer>,
        specs: Vec<InstrSpec>,
        outputs: Vec<usize>,
        fuse: bool,
    ) -> Result<Executable> {
        let source = std::sync::Arc::new(ProgramSpec {
            in_avals: in_avals.clone(),
            consts: consts.clone(),
            instrs: specs.clone(),
            outputs: outputs.clone(),
        });
        let passes::Optimized {
            consts,
            specs,
            outputs,
            stats,
        } = passes::optimize_with_stats(&in_avals, consts, specs, outputs)?;
        let host_calls = specs.iter().any(|s| ops::is_host_op(&s.params));
        let effects = specs.iter().any(|s| ops::has_effect(&s.params));
        let mut avals: Vec<Aval> = in_avals.clone();
        avals.extend(consts.iter().map(|c| Aval::new(c.dtype, c.shape.clone())));
        // Number every value first: instruction k's outputs get fresh ids.
        let mut outs_of: Vec<Vec<usize>> = Vec::with_capacity(specs.len());
        for s in &specs {
            for &i in &s.ins {
                if i >= avals.len() {
                    return Err(Error::Internal(format!(
                        "program: {} reads value {} before it is defined",
                        s.params.op, i
                    )));
                }
            }
            let first = avals.len();
            avals.extend(s.outs.iter().cloned());
            outs_of.push((first..avals.len()).collect());
        }
        for &o in &outputs {
            if o >= avals.len() {
                return Err(Error::Internal(format!(
                    "program: output {o} is not defined"
                )));
            }
        }
        let ins_of: Vec<Vec<usize>> = specs.iter().map(|s| s.ins.clone()).collect();
        let params: Vec<&crate::base::params::Params> = specs.iter().map(|s| &s.params).collect();
        let steps = if fuse && specs.len() > 1 {
            fusion::plan(&params, &ins_of, &outs_of, &avals, &outputs)
        } else {
            (0..specs.len()).map(Step::Single).collect()
        };
        let mut instrs = Vec::with_capacity(steps.len());
        let mut native = Vec::new();
        for step in steps {
            match step {
                Step::Single(k) => {
                    let s = &specs[k];
                    let in_avals: Vec<Aval> = s.ins.iter().map(|&i| avals[i].clone()).collect();
                    let spec = OpSpec {
                        params: &s.params,
                        ins: &in_avals,
                        outs: &s.outs,
                    };
                    let kernel = ops::build(&spec)?;
                    // (an in-place form that cannot be built only costs a copy)
                    let in_place = ops::build_in_place(&spec).ok().flatten();
                    let owned = ops::build_owned(&spec)?;
                    let frame = elem_step(&s.params, &in_avals, &s.outs, &s.ins, &outs_of[k]);
                    instrs.push(Instr {
                        name: s.params.op.clone(),
                        kernel,
                        in_place,
                        owned,
                        ins: s.ins.clone(),
                        outs: outs_of[k].clone(),
                        frees: vec![],
                        in_frees: vec![],
                        frame,
                    });
                }
                Step::Group { members } => {
                    let inside: std::collections::HashSet<usize> =
                        members.iter().copied().collect();
                    let mut used_outside: std::collections::HashSet<usize> =
                        outputs.iter().copied().collect();
                    for (k, ins) in ins_of.iter().enumerate() {
                        if !inside.contains(&k) {
                            used_outside.extend(ins.iter().copied());
                        }
                    }
                    let (fused, ins, outs) =
                        fusion::build_group(&members, &params, &ins_of, &outs_of, &avals, &|v| {
                            used_outside.contains(&v)
                        })?;
                    let out_avals: Vec<Aval> = outs.iter().map(|&v| avals[v].clone()).collect();
                    let name = fused.describe();
                    let group_ins: Vec<Aval> = ins.iter().map(|&v| avals[v].clone()).collect();
                    let fits = group_fits(&fused, &group_ins);
                    let total = crate::base::buffer::numel(&fused.shape);
                    let tile = super::fused::tile_len(&fused);
                    let slot = super::native::Slot::new(fused, out_avals);
                    native.push(slot.clone());
                    let frame = fits.then(|| FStep::Native {
                        slot: slot.clone(),
                        ins: ins.clone(),
                        outs: outs.clone(),
                        total,
                        tile,
                    });
                    instrs.push(Instr {
                        name,
                        kernel: super::native::kernel(slot),
                        in_place: None,
                        owned: None,
                        ins,
                        outs,
                        frees: vec![],
                        in_frees: vec![],
                        frame,
                    });
                }
            }
        }
        // Liveness: a value dies after the last instruction reading it, unless
        // it is an output. Inputs and constants are never owned by the run.
        let n_values = avals.len();
        let mut last = vec![usize::MAX; n_values];
        for (k, ins) in instrs.iter().enumerate() {
            for &i in &ins.ins {
                last[i] = k;
            }
        }
        let fixed = in_avals.len() + consts.len();
        for (v, &k) in last.iter().enumerate() {
            if k == usize::MAX || outputs.contains(&v) {
                continue;
            }
            if v >= fixed {
                instrs[k].frees.push(v);
            } else if v < in_avals.len() {
                instrs[k].in_frees.push(v);
            }
        }
        let out_avals = outputs.iter().map(|&o| avals[o].clone()).collect();
        let frame_plan = if !host_calls && !effects && instrs.iter().all(|i| i.frame.is_some()) {
            Some(Plan {
                steps: instrs.iter_mut().filter_map(|i| i.frame.take()).collect(),
                avals,
                n_in: in_avals.len(),
                consts: consts.clone(),
                outputs: outputs.clone(),
            })
        } else {
            None
        };
        Ok(Executable {
            in_avals,
            out_avals,
            consts,
            instrs,
            outputs,
            n_values,
            stats,
            host_calls,
            effects,
            native,
            source,
            frame_plan,
        })
    }

    /// The Program this was built from, before the passes.
    pub fn source(&self) -> &ProgramSpec {
        &self.source
    }

    /// The slots of the fused groups (native code for them, `exec::native`).
    pub fn native_slots(&self) -> &[std::sync::Arc<super::native::Slot>] {
        &self.native
    }

    /// Whether a run calls back into the host (Python).
    pub fn has_host_calls(&self) -> bool {
        self.host_calls
    }

    /// Whether a run has an effect (a debug callback), so it must run
    /// even if nothing reads its outputs.
    pub fn has_effects(&self) -> bool {
        self.effects
    }

    /// How many kernels a run launches.
    pub fn n_kernels(&self) -> usize {
        self.instrs.len()
    }

    pub fn in_avals(&self) -> &[Aval] {
        &self.in_avals
    }

    pub fn out_avals(&self) -> &[Aval] {
        &self.out_avals
    }

    /// What the passes did to the Program this was built from.
    pub fn stats(&self) -> &PassStats {
        &self.stats
    }

    /// The passes' summary, then the Program as it runs, one instruction a
    /// line (`%c<k>` is constant k).
    pub fn describe(&self) -> String {
        let n_in = self.in_avals.len();
        let name = |v: usize| match v.checked_sub(n_in) {
            Some(c) if c < self.consts.len() => format!("%c{c}"),
            _ => format!("%{v}"),
        };
        let list =
            |vs: &[usize], sep: &str| vs.iter().map(|&v| name(v)).collect::<Vec<_>>().join(sep);
        let mut s = format!("{}\nplan(inputs: ", self.stats);
        let ins: Vec<String> = self
            .in_avals
            .iter()
            .enumerate()
            .map(|(i, a)| format!("%{i}:{}{:?}", a.dtype, a.shape))
            .collect();
        s += &ins.join(", ");
        let cs: Vec<String> = self
            .consts
            .iter()
            .enumerate()
            .map(|(c, b)| format!("%c{c}:{}{:?}", b.dtype, b.shape))
            .collect();
        s += &format!("; constants: {})\n", cs.join(", "));
        for ins in &self.instrs {
            s += &format!(
                "  {} = {} {}",
                list(&ins.outs, ", "),
                ins.name,
                list(&ins.ins, " ")
            );
            if !ins.frees.is_empty() {
                s += &format!("   ; frees {}", list(&ins.frees, " "));
            }
            s += "\n";
        }
        s += &format!("  return {}", list(&self.outputs, ", "));
        s
    }

    pub fn run(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
        self.check_inputs(inputs)?;
        self.run_checked(inputs)
    }

    /// `run` without re-checking the inputs' types: for the loops of the
    /// control-flow ops, which feed a body its own outputs (checked on the
    /// first iteration) and rows of operands checked when the op was built.
    pub fn run_trusted(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
        if inputs.len() != self.in_avals.len() {
            return self.run(inputs);
        }
        self.run_checked(inputs)
    }

    fn check_inputs(&self, inputs: &[Buffer]) -> Result<()> {
        if inputs.len() != self.in_avals.len() {
            return Err(Error::Internal(format!(
                "program expects {} inputs, got {}",
                self.in_avals.len(),
                inputs.len()
            )));
        }
        for (k, (b, a)) in inputs.iter().zip(&self.in_avals).enumerate() {
            if b.dtype != a.dtype || b.shape != a.shape {
                return Err(Error::Internal(format!(
                    "program input {k}: expected {}{:?}, got {}{:?}",
                    a.dtype, a.shape, b.dtype, b.shape
                )));
            }
        }
        Ok(())
    }

    fn run_checked(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
        // Fast path: a single instruction reading only inputs (eager mode).
        if self.instrs.len() == 1 && self.consts.is_empty() {
            let ins = &self.instrs[0];
            let args: Vec<&Buffer> = ins.ins.iter().map(|&i| &inputs[i]).collect();
            let outs = (ins.kernel)(&args)?;
            return self.outputs_of_single(inputs, outs);
        }
        self.exec(inputs.iter().cloned().map(Some).collect(), Own::None)
    }

    /// `run_trusted`, taking the inputs (`SubProgram::run_owned`): a
    /// buffer that only this run owns can be updated in place.
    pub fn run_owned(&self, inputs: Vec<Buffer>) -> Result<Vec<Buffer>> {
        if inputs.len() != self.in_avals.len() {
            return self.run(&inputs);
        }
        self.exec(inputs.into_iter().map(Some).collect(), Own::All)
    }

    /// Run taking the inputs marked in `donated` (a jitted call's donated
    /// arguments): a donated input whose buffer nothing else holds is
    /// updated in place by the op that reads it last, or handed owned to
    /// the loop that carries it. The other inputs are only read, as in
    /// `run`, even when this run holds their only reference.
    pub fn run_donated(&self, inputs: Vec<Buffer>, donated: &[bool]) -> Result<Vec<Buffer>> {
        self.check_inputs(&inputs)?;
        if donated.len() != inputs.len() {
            return Err(Error::Internal(format!(
                "run_donated: {} donation flags for {} inputs",
                donated.len(),
                inputs.len()
            )));
        }
        self.exec(inputs.into_iter().map(Some).collect(), Own::Some(donated))
    }

    /// Operand 0 of `ins`, taken out of `vals` if this is its last use, no
    /// other operand of `ins` reads it, and no one else owns its buffer
    /// (nor is it borrowed memory): the op can then update it in place.
    fn take_unique(ins: &Instr, vals: &mut [Option<Buffer>], own: Own) -> Option<Buffer> {
        ins.in_place.as_ref()?;
        let v = *ins.ins.first()?;
        if !ins.dies_here(v, own) || ins.ins[1..].contains(&v) {
            return None;
        }
        let mut b = vals[v].take()?;
        match std::sync::Arc::get_mut(&mut b.data) {
            Some(raw) if !raw.is_borrowed() => Some(b),
            _ => {
                vals[v] = Some(b);
                None
            }
        }
    }

    /// The operands of an op with an owning form: each value whose last
    /// use this is (and that it reads once) taken out of `vals`, the others
    /// cloned.
    fn owned_args(ins: &Instr, vals: &mut [Option<Buffer>], own: Own) -> Result<Vec<Buffer>> {
        let mut args = Vec::with_capacity(ins.ins.len());
        for (k, &i) in ins.ins.iter().enumerate() {
            let once = !ins.ins[..k].contains(&i) && !ins.ins[k + 1..].contains(&i);
            let b = if once && ins.dies_here(i, own) {
                vals[i].take()
            } else {
                vals[i].clone()
            };
            args.push(b.ok_or_else(|| {
                Error::Internal(format!("{}: value {i} was freed too early", ins.name))
            })?);
        }
        Ok(args)
    }

    fn exec(&self, mut vals: Vec<Option<Buffer>>, own: Own) -> Result<Vec<Buffer>> {
        vals.extend(self.consts.iter().cloned().map(Some));
        vals.resize(self.n_values, None);
        for ins in &self.instrs {
            let outs = if let Some(f) = &ins.owned {
                f(Self::owned_args(ins, &mut vals, own)?)?
            } else if let Some(mut b) = Self::take_unique(ins, &mut vals, own) {
                let mut rest = Vec::with_capacity(ins.ins.len() - 1);
                for &i in &ins.ins[1..] {
                    rest.push(vals[i].as_ref().ok_or_else(|| {
                        Error::Internal(format!("{}: value {i} was freed too early", ins.name))
                    })?);
                }
                let (Some(f), Some(raw)) =
                    (ins.in_place.as_ref(), std::sync::Arc::get_mut(&mut b.data))
                else {
                    return Err(Error::Internal(format!("{}: in place", ins.name)));
                };
                f(raw, &rest)?;
                vec![b]
            } else {
                let mut args = Vec::with_capacity(ins.ins.len());
                for &i in &ins.ins {
                    args.push(vals[i].as_ref().ok_or_else(|| {
                        Error::Internal(format!("{}: value {i} was freed too early", ins.name))
                    })?);
                }
                (ins.kernel)(&args)?
            };
            if outs.len() != ins.outs.len() {
                return Err(Error::Internal(format!(
                    "{}: kernel returned {} outputs",
                    ins.name,
                    outs.len()
                )));
            }
            for (id, b) in ins.outs.iter().zip(outs) {
                vals[*id] = Some(b);
            }
            for &f in &ins.frees {
                vals[f] = None;
            }
            for &f in &ins.in_frees {
                if own.has(f) {
                    vals[f] = None;
                }
            }
        }
        self.outputs
            .iter()
            .map(|&o| {
                vals[o]
                    .clone()
                    .ok_or_else(|| Error::Internal(format!("output {o} missing")))
            })
            .collect()
    }

    fn outputs_of_single(&self, inputs: &[Buffer], outs: Vec<Buffer>) -> Result<Vec<Buffer>> {
        let first = self.in_avals.len();
        let ids = &self.instrs[0].outs;
        self.outputs
            .iter()
            .map(|&o| {
                if o < first {
                    Ok(inputs[o].clone())
                } else {
                    ids.iter()
                        .position(|&i| i == o)
                        .and_then(|k| outs.get(k))
                        .cloned()
                        .ok_or_else(|| Error::Internal("output missing".into()))
                }
            })
            .collect()
    }
}

/// The frame step of an unfused instruction: an elementwise op whose
/// values fit one chunk runs its slice kernel.
fn elem_step(
    p: &crate::base::params::Params,
    in_avals: &[Aval],
    out_avals: &[Aval],
    ins: &[usize],
    outs: &[usize],
) -> Option<FStep> {
    if !matches!(kind_of(p, in_avals, out_avals), Some(Kind::Elementwise))
        || !elem_fits(in_avals, &out_avals[0])
    {
        return None;
    }
    // a binary op on one-element integers of one type (a loop counter)
    if let Some(step) =
        super::frame::scalar_step(&p.op, ins, *outs.first()?, in_avals, &out_avals[0])
    {
        return Some(step);
    }
    let e = ops::table::lookup(&p.op)?.elementwise_kind()?;
    let dtypes: Vec<_> = in_avals.iter().map(|a| a.dtype).collect();
    let kernel = (e.resolve)(p, &dtypes, out_avals[0].dtype).ok()?;
    Some(FStep::Elem {
        kernel,
        ins: ins.to_vec(),
        out: *outs.first()?,
    })
}

impl crate::ops::control::SubProgram for Executable {
    fn frame(&self) -> Option<Box<dyn crate::ops::control::Frame + '_>> {
        self.frame_plan.as_ref()?.frame()
    }
    fn in_avals(&self) -> &[Aval] {
        &self.in_avals
    }
    fn run(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
        Executable::run(self, inputs)
    }
    fn run_trusted(&self, inputs: &[Buffer]) -> Result<Vec<Buffer>> {
        Executable::run_trusted(self, inputs)
    }
    fn run_owned(&self, inputs: Vec<Buffer>) -> Result<Vec<Buffer>> {
        Executable::run_owned(self, inputs)
    }
    fn has_effects(&self) -> bool {
        self.effects
    }
    fn has_host_calls(&self) -> bool {
        self.host_calls
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::dtype::DType;
    use crate::base::params::Params;

    fn instr(op: &str, ins: Vec<usize>, out: Aval) -> InstrSpec {
        InstrSpec {
            params: Params::new(op),
            ins,
            outs: vec![out],
        }
    }

    #[test]
    fn chain_runs_and_frees() {
        let a = Aval::new(DType::F32, vec![3]);
        let exe = Executable::with_fusion(
            vec![a.clone(), a.clone()],
            vec![],
            vec![
                instr("add", vec![0, 1], a.clone()),
                instr("mul", vec![2, 1], a.clone()),
            ],
            vec![3],
            false,
        )
        .unwrap();
        let x = Buffer::from_vec::<f32>(vec![3], &[1., 2., 3.]).unwrap();
        let y = Buffer::from_vec::<f32>(vec![3], &[2., 2., 2.]).unwrap();
        let out = exe.run(&[x, y]).unwrap();
        assert_eq!(out[0].slice::<f32>().unwrap(), &[6., 8., 10.]);
        assert_eq!(exe.instrs[1].frees, vec![2]);
    }

    #[test]
    fn run_donated_writes_only_a_donated_unshared_input() {
        let a = Aval::new(DType::F32, vec![4]);
        let exe = Executable::with_fusion(
            vec![
                a.clone(),
                Aval::new(DType::F32, vec![1]),
                Aval::new(DType::I32, vec![]),
            ],
            vec![],
            vec![instr("dynamic_update_slice", vec![0, 1, 2], a)],
            vec![3],
            false,
        )
        .unwrap();
        let zeros = || Buffer::from_vec::<f32>(vec![4], &[0.0; 4]).unwrap();
        let upd = Buffer::from_vec::<f32>(vec![1], &[7.0]).unwrap();
        let idx = Buffer::from_vec::<i32>(vec![], &[2]).unwrap();
        let run = |x: Buffer, donated: bool| {
            let at = x.data.bytes().as_ptr();
            let out = exe
                .run_donated(vec![x, upd.clone(), idx.clone()], &[donated, false, false])
                .unwrap();
            assert_eq!(out[0].slice::<f32>().unwrap(), &[0.0, 0.0, 7.0, 0.0]);
            out[0].data.bytes().as_ptr() == at
        };
        // donated, nothing else holds it: updated where it is
        assert!(run(zeros(), true));
        // not donated (even with no other holder): copied
        assert!(!run(zeros(), false));
        // donated but shared: copied, and the other holder keeps its values
        let x = zeros();
        let keep = x.clone();
        assert!(!run(x, true));
        assert_eq!(keep.slice::<f32>().unwrap(), &[0.0; 4]);
        // a wrong number of donation flags is an error, not a panic
        assert!(exe
            .run_donated(vec![zeros(), upd.clone(), idx.clone()], &[true])
            .is_err());
    }

    #[test]
    fn unknown_op_is_an_error() {
        let a = Aval::new(DType::F32, vec![3]);
        let r = Executable::new(
            vec![a.clone()],
            vec![],
            vec![instr("nope", vec![0], a)],
            vec![1],
        );
        assert!(matches!(r, Err(Error::UnknownOp(_))));
    }
}
