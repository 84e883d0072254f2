//! Stateful bolts on a cluster of real daemons, their state in Redis: entries counted per key
//! while the workers are killed with -9 twice. Each restarted task loads its last committed
//! counts and every entry since is replayed, so at the end every key's count is at least its
//! true count (Storm's at-least-once state), every entry is acked and nothing is pending; the
//! over-count is printed.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use squall_tests::cluster::{Cluster, binaries, eventually};
use squall_tests::redis_server::{RedisServer, committed_counts, pending};

const ENTRIES: u64 = 40_000;
const KEYS: u64 = 20;

fn total(counts: &BTreeMap<String, i64>) -> i64 {
    counts.values().sum()
}

#[test]
fn counts_survive_two_worker_kills_and_are_never_below_the_truth() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    for chunk in 0..ENTRIES / 10_000 {
        let mut pipe = redis::pipe();
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            pipe.cmd("XADD")
                .arg("in")
                .arg("*")
                .arg("key")
                .arg(format!("k{}", i % KEYS))
                .ignore();
        }
        pipe.query::<()>(&mut conn).unwrap();
    }

    let cluster = Cluster::start(&["127.0.11.2"], 2);
    let topology = binaries().state_topology.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "counts",
        "--",
        "--redis",
        &redis.url,
        "--stream",
        "in",
        "--group",
        "squall",
        "--workers",
        "2",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let started = Instant::now();
    for (kill, at) in [(1, ENTRIES / 10), (2, ENTRIES * 4 / 10)] {
        assert!(
            eventually(Duration::from_secs(120), || total(&committed_counts(
                &mut redis.conn(),
                "counts",
                "count"
            )) >= at as i64),
            "{} of {at} entries committed before kill {kill}; logs in {}",
            total(&committed_counts(&mut conn, "counts", "count")),
            cluster.dir.path().display()
        );
        let pid = cluster.live_worker_pid("counts", 2, kill % 2);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        println!("kill {kill}: worker {pid} at {:?}", started.elapsed());
    }
    let truth = ENTRIES / KEYS;
    let done = eventually(Duration::from_secs(240), || {
        let mut c = redis.conn();
        let counts = committed_counts(&mut c, "counts", "count");
        counts.len() as u64 == KEYS
            && counts.values().all(|&n| n >= truth as i64)
            && pending(&mut c, "in", "squall").unwrap() == 0
    });
    let counts = committed_counts(&mut conn, "counts", "count");
    println!(
        "entries={ENTRIES} keys={} counted={} over_counted={} pending={} after {:?}",
        counts.len(),
        total(&counts),
        total(&counts) - ENTRIES as i64,
        pending(&mut conn, "in", "squall").unwrap(),
        started.elapsed()
    );
    assert!(
        done,
        "counts {counts:?} (each should be at least {truth}), {} pending; logs in {}",
        pending(&mut conn, "in", "squall").unwrap(),
        cluster.dir.path().display()
    );
    let killed = cluster.squall(&["kill", "counts", "--wait", "1"]);
    assert!(killed.status.success());
}
