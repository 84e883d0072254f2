//! `kill -9` of Nimbus while a topology runs: processing goes on without it, and a Nimbus
//! restarted on the same data dir knows the topology again.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, all_acked, eventually, ids_in};

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
