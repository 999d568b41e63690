//! A Program as data: a straight-line list of instructions over numbered
//! values. Inputs take ids `0..n_in`, constants the next ids, then each
//! instruction's outputs get fresh ids in order.
use crate::base::aval::Aval;
use crate::base::buffer::Buffer;
use crate::base::params::Params;

/// One instruction as it comes from Python: op params (incl. name), input
/// value ids and output avals.
#[derive(Clone, Debug)]
pub struct InstrSpec {
    pub params: Params,
    pub ins: Vec<usize>,
    pub outs: Vec<Aval>,
}

/// A whole Program as it came in, before the passes: what an `Executable`
/// was built from (kept so that it can be exported, `api::format`).
#[derive(Clone, Debug)]
pub struct ProgramSpec {
    pub in_avals: Vec<Aval>,
    pub consts: Vec<Buffer>,
    pub instrs: Vec<InstrSpec>,
    pub outputs: Vec<usize>,
}
