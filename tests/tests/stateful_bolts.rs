//! Stateful bolts in the running engine (local mode): checkpoints flow through plain bolts
//! into stateful ones, inputs are acked when their checkpoint commits, and a topology started
//! again over the same backend resumes from the committed state.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use squall_worker::prelude::*;
use squall_worker::state::ReplayableSpout;
use squall_worker::state::{
    TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
};
use squall_worker::testing::{CompleteTopology, CompletedRun, FixedSpout};

/// Splits a sentence into words.
struct Split;

impl BasicBolt for Split {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word"]));
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        for w in input.get_str("sentence")?.split_whitespace() {
            out.emit(values![w])?;
        }
        Ok(())
    }
}

/// Counts words in its state and emits each new count.
struct Count;

impl StatefulBolt for Count {
    type Key = String;
    type Value = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word", "count"]));
    }

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str("word")?.to_owned();
        let count = state.entry(word.clone()).or_insert(0);
        *count += 1;
        let n = *count;
        out.emit(values![word, n])?;
        Ok(())
    }
}

const SENTENCES: &[&str] = &[
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "the moon and the cow",
];

fn topology() -> Topology {
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        || FixedSpout::new(Fields::new(["sentence"]), vec![]),
        1,
    );
    b.set_basic_bolt("split", || Split, 2)
        .shuffle_grouping("sentences");
    b.set_stateful_bolt("count", || Count, 2)
        .fields_grouping("split", ["word"]);
    b.build().unwrap()
}

/// Every word's last emitted count.
fn last_counts(run: &CompletedRun) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for v in run.emitted("count", "default") {
        let word = v[0].as_str().unwrap().to_owned();
        let n = v[1].as_i64().unwrap();
        let e = out.entry(word).or_insert(0);
        *e = (*e).max(n);
    }
    out
}

fn true_counts(rounds: i64) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for s in SENTENCES {
        for w in s.split_whitespace() {
            *out.entry(w.to_owned()).or_insert(0) += rounds;
        }
    }
    out
}

fn run(conf: Config) -> CompletedRun {
    CompleteTopology::new()
        .conf(conf)
        .timeout(Duration::from_secs(30))
        .mock("sentences", SENTENCES.iter().map(|s| values![*s]))
        .run(&topology())
        .unwrap()
}

fn conf_on_disk(dir: &std::path::Path) -> Config {
    let mut conf = Config::new();
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, 100);
    conf.set(TOPOLOGY_STATE_PROVIDER, "disk");
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        format!(r#"{{"dir": "{}"}}"#, dir.display()),
    );
    conf
}

#[test]
fn counts_are_exact_and_every_tree_completes_once_its_checkpoint_commits() {
    let mut conf = Config::new();
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, 100);
    let run = run(conf);
    assert!(run.is_complete(), "trees still in flight");
    assert_eq!(run.spout_acked(), SENTENCES.len() as u64);
    assert_eq!(run.spout_failed(), 0);
    assert_eq!(last_counts(&run), true_counts(1));
    // Checkpoints passed through `split`, a plain bolt, on their way to `count`.
    assert!(!run.emitted("split", "$checkpoint").is_empty());
}

#[test]
fn a_topology_started_again_resumes_from_its_committed_state_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(conf_on_disk(dir.path()));
    assert!(first.is_complete());
    assert_eq!(last_counts(&first), true_counts(1));
    // Every input was acked, so every count is committed; a new run (new process state, same
    // files) counts on from there.
    let second = run(conf_on_disk(dir.path()));
    assert!(second.is_complete());
    assert_eq!(last_counts(&second), true_counts(2));
}

/// Emits `n` = 0..total, each with a message id; its position is the next `n`.
struct Numbers {
    next: i64,
    total: i64,
}

impl ReplayableSpout for Numbers {
    type Position = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["key", "n"]));
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.next < self.total {
            out.emit_with_id(
                values![format!("k{}", self.next % KEYS), self.next],
                self.next as u64,
            )?;
            self.next += 1;
        }
        Ok(())
    }

    fn position(&self) -> i64 {
        self.next
    }

    fn seek(&mut self, position: Option<&i64>) -> Result<(), ComponentError> {
        self.next = position.copied().unwrap_or(0);
        Ok(())
    }

    fn fail(&mut self, msg_id: MessageId) {
        // Storm's mode, crudely: go back to the failed number and emit everything after it again.
        self.next = self.next.min(msg_id as i64);
    }

    fn is_exhausted(&self) -> bool {
        self.next >= self.total
    }
}

