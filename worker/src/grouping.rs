//! Groupings: which of a subscriber's tasks get each tuple.
//!
//! One [`Chooser`] per (emitting executor, subscription); it runs on the emitting thread, so
//! round-robin counters and partial-key loads need no synchronisation. Targets are the
//! subscriber's task ids sorted ascending, as Storm defines them.

use std::hash::{BuildHasher, Hash, Hasher};

use rand::rngs::SmallRng;
use rand::{Rng, RngExt};
use rustc_hash::FxBuildHasher;
use squall_topology_api::{CustomGrouping, TaskId, Value};

/// Picks target tasks for one subscription.
pub(crate) enum Chooser {
    /// Strict round robin from a random start: equal counts per task.
    Shuffle {
        next: usize,
    },
    /// Same key, same task: hash of the key fields at these value indices.
    Fields {
        indices: Vec<usize>,
    },
    All,
    /// The lowest task id.
    Global,
    /// Uniformly random.
    Random,
    /// Only `emit_direct` reaches this subscriber.
    Direct,
    /// Storm 2's locality-aware shuffle, at worker scope: round robin over the subscriber's
    /// tasks in this worker while their input queues are not filling up, over all of them
    /// while they are (from above the higher bound until back below the lower bound). Only for
    /// subscribers with tasks both here and elsewhere; otherwise plain `Shuffle`.
    LocalityShuffle {
        local: Vec<TaskId>,
        next_local: usize,
        next_all: usize,
        everywhere: bool,
    },
    /// Round robin over the tasks in this worker, or over all if none is local.
    LocalOrShuffle {
        local: Vec<TaskId>,
        next: usize,
    },
    /// Two candidate tasks per key; the one this executor has sent fewer tuples to wins.
    PartialKey {
        indices: Vec<usize>,
        sent: Vec<u64>,
    },
    Custom(Box<dyn CustomGrouping>),
}

/// Storm's `topology.localityaware.higher.bound` and `.lower.bound`: the mean input-queue fill
/// of a shuffle's local tasks above which it spreads to every task, and below which it comes
/// back to the local ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LocalityBounds {
    pub higher: f64,
    pub lower: f64,
}

impl Default for LocalityBounds {
    fn default() -> Self {
        LocalityBounds {
            higher: 0.8,
            lower: 0.2,
        }
    }
}

/// Maps a 64-bit hash onto `0..n` using its high bits, which mix better than the low ones.
pub(crate) fn bucket(hash: u64, n: usize) -> usize {
    ((u128::from(hash) * n as u128) >> 64) as usize
}

/// The task among `targets` that a fields grouping sends a tuple with these key values to (the
/// grouping's fields in order). The same in every process, so a test or a tool can tell which
/// task owns a key.
///
/// # Examples
/// ```
/// use squall_worker::{Value, fields_target};
/// let owner = fields_target(&[Value::I64(42)], &[4, 5, 6]);
/// assert!(matches!(owner, Some(4..=6)));
/// assert_eq!(fields_target(&[Value::I64(42)], &[]), None);
/// ```
pub fn fields_target(key: &[Value], targets: &[TaskId]) -> Option<TaskId> {
    if targets.is_empty() {
        return None;
    }
    let indices: Vec<usize> = (0..key.len()).collect();
    Some(targets[bucket(key_hash(key, &indices), targets.len())])
}

/// The hash of the values at `indices`, the same in every process.
pub(crate) fn key_hash(values: &[Value], indices: &[usize]) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    for &i in indices {
        values.get(i).hash(&mut h);
    }
    // Fx leaves the last input in the low bits; one more multiply spreads it over the high ones.
    h.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D
}

impl Chooser {
    /// A chooser starting at a random point, so several emitters do not all begin at task 0.
    pub fn shuffle(rng: &mut SmallRng, targets: usize) -> Self {
        Chooser::Shuffle {
            next: rng.random_range(0..targets.max(1)),
        }
    }

    /// Moves a locality-aware shuffle between its scopes given the fill (0..=1) of local
    /// tasks' input queues; other choosers ignore it.
    pub fn refresh_load(&mut self, fill: &dyn Fn(TaskId) -> f64, bounds: LocalityBounds) {
        if let Chooser::LocalityShuffle {
            local, everywhere, ..
        } = self
        {
            let load = local.iter().map(|&t| fill(t)).sum::<f64>() / local.len().max(1) as f64;
            if load > bounds.higher {
                *everywhere = true;
            } else if load < bounds.lower {
                *everywhere = false;
            }
        }
    }

