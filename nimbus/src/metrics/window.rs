//! Storm's metric windows (10 minutes, 3 hours, 1 day, all time) over rings of time buckets.
//!
//! Each delta a report brings is added to the current bucket of three rings of different
//! widths: 10 s buckets for the last hour (the 10-minute window and the UI's charts), 3-minute
//! buckets for 3 hours, 30-minute buckets for a day. A window's figures are the sum of the
//! buckets it covers, so it is exact to one bucket at its edge.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::tally::Tally;

/// A window over which status shows figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    /// The last 10 minutes.
    TenMinutes,
    /// The last 3 hours.
    ThreeHours,
    /// The last day.
    OneDay,
    /// Since the workers started (or Nimbus, if later).
    #[default]
    All,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 4] = [
        Window::TenMinutes,
        Window::ThreeHours,
        Window::OneDay,
        Window::All,
    ];

    /// Its length in seconds; `None` for all time.
    pub fn secs(self) -> Option<u64> {
        match self {
            Window::TenMinutes => Some(600),
            Window::ThreeHours => Some(3 * 3600),
            Window::OneDay => Some(24 * 3600),
            Window::All => None,
        }
    }

    /// The name status and the API use.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::TenMinutes => "10m",
            Window::ThreeHours => "3h",
            Window::OneDay => "1d",
            Window::All => "all",
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A window name that is not one of 10m, 3h, 1d, all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown window {0:?}: use 10m, 3h, 1d or all")]
pub struct UnknownWindow(pub String);

impl FromStr for Window {
    type Err = UnknownWindow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "10m" | "600" => Ok(Window::TenMinutes),
            "3h" | "10800" => Ok(Window::ThreeHours),
            "1d" | "86400" => Ok(Window::OneDay),
            "all" | ":all-time" | "" => Ok(Window::All),
            other => Err(UnknownWindow(other.to_owned())),
        }
    }
}

/// Buckets of one width, newest last.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ring {
    width_secs: u64,
    keep: usize,
    buckets: VecDeque<(u64, Tally)>,
}

impl Ring {
    fn new(width_secs: u64, keep: usize) -> Self {
        Ring {
            width_secs,
            keep,
            buckets: VecDeque::new(),
        }
    }

    fn add(&mut self, now_secs: u64, delta: &Tally) {
        let start = now_secs - now_secs % self.width_secs;
        match self.buckets.back_mut() {
            Some((s, t)) if *s == start => t.add(delta),
            _ => {
                self.buckets.push_back((start, delta.clone()));
                while self.buckets.len() > self.keep {
                    self.buckets.pop_front();
                }
            }
        }
    }

    fn sum_since(&self, since_secs: u64) -> Tally {
        let mut sum = Tally::default();
        for (start, t) in &self.buckets {
            if start + self.width_secs > since_secs {
                sum.add(t);
            }
        }
        sum
    }
}

/// Figures over every window for one executor or component.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rolling {
    fine: Ring,
    medium: Ring,
    coarse: Ring,
    total: Tally,
    /// When figures started arriving (Unix seconds): windows never reach back further.
    since_secs: u64,
}

/// Width of the fine ring's buckets: the charts' resolution.
pub const FINE_SECS: u64 = 10;

impl Rolling {
    /// Empty windows starting now.
    pub fn new(now_secs: u64) -> Self {
        Rolling {
            fine: Ring::new(FINE_SECS, 360),
            medium: Ring::new(180, 61),
            coarse: Ring::new(1800, 49),
            total: Tally::default(),
            since_secs: now_secs,
        }
    }

    /// Adds a delta to every window.
    pub fn add(&mut self, now_secs: u64, delta: &Tally) {
        self.fine.add(now_secs, delta);
        self.medium.add(now_secs, delta);
        self.coarse.add(now_secs, delta);
        self.total.add(delta);
    }

    /// Adds figures from before these windows began (a worker already running when Nimbus
    /// first heard of it): they count for all time only.
    pub fn add_to_all_time(&mut self, delta: &Tally) {
        self.total.add(delta);
    }

    /// The figures of a window and how many seconds it really spans.
    pub fn window(&self, window: Window, now_secs: u64) -> (Tally, f64) {
        let covered = now_secs.saturating_sub(self.since_secs).max(1) as f64;
        let Some(len) = window.secs() else {
            return (self.total.clone(), covered);
        };
        let since = now_secs.saturating_sub(len);
        let ring = match window {
            Window::TenMinutes => &self.fine,
            Window::ThreeHours => &self.medium,
            _ => &self.coarse,
        };
        (ring.sum_since(since), covered.min(len as f64))
    }

    /// The figures of the last `secs` seconds (to the fine buckets' resolution) and the span
    /// they cover: for current rates.
    pub fn recent(&self, secs: u64, now_secs: u64) -> (Tally, f64) {
        let since = now_secs.saturating_sub(secs);
        let start = self
            .fine
            .buckets
            .iter()
            .map(|(s, _)| *s)
            .find(|s| s + FINE_SECS > since)
            .unwrap_or(now_secs)
            .max(since)
            .max(self.since_secs);
        (
            self.fine.sum_since(since),
            now_secs.saturating_sub(start).max(1) as f64,
        )
    }

    /// The fine buckets of the last hour: (start in Unix seconds, figures).
    pub fn series(&self) -> impl Iterator<Item = (u64, &Tally)> {
        self.fine.buckets.iter().map(|(s, t)| (*s, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(n: u64) -> Tally {
        Tally {
            emitted: n,
            ..Tally::default()
        }
    }

    #[test]
    fn windows_keep_what_falls_inside_them() {
        let t0 = 1_000_000;
        let mut r = Rolling::new(t0);
        r.add(t0, &emitted(1));
        r.add(t0 + 700, &emitted(10));
        r.add(t0 + 4 * 3600, &emitted(100));
        let now = t0 + 4 * 3600 + 5;
        assert_eq!(r.window(Window::TenMinutes, now).0.emitted, 100);
        assert_eq!(r.window(Window::ThreeHours, now).0.emitted, 100);
        assert_eq!(r.window(Window::OneDay, now).0.emitted, 111);
        assert_eq!(r.window(Window::All, now).0.emitted, 111);
        assert_eq!(r.window(Window::TenMinutes, now).1, 600.0);
    }

    #[test]
    fn all_time_only_figures_stay_out_of_windows() {
        let mut r = Rolling::new(50);
        r.add_to_all_time(&emitted(7));
        r.add(60, &emitted(1));
        assert_eq!(r.window(Window::TenMinutes, 65).0.emitted, 1);
        assert_eq!(r.window(Window::All, 65).0.emitted, 8);
    }

    #[test]
    fn window_names_parse() {
        for w in Window::ALL {
            assert_eq!(w.as_str().parse::<Window>(), Ok(w));
        }
        assert!("2h".parse::<Window>().is_err());
    }
}
