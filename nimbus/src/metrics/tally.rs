//! What one executor (or a whole component) did over some span: counters, per-stream counts
//! and latency histograms, with the arithmetic the windows need.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use squall_proto::pb;

use super::histogram::SparseHistogram;

/// Counts and latencies over a span.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub emitted: u64,
    pub transferred: u64,
    pub acked: u64,
    pub failed: u64,
    pub executed: u64,
    pub errors: u64,
    /// Per output stream: emitted, transferred.
    pub streams: BTreeMap<String, [u64; 2]>,
    /// Bolts, per input stream (source component, then stream): executed, acked, failed.
    #[serde(default)]
    pub inputs: BTreeMap<String, BTreeMap<String, [u64; 3]>>,
    pub complete: SparseHistogram,
    pub execute: SparseHistogram,
    pub process: SparseHistogram,
}

impl Tally {
    /// An executor's totals as its worker reported them.
    pub fn from_wire(e: &pb::ExecutorStats) -> Self {
        Tally {
            emitted: e.emitted,
            transferred: e.transferred,
            acked: e.acked,
            failed: e.failed,
            executed: e.executed,
            errors: e.errors,
            streams: e
                .streams
                .iter()
                .map(|s| (s.stream.clone(), [s.emitted, s.transferred]))
                .collect(),
            inputs: e.inputs.iter().fold(BTreeMap::new(), |mut m, i| {
                let counts: &mut [u64; 3] = m
                    .entry(i.component.clone())
                    .or_insert_with(BTreeMap::new)
                    .entry(i.stream.clone())
                    .or_default();
                for (c, n) in counts.iter_mut().zip([i.executed, i.acked, i.failed]) {
                    *c += n;
                }
                m
            }),
            complete: SparseHistogram::from_wire(e.complete_latency.as_ref()),
            execute: SparseHistogram::from_wire(e.execute_latency.as_ref()),
            process: SparseHistogram::from_wire(e.process_latency.as_ref()),
        }
    }

    /// Adds another span's figures.
    pub fn add(&mut self, o: &Tally) {
        self.emitted += o.emitted;
        self.transferred += o.transferred;
        self.acked += o.acked;
        self.failed += o.failed;
        self.executed += o.executed;
        self.errors += o.errors;
        for (stream, [e, t]) in &o.streams {
            let s = self.streams.entry(stream.clone()).or_default();
            s[0] += e;
            s[1] += t;
        }
        for (component, streams) in &o.inputs {
            let mine = self.inputs.entry(component.clone()).or_default();
            for (stream, counts) in streams {
                let c = mine.entry(stream.clone()).or_default();
                for (a, b) in c.iter_mut().zip(counts) {
                    *a += b;
                }
            }
        }
        self.complete.add(&o.complete);
        self.execute.add(&o.execute);
        self.process.add(&o.process);
    }

    /// What happened between `earlier` and `self`, two reports of the same source; `None` when
    /// some figure went down (the source restarted and counts from zero again).
    pub fn since(&self, earlier: &Tally) -> Option<Tally> {
        let mut streams = BTreeMap::new();
        for (stream, [e, t]) in &self.streams {
            let [e0, t0] = earlier.streams.get(stream).copied().unwrap_or_default();
            streams.insert(stream.clone(), [e.checked_sub(e0)?, t.checked_sub(t0)?]);
        }
        let mut inputs: BTreeMap<String, BTreeMap<String, [u64; 3]>> = BTreeMap::new();
        for (component, by_stream) in &self.inputs {
            for (stream, [x, a, f]) in by_stream {
                let [x0, a0, f0] = earlier
                    .inputs
                    .get(component)
                    .and_then(|s| s.get(stream))
                    .copied()
                    .unwrap_or_default();
                inputs.entry(component.clone()).or_default().insert(
                    stream.clone(),
                    [x.checked_sub(x0)?, a.checked_sub(a0)?, f.checked_sub(f0)?],
                );
            }
        }
        Some(Tally {
            emitted: self.emitted.checked_sub(earlier.emitted)?,
            transferred: self.transferred.checked_sub(earlier.transferred)?,
            acked: self.acked.checked_sub(earlier.acked)?,
            failed: self.failed.checked_sub(earlier.failed)?,
            executed: self.executed.checked_sub(earlier.executed)?,
            errors: self.errors.checked_sub(earlier.errors)?,
            streams,
            inputs,
            complete: self.complete.since(&earlier.complete)?,
            execute: self.execute.since(&earlier.execute)?,
            process: self.process.since(&earlier.process)?,
        })
    }

    /// The same figures with each histogram reduced to one bucket at its mean: enough for the
    /// per-executor rows (means and capacity) at a fraction of the memory.
    pub fn collapsed(&self) -> Tally {
        let collapse = |h: &SparseHistogram| {
            let n = h.count();
            if n == 0 {
                return SparseHistogram::default();
            }
            SparseHistogram::from_wire(Some(&pb::Histogram {
                values: vec![h.mean().round() as u64],
                counts: vec![n],
            }))
        };
        Tally {
            streams: BTreeMap::new(),
            inputs: BTreeMap::new(),
            complete: collapse(&self.complete),
            execute: collapse(&self.execute),
            process: collapse(&self.process),
            ..self.clone()
        }
    }

    /// The share of `span_secs` spent executing, estimated from the sampled execute latency
    /// (Storm's capacity: executed × mean execute latency / span).
    pub fn capacity(&self, span_secs: f64) -> f64 {
        if span_secs <= 0.0 {
            return 0.0;
        }
        self.executed as f64 * self.execute.mean() / 1e9 / span_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_inverts_add_and_detects_restarts() {
        let mut a = Tally {
            emitted: 10,
            acked: 4,
            ..Tally::default()
        };
        a.streams.insert("default".into(), [10, 20]);
        let mut d = Tally {
            emitted: 5,
            executed: 2,
            ..Tally::default()
        };
        d.streams.insert("default".into(), [5, 10]);
        let mut b = a.clone();
        b.add(&d);
        assert_eq!(b.since(&a), Some(d));
        assert_eq!(a.since(&b), None);
    }

    #[test]
    fn capacity_is_busy_time_over_span() {
        let t = Tally {
            executed: 1_000,
            execute: SparseHistogram::from_wire(Some(&pb::Histogram {
                values: vec![5_000_000],
                counts: vec![10],
            })),
            ..Tally::default()
        };
        // 1,000 × 5 ms = 5 s busy in 10 s.
        assert!((t.capacity(10.0) - 0.5).abs() < 1e-9);
    }
}
