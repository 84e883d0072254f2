//! End-to-end at-least-once from a Redis stream on a cluster of real daemons: 100,000 entries
//! consumed by a two-worker topology whose bolt fails one in ten once, while a worker is
//! killed with -9 twice; and Redis stopped for 10 s mid-run. At the end every entry reached the
//! sink at least once and the group holds nothing pending; the duplicates are printed.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::HashSet;
use std::time::{Duration, Instant};

use redis::streams::StreamRangeReply;
use squall_tests::cluster::{Cluster, binaries, component, eventually};
use squall_tests::redis_server::{RedisServer, pending};

const ENTRIES: u64 = 100_000;

fn xlen(conn: &mut redis::Connection, stream: &str) -> u64 {
    redis::cmd("XLEN").arg(stream).query(conn).unwrap_or(0)
}

/// The distinct ids written to `out`, and how many were written more than once.
fn written(conn: &mut redis::Connection) -> (HashSet<String>, u64) {
    let (mut ids, mut total, mut start) = (HashSet::new(), 0u64, "-".to_owned());
    loop {
        let page: StreamRangeReply = redis::cmd("XRANGE")
            .arg("out")
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(10_000)
            .query(conn)
            .unwrap();
        let Some(last) = page.ids.last() else { break };
        start = format!("({}", last.id);
        for entry in &page.ids {
            total += 1;
            ids.insert(entry.get::<String>("id").unwrap());
        }
    }
    let duplicates = total - ids.len() as u64;
    (ids, duplicates)
}

#[test]
fn every_entry_reaches_the_sink_through_two_worker_kills_and_nothing_stays_pending() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    for chunk in 0..ENTRIES / 10_000 {
        let mut pipe = redis::pipe();
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            pipe.cmd("XADD").arg("in").arg("*").arg("n").arg(i).ignore();
        }
        pipe.query::<()>(&mut conn).unwrap();
    }
    assert_eq!(xlen(&mut conn, "in"), ENTRIES);

    let cluster = Cluster::start(&["127.0.10.2"], 2);
    let topology = binaries().redis_topology.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "redis",
        "--",
        "--redis",
        &redis.url,
        "--stream",
        "in",
        "--group",
        "squall",
        "--out",
        "out",
        "--fail-every",
        "10",
        "--workers",
        "2",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    // Two kills, each once the sink has written a further tenth of the entries.
    let started = Instant::now();
    for (kill, at) in [(1, ENTRIES / 10), (2, ENTRIES * 3 / 10)] {
        assert!(
            eventually(Duration::from_secs(120), || xlen(&mut redis.conn(), "out")
                >= at),
            "the sink wrote {} of {at} before kill {kill}; logs in {}",
            xlen(&mut conn, "out"),
            cluster.dir.path().display()
        );
        let pid = cluster.live_worker_pid("redis", 2, kill % 2);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        println!("kill {kill}: worker {pid} at {:?}", started.elapsed());
    }
    let all_in = eventually(Duration::from_secs(240), || {
        let mut c = redis.conn();
        written(&mut c).0.len() as u64 == ENTRIES && pending(&mut c, "in", "squall").unwrap() == 0
    });
    let (ids, duplicates) = written(&mut conn);
    println!(
        "entries={ENTRIES} reached_sink={} duplicates={duplicates} pending={} after {:?}",
        ids.len(),
        pending(&mut conn, "in", "squall").unwrap(),
        started.elapsed()
    );
    assert!(
        all_in,
        "{} of {ENTRIES} entries reached the sink, {} pending; logs in {}",
        ids.len(),
        pending(&mut conn, "in", "squall").unwrap(),
        cluster.dir.path().display()
    );
    let killed = cluster.squall(&["kill", "redis", "--wait", "1"]);
    assert!(killed.status.success());
}

#[test]
fn the_spout_reports_redis_going_away_backs_off_and_resumes_losing_nothing() {
    const N: u64 = 20_000;
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    let mut pipe = redis::pipe();
    for i in 0..N {
        pipe.cmd("XADD").arg("in").arg("*").arg("n").arg(i).ignore();
    }
    pipe.query::<()>(&mut conn).unwrap();
    drop(conn);

    let cluster = Cluster::start(&["127.0.10.3"], 1);
    let topology = binaries().redis_topology.display().to_string();
    let submitted = cluster.squall(&[
        "submit",
        &topology,
        "--name",
        "outage",
        "--",
        "--redis",
        &redis.url,
        "--stream",
        "in",
        "--group",
        "squall",
        "--out",
        "out",
        "--fail-every",
        "10",
        "--workers",
        "1",
    ]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    assert!(
        eventually(Duration::from_secs(120), || xlen(&mut redis.conn(), "out")
            >= N / 10),
        "the sink wrote {} of {} before the outage; logs in {}",
        xlen(&mut redis.conn(), "out"),
        N / 10,
        cluster.dir.path().display()
    );
    let errors_before = component(&cluster.status_json("outage").unwrap(), "entries")["errors"]
        .as_u64()
        .unwrap_or(0);

    // Redis goes away for 10 s, mid-run: the sink has not written everything yet.
    let written_before = xlen(&mut redis.conn(), "out");
    assert!(written_before < N, "the run was over before the outage");
    redis.stop();
    let stopped = Instant::now();
    let reported = eventually(Duration::from_secs(9), || {
        cluster.status_json("outage").is_some_and(|s| {
            component(&s, "entries")["recent_errors"]
                .to_string()
                .contains("redis at")
        })
    });
    std::thread::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed()));
    let status = cluster.status_json("outage").unwrap();
    let errors_during = component(&status, "entries")["errors"]
        .as_u64()
        .unwrap_or(0)
        - errors_before;
    redis.restart();
    println!(
        "redis away for {:?}; the spouts reported {errors_during} errors",
        stopped.elapsed()
    );
    assert!(reported, "the spout did not report the outage: {status}");
    // Two spout tasks retrying for 10 s with a backoff from 100 ms up to 5 s try about seven
    // times each; a loop without one would report thousands.
    assert!(
        (1..=40).contains(&errors_during),
        "{errors_during} errors in 10 s: {status}"
    );

    let all_in = eventually(Duration::from_secs(180), || {
        let mut c = redis.conn();
        written(&mut c).0.len() as u64 == N && pending(&mut c, "in", "squall").unwrap() == 0
    });
    let (ids, duplicates) = written(&mut redis.conn());
    println!(
        "entries={N} reached_sink={} duplicates={duplicates} after the outage",
        ids.len()
    );
    assert!(
        all_in,
        "{} of {N} entries reached the sink, {} pending; logs in {}",
        ids.len(),
        pending(&mut redis.conn(), "in", "squall").unwrap(),
        cluster.dir.path().display()
    );
    let killed = cluster.squall(&["kill", "outage", "--wait", "1"]);
    assert!(killed.status.success());
}
