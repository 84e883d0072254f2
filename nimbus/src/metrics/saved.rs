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

#[cfg(test)]
mod tests {
    use squall_proto::pb;

    use super::*;
    use crate::metrics::window::Window;

    fn report(pid: u32, uptime: u64, emitted: u64) -> pb::RunningWorker {
        pb::RunningWorker {
            topology_id: "t".into(),
            port: 6700,
            pid,
            uptime_secs: uptime,
            executors: vec![pb::ExecutorStats {
                component: "spout".into(),
                tasks: vec![1],
                emitted,
                ..pb::ExecutorStats::default()
            }],
            memory_bytes: 0,
        }
    }

    fn all_time(m: &Metrics, now: u64) -> u64 {
        let t = m.topology("t").expect("reported");
        t.components["spout"].window(Window::All, now).0.emitted
    }

    #[test]
    fn all_time_counts_survive_a_restart_without_counting_live_workers_twice() {
        let mut before = Metrics::default();
        // A worker that died, then its replacement.
        before.ingest("h", &[report(1, 5, 1000)], 1000);
        before.ingest("h", &[report(2, 5, 200)], 1010);
        assert_eq!(all_time(&before, 1010), 1200);

        let json = serde_json::to_vec(&before.save()).expect("saved");
        let saved: Vec<(String, SavedMetrics)> = serde_json::from_slice(&json).expect("read");
        let mut after = Metrics::default();
        for (id, s) in saved {
            after.restore(&id, s);
        }
        assert_eq!(all_time(&after, 1020), 1200);
        // The live worker, now old, reports its totals again: only the new part counts.
        after.ingest("h", &[report(2, 60, 250)], 1030);
        assert_eq!(all_time(&after, 1030), 1250);
        let t = after.topology("t").expect("restored");
        assert_eq!(
            t.components["spout"]
                .window(Window::TenMinutes, 1030)
                .0
                .emitted,
            1250,
            "recent buckets are restored too"
        );
    }
}
