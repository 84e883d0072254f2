//! Latency histograms as Nimbus keeps them: the (value, count) buckets a worker's HDR histogram
//! recorded, sorted by value. Workers quantize to 2 significant digits, so a window holds a few
//! hundred buckets at most, and merging, subtracting and reading percentiles are linear walks.

use serde::{Deserialize, Serialize};
use squall_proto::pb;

/// A sparse latency histogram in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseHistogram {
    /// (value, count), sorted by value, no zero counts.
    buckets: Vec<(u64, u64)>,
}

impl SparseHistogram {
    /// From the wire; buckets out of order or repeated are tolerated.
    pub fn from_wire(h: Option<&pb::Histogram>) -> Self {
        let Some(h) = h else {
            return SparseHistogram::default();
        };
        let mut buckets: Vec<(u64, u64)> = h
            .values
            .iter()
            .zip(&h.counts)
            .filter(|(_, n)| **n > 0)
            .map(|(v, n)| (*v, *n))
            .collect();
        buckets.sort_unstable_by_key(|b| b.0);
        buckets.dedup_by(|b, a| {
            if a.0 == b.0 {
                a.1 += b.1;
                true
            } else {
                false
            }
        });
        SparseHistogram { buckets }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.1).sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &SparseHistogram) {
        if other.buckets.is_empty() {
            return;
        }
        if self.buckets.is_empty() {
            self.buckets.clone_from(&other.buckets);
            return;
        }
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut a, mut b) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    merged.push((x.0, x.1 + y.1));
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    merged.push(**x);
                    a.next();
                }
                (Some(_), Some(y)) => {
                    merged.push(**y);
                    b.next();
                }
                (Some(x), None) => {
                    merged.push(**x);
                    a.next();
                }
                (None, Some(y)) => {
                    merged.push(**y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = merged;
    }

    /// What was recorded in `self` since `earlier` was taken of the same source, or `None` when
    /// `earlier` has counts `self` lacks (the source restarted).
    pub fn since(&self, earlier: &SparseHistogram) -> Option<SparseHistogram> {
        let mut out = Vec::with_capacity(self.buckets.len());
        let mut old = earlier.buckets.iter().peekable();
        for &(v, n) in &self.buckets {
            let mut before = 0;
            if let Some(&&(ov, on)) = old.peek() {
                if ov < v {
                    // A bucket that disappeared: counts never go down on one source.
                    return None;
                }
                if ov == v {
                    before = on;
                    old.next();
                }
            }
            match n.checked_sub(before)? {
                0 => {}
                d => out.push((v, d)),
            }
        }
        if old.next().is_some() {
            return None;
        }
        Some(SparseHistogram { buckets: out })
    }

    /// The value at quantile `q` (0..=1), in nanoseconds; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(v, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return v;
            }
        }
        self.buckets.last().map_or(0, |b| b.0)
    }

    /// The mean in nanoseconds; 0 when empty.
    pub fn mean(&self) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let sum: f64 = self.buckets.iter().map(|&(v, n)| v as f64 * n as f64).sum();
        sum / total as f64
    }

    /// Count and summary in milliseconds, as status shows it.
    pub fn summary(&self) -> pb::LatencySummary {
        let ms = |ns: u64| ns as f64 / 1e6;
        pb::LatencySummary {
            count: self.count(),
            mean_ms: self.mean() / 1e6,
            p50_ms: ms(self.quantile(0.5)),
            p99_ms: ms(self.quantile(0.99)),
            p999_ms: ms(self.quantile(0.999)),
            max_ms: ms(self.buckets.last().map_or(0, |b| b.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(u64, u64)]) -> SparseHistogram {
        SparseHistogram::from_wire(Some(&pb::Histogram {
            values: pairs.iter().map(|p| p.0).collect(),
            counts: pairs.iter().map(|p| p.1).collect(),
        }))
    }

    #[test]
    fn add_then_since_gives_back_the_delta() {
        let base = h(&[(10, 3), (20, 1)]);
        let delta = h(&[(5, 2), (20, 4), (40, 1)]);
        let mut total = base.clone();
        total.add(&delta);
        assert_eq!(total, h(&[(5, 2), (10, 3), (20, 5), (40, 1)]));
        assert_eq!(total.since(&base), Some(delta));
    }

    #[test]
    fn since_a_larger_histogram_is_a_restart() {
        assert_eq!(h(&[(10, 1)]).since(&h(&[(10, 2)])), None);
        assert_eq!(h(&[(20, 1)]).since(&h(&[(10, 1)])), None);
        assert_eq!(h(&[(10, 1)]).since(&h(&[(10, 1), (30, 1)])), None);
    }

    #[test]
    fn quantiles_and_mean() {
        let x = h(&[(100, 98), (1000, 1), (5000, 1)]);
        assert_eq!(x.quantile(0.5), 100);
        assert_eq!(x.quantile(0.98), 100);
        assert_eq!(x.quantile(0.99), 1000);
        assert_eq!(x.quantile(1.0), 5000);
        assert!((x.mean() - 158.0).abs() < 1e-9);
        assert_eq!(SparseHistogram::default().quantile(0.5), 0);
    }
}
