//! A testing kit for topology authors, after Storm's `Testing.completeTopology` and
//! `FixedTupleSpout`: run a topology in local mode on fixed spout input until every tuple tree
//! is complete and nothing is moving, then look at what each component emitted.
//!
//! # Examples
//! ```
//! use squall_worker::prelude::*;
//! use squall_worker::testing::{CompleteTopology, FixedSpout};
//!
//! struct Upper;
//! impl BasicBolt for Upper {
//!     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["w"])); }
//!     fn execute(&mut self, t: &Tuple, out: &mut BasicCollector<'_, '_>) -> Result<(), ComponentError> {
//!         out.emit(values![t.get_str(0)?.to_uppercase()])?;
//!         Ok(())
//!     }
//! }
//! let mut b = TopologyBuilder::new();
//! b.set_spout("words", || FixedSpout::new(Fields::new(["w"]), vec![]), 1);
//! b.set_basic_bolt("upper", || Upper, 2).shuffle_grouping("words");
//! let run = CompleteTopology::new()
//!     .mock("words", [values!["a"], values!["b"]])
//!     .run(&b.build().unwrap())
//!     .unwrap();
//! assert!(run.is_complete());
//! assert_eq!(run.spout_acked(), 2);
//! let mut out: Vec<String> = run.emitted("upper", "default").iter()
//!     .map(|v| v[0].to_string()).collect();
//! out.sort();
//! assert_eq!(out, ["\"A\"", "\"B\""]);
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use squall_topology_api::{
    ComponentError, ComponentFactory, Config, DEFAULT_STREAM_ID, Fields, InvalidTopology,
    MessageId, OutputDeclarer, Spout, SpoutCollector, Topology, TopologyContext, Values,
};

use crate::assembly::ExecutorKind;
use crate::local::{Emitted, LocalTopology, RuntimeError, TopologyStats};

/// A spout that emits a fixed list of tuples, each with its index as message id, re-emits the
/// ones that fail, and is exhausted once every one has been acked. With several tasks, task
/// *i* of *n* emits the tuples whose index is *i* modulo *n*.
pub struct FixedSpout {
    fields: Fields,
    stream: String,
    tuples: Arc<[Values]>,
    next: usize,
    step: usize,
    replay: VecDeque<MessageId>,
    outstanding: usize,
}

impl FixedSpout {
    /// Emits `tuples` on the default stream, declared with `fields`.
    pub fn new(fields: Fields, tuples: impl Into<Arc<[Values]>>) -> Self {
        Self::on_stream(DEFAULT_STREAM_ID, fields, tuples)
    }

    /// Emits `tuples` on a named stream.
    pub fn on_stream(stream: &str, fields: Fields, tuples: impl Into<Arc<[Values]>>) -> Self {
        let tuples = tuples.into();
        FixedSpout {
            fields,
            stream: stream.to_owned(),
            outstanding: tuples.len(),
            tuples,
            next: 0,
            step: 1,
            replay: VecDeque::new(),
        }
    }
}

impl Spout for FixedSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        declarer.declare_stream(self.stream.clone(), self.fields.clone());
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let n = context
            .component_tasks(context.this_component_id())
            .len()
            .max(1);
        self.next = context.this_task_index();
        self.step = n;
        self.outstanding = (self.next..self.tuples.len()).step_by(n).count();
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        let id = match self.replay.pop_front() {
            Some(id) => id,
            None if self.next < self.tuples.len() => {
                let id = self.next as MessageId;
                self.next += self.step;
                id
            }
            None => return Ok(()),
        };
        let values = self.tuples[id as usize].clone();
        out.emit_on(&self.stream, values, Some(id))?;
        Ok(())
    }

    fn ack(&mut self, _msg_id: MessageId) {
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    fn fail(&mut self, msg_id: MessageId) {
        self.replay.push_back(msg_id);
    }

    fn is_exhausted(&self) -> bool {
        self.outstanding == 0
    }
}

/// Runs a topology to completion in local mode (Storm's `completeTopology`).
pub struct CompleteTopology {
    conf: Config,
    timeout: Duration,
    mocks: Vec<(String, String, Arc<[Values]>)>,
    capture: bool,
}

impl Default for CompleteTopology {
    fn default() -> Self {
        Self::new()
    }
}

impl CompleteTopology {
    /// Default configuration, a 60 s deadline, no mocked spouts.
    pub fn new() -> Self {
        CompleteTopology {
            conf: Config::new(),
            timeout: Duration::from_secs(60),
            mocks: Vec::new(),
            capture: true,
        }
    }

