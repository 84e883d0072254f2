//! `kill -9` of Nimbus while a topology runs: processing goes on without it, and a Nimbus
//! restarted on the same data dir knows the topology again.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, all_acked, eventually, ids_in, lines_in};

#[test]
fn processing_survives_nimbus_and_a_restarted_nimbus_recovers_its_state() {
    let mut cluster = Cluster::start(&["127.0.3.2", "127.0.3.3"], 2);
    let out = cluster.run_ids("ids", 2, 3000, 500, 201);
    let id_before = cluster.status_json("ids").expect("status")["id"].clone();

    cluster.kill_nimbus();
    let acked_at_kill = ids_in(&out, "acked").len();
    assert!(
        eventually(Duration::from_secs(20), || ids_in(&out, "acked").len()
            > acked_at_kill + 500),
        "processing stopped with nimbus down"
    );
    assert!(
        !cluster.squall(&["list"]).status.success(),
        "nimbus should be down"
    );

    cluster.start_nimbus(&[]);
    let listed = cluster.squall(&["list"]);
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ids"));
    let status = cluster.status_json("ids").expect("status after restart");
    assert_eq!(status["id"], id_before);
    assert_eq!(status["status"], "ACTIVE");
    assert!(all_acked(&out, 3000, Duration::from_secs(60)));
    // The restarted Nimbus kept the placement: still two workers.
    assert!(eventually(Duration::from_secs(10), || {
        cluster
            .status_json("ids")
            .is_some_and(|s| s["workers"].as_array().is_some_and(|w| w.len() == 2))
    }));
}

/// The spout's counters in `status --json`: (emitted, acked, failed).
fn spout_counts(cluster: &Cluster) -> Option<(u64, u64, u64)> {
    let status = cluster.status_json("ids")?;
    let spout = status["components"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == "ids")?
        .clone();
    Some((
        spout["emitted"].as_u64()?,
        spout["acked"].as_u64()?,
        spout["failed"].as_u64()?,
    ))
}

/// All-time counters survive a Nimbus restart, the counts of a worker that died before it
/// included: after the restart status equals the spout's own totals (its emit, ack and fail
/// calls, which it logs).
#[test]
fn all_time_counters_survive_a_nimbus_restart() {
    let mut cluster = Cluster::start(&["127.0.3.4"], 1);
    let out = cluster.run_ids("ids", 1, 1500, 1000, 100);
    assert!(all_acked(&out, 1500, Duration::from_secs(60)));
    let own = || {
        (
            lines_in(&out, "emitted").len() as u64,
            lines_in(&out, "acked").len() as u64,
            lines_in(&out, "failed").len() as u64,
        )
    };
    assert!(
        eventually(Duration::from_secs(20), || spout_counts(&cluster)
            == Some(own())),
        "status {:?} never matched the spout's own totals {:?}",
        spout_counts(&cluster),
        own()
    );
    // The worker dies with everything it counted reported; its replacement has nothing to do.
    let (_, pid) = cluster.worker_pids(0)[0];
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || cluster
            .worker_pids(0)
            .first()
            .is_some_and(|&(_, p)| p != pid)),
        "the worker was not restarted"
    );
    // Long enough for a save of the metrics (every 5 s) after the replacement reported.
    std::thread::sleep(Duration::from_secs(7));
    cluster.kill_nimbus();
    cluster.start_nimbus(&[]);
    assert!(
        eventually(Duration::from_secs(20), || cluster
            .status_json("ids")
            .is_some_and(|s| s["workers"]
                .as_array()
                .is_some_and(|w| !w.is_empty()))),
        "the restarted nimbus never heard of the worker"
    );
    // Two more heartbeats from the live worker must not change the totals either.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        spout_counts(&cluster),
        Some(own()),
        "all-time (emitted, acked, failed) after the restart differ from the spout's own"
    );
}
