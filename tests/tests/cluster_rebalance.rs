//! Rebalance changes the worker count and the topology keeps completing ids.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use std::collections::BTreeSet;

use squall_tests::cluster::{Cluster, acked_but_unseen, all_acked, eventually, ids_in, lines_in};

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

fn rebalance_to(cluster: &Cluster, workers: usize) {
    let n = workers.to_string();
    let r = cluster.squall(&["rebalance", "ids", "--workers", &n, "--wait", "1"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        eventually(Duration::from_secs(30), || {
            worker_count(cluster) == workers
                && cluster
                    .status_json("ids")
                    .is_some_and(|s| s["status"] == "ACTIVE")
        }),
        "the rebalance to {workers} workers did not finish"
    );
}

/// Rebalancing 1→2→1 workers while ids flow moves tasks but never renumbers them: every sink
/// task runs under one task numbering, every id reaches the sink task its key hashes to (and
/// only from `relay`), and every id is acked.
#[test]
fn rebalance_keeps_the_task_layout_and_every_key_on_its_task() {
    let cluster = Cluster::start(&["127.0.4.4", "127.0.4.5"], 2);
    let out = cluster.run_ids("ids", 1, 6000, 500, 201);
    rebalance_to(&cluster, 2);
    rebalance_to(&cluster, 1);
    assert!(
        all_acked(&out, 6000, Duration::from_secs(120)),
        "ids were lost in the rebalances; logs in {}",
        out.display()
    );
    assert_eq!(
        acked_but_unseen(&out),
        Vec::<u64>::new(),
        "acked without reaching the sink"
    );
    let layouts: BTreeSet<String> = lines_in(&out, "layout").into_iter().collect();
    assert_eq!(layouts.len(), 1, "the task numbering changed: {layouts:#?}");
    let misrouted = lines_in(&out, "misrouted");
    assert!(
        misrouted.is_empty(),
        "{} tuples misrouted, first: {:?}",
        misrouted.len(),
        &misrouted[..misrouted.len().min(5)]
    );
}

/// A spout over a queue keeps what it took only in memory until it is acked. Rebalancing
/// 1→2→1 restarts it; its trees in flight must be failed back to it before it closes (so it
/// puts them back on the queue), never dropped: every id is acked.
#[test]
fn a_spout_stopped_by_a_rebalance_fails_its_trees_in_flight_back() {
    let cluster = Cluster::start(&["127.0.4.6", "127.0.4.7"], 2);
    // Slow sinks keep trees in flight at every instant of the rebalances.
    let out = cluster.run_ids_with(
        "ids",
        1,
        3000,
        400,
        200,
        &["--source", "queue", "--sink-delay-ms", "2"],
    );
    rebalance_to(&cluster, 2);
    rebalance_to(&cluster, 1);
    let acked = || ids_in(&out, "acked");
    let done = eventually(Duration::from_secs(90), || acked().len() >= 3000);
    let taken = ids_in(&out, "taken");
    let lost: BTreeSet<u64> = taken.difference(&acked()).copied().collect();
    assert!(
        done,
        "{} ids taken from the queue were never acked (first {:?}); logs in {}",
        lost.len(),
        lost.iter().take(10).collect::<Vec<_>>(),
        out.display()
    );
    assert_eq!(
        acked_but_unseen(&out),
        Vec::<u64>::new(),
        "acked without reaching the sink"
    );
}

/// Executors that stay on their worker across a rebalance keep running: a spout is opened
/// again only in another process (it moved), never twice in one (restarted where it was), so
/// whatever it holds in memory survives when it does not move.
#[test]
fn executors_that_do_not_move_keep_running_across_a_rebalance() {
    let cluster = Cluster::start(&["127.0.4.8", "127.0.4.9"], 2);
    let out = cluster.run_ids("ids", 1, 4000, 400, 201);
    rebalance_to(&cluster, 2);
    rebalance_to(&cluster, 1);
    assert!(
        all_acked(&out, 4000, Duration::from_secs(90)),
        "ids were lost in the rebalances; logs in {}",
        out.display()
    );
    let opened = lines_in(&out, "opened");
    let processes: BTreeSet<&String> = opened.iter().collect();
    println!(
        "spout opened {} times in {} processes",
        opened.len(),
        processes.len()
    );
    assert_eq!(
        opened.len(),
        processes.len(),
        "a spout was restarted in the process it already ran in: {opened:?}"
    );
}
