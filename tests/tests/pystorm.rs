//! Real pystorm components (from PyPI, in the venv `.ci/run` makes) in a Squall topology:
//! a `ReliableSpout`, a `Bolt` that splits (and raises once), and a `BatchingBolt` that needs
//! tick tuples, counting words into a Rust sink. Every tree completes, the raise is reported
//! and its input replays, and the counts are exact.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall_worker::multilang::{ShellBolt, ShellSpout};
use squall_worker::prelude::*;

fn script(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("multilang/pystorm")
        .join(name)
        .display()
        .to_string()
}

struct Totals {
    counts: Arc<Mutex<BTreeMap<String, i64>>>,
}

impl Bolt for Totals {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str("word")?.to_owned();
        let n = input.get_i64("count")?;
        *self.counts.lock().unwrap().entry(word).or_default() += n;
        out.ack(&input);
        Ok(())
    }
}

#[test]
fn pystorm_spout_split_and_batching_count_complete_every_tree_with_exact_counts() {
    let Some(python) = squall_tests::python::pystorm() else {
        return;
    };
    const SENTENCES: i64 = 50;
    let markers = tempfile::tempdir().unwrap();
    let counts = Arc::new(Mutex::new(BTreeMap::new()));
    let sink_counts = Arc::clone(&counts);
    let (p1, p2, p3) = (python.clone(), python.clone(), python);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        move || {
            ShellSpout::new([p1.clone(), script("sentences.py")]).output(Fields::new(["sentence"]))
        },
        1,
    );
    b.set_bolt(
        "split",
        move || ShellBolt::new([p2.clone(), script("split.py")]).output(Fields::new(["word"])),
        2,
    )
    .shuffle_grouping("sentences");
    b.set_bolt(
        "count",
        move || {
            ShellBolt::new([p3.clone(), script("count.py")]).output(Fields::new(["word", "count"]))
        },
        2,
    )
    .fields_grouping("split", ["word"])
    .tick_tuple_freq_secs(1);
    b.set_bolt(
        "totals",
        move || Totals {
            counts: Arc::clone(&sink_counts),
        },
        1,
    )
    .shuffle_grouping("count");
    let topology = b.build().unwrap();
    let mut conf = Config::new();
    conf.set("pystorm.sentences", SENTENCES);
    conf.set("pystorm.marker.dir", markers.path().display().to_string());
    let running = LocalTopology::start("pystorm", &conf, &topology).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while running.stats().spout_totals().acked < SENTENCES as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = running.kill(Duration::from_millis(500));
    assert_eq!(
        stats.spout_totals().acked,
        SENTENCES as u64,
        "every tree completes: {stats:?}"
    );
    assert!(
        stats.spout_totals().failed >= 1,
        "the raise failed its tree once"
    );
    let split_errors: Vec<&str> = stats
        .component("split")
        .unwrap()
        .errors
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        split_errors.iter().any(|e| e.contains("boom in")),
        "the raise is reported: {split_errors:?}"
    );
    // Exact counts: each sentence's words once, the failed one included after its replay.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for n in 0..SENTENCES {
        let sentence = if n == 7 {
            format!("boom the cow {n}")
        } else {
            format!("the cow jumped over the moon {n}")
        };
        for w in sentence.split(' ') {
            *expected.entry(w.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(*counts.lock().unwrap(), expected);
}
