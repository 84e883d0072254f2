//! Each grouping delivers as specified. A recording bolt re-emits `[its task, key, the lowest
//! task of its component]`; the testing kit captures those emits.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use squall_worker::prelude::*;
use squall_worker::testing::{CompleteTopology, CompletedRun, FixedSpout};
use squall_worker::{CustomGrouping, TaskId, Value};
use std::collections::{BTreeMap, BTreeSet};

struct WhoGotIt {
    task: i64,
    lowest: i64,
}

impl Bolt for WhoGotIt {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["task", "key", "lowest"]));
    }
    fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.task = i64::from(ctx.this_task_id());
        self.lowest = i64::from(ctx.component_tasks(ctx.this_component_id())[0]);
        Ok(())
    }
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let key = input.get(&0)?.clone();
        out.emit(&[&input], values![self.task, key, self.lowest])?;
        out.ack(&input);
        Ok(())
    }
}

fn who() -> WhoGotIt {
    WhoGotIt { task: 0, lowest: 0 }
}

/// (task, key) pairs a recording bolt saw, and its lowest task id.
fn deliveries(run: &CompletedRun, bolt: &str) -> (Vec<(i64, Value)>, i64) {
    let emitted = run.emitted(bolt, "default");
    let lowest = emitted.first().and_then(|v| v[2].as_i64()).unwrap_or(-1);
    let pairs = emitted
        .iter()
        .map(|v| (v[0].as_i64().unwrap_or(-1), v[1].clone()))
        .collect();
    (pairs, lowest)
}

fn per_task(pairs: &[(i64, Value)]) -> BTreeMap<i64, usize> {
    let mut m = BTreeMap::new();
    for (t, _) in pairs {
        *m.entry(*t).or_default() += 1;
    }
    m
}

/// Even keys to the first target, odd keys to all the others.
struct Parity {
    targets: Vec<TaskId>,
}

impl CustomGrouping for Parity {
    fn prepare(&mut self, targets: &[TaskId]) {
        self.targets = targets.to_vec();
    }
    fn choose_tasks(&mut self, _source: TaskId, values: &[Value], out: &mut Vec<TaskId>) {
        match values[0].as_i64() {
            Some(n) if n % 2 == 0 => out.push(self.targets[0]),
            _ => out.extend_from_slice(&self.targets[1..]),
        }
    }
}

