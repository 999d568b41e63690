//! Execution: parallel loop helpers and the `Executable` that runs a Program.
pub mod comm;
pub mod device;
pub mod fusion;
pub mod parallel;
pub mod passes;
pub mod program;
pub mod strided;
