//! Which bytes of a file are done: lines are emitted as byte ranges and acked in any order;
//! the committed offset only ever advances past a prefix of acked lines, so a spout restarted
//! from it emits again every line whose tree had not completed (and possibly some that had).

use std::collections::BTreeMap;

/// One file's emitted and acked lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetLedger {
    /// Emitted lines not yet behind the committed offset: start → (end, acked).
    lines: BTreeMap<u64, (u64, bool)>,
    committed: u64,
}

impl OffsetLedger {
    /// A ledger resuming at `committed` (read from the offset file).
    pub fn resume(committed: u64) -> Self {
        OffsetLedger {
            lines: BTreeMap::new(),
            committed,
        }
    }

    /// A line `start..end` was emitted.
    pub fn emitted(&mut self, start: u64, end: u64) {
        if start >= self.committed {
            self.lines.insert(start, (end, false));
        }
    }

    /// The line starting at `start` completed; returns whether the committed offset moved.
    pub fn acked(&mut self, start: u64) -> bool {
        match self.lines.get_mut(&start) {
            Some(line) => line.1 = true,
            None => return false,
        }
        let before = self.committed;
        while let Some(entry) = self.lines.first_entry() {
            let (end, acked) = *entry.get();
            if !acked {
                break;
            }
            self.committed = end;
            entry.remove();
        }
        self.committed != before
    }

    /// Everything before this byte is done.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Lines emitted and not done.
    pub fn outstanding(&self) -> usize {
        self.lines.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_offset_waits_for_the_oldest_line() {
        let mut l = OffsetLedger::resume(0);
        l.emitted(0, 10);
        l.emitted(10, 25);
        l.emitted(25, 30);
        assert!(!l.acked(10));
        assert_eq!(l.committed(), 0);
        assert!(l.acked(0));
        assert_eq!(l.committed(), 25);
        assert!(!l.acked(99));
        assert!(l.acked(25));
        assert_eq!((l.committed(), l.outstanding()), (30, 0));
    }

    proptest! {
        /// Whatever order lines are acked in, the committed offset is the end of the longest
        /// run of acked lines from the start, never past an unacked one.
        #[test]
        fn committed_is_the_end_of_the_acked_prefix(
            lengths in prop::collection::vec(1u64..50, 1..40),
            order in prop::collection::vec(any::<prop::sample::Index>(), 0..40),
        ) {
            let mut l = OffsetLedger::resume(0);
            let mut starts = Vec::new();
            let mut at = 0;
            for len in &lengths {
                l.emitted(at, at + len);
                starts.push((at, at + len));
                at += len;
            }
            let mut acked = vec![false; starts.len()];
            for i in order {
                let k = i.index(starts.len());
                acked[k] = true;
                l.acked(starts[k].0);
                let prefix = acked.iter().take_while(|a| **a).count();
                let expected = if prefix == 0 { 0 } else { starts[prefix - 1].1 };
                prop_assert_eq!(l.committed(), expected);
            }
        }
    }
}
