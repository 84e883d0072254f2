//! The file connectors on real files: every line of a directory's files reaches the rolling
//! sink at least once through a bolt that fails one line in ten once, finished files are
//! renamed; a restarted spout resumes at the persisted offset (past acked lines only).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_connectors::files::{FileSink, FileSpout, committed_offset};
use squall_worker::TopologyStats;
use squall_worker::prelude::*;

/// Fails lines as `decide` says (by line number, and whether it was seen before), passes the
/// rest on anchored.
struct Judge {
    seen: HashSet<String>,
    decide: fn(u64, bool) -> bool,
    passed: Arc<Mutex<Vec<String>>>,
}

impl Bolt for Judge {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["line"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let line = input.get_str("line")?.to_owned();
        let n: u64 = line.rsplit('-').next().unwrap().parse().unwrap();
        let again = !self.seen.insert(line.clone());
        if !(self.decide)(n, again) {
            out.fail(&input);
            return Ok(());
        }
        self.passed.lock().unwrap().push(line.clone());
        out.emit(&[&input], values![line])?;
        out.ack(&input);
        Ok(())
    }
}

fn write_file(dir: &Path, name: &str, lines: u64) {
    let text: String = (0..lines).map(|i| format!("{name}-{i}\n")).collect();
    // Written elsewhere and renamed in, as the spout expects.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn topology(
    input: &Path,
    output: &Path,
    decide: fn(u64, bool) -> bool,
    passed: Arc<Mutex<Vec<String>>>,
) -> Topology {
    let (input, output) = (input.to_owned(), output.to_owned());
    let mut b = TopologyBuilder::new();
    b.set_spout("lines", move || FileSpout::new(&input), 2);
    b.set_bolt(
        "judge",
        move || Judge {
            seen: HashSet::new(),
            decide,
            passed: Arc::clone(&passed),
        },
        2,
    )
    .shuffle_grouping("lines");
    b.set_bolt("sink", move || FileSink::new(&output, "out"), 1)
        .shuffle_grouping("judge");
    b.build().unwrap()
}

fn run_until(topology: &Topology, done: impl Fn(&TopologyStats) -> bool) -> TopologyStats {
    let mut conf = Config::new();
    conf.set_max_spout_pending(500);
    let running = LocalTopology::start("files", &conf, topology).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&running.stats()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    running.kill(Duration::from_millis(500))
}

#[test]
fn every_line_reaches_the_sink_and_finished_files_are_renamed() {
    let (input, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for name in ["a.log", "b.log", "c.log"] {
        write_file(input.path(), name, 1_000);
    }
    let passed = Arc::new(Mutex::new(Vec::new()));
    // One line in ten fails the first time.
    let t = topology(
        input.path(),
        output.path(),
        |n, again| again || n % 10 != 0,
        passed,
    );
    let stats = run_until(&t, |s| s.spout_totals().acked == 3_000);
    assert_eq!(stats.spout_totals().acked, 3_000, "{stats:?}");
    assert!(stats.spout_totals().failed >= 300, "{stats:?}");
    let mut names: Vec<String> = std::fs::read_dir(input.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".squall-offsets", "a.log.done", "b.log.done", "c.log.done"]
    );
    // Every line in the sink's rolled files, each at least once.
    let mut written: HashMap<String, u32> = HashMap::new();
    for entry in std::fs::read_dir(output.path()).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        assert!(name.ends_with(".log"), "{name} was not rolled");
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            *written.entry(line.to_owned()).or_default() += 1;
        }
    }
    for name in ["a.log", "b.log", "c.log"] {
        for i in 0..1_000 {
            assert!(written.contains_key(&format!("{name}-{i}")), "{name}-{i}");
        }
    }
    let duplicates: u32 = written.values().map(|n| n - 1).sum();
    println!(
        "lines=3000 written={} duplicates={duplicates}",
        written.len()
    );
}

