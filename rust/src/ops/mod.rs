//! Ops: the op table (`table.rs`: one entry per op with its kind, dtypes,
//! effects and builder), the scalar layer every elementwise op is defined in
//! (`scalar/`), and the kernels, one family per file. A builder validates
//! the op's avals and params once, at compile time, and returns a `Kernel`
//! closure that the executor calls with the input buffers. One string links
//! all layers: the Python primitive name is the op name here.
use crate::base::buffer::Buffer;
use crate::base::error::{Error, Result};
use crate::base::params::Params;

pub mod callback;
pub mod collective;
pub mod control;
pub mod conv;
pub mod cumulative;
pub mod dot;
pub mod elementwise;
pub mod fft;
pub mod gather;
pub mod iota;
pub mod linalg;
pub mod reduce;
pub mod scalar;
pub mod shape;
pub mod sort;
pub mod table;
pub mod threefry;
pub mod window;

pub use crate::base::aval::Aval;
pub use table::{build, build_in_place, build_owned, has_effect, is_host_op, supported_ops};

/// Everything a builder may look at. `params.op` is the op name.
pub struct OpSpec<'a> {
    pub params: &'a Params,
    pub ins: &'a [Aval],
    pub outs: &'a [Aval],
}

impl OpSpec<'_> {
    pub fn name(&self) -> &str {
        &self.params.op
    }
    /// Error unless there are exactly `n_in` inputs and `n_out` outputs.
    /// Every operand has the output's dtype (the lowering converted them).
    pub fn same_dtypes(&self) -> Result<()> {
        let out = self.outs[0].dtype;
        if self.ins.iter().any(|a| a.dtype != out) {
            let ins: Vec<String> = self.ins.iter().map(|a| a.dtype.to_string()).collect();
            return Err(Error::Internal(format!(
                "{}: operand dtypes {} must equal the output dtype {} (lowering converts)",
                self.name(),
                ins.join(" and "),
                out
            )));
        }
        Ok(())
    }

    pub fn arity(&self, n_in: usize, n_out: usize) -> Result<()> {
        if self.ins.len() != n_in || self.outs.len() != n_out {
            return Err(Error::Internal(format!(
                "{}: expected {} inputs and {} outputs, got {} and {}",
                self.name(),
                n_in,
                n_out,
                self.ins.len(),
                self.outs.len()
            )));
        }
        Ok(())
    }
}

pub type Kernel = Box<dyn Fn(&[&Buffer]) -> Result<Vec<Buffer>> + Send + Sync>;
pub type Builder = fn(&OpSpec) -> Result<Kernel>;

/// An op's in-place form: it updates operand 0's memory (the caller owns
/// it, and nothing else can see it) from the other operands (`rest`:
/// operands 1, 2, ...). The result is operand 0, updated: the same values
/// as the kernel's output.
pub type InPlace =
    Box<dyn Fn(&mut crate::base::buffer::RawBuf, &[&Buffer]) -> Result<()> + Send + Sync>;
pub type InPlaceBuilder = fn(&OpSpec) -> Result<InPlace>;

/// An op's owning form (the control-flow ops): the kernel, taking its
/// operands. The executor hands it an operand whose last use this is (a
/// loop's carry from a donated argument), so a loop body can update that
/// buffer in place when nothing else holds it; other operands come as
/// shared clones.
pub type OwnedKernel = Box<dyn Fn(Vec<Buffer>) -> Result<Vec<Buffer>> + Send + Sync>;
pub type OwnedBuilder = fn(&OpSpec) -> Result<OwnedKernel>;

/// Helpers for the kernels' unit tests: build an op from params and run it.
#[cfg(test)]
pub mod testing {
    use super::{build, Aval, OpSpec};
    use crate::base::buffer::Buffer;
    use crate::base::dtype::Element;
    use crate::base::params::{Param, Params};

    /// A list-of-ints param.
    pub fn ints(v: &[i64]) -> Param {
        Param::List(v.iter().map(|&i| Param::Int(i)).collect())
    }

    /// Run op `p` on `ins`, with outputs of the given avals.
    pub fn run_ops(p: Params, ins: &[Buffer], outs: &[Aval]) -> Vec<Buffer> {
        let avals: Vec<Aval> = ins
            .iter()
            .map(|b| Aval::new(b.dtype, b.shape.clone()))
            .collect();
        let k = build(&OpSpec {
            params: &p,
            ins: &avals,
            outs,
        })
        .unwrap();
        let refs: Vec<&Buffer> = ins.iter().collect();
        k(&refs).unwrap()
    }

    /// Run op `p` on `ins`, with one output of `T`s and shape `out`.
    pub fn run_op<T: Element>(p: Params, ins: &[Buffer], out: Vec<usize>) -> Vec<T> {
        run_ops(p, ins, &[Aval::new(T::DTYPE, out)])[0]
            .slice::<T>()
            .unwrap()
            .to_vec()
    }
}
