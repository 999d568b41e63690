//! A Program as data: a straight-line list of instructions over numbered
//! values. Inputs take ids `0..n_in`, constants the next ids, then each
//! instruction's outputs get fresh ids in order.
use crate::base::aval::Aval;
use crate::base::params::Params;

/// One instruction as it comes from Python: op params (incl. name), input
/// value ids and output avals.
pub struct InstrSpec {
    pub params: Params,
    pub ins: Vec<usize>,
    pub outs: Vec<Aval>,
}
