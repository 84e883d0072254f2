//! Sliding and tumbling windows by count or by time, in processing or event time: which
//! tuples a window holds, when it is evaluated, and when a tuple leaves its last window (and is
//! acked). A pure core: every time is given by the caller, nothing reads a clock.
//!
//! Time windows are half-open on the left, `(end - length, end]`, as Storm evicts. In
//! processing time a count slide fires on the tuple that completes it and a time slide when
//! [`SlidingWindows::tick`] passes its due time. In event time tuples wait for the watermark:
//! a window is evaluated once the watermark is past its end; windows end on the slide's grid
//! (multiples of the slide), the first one at the earliest tuple's grid point, and windows with
//! no tuples are skipped. A tuple older than the watermark is late.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::spec::Extent;

/// One window, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fired<T> {
    /// Every tuple in the window, oldest first.
    pub(crate) tuples: Vec<T>,
    /// The tuples in no earlier window.
    pub(crate) new: Vec<T>,
    /// The tuples that left the windows since the last one was evaluated: acked after this one.
    pub(crate) expired: Vec<T>,
    /// Time windows: the window's (exclusive) start; count windows: its oldest tuple's time.
    pub(crate) start: i64,
    /// Time windows: the window's end; count windows: its newest tuple's time.
    pub(crate) end: i64,
}

/// A tuple that came after the watermark had passed it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Late<T> {
    /// The tuple.
    pub(crate) item: T,
    /// Its timestamp.
    pub(crate) ts: i64,
    /// The watermark it was behind.
    pub(crate) watermark: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Event<T> {
    ts: i64,
    item: T,
    /// In a window already evaluated.
    seen: bool,
}

/// The windows of one windowed bolt task.
#[derive(Debug)]
pub(crate) struct SlidingWindows<T> {
    length: Extent,
    slide: Extent,
    event_time: bool,
    /// Oldest first; in event time ordered by timestamp (ties in arrival order).
    events: VecDeque<Event<T>>,
    /// Event time: how many of `events` (a prefix) are older than the watermark.
    released: usize,
    /// Count slide: released tuples since the last trigger.
    since_trigger: u64,
    /// Time slide in processing time: when the next window is due.
    due: Option<i64>,
    /// Time slide in event time: the next window's end.
    next_end: Option<i64>,
    watermark: Option<i64>,
}

/// Where a task's sliding windows stand, for a checkpoint: everything but the spec, which a
/// restarted task takes from its bolt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SlidingProgress<T> {
    events: VecDeque<Event<T>>,
    released: usize,
    since_trigger: u64,
    due: Option<i64>,
    next_end: Option<i64>,
    watermark: Option<i64>,
}

impl<T: Clone> SlidingWindows<T> {
    /// Windows of `length` every `slide`, in event time (tuples wait for the watermark) or
    /// processing time.
    pub(crate) fn new(length: Extent, slide: Extent, event_time: bool) -> Self {
        SlidingWindows {
            length,
            slide,
            event_time,
            events: VecDeque::new(),
            released: 0,
            since_trigger: 0,
            due: None,
            next_end: None,
            watermark: None,
        }
    }

    /// Where the windows stand now.
    pub(crate) fn progress(&self) -> SlidingProgress<T> {
        SlidingProgress {
            events: self.events.clone(),
            released: self.released,
            since_trigger: self.since_trigger,
            due: self.due,
            next_end: self.next_end,
            watermark: self.watermark,
        }
    }

    /// Puts the windows back where `progress` says they stood.
    pub(crate) fn restore(&mut self, progress: SlidingProgress<T>) {
        self.released = progress.released.min(progress.events.len());
        self.events = progress.events;
        self.since_trigger = progress.since_trigger;
        self.due = progress.due;
        self.next_end = progress.next_end;
        self.watermark = progress.watermark;
    }

    /// The tuples held, oldest first.
    pub(crate) fn items(&self) -> impl Iterator<Item = &T> {
        self.events.iter().map(|e| &e.item)
    }

    /// Tuples held (in a window still to come or to be evaluated).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no tuple is held.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Takes a tuple with timestamp `ts` (its arrival time in processing time, which never
    /// goes back). Returns the windows it completes (a count slide in processing time), or
    /// the tuple back if it is late.
    ///
    /// # Errors
    /// [`Late`] when, in event time, `ts` is older than the watermark.
    pub(crate) fn add(&mut self, ts: i64, item: T) -> Result<Vec<Fired<T>>, Late<T>> {
        if let Some(watermark) = self.watermark
            && ts < watermark
        {
            return Err(Late {
                item,
                ts,
                watermark,
            });
        }
        let event = Event {
            ts,
            item,
            seen: false,
        };
        if !self.event_time {
            self.events.push_back(event);
            return Ok(self.released_one(self.events.len() - 1));
        }
        // After every tuple with the same or an earlier time: arrival order breaks ties.
        let at = self.events.partition_point(|e| e.ts <= ts);
        self.events.insert(at, event);
        Ok(Vec::new())
    }

