//! Squall's connectors as built-in components of a YAML topology, with no Rust of the
//! user's: a Flux file reads a Redis stream through a consumer group and writes every entry
//! both into a Redis hash and into rolling files, submitted with `squall submit x.yaml` to a
//! cluster of real daemons where the `squall` binary is the worker. At the end every entry
//! is in the hash and in the files, and the group holds nothing pending.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::HashSet;
use std::time::Duration;

use squall_tests::cluster::{Cluster, eventually};
use squall_tests::redis_server::{RedisServer, pending};

const ENTRIES: u64 = 20_000;

fn topology(redis: &str, archive: &std::path::Path) -> String {
    format!(
        r#"
name: "yaml-connectors"
config:
  topology.max.spout.pending: 1000
spouts:
  - id: "entries"
    className: "squall.connectors.redis.RedisStreamSpout"
    constructorArgs: ["{redis}", "in", "squall", ["n"]]
    parallelism: 2
bolts:
  - id: "store"
    className: "squall.connectors.redis.RedisSink"
    constructorArgs: ["{redis}"]
    configMethods:
      - name: "hset"
        args: ["seen", "n", "n"]
    parallelism: 2
  - id: "archive"
    className: "squall.connectors.files.FileSink"
    constructorArgs: ["{}", "entries"]
    configMethods:
      - name: "field"
        args: ["n"]
      - name: "rollBytes"
        args: [20000]
streams:
  - from: "entries"
    to: "store"
    grouping:
      type: FIELDS
      args: ["n"]
  - from: "entries"
    to: "archive"
    grouping:
      type: SHUFFLE
"#,
        archive.display()
    )
}

/// The distinct numbers in the archive's files (finished or in progress).
fn archived(dir: &std::path::Path) -> HashSet<u64> {
    let mut seen = HashSet::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        seen.extend(text.lines().filter_map(|l| l.parse::<u64>().ok()));
    }
    seen
}

#[test]
fn a_yaml_topology_of_built_in_connectors_moves_every_entry_on_a_cluster() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    let mut pipe = redis::pipe();
    for i in 0..ENTRIES {
        pipe.cmd("XADD").arg("in").arg("*").arg("n").arg(i).ignore();
    }
    pipe.query::<()>(&mut conn).unwrap();

    let cluster = Cluster::start(&["127.0.10.9"], 2);
    let archive = cluster.dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let yaml = cluster.dir.path().join("connectors.yaml");
    std::fs::write(&yaml, topology(&redis.url, &archive)).unwrap();
    let submitted = cluster.squall(&["submit", &yaml.display().to_string()]);
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );

    let hashed = |conn: &mut redis::Connection| -> u64 {
        redis::cmd("HLEN").arg("seen").query(conn).unwrap_or(0)
    };
    let done = eventually(Duration::from_secs(120), || {
        hashed(&mut conn) == ENTRIES
            && pending(&mut conn, "in", "squall") == Some(0)
            && archived(&archive).len() as u64 == ENTRIES
    });
    let (in_hash, still_pending, in_files) = (
        hashed(&mut conn),
        pending(&mut conn, "in", "squall"),
        archived(&archive).len(),
    );
    eprintln!(
        "{in_hash} of {ENTRIES} in the hash, {in_files} in the files, {still_pending:?} pending"
    );
    assert!(
        done,
        "{in_hash} of {ENTRIES} in the hash, {in_files} in the files, {still_pending:?} pending; logs in {}",
        cluster.dir.path().display()
    );
    // The hash holds each entry's own number under it: the fields went where they were named.
    let value: String = redis::cmd("HGET")
        .arg("seen")
        .arg(ENTRIES - 1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(value, (ENTRIES - 1).to_string());
    let killed = cluster.squall(&["kill", "yaml-connectors", "--wait", "1"]);
    assert!(killed.status.success());
}

/// `examples/multilang/redis_word_count.yaml` as documented, in local mode (`squall run`),
/// pointed at the test's Redis: every word's count in the hash equals its count in the input.
#[test]
fn the_yaml_redis_word_count_example_counts_every_word_into_the_hash() {
    let Some(python) = squall_tests::python::pystorm() else {
        return;
    };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let mut conn = redis.conn();
    let sentences = [
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
    ];
    let mut expected = std::collections::HashMap::<String, u64>::new();
    let mut pipe = redis::pipe();
    for i in 0..300 {
        let sentence = sentences[i % sentences.len()];
        for word in sentence.split(' ') {
            *expected.entry(word.to_owned()).or_default() += 1;
        }
        pipe.cmd("XADD")
            .arg("sentences")
            .arg("*")
            .arg("sentence")
            .arg(sentence)
            .ignore();
    }
    pipe.query::<()>(&mut conn).unwrap();

    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/multilang");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&example).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = text
            .replace("redis://127.0.0.1:6379", &redis.url)
            .replace("\"python3\"", &format!("\"{python}\""));
        std::fs::write(dir.path().join(entry.file_name()), text).unwrap();
    }
    let mut run = std::process::Command::new(&squall_tests::cluster::binaries().squall)
        .args(["run", "redis_word_count.yaml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let counts = |conn: &mut redis::Connection| -> std::collections::HashMap<String, u64> {
        redis::cmd("HGETALL")
            .arg("word_counts")
            .query(conn)
            .unwrap_or_default()
    };
    let done = eventually(Duration::from_secs(60), || {
        counts(&mut conn) == expected && pending(&mut conn, "sentences", "squall") == Some(0)
    });
    // Interrupted as a user would: the local cluster stops its Python processes.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = run.wait().unwrap();
    assert!(done, "hash {:?}\nexpected {expected:?}", counts(&mut conn));
    assert!(status.success(), "squall run ended with {status}");
}
