//! When a connector may next try a server it lost: exponential backoff with jitter (the
//! `backon` crate's), started again by a success. Connectors run inside an executor that must
//! keep acking and emitting, so they never sleep: they ask [`Reconnect::ready`] and skip the
//! server until the delay has passed.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The first wait after a failure.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Backoff state for one server.
pub(crate) struct Reconnect {
    backoff: ExponentialBackoff,
    next_attempt: Option<Instant>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            backoff: builder().build(),
            next_attempt: None,
        }
    }
}

fn builder() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(FIRST_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_jitter()
        .without_max_times()
}

impl Reconnect {
    /// Whether the server may be tried at `now`.
    pub(crate) fn ready(&self, now: Instant) -> bool {
        self.next_attempt.is_none_or(|at| now >= at)
    }

    /// An attempt at `now` failed: the next waits a little longer. Returns the wait.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let delay = self.backoff.next().unwrap_or(MAX_DELAY);
        self.next_attempt = Some(now + delay);
        delay
    }

    /// An attempt succeeded: the next failure waits the shortest time again.
    pub(crate) fn succeeded(&mut self) {
        if self.next_attempt.take().is_some() {
            self.backoff = builder().build();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_up_to_the_cap_and_a_success_starts_again() {
        let mut r = Reconnect::default();
        let now = Instant::now();
        assert!(r.ready(now));
        let first = r.failed(now);
        assert!(!r.ready(now));
        assert!(r.ready(now + first));
        // Jitter adds up to one delay on top: the bounds are the delay and twice it.
        assert!(
            first >= FIRST_DELAY && first <= FIRST_DELAY * 2,
            "{first:?}"
        );
        let waits: Vec<Duration> = (0..12).map(|_| r.failed(now)).collect();
        assert!(waits[0] >= FIRST_DELAY * 2, "{waits:?}");
        assert!(waits.iter().all(|w| *w <= MAX_DELAY * 2), "{waits:?}");
        assert!(waits[11] >= MAX_DELAY, "{waits:?}");
        r.succeeded();
        assert!(r.ready(now));
        let again = r.failed(now);
        assert!(again <= FIRST_DELAY * 2, "{again:?}");
    }
}
