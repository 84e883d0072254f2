//! Stateful bolts in the running engine (local mode): checkpoints flow through plain bolts
//! into stateful ones, inputs are acked when their checkpoint commits, and a topology started
//! again over the same backend resumes from the committed state.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::Duration;

use squall_worker::prelude::*;
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
