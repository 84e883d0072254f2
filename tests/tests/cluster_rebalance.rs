//! Rebalance changes the worker count and the topology keeps completing ids.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, all_acked, eventually};

fn worker_count(cluster: &Cluster) -> usize {
    cluster
        .status_json("ids")
        .and_then(|s| s["workers"].as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn rebalance_changes_the_worker_count_and_ids_keep_completing() {
    let cluster = Cluster::start(&["127.0.4.2", "127.0.4.3"], 2);
    let out = cluster.run_ids("ids", 1, 4000, 500, 201);
    assert_eq!(worker_count(&cluster), 1);

    let r = cluster.squall(&["rebalance", "ids", "--workers", "2", "--wait", "1"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(eventually(Duration::from_secs(20), || worker_count(
        &cluster
    ) == 2));
    assert!(eventually(Duration::from_secs(20), || {
        cluster
            .status_json("ids")
            .is_some_and(|s| s["status"] == "ACTIVE")
    }));
    assert!(
        all_acked(&out, 4000, Duration::from_secs(90)),
        "ids were lost in the rebalance"
    );

    let bad = cluster.squall(&["rebalance", "ids", "--executors", "nope=2"]);
    assert!(!bad.status.success());
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr).trim(),
        r#"error: no component "nope" in topology "ids""#
    );
}
