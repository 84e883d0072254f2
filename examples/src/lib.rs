//! Runnable Squall topologies and the parts they share.
//!
//! - `word_count`: the reliable word count (`cargo run --release --example word_count`).
//! - `exclamation`: a chain of bolts (`--example exclamation`).
//! - `bench`: the workloads of `docs/benchmarks.md` (`--example bench`).

pub mod bench;
pub mod cluster_run;
pub mod cpu;
pub mod data;
pub mod redis_word_count;
pub mod word_count;

/// Local mode only: logs to stderr, at `RUST_LOG` or warnings (in a cluster the worker sets
/// up its own logging, info, to its log), so a component's errors are seen.
pub fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}
