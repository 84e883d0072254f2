//! A spout task's trees in flight: root id → message id, with timeouts.
//!
//! A tree whose last sign of life (its emit, or a `reset_timeout`) is older than
//! `topology.message.timeout.secs` expires and its message id is failed back to the spout.
//! Expiry is checked by sweeping the map a few times per timeout period, so a tree fails
//! between T and T plus one sweep interval after it was last touched, never before T (Storm's
//! two rotating buckets give T to 2T). No per-tuple timers.

use rustc_hash::FxHashMap;
use squall_topology_api::MessageId;

#[derive(Debug, Clone, Copy)]
struct Pending {
    msg_id: MessageId,
    emitted_ns: u64,
    touched_ns: u64,
}

/// The pending trees of one spout task. Times are nanoseconds on the executor's clock.
#[derive(Debug, Default)]
pub(crate) struct PendingMap {
    trees: FxHashMap<u64, Pending>,
}

/// A tree that left the map: its message id and how long it lived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finished {
    pub msg_id: MessageId,
    pub age_ns: u64,
}

impl PendingMap {
    /// Starts tracking a tree.
    pub fn insert(&mut self, root: u64, msg_id: MessageId, now_ns: u64) {
        self.trees.insert(
            root,
            Pending {
                msg_id,
                emitted_ns: now_ns,
                touched_ns: now_ns,
            },
        );
    }

    /// Stops tracking a tree that completed or failed; `None` if it already timed out.
    pub fn remove(&mut self, root: u64, now_ns: u64) -> Option<Finished> {
        self.trees.remove(&root).map(|p| Finished {
            msg_id: p.msg_id,
            age_ns: now_ns.saturating_sub(p.emitted_ns),
        })
    }

    /// Restarts a tree's timeout.
    pub fn touch(&mut self, root: u64, now_ns: u64) {
        if let Some(p) = self.trees.get_mut(&root) {
            p.touched_ns = now_ns;
        }
    }

    /// Removes the trees last touched `timeout_ns` or more ago, pushing their message ids;
    /// returns the age of the oldest tree left (since it was last touched).
    pub fn expire(&mut self, now_ns: u64, timeout_ns: u64, expired: &mut Vec<MessageId>) -> u64 {
        let mut oldest = 0;
        self.trees.retain(|_, p| {
            let age = now_ns.saturating_sub(p.touched_ns);
            let alive = age < timeout_ns;
            if alive {
                oldest = oldest.max(age);
            } else {
                expired.push(p.msg_id);
            }
            alive
        });
        oldest
    }

    /// Removes every tree, pushing their message ids in the order they were emitted.
    pub fn drain_oldest_first(&mut self, out: &mut Vec<MessageId>) {
        let mut all: Vec<Pending> = self.trees.drain().map(|(_, p)| p).collect();
        all.sort_by_key(|p| p.emitted_ns);
        out.extend(all.into_iter().map(|p| p.msg_id));
    }

    /// Trees in flight.
    pub fn len(&self) -> usize {
        self.trees.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_expires_at_the_timeout_and_not_before() {
        let mut p = PendingMap::default();
        p.insert(1, 10, 0);
        p.insert(2, 20, 500);
        let mut out = Vec::new();
        p.expire(999, 1000, &mut out);
        assert!(out.is_empty());
        p.expire(1000, 1000, &mut out);
        assert_eq!(out, vec![10]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn touching_restarts_the_clock_and_completion_reports_the_age() {
        let mut p = PendingMap::default();
        p.insert(1, 10, 0);
        p.touch(1, 900);
        let mut out = Vec::new();
        p.expire(1500, 1000, &mut out);
        assert!(out.is_empty());
        assert_eq!(
            p.remove(1, 1600),
            Some(Finished {
                msg_id: 10,
                age_ns: 1600
            })
        );
        assert_eq!(p.remove(1, 1700), None);
    }

    #[test]
    fn draining_gives_every_tree_back_in_emit_order() {
        let mut p = PendingMap::default();
        for (root, msg, at) in [(7, 70, 30), (3, 30, 10), (5, 50, 20)] {
            p.insert(root, msg, at);
        }
        let mut out = Vec::new();
        p.drain_oldest_first(&mut out);
        assert_eq!(out, vec![30, 50, 70]);
        assert_eq!(p.len(), 0);
    }
}