const KEYS: i64 = 5;
const NUMBERS: i64 = 2_000;

/// Counts per key and passes each input on, anchored.
struct CountKeys;

impl StatefulBolt for CountKeys {
    type Key = String;
    type Value = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["n"]));
    }

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        *state.entry(input.get_str("key")?.to_owned()).or_insert(0) += 1;
        out.emit(values![input.get_i64("n")?])?;
        Ok(())
    }
}

/// Fails the first sighting of every tenth `n`, downstream of the counting: in Storm's mode
/// the spout replays it and it is counted again.
#[derive(Default)]
struct FailTenth(std::collections::HashSet<i64>);

impl Bolt for FailTenth {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let n = input.get_i64("n")?;
        if n % 10 == 0 && self.0.insert(n) {
            out.fail(&input);
        } else {
            out.ack(&input);
        }
        Ok(())
    }
}

/// The committed per-key counts the disk backend holds for `count`'s tasks.
fn committed_on_disk(dir: &std::path::Path) -> BTreeMap<String, i64> {
    use squall_worker::state::{DiskBackend, StateBackend};
    let backend = DiskBackend::new(dir);
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("complete-topology-local")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(namespace) = name.strip_suffix(".redb") else {
            continue;
        };
        if !namespace.starts_with("count-") {
            continue;
        }
        let loaded = backend
            .open("complete-topology-local", namespace)
            .unwrap()
            .load()
            .unwrap();
        for (k, v) in loaded.entries {
            let key: String = serde_json::from_slice(&k).unwrap();
            *counts.entry(key).or_insert(0) += serde_json::from_slice::<i64>(&v).unwrap();
        }
    }
    counts
}

fn counting_run(guarantee: &str) -> (CompletedRun, BTreeMap<String, i64>) {
    let dir = tempfile::tempdir().unwrap();
    let mut b = TopologyBuilder::new();
    b.set_replayable_spout(
        "numbers",
        || Numbers {
            next: 0,
            total: NUMBERS,
        },
        2,
    );
    b.set_stateful_bolt("count", || CountKeys, 2)
        .fields_grouping("numbers", ["key"]);
    b.set_bolt("check", FailTenth::default, 1)
        .shuffle_grouping("count");
    let mut conf = conf_on_disk(dir.path());
    conf.set(squall_worker::state::TOPOLOGY_STATE_GUARANTEE, guarantee);
    conf.set_max_spout_pending(200);
    let run = CompleteTopology::new()
        .conf(conf)
        .timeout(Duration::from_secs(60))
        .run(&b.build().unwrap())
        .unwrap();
    let counts = committed_on_disk(dir.path());
    (run, counts)
}

#[test]
fn exactly_once_state_counts_each_input_once_through_failures_where_storms_mode_counts_some_twice()
{
    let truth: BTreeMap<String, i64> = (0..KEYS)
        .map(|k| (format!("k{k}"), 2 * NUMBERS / KEYS))
        .collect();
    let (eo, eo_counts) = counting_run("exactly_once");
    let (alo, alo_counts) = counting_run("at_least_once");
    let over = |c: &BTreeMap<String, i64>| c.values().sum::<i64>() - 2 * NUMBERS;
    println!(
        "exactly_once: counted {} (over by {}); at_least_once: counted {} (over by {})",
        eo_counts.values().sum::<i64>(),
        over(&eo_counts),
        alo_counts.values().sum::<i64>(),
        over(&alo_counts)
    );
    assert!(eo.is_complete(), "exactly-once run did not finish");
    assert!(alo.is_complete(), "at-least-once run did not finish");
    // Two spout tasks each emit 0..NUMBERS: every key's true count is 2·NUMBERS/KEYS.
    assert_eq!(eo_counts, truth, "exactly-once state is off");
    assert!(
        truth.iter().all(|(k, n)| alo_counts[k] >= *n),
        "at-least-once state lost counts: {alo_counts:?}"
    );
    assert!(
        over(&alo_counts) > 0,
        "the failures downstream were expected to count twice in Storm's mode"
    );
}
