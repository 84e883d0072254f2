//! A task's count of checkpoint copies in Storm's mode: one copy of each step arrives from
//! every upstream checkpoint task (the all-grouped `$checkpoint` streams), and the step runs
//! once, when the last copy is in (Storm's `CheckpointTupleForwarder`). Tries are told apart by
//! their sequence numbers: a copy of an older try is stale (its tree was abandoned), and a copy
//! of a newer try replaces the one being counted.

use rustc_hash::FxHashSet;

use super::checkpoint::Step;
use crate::TaskId;

/// What to do with one arriving checkpoint tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// More copies are due: ack this one and wait.
    Waiting,
    /// The last copy: run the step, forward it anchored to this tuple, then ack it.
    Complete,
    /// A copy of an abandoned or finished try: ack and ignore.
    Stale,
}

/// The copies of the current try that have arrived.
#[derive(Debug)]
pub(crate) struct Arrivals {
    expected: usize,
    current: Option<u64>,
    senders: FxHashSet<TaskId>,
    /// The sequence number of the last try run.
    last_run: u64,
}

impl Arrivals {
    /// `expected` is the number of upstream checkpoint tasks (at least one).
    pub(crate) fn new(expected: usize) -> Self {
        Arrivals {
            expected: expected.max(1),
            current: None,
            senders: FxHashSet::default(),
            last_run: 0,
        }
    }

    pub(crate) fn arrive(&mut self, from: TaskId, step: Step) -> Arrival {
        if step.seq <= self.last_run || self.current.is_some_and(|c| step.seq < c) {
            return Arrival::Stale;
        }
        if self.current != Some(step.seq) {
            self.current = Some(step.seq);
            self.senders.clear();
        }
        self.senders.insert(from);
        if self.senders.len() < self.expected {
            return Arrival::Waiting;
        }
        self.current = None;
        self.senders.clear();
        self.last_run = step.seq;
        Arrival::Complete
    }
}

#[cfg(test)]
mod tests {
    use super::super::checkpoint::Action;
    use super::*;

    fn step(txid: i64, action: Action, seq: u64) -> Step {
        Step { txid, action, seq }
    }

    #[test]
    fn a_step_runs_once_every_upstream_task_sent_it() {
        let mut a = Arrivals::new(3);
        assert_eq!(a.arrive(1, step(0, Action::Prepare, 5)), Arrival::Waiting);
        assert_eq!(
            a.arrive(1, step(0, Action::Prepare, 5)),
            Arrival::Waiting,
            "a duplicate counts once"
        );
        assert_eq!(a.arrive(2, step(0, Action::Prepare, 5)), Arrival::Waiting);
        assert_eq!(a.arrive(3, step(0, Action::Prepare, 5)), Arrival::Complete);
        assert_eq!(a.arrive(1, step(0, Action::Commit, 6)), Arrival::Waiting);
    }

    #[test]
    fn with_one_upstream_task_every_step_runs_at_once() {
        let mut a = Arrivals::new(1);
        assert_eq!(
            a.arrive(1, step(-1, Action::InitState, 1)),
            Arrival::Complete
        );
        assert_eq!(a.arrive(1, step(0, Action::Prepare, 2)), Arrival::Complete);
    }

    #[test]
    fn copies_of_an_abandoned_try_never_complete_the_retry() {
        let mut a = Arrivals::new(2);
        // Try 7 of ROLLBACK(4): sender 2's copy was lost with its worker.
        assert_eq!(a.arrive(1, step(4, Action::Rollback, 7)), Arrival::Waiting);
        // Try 8 of the same step: sender 1's copy of try 7 does not count for it.
        assert_eq!(a.arrive(2, step(4, Action::Rollback, 8)), Arrival::Waiting);
        assert_eq!(a.arrive(2, step(4, Action::Rollback, 7)), Arrival::Stale);
        assert_eq!(a.arrive(1, step(4, Action::Rollback, 8)), Arrival::Complete);
        assert_eq!(
            a.arrive(1, step(4, Action::Rollback, 8)),
            Arrival::Stale,
            "already run"
        );
    }
}
