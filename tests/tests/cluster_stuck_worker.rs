//! A worker whose executors are stuck looks alive (its main thread heartbeats) but does no
//! work: the supervisor restarts it once an executor has had input queued and done nothing for
//! `supervisor.worker.progress.timeout.secs`, and status says why.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use squall_tests::cluster::{Cluster, all_acked, eventually, ids_in};

const PROGRESS_TIMEOUT_SECS: u64 = 4;

#[test]
fn a_worker_with_a_bolt_stuck_for_ever_is_restarted_with_the_reason_in_status() {
    let mut cluster = Cluster::start(&["127.0.5.4"], 1);
    cluster.kill_supervisor(0, true);
    cluster.supervisors[0].conf = vec![format!(
        "supervisor.worker.progress.timeout.secs={PROGRESS_TIMEOUT_SECS}"
    )];
    cluster.start_supervisor(0);
    assert!(eventually(Duration::from_secs(30), || cluster
        .alive_supervisors()
        == 1));
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let submitted = cluster.submit_ids_with("ids", 1, 4000, 500, &out, &["--sink-hang-at", "300"]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(
        eventually(Duration::from_secs(30), || out.join("hung").exists()),
        "the sink never got id 300"
    );
    let hung_at = Instant::now();
    let pid = cluster.worker_pids(0)[0].1;
    assert!(
        eventually(Duration::from_secs(3 * PROGRESS_TIMEOUT_SECS + 10), || {
            cluster
                .worker_pids(0)
                .first()
                .is_some_and(|&(_, p)| p != pid)
        }),
        "the stuck worker was not replaced; logs in {}",
        cluster.dir.path().display()
    );
    let replaced_after = hung_at.elapsed();
    assert!(
        replaced_after >= Duration::from_secs(PROGRESS_TIMEOUT_SECS),
        "replaced after {replaced_after:?}, before the progress timeout"
    );
    let status = cluster.status_json("ids");
    let reason = status
        .clone()
        .and_then(|s| {
            s["components"]
                .as_array()?
                .iter()
                .find(|c| c["id"] == "sink")?["recent_errors"]
                .as_array()?
                .iter()
                .filter_map(|e| e["message"].as_str().map(str::to_owned))
                .find(|m| m.contains("made no progress"))
        })
        .unwrap_or_default();
    assert!(
        reason.contains("sink[") && reason.contains("supervisor.worker.progress.timeout.secs"),
        "status does not say why the worker was restarted: {reason:?} in {status:#?}"
    );
    assert!(
        all_acked(&out, 4000, Duration::from_secs(90)),
        "ids were lost: {} of 4000 acked",
        ids_in(&out, "acked").len()
    );
}
