//! A topology over two workers on two supervisors (127.0.0.2 and 127.0.0.3): every id
//! completes with tuples crossing workers; kill leaves no worker behind and frees the slots.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, all_acked, eventually, ids_in};

#[test]
fn a_topology_over_two_workers_completes_every_id_and_kill_cleans_up() {
    let cluster = Cluster::start(&["127.0.0.2", "127.0.0.3"], 2);
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let submitted = cluster.submit_ids("ids", 2, 2000, 1000, &out);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );

    assert!(
        all_acked(&out, 2000, Duration::from_secs(60)),
        "not every id was acked"
    );
    let seen = ids_in(&out, "seen");
    assert!((0..2000).all(|i| seen.contains(&i)), "the sink missed ids");

    let status = cluster.status_json("ids").expect("status");
    assert_eq!(status["status"], "ACTIVE");
    let workers = status["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2);
    let hosts: std::collections::BTreeSet<&str> =
        workers.iter().filter_map(|w| w["host"].as_str()).collect();
    assert_eq!(hosts.len(), 2, "workers on both supervisors: {workers:?}");
    for field in ["name", "id", "status", "uptime_secs", "components"] {
        assert!(!status[field].is_null(), "status --json lacks {field}");
    }

    // The workers' logs, through their supervisors, filtered to one component.
    let logs = cluster.squall(&["logs", "ids", "--component", "sink"]);
    assert!(
        logs.status.success(),
        "{}",
        String::from_utf8_lossy(&logs.stderr)
    );
    let logs = String::from_utf8_lossy(&logs.stdout);
    let started: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("executor started"))
        .collect();
    assert_eq!(started.len(), 2, "one line per sink executor:\n{logs}");
    assert!(
        started
            .iter()
            .all(|l| l.starts_with("[127.0.0.") && l.contains("component=sink"))
    );

    let killed = cluster.squall(&["kill", "ids", "--wait", "0"]);
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    assert!(
        eventually(Duration::from_secs(20), || cluster
            .live_workers()
            .is_empty()),
        "workers left behind: {:?}",
        cluster.live_workers()
    );
    assert!(eventually(Duration::from_secs(10), || {
        cluster.cluster_info().is_some_and(|c| {
            c.topologies.is_empty() && c.supervisors.iter().all(|s| s.slots_used == 0)
        })
    }));
}
