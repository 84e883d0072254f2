//! An adaptive bound on a spout task's trees in flight, used when
//! `topology.max.spout.pending` is unset and trees are tracked.
//!
//! Bounded queues alone stop a fast spout from outrunning a slow bolt, but not from filling
//! the bolt's queue with more than it can process within `topology.message.timeout.secs`:
//! the tail of that queue would time out from queueing alone and be replayed, again and again.
//! So the limit starts small and doubles while trees finish well within the timeout (slow
//! start), and drops to what finishes in an eighth of the timeout as soon as the oldest tree
//! or the predicted wait of the newest passes a quarter of it. An explicit
//! `topology.max.spout.pending` is always obeyed instead. No I/O here.

/// Where the limit starts.
pub(crate) const INITIAL: usize = 1024;
/// The limit never goes below this.
pub(crate) const MIN: usize = 16;
/// The limit never goes above this.
pub(crate) const MAX: usize = 1 << 20;

/// The limit of one spout task.
#[derive(Debug)]
pub(crate) struct InflightLimit {
    limit: usize,
    completed: u64,
    limited: bool,
}

impl Default for InflightLimit {
    fn default() -> Self {
        InflightLimit {
            limit: INITIAL,
            completed: 0,
            limited: false,
        }
    }
}

impl InflightLimit {
    /// Trees allowed in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A tree finished (acked or failed).
    pub fn completed(&mut self) {
        self.completed += 1;
    }

    /// `next_tuple` was skipped because the limit was reached.
    pub fn hit(&mut self) {
        self.limited = true;
    }

    /// Adjusts the limit at the end of a window of `window_ns`, given the trees in flight, the
    /// age of the oldest, and the message timeout.
    pub fn adjust(&mut self, pending: usize, oldest_ns: u64, window_ns: u64, timeout_ns: u64) {
        let window_secs = (window_ns as f64 / 1e9).max(1e-3);
        let rate = self.completed as f64 / window_secs;
        // With nothing finished in the window the wait cannot be predicted (a bolt may hold
        // its inputs on purpose); the age of the oldest tree still tells.
        let predicted_ns = if rate > 0.0 {
            pending as f64 / rate * 1e9
        } else {
            0.0
        };
        let timeout = timeout_ns as f64;
        if oldest_ns as f64 > timeout / 4.0 || predicted_ns > timeout / 4.0 {
            let target = if rate > 0.0 {
                (rate * timeout / 8.0 / 1e9) as usize
            } else {
                self.limit / 2
            };
            self.limit = target.clamp(MIN, self.limit.max(MIN));
        } else if self.limited && rate > 0.0 && predicted_ns < timeout / 16.0 {
            self.limit = (self.limit * 2).min(MAX);
        }
        self.completed = 0;
        self.limited = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn it_grows_while_trees_finish_quickly_and_only_when_it_binds() {
        let mut l = InflightLimit::default();
        l.adjust(10, SEC / 100, SEC, 30 * SEC);
        assert_eq!(l.limit(), INITIAL, "not limited: no growth");
        for _ in 0..1000 {
            l.completed();
        }
        l.hit();
        l.adjust(INITIAL, SEC / 100, SEC, 30 * SEC);
        assert_eq!(l.limit(), 2 * INITIAL);
    }

    #[test]
    fn a_slow_consumer_brings_it_down_to_an_eighth_of_the_timeout() {
        let mut l = InflightLimit::default();
        // 100 trees/s finish while 1024 wait: 10 s predicted against a 3 s timeout.
        for _ in 0..100 {
            l.completed();
        }
        l.hit();
        l.adjust(1024, SEC / 2, SEC, 3 * SEC);
        assert_eq!(l.limit(), 37, "100/s for 3/8 s");
        // Nothing finishing at all halves it.
        l.adjust(37, 2 * SEC, SEC, 3 * SEC);
        assert_eq!(l.limit(), MIN.max(18));
    }
}
