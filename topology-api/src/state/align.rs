//! Barrier alignment for exactly-once state (Flink's aligned checkpoints, on Storm's
//! checkpoint steps): in that mode each checkpoint step travels *with* the data, from the
//! spouts down every edge, and a task acts on it only once it has arrived from every upstream
//! task. Meanwhile the inputs of an upstream task that already sent it are held back, because
//! they belong after the step; the inputs of the others are processed, because they belong
//! before it. So the state a task snapshots at PREPARE(n) reflects exactly the tuples the
//! spouts emitted before they recorded their positions for n.
//!
//! A step that never completes (a copy was lost with a worker) is superseded by the recovery
//! step that follows, a try with a higher sequence number; what was held for it came after a
//! barrier of an abandoned try, so it is dropped: every recovery ends with the spouts back at
//! their committed positions, which replays it. Copies of an abandoned try arriving later are
//! stale.

use rustc_hash::FxHashSet;

use super::checkpoint::Step;
use crate::TaskId;

/// What a barrier's arrival means for the task.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome<T> {
    /// More copies are due.
    Waiting,
    /// The last copy: run the step, forward it, then process `released` in order.
    Complete { released: Vec<T> },
    /// A copy of an abandoned or finished try: ignore it.
    Stale,
}

/// One task's alignment state; `T` is what is held (tuples, in the runtime).
#[derive(Debug)]
pub(crate) struct Aligner<T> {
    senders: usize,
    current: Option<Step>,
    arrived: FxHashSet<TaskId>,
    held: Vec<T>,
    /// The sequence number of the last try run.
    last_run: u64,
}

impl<T> Aligner<T> {
    /// `senders` is the number of upstream tasks that send every step.
    pub(crate) fn new(senders: usize) -> Self {
        Aligner {
            senders: senders.max(1),
            current: None,
            arrived: FxHashSet::default(),
            held: Vec::new(),
            last_run: 0,
        }
    }

    /// A data input from `from`: `Some` to process it now, `None` if it is held.
    pub(crate) fn data(&mut self, from: TaskId, item: T) -> Option<T> {
        if self.current.is_some() && self.arrived.contains(&from) {
            self.held.push(item);
            None
        } else {
            Some(item)
        }
    }

    /// A copy of `step` from `from`. Also returns what was held for a step this one
    /// superseded: the caller drops it (acks it unprocessed).
    pub(crate) fn barrier(&mut self, from: TaskId, step: Step) -> (Vec<T>, Outcome<T>) {
        if step.seq <= self.last_run || self.current.is_some_and(|c| step.seq < c.seq) {
            return (Vec::new(), Outcome::Stale);
        }
        let mut dropped = Vec::new();
        if self.current.map(|c| c.seq) != Some(step.seq) {
            if self.current.is_some() {
                dropped = std::mem::take(&mut self.held);
            }
            self.current = Some(step);
            self.arrived.clear();
        }
        self.arrived.insert(from);
        if self.arrived.len() < self.senders {
            return (dropped, Outcome::Waiting);
        }
        self.current = None;
        self.arrived.clear();
        self.last_run = step.seq;
        let released = std::mem::take(&mut self.held);
        (dropped, Outcome::Complete { released })
    }

    /// How many inputs are held.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::checkpoint::Action;
    use super::*;

    fn step(txid: i64, action: Action, seq: u64) -> Step {
        Step { txid, action, seq }
    }

    #[test]
    fn inputs_after_a_senders_barrier_wait_for_the_other_senders() {
        let mut a = Aligner::new(2);
        assert_eq!(a.data(1, "1a"), Some("1a"));
        assert_eq!(
            a.barrier(1, step(0, Action::Prepare, 1)),
            (vec![], Outcome::Waiting)
        );
        assert_eq!(a.data(1, "1b"), None, "after sender 1's barrier: held");
        assert_eq!(
            a.data(2, "2a"),
            Some("2a"),
            "before sender 2's barrier: processed"
        );
        assert_eq!(
            a.barrier(2, step(0, Action::Prepare, 1)),
            (
                vec![],
                Outcome::Complete {
                    released: vec!["1b"]
                }
            )
        );
        assert_eq!(a.data(1, "1c"), Some("1c"));
    }

