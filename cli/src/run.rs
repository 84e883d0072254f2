//! `squall run TOPOLOGY.yaml`: a Flux topology in local mode, as `storm local` runs one; and,
//! started by a supervisor with the worker environment, the same topology as a worker (the
//! `squall` binary is then the topology binary, so no host needs a compiler).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use squall_proto::env;
use squall_worker::LocalTopology;

/// How often local mode prints the running totals.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The file to read: a worker is given the file's name inside the unpacked resources.
fn topology_file(file: &Path) -> PathBuf {
    match std::env::var_os(env::RESOURCES_DIR) {
        Some(dir) if file.is_relative() => PathBuf::from(dir).join(file),
        _ => file.to_owned(),
    }
}

/// Runs the topology in `file`: as a worker or to describe it when a supervisor or `squall
/// submit` asked, else locally for `seconds` (or until interrupted), then prints the spouts'
/// totals last: `emitted=<n> acked=<n> failed=<n>`.
pub fn run(file: &Path, seconds: Option<u64>) -> anyhow::Result<()> {
    let flux = squall_flux::load(&topology_file(file))?;
    if squall_worker::serve_cluster_role(&flux.topology, &flux.conf)? {
        return Ok(());
    }
    crate::init_logs();
    let name = flux
        .name
        .clone()
        .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "flux".to_owned());
    let running = LocalTopology::start(&name, &flux.conf, &flux.topology)
        .with_context(|| format!("cannot start {name}"))?;
    let started = Instant::now();
    let stop = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let deadline = seconds.map(|s| started + Duration::from_secs(s));
    loop {
        let next = deadline.map_or(PROGRESS_EVERY, |d| {
            d.saturating_duration_since(Instant::now())
                .min(PROGRESS_EVERY)
        });
        let interrupted = stop.block_on(async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => true,
                () = tokio::time::sleep(next) => false,
            }
        });
        if interrupted || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let s = running.stats().spout_totals();
        println!(
            "t={}s emitted={} acked={} failed={}",
            started.elapsed().as_secs(),
            s.emitted,
            s.acked,
            s.failed
        );
    }
    let stats = running.kill(Duration::from_millis(500));
    for c in &stats.components {
        if let Some(e) = c.errors.last() {
            println!("last error of {}: {}", c.id, e.message);
        }
    }
    let s = stats.spout_totals();
    println!(
        "emitted={} acked={} failed={}",
        s.emitted, s.acked, s.failed
    );
    Ok(())
}
