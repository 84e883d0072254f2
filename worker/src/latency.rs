//! The latencies an executor measures on its own thread before publishing them: every tree's
//! complete latency at spouts, and a sample of execute and process latencies at bolts (Storm's
//! `topology.stats.sample.rate`, 5% by default), so that timing costs two clock reads on one
//! tuple in twenty rather than on every tuple.

use std::sync::OnceLock;
use std::time::Instant;

use hdrhistogram::Histogram;
use rand::RngExt;
use rand::rngs::SmallRng;
use squall_topology_api::Tuple;

use crate::stats::{ExecutorStats, LatencyKind, new_metrics_histogram};

/// Storm's default `topology.stats.sample.rate`.
pub const DEFAULT_SAMPLE_RATE: f64 = 0.05;

/// Local latencies are merged into the shared stats at most this often: a merge walks every
/// bucket, and readers want them every second at most.
const MERGE_EVERY_NS: u64 = 200_000_000;

/// What a sampled execute span costs with nothing inside it: the shortest of many back-to-back
/// clock reads, measured once per process. Sub-microsecond executes (a word count's) otherwise
/// read about 20 ns long, enough to show a count bolt's capacity above 1.
fn clock_overhead_ns() -> u64 {
    static OVERHEAD: OnceLock<u64> = OnceLock::new();
    *OVERHEAD.get_or_init(|| {
        (0..1000)
            .map(|_| Instant::now().elapsed().as_nanos() as u64)
            .min()
            .unwrap_or(0)
    })
}

/// Picks one tuple in `every` without a random draw per tuple: a countdown started at a random
/// point, so executors do not all sample the same positions of their batches.
#[derive(Debug)]
pub(crate) struct Sampler {
    every: u32,
    countdown: u32,
}

impl Sampler {
    /// A sampler for `rate` (0 or less: never samples).
    pub fn new(rate: f64, rng: &mut SmallRng) -> Self {
        if rate.is_nan() || rate <= 0.0 {
            return Sampler {
                every: 0,
                countdown: 0,
            };
        }
        let every = (1.0 / rate.min(1.0)).round().max(1.0) as u32;
        Sampler {
            every,
            countdown: rng.random_range(1..=every),
        }
    }

    /// Whether this tuple is one to time.
    #[inline]
    pub fn sample(&mut self) -> bool {
        if self.every == 0 {
            return false;
        }
        self.countdown -= 1;
        if self.countdown == 0 {
            self.countdown = self.every;
            true
        } else {
            false
        }
    }
}

/// One executor's latency histograms since their last merge.
pub(crate) struct Latencies {
    local: [Histogram<u64>; 3],
    started: Instant,
    sampler: Sampler,
    last_merge_ns: u64,
    unmerged: bool,
    clock_overhead_ns: u64,
}

impl Latencies {
    pub fn new(sample_rate: f64, rng: &mut SmallRng) -> Self {
        Latencies {
            local: [
                new_metrics_histogram(),
                new_metrics_histogram(),
                new_metrics_histogram(),
            ],
            started: Instant::now(),
            sampler: Sampler::new(sample_rate, rng),
            last_merge_ns: 0,
            unmerged: false,
            clock_overhead_ns: clock_overhead_ns(),
        }
    }

    /// Records one latency in nanoseconds.
    #[inline]
    pub fn record(&mut self, kind: LatencyKind, nanos: u64) {
        // Values past the histogram's hour saturate rather than being lost.
        self.local[kind as usize].saturating_record(nanos.max(1));
        self.unmerged = true;
    }

    fn now_us(&self) -> u32 {
        // Wrapping on purpose: stamps only ever measure spans far shorter than 71 minutes.
        self.started.elapsed().as_micros() as u32
    }

    /// Microseconds since `stamp`; a stamp nudged from 0 to 1 reads as 0, not as a wrap.
    fn since(&self, stamp: u32) -> u64 {
        let d = self.now_us().wrapping_sub(stamp);
        if d > u32::MAX / 2 { 0 } else { u64::from(d) }
    }

    /// If this input is sampled, stamps it (for its process latency, in microseconds) and
    /// returns when its execute began (for its execute latency, in nanoseconds).
    #[inline]
    pub fn start_execute(&mut self, input: &Tuple) -> Option<Instant> {
        if !self.sampler.sample() {
            return None;
        }
        // One clock read serves both: the stamp is the same instant in microseconds.
        let now = Instant::now();
        let stamp = now.duration_since(self.started).as_micros() as u32;
        input.set_sample_stamp(stamp.max(1));
        Some(now)
    }

    /// Closes a sampled execute span.
    pub fn finish_execute(&mut self, started: Instant) {
        let span = started.elapsed().as_nanos() as u64;
        self.record(
            LatencyKind::Execute,
            span.saturating_sub(self.clock_overhead_ns),
        );
    }

    /// Records the process latency of an input being acked, if it was sampled.
    #[inline]
    pub fn on_ack(&mut self, input: &Tuple) {
        let stamp = input.sample_stamp();
        if stamp != 0 {
            input.set_sample_stamp(0);
            let micros = self.since(stamp);
            self.record(LatencyKind::Process, micros * 1000);
        }
    }

    /// Hands what was measured to the shared stats, at most every 200 ms unless `force`.
    pub fn merge_into(&mut self, stats: &ExecutorStats, force: bool) {
        if !self.unmerged {
            return;
        }
        let now = self.started.elapsed().as_nanos() as u64;
        if !force && now.saturating_sub(self.last_merge_ns) < MERGE_EVERY_NS {
            return;
        }
        stats.merge_latencies(&self.local);
        for h in &mut self.local {
            h.reset();
        }
        self.last_merge_ns = now;
        self.unmerged = false;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn sampler_picks_one_in_every() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut s = Sampler::new(0.05, &mut rng);
        let picked = (0..20_000).filter(|_| s.sample()).count();
        assert_eq!(picked, 1_000);
    }

    #[test]
    fn rate_zero_never_samples() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut s = Sampler::new(0.0, &mut rng);
        assert!((0..1_000).all(|_| !s.sample()));
    }

    #[test]
    fn process_latency_is_recorded_once_per_sampled_ack() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut l = Latencies::new(1.0, &mut rng);
        let t = Tuple::for_test(
            "c",
            "default",
            squall_topology_api::Fields::new(["x"]),
            squall_topology_api::values![1],
        );
        let started = l.start_execute(&t).expect("rate 1 samples every tuple");
        l.finish_execute(started);
        l.on_ack(&t);
        l.on_ack(&t);
        let stats = ExecutorStats::new(Vec::new());
        l.merge_into(&stats, true);
        let execute = stats.latency_ns(LatencyKind::Execute);
        assert_eq!(execute.len(), 1);
        assert!(
            execute.max() < 1_000_000_000,
            "a span right after start is not a wrap"
        );
        assert_eq!(stats.latency_ns(LatencyKind::Process).len(), 1);
        assert_eq!(stats.latency_ns(LatencyKind::Complete).len(), 0);
    }
}
