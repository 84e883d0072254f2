//! Metrics aggregation: every supervisor heartbeat carries its workers' totals per executor;
//! Nimbus turns consecutive reports into deltas and keeps them in Storm's windows per
//! component and per executor, with the components' newest errors.
//!
//! A report is keyed by where it came from (host, port, pid) as well as by executor, so a
//! worker that restarts or an executor that moves starts a new series instead of being
//! subtracted from the old one, and an old worker still reporting while it dies cannot be
//! counted twice.

pub mod histogram;
pub mod saved;
pub mod tally;
pub mod view;
pub mod window;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use squall_proto::pb;
use squall_topology_api::TaskId;

use tally::Tally;
use window::Rolling;

/// Errors kept per component (Storm keeps 10).
const KEPT_ERRORS: usize = 10;

/// A worker this young when first heard of counts into the windows from its start; an older
/// one (Nimbus restarted under it) counts into all time only, so windows show no spike.
const NEW_WORKER_SECS: u64 = 15;

/// A source silent this long is forgotten.
const SOURCE_EXPIRY: Duration = Duration::from_secs(120);

/// An executor in a worker process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
struct SourceKey {
    host: String,
    port: u32,
    pid: u32,
    component: String,
    first_task: TaskId,
}

struct Source {
    last: Tally,
    seen: Instant,
}

/// What Nimbus knows of one executor.
pub struct ExecutorMetrics {
    /// Its tasks.
    pub tasks: Vec<TaskId>,
    /// Where it last ran.
    pub host: String,
    /// Its worker's port.
    pub port: u32,
    /// Batches in its input queue at the last report.
    pub queue_depth: u64,
    /// Trees in flight (spouts) at the last report.
    pub pending: u64,
    /// Its figures (histograms collapsed to their means).
    pub rolling: Rolling,
    /// When it last reported.
    pub seen: Instant,
    /// Its worker's uptime at the last report.
    pub uptime_secs: u64,
}

/// What Nimbus knows of one topology's components.
#[derive(Default)]
pub struct TopologyMetrics {
    sources: HashMap<SourceKey, Source>,
    /// Per component.
    pub components: BTreeMap<String, Rolling>,
    /// Per (component, first task).
    pub executors: BTreeMap<(String, TaskId), ExecutorMetrics>,
    /// Per component, oldest first, with host and port filled in.
    pub errors: BTreeMap<String, VecDeque<pb::ErrorReport>>,
}

/// Every topology's metrics.
#[derive(Default)]
pub struct Metrics {
    topologies: HashMap<String, TopologyMetrics>,
}

impl Metrics {
    /// Takes in one supervisor's report of its workers.
    pub fn ingest(&mut self, host: &str, workers: &[pb::RunningWorker], now_secs: u64) {
        let now = Instant::now();
        for w in workers {
            let t = self.topologies.entry(w.topology_id.clone()).or_default();
            for e in &w.executors {
                t.ingest_executor(host, w, e, now, now_secs);
            }
        }
    }

    /// Drops what is known of topologies that no longer exist and of silent sources.
    pub fn retain(&mut self, exists: impl Fn(&str) -> bool) {
        self.topologies.retain(|id, _| exists(id));
        for t in self.topologies.values_mut() {
            t.sources.retain(|_, s| s.seen.elapsed() < SOURCE_EXPIRY);
            t.executors.retain(|_, e| e.seen.elapsed() < SOURCE_EXPIRY);
        }
    }

    /// One topology's metrics, if any report arrived.
    pub fn topology(&self, id: &str) -> Option<&TopologyMetrics> {
        self.topologies.get(id)
    }
}

