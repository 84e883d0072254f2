//! Session windows (Flink's; Storm has none): per key, the tuples with no gap longer than
//! `gap` between them. A session closes once the time (processing time, or the watermark in
//! event time) is past its last tuple plus the gap; a tuple that bridges two sessions of its
//! key merges them, so out-of-order tuples in event time land in the session they belong to.
//! A pure core: every time is given by the caller.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sliding::{Fired, Late};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session<T> {
    first: i64,
    last: i64,
    /// (timestamp, tuple), in arrival order.
    items: Vec<(i64, T)>,
}

/// The open sessions of one windowed bolt task.
#[derive(Debug)]
pub(crate) struct Sessions<K, T> {
    gap: i64,
    event_time: bool,
    /// Per key, its open sessions, disjoint and in time order.
    open: BTreeMap<K, Vec<Session<T>>>,
    watermark: Option<i64>,
    /// A session is cut (evaluated, and its tuples acked) once it spans this long, so a key
    /// that never goes quiet does not hold its tuples past their timeout.
    max_span: Option<i64>,
}

/// Where a task's sessions stand, for a checkpoint (keys and sessions as a list: a JSON map
/// needs text keys).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionsProgress<K, T> {
    open: Vec<(K, Vec<Session<T>>)>,
    watermark: Option<i64>,
}

impl<K: Ord + Clone, T: Clone> Sessions<K, T> {
    /// Sessions closed by `gap_ms` of quiet, in event time (closed by the watermark) or
    /// processing time.
    pub(crate) fn new(gap_ms: i64, event_time: bool) -> Self {
        Sessions {
            gap: gap_ms.max(1),
            event_time,
            open: BTreeMap::new(),
            watermark: None,
            max_span: None,
        }
    }

    /// Cuts a session once the time is this far past its first tuple (the next tuples of the
    /// key start a new one).
    pub(crate) fn set_max_span(&mut self, ms: i64) {
        self.max_span = Some(ms.max(1));
    }

    /// Where the sessions stand now.
    pub(crate) fn progress(&self) -> SessionsProgress<K, T> {
        SessionsProgress {
            open: self
                .open
                .iter()
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect(),
            watermark: self.watermark,
        }
    }

    /// Puts the sessions back where `progress` says they stood.
    pub(crate) fn restore(&mut self, progress: SessionsProgress<K, T>) {
        self.open = progress.open.into_iter().collect();
        self.watermark = progress.watermark;
    }

    /// The tuples held, in no particular order.
    pub(crate) fn items(&self) -> impl Iterator<Item = &T> {
        self.open
            .values()
            .flatten()
            .flat_map(|s| s.items.iter().map(|(_, t)| t))
    }

