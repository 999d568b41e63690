//! Abstract values: what Python's ShapedArray says about a buffer.
use super::dtype::DType;

/// A dtype and a shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aval {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl Aval {
    pub fn new(dtype: DType, shape: Vec<usize>) -> Aval {
        Aval { dtype, shape }
    }
    pub fn numel(&self) -> usize {
        crate::base::buffer::numel(&self.shape)
    }
}
