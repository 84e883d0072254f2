//! Stateful windows on a cluster of real daemons, with exactly-once state in Redis: 40,000
//! numbers from a replayable spout counted per key by tumbling 200 ms windows, each window's
//! counts added to the task's state, while workers are killed with -9 three times. A
//! restarted task finds its windows as the last checkpoint left them and the spouts rewind to
//! it, so no window is lost or counted twice: at the end every key's count is exact, and no
//! committed count ever exceeded the truth.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use squall_tests::cluster::{Cluster, binaries, eventually};
use squall_tests::redis_server::{RedisServer, committed_counts};

const TOTAL: i64 = 40_000;
const KEYS: i64 = 20;

#[test]
fn windowed_counts_are_exact_through_worker_kills() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let cluster = Cluster::start(&["127.0.13.2"], 2);
    let topology = binaries().state_topology.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "windows",
        "--",
        "--redis",
        &redis.url,
        "--total",
        &TOTAL.to_string(),
        "--keys",
        &KEYS.to_string(),
        "--guarantee",
        "exactly_once",
        "--windows-ms",
        "200",
        "--workers",
        "2",
        "--timeout-secs",
        "6",
        "--interval-ms",
        "500",
        "--rate",
        "4000",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let truth = TOTAL / KEYS;
    let started = Instant::now();
    let mut conn = redis.conn();
    let mut worst_excess = i64::MIN;
    let mut observe = |conn: &mut redis::Connection| {
        let counts = committed_counts(conn, "windows", "count");
        let excess = counts.values().map(|n| n - truth).max().unwrap_or(-truth);
        worst_excess = worst_excess.max(excess);
        counts
    };
    for kill in 1..=3_i64 {
        let goal = TOTAL * kill / 5;
        assert!(
            eventually(Duration::from_secs(120), || {
                observe(&mut conn).values().sum::<i64>() >= goal
            }),
            "fewer than {goal} counted before kill {kill}; logs in {}",
            cluster.dir.path().display()
        );
        let workers = cluster.live_workers();
        assert!(!workers.is_empty(), "no worker to kill at kill {kill}");
        let pid = workers[kill as usize % workers.len()];
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        println!("kill {kill}: worker {pid} at {:?}", started.elapsed());
    }
    let finished = eventually(Duration::from_secs(240), || {
        let counts = observe(&mut conn);
        counts.len() as i64 == KEYS && counts.values().all(|&n| n >= truth)
    });
    let counts = observe(&mut conn);
    println!(
        "windows: counted {} of {TOTAL}, worst key excess at any time {worst_excess}, in {:?}",
        counts.values().sum::<i64>(),
        started.elapsed()
    );
    let expected: BTreeMap<String, i64> = (0..KEYS).map(|k| (format!("k{k}"), truth)).collect();
    assert!(
        finished,
        "not every window was counted: {counts:?}; logs in {}",
        cluster.dir.path().display()
    );
    assert_eq!(counts, expected, "windowed counts differ from the truth");
    assert!(
        worst_excess <= 0,
        "a committed count exceeded the truth by {worst_excess}"
    );
    let killed = cluster.squall(&["kill", "windows", "--wait", "1"]);
    assert!(killed.status.success());
}
