//! Windowed bolts in the running engine (local mode): a window's output is anchored to every
//! tuple of the window, so when a bolt downstream fails it, each of those tuples fails back to
//! the spout and replays; inputs are acked when they leave their last window, so every tree
//! completes once windows move on.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use squall_worker::prelude::*;
use squall_worker::testing::{CompleteTopology, FixedSpout};

/// Emits the sum of `n` over its window and how many tuples it held.
struct Sum;

impl WindowedBolt for Sum {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["sum", "size"]));
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let mut sum = 0;
        for t in window.get() {
            sum += t.get_i64("n")?;
        }
        out.emit(values![sum, window.get().len() as i64])?;
        Ok(())
    }
}

/// Fails the first window result it sees, acks the rest.
struct FailFirst(Arc<AtomicBool>);

impl Bolt for FailFirst {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if self.0.swap(false, Ordering::SeqCst) {
            out.fail(&input);
        } else {
            out.ack(&input);
        }
        Ok(())
    }
}

#[test]
fn a_failed_window_result_replays_every_tuple_of_the_window_and_all_trees_complete() {
    let first = Arc::new(AtomicBool::new(true));
    let mut b = TopologyBuilder::new();
    b.set_spout("numbers", || FixedSpout::new(Fields::new(["n"]), vec![]), 1);
    // 100 ms tumbling windows in processing time: a window's tuples are acked when the next
    // one is evaluated.
    let spec = WindowSpec::tumbling(Extent::duration(Duration::from_millis(100)));
    b.set_bolt("sum", move || Windowed::new(Sum, spec.clone()), 1)
        .shuffle_grouping("numbers");
    let flag = Arc::clone(&first);
    b.set_bolt("check", move || FailFirst(Arc::clone(&flag)), 1)
        .shuffle_grouping("sum");
    let run = CompleteTopology::new()
        .timeout(Duration::from_secs(20))
        .mock("numbers", (1..=6).map(|n| values![n as i64]))
        .run(&b.build().unwrap())
        .unwrap();
    assert!(run.is_complete(), "trees still in flight");
    let windows = run.emitted("sum", "default");
    let first_size = windows[0][1].as_i64().unwrap();
    // Every input was counted in some window, the failed window's ones twice.
    let counted: i64 = windows.iter().map(|w| w[1].as_i64().unwrap()).sum();
    assert_eq!(counted, 6 + first_size, "windows {windows:?}");
    assert_eq!(run.spout_acked(), 6);
    // The failed result took every tuple of its window back to the spout.
    assert_eq!(run.spout_failed() as i64, first_size, "windows {windows:?}");
    assert!(!first.load(Ordering::SeqCst));
}
