//! Flow control per edge: word count's shape across two workers (each worker's split sends to
//! the other's count), flat out with large sentences, never wedges, and after a 10 s stall of
//! the last bolt its throughput comes back. With one delivery thread per worker, both workers
//! waited on each other for ever within seconds.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::time::{Duration, Instant};

use squall_tests::cluster::{Cluster, binaries, eventually};

/// Words counted so far, as the count tasks last wrote.
fn counted(out: &Path) -> u64 {
    std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("count-"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|s| s.trim().parse::<u64>().ok())
        .sum()
}

/// Words per second over `span`.
fn rate(out: &Path, span: Duration) -> f64 {
    let (start, at) = (counted(out), Instant::now());
    std::thread::sleep(span);
    (counted(out) - start) as f64 / at.elapsed().as_secs_f64()
}

fn survives_a_stall(hosts: [&str; 2], acking: bool) {
    let cluster = Cluster::start(&hosts, 1);
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let topology = binaries().flow_topology.display().to_string();
    let out_arg = out.display().to_string();
    let mut args = vec!["submit", &topology, "--name", "flow", "--workers", "2"];
    if !acking {
        args.extend(["--conf", "topology.acker.executors=0"]);
    }
    args.extend(["--", "--out", &out_arg]);
    let submitted = cluster.squall(&args);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(
        eventually(Duration::from_secs(60), || counted(&out) > 20_000),
        "the topology never got going; logs in {}",
        cluster.dir.path().display()
    );
    // Long enough for any wedge to have set in.
    let former = rate(&out, Duration::from_secs(8));
    assert!(
        former > 1000.0,
        "wedged or crawling before the stall: {former:.0} words/s; logs in {}",
        cluster.dir.path().display()
    );

    let stall = out.join("stall");
    std::fs::write(&stall, b"").unwrap();
    std::thread::sleep(Duration::from_secs(10));
    std::fs::remove_file(&stall).unwrap();
    let resumed = Instant::now();
    let mut best = 0.0f64;
    while resumed.elapsed() < Duration::from_secs(20) && best < 0.5 * former {
        best = best.max(rate(&out, Duration::from_secs(2)));
    }
    println!(
        "acking {acking}: {former:.0} words/s before the stall, {best:.0} within {:.1} s after it",
        resumed.elapsed().as_secs_f64()
    );
    assert!(
        best >= 0.5 * former,
        "throughput did not recover after the stall: {best:.0} words/s against {former:.0} before; logs in {}",
        cluster.dir.path().display()
    );
}

#[test]
fn two_workers_flat_out_never_wedge_and_recover_from_a_stall_acking_off() {
    survives_a_stall(["127.0.6.2", "127.0.6.3"], false);
}

#[test]
fn two_workers_flat_out_never_wedge_and_recover_from_a_stall_acking_on() {
    survives_a_stall(["127.0.6.4", "127.0.6.5"], true);
}
