//! An idle topology costs next to no CPU: spouts with nothing to emit back off to 1 ms naps,
//! bolts and ackers wait to be woken, and their pool threads sleep. Alone in its test binary, so the process's CPU time
//! is this topology's.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use squall_examples::cpu::process_cpu_secs;
use squall_tests::Relay;
use squall_worker::prelude::*;

struct Silent;

impl Spout for Silent {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }
    fn next_tuple(&mut self, _out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }
}

#[test]
fn an_idle_topology_uses_almost_no_cpu() {
    let mut b = TopologyBuilder::new();
    b.set_spout("silent", || Silent, 2);
    b.set_bolt("a", || Relay::new(|_| Some(true)), 2)
        .shuffle_grouping("silent");
    b.set_bolt("b", || Relay::new(|_| Some(true)), 2)
        .shuffle_grouping("a");
    let running = LocalTopology::start("idle", &Config::new(), &b.build().unwrap()).unwrap();
    // Past the spouts' shorter naps (about 0.1 s of 100 us, then about 1 s of 1 ms).
    std::thread::sleep(Duration::from_millis(1500));
    let (cpu0, t0) = (process_cpu_secs(), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let used = (process_cpu_secs() - cpu0) / t0.elapsed().as_secs_f64();
    running.kill(Duration::ZERO);
    // 7 executors; "near zero" here is under 5% of one core.
    assert!(
        used < 0.05,
        "an idle topology used {:.1}% of a core",
        used * 100.0
    );
    eprintln!("idle topology: {:.2}% of a core", used * 100.0);
}
