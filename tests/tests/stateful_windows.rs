//! Stateful windows in the running engine (local mode, on-disk state): a topology stopped with
//! a window half full and started again over the same files finds that window's tuples, so
//! the next window holds them, and no window is evaluated twice.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use squall_worker::prelude::*;
use squall_worker::state::{
    TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
};
use squall_worker::testing::{CompleteTopology, CompletedRun, FixedSpout};

/// Emits each window's first and last number, size and sum, and the number of windows so far
/// (kept in its state).
struct Sum;

impl StatefulWindowedBolt for Sum {
    type Key = String;
    type Value = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["first", "last", "size", "sum", "windows"]));
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        state: &mut KeyValueState<String, i64>,
        out: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let mut ns = Vec::new();
        for t in window.get() {
            ns.push(t.get_i64("n")?);
        }
        let windows = state.entry("windows".into()).or_insert(0);
        *windows += 1;
        let windows = *windows;
        let first = ns.first().copied().unwrap_or(-1);
        let last = ns.last().copied().unwrap_or(-1);
        out.emit(values![
            first,
            last,
            ns.len() as i64,
            ns.iter().sum::<i64>(),
            windows
        ])?;
        Ok(())
    }
}

fn topology() -> Topology {
    let mut b = TopologyBuilder::new();
    b.set_spout("numbers", || FixedSpout::new(Fields::new(["n"]), vec![]), 1);
    b.set_stateful_windowed_bolt("sum", || Sum, WindowSpec::tumbling(Extent::count(10)), 1)
        .global_grouping("numbers");
    b.build().unwrap()
}

fn conf_on_disk(dir: &std::path::Path) -> Config {
    let mut conf = Config::new();
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, 100);
    conf.set(TOPOLOGY_STATE_PROVIDER, "disk");
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        format!(r#"{{"dir": "{}"}}"#, dir.display()),
    );
    conf
}

/// Sends `numbers` in order and runs until every tree completed.
fn run(dir: &std::path::Path, numbers: std::ops::Range<i64>) -> CompletedRun {
    CompleteTopology::new()
        .conf(conf_on_disk(dir))
        .timeout(Duration::from_secs(30))
        .mock("numbers", numbers.map(|n| values![n]))
        .run(&topology())
        .unwrap()
}

/// The windows emitted: (first, last, size, sum, windows so far).
fn windows(run: &CompletedRun) -> Vec<[i64; 5]> {
    run.emitted("sum", "default")
        .iter()
        .map(|v| std::array::from_fn(|i| v[i].as_i64().unwrap()))
        .collect()
}

#[test]
fn a_window_half_full_at_a_stop_is_completed_after_the_restart_and_none_is_evaluated_twice() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), 0..15);
    assert!(first.is_complete(), "trees still in flight");
    assert_eq!(first.spout_acked(), 15, "every input acked once committed");
    assert_eq!(first.spout_failed(), 0);
    // 10..14 wait in the open window, committed with it.
    assert_eq!(windows(&first), [[0, 9, 10, 45, 1]]);

    let second = run(dir.path(), 15..25);
    assert!(second.is_complete());
    assert_eq!(second.spout_acked(), 10);
    assert_eq!(
        windows(&second),
        [[10, 19, 10, (10..20).sum(), 2]],
        "the window holds 10..14 from before the restart; 0..9 is not evaluated again"
    );
}
