//! Loop helpers over slices: parallel chunks (rayon) and strided copies.
pub mod parallel;
pub mod strided;