    /// Whether to keep every emitted tuple for [`CompletedRun::emitted`] (the default). Long
    /// runs turn it off so the kept tuples do not grow the process.
    pub fn capture(mut self, capture: bool) -> Self {
        self.capture = capture;
        self
    }

    /// The topology configuration to run with.
    pub fn conf(mut self, conf: Config) -> Self {
        self.conf = conf;
        self
    }

    /// Gives up (and reports an incomplete run) after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces a spout with a [`FixedSpout`] emitting `tuples` on its default stream.
    pub fn mock(self, spout: &str, tuples: impl IntoIterator<Item = Values>) -> Self {
        self.mock_stream(spout, DEFAULT_STREAM_ID, tuples)
    }

    /// Replaces a spout with a [`FixedSpout`] emitting `tuples` on `stream`.
    pub fn mock_stream(
        mut self,
        spout: &str,
        stream: &str,
        tuples: impl IntoIterator<Item = Values>,
    ) -> Self {
        let tuples: Arc<[Values]> = tuples.into_iter().collect();
        self.mocks
            .push((spout.to_owned(), stream.to_owned(), tuples));
        self
    }

    /// Runs until every spout is exhausted, no tree is pending and no batch is in flight, or
    /// until the deadline. Every spout must be mocked or report
    /// [`is_exhausted`](Spout::is_exhausted), or the run ends at the deadline.
    ///
    /// # Errors
    /// When a mocked component is not a spout of the topology, or the topology cannot start.
    pub fn run(self, topology: &Topology) -> Result<CompletedRun, CompleteError> {
        let mut topology = topology.clone();
        for (spout, stream, tuples) in self.mocks {
            let fields = topology
                .spec()
                .component(&spout)
                .and_then(|c| c.outputs.iter().find(|s| s.id == stream))
                .map(|s| s.fields.clone())
                .unwrap_or_default();
            let factory = Arc::new(move || {
                Box::new(FixedSpout::on_stream(
                    &stream,
                    fields.clone(),
                    Arc::clone(&tuples),
                )) as Box<dyn Spout>
            });
            topology = topology.with_factory(&spout, ComponentFactory::Spout(factory))?;
        }
        let running = LocalTopology::start_with(
            "complete-topology",
            &self.conf,
            &topology,
            true,
            self.capture,
        )?;
        let deadline = Instant::now() + self.timeout;
        let complete = loop {
            if is_complete(&running) {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let (stats, emitted) = running.kill_capturing(Duration::ZERO);
        Ok(CompletedRun {
            emitted,
            stats,
            complete,
        })
    }
}

/// Spouts done and idle, then the flow quiet: see [`crate::stats::Flow`] for why this order.
fn is_complete(running: &LocalTopology) -> bool {
    let stats = running.stats();
    let spouts_done = stats
        .components
        .iter()
        .filter(|c| c.kind == ExecutorKind::Spout)
        // The checkpoint spout of a stateful topology never runs dry; the data spouts' trees
        // complete only as its checkpoints commit.
        .filter(|c| c.id != squall_topology_api::state::CHECKPOINT_COMPONENT_ID)
        .all(|c| c.exhausted && c.counters.pending == 0);
    spouts_done && running.is_quiet()
}

/// Why a complete-topology run could not start.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// A mock names something that is not a spout of the topology.
    #[error(transparent)]
    Mock(#[from] InvalidTopology),
    /// The topology could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// The outcome of [`CompleteTopology::run`].
pub struct CompletedRun {
    emitted: Emitted,
    stats: TopologyStats,
    complete: bool,
}

impl CompletedRun {
    /// Whether every tree completed and everything stopped moving before the deadline.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// What a component emitted on a stream, in emit order per executor.
    pub fn emitted(&self, component: &str, stream: &str) -> Vec<&Values> {
        self.emitted
            .get(component)
            .into_iter()
            .flatten()
            .filter(|(s, _)| s == stream)
            .map(|(_, v)| v)
            .collect()
    }

    /// Trees acked at the spouts.
    pub fn spout_acked(&self) -> u64 {
        self.stats.spout_totals().acked
    }

    /// Trees failed at the spouts (explicitly or by timeout).
    pub fn spout_failed(&self) -> u64 {
        self.stats.spout_totals().failed
    }

    /// The final counters of every component.
    pub fn stats(&self) -> &TopologyStats {
        &self.stats
    }
}
