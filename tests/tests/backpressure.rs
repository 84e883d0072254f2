//! A spout far faster than its bolt: the trees in flight stay bounded and none fails by
//! timeout from queueing alone, with `topology.max.spout.pending` unset.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use squall_tests::{Tracker, TrackingSpout};
use squall_worker::prelude::*;
use squall_worker::stats::resident_bytes;
use squall_worker::testing::CompleteTopology;

/// Records the most trees it ever had in flight.
struct PeakSpout {
    inner: TrackingSpout,
    peak: Arc<AtomicU32>,
}

impl Spout for PeakSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.inner.declare_outputs(out);
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.inner.next_tuple(out)?;
        self.peak
            .fetch_max(out.pending_count() as u32, Ordering::SeqCst);
        Ok(())
    }
    fn ack(&mut self, id: MessageId) {
        self.inner.ack(id);
    }
    fn fail(&mut self, id: MessageId) {
        self.inner.fail(id);
    }
    fn is_exhausted(&self) -> bool {
        self.inner.is_exhausted()
    }
}

/// About a thousand tuples a second.
struct Slow;

impl Bolt for Slow {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        std::thread::sleep(Duration::from_millis(1));
        out.ack(&input);
        Ok(())
    }
}

/// 4,000 tuples (about 4.5 s) by default; `SQUALL_SOAK_TUPLES=200000` makes it a soak run of
/// minutes that also prints the process's memory every 10 s.
#[test]
fn a_slow_bolt_bounds_the_trees_in_flight_and_nothing_times_out() {
    let n: usize = std::env::var("SQUALL_SOAK_TUPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    let soak = n > 4000;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = soak.then(|| {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while !done.load(Ordering::SeqCst) {
                eprintln!(
                    "soak t={:>4}s rss={} KiB",
                    started.elapsed().as_secs(),
                    resident_bytes() / 1024
                );
                for _ in 0..100 {
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    });
    let tracker = Tracker::new(n);
    let peak = Arc::new(AtomicU32::new(0));
    let (t, p) = (Arc::clone(&tracker), Arc::clone(&peak));
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || PeakSpout {
            inner: TrackingSpout::new(Arc::clone(&t)),
            peak: Arc::clone(&p),
        },
        1,
    );
    b.set_bolt("slow", || Slow, 1).shuffle_grouping("ids");
    let mut conf = Config::new();
    conf.set(squall_worker::config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, 2.0);
    let run = CompleteTopology::new()
        .conf(conf)
        .timeout(Duration::from_secs(60 + n as u64 / 500))
        .capture(!soak)
        .run(&b.build().unwrap())
        .unwrap();
    done.store(true, Ordering::SeqCst);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    assert!(run.is_complete());
    assert_eq!(
        tracker.total_fails(),
        0,
        "trees timed out from queueing alone"
    );
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    let peak = peak.load(Ordering::SeqCst);
    // Unbounded, all of them would be queued at once (4,000 is about 4.5 s of work against a
    // 2 s timeout).
    assert!(peak <= 1100, "{peak} trees were in flight at once");
}
