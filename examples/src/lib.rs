//! Runnable Squall topologies and the parts they share.
//!
//! - `word_count`: the reliable word count (`cargo run --release --example word_count`).
//! - `exclamation`: a chain of bolts (`--example exclamation`).
//! - `bench`: the workloads of `docs/benchmarks.md` (`--example bench`).

pub mod bench;
pub mod cluster_run;
pub mod cpu;
pub mod data;
pub mod word_count;
