//! `kill -9` of a supervisor with its workers: Nimbus moves them to the other supervisor once
//! the supervisor timeout passes, and every id still ends acked.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, SUPERVISOR_TIMEOUT_SECS, all_acked, eventually};

#[test]
fn workers_of_a_lost_supervisor_move_and_no_id_is_lost() {
    let mut cluster = Cluster::start(&["127.0.2.2", "127.0.2.3"], 2);
    let out = cluster.run_ids("ids", 2, 4000, 500, 301);

    cluster.kill_supervisor(1, true);
    let survivor = cluster.supervisors[0].host.clone();
    assert!(
        eventually(Duration::from_secs(SUPERVISOR_TIMEOUT_SECS * 4), || {
            cluster.status_json("ids").is_some_and(|s| {
                let workers = s["workers"].as_array().cloned().unwrap_or_default();
                !workers.is_empty() && workers.iter().all(|w| w["host"] == survivor.as_str())
            })
        }),
        "nimbus did not move the workers to {survivor}"
    );
    assert!(
        all_acked(&out, 4000, Duration::from_secs(90)),
        "ids were lost"
    );
}
