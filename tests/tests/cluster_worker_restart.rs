//! `kill -9` of a worker: its supervisor restarts it and every id still ends acked.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_tests::cluster::{Cluster, all_acked, eventually, ids_in};

#[test]
fn a_killed_worker_is_restarted_and_no_id_is_lost() {
    let cluster = Cluster::start(&["127.0.1.2", "127.0.1.3"], 2);
    let out = cluster.run_ids("ids", 2, 4000, 500, 301);
    // Mid-stream: some ids acked, most still to come.
    let (port, victim) = cluster
        .worker_pids(0)
        .first()
        .copied()
        .expect("a worker on supervisor 0");
    let acked_before = ids_in(&out, "acked").len();
    assert!(acked_before < 4000, "the run finished before the kill");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the worker");

    assert!(
        eventually(Duration::from_secs(20), || {
            cluster
                .worker_pids(0)
                .iter()
                .any(|&(p, pid)| p == port && pid != victim)
        }),
        "the supervisor did not restart the worker"
    );
    assert!(
        all_acked(&out, 4000, Duration::from_secs(90)),
        "ids were lost"
    );
}
