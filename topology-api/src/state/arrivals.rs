//! A bolt's view of checkpoint tuples: one copy of each step arrives from every upstream
//! checkpoint task (the all-grouped `$checkpoint` streams), and the step runs once, when the
//! last copy is in (Storm's `CheckpointTupleForwarder`). Steps older than the last one run are
//! stale (a recovery moved on) and only acked.

use rustc_hash::FxHashMap;

use super::checkpoint::{Action, Step};

/// What to do with one arriving checkpoint tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// More copies are due: ack this one and wait.
    Waiting,
    /// The last copy: run the step, forward it anchored to this tuple, then ack it.
    Complete,
    /// A step from before the last one run: ack and ignore.
    Stale,
}

/// How many copies of each step have arrived.
#[derive(Debug)]
pub(crate) struct Arrivals {
    expected: usize,
    counts: FxHashMap<(i64, Action), usize>,
    /// The txid of the last step run; ROLLBACK(n) sets it to n - 1, so the INITSTATE(n - 1)
    /// that follows a rollback is not stale.
    last_txid: i64,
}

/// Steps counted at once; more would mean copies lost for good, so the oldest are dropped.
const MAX_OPEN_STEPS: usize = 64;

impl Arrivals {
    /// `expected` is the number of upstream checkpoint tasks (at least one).
    pub(crate) fn new(expected: usize) -> Self {
        Arrivals {
            expected: expected.max(1),
            counts: FxHashMap::default(),
            last_txid: i64::MIN,
        }
    }

    pub(crate) fn arrive(&mut self, step: Step) -> Arrival {
        if step.txid < self.last_txid {
            return Arrival::Stale;
        }
        let key = (step.txid, step.action);
        let count = self.counts.entry(key).or_insert(0);
        *count += 1;
        if *count < self.expected {
            if self.counts.len() > MAX_OPEN_STEPS {
                self.drop_oldest();
            }
            return Arrival::Waiting;
        }
        self.counts.remove(&key);
        self.last_txid = match step.action {
            Action::Rollback => step.txid - 1,
            _ => step.txid,
        };
        // Copies of older steps can never complete now.
        let last = self.last_txid;
        self.counts.retain(|&(txid, _), _| txid >= last);
        Arrival::Complete
    }

    fn drop_oldest(&mut self) {
        if let Some(&oldest) = self.counts.keys().min() {
            self.counts.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(txid: i64, action: Action) -> Step {
        Step { txid, action }
    }

    #[test]
    fn a_step_runs_once_every_upstream_task_sent_it() {
        let mut a = Arrivals::new(3);
        assert_eq!(a.arrive(step(0, Action::Prepare)), Arrival::Waiting);
        assert_eq!(a.arrive(step(0, Action::Prepare)), Arrival::Waiting);
        assert_eq!(a.arrive(step(0, Action::Prepare)), Arrival::Complete);
        assert_eq!(a.arrive(step(0, Action::Commit)), Arrival::Waiting);
    }

    #[test]
    fn with_one_upstream_task_every_step_runs_at_once() {
        let mut a = Arrivals::new(1);
        assert_eq!(a.arrive(step(-1, Action::InitState)), Arrival::Complete);
        assert_eq!(a.arrive(step(0, Action::Prepare)), Arrival::Complete);
    }

    #[test]
    fn older_steps_are_stale_but_a_rollback_lets_the_previous_txid_through() {
        let mut a = Arrivals::new(1);
        assert_eq!(a.arrive(step(5, Action::Prepare)), Arrival::Complete);
        assert_eq!(a.arrive(step(4, Action::Commit)), Arrival::Stale);
        assert_eq!(a.arrive(step(5, Action::Rollback)), Arrival::Complete);
        assert_eq!(a.arrive(step(4, Action::InitState)), Arrival::Complete);
        assert_eq!(a.arrive(step(3, Action::Commit)), Arrival::Stale);
    }

    #[test]
    fn copies_of_a_step_overtaken_by_a_newer_one_are_forgotten() {
        let mut a = Arrivals::new(2);
        assert_eq!(a.arrive(step(1, Action::Prepare)), Arrival::Waiting);
        // The other copy was lost with a worker; recovery moved on to txid 2.
        assert_eq!(a.arrive(step(2, Action::Prepare)), Arrival::Waiting);
        assert_eq!(a.arrive(step(2, Action::Prepare)), Arrival::Complete);
        assert_eq!(a.arrive(step(1, Action::Prepare)), Arrival::Stale);
        assert!(a.counts.is_empty());
    }

    #[test]
    fn open_steps_are_bounded() {
        let mut a = Arrivals::new(2);
        for txid in 0..1000 {
            a.arrive(step(txid, Action::Prepare));
        }
        assert!(a.counts.len() <= MAX_OPEN_STEPS + 1);
    }
}