    #[test]
    fn a_recovery_step_supersedes_an_incomplete_one_and_drops_what_it_held() {
        let mut a = Aligner::new(2);
        a.barrier(1, step(4, Action::Prepare, 10));
        assert_eq!(a.data(1, "x"), None);
        // Sender 2's PREPARE was lost with its worker; the coordinator rolls back.
        let (dropped, outcome) = a.barrier(1, step(4, Action::Rollback, 11));
        assert_eq!(dropped, ["x"]);
        assert_eq!(outcome, Outcome::Waiting);
        assert_eq!(a.data(1, "y"), None, "held for the rollback now");
        let (_, outcome) = a.barrier(2, step(4, Action::Rollback, 11));
        assert_eq!(
            outcome,
            Outcome::Complete {
                released: vec!["y"]
            }
        );
        assert_eq!(
            a.barrier(2, step(4, Action::Prepare, 10)).1,
            Outcome::Stale,
            "a late copy of the abandoned try"
        );
    }

    #[test]
    fn a_retried_step_never_mixes_the_copies_or_the_inputs_of_two_tries() {
        let mut a = Aligner::new(2);
        // Try 20 of INITSTATE reaches us from sender 1 only; sender 1 rewinds and replays.
        assert_eq!(
            a.barrier(1, step(3, Action::InitState, 20)).1,
            Outcome::Waiting
        );
        assert_eq!(a.data(1, "replay-1"), None);
        // Try 21: sender 1 rewinds again and replays the same inputs again.
        let (dropped, outcome) = a.barrier(1, step(3, Action::InitState, 21));
        assert_eq!(
            dropped,
            ["replay-1"],
            "the first replay is dropped, not counted twice"
        );
        assert_eq!(outcome, Outcome::Waiting);
        assert_eq!(a.data(1, "replay-2"), None);
        assert_eq!(
            a.barrier(2, step(3, Action::InitState, 20)).1,
            Outcome::Stale
        );
        assert_eq!(
            a.barrier(2, step(3, Action::InitState, 21)).1,
            Outcome::Complete {
                released: vec!["replay-2"]
            }
        );
    }

    proptest! {
        /// For any interleaving of two senders' inputs and barriers (each sender's own order
        /// kept, as its channel is FIFO), everything a sender sent before its barrier is
        /// processed before the step runs, and everything after, after it.
        #[test]
        fn the_step_splits_every_senders_inputs_at_its_barrier(
            before in proptest::collection::vec(0usize..8, 2),
            after in proptest::collection::vec(0usize..8, 2),
            order in proptest::collection::vec(any::<bool>(), 0..64),
        ) {
            // Each sender's sequence: `before` inputs, its barrier, `after` inputs.
            let seqs: Vec<Vec<Option<(u32, usize, bool)>>> = (0..2u32)
                .map(|s| {
                    let mut v: Vec<_> = (0..before[s as usize]).map(|i| Some((s + 1, i, false))).collect();
                    v.push(None);
                    v.extend((0..after[s as usize]).map(|i| Some((s + 1, i, true))));
                    v
                })
                .collect();
            let mut next = [0usize; 2];
            let mut a = Aligner::new(2);
            let mut processed: Vec<(u32, usize, bool)> = Vec::new();
            let mut step_ran_at: Option<usize> = None;
            let mut picks = order.into_iter().chain(std::iter::repeat(false));
            while next[0] < seqs[0].len() || next[1] < seqs[1].len() {
                let s = if next[0] >= seqs[0].len() { 1 } else if next[1] >= seqs[1].len() { 0 } else { usize::from(picks.next().unwrap_or(false)) };
                let item = seqs[s][next[s]];
                next[s] += 1;
                match item {
                    Some(x) => if let Some(x) = a.data(s as u32 + 1, x) { processed.push(x) },
                    None => {
                        let (dropped, outcome) = a.barrier(s as u32 + 1, step(0, Action::Prepare, 1));
                        prop_assert!(dropped.is_empty());
                        if let Outcome::Complete { released } = outcome {
                            step_ran_at = Some(processed.len());
                            processed.extend(released);
                        }
                    }
                }
            }
            let at = step_ran_at.expect("the step ran");
            prop_assert!(processed[..at].iter().all(|x| !x.2), "an input from after a barrier ran before the step");
            prop_assert!(processed[at..].iter().all(|x| x.2), "an input from before a barrier ran after the step");
            prop_assert_eq!(processed.len(), before.iter().sum::<usize>() + after.iter().sum::<usize>());
            prop_assert_eq!(a.held(), 0);
        }
    }
}
