//! The Redis Streams connectors against a real `redis-server`: entries are acknowledged only
//! once their trees complete, failures are delivered again and end acked, a restarted spout
//! takes back its own and dead consumers' pending entries, and the `redis_word_count`
//! example's contract (flags, the `word_counts` hash, the last line) holds.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use redis::streams::{StreamRangeReply, StreamReadReply};
use squall_tests::cluster::binaries;
use squall_tests::redis_server::{RedisServer, pending};

/// Adds `n` entries with field `n` = 0.. to `stream`.
fn produce(conn: &mut redis::Connection, stream: &str, from: u64, n: u64) {
    let mut pipe = redis::pipe();
    for i in from..from + n {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("n")
            .arg(i)
            .ignore();
    }
    pipe.query::<()>(conn).unwrap();
}

/// Every `id` field written to `stream`, and how many were written twice.
fn ids_in(conn: &mut redis::Connection, stream: &str) -> (HashSet<String>, usize) {
    let mut ids = HashSet::new();
    let (mut written, mut start) = (0, "-".to_owned());
    loop {
        let page: StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(10_000)
            .query(conn)
            .unwrap();
        let Some(last) = page.ids.last() else { break };
        start = format!("({}", last.id);
        for entry in &page.ids {
            let id: String = entry.get("id").unwrap();
            written += 1;
            ids.insert(id);
        }
    }
    let duplicates = written - ids.len();
    (ids, duplicates)
}

fn all_ids(conn: &mut redis::Connection, stream: &str) -> HashSet<String> {
    let page: StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(conn)
        .unwrap();
    page.ids.into_iter().map(|e| e.id).collect()
}