#[test]
fn every_grouping_delivers_as_specified() {
    const N: i64 = 1200;
    let keys: Vec<Values> = (0..N).map(|i| values![i % 40]).collect();
    let hot: Vec<Values> = (0..N).map(|_| values!["hot"]).collect();
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "keys",
        || FixedSpout::new(Fields::new(["key"]), Vec::new()),
        1,
    );
    b.set_spout(
        "hot",
        || FixedSpout::new(Fields::new(["key"]), Vec::new()),
        1,
    );
    b.set_bolt("fields", who, 4)
        .fields_grouping("keys", ["key"]);
    b.set_bolt("global", who, 3).global_grouping("keys");
    b.set_bolt("all", who, 3).all_grouping("keys");
    b.set_bolt("shuffle", who, 4).shuffle_grouping("keys");
    b.set_bolt("none", who, 3).none_grouping("keys");
    b.set_bolt("local", who, 3)
        .local_or_shuffle_grouping("keys");
    b.set_bolt("partial", who, 4)
        .partial_key_grouping("hot", ["key"]);
    b.set_bolt("custom", who, 3)
        .custom_grouping("keys", || Parity {
            targets: Vec::new(),
        });
    let run = CompleteTopology::new()
        .mock("keys", keys)
        .mock("hot", hot)
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    let n = N as usize;

    // fields: one task per key, and the keys spread over several tasks.
    let (pairs, _) = deliveries(&run, "fields");
    assert_eq!(pairs.len(), n);
    let mut task_of_key: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (t, k) in &pairs {
        task_of_key.entry(k.to_string()).or_default().insert(*t);
    }
    assert!(task_of_key.values().all(|tasks| tasks.len() == 1));
    assert!(per_task(&pairs).len() >= 3, "{:?}", per_task(&pairs));

    // global: only the lowest task.
    let (pairs, lowest) = deliveries(&run, "global");
    assert_eq!(pairs.len(), n);
    assert_eq!(
        per_task(&pairs).into_keys().collect::<Vec<_>>(),
        vec![lowest]
    );

    // all: every task gets every tuple.
    let (pairs, _) = deliveries(&run, "all");
    assert_eq!(pairs.len(), 3 * n);
    assert_eq!(
        per_task(&pairs).into_values().collect::<Vec<_>>(),
        vec![n; 3]
    );

    // shuffle: one spout task round-robins, so every task gets exactly its share.
    let (pairs, _) = deliveries(&run, "shuffle");
    assert_eq!(
        per_task(&pairs).into_values().collect::<Vec<_>>(),
        vec![n / 4; 4]
    );

    // none and local-or-shuffle: each tuple once (in local mode every task is local).
    assert_eq!(deliveries(&run, "none").0.len(), n);
    let (pairs, _) = deliveries(&run, "local");
    assert_eq!(
        per_task(&pairs).into_values().collect::<Vec<_>>(),
        vec![n / 3; 3]
    );

    // partial key: one hot key is split evenly over exactly two tasks.
    let (pairs, _) = deliveries(&run, "partial");
    assert_eq!(
        per_task(&pairs).into_values().collect::<Vec<_>>(),
        vec![n / 2; 2]
    );

    // custom: even keys to the lowest task only, odd keys to the two others.
    let (pairs, lowest) = deliveries(&run, "custom");
    for (t, k) in &pairs {
        let even = k.as_i64().is_some_and(|v| v % 2 == 0);
        assert_eq!(*t == lowest, even, "key {k} went to task {t}");
    }
    assert_eq!(pairs.len(), n / 2 + n);
}

/// Emits key k directly to task k mod n of the "direct" bolt, naming the target in the tuple.
struct DirectSpout {
    next: i64,
    n: i64,
    targets: Vec<TaskId>,
}

impl Spout for DirectSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare_direct_stream("direct", Fields::new(["key", "target"]));
    }
    fn open(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.targets = ctx.component_tasks("direct").to_vec();
        Ok(())
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.next < self.n {
            let target = self.targets[(self.next as usize) % self.targets.len()];
            let got = out.emit_direct(
                target,
                "direct",
                values![self.next, i64::from(target)],
                Some(self.next as u64),
            )?;
            assert_eq!(got, &[target]);
            // A plain emit on a direct stream is refused.
            assert!(out.emit_on("direct", values![0, 0], None).is_err());
            self.next += 1;
        }
        Ok(())
    }
    fn is_exhausted(&self) -> bool {
        self.next >= self.n
    }
}

/// Records (its task, the target named in the tuple).
struct Target(i64);

impl Bolt for Target {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["task", "target"]));
    }
    fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.0 = i64::from(ctx.this_task_id());
        Ok(())
    }
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        out.emit(&[&input], values![self.0, input.get_i64("target")?])?;
        out.ack(&input);
        Ok(())
    }
}

#[test]
fn direct_grouping_delivers_to_the_chosen_task() {
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "src",
        || DirectSpout {
            next: 0,
            n: 300,
            targets: Vec::new(),
        },
        1,
    );
    b.set_bolt("direct", || Target(0), 3)
        .direct_grouping(("src", "direct"));
    let run = CompleteTopology::new()
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(run.spout_acked(), 300);
    let got = run.emitted("direct", "default");
    assert_eq!(got.len(), 300);
    let tasks: BTreeSet<i64> = got.iter().filter_map(|v| v[0].as_i64()).collect();
    assert_eq!(tasks.len(), 3);
    for v in got {
        assert_eq!(v[0], v[1], "delivered to {} instead of {}", v[0], v[1]);
    }
}
