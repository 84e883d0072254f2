//! The word-count topology: a reliable sentence spout, a split bolt that anchors every word to
//! its sentence, and a count bolt behind a fields grouping on the word.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use squall_worker::prelude::*;
use squall_worker::{CompactString, InvalidTopology};

/// Word counts shared by the count tasks of one process, filled in when they clean up.
pub type Totals = Arc<Mutex<FxHashMap<String, u64>>>;

/// Emits sentences from a fixed list in a cycle, each with a message id; re-emits the ones
/// whose tree fails. Keeps its own totals and logs them when deactivated, so what it did can be
/// checked against what the cluster reports.
pub struct SentenceSpout {
    sentences: Arc<[Value]>,
    next: u64,
    pending: FxHashMap<MessageId, usize>,
    replay: VecDeque<MessageId>,
    emitted: u64,
    acked: u64,
    failed: u64,
}

impl SentenceSpout {
    /// Cycles through `sentences`. Pass them as `&'static str` and emitting never copies them.
    pub fn new(sentences: Arc<[Value]>) -> Self {
        SentenceSpout {
            sentences,
            next: 0,
            pending: FxHashMap::default(),
            replay: VecDeque::new(),
            emitted: 0,
            acked: 0,
            failed: 0,
        }
    }

    /// The sentences as values that clone without allocating.
    pub fn static_sentences<I: IntoIterator<Item = String>>(sentences: I) -> Arc<[Value]> {
        sentences
            .into_iter()
            .map(|s| Value::Str(CompactString::const_new(Box::leak(s.into_boxed_str()))))
            .collect()
    }
}

impl Spout for SentenceSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["sentence"]));
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.sentences.is_empty() {
            return Ok(());
        }
        let id = self.replay.pop_front().unwrap_or_else(|| {
            self.next += 1;
            self.next
        });
        let index = *self
            .pending
            .entry(id)
            .or_insert((id % self.sentences.len() as u64) as usize);
        let mut v = Values::with_capacity(1);
        v.push(self.sentences[index].clone());
        out.emit_with_id(v, id)?;
        self.emitted += 1;
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        self.pending.remove(&msg_id);
        self.acked += 1;
    }

    fn fail(&mut self, msg_id: MessageId) {
        self.replay.push_back(msg_id);
        self.failed += 1;
    }

    fn deactivate(&mut self) {
        tracing::info!(
            emitted = self.emitted,
            acked = self.acked,
            failed = self.failed,
            "sentence spout deactivated"
        );
    }
}

/// Splits a sentence into words, each anchored to the sentence, then acks the sentence.
pub struct SplitBolt;

impl Bolt for SplitBolt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        for word in input.get_str(0)?.split(' ').filter(|w| !w.is_empty()) {
            out.emit(&[&input], values![word])?;
        }
        out.ack(&input);
        Ok(())
    }
}

/// Keeps a running count per word; adds its counts to the shared totals on cleanup.
pub struct CountBolt {
    counts: FxHashMap<CompactString, u64>,
    totals: Totals,
}

impl CountBolt {
    /// A count task reporting into `totals`.
    pub fn new(totals: Totals) -> Self {
        CountBolt {
            counts: FxHashMap::default(),
            totals,
        }
    }
}

impl BasicBolt for CountBolt {
    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str(0)?;
        match self.counts.get_mut(word) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(CompactString::new(word), 1);
            }
        }
        Ok(())
    }

    fn cleanup(&mut self) {
        let mut totals = self.totals.lock().unwrap_or_else(|p| p.into_inner());
        for (word, n) in self.counts.drain() {
            *totals.entry(word.into_string()).or_default() += n;
        }
    }
}

/// Each word's running count, emitted as `(word, count)` anchored to the word: what the
/// connector examples write to their sinks.
#[derive(Default)]
pub struct RunningCount(FxHashMap<String, i64>);

impl Bolt for RunningCount {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word", "count"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str(0)?;
        let n = self.0.entry(word.to_owned()).or_default();
        *n += 1;
        out.emit(&[&input], values![word, *n])?;
        out.ack(&input);
        Ok(())
    }
}

/// Storm's classic sentences.
pub const CLASSIC_SENTENCES: &[&str] = &[
    "the cow jumped over the moon",
    "an apple a day keeps the doctor away",
    "four score and seven years ago",
    "snow white and the seven dwarfs",
    "i am at two with nature",
];

/// The word-count topology: `sentences` → `split` (shuffle) → `count` (fields on `word`).
///
/// # Errors
/// Never for valid parallelism (≥ 1).
pub fn topology(
    sentences: Arc<[Value]>,
    parallelism: u32,
    totals: Totals,
) -> Result<Topology, InvalidTopology> {
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        move || SentenceSpout::new(Arc::clone(&sentences)),
        1,
    );
    b.set_bolt("split", || SplitBolt, parallelism)
        .shuffle_grouping("sentences");
    b.set_basic_bolt(
        "count",
        move || CountBolt::new(Arc::clone(&totals)),
        parallelism,
    )
    .fields_grouping("split", ["word"]);
    b.build()
}