#[test]
fn a_restarted_spout_resumes_after_the_acked_lines_only() {
    let (input, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_file(input.path(), "x.log", 1_000);
    // First run: lines from 500 on always fail, so the offset stops after line 499.
    let passed = Arc::new(Mutex::new(Vec::new()));
    let t = topology(
        input.path(),
        output.path(),
        |n, _| n < 500,
        Arc::clone(&passed),
    );
    run_until(&t, |s| s.spout_totals().acked >= 500);
    let line_bytes = |i: u64| format!("x.log-{i}\n").len() as u64;
    let after_499: u64 = (0..500).map(line_bytes).sum();
    assert_eq!(committed_offset(input.path(), "x.log"), Some(after_499));
    assert!(input.path().join("x.log").exists(), "not done yet");

    // Second run: it starts at line 500, and finishes the file.
    let passed = Arc::new(Mutex::new(Vec::new()));
    let t = topology(
        input.path(),
        output.path(),
        |_, _| true,
        Arc::clone(&passed),
    );
    let stats = run_until(&t, |s| s.spout_totals().acked >= 500);
    assert_eq!(stats.spout_totals().acked, 500, "{stats:?}");
    let mut seen: Vec<u64> = passed
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (500..1_000).collect::<Vec<_>>());
    assert!(input.path().join("x.log.done").exists());
    assert_eq!(committed_offset(input.path(), "x.log"), None);
}

