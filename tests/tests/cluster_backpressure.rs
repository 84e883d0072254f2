//! Backpressure across workers: the spout's worker slows down when the sinks in the other
//! worker fall behind, so trees do not time out from queueing in the transport; a topology
//! running flat out across two workers neither stalls nor loses trees, and goes quiet (next to
//! no CPU) once its spout has nothing left to emit.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;
use std::time::{Duration, Instant};

use squall_examples::cpu::pid_cpu_secs;
use squall_tests::cluster::{Cluster, all_acked, ids_in};

/// One test of this file at a time: the flat-out test saturates both cores, and the slow-sink
/// test asserts that no tree waits past a 3 s timeout, which holds for backpressure but not
/// for a machine starved by another test (seen on CI: 1,024 trees timed out mid-run while the
/// two ran side by side).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Submits the ids topology over two workers with no rate limit; returns its output dir.
fn submit_unlimited(cluster: &Cluster, ids: u64, extra: &[&str]) -> PathBuf {
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let submitted = cluster.submit_ids_with("flat-out", 2, ids, 1_000_000_000, &out, extra);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    out
}

/// Two sinks of 1 ms a tuple take about 5 s over 10,000 ids, against the topology's 3 s
/// message timeout: without backpressure across the network the spout would put them all in
/// flight at once and most would time out.
#[test]
fn slow_sinks_in_another_worker_slow_the_spout_and_nothing_times_out() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start(&["127.0.0.2", "127.0.0.3"], 1);
    let out = submit_unlimited(&cluster, 10_000, &["--sink-delay-ms", "1"]);
    assert!(
        all_acked(&out, 10_000, Duration::from_secs(120)),
        "not every id was acked; logs in {}",
        cluster.dir.path().display()
    );
    let failed = ids_in(&out, "failed");
    assert!(
        failed.is_empty(),
        "{} trees timed out from queueing alone (ids {:?} to {:?})",
        failed.len(),
        failed.iter().min(),
        failed.iter().max()
    );
}

/// Every id completes when nothing holds the spout back and tuples and acks cross workers
/// in both directions at full speed; then the workers idle.
#[test]
fn a_topology_running_flat_out_across_two_workers_completes_every_id_then_idles() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cluster = Cluster::start(&["127.0.0.2", "127.0.0.3"], 1);
    let out = submit_unlimited(&cluster, 200_000, &[]);
    assert!(
        all_acked(&out, 200_000, Duration::from_secs(180)),
        "not every id was acked; logs in {}",
        cluster.dir.path().display()
    );

    let workers = cluster.live_workers();
    assert_eq!(workers.len(), 2, "two workers: {workers:?}");
    let cpu = || workers.iter().map(|&pid| pid_cpu_secs(pid)).sum::<f64>();
    // Past the spout's shorter naps; it has had nothing to emit since the last id went out.
    std::thread::sleep(Duration::from_millis(1500));
    let (cpu0, t0) = (cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let used = (cpu() - cpu0) / t0.elapsed().as_secs_f64();
    // Heartbeats, metrics and a napping spout. In the debug build the tests run, each of the
    // spout's 100 naps a second costs ~150 us of pool bookkeeping and span entry (4.0 to 6.0%
    // of a core for both workers over 6 runs), so "near zero" is under 8% of a core for both;
    // a thread that spins would use 30% or more.
    assert!(
        used < 0.08,
        "two idle workers used {:.1}% of a core",
        used * 100.0
    );
    eprintln!("two idle workers: {:.2}% of a core", used * 100.0);
}
