//! Code shared by the benchmarks (`pure`, `load`) and the smoke test that
//! keeps the load benchmark working (`tests/bench_smoke.rs`).
// Each of those targets uses a different part of it.
#![allow(dead_code)]

pub mod bodies;
pub mod client;
pub mod floor;
pub mod load;
pub mod peer;
pub mod procstat;
pub mod servers;
