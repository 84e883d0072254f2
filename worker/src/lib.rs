//! # Squall runtime
//!
//! Runs topologies built with the topology API (re-exported here, so a topology needs this
//! one dependency). [`LocalTopology`] and [`LocalCluster`] run a whole topology in this
//! process; [`testing`] runs one to completion for tests.
//!
//! Where things happen: `executor/` runs tasks on threads, `router` picks the tasks an emit
//! goes to (with `grouping`), `collector` anchors and acks, `outbox` batches per destination,
//! `acker` keeps the XOR of every tuple tree, `pending` times trees out at the spout.
//!
//! # Examples
//! ```
//! use squall_worker::prelude::*;
//! use squall_worker::LocalTopology;
//! use std::time::Duration;
//!
//! struct Count(u64);
//! impl Spout for Count {
//!     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
//!     fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
//!         if self.0 < 100 {
//!             self.0 += 1;
//!             out.emit_with_id(values![self.0 as i64], self.0)?;
//!         }
//!         Ok(())
//!     }
//! }
//! struct Sink;
//! impl Bolt for Sink {
//!     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
//!         out.ack(&t);
//!         Ok(())
//!     }
//! }
//! let mut b = TopologyBuilder::new();
//! b.set_spout("count", || Count(0), 1);
//! b.set_bolt("sink", || Sink, 2).shuffle_grouping("count");
//! let running = LocalTopology::start("demo", &Config::new(), &b.build().unwrap()).unwrap();
//! while running.stats().spout_totals().acked < 100 {
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//! let stats = running.kill(Duration::ZERO);
//! assert_eq!(stats.spout_totals().acked, 100);
//! ```

pub(crate) mod acker;
pub(crate) mod anchoring;
mod assembly;
mod cluster;
pub(crate) mod collector;
pub(crate) mod executor;
pub(crate) mod grouping;
pub(crate) mod inflight;
pub(crate) mod latency;
mod local;
pub(crate) mod message;
pub mod multilang;
pub(crate) mod outbox;
pub(crate) mod pending;
pub(crate) mod router;
mod settings;
pub mod stats;
pub mod testing;
pub(crate) mod transport;
pub(crate) mod waker;

pub use assembly::ExecutorKind;
pub use cluster::{ClusterError, serve_cluster_role};
pub use grouping::fields_target;
pub use local::{
    ComponentStats, Emitted, LocalCluster, LocalTopology, RuntimeError, TopologyStats,
};
pub use squall_topology_api as api;
pub use squall_topology_api::*;
pub use stats::{Counters, ReportedError};
/// The logging macros (`tracing::info!` and friends), so a topology needs no dependency of its
/// own to log: in a worker, lines go to the worker's log under the executor's topology,
/// component and task, which is what `squall logs --component` filters on.
///
/// ```
/// squall_worker::tracing::info!(words = 3, "split a sentence");
/// ```
pub use tracing;

/// Everything a topology file usually needs.
pub mod prelude {
    pub use squall_topology_api::prelude::*;

    pub use crate::{LocalCluster, LocalTopology};
}

/// The README's example topology, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExample;