#[test]
fn a_restarted_spout_takes_back_pending_entries_and_failures_end_acked() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    produce(&mut conn, "in", 0, 1_000);
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("in")
        .arg("squall")
        .arg("0")
        .query::<()>(&mut conn)
        .unwrap();
    // A crash left entries read and unacknowledged: 100 by the spout's first task itself
    // (consumer entries-0), 100 by a consumer that will never come back.
    for consumer in ["entries-0", "ghost"] {
        let read: StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("squall")
            .arg(consumer)
            .arg("COUNT")
            .arg(100)
            .arg("STREAMS")
            .arg("in")
            .arg(">")
            .query(&mut conn)
            .unwrap();
        assert_eq!(read.keys[0].ids.len(), 100);
    }
    assert_eq!(pending(&mut conn, "in", "squall").unwrap(), 200);

    // Local mode, 16 s: the ghost's entries are claimed once idle past the 10 s timeout.
    let out = std::process::Command::new(&binaries().redis_topology)
        .args(["--redis", &redis.url, "--stream", "in", "--group", "squall"])
        .args(["--out", "out", "--fail-every", "10", "--seconds", "16"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (written, duplicates) = ids_in(&mut conn, "out");
    let produced = all_ids(&mut conn, "in");
    let missing: Vec<_> = produced.difference(&written).take(5).collect();
    assert!(
        missing.is_empty(),
        "entries that never reached the sink, e.g. {missing:?}: {stdout}"
    );
    println!("duplicates written: {duplicates}");
    assert_eq!(pending(&mut conn, "in", "squall").unwrap(), 0, "{stdout}");
    // One in ten failed once and was delivered again.
    let last = stdout.lines().last().unwrap();
    let failed: u64 = last
        .rsplit_once("failed=")
        .and_then(|(_, n)| n.parse().ok())
        .unwrap();
    assert!(failed >= 100, "{last}");
}

#[test]
fn redis_word_count_writes_every_words_count_and_prints_the_totals_last() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    let sentences = [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
    ];
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("XADD")
            .arg("sentences")
            .arg("*")
            .arg("sentence")
            .arg(sentences[i % 2])
            .ignore();
    }
    pipe.query::<()>(&mut conn).unwrap();
    let example = &binaries().redis_word_count;
    let started = Instant::now();
    let out = std::process::Command::new(example)
        .args([
            "--redis",
            &redis.url,
            "--stream",
            "sentences",
            "--group",
            "squall",
        ])
        .args(["--seconds", "4"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        stdout.lines().last(),
        Some("emitted=500 acked=500 failed=0"),
        "{stdout}"
    );
    let counts: BTreeMap<String, i64> = redis::cmd("HGETALL")
        .arg("word_counts")
        .query(&mut conn)
        .unwrap();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for i in 0..500 {
        for w in sentences[i % 2].split(' ') {
            *expected.entry(w.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(counts, expected);
    assert_eq!(pending(&mut conn, "sentences", "squall").unwrap(), 0);
}

/// A command Redis refuses fails only the inputs it writes: the rest of the batch is acked,
/// and the sink keeps its connection (a refusal is not an outage to back off from).
#[test]
fn a_refused_command_fails_only_its_own_inputs() {
    use squall_connectors::redis::{RedisSink, RedisWrite};
    use squall_worker::prelude::{Fields, TopologyBuilder, values};
    use squall_worker::testing::{CompleteTopology, FixedSpout};

    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    // HINCRBY on this field is refused: its value is not an integer.
    redis::cmd("HSET")
        .arg("totals")
        .arg("bad")
        .arg("x")
        .query::<()>(&mut conn)
        .unwrap();
    let url = redis.url.clone();
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "words",
        || FixedSpout::new(Fields::new(["word", "n"]), vec![]),
        1,
    );
    b.set_bolt(
        "store",
        move || {
            RedisSink::new(
                url.clone(),
                RedisWrite::HIncrBy {
                    key: "totals".into(),
                    field: "word".into(),
                    by: "n".into(),
                },
            )
        },
        1,
    )
    .shuffle_grouping("words");
    // The refused input replays for ever (the spout replays failures): run for a while.
    let run = CompleteTopology::new()
        .timeout(Duration::from_secs(3))
        .mock(
            "words",
            [values!["good", 1], values!["bad", 1], values!["good", 2]],
        )
        .run(&b.build().unwrap())
        .unwrap();
    assert!(!run.is_complete());
    assert_eq!(run.spout_acked(), 2, "both good inputs acked, once");
    assert!(run.spout_failed() >= 1);
    let good: i64 = redis::cmd("HGET")
        .arg("totals")
        .arg("good")
        .query(&mut conn)
        .unwrap();
    assert_eq!(good, 3);
}

/// Drives a spout by hand: what it emitted, with its message ids.
#[derive(Default)]
struct Emitted {
    ids: Vec<u64>,
    values: Vec<squall_worker::api::Values>,
}

impl squall_worker::api::SpoutOutput for Emitted {
    fn emit(
        &mut self,
        _stream: Option<&str>,
        values: squall_worker::api::Values,
        msg_id: Option<u64>,
        _direct_task: Option<u32>,
    ) -> Result<&[u32], squall_worker::api::EmitError> {
        self.ids.push(msg_id.unwrap());
        self.values.push(values);
        Ok(&[])
    }
    fn pending_count(&self) -> usize {
        0
    }
    fn report_error(&mut self, error: &dyn std::fmt::Display) {
        panic!("the spout reported {error}");
    }
}

/// Task `index` of spout `entries` (2 tasks) with a message timeout of `timeout_secs`.
fn opened_spout(
    url: &str,
    index: u32,
    timeout_secs: f64,
) -> squall_connectors::redis::RedisStreamSpout {
    use squall_worker::api::{Config, SharedContext, Spout, TaskLayout, TopologyContext};
    use std::sync::Arc;
    let shared = Arc::new(SharedContext {
        topology_id: "redis-claims-1-1700000000".into(),
        spec: Arc::default(),
        layout: Arc::new(TaskLayout::new([("entries", 2)])),
        worker_tasks: vec![1, 2],
        worker_port: None,
    });
    let mut conf = Config::new();
    conf.set("topology.message.timeout.secs", timeout_secs);
    let context = TopologyContext::new(shared, "entries", 1 + index, Arc::new(conf));
    let mut spout =
        squall_connectors::redis::RedisStreamSpout::new(url, "in", "squall").fields(["n"]);
    spout.open(&context).unwrap();
    spout
}

/// Calls `next_tuple` (and `housekeep`, as the runtime does between calls) for `span`.
fn drive(
    spout: &mut squall_connectors::redis::RedisStreamSpout,
    out: &mut Emitted,
    span: Duration,
) {
    use squall_worker::api::{Spout, SpoutCollector};
    let end = Instant::now() + span;
    while Instant::now() < end {
        spout.next_tuple(&mut SpoutCollector::new(out)).unwrap();
        spout.housekeep().unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An entry this task replays from memory after a failure is not read a second time by a
/// pass over idle pending entries (`XAUTOCLAIM` claimed it back, and it was emitted again
/// while the first replay was still in flight): the task keeps its idle time short, and its
/// own pass skips entries it holds (unit-tested in the connector).
#[test]
fn an_entry_replayed_from_memory_is_not_claimed_back_by_its_own_task() {
    use squall_worker::api::Spout;
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    produce(&mut conn, "in", 0, 1);
    let mut spout = opened_spout(&redis.url, 0, 0.3);
    let mut out = Emitted::default();
    drive(&mut spout, &mut out, Duration::from_millis(200));
    assert_eq!(out.ids.len(), 1, "the entry is read once");
    spout.fail(out.ids[0]);
    drive(&mut spout, &mut out, Duration::from_millis(100));
    assert_eq!(out.ids.len(), 2, "a failed entry is replayed at once");
    // Its tree is in flight, neither acked nor failed; the entry's idle time at Redis passes
    // the 300 ms claim threshold meanwhile.
    drive(&mut spout, &mut out, Duration::from_millis(1_500));
    assert_eq!(
        out.ids.len(),
        2,
        "emitted again while its replay was in flight: {:?}",
        out.values
    );
}

/// An entry a live task holds longer than the message timeout (its tree is slow, or it waits
/// behind `topology.max.spout.pending`, when `next_tuple` is not called) is not taken by
/// another task's claim pass: the holder keeps its idle time at Redis short.
#[test]
fn an_entry_a_live_task_holds_is_not_claimed_by_another_task() {
    use squall_worker::api::Spout;
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    produce(&mut conn, "in", 0, 1);
    // A 1 s timeout: the holder resets the entry's idle time every ~333 ms, far inside it.
    let mut holder = opened_spout(&redis.url, 0, 1.0);
    let mut held = Emitted::default();
    drive(&mut holder, &mut held, Duration::from_millis(200));
    assert_eq!(held.ids.len(), 1, "the first task reads the entry");
    let mut other = opened_spout(&redis.url, 1, 1.0);
    let mut taken = Emitted::default();
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        // At max pending: the runtime calls only `housekeep`.
        holder.housekeep().unwrap();
        drive(&mut other, &mut taken, Duration::from_millis(20));
    }
    assert!(
        taken.ids.is_empty(),
        "the other task took the held entry: {:?}",
        taken.values
    );
}
