//! A supervisor restart never takes its workers down: restarted while Nimbus is away, a
//! supervisor started without `--listen` serves its API on the address its workers know,
//! answers them from the assignments it remembers, and adopts them; they keep their pids and
//! keep completing ids.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use squall_tests::cluster::{Cluster, WORKER_TIMEOUT_SECS, all_acked, eventually, ids_in};

#[test]
fn a_supervisor_restarted_while_nimbus_is_down_keeps_its_workers() {
    let mut cluster = Cluster::start(&["127.0.5.2"], 2);
    // From here on the supervisor picks its own API port, as an operator's would.
    cluster.kill_supervisor(0, true);
    cluster.supervisors[0].listen.clear();
    cluster.start_supervisor(0);
    assert!(eventually(Duration::from_secs(30), || cluster
        .alive_supervisors()
        == 1));
    let out = cluster.run_ids("ids", 2, 12_000, 500, 300);
    let pids = {
        let mut p = cluster.worker_pids(0);
        p.sort_unstable();
        p
    };
    assert_eq!(pids.len(), 2, "two workers expected: {pids:?}");

    cluster.kill_nimbus();
    cluster.kill_supervisor(0, false);
    cluster.start_supervisor(0);
    // Longer than the worker timeout and than a worker's own patience with an unreachable
    // supervisor (twice the timeout): a worker that was going to be replaced or to exit has.
    let away = Instant::now();
    let acked_before = ids_in(&out, "acked").len();
    while away.elapsed() < Duration::from_secs(3 * WORKER_TIMEOUT_SECS) {
        std::thread::sleep(Duration::from_millis(500));
        for (_, pid) in &pids {
            assert!(
                std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "worker {pid} died {:?} after the supervisor restarted; logs in {}",
                away.elapsed(),
                cluster.dir.path().display()
            );
        }
    }
    let acked_away = ids_in(&out, "acked").len();
    assert!(
        acked_away > acked_before + 1000,
        "ids stopped completing while nimbus was away: {acked_before} then {acked_away}"
    );

    cluster.start_nimbus(&[]);
    assert!(
        all_acked(&out, 12_000, Duration::from_secs(90)),
        "ids were lost; logs in {}",
        cluster.dir.path().display()
    );
    let mut after = cluster.worker_pids(0);
    after.sort_unstable();
    assert_eq!(after, pids, "the workers were replaced");
}