    /// Processing time: evaluates the windows due by `now` (a time slide); the first call
    /// starts the schedule.
    pub(crate) fn tick(&mut self, now: i64) -> Vec<Fired<T>> {
        let Some(slide) = self.slide.millis() else {
            return Vec::new();
        };
        let slide = slide.max(1);
        if self.event_time {
            return Vec::new();
        }
        // The first window, (start - 1 + slide - length, start - 1 + slide], holds this
        // millisecond's tuples too, and any held already (a restored task's).
        let start = self.events.front().map_or(now, |e| e.ts.min(now));
        let mut due = self.due.unwrap_or(start.saturating_add(slide - 1));
        // Windows end on the schedule, not when the tick came (up to a poll late), so they
        // stay back to back; stretches with no tuple are skipped, so a long stall or a jump of
        // the clock costs nothing per window missed. Strictly after the end: a tuple stamped
        // `due` may still arrive during that millisecond.
        let mut fired = Vec::new();
        while now > due {
            let Some(oldest) = self.events.front().map(|e| e.ts) else {
                // Nothing held: on to the first end at or after now (a tuple stamped now
                // belongs to the window ending now, which fires once the clock is past it).
                due = due.saturating_add((now - due + slide - 1) / slide * slide);
                break;
            };
            if oldest > due {
                // The window ending at `due` would hold nothing: on to the first one that
                // holds the oldest tuple.
                due = due.saturating_add((oldest - due + slide - 1) / slide * slide);
                continue;
            }
            let p = self.events.partition_point(|e| e.ts <= due);
            fired.extend(self.fire(due, p));
            due = due.saturating_add(slide);
        }
        self.due = Some(due);
        fired
    }

    /// Event time: moves the watermark to `watermark` (never back) and evaluates every window
    /// that ends before it, in order.
    pub(crate) fn advance(&mut self, watermark: i64) -> Vec<Fired<T>> {
        if !self.event_time || self.watermark.is_some_and(|w| watermark <= w) {
            return Vec::new();
        }
        self.watermark = Some(watermark);
        let released = self.events.partition_point(|e| e.ts < watermark);
        let mut fired = Vec::new();
        match self.slide {
            Extent::Count(_) => {
                let mut i = self.released;
                self.released = released;
                while i < self.released {
                    let evicted_before = self.events.len();
                    fired.extend(self.released_one(i));
                    // Evictions moved the later tuples forward.
                    let evicted = evicted_before - self.events.len();
                    i = i + 1 - evicted;
                }
            }
            Extent::Duration(_) => {
                self.released = released;
                fired = self.fire_grid(watermark);
            }
        }
        fired
    }

    /// Counts the released tuple at index `i` towards a count slide, firing the window it
    /// completes.
    fn released_one(&mut self, i: usize) -> Vec<Fired<T>> {
        let Extent::Count(slide) = self.slide else {
            return Vec::new();
        };
        self.since_trigger += 1;
        if self.since_trigger < slide {
            return Vec::new();
        }
        self.since_trigger = 0;
        let end = self.events[i].ts;
        self.fire(end, i + 1).into_iter().collect()
    }

    /// Event time, time slide: the windows on the slide's grid that end before `watermark`,
    /// skipping empty ones (and, with a count length, ones with nothing new, which would
    /// repeat the last window for ever).
    fn fire_grid(&mut self, watermark: i64) -> Vec<Fired<T>> {
        let Some(slide) = self.slide.millis() else {
            return Vec::new();
        };
        let mut fired = Vec::new();
        while let Some(first) = self.events.front().map(|e| e.ts) {
            let mut end = self.next_end.unwrap_or_else(|| grid_end(first, slide));
            // The earliest tuple that would make the window ending at `end` worth evaluating.
            let wanted = match self.length {
                Extent::Duration(_) => {
                    let from = end.saturating_sub(self.length.millis().unwrap_or(0));
                    self.events.iter().find(|e| e.ts > from).map(|e| e.ts)
                }
                Extent::Count(_) => self.events.iter().find(|e| !e.seen).map(|e| e.ts),
            };
            match wanted {
                // Nothing in this window: on to the first one that holds that tuple.
                Some(ts) if ts > end => end = grid_end(ts, slide),
                Some(_) => {}
                None => {
                    self.next_end = Some(end);
                    break;
                }
            }
            if end >= watermark {
                self.next_end = Some(end);
                break;
            }
            let p = self.events.partition_point(|e| e.ts <= end);
            fired.extend(self.fire(end, p));
            self.next_end = Some(end.saturating_add(slide));
        }
        fired
    }

    /// Evaluates the window that ends at time `end` with the first `p` tuples: evicts the
    /// tuples before it (they are in no later window either) and returns it, unless empty.
    fn fire(&mut self, end: i64, p: usize) -> Option<Fired<T>> {
        let start_index = match self.length {
            Extent::Count(n) => p.saturating_sub(usize::try_from(n).unwrap_or(usize::MAX)),
            Extent::Duration(_) => {
                let from = end.saturating_sub(self.length.millis().unwrap_or(0));
                self.events.partition_point(|e| e.ts <= from).min(p)
            }
        };
        let expired: Vec<T> = self.events.drain(..start_index).map(|e| e.item).collect();
        self.released = self.released.saturating_sub(start_index);
        let p = p - start_index;
        if p == 0 {
            return (!expired.is_empty()).then(|| Fired {
                tuples: Vec::new(),
                new: Vec::new(),
                expired,
                start: end,
                end,
            });
        }
        let mut tuples = Vec::with_capacity(p);
        let mut new = Vec::new();
        for event in self.events.range_mut(..p) {
            tuples.push(event.item.clone());
            if !event.seen {
                event.seen = true;
                new.push(event.item.clone());
            }
        }
        let (start, end) = match self.length {
            Extent::Count(_) => (self.events[0].ts, self.events[p - 1].ts),
            Extent::Duration(_) => (end.saturating_sub(self.length.millis().unwrap_or(0)), end),
        };
        Some(Fired {
            tuples,
            new,
            expired,
            start,
            end,
        })
    }
}

/// The first end on the grid of `slide` at or after `ts`.
fn grid_end(ts: i64, slide: i64) -> i64 {
    let slide = slide.max(1);
    let rem = ts.rem_euclid(slide);
    if rem == 0 {
        ts
    } else {
        ts.saturating_add(slide - rem)
    }
}

#[cfg(test)]
mod tests;
