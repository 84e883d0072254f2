//! The even scheduler: which slots a topology gets and which executors run on each.
//!
//! A pure function of the cluster, the topology and its previous placement. Properties,
//! checked by the tests below:
//! - **even**: a topology's executors differ by at most one between its slots, and its slots
//!   spread over as many supervisors as possible;
//! - **affinity**: within the even share, executors that exchange tuples share a slot (see
//!   [`affinity`]), and ackers are spread so that each slot has its own;
//! - **minimal movement**: slots that are still usable are kept, and executors stay where they
//!   were unless evening out requires a move;
//! - **deterministic and stable**: the same inputs give the same placement, and scheduling a
//!   placement again changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use squall_proto::{ExecutorAssignment, Slot};
use squall_topology_api::TaskId;

mod affinity;

pub use affinity::Affinity;

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
/// by other topologies), starting from `previous`, keeping executors that talk together.
///
/// Near-linear: O(E log E) in the executors plus, for each executor, the slots where its
/// neighbours already run; it never compares every executor with every other.
pub fn assign(
    executors: &[ExecutorToPlace],
    affinity: &Affinity,
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
    let chosen = choose_slots(&owner, &usable, wanted, previous);
    if chosen.is_empty() {
        return Err(ScheduleError::NoFreeSlot);
    }
    let slot_index: HashMap<&Slot, usize> =
        chosen.iter().enumerate().map(|(i, s)| (s, i)).collect();

    let order = affinity.placement_order(executors);
    // Components by index, and each one's neighbours among them.
    let mut component_index: HashMap<&str, usize> = HashMap::new();
    let component_of: Vec<usize> = order
        .iter()
        .map(|e| {
            let next = component_index.len();
            *component_index.entry(e.component.as_str()).or_insert(next)
        })
        .collect();
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); component_index.len()];
    for (&name, &c) in &component_index {
        neighbours[c] = affinity
            .neighbours_of(name)
            .filter_map(|n| component_index.get(n).copied())
            .collect();
    }
    let mut placer = Placer {
        load: Loads::even(order.len(), chosen.len()),
        by_load: (0..chosen.len()).map(|i| (0, i)).collect(),
        near: vec![HashMap::new(); component_index.len()],
        neighbours,
        placed: vec![None; order.len()],
    };
    // Executors stay on their previous slot while it has room under an even share.
    let mut before: HashMap<(&str, &[TaskId]), usize> = HashMap::new();
    for p in previous {
        if let Some(&slot) = slot_index.get(&p.slot) {
            before
                .entry((p.component.as_str(), p.tasks.as_slice()))
                .or_insert(slot);
        }
    }
    for (i, e) in order.iter().enumerate() {
        if let Some(&slot) = before.get(&(e.component.as_str(), e.tasks.as_slice()))
            && placer.load.has_room(slot)
        {
            placer.put(i, component_of[i], slot);
        }
    }
    // The rest go, in placement order, where most of their neighbours already are, then to
    // the least loaded slot.
    for (i, &component) in component_of.iter().enumerate() {
        if placer.placed[i].is_none() {
            let slot = placer.best_slot(component);
            placer.put(i, component, slot);
        }
    }
    let mut out: Vec<ExecutorAssignment> = order
        .iter()
        .zip(&placer.placed)
        .map(|(e, slot)| {
            let slot = chosen[slot.unwrap_or(0)].clone();
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
        .collect();
    out.sort_by(|a, b| (a.tasks.first(), &a.component).cmp(&(b.tasks.first(), &b.component)));
    Ok(out)
}

/// Whether `previous` is what [`assign`] would return for the same inputs, checked in linear
/// time without placing anything: the same executors, on as many slots as wanted (or as are
/// free), all still usable and owned as recorded, with loads at most one apart (so every executor would stay).
/// Nimbus re-places every topology twice a second; a settled one then costs a scan, not a
/// placement.
pub fn is_settled(
    executors: &[ExecutorToPlace],
    workers: u32,
    supervisors: &[SupervisorView],
    taken: &BTreeSet<Slot>,
    previous: &[ExecutorAssignment],
) -> bool {
    if previous.len() != executors.len() {
        return false;
    }
    let owner: HashMap<(&str, u16), &str> = supervisors
        .iter()
        .flat_map(|s| {
            s.ports
                .iter()
                .map(move |&p| ((s.host.as_str(), p), s.id.as_str()))
        })
        .collect();
    let mut loads: HashMap<&Slot, usize> = HashMap::new();
    for e in previous {
        let owned = owner
            .get(&(e.slot.host.as_str(), e.slot.port))
            .is_some_and(|&id| id == e.supervisor_id);
        if !owned {
            return false;
        }
        *loads.entry(&e.slot).or_default() += 1;
    }
    if loads.keys().any(|slot| taken.contains(*slot)) {
        return false;
    }
    let usable = owner.len()
        - taken
            .iter()
            .filter(|s| owner.contains_key(&(s.host.as_str(), s.port)))
            .count();
    let wanted = (workers.max(1) as usize)
        .min(executors.len().max(1))
        .min(usable);
    let (min, max) = (loads.values().min(), loads.values().max());
    if loads.len() != wanted || max.zip(min).is_none_or(|(max, min)| max - min > 1) {
        return false;
    }
    let placed: HashSet<(&str, &[TaskId])> = previous
        .iter()
        .map(|e| (e.component.as_str(), e.tasks.as_slice()))
        .collect();
    placed.len() == executors.len()
        && executors
            .iter()
            .all(|e| placed.contains(&(e.component.as_str(), e.tasks.as_slice())))
}

/// Up to `wanted` slots, sorted: the previous ones that are still usable, then slots on the
/// supervisors with the fewest chosen so far (supervisor id, then lowest port, breaking ties).
fn choose_slots(
    owner: &BTreeMap<Slot, &str>,
    usable: &dyn Fn(&Slot) -> bool,
    wanted: usize,
    previous: &[ExecutorAssignment],
) -> Vec<Slot> {
    let mut chosen: BTreeSet<Slot> = BTreeSet::new();
    for e in previous {
        if chosen.len() >= wanted {
            break;
        }
        if usable(&e.slot) {
            chosen.insert(e.slot.clone());
        }
    }
    // Each supervisor's free slots, lowest port first, and its count of chosen slots.
    let mut free: BTreeMap<&str, BTreeMap<u16, &Slot>> = BTreeMap::new();
    let mut on: BTreeMap<&str, usize> = BTreeMap::new();
    for (slot, &supervisor) in owner {
        if chosen.contains(slot) {
            *on.entry(supervisor).or_default() += 1;
        } else if usable(slot) {
            free.entry(supervisor).or_default().insert(slot.port, slot);
        }
    }
    let mut next: BTreeSet<(usize, &str)> = free
        .keys()
        .map(|&s| (on.get(s).copied().unwrap_or(0), s))
        .collect();
    while chosen.len() < wanted {
        let Some((count, supervisor)) = next.pop_first() else {
            break;
        };
        let Some(ports) = free.get_mut(supervisor) else {
            continue;
        };
        if let Some((_, slot)) = ports.pop_first() {
            chosen.insert(slot.clone());
        }
        if !ports.is_empty() {
            next.insert((count + 1, supervisor));
        }
    }
    chosen.into_iter().collect()
}

/// Placement in progress: loads, and for each component how many of its neighbours' executors
/// each slot holds.
struct Placer {
    load: Loads,
    /// (load, slot) of every slot: the least loaded first.
    by_load: BTreeSet<(usize, usize)>,
    /// For each component, the slots holding executors it talks to, with their number.
    near: Vec<HashMap<usize, usize>>,
    neighbours: Vec<Vec<usize>>,
    placed: Vec<Option<usize>>,
}

impl Placer {
    fn put(&mut self, executor: usize, component: usize, slot: usize) {
        let before = self.load.of(slot);
        self.by_load.remove(&(before, slot));
        self.load.add(slot);
        self.by_load.insert((before + 1, slot));
        for &n in &self.neighbours[component] {
            *self.near[n].entry(slot).or_default() += 1;
        }
        self.placed[executor] = Some(slot);
    }

    /// The slot with room holding most of the component's neighbours, then the least loaded,
    /// then the first.
    fn best_slot(&self, component: usize) -> usize {
        let near = self.near[component]
            .iter()
            .filter(|&(&slot, _)| self.load.has_room(slot))
            .min_by_key(|&(&slot, &n)| (std::cmp::Reverse(n), self.load.of(slot), slot))
            .map(|(&slot, _)| slot);
        // The least loaded slot has room whenever any slot has.
        near.or_else(|| {
            self.by_load
                .first()
                .map(|&(_, slot)| slot)
                .filter(|&slot| self.load.has_room(slot))
        })
        .unwrap_or(0)
    }
}

/// Executors per slot, against an even share: `base` each, one more on `extra` of them.
struct Loads {
    per_slot: Vec<usize>,
    base: usize,
    extra: usize,
    extras_used: usize,
}

impl Loads {
    fn even(executors: usize, slots: usize) -> Self {
        Loads {
            per_slot: vec![0; slots],
            base: executors / slots,
            extra: executors % slots,
            extras_used: 0,
        }
    }

    fn of(&self, slot: usize) -> usize {
        self.per_slot[slot]
    }

    fn has_room(&self, slot: usize) -> bool {
        let l = self.of(slot);
        l < self.base || (l == self.base && self.extras_used < self.extra)
    }

    fn add(&mut self, slot: usize) {
        let l = &mut self.per_slot[slot];
        if *l == self.base {
            self.extras_used += 1;
        }
        *l += 1;
    }
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
            chain in any::<bool>(),
        ) {
            let sups = supervisors(n_sup, ports);
            let execs = executors(n_exec);
            let affinity = if chain {
                Affinity::from_links([("c0", vec![]), ("c1", vec!["c0"]), ("c2", vec!["c1"])])
            } else {
                Affinity::default()
            };
            let a = assign(&execs, &affinity, workers, &sups, &BTreeSet::new(), &[]).unwrap();
            prop_assert_eq!(a.len(), execs.len());
            let loads = per_slot(&a);
            let expected_slots = (workers as usize).min(n_exec as usize).min(n_sup * ports as usize);
            prop_assert_eq!(loads.len(), expected_slots);
            let (min, max) = (loads.values().min().unwrap(), loads.values().max().unwrap());
            prop_assert!(max - min <= 1, "uneven: {loads:?}");
            // Spread: supervisors used = as many as the slot count allows.
            let used: BTreeSet<&str> = a.iter().map(|e| e.supervisor_id.as_str()).collect();
            prop_assert_eq!(used.len(), expected_slots.min(n_sup));
            // Stable: scheduling the result again changes nothing, and the shortcut agrees.
            let again = assign(&execs, &affinity, workers, &sups, &BTreeSet::new(), &a).unwrap();
            prop_assert_eq!(&again, &a);
            prop_assert!(is_settled(&execs, workers, &sups, &BTreeSet::new(), &a));
            let fewer = &sups[..n_sup - 1];
            if let Ok(b) = assign(&execs, &affinity, workers, fewer, &BTreeSet::new(), &a) {
                prop_assert_eq!(is_settled(&execs, workers, fewer, &BTreeSet::new(), &a), b == a);
            }
        }
    }

    /// The largest topology the limits allow: a chain of the most components, declared from
    /// the sink back, with the most tasks, each its own executor, on the most workers.
    fn largest() -> (Vec<ExecutorToPlace>, Affinity) {
        use squall_topology_api::limits::{MAX_ACKER_EXECUTORS, MAX_COMPONENTS, MAX_TOTAL_TASKS};
        let n = MAX_COMPONENTS;
        let own_tasks = MAX_TOTAL_TASKS as usize - MAX_ACKER_EXECUTORS as usize;
        let names: Vec<String> = (0..n).map(|i| format!("c{i:05}")).collect();
        let mut execs = Vec::new();
        let mut task = 1;
        for _ in 0..MAX_ACKER_EXECUTORS {
            execs.push(ExecutorToPlace {
                component: "__acker".into(),
                tasks: vec![task],
            });
            task += 1;
        }
        for i in 0..own_tasks {
            execs.push(ExecutorToPlace {
                component: names[i % n].clone(),
                tasks: vec![task],
            });
            task += 1;
        }
        let links = (0..n).rev().map(|i| {
            (
                names[i].as_str(),
                if i == 0 {
                    vec![]
                } else {
                    vec![names[i - 1].as_str()]
                },
            )
        });
        (execs, Affinity::from_links(links))
    }

    #[test]
    fn the_largest_allowed_topology_is_placed_quickly() {
        use squall_topology_api::limits::MAX_WORKERS;
        let started = std::time::Instant::now();
        let (execs, affinity) = largest();
        let sups = supervisors(64, (MAX_WORKERS / 64) as u16);
        let a = assign(&execs, &affinity, MAX_WORKERS, &sups, &BTreeSet::new(), &[]).unwrap();
        let first = started.elapsed();
        assert_eq!(per_slot(&a).len(), MAX_WORKERS as usize);
        let again = assign(&execs, &affinity, MAX_WORKERS, &sups, &BTreeSet::new(), &a).unwrap();
        assert_eq!(again, a);
        assert!(is_settled(&execs, MAX_WORKERS, &sups, &BTreeSet::new(), &a));
        assert!(!is_settled(
            &execs,
            MAX_WORKERS,
            &sups[1..],
            &BTreeSet::new(),
            &a
        ));
        assert!(!is_settled(
            &execs[1..],
            MAX_WORKERS,
            &sups,
            &BTreeSet::new(),
            &a
        ));
        // The pass compared every executor with every placed one, slot by slot, and ordered
        // components with a scan per step: hours here. Now ~150 ms in a debug build; the
        // bound leaves room for a slow, busy machine.
        assert!(first < std::time::Duration::from_secs(2), "took {first:?}");
        eprintln!(
            "placed {} executors on {MAX_WORKERS} slots in {first:?}",
            execs.len()
        );
    }

    #[test]
    fn a_lost_supervisor_moves_only_its_executors() {
        let sups = supervisors(3, 2);
        let execs = executors(9);
        let a = assign(
            &execs,
            &Affinity::default(),
            3,
            &sups,
            &BTreeSet::new(),
            &[],
        )
        .unwrap();
        let survivors: Vec<SupervisorView> = sups[..2].to_vec();
        let b = assign(
            &execs,
            &Affinity::default(),
            3,
            &survivors,
            &BTreeSet::new(),
            &a,
        )
        .unwrap();
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
        let a = assign(&executors(2), &Affinity::default(), 2, &sups, &taken, &[]).unwrap();
        assert!(a.iter().all(|e| e.slot.port == 6701));
        let all: BTreeSet<Slot> = (6700..6702)
            .map(|port| Slot {
                host: "127.0.0.2".into(),
                port,
            })
            .collect();
        assert_eq!(
            assign(&executors(2), &Affinity::default(), 2, &sups, &all, &[]),
            Err(ScheduleError::NoFreeSlot)
        );
    }

    fn linked(components: &[(&str, u32)]) -> (Vec<ExecutorToPlace>, Affinity) {
        // A chain in declaration order, then two ackers; tasks numbered in that order.
        let mut execs = Vec::new();
        let mut task = 1;
        for (c, parallelism) in components.iter().chain(&[("__acker", 2)]) {
            for _ in 0..*parallelism {
                execs.push(ExecutorToPlace {
                    component: (*c).to_owned(),
                    tasks: vec![task],
                });
                task += 1;
            }
        }
        let links = components.iter().enumerate().map(|(i, (c, _))| {
            (
                *c,
                components[..i]
                    .last()
                    .map(|p| vec![p.0])
                    .unwrap_or_default(),
            )
        });
        (execs, Affinity::from_links(links))
    }

    /// A first placement on two workers, one per supervisor.
    fn first_on_two_workers(
        execs: &[ExecutorToPlace],
        affinity: &Affinity,
    ) -> Vec<ExecutorAssignment> {
        assign(
            execs,
            affinity,
            2,
            &supervisors(2, 1),
            &BTreeSet::new(),
            &[],
        )
        .unwrap()
    }

    /// The slots a component's executors run on.
    fn slots_of(a: &[ExecutorAssignment], component: &str) -> BTreeSet<Slot> {
        a.iter()
            .filter(|e| e.component == component)
            .map(|e| e.slot.clone())
            .collect()
    }

    #[test]
    fn a_chain_on_two_workers_crosses_once_and_each_has_an_acker() {
        let (execs, affinity) = linked(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let a = first_on_two_workers(&execs, &affinity);
        let slot = |c: &str| slots_of(&a, c).into_iter().next().unwrap();
        let crossings = [("a", "b"), ("b", "c"), ("c", "d")]
            .iter()
            .filter(|(x, y)| slot(x) != slot(y))
            .count();
        assert_eq!(crossings, 1, "{a:?}");
        assert_eq!(slots_of(&a, "__acker").len(), 2, "one acker per worker");
        // Round robin by task id, as before, crossed on every hop.
        let plain = first_on_two_workers(&execs, &Affinity::default());
        let plain_slot = |c: &str| slots_of(&plain, c).into_iter().next().unwrap();
        assert!(plain_slot("a") != plain_slot("b") && plain_slot("b") != plain_slot("c"));
    }

    #[test]
    fn each_worker_gets_a_full_pipeline_when_parallelism_allows() {
        let (execs, affinity) = linked(&[("spout", 2), ("split", 2), ("count", 2)]);
        let a = first_on_two_workers(&execs, &affinity);
        for slot in per_slot(&a).keys() {
            let here: BTreeSet<&str> = a
                .iter()
                .filter(|e| &e.slot == slot)
                .map(|e| e.component.as_str())
                .collect();
            assert_eq!(here, ["__acker", "count", "split", "spout"].into(), "{a:?}");
        }
    }

    #[test]
    fn new_executors_join_their_neighbours_without_moving_others() {
        let (execs, affinity) = linked(&[("spout", 2), ("split", 2), ("count", 2)]);
        let sups = supervisors(2, 1);
        let first = assign(&execs, &affinity, 2, &sups, &BTreeSet::new(), &[]).unwrap();
        // A rebalance to three workers: executors move only to fill the new slot.
        let sups3 = supervisors(3, 1);
        let second = assign(&execs, &affinity, 3, &sups3, &BTreeSet::new(), &first).unwrap();
        let moved = first
            .iter()
            .zip(&second)
            .filter(|(x, y)| x.slot != y.slot)
            .count();
        assert_eq!(per_slot(&second).len(), 3);
        assert!(moved <= 3, "moved {moved}: {second:?}");
        assert_eq!(
            assign(&execs, &affinity, 3, &sups3, &BTreeSet::new(), &second).unwrap(),
            second
        );
    }
}
