//! The lowest layer: plain data that every other layer shares.
pub mod aval;
pub mod buffer;
pub mod dtype;
pub mod error;
pub mod params;
pub mod slice;