#[test]
fn file_word_count_counts_every_word_and_prints_the_totals_last() {
    let (input, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sentences = ["the cow jumped over the moon", "an apple a day"];
    for (name, n) in [("a.txt", 300), ("b.txt", 200)] {
        let text: String = (0..n).map(|i| format!("{}\n", sentences[i % 2])).collect();
        std::fs::write(input.path().join(name), text).unwrap();
    }
    let out = std::process::Command::new(&squall_tests::cluster::binaries().file_word_count)
        .arg("--input")
        .arg(input.path())
        .arg("--output")
        .arg(output.path())
        .args(["--seconds", "4"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("emitted=500 acked=500 failed=0")
    );
    // The highest running count written for each word is its count.
    let mut counts: HashMap<String, i64> = HashMap::new();
    for entry in std::fs::read_dir(output.path()).unwrap().flatten() {
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let (word, n) = line.split_once(' ').unwrap();
            let n: i64 = n.parse().unwrap();
            let best = counts.entry(word.to_owned()).or_default();
            *best = (*best).max(n);
        }
    }
    let mut expected: HashMap<String, i64> = HashMap::new();
    for i in 0..500 {
        let sentence = sentences[if i < 300 { i % 2 } else { (i - 300) % 2 }];
        for w in sentence.split(' ') {
            *expected.entry(w.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(counts, expected);
    assert!(input.path().join("a.txt.done").exists());
}

#[test]
fn a_file_still_missing_its_last_newline_does_not_hold_up_the_others() {
    let (input, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // "a" sorts first and ends in half a line; "b" is complete.
    std::fs::write(input.path().join("a.log"), "a.log-0\na.log-1\na.log-").unwrap();
    write_file(input.path(), "b.log", 100);
    let passed = Arc::new(Mutex::new(Vec::new()));
    let t = topology(
        input.path(),
        output.path(),
        |_, _| true,
        Arc::clone(&passed),
    );
    let stats = run_until(&t, |s| s.spout_totals().acked >= 102);
    assert_eq!(stats.spout_totals().acked, 102, "{stats:?}");
    assert!(input.path().join("b.log.done").exists());
    assert!(
        input.path().join("a.log").exists(),
        "a waits for its last line"
    );
}

/// Counts lines per file in exactly-once state; fails the first sighting of every seventh
/// line of each file once (each failure rewinds every task and spout to the last checkpoint).
struct CountPerFile {
    failed: HashSet<String>,
}

impl squall_worker::state::StatefulBolt for CountPerFile {
    type Key = String;
    type Value = i64;

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let line = input.get_str("line")?;
        let (file, n) = line.rsplit_once('-').unwrap();
        if n.parse::<u64>().unwrap() % 7 == 3 && self.failed.insert(line.to_owned()) {
            return Err(ComponentError::msg("fails once"));
        }
        *state.entry(file.to_owned()).or_insert(0) += 1;
        Ok(())
    }
}

#[test]
fn with_exactly_once_state_each_line_counts_once_through_rewinds_and_files_finish() {
    use squall_worker::state::{
        DiskBackend, StateBackend, TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, TOPOLOGY_STATE_GUARANTEE,
        TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
    };
    let input = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let files = [("a", 300_u64), ("b", 450), ("c", 120)];
    for (name, lines) in files {
        write_file(input.path(), name, lines);
    }
    let dir = input.path().to_owned();
    let mut b = TopologyBuilder::new();
    b.set_replayable_spout("lines", move || FileSpout::new(&dir), 2);
    b.set_stateful_bolt(
        "count",
        || CountPerFile {
            failed: HashSet::new(),
        },
        1,
    )
    .shuffle_grouping("lines");
    let mut conf = Config::new();
    conf.set(TOPOLOGY_STATE_GUARANTEE, "exactly_once");
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, 100);
    conf.set(TOPOLOGY_STATE_PROVIDER, "disk");
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        format!(r#"{{"dir": "{}"}}"#, state.path().display()),
    );
    let run = squall_worker::testing::CompleteTopology::new()
        .conf(conf)
        .timeout(Duration::from_secs(60))
        .run(&b.build().unwrap())
        .unwrap();
    assert!(run.is_complete(), "the run did not finish");
    // The one `count` task's namespace, `count-<task>`.
    let backend = DiskBackend::new(state.path());
    let topology_dir = state.path().join("complete-topology-local");
    let namespace = std::fs::read_dir(&topology_dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".redb").map(str::to_owned))
        .find(|n| n.starts_with("count-"))
        .unwrap();
    let loaded = backend
        .open("complete-topology-local", &namespace)
        .unwrap()
        .load()
        .unwrap();
    let mut counts: Vec<(String, i64)> = loaded
        .entries
        .iter()
        .map(|(k, v)| {
            (
                serde_json::from_slice(k).unwrap(),
                serde_json::from_slice(v).unwrap(),
            )
        })
        .collect();
    counts.sort();
    let truth: Vec<(String, i64)> = files
        .iter()
        .map(|(name, lines)| ((*name).to_owned(), *lines as i64))
        .collect();
    assert_eq!(counts, truth, "each line counted exactly once");
    for (name, _) in files {
        assert!(
            input.path().join(format!("{name}.done")).exists(),
            "{name} was not renamed once its every line was committed"
        );
    }
}

/// An input without the field the sink writes fails rather than being written as an empty
/// line and acked.
#[test]
fn an_input_without_the_sinks_field_fails_instead_of_writing_an_empty_line() {
    use squall_worker::testing::{CompleteTopology, FixedSpout};

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_owned();
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "lines",
        || FixedSpout::new(Fields::new(["body"]), vec![]),
        1,
    );
    b.set_bolt("write", move || FileSink::new(&dir, "out"), 1)
        .shuffle_grouping("lines");
    let run = CompleteTopology::new()
        .timeout(Duration::from_secs(2))
        .mock("lines", [values!["a"], values!["b"]])
        .run(&b.build().unwrap())
        .unwrap();
    // The mock spout emits a failed tuple again, so they fail over and over.
    assert_eq!(run.spout_acked(), 0);
    assert!(run.spout_failed() >= 2, "failed {}", run.spout_failed());
    let written: u64 = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(written, 0, "nothing written");
}

/// A line that fails every time (one the sink refuses, say) is emitted again with a growing
/// delay, not as fast as the spout can: storm-kafka-client's exponential retry.
#[test]
fn a_line_that_always_fails_is_retried_with_a_growing_delay() {
    struct Refuse(Arc<Mutex<u64>>);
    impl Bolt for Refuse {
        fn execute(
            &mut self,
            input: Tuple,
            out: &mut BoltCollector<'_>,
        ) -> Result<(), ComponentError> {
            *self.0.lock().unwrap() += 1;
            out.fail(&input);
            Ok(())
        }
    }
    let input = tempfile::tempdir().unwrap();
    write_file(input.path(), "a", 1);
    let dir = input.path().to_owned();
    let tries = Arc::new(Mutex::new(0u64));
    let counted = Arc::clone(&tries);
    let mut b = TopologyBuilder::new();
    b.set_spout("lines", move || FileSpout::new(&dir), 1);
    b.set_bolt("refuse", move || Refuse(Arc::clone(&counted)), 1)
        .shuffle_grouping("lines");
    let running = LocalTopology::start("refused", &Config::new(), &b.build().unwrap()).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    running.kill(Duration::from_millis(500));
    let tries = *tries.lock().unwrap();
    // At once, then after 4, 8, 16, ... ms: about a dozen tries in 3 s.
    assert!((5..=20).contains(&tries), "tried {tries} times in 3 s");
}
