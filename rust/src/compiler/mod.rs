//! The compiler: a Program as data, the passes over it (DCE, CSE, folding)
//! and fusion planning. It decides what runs; `exec` runs it.
pub mod fusion;
pub mod passes;
pub mod program;
