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

/// Local mode for the connector examples: logs warnings to stderr, runs `topology` for
/// `seconds` (until interrupted when `None`), then prints the spouts' totals as the last line,
/// `emitted=<n> acked=<n> failed=<n>`.
pub fn run_local_for(
    name: &str,
    conf: &squall_worker::prelude::Config,
    topology: &squall_worker::Topology,
    seconds: Option<u64>,
) -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    log_to_stderr();
    let running = squall_worker::LocalTopology::start(name, conf, topology)?;
    let started = Instant::now();
    while seconds.is_none_or(|n| started.elapsed() < Duration::from_secs(n)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = running.kill(Duration::from_millis(500)).spout_totals();
    println!(
        "emitted={} acked={} failed={}",
        s.emitted, s.acked, s.failed
    );
    Ok(())
}
