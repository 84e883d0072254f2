//! The checkpoint coordinator's state machine (Storm's `CheckpointSpout` and
//! `CheckPointState`), as a pure value: the spout shell persists [`Progress`], emits what
//! [`Coordinator::next`] returns and reports acks and fails back.
//!
//! A checkpoint is two steps over the whole topology, each one tuple tree: PREPARE(n) makes
//! every stateful task write its changes since the last checkpoint aside, and once every task
//! has done so, COMMIT(n) makes them the committed state. A failed or timed-out step puts the
//! coordinator into recovery, which resolves the step in flight (ROLLBACK a prepare, finish a
//! commit) and ends with INITSTATE, which every task acks once its state is loaded. A
//! coordinator that (re)starts begins in recovery, so restarted tasks load their state before
//! they process a tuple.

use serde::{Deserialize, Serialize};

/// What a checkpoint tuple asks the stateful tasks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Action {
    Prepare,
    Commit,
    Rollback,
    InitState,
}

impl Action {
    /// The name a checkpoint tuple carries in its `action` field (Storm's enum names).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Prepare => "PREPARE",
            Action::Commit => "COMMIT",
            Action::Rollback => "ROLLBACK",
            Action::InitState => "INITSTATE",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "PREPARE" => Action::Prepare,
            "COMMIT" => Action::Commit,
            "ROLLBACK" => Action::Rollback,
            "INITSTATE" => Action::InitState,
            _ => return None,
        })
    }
}

/// Where the last checkpoint got to: what the coordinator persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Phase {
    /// `txid` is committed everywhere.
    Committed,
    /// PREPARE(txid) was sent and not yet acked.
    Preparing,
    /// PREPARE(txid) was acked; COMMIT(txid) is due or in flight.
    Committing,
}

/// The persisted state: Storm's `{txid, state}`, initially `{-1, COMMITTED}`, and the
/// sequence number of the last step emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub txid: i64,
    pub phase: Phase,
    #[serde(default)]
    pub seq: u64,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            txid: -1,
            phase: Phase::Committed,
            seq: 0,
        }
    }
}

/// One checkpoint tuple: its transaction and action, and the sequence number that tells one
/// try of a step from the next (a retried ROLLBACK, COMMIT or INITSTATE keeps its txid and
/// action). Sequence numbers only grow, across coordinator restarts too (they are persisted
/// before each emit), so a task can tell a copy of an abandoned try from the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub txid: i64,
    pub action: Action,
    pub seq: u64,
}

/// The coordinator: its persisted progress, whether it is recovering, and the step in flight
/// (one at a time).
#[derive(Debug, Clone)]
pub(crate) struct Coordinator {
    progress: Progress,
    recovering: bool,
    in_flight: Option<Step>,
}

impl Coordinator {
    /// A coordinator resuming from `progress`; it starts in recovery, as Storm's does.
    pub(crate) fn resume(progress: Progress) -> Self {
        Coordinator {
            progress,
            recovering: true,
            in_flight: None,
        }
    }

    pub(crate) fn progress(&self) -> Progress {
        self.progress
    }

    #[cfg(test)]
    pub(crate) fn is_recovering(&self) -> bool {
        self.recovering
    }

    /// The step in flight, if any.
    pub(crate) fn in_flight(&self) -> Option<Step> {
        self.in_flight
    }

    /// The step to emit now, if any; `interval_elapsed` says whether a new checkpoint is due.
    /// The caller persists [`Coordinator::progress`] (which changed: at least its sequence
    /// number) before emitting.
    pub(crate) fn next(&mut self, interval_elapsed: bool) -> Option<Step> {
        if self.in_flight.is_some() {
            return None;
        }
        let Progress { txid, phase, seq } = self.progress;
        let (txid, action) = if self.recovering {
            let action = match phase {
                Phase::Preparing => Action::Rollback,
                Phase::Committing => Action::Commit,
                Phase::Committed => Action::InitState,
            };
            (txid, action)
        } else {
            match phase {
                Phase::Committed if interval_elapsed => {
                    self.progress.txid = txid + 1;
                    self.progress.phase = Phase::Preparing;
                    (txid + 1, Action::Prepare)
                }
                Phase::Committed => return None,
                // Only reachable through a restart, which recovers first; emit what is due.
                Phase::Preparing => (txid, Action::Prepare),
                Phase::Committing => (txid, Action::Commit),
            }
        };
        self.progress.seq = seq + 1;
        let step = Step {
            txid,
            action,
            seq: seq + 1,
        };
        self.in_flight = Some(step);
        Some(step)
    }

    /// The tree of `step` completed. Returns whether a checkpoint finished (COMMIT acked), so
    /// the shell can restart its interval.
    pub(crate) fn acked(&mut self, step: Step) -> bool {
        if self.in_flight != Some(step) {
            return false; // a step from before a failure: its outcome no longer matters
        }
        self.in_flight = None;
        let txid = step.txid;
        match step.action {
            Action::Prepare => {
                self.progress.phase = Phase::Committing;
                false
            }
            Action::Commit => {
                self.progress.phase = Phase::Committed;
                true
            }
            Action::Rollback => {
                self.progress.txid = txid - 1;
                self.progress.phase = Phase::Committed;
                false
            }
            Action::InitState => {
                self.recovering = false;
                false
            }
        }
    }

    /// The tree of `step` failed or timed out: recover.
    pub(crate) fn failed(&mut self, step: Step) {
        if self.in_flight == Some(step) {
            self.in_flight = None;
            self.recovering = true;
        }
    }
}

#[cfg(test)]
mod tests;
