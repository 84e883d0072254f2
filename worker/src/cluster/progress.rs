//! Whether a worker's executors are making progress: the decision behind restarting a wedged
//! worker (`supervisor.worker.progress.timeout.secs`).
//!
//! A worker's main thread heartbeats even when every executor is stuck (a deadlock, a
//! bolt in a call that never returns), so liveness alone cannot see it. An executor is stalled
//! while input waits in its queues and none of its counters moves; an idle executor (nothing
//! queued) is never stalled, however long it waits. Counters are what the executor itself last
//! published, queue lengths are read live from the channels, so a stuck executor cannot hide.

use std::time::{Duration, Instant};

/// One executor as seen at a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Observation {
    /// The sum of its counters (executed, emitted, acked, failed, transferred): any work moves it.
    pub progress: u64,
    /// Batches and control messages waiting in its queues now.
    pub queued: usize,
}

/// A stalled executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stall {
    /// Its index in the observations.
    pub index: usize,
    /// For how long it has had input and done nothing.
    pub stalled_for: Duration,
    /// What waits in its queues now.
    pub queued: usize,
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    progress: u64,
    stalled_since: Option<Instant>,
}

/// Tracks the executors of one executor set (start a new watch when the set changes).
#[derive(Debug, Default)]
pub(crate) struct ProgressWatch {
    tracked: Vec<Tracked>,
}

impl ProgressWatch {
    /// Takes in the executors' state at `now`; returns the stalled executors, longest stalled
    /// first. An executor blocked on a stuck one downstream stalls too: all are named, so the
    /// one that causes it is among them.
    pub fn observe(&mut self, now: Instant, executors: &[Observation]) -> Vec<Stall> {
        if self.tracked.len() != executors.len() {
            self.tracked = executors
                .iter()
                .map(|o| Tracked {
                    progress: o.progress,
                    stalled_since: None,
                })
                .collect();
            return Vec::new();
        }
        let mut stalls = Vec::new();
        for (index, (t, o)) in self.tracked.iter_mut().zip(executors).enumerate() {
            if o.progress != t.progress || o.queued == 0 {
                t.progress = o.progress;
                t.stalled_since = None;
                continue;
            }
            let since = *t.stalled_since.get_or_insert(now);
            let stalled_for = now.saturating_duration_since(since);
            stalls.push(Stall {
                index,
                stalled_for,
                queued: o.queued,
            });
        }
        stalls.sort_by_key(|s| std::cmp::Reverse(s.stalled_for));
        stalls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        // A fixed base keeps the arithmetic exact.
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *BASE.get_or_init(Instant::now) + Duration::from_secs(secs)
    }

    fn obs(progress: u64, queued: usize) -> Observation {
        Observation { progress, queued }
    }

    #[test]
    fn input_waiting_with_no_work_done_is_a_stall_that_grows() {
        let mut w = ProgressWatch::default();
        assert_eq!(w.observe(at(0), &[obs(5, 3), obs(9, 0)]), vec![]);
        let s = w.observe(at(1), &[obs(5, 3), obs(9, 0)]);
        assert_eq!((s[0].index, s[0].stalled_for), (0, Duration::ZERO));
        let s = w.observe(at(4), &[obs(5, 7), obs(9, 0)]);
        assert_eq!(
            s,
            vec![Stall {
                index: 0,
                stalled_for: Duration::from_secs(3),
                queued: 7
            }]
        );
    }

    #[test]
    fn any_progress_or_an_empty_queue_ends_a_stall() {
        let mut w = ProgressWatch::default();
        w.observe(at(0), &[obs(1, 2)]);
        w.observe(at(1), &[obs(1, 2)]);
        assert_eq!(w.observe(at(5), &[obs(2, 2)]), vec![], "it did work");
        w.observe(at(6), &[obs(2, 2)]);
        assert_eq!(w.observe(at(9), &[obs(2, 0)]), vec![], "it caught up");
        // A stall starts again from scratch afterwards.
        let s = w.observe(at(10), &[obs(2, 1)]);
        assert_eq!(s[0].stalled_for, Duration::ZERO);
    }

    #[test]
    fn an_idle_executor_is_never_stalled() {
        let mut w = ProgressWatch::default();
        for t in 0..100 {
            assert_eq!(w.observe(at(t), &[obs(0, 0)]), vec![]);
        }
    }

    #[test]
    fn every_stall_is_reported_longest_first() {
        let mut w = ProgressWatch::default();
        w.observe(at(0), &[obs(0, 0), obs(0, 1)]);
        w.observe(at(1), &[obs(0, 0), obs(0, 1)]);
        w.observe(at(2), &[obs(0, 1), obs(0, 1)]);
        let s = w.observe(at(5), &[obs(0, 1), obs(0, 1)]);
        let got: Vec<(usize, u64)> = s
            .iter()
            .map(|s| (s.index, s.stalled_for.as_secs()))
            .collect();
        assert_eq!(got, vec![(1, 4), (0, 3)]);
    }
}