impl TopologyMetrics {
    fn ingest_executor(
        &mut self,
        host: &str,
        worker: &pb::RunningWorker,
        e: &pb::ExecutorStats,
        now: Instant,
        now_secs: u64,
    ) {
        let first_task = e.tasks.first().copied().unwrap_or(0);
        let key = SourceKey {
            host: host.to_owned(),
            port: worker.port,
            pid: worker.pid,
            component: e.component.clone(),
            first_task,
        };
        let totals = Tally::from_wire(e);
        let (delta, in_windows) = match self.sources.get(&key) {
            Some(s) => match totals.since(&s.last) {
                Some(d) => (d, true),
                None => (totals.clone(), true),
            },
            None => (totals.clone(), worker.uptime_secs <= NEW_WORKER_SECS),
        };
        self.sources.insert(
            key,
            Source {
                last: totals,
                seen: now,
            },
        );
        let component = self
            .components
            .entry(e.component.clone())
            .or_insert_with(|| Rolling::new(now_secs));
        let executor = self
            .executors
            .entry((e.component.clone(), first_task))
            .or_insert_with(|| ExecutorMetrics {
                tasks: e.tasks.clone(),
                host: host.to_owned(),
                port: worker.port,
                queue_depth: 0,
                pending: 0,
                rolling: Rolling::new(now_secs),
                seen: now,
                uptime_secs: 0,
            });
        executor.tasks.clone_from(&e.tasks);
        executor.host = host.to_owned();
        executor.port = worker.port;
        executor.queue_depth = e.queue_depth;
        executor.pending = e.pending;
        executor.seen = now;
        executor.uptime_secs = worker.uptime_secs;
        let collapsed = delta.collapsed();
        if in_windows {
            component.add(now_secs, &delta);
            executor.rolling.add(now_secs, &collapsed);
        } else {
            component.add_to_all_time(&delta);
            executor.rolling.add_to_all_time(&collapsed);
        }
        let errors = self.errors.entry(e.component.clone()).or_default();
        for r in &e.recent_errors {
            let report = pb::ErrorReport {
                host: host.to_owned(),
                port: worker.port,
                ..r.clone()
            };
            if !errors.contains(&report) {
                errors.push_back(report);
            }
        }
        if errors.len() > KEPT_ERRORS {
            errors.make_contiguous().sort_by_key(|r| r.time_ms);
            while errors.len() > KEPT_ERRORS {
                errors.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use window::Window;

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
    fn repeated_reports_count_once_and_restarts_start_over() {
        let mut m = Metrics::default();
        m.ingest("h", &[report(1, 1, 100)], 1000);
        m.ingest("h", &[report(1, 2, 100)], 1001);
        m.ingest("h", &[report(1, 3, 250)], 1002);
        assert_eq!(all_time(&m, 1002), 250);
        // The worker restarted with a new pid: its counts start again from zero.
        m.ingest("h", &[report(2, 1, 30)], 1003);
        assert_eq!(all_time(&m, 1003), 280);
        // The old process reporting once more while it dies adds nothing.
        m.ingest("h", &[report(1, 4, 250)], 1004);
        assert_eq!(all_time(&m, 1004), 280);
    }

    #[test]
    fn an_old_worker_first_heard_of_stays_out_of_the_windows() {
        let mut m = Metrics::default();
        m.ingest("h", &[report(1, 3600, 1_000_000)], 1000);
        m.ingest("h", &[report(1, 3601, 1_000_010)], 1001);
        let t = m.topology("t").expect("reported");
        assert_eq!(
            t.components["spout"]
                .window(Window::TenMinutes, 1001)
                .0
                .emitted,
            10
        );
        assert_eq!(all_time(&m, 1001), 1_000_010);
    }

    #[test]
    fn errors_are_kept_once_with_their_host() {
        let mut m = Metrics::default();
        let mut w = report(1, 1, 1);
        w.executors[0].recent_errors = vec![pb::ErrorReport {
            time_ms: 5,
            task: 1,
            message: "boom".into(),
            ..pb::ErrorReport::default()
        }];
        m.ingest("10.0.0.1", std::slice::from_ref(&w), 1000);
        m.ingest("10.0.0.1", &[w], 1001);
        let errors = &m.topology("t").expect("reported").errors["spout"];
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].host, "10.0.0.1");
        assert_eq!(errors[0].port, 6700);
    }

    #[test]
    fn all_time_counts_survive_a_restart_without_counting_live_workers_twice() {
        let mut before = Metrics::default();
        // A worker that died, then its replacement.
        before.ingest("h", &[report(1, 5, 1000)], 1000);
        before.ingest("h", &[report(2, 5, 200)], 1010);
        assert_eq!(all_time(&before, 1010), 1200);

        let json = serde_json::to_vec(&before.save()).expect("saved");
        let saved: Vec<(String, saved::SavedMetrics)> =
            serde_json::from_slice(&json).expect("read");
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
