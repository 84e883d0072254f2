//! Event-time watermarks, as Storm computes them: the minimum over the bolt's input streams of
//! the largest timestamp seen on each, minus the lag. None until every input stream has
//! brought a tuple (a stream still silent may yet bring old ones), and a watermark is given
//! only when it moves forward.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An input stream: (component, stream).
pub(crate) type Input = (String, String);

/// The watermark of one windowed bolt task.
#[derive(Debug, Clone)]
pub(crate) struct Watermarks {
    lag: i64,
    /// The inputs that must each have brought a tuple; empty: those seen so far.
    expected: Vec<Input>,
    max_seen: BTreeMap<Input, i64>,
    last: Option<i64>,
}

/// What the watermark has seen, for a checkpoint (the inputs come from the topology).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct WatermarkProgress {
    max_seen: Vec<(Input, i64)>,
    last: Option<i64>,
}

impl Watermarks {
    /// What the watermark has seen so far.
    pub(crate) fn progress(&self) -> WatermarkProgress {
        WatermarkProgress {
            max_seen: self.max_seen.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            last: self.last,
        }
    }

    /// Takes back what the watermark had seen.
    pub(crate) fn restore(&mut self, progress: WatermarkProgress) {
        self.max_seen = progress.max_seen.into_iter().collect();
        self.last = progress.last;
    }

    /// Watermarks over `inputs` (the bolt's subscriptions) behind the newest tuple by `lag_ms`.
    pub(crate) fn new(inputs: impl IntoIterator<Item = Input>, lag_ms: i64) -> Self {
        Watermarks {
            lag: lag_ms.max(0),
            expected: inputs.into_iter().collect(),
            max_seen: BTreeMap::new(),
            last: None,
        }
    }

    /// Notes a tuple's timestamp on its input stream.
    pub(crate) fn observe(&mut self, component: &str, stream: &str, ts: i64) {
        let key = (component.to_owned(), stream.to_owned());
        match self.max_seen.get_mut(&key) {
            Some(max) => *max = (*max).max(ts),
            None => {
                self.max_seen.insert(key, ts);
            }
        }
    }

    /// The new watermark, if every input has brought a tuple and it moved forward.
    pub(crate) fn advance(&mut self) -> Option<i64> {
        let min = if self.expected.is_empty() {
            self.max_seen.values().copied().min()?
        } else {
            let mut min = i64::MAX;
            for input in &self.expected {
                min = min.min(*self.max_seen.get(input)?);
            }
            min
        };
        let watermark = min.saturating_sub(self.lag);
        if self.last.is_some_and(|last| watermark <= last) {
            return None;
        }
        self.last = Some(watermark);
        Some(watermark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(c: &str) -> Input {
        (c.to_owned(), "default".to_owned())
    }

    #[test]
    fn the_slowest_input_holds_the_watermark_back_by_the_lag() {
        let mut w = Watermarks::new([input("a"), input("b")], 5);
        w.observe("a", "default", 100);
        assert_eq!(w.advance(), None); // b silent so far
        w.observe("b", "default", 40);
        w.observe("b", "default", 30); // out of order: the max stays 40
        assert_eq!(w.advance(), Some(35));
        assert_eq!(w.advance(), None); // no progress, no watermark
        w.observe("b", "default", 200);
        assert_eq!(w.advance(), Some(95)); // now a is the slowest
    }

    #[test]
    fn with_no_inputs_named_the_streams_seen_count() {
        let mut w = Watermarks::new([], 0);
        assert_eq!(w.advance(), None);
        w.observe("a", "s", 10);
        assert_eq!(w.advance(), Some(10));
    }
}
