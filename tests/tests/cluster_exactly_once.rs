//! Exactly-once state on a cluster of three real supervisors: 200,000 numbers from a
//! replayable spout counted per key into keyed state (in Redis), while a random worker is
//! killed with -9 every few seconds and one supervisor is killed with its workers. With
//! `exactly_once` no committed count ever exceeds its key's true count and at the end every
//! count equals it; the same run with `at_least_once` (Storm's guarantee) over-counts. Both
//! results are printed.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::RngExt;
use squall_tests::cluster::{Cluster, binaries, eventually};
use squall_tests::redis_server::{RedisServer, committed_counts};

const TOTAL: i64 = 200_000;
const KEYS: i64 = 20;

struct Outcome {
    counts: BTreeMap<String, i64>,
    /// The largest amount by which a committed count ever exceeded its key's true count.
    worst_excess: i64,
    finished: bool,
    took: Duration,
}

/// Runs the counting topology as `name` (8,000 numbers a second), killing a random worker
/// every two seconds or more, each after the committed total grew by a fortieth, `kills` times; `kill_supervisor` also takes supervisor 2 down
/// after the third kill.
fn run(
    cluster: &mut Cluster,
    redis: &RedisServer,
    name: &str,
    guarantee: &str,
    kill_supervisor: bool,
    kills: u32,
) -> Outcome {
    let truth = TOTAL / KEYS;
    let topology = binaries().state_topology.display().to_string();
    let submit_started = Instant::now();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        name,
        "--",
        "--redis",
        &redis.url,
        "--total",
        &TOTAL.to_string(),
        "--keys",
        &KEYS.to_string(),
        "--guarantee",
        guarantee,
        "--workers",
        "3",
        "--timeout-secs",
        "6",
        "--interval-ms",
        "500",
        "--rate",
        "8000",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let started = Instant::now();
    println!(
        "{name}: submitted in {:?}, {} committed by then",
        submit_started.elapsed(),
        committed_counts(&mut redis.conn(), name, "count")
            .values()
            .sum::<i64>()
    );
    let mut worst_excess = i64::MIN;
    let mut observe = |conn: &mut redis::Connection| {
        let counts = committed_counts(conn, name, "count");
        let excess = counts.values().map(|n| n - truth).max().unwrap_or(-truth);
        worst_excess = worst_excess.max(excess);
        counts
    };
    let mut conn = redis.conn();
    let mut last = 0;
    for kill in 1..=kills {
        // A kill every few seconds, each after some progress.
        std::thread::sleep(Duration::from_secs(2));
        let goal = (last + TOTAL / 40).min(TOTAL);
        let grew = eventually(Duration::from_secs(120), || {
            observe(&mut conn).values().sum::<i64>() >= goal
        });
        assert!(
            grew,
            "{name}: no progress before kill {kill}; logs in {}",
            cluster.dir.path().display()
        );
        last = observe(&mut conn).values().sum();
        if last >= TOTAL {
            break;
        }
        let workers = cluster.live_workers();
        if workers.is_empty() {
            continue;
        }
        let pid = workers[rand::rng().random_range(0..workers.len())];
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        println!(
            "{name}: kill {kill}: worker {pid} at {:?}, {last} committed",
            started.elapsed()
        );
        if kill == 3 && kill_supervisor {
            cluster.kill_supervisor(2, true);
            println!(
                "{name}: supervisor 2 killed with its workers at {:?}",
                started.elapsed()
            );
        }
    }
    let finished = eventually(Duration::from_secs(300), || {
        let counts = observe(&mut conn);
        counts.len() as i64 == KEYS && counts.values().all(|&n| n >= truth)
    });
    let counts = observe(&mut conn);
    let killed = cluster.squall(&["kill", name, "--wait", "1"]);
    assert!(killed.status.success());
    Outcome {
        counts,
        worst_excess,
        finished,
        took: started.elapsed(),
    }
}

#[test]
fn exactly_once_counts_equal_the_truth_through_worker_and_supervisor_kills() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut cluster = Cluster::start(&["127.0.12.2", "127.0.12.3", "127.0.12.4"], 3);
    let kills: u32 = std::env::var("KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(6);
    let eo = run(&mut cluster, &redis, "exact", "exactly_once", true, kills);
    let alo = run(&mut cluster, &redis, "storm", "at_least_once", false, kills);
    let total = |o: &Outcome| o.counts.values().sum::<i64>();
    println!(
        "exactly_once: counted {} of {TOTAL} (over by {}), worst key excess at any time {}, in {:?}",
        total(&eo),
        total(&eo) - TOTAL,
        eo.worst_excess,
        eo.took
    );
    println!(
        "at_least_once: counted {} of {TOTAL} (over by {}), in {:?}",
        total(&alo),
        total(&alo) - TOTAL,
        alo.took
    );
    let truth: BTreeMap<String, i64> = (0..KEYS).map(|k| (format!("k{k}"), TOTAL / KEYS)).collect();
    assert!(
        eo.finished,
        "exactly-once run did not finish: {:?}; logs in {}",
        eo.counts,
        cluster.dir.path().display()
    );
    assert_eq!(
        eo.counts, truth,
        "exactly-once counts differ from the truth"
    );
    assert!(
        eo.worst_excess <= 0,
        "a committed count exceeded the truth by {}",
        eo.worst_excess
    );
    assert!(
        alo.finished,
        "at-least-once run lost counts: {:?}",
        alo.counts
    );
}