    /// Tuples held in open sessions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.open.values().flatten().map(|s| s.items.len()).sum()
    }

    /// Whether no session is open.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Takes a tuple of `key` at time `ts`, into the session it extends (merging the sessions
    /// it bridges) or a new one.
    ///
    /// # Errors
    /// [`Late`] when, in event time, `ts` is older than the watermark.
    pub(crate) fn add(&mut self, key: K, ts: i64, item: T) -> Result<(), Late<T>> {
        if self.event_time
            && let Some(watermark) = self.watermark
            && ts < watermark
        {
            return Err(Late {
                item,
                ts,
                watermark,
            });
        }
        let gap = self.gap;
        let sessions = self.open.entry(key).or_default();
        // Sessions within the gap of `ts` on either side: all become one.
        let touching =
            |s: &Session<T>| ts >= s.first.saturating_sub(gap) && ts <= s.last.saturating_add(gap);
        let mut merged = Session {
            first: ts,
            last: ts,
            items: Vec::new(),
        };
        let mut kept = Vec::with_capacity(sessions.len() + 1);
        for s in sessions.drain(..) {
            if touching(&s) {
                merged.first = merged.first.min(s.first);
                merged.last = merged.last.max(s.last);
                merged.items.extend(s.items);
            } else {
                kept.push(s);
            }
        }
        merged.items.push((ts, item));
        let at = kept.partition_point(|s| s.first < merged.first);
        kept.insert(at, merged);
        *sessions = kept;
        Ok(())
    }

    /// Closes every session whose last tuple plus the gap is before `now` (processing time)
    /// or the watermark `now` (event time; it never goes back), and cuts those that reached
    /// the maximum span. Each closed session is one
    /// window, in order of its end, whose tuples all expire with it.
    pub(crate) fn advance(&mut self, now: i64) -> Vec<(K, Fired<T>)> {
        if self.event_time {
            if self.watermark.is_some_and(|w| now <= w) {
                return Vec::new();
            }
            self.watermark = Some(now);
        }
        let gap = self.gap;
        let max_span = self.max_span.unwrap_or(i64::MAX);
        let mut closed = Vec::new();
        self.open.retain(|key, sessions| {
            sessions.retain_mut(|s| {
                if s.last.saturating_add(gap) < now || now.saturating_sub(s.first) >= max_span {
                    closed.push((key.clone(), std::mem::take(&mut s.items), s.first, s.last));
                    false
                } else {
                    true
                }
            });
            !sessions.is_empty()
        });
        closed.sort_by(|a, b| (a.3, &a.0).cmp(&(b.3, &b.0)));
        closed
            .into_iter()
            .map(|(key, mut items, first, last)| {
                items.sort_by_key(|(ts, _)| *ts);
                let tuples: Vec<T> = items.into_iter().map(|(_, t)| t).collect();
                let fired = Fired {
                    new: tuples.clone(),
                    expired: tuples.clone(),
                    tuples,
                    start: first,
                    end: last.saturating_add(gap),
                };
                (key, fired)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(fired: Vec<(&'static str, Fired<u32>)>) -> Vec<(&'static str, Vec<u32>, i64, i64)> {
        fired
            .into_iter()
            .map(|(k, f)| (k, f.tuples, f.start, f.end))
            .collect()
    }

    #[test]
    fn a_session_closes_after_the_gap_and_keys_are_apart() {
        let mut s = Sessions::new(10, false);
        s.add("a", 0, 1).unwrap();
        s.add("b", 5, 2).unwrap();
        s.add("a", 8, 3).unwrap();
        s.add("a", 18, 4).unwrap(); // 10 after 8: still the same session
        assert!(s.advance(15).is_empty()); // b: last 5 + 10 = 15, not yet before 15
        assert_eq!(closed(s.advance(16)), [("b", vec![2], 5, 15)]);
        assert!(s.advance(28).is_empty()); // a: last 18 + 10 = 28
        assert_eq!(closed(s.advance(29)), [("a", vec![1, 3, 4], 0, 28)]);
        assert!(s.is_empty());
        s.add("a", 40, 5).unwrap();
        s.add("a", 51, 6).unwrap(); // 11 after 40: a new session
        assert_eq!(closed(s.advance(51)), [("a", vec![5], 40, 50)]);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_key_that_never_goes_quiet_is_cut_at_the_maximum_span() {
        let mut s = Sessions::new(10, false);
        s.set_max_span(100);
        for t in (0..=95).step_by(5) {
            s.add("busy", t, t as u32).unwrap();
        }
        assert!(s.advance(99).is_empty());
        let cut = closed(s.advance(100));
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].1.len(), 20);
        // The key's next tuples start a new session.
        s.add("busy", 101, 101).unwrap();
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn an_out_of_order_tuple_that_bridges_two_sessions_merges_them() {
        let mut s = Sessions::new(10, true);
        s.add("k", 0, 1).unwrap();
        s.add("k", 30, 3).unwrap();
        assert_eq!(s.len(), 2);
        s.add("k", 15, 2).unwrap(); // 15 from both: a session of its own
        assert!(s.advance(5).is_empty());
        assert_eq!(
            closed(s.advance(100)),
            [
                ("k", vec![1], 0, 10),
                ("k", vec![2], 15, 25),
                ("k", vec![3], 30, 40)
            ]
        );
        let mut s = Sessions::new(10, true);
        s.add("k", 0, 1).unwrap();
        s.add("k", 18, 3).unwrap();
        s.add("k", 9, 2).unwrap(); // 9 after 0 and 9 before 18: one session
        assert_eq!(closed(s.advance(100)), [("k", vec![1, 2, 3], 0, 28)]);
        // After the watermark, an older tuple is late.
        let late = s.add("k", 99, 4).unwrap_err();
        assert_eq!((late.ts, late.watermark), (99, 100));
    }
}
