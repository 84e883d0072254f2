//! The even scheduler: which slots a topology gets and which executors run on each.
//!
//! A pure function of the cluster, the topology and its previous placement. Properties,
//! checked by the tests below:
//! - **even**: a topology's executors differ by at most one between its slots, and its slots
//!   spread over as many supervisors as possible;
//! - **minimal movement**: slots that are still usable are kept, and executors stay where they
//!   were unless evening out requires a move;
//! - **deterministic and stable**: the same inputs give the same placement, and scheduling a
//!   placement again changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use squall_proto::{ExecutorAssignment, Slot};
use squall_topology_api::TaskId;

/// A live supervisor as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorView {
    /// Its id.
    pub id: String,
    /// Its host address.
    pub host: String,
    /// Its slot ports.
    pub ports: Vec<u16>,
}

/// One executor to place: its component and tasks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExecutorToPlace {
    /// The component.
    pub component: String,
    /// Its tasks.
    pub tasks: Vec<TaskId>,
}

/// Why nothing could be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// No free slot on any live supervisor.
    #[error("no free worker slot on any live supervisor")]
    NoFreeSlot,
}

/// Places `executors` on up to `workers` slots of `supervisors`, avoiding `taken` slots (used
/// by other topologies), starting from `previous`.
pub fn assign(
    executors: &[ExecutorToPlace],
    workers: u32,
    supervisors: &[SupervisorView],
    taken: &BTreeSet<Slot>,
    previous: &[ExecutorAssignment],
) -> Result<Vec<ExecutorAssignment>, ScheduleError> {
    let owner: BTreeMap<Slot, &str> = supervisors
        .iter()
        .flat_map(|s| {
            s.ports.iter().map(move |&port| {
                (
                    Slot {
                        host: s.host.clone(),
                        port,
                    },
                    s.id.as_str(),
                )
            })
        })
        .collect();
    let usable = |slot: &Slot| owner.contains_key(slot) && !taken.contains(slot);
    let wanted = (workers.max(1) as usize).min(executors.len().max(1));

    // Keep the previous slots that are still usable.
    let mut chosen: Vec<Slot> = Vec::new();
    for e in previous {
        if chosen.len() < wanted && usable(&e.slot) && !chosen.contains(&e.slot) {
            chosen.push(e.slot.clone());
        }
    }
    // Add slots on the supervisors with the fewest chosen so far, lowest port first.
    while chosen.len() < wanted {
        let next = owner
            .keys()
            .filter(|s| usable(s) && !chosen.contains(s))
            .min_by_key(|s| {
                let on_same = chosen.iter().filter(|c| owner[*c] == owner[*s]).count();
                (on_same, owner[*s], s.port)
            })
            .cloned();
        match next {
            Some(slot) => chosen.push(slot),
            None => break,
        }
    }
    if chosen.is_empty() {
        return Err(ScheduleError::NoFreeSlot);
    }
    chosen.sort();

    // Executors stay on their previous slot while it has room under an even share.
    let mut sorted: Vec<&ExecutorToPlace> = executors.iter().collect();
    sorted.sort_by_key(|e| (e.tasks.first().copied(), e.component.clone()));
    let n = chosen.len();
    let (base, extra) = (sorted.len() / n, sorted.len() % n);
    let capacity = |load: &BTreeMap<&Slot, usize>, slot: &Slot, extras_used: usize| -> bool {
        let l = load.get(slot).copied().unwrap_or(0);
        l < base || (l == base && extras_used < extra)
    };
    let mut load: BTreeMap<&Slot, usize> = BTreeMap::new();
    let mut extras_used = 0;
    let mut placed: Vec<Option<&Slot>> = vec![None; sorted.len()];
    for (i, e) in sorted.iter().enumerate() {
        let before = previous
            .iter()
            .find(|p| p.component == e.component && p.tasks == e.tasks)
            .and_then(|p| chosen.iter().find(|s| **s == p.slot));
        if let Some(slot) = before
            && capacity(&load, slot, extras_used)
        {
            let l = load.entry(slot).or_default();
            if *l == base {
                extras_used += 1;
            }
            *l += 1;
            placed[i] = Some(slot);
        }
    }
    for (i, _) in sorted.iter().enumerate() {
        if placed[i].is_some() {
            continue;
        }
        let slot = chosen
            .iter()
            .filter(|s| capacity(&load, s, extras_used))
            .min_by_key(|s| (load.get(s).copied().unwrap_or(0), (*s).clone()))
            .unwrap_or(&chosen[0]);
        let l = load.entry(slot).or_default();
        if *l == base {
            extras_used += 1;
        }
        *l += 1;
        placed[i] = Some(slot);
    }
    Ok(sorted
        .iter()
        .zip(placed)
        .map(|(e, slot)| {
            let slot = slot.cloned().unwrap_or_else(|| chosen[0].clone());
            ExecutorAssignment {
                component: e.component.clone(),
                tasks: e.tasks.clone(),
                supervisor_id: owner
                    .get(&slot)
                    .map(|s| (*s).to_owned())
                    .unwrap_or_default(),
                slot,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn supervisors(n: usize, ports: u16) -> Vec<SupervisorView> {
        (0..n)
            .map(|i| SupervisorView {
                id: format!("s{i}"),
                host: format!("127.0.0.{}", i + 2),
                ports: (6700..6700 + ports).collect(),
            })
            .collect()
    }

    fn executors(n: u32) -> Vec<ExecutorToPlace> {
        (0..n)
            .map(|i| ExecutorToPlace {
                component: format!("c{}", i % 3),
                tasks: vec![i + 1],
            })
            .collect()
    }

    fn per_slot(a: &[ExecutorAssignment]) -> BTreeMap<Slot, usize> {
        let mut m = BTreeMap::new();
        for e in a {
            *m.entry(e.slot.clone()).or_default() += 1;
        }
        m
    }

    proptest! {
        #[test]
        fn placements_are_even_spread_and_stable(
            n_exec in 1u32..30, workers in 1u32..6, n_sup in 1usize..4, ports in 1u16..4,
        ) {
            let sups = supervisors(n_sup, ports);
            let execs = executors(n_exec);
            let a = assign(&execs, workers, &sups, &BTreeSet::new(), &[]).unwrap();
            prop_assert_eq!(a.len(), execs.len());
            let loads = per_slot(&a);
            let expected_slots = (workers as usize).min(n_exec as usize).min(n_sup * ports as usize);
            prop_assert_eq!(loads.len(), expected_slots);
            let (min, max) = (loads.values().min().unwrap(), loads.values().max().unwrap());
            prop_assert!(max - min <= 1, "uneven: {loads:?}");
            // Spread: supervisors used = as many as the slot count allows.
            let used: BTreeSet<&str> = a.iter().map(|e| e.supervisor_id.as_str()).collect();
            prop_assert_eq!(used.len(), expected_slots.min(n_sup));
            // Stable: scheduling the result again changes nothing.
            let again = assign(&execs, workers, &sups, &BTreeSet::new(), &a).unwrap();
            prop_assert_eq!(again, a);
        }
    }

    #[test]
    fn a_lost_supervisor_moves_only_its_executors() {
        let sups = supervisors(3, 2);
        let execs = executors(9);
        let a = assign(&execs, 3, &sups, &BTreeSet::new(), &[]).unwrap();
        let survivors: Vec<SupervisorView> = sups[..2].to_vec();
        let b = assign(&execs, 3, &survivors, &BTreeSet::new(), &a).unwrap();
        assert!(b.iter().all(|e| e.supervisor_id != "s2"));
        let moved = a.iter().zip(&b).filter(|(x, y)| x.slot != y.slot).count();
        assert_eq!(moved, 3, "only the lost supervisor's executors move");
    }

    #[test]
    fn taken_slots_are_avoided_and_no_slot_is_an_error() {
        let sups = supervisors(1, 2);
        let taken: BTreeSet<Slot> = [Slot {
            host: "127.0.0.2".into(),
            port: 6700,
        }]
        .into();
        let a = assign(&executors(2), 2, &sups, &taken, &[]).unwrap();
        assert!(a.iter().all(|e| e.slot.port == 6701));
        let all: BTreeSet<Slot> = (6700..6702)
            .map(|port| Slot {
                host: "127.0.0.2".into(),
                port,
            })
            .collect();
        assert_eq!(
            assign(&executors(2), 2, &sups, &all, &[]),
            Err(ScheduleError::NoFreeSlot)
        );
    }
}
