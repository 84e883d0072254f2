//! How tuples join tuple trees: edge ids on emit, XORs on ack (Storm's anchoring).
//!
//! A spout's tracked emit starts a tree with a random root id and gives each copy it sends a
//! random edge id. A bolt's anchored emit gives each copy a fresh edge per anchor, XORs that
//! edge into the anchor's `ack_val`, and into the copy's id for every tree the anchor belongs
//! to. Acking a tuple sends, per tree, its own edge XOR its `ack_val`: one message that removes
//! the tuple and adds all its children, so a tree can never look complete too early.

use rand::Rng;
use rand::rngs::SmallRng;
use squall_topology_api::{AnchorIds, Tuple};

use crate::message::{AckKind, AckMsg};

/// A random non-zero edge or root id (zero is the XOR's "complete" value).
pub(crate) fn random_id(rng: &mut SmallRng) -> u64 {
    loop {
        let id = rng.next_u64();
        if id != 0 {
            return id;
        }
    }
}

/// The root ids that `grouping::bucket` maps to one acker: `span` ids from `low`. Computed
/// once per acker, so drawing an id costs one 64-bit remainder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RootRange {
    low: u64,
    span: u64,
}

impl RootRange {
    /// The ids of acker `index` of `ackers`.
    pub fn of_bucket(index: usize, ackers: usize) -> Self {
        // bucket(x, n) = floor(x n / 2^64), so bucket k holds [ceil(k 2^64 / n), ceil((k+1) 2^64 / n)).
        let n = ackers.max(1) as u128;
        let low = ((index as u128) << 64).div_ceil(n);
        let high = ((index as u128 + 1) << 64).div_ceil(n);
        RootRange {
            low: low as u64,
            // A single acker's 2^64 ids do not fit; all but one of them will do.
            span: (high - low).clamp(1, u128::from(u64::MAX)) as u64,
        }
    }

    /// A random non-zero id of the range.
    pub fn draw(self, rng: &mut SmallRng) -> u64 {
        loop {
            let id = self.low + rng.next_u64() % self.span;
            if id != 0 {
                return id;
            }
        }
    }
}

/// The tree ids of one copy of a tuple anchored to `anchors`; updates each anchor's `ack_val`.
pub(crate) fn anchor_copy(anchors: &[&Tuple], rng: &mut SmallRng) -> AnchorIds {
    let mut ids = AnchorIds::new();
    for anchor in anchors {
        let roots = anchor.anchor_ids();
        if roots.is_empty() {
            continue;
        }
        let edge = random_id(rng);
        anchor.xor_ack_val(edge);
        for &(root, _) in roots {
            match ids.iter_mut().find(|(r, _)| *r == root) {
                Some((_, v)) => *v ^= edge,
                None => ids.push((root, edge)),
            }
        }
    }
    ids
}

/// The acker messages for one acker-protocol action on a received tuple, one per tree.
pub(crate) fn messages_for(tuple: &Tuple, kind: AckKind) -> impl Iterator<Item = AckMsg> + '_ {
    let ack_val = tuple.ack_val();
    tuple.anchor_ids().iter().map(move |&(root, edge)| AckMsg {
        root,
        value: if kind == AckKind::Ack {
            edge ^ ack_val
        } else {
            0
        },
        task: 0,
        dest: 0,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::grouping::bucket;

    #[test]
    fn ids_drawn_for_an_acker_are_routed_to_that_acker() {
        let mut rng = SmallRng::seed_from_u64(7);
        for ackers in [1usize, 2, 3, 5, 7, 64] {
            for index in 0..ackers {
                for _ in 0..200 {
                    let id = RootRange::of_bucket(index, ackers).draw(&mut rng);
                    assert_ne!(id, 0);
                    assert_eq!(bucket(id, ackers), index, "{ackers} ackers, index {index}");
                }
            }
        }
    }
}
