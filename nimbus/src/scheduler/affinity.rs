//! Which executors talk to each other, and the order that keeps them on the same worker.
//!
//! Storm's even scheduler deals executors out round robin by task id, so with one executor per
//! component every hop of a chain crosses workers. Here the scheduler deals executors in flow
//! order, one round of each component's executors after another (spout 0, split 0, count 0,
//! spout 1, ...), and puts each on the slot holding most of its neighbours while that slot has
//! room under the even share. A chain of four on two workers then crosses once, and each worker
//! of a word count with parallelism two holds one spout, splitter and counter, so a
//! locality-aware shuffle keeps its tuples in process.
//!
//! Components outside the flow (the ackers: every component talks to them) are spread evenly
//! before anything else is placed, so each worker has its own.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use squall_topology_api::TopologySpec;

use super::ExecutorToPlace;

/// The communication graph of a topology, as far as placement cares.
#[derive(Debug, Clone, Default)]
pub struct Affinity {
    /// Position of each linked component in flow order (sources first).
    rank: BTreeMap<String, usize>,
    /// Components that exchange tuples, in either direction.
    neighbours: BTreeMap<String, BTreeSet<String>>,
}

impl Affinity {
    /// The links of a topology: each bolt with the components it subscribes to.
    pub fn of(spec: &TopologySpec) -> Self {
        Self::from_links(spec.components.iter().map(|c| {
            (
                c.id.as_str(),
                c.inputs.iter().map(|i| i.component.as_str()).collect(),
            )
        }))
    }

    /// Links given as (component, the components it consumes from), in declaration order.
    pub fn from_links<'a>(components: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) -> Self {
        let components: Vec<(&str, Vec<&str>)> = components.into_iter().collect();
        let mut neighbours: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, inputs) in &components {
            for from in inputs.iter().filter(|from| *from != id) {
                neighbours
                    .entry((*id).to_owned())
                    .or_default()
                    .insert((*from).to_owned());
                neighbours
                    .entry((*from).to_owned())
                    .or_default()
                    .insert((*id).to_owned());
            }
        }
        // Flow order: a component comes after everything it consumes from (Kahn's algorithm,
        // declaration order breaking ties). Validation rejects cycles; should one slip through,
        // the first component left in declaration order goes next. Linear but for the heap:
        // a long chain declared backwards costs no more than one declared forwards.
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(components.len());
        for (i, (id, _)) in components.iter().enumerate() {
            index.entry(*id).or_insert(i);
        }
        let mut waiting_on = vec![0usize; components.len()];
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); components.len()];
        for (i, (_, inputs)) in components.iter().enumerate() {
            for from in inputs {
                if let Some(&f) = index.get(from) {
                    waiting_on[i] += 1;
                    consumers[f].push(i);
                }
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> = (0..components.len())
            .filter(|&i| waiting_on[i] == 0)
            .map(Reverse)
            .collect();
        let mut ranked = vec![false; components.len()];
        let mut first_unranked = 0;
        let mut rank = BTreeMap::new();
        for position in 0..components.len() {
            let next = loop {
                match ready.pop() {
                    Some(Reverse(i)) if ranked[i] => continue,
                    Some(Reverse(i)) => break i,
                    None => {
                        while ranked[first_unranked] {
                            first_unranked += 1;
                        }
                        break first_unranked;
                    }
                }
            };
            ranked[next] = true;
            for &c in &consumers[next] {
                waiting_on[c] -= 1;
                if waiting_on[c] == 0 && !ranked[c] {
                    ready.push(Reverse(c));
                }
            }
            rank.insert(components[next].0.to_owned(), position);
        }
        rank.retain(|c, _| neighbours.contains_key(c));
        Affinity { rank, neighbours }
    }

    /// Whether a component's executors are placed near their neighbours (else spread evenly).
    pub fn is_linked(&self, component: &str) -> bool {
        self.rank.contains_key(component)
    }

    /// The components a component exchanges tuples with.
    pub fn neighbours_of(&self, component: &str) -> impl Iterator<Item = &str> {
        self.neighbours
            .get(component)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Whether two components exchange tuples.
    pub fn talk(&self, a: &str, b: &str) -> bool {
        self.neighbours.get(a).is_some_and(|n| n.contains(b))
    }

    /// The order in which executors are placed: the spread ones first (in task order), then the
    /// linked ones in rounds, each round taking the next executor of every component in flow
    /// order.
    pub fn placement_order<'a>(
        &self,
        executors: &'a [ExecutorToPlace],
    ) -> Vec<&'a ExecutorToPlace> {
        let mut by_task: Vec<&ExecutorToPlace> = executors.iter().collect();
        by_task.sort();
        by_task.sort_by_key(|e| e.tasks.first().copied());
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut keyed: Vec<((usize, usize, usize), &ExecutorToPlace)> = by_task
            .into_iter()
            .enumerate()
            .map(|(position, e)| match self.rank.get(&e.component) {
                Some(&rank) => {
                    let round = seen.entry(e.component.as_str()).or_default();
                    *round += 1;
                    ((1, *round, rank), e)
                }
                None => ((0, position, 0), e),
            })
            .collect();
        keyed.sort_by_key(|(key, _)| *key);
        keyed.into_iter().map(|(_, e)| e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(component: &str, task: u32) -> ExecutorToPlace {
        ExecutorToPlace {
            component: component.to_owned(),
            tasks: vec![task],
        }
    }

    #[test]
    fn flow_order_follows_subscriptions_not_declaration() {
        // Declared backwards: the sink first.
        let a = Affinity::from_links([
            ("count", vec!["split"]),
            ("split", vec!["spout"]),
            ("spout", vec![]),
        ]);
        let execs = vec![
            exec("__acker", 1),
            exec("count", 2),
            exec("count", 3),
            exec("split", 4),
            exec("split", 5),
            exec("spout", 6),
        ];
        let order: Vec<(&str, u32)> = a
            .placement_order(&execs)
            .iter()
            .map(|e| (e.component.as_str(), e.tasks[0]))
            .collect();
        assert_eq!(
            order,
            [
                ("__acker", 1),
                ("spout", 6),
                ("split", 4),
                ("count", 2),
                ("split", 5),
                ("count", 3)
            ]
        );
        assert!(a.talk("split", "count") && a.talk("count", "split"));
        assert!(!a.talk("spout", "count"));
        assert!(!a.is_linked("__acker"));
    }
}
