//! Executors are tasks on a pool of about one thread per core, not a thread each: a hop
//! between executors of one process is a queue push, not a thread wake-up. The tests of this
//! binary run one at a time, so the thread counts are the running topology's.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use squall_tests::{Relay, Tracker, TrackingSpout};
use squall_worker::prelude::*;
use squall_worker::testing::CompleteTopology;

/// One test at a time: the thread count must see no other test's threads come and go.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Threads of this process, from the kernel's list.
fn threads_now() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Ids, grouped by a key, through two stages: tuples cross between tasks in every direction.
fn keyed_topology(tracker: &Arc<Tracker>, parallelism: u32) -> Topology {
    let t = Arc::clone(tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || TrackingSpout::new(Arc::clone(&t)),
        parallelism,
    );
    b.set_bolt("a", || Relay::new(|_| Some(true)), parallelism)
        .fields_grouping("ids", Fields::new(["id"]));
    b.set_bolt("b", || Relay::new(|_| Some(true)), parallelism)
        .fields_grouping("a", Fields::new(["id"]));
    b.build().unwrap()
}

#[test]
fn thirteen_executors_run_on_one_thread_per_core_and_a_watcher() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let cores = std::thread::available_parallelism().unwrap().get();
    let before = threads_now();
    let tracker = Tracker::new(2000);
    let topology = keyed_topology(&tracker, 4);
    let running = LocalTopology::start("pooled", &Config::new(), &topology).unwrap();
    assert!(
        squall_tests::eventually(Duration::from_secs(30), || tracker.total_acks() >= 2000),
        "the ids were not all acked"
    );
    let during = threads_now();
    running.kill(Duration::ZERO);
    // 4 spouts, 4 + 4 bolts and an acker: a thread each would be 13. The pool has a thread
    // per core and one that watches them for blocked steps.
    assert!(
        during - before <= cores + 1,
        "13 executors started {} threads on {cores} cores",
        during - before
    );
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
}

#[test]
fn one_thread_runs_a_topology_through_full_queues_without_a_deadlock() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let n = 20_000;
    let tracker = Tracker::new(n);
    let topology = keyed_topology(&tracker, 3);
    let mut conf = Config::new();
    conf.set(squall_worker::config::TOPOLOGY_EXECUTOR_THREADS, 1);
    // One-tuple batches and one-batch queues: every executor finds its outputs' queues full
    // again and again, with its consumers on the same (only) thread.
    conf.set(squall_worker::config::TOPOLOGY_PRODUCER_BATCH_SIZE, 1);
    conf.set(
        squall_worker::config::TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE,
        1,
    );
    let run = CompleteTopology::new()
        .conf(conf)
        .timeout(Duration::from_secs(120))
        .run(&topology)
        .unwrap();
    assert!(run.is_complete(), "the topology did not finish");
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    assert_eq!(tracker.total_fails(), 0, "trees failed");
}
