//! Which offset a spout task may commit for each of its partitions: as storm-kafka-client,
//! never past a record whose tree has not completed, so a crash replays every record that
//! might not have reached the end of the topology, and nothing before it.

use std::collections::BTreeMap;

/// The offset to commit per partition (Kafka's convention: the next offset to consume).
///
/// `next_fetch` is, per assigned partition, one past the last offset read from it (or the
/// position consuming started at); `unacked` lists every record read and not yet acked
/// (in flight, failed and waiting to be emitted again, or not yet emitted). A partition's
/// commit point is its lowest unacked offset, or `next_fetch` when none is left. Gaps in
/// the offsets (compacted topics, transaction markers) need no special case: an offset that
/// was never read cannot hold the commit point back.
pub(crate) fn commit_points(
    next_fetch: &BTreeMap<i32, i64>,
    unacked: impl IntoIterator<Item = (i32, i64)>,
) -> BTreeMap<i32, i64> {
    let mut points = next_fetch.clone();
    for (partition, offset) in unacked {
        if let Some(point) = points.get_mut(&partition) {
            *point = (*point).min(offset);
        }
    }
    points
}

/// The partitions of `all` that spout task `index` of `tasks` reads: those whose id is
/// `index` modulo `tasks`. A topic's partition ids run from 0, so this deals them round-robin
/// as Storm's manual partitioner does; deciding by id rather than by place in the list means a
/// metadata answer missing some partitions (a broker blip) moves none to another task, so each
/// partition has at most one reader, and a restarted task reads the same ones.
pub(crate) fn partitions_for_task(mut all: Vec<i32>, index: usize, tasks: usize) -> Vec<i32> {
    all.sort_unstable();
    all.dedup();
    all.into_iter()
        .filter(|p| tasks > 0 && usize::try_from(*p).is_ok_and(|p| p % tasks == index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_lowest_unacked_record_holds_its_partition_back() {
        let next = BTreeMap::from([(0, 100), (1, 50), (2, 7)]);
        let points = commit_points(&next, [(0, 40), (0, 12), (1, 49), (9, 1)]);
        assert_eq!(points, BTreeMap::from([(0, 12), (1, 49), (2, 7)]));
    }

    #[test]
    fn partitions_are_dealt_round_robin_and_each_has_one_reader() {
        assert_eq!(partitions_for_task(vec![3, 0, 2, 1, 4], 0, 2), [0, 2, 4]);
        assert_eq!(partitions_for_task(vec![3, 0, 2, 1, 4], 1, 2), [1, 3]);
        assert_eq!(partitions_for_task(vec![0], 1, 2), Vec::<i32>::new());
        assert_eq!(partitions_for_task(vec![0, 1], 0, 0), Vec::<i32>::new());
    }

    proptest! {
        /// Whatever was read and acked, the commit point is never past an unacked record,
        /// and is the partition's read position when everything read was acked.
        #[test]
        fn a_commit_point_never_skips_an_unacked_record(
            read in proptest::collection::vec((0i32..4, 0i64..1000), 0..200),
            acked_mask in proptest::collection::vec(any::<bool>(), 200),
        ) {
            let mut next = BTreeMap::new();
            for (p, o) in &read {
                let e = next.entry(*p).or_insert(0);
                *e = (*e).max(o + 1);
            }
            let unacked: Vec<(i32, i64)> = read
                .iter()
                .zip(&acked_mask)
                .filter(|(_, acked)| !**acked)
                .map(|(r, _)| *r)
                .collect();
            let points = commit_points(&next, unacked.iter().copied());
            for (p, o) in &unacked {
                prop_assert!(points[p] <= *o);
            }
            for (p, n) in &next {
                if !unacked.iter().any(|(q, _)| q == p) {
                    prop_assert_eq!(points[p], *n);
                } else {
                    prop_assert!(unacked.iter().any(|(q, o)| q == p && *o == points[p]));
                }
            }
        }

        #[test]
        fn every_partition_has_exactly_one_task(
            partitions in proptest::collection::btree_set(0i32..64, 0..32),
            tasks in 1usize..8,
        ) {
            let all: Vec<i32> = partitions.iter().copied().collect();
            let mut dealt: Vec<i32> = (0..tasks)
                .flat_map(|t| partitions_for_task(all.clone(), t, tasks))
                .collect();
            dealt.sort_unstable();
            prop_assert_eq!(dealt, all);
        }

        /// A metadata answer missing some partitions (a broker blip) never hands a partition
        /// to another task, which would give it two readers.
        #[test]
        fn a_partial_partition_list_moves_no_partition_to_another_task(
            partitions in proptest::collection::btree_set(0i32..64, 1..32),
            missing in proptest::collection::vec(any::<bool>(), 32),
            tasks in 1usize..8,
        ) {
            let all: Vec<i32> = partitions.iter().copied().collect();
            let seen: Vec<i32> = all
                .iter()
                .zip(&missing)
                .filter(|(_, gone)| !**gone)
                .map(|(p, _)| *p)
                .collect();
            for task in 0..tasks {
                let before = partitions_for_task(all.clone(), task, tasks);
                for p in partitions_for_task(seen.clone(), task, tasks) {
                    prop_assert!(before.contains(&p), "task {} took partition {}", task, p);
                }
            }
        }
    }
}