    /// Pushes the chosen tasks onto `out`.
    pub fn choose(
        &mut self,
        source_task: TaskId,
        values: &[Value],
        targets: &[TaskId],
        rng: &mut SmallRng,
        out: &mut Vec<TaskId>,
    ) {
        match self {
            Chooser::Shuffle { next } => {
                *next = if *next + 1 >= targets.len() {
                    0
                } else {
                    *next + 1
                };
                out.push(targets[*next]);
            }
            Chooser::Fields { indices } => {
                out.push(targets[bucket(key_hash(values, indices), targets.len())]);
            }
            Chooser::All => out.extend_from_slice(targets),
            Chooser::Global => out.push(targets[0]),
            Chooser::Random => out.push(targets[bucket(rng.next_u64(), targets.len())]),
            Chooser::Direct => {}
            Chooser::LocalityShuffle {
                local,
                next_local,
                next_all,
                everywhere,
            } => {
                let (pool, next) = if *everywhere {
                    (targets, next_all)
                } else {
                    (local.as_slice(), next_local)
                };
                *next = if *next + 1 >= pool.len() {
                    0
                } else {
                    *next + 1
                };
                out.push(pool[*next]);
            }
            Chooser::LocalOrShuffle { local, next } => {
                let pool = if local.is_empty() { targets } else { local };
                *next = if *next + 1 >= pool.len() {
                    0
                } else {
                    *next + 1
                };
                out.push(pool[*next]);
            }
            Chooser::PartialKey { indices, sent } => {
                let n = targets.len();
                let hash = key_hash(values, indices);
                let first = bucket(hash, n);
                let second = if n == 1 {
                    first
                } else {
                    (first + 1 + bucket(hash.rotate_left(32), n - 1)) % n
                };
                let pick = if sent[second] < sent[first] {
                    second
                } else {
                    first
                };
                sent[pick] += 1;
                out.push(targets[pick]);
            }
            Chooser::Custom(custom) => {
                let start = out.len();
                custom.choose_tasks(source_task, values, out);
                // Only the subscriber's own tasks may receive; anything else is dropped.
                let mut i = start;
                while i < out.len() {
                    if targets.binary_search(&out[i]).is_ok() {
                        i += 1;
                    } else {
                        out.swap_remove(i);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn run(chooser: &mut Chooser, values: &[Value], targets: &[TaskId]) -> Vec<TaskId> {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut out = Vec::new();
        chooser.choose(1, values, targets, &mut rng, &mut out);
        out
    }

    #[test]
    fn shuffle_gives_every_task_an_equal_share() {
        let targets = [3, 4, 5, 6];
        let mut c = Chooser::shuffle(&mut SmallRng::seed_from_u64(9), targets.len());
        let mut counts = [0; 4];
        for _ in 0..1000 {
            for t in run(&mut c, &[], &targets) {
                counts[(t - 3) as usize] += 1;
            }
        }
        assert_eq!(counts, [250; 4]);
    }

    #[test]
    fn locality_shuffle_stays_local_until_local_queues_fill_and_comes_back_when_they_drain() {
        let targets = [3, 4, 5, 6];
        let mut c = Chooser::LocalityShuffle {
            local: vec![4, 6],
            next_local: 0,
            next_all: 0,
            everywhere: false,
        };
        let mut counts = std::collections::BTreeMap::new();
        let mut send = |c: &mut Chooser, n: usize| {
            counts.clear();
            for _ in 0..n {
                for t in run(c, &[], &targets) {
                    *counts.entry(t).or_insert(0) += 1;
                }
            }
            counts.clone()
        };
        let bounds = LocalityBounds::default();
        assert_eq!(send(&mut c, 100), [(4, 50), (6, 50)].into());
        // Local queues at 90%: spread over every task, equally.
        c.refresh_load(&|_| 0.9, bounds);
        assert_eq!(
            send(&mut c, 100),
            [(3, 25), (4, 25), (5, 25), (6, 25)].into()
        );
        // Half full is between the bounds: no change of scope.
        c.refresh_load(&|_| 0.5, bounds);
        assert_eq!(send(&mut c, 4).len(), 4);
        // Drained: local again.
        c.refresh_load(&|_| 0.1, bounds);
        assert_eq!(send(&mut c, 10), [(4, 5), (6, 5)].into());
    }

    #[test]
    fn fields_sends_a_key_to_one_task_and_spreads_keys() {
        let targets = [10, 11, 12];
        let mut c = Chooser::Fields { indices: vec![1] };
        let mut seen = std::collections::HashSet::new();
        for i in 0..300 {
            let key = Value::from(format!("k{}", i % 30));
            let a = run(&mut c, &[Value::from(i), key.clone()], &targets);
            let b = run(&mut c, &[Value::from(-1), key], &targets);
            assert_eq!(a, b);
            seen.insert(a[0]);
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn partial_key_uses_two_tasks_for_a_hot_key() {
        let targets = [1, 2, 3, 4, 5];
        let mut c = Chooser::PartialKey {
            indices: vec![0],
            sent: vec![0; 5],
        };
        let mut counts = std::collections::HashMap::new();
        for _ in 0..1000 {
            *counts
                .entry(run(&mut c, &[Value::from("hot")], &targets)[0])
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 2, "{counts:?}");
        assert!(counts.values().all(|&n| n == 500), "{counts:?}");
    }

    #[test]
    fn custom_choices_outside_the_targets_are_dropped() {
        struct Everything;
        impl CustomGrouping for Everything {
            fn prepare(&mut self, _targets: &[TaskId]) {}
            fn choose_tasks(&mut self, _s: TaskId, _v: &[Value], out: &mut Vec<TaskId>) {
                out.extend([1, 2, 99]);
            }
        }
        let mut c = Chooser::Custom(Box::new(Everything));
        let mut out = run(&mut c, &[], &[1, 2, 3]);
        out.sort_unstable();
        assert_eq!(out, [1, 2]);
    }
}
