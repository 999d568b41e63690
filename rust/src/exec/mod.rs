//! Execution: the `Executable` that runs a compiled Program, the fused tile
//! runner, devices (thread pools with in-order queues) and communicators.
pub mod comm;
pub mod device;
pub mod executable;
pub mod fused;
pub mod native;

#[cfg(test)]
mod fuzz_tests;
