//! Deactivate pauses a topology's spouts and activate resumes them; a supervisor restarted
//! on its data dir adopts the workers it left running instead of starting others.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, all_acked, eventually};

fn spout_emitted(cluster: &Cluster) -> u64 {
    cluster
        .status_json("ids")
        .and_then(|s| {
            s["components"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "ids")
                .and_then(|c| c["emitted"].as_u64())
        })
        .unwrap_or(0)
}

#[test]
fn deactivate_pauses_activate_resumes_and_a_restarted_supervisor_adopts_its_workers() {
    let mut cluster = Cluster::start(&["127.0.6.2"], 2);
    let out = cluster.run_ids("ids", 1, 3000, 500, 201);

    assert!(cluster.squall(&["deactivate", "ids"]).status.success());
    assert!(eventually(Duration::from_secs(10), || {
        cluster
            .status_json("ids")
            .is_some_and(|s| s["status"] == "INACTIVE")
    }));
    // Once the pause reached the spout, its emitted count stops moving.
    let mut last = spout_emitted(&cluster);
    assert!(eventually(Duration::from_secs(10), || {
        std::thread::sleep(Duration::from_millis(1200));
        let now = spout_emitted(&cluster);
        std::mem::replace(&mut last, now) == now && now > 0
    }));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        spout_emitted(&cluster),
        last,
        "the spout emitted while inactive"
    );

    // kill -9 of the supervisor alone: its worker keeps running and is adopted on restart.
    let before = cluster.worker_pids(0);
    assert_eq!(before.len(), 1);
    cluster.kill_supervisor(0, false);
    cluster.start_supervisor(0);
    assert!(eventually(Duration::from_secs(20), || cluster
        .alive_supervisors()
        == 1));

    assert!(cluster.squall(&["activate", "ids"]).status.success());
    assert!(
        all_acked(&out, 3000, Duration::from_secs(60)),
        "ids were lost"
    );
    assert_eq!(
        cluster.worker_pids(0),
        before,
        "the restarted supervisor replaced its worker"
    );
    assert_eq!(cluster.live_workers().len(), 1);
}
