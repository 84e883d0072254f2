//! The acker's bookkeeping: one 64-bit XOR per tuple tree (Storm's `__acker` bolt).
//!
//! Every edge of a tree is a random 64-bit id that is XORed in twice: once when the tuple is
//! emitted (in the spout's init or its parent's ack) and once when the tuple is acked. The
//! tree's value returns to zero exactly when every emitted tuple has been acked, whatever the
//! order in which the messages arrive; a wrong zero has probability 2^-64 per update.
//!
//! Entries nobody touches for two to three `topology.message.timeout.secs` periods are dropped
//! silently: by then the spout has timed the tree out itself. No I/O here, so it can be tested
//! exhaustively.

use rustc_hash::FxHashMap;
use squall_topology_api::TaskId;

use crate::message::{AckKind, AckMsg};

/// A tree as the acker sees it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    xor: u64,
    /// The spout task that started the tree; 0 until its init arrives (task ids start at 1).
    spout_task: TaskId,
    failed: bool,
    /// The rotation epoch of the last update.
    epoch: u32,
}

/// The trees one acker executor tracks.
#[derive(Debug, Default)]
pub(crate) struct AckerState {
    trees: FxHashMap<u64, Entry>,
    epoch: u32,
}

impl AckerState {
    /// Applies one message from a spout or bolt; returns the message to send to the spout, if
    /// the tree completed, failed or had its timeout reset.
    pub fn apply(&mut self, msg: &AckMsg) -> Option<AckMsg> {
        let epoch = self.epoch;
        let entry = self.trees.entry(msg.root).or_insert(Entry {
            xor: 0,
            spout_task: 0,
            failed: false,
            epoch,
        });
        entry.epoch = epoch;
        let mut reset = false;
        match msg.kind {
            AckKind::Init => {
                entry.xor ^= msg.value;
                entry.spout_task = msg.task;
            }
            AckKind::Ack => entry.xor ^= msg.value,
            AckKind::Fail => entry.failed = true,
            AckKind::Reset => reset = true,
            // Answers travel the other way; an acker never receives them.
            AckKind::Completed | AckKind::Failed | AckKind::TimeoutReset => return None,
        }
        let Entry {
            xor,
            spout_task,
            failed,
            ..
        } = *entry;
        // Acks may arrive before the init; the tree's fate is known only once the spout is.
        if spout_task == 0 {
            return None;
        }
        let kind = if failed {
            AckKind::Failed
        } else if xor == 0 {
            AckKind::Completed
        } else if reset {
            AckKind::TimeoutReset
        } else {
            return None;
        };
        if kind != AckKind::TimeoutReset {
            self.trees.remove(&msg.root);
        }
        Some(AckMsg {
            root: msg.root,
            value: 0,
            task: spout_task,
            dest: 0,
            kind,
        })
    }

    /// Advances the clock by one timeout period and drops the trees untouched for two full
    /// periods; returns how many were dropped.
    pub fn rotate(&mut self) -> usize {
        self.epoch = self.epoch.wrapping_add(1);
        let epoch = self.epoch;
        let before = self.trees.len();
        self.trees.retain(|_, e| epoch.wrapping_sub(e.epoch) < 3);
        before - self.trees.len()
    }

    /// Trees being tracked.
    pub fn len(&self) -> usize {
        self.trees.len()
    }
}

#[cfg(test)]
mod tests;
