//! The part of a topology's metrics that outlives Nimbus: every component's windows (all-time
//! totals and recent buckets) and the last totals heard from each executor, saved together so
//! they stay consistent. After a restart, a worker that kept running goes on from its saved
//! totals (its next report adds only what is new), and the counts of workers that died while
//! Nimbus was up are still in the all-time figures (DESIGN.md: counters are all-time totals).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::tally::Tally;
use super::window::Rolling;
use super::{Metrics, Source, SourceKey, TopologyMetrics};

/// What is saved of one topology.
#[derive(Debug, Serialize, Deserialize)]
pub struct SavedMetrics {
    components: BTreeMap<String, Rolling>,
    sources: Vec<(SourceKey, Tally)>,
}

impl Metrics {
    /// A snapshot of every topology's metrics to save.
    pub fn save(&self) -> Vec<(String, SavedMetrics)> {
        self.topologies
            .iter()
            .map(|(id, t)| (id.clone(), t.save()))
            .collect()
    }

    /// Takes back a topology's saved metrics (at start-up, before any report).
    pub fn restore(&mut self, topology_id: &str, saved: SavedMetrics) {
        let now = Instant::now();
        let t = self.topologies.entry(topology_id.to_owned()).or_default();
        t.components = saved.components;
        t.sources = saved
            .sources
            .into_iter()
            .map(|(key, last)| (key, Source { last, seen: now }))
            .collect();
    }
}

impl TopologyMetrics {
    fn save(&self) -> SavedMetrics {
        SavedMetrics {
            components: self.components.clone(),
            sources: self
                .sources
                .iter()
                .map(|(k, s)| (k.clone(), s.last.clone()))
                .collect(),
        }
    }
}
