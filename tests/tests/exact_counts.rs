//! The `exact_counts` example as its contract states it, against a real `redis-server`: run
//! once while entries arrive and killed with -9 mid-run, then run again to the end, the hash `exact_counts` equals
//! the true count of every key (nothing lost, nothing counted twice), never held more than the
//! truth while it ran, and nothing is left pending in the group; the last line is the spouts'
//! totals.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use squall_tests::cluster::{binaries, eventually};
use squall_tests::redis_server::{RedisServer, pending};

const ENTRIES: u64 = 20_000;
const KEYS: u64 = 40;

fn hash(conn: &mut redis::Connection) -> BTreeMap<String, i64> {
    redis::cmd("HGETALL")
        .arg("exact_counts")
        .query(conn)
        .unwrap_or_default()
}

#[test]
fn a_run_killed_mid_way_and_run_again_leaves_every_count_exact() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let example = &binaries().exact_counts; // built before the clock starts
    let mut conn = redis.conn();
    // Entries arrive while the first run reads, 1,000 every quarter second.
    let mut producer_conn = redis.conn();
    let producer = std::thread::spawn(move || {
        for chunk in 0..ENTRIES / 1_000 {
            let mut pipe = redis::pipe();
            for i in chunk * 1_000..(chunk + 1) * 1_000 {
                pipe.cmd("XADD")
                    .arg("events")
                    .arg("*")
                    .arg("key")
                    .arg(format!("k{}", i % KEYS))
                    .ignore();
            }
            pipe.query::<()>(&mut producer_conn).unwrap();
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let truth = (ENTRIES / KEYS) as i64;
    let args = [
        "--redis", &redis.url, "--stream", "events", "--group", "squall",
    ];

    // First run: killed with -9 once some counts are committed, before all are.
    let mut first = Command::new(example)
        .args(args)
        .args(["--seconds", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut worst = 0;
    let some = eventually(Duration::from_secs(60), || {
        let mut c = redis.conn();
        let h = hash(&mut c);
        worst = worst.max(h.values().copied().max().unwrap_or(0));
        // Killed while entries are read but not yet committed: the next run replays them.
        h.values().sum::<i64>() >= (ENTRIES / 10) as i64
            && pending(&mut c, "events", "squall").unwrap_or(0) > 0
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let at_kill = hash(&mut conn);
    println!(
        "killed with {} of {ENTRIES} counted in the hash, {} pending",
        at_kill.values().sum::<i64>(),
        pending(&mut conn, "events", "squall").unwrap_or(0)
    );
    assert!(
        some,
        "a tenth was not committed with more entries pending in 60 s"
    );
    assert!(
        at_kill.values().all(|&n| n <= truth),
        "over-counted: {at_kill:?}"
    );

    producer.join().unwrap();
    // Second run, to the end.
    let second = Command::new(example)
        .args(args)
        .args(["--seconds", "30"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let totals: Vec<&str> = last.split(' ').collect();
    assert!(
        totals.len() == 3
            && ["emitted=", "acked=", "failed="]
                .iter()
                .zip(&totals)
                .all(|(k, t)| t.strip_prefix(k).is_some_and(|n| n.parse::<u64>().is_ok())),
        "last line: {last}"
    );
    let counts = hash(&mut conn);
    let expected: BTreeMap<String, i64> = (0..KEYS).map(|k| (format!("k{k}"), truth)).collect();
    println!(
        "after the second run: {} of {ENTRIES} counted, {} pending; {last}",
        counts.values().sum::<i64>(),
        pending(&mut conn, "events", "squall").unwrap_or(0)
    );
    assert!(worst <= truth, "a count went over the truth while running");
    assert_eq!(counts, expected);
    assert_eq!(
        pending(&mut conn, "events", "squall"),
        Some(0),
        "entries left pending"
    );
}
