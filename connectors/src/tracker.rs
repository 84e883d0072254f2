//! What a broker spout keeps between the broker and its tuple trees, with no I/O: messages
//! fetched and not yet emitted, trees in flight by message id, failed ones waiting to be
//! emitted again, and the broker positions whose trees completed, waiting to be acknowledged
//! to the broker in one batch.
//!
//! A failed message is emitted again at once the first time, then after a delay that doubles
//! with each further failure, up to [`MAX_RETRY_DELAY`] (storm-kafka-client's default retry
//! service): a message that fails every time, say one the sink refuses, is retried a few times
//! a minute instead of tens of thousands of times a second.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use squall_topology_api::{MessageId, Values};

/// A message as fetched: its broker position (a Redis entry id, an offset, ...) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched<P> {
    /// Where the broker keeps it.
    pub position: P,
    /// The tuple to emit.
    pub values: Values,
}

/// The delay before the second replay of a message; each later one waits twice as long.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(4);
/// The longest a failed message waits to be emitted again.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// Failed messages waiting out their delay beyond which the spout fetches no more. A waiting
/// message counts against no `topology.max.spout.pending` (its tree has failed), so without
/// this a sink failing everything would have the spout read the whole broker into memory.
pub const MAX_WAITING_REPLAYS: usize = 1024;

/// How long a message that failed `failures` times waits to be emitted again.
fn retry_delay(failures: u32) -> Duration {
    match failures {
        0 | 1 => Duration::ZERO,
        n => FIRST_RETRY_DELAY
            .saturating_mul(1 << (n - 2).min(20))
            .min(MAX_RETRY_DELAY),
    }
}

/// A message that failed: how often, and its place in the replay queue while it waits there.
#[derive(Debug, Default)]
struct Failed {
    count: u32,
    waiting: Option<(Instant, u64)>,
}

/// The spout's bookkeeping, for broker positions of type `P`.
#[derive(Debug)]
pub struct Tracker<P> {
    ready: VecDeque<Fetched<P>>,
    in_flight: HashMap<MessageId, Fetched<P>>,
    /// The messages in flight that failed, with their failures so far.
    failures: HashMap<MessageId, Failed>,
    /// Failed messages by when they are due again (then in failing order).
    replay: BTreeSet<(Instant, u64, MessageId)>,
    replay_seq: u64,
    completed: Vec<P>,
    next_id: MessageId,
}

impl<P: Clone> Default for Tracker<P> {
    fn default() -> Self {
        Tracker {
            ready: VecDeque::new(),
            in_flight: HashMap::new(),
            failures: HashMap::new(),
            replay: BTreeSet::new(),
            replay_seq: 0,
            completed: Vec::new(),
            next_id: 0,
        }
    }
}

impl<P: Clone> Tracker<P> {
    /// Queues fetched messages to be emitted.
    pub fn fetched(&mut self, messages: impl IntoIterator<Item = Fetched<P>>) {
        self.ready.extend(messages);
    }

    /// Whether nothing waits to be emitted, now or after a retry delay.
    pub fn is_drained(&self) -> bool {
        self.ready.is_empty() && self.replay.is_empty()
    }

    /// Whether it is time to fetch: nothing fetched waits, and no failed message is due (one
    /// waiting out its retry delay does not hold up new messages, unless
    /// [`MAX_WAITING_REPLAYS`] of them do).
    pub fn wants_more(&self) -> bool {
        // The clock is read only while failed messages wait.
        self.ready.is_empty()
            && self.replay.len() < MAX_WAITING_REPLAYS
            && (self.replay.is_empty() || !self.replay_due(Instant::now()))
    }

    fn replay_due(&self, now: Instant) -> bool {
        self.replay.first().is_some_and(|&(due, _, _)| due <= now)
    }

    /// The next tuple to emit and its message id: a failed tree's message whose retry delay
    /// is over first, else the oldest fetched one. Its tree is then in flight.
    pub fn next_to_emit(&mut self) -> Option<(MessageId, Values)> {
        // The clock is read only while failed messages wait.
        if !self.replay.is_empty() {
            let now = Instant::now();
            while self.replay_due(now) {
                let Some((_, _, id)) = self.replay.pop_first() else {
                    break;
                };
                if let Some(failed) = self.failures.get_mut(&id) {
                    failed.waiting = None;
                }
                // An id acked meanwhile must not be emitted again.
                if let Some(m) = self.in_flight.get(&id) {
                    return Some((id, m.values.clone()));
                }
            }
        }
        let message = self.ready.pop_front()?;
        let id = self.next_id;
        self.next_id += 1;
        let values = message.values.clone();
        self.in_flight.insert(id, message);
        Some((id, values))
    }

    /// The position of a tree in flight (to re-claim it at the broker before a replay).
    pub fn position(&self, id: MessageId) -> Option<&P> {
        self.in_flight.get(&id).map(|m| &m.position)
    }

    /// A tree completed: its position is acknowledged to the broker with the next batch.
    /// Unknown ids (acked twice, or from before a restart) are ignored.
    pub fn ack(&mut self, id: MessageId) {
        if let Some(m) = self.in_flight.remove(&id) {
            self.forget_failures(id);
            self.completed.push(m.position);
        }
    }

    /// A tree failed or timed out: its message is emitted again (it stays pending at the
    /// broker), at once the first time and after a growing delay after that.
    pub fn fail(&mut self, id: MessageId) {
        self.fail_at(id, Instant::now());
    }

    fn fail_at(&mut self, id: MessageId, now: Instant) {
        if !self.in_flight.contains_key(&id) {
            return;
        }
        let failed = self.failures.entry(id).or_default();
        failed.count = failed.count.saturating_add(1);
        let due = now + retry_delay(failed.count);
        self.replay_seq += 1;
        // Failed again before its replay went out (not in order, but then it waits once).
        if let Some((due, seq)) = failed.waiting.replace((due, self.replay_seq)) {
            self.replay.remove(&(due, seq, id));
        }
        self.replay.insert((due, self.replay_seq, id));
    }

    /// Drops a tree in flight, for a broker that delivers a failed message again itself
    /// (a NATS nak); returns its position.
    pub fn forget(&mut self, id: MessageId) -> Option<P> {
        self.forget_failures(id);
        self.in_flight.remove(&id).map(|m| m.position)
    }

    /// Drops a message's failures and a replay it still waits for (a late ack).
    fn forget_failures(&mut self, id: MessageId) {
        if let Some(Failed {
            waiting: Some((due, seq)),
            ..
        }) = self.failures.remove(&id)
        {
            self.replay.remove(&(due, seq, id));
        }
    }

    /// The positions of the trees in flight.
    pub fn in_flight_positions(&self) -> impl Iterator<Item = &P> {
        self.in_flight.values().map(|m| &m.position)
    }

    /// The positions of every message fetched and not yet acked: in flight, failed and
    /// waiting to be emitted again, or not yet emitted.
    pub fn unacked_positions(&self) -> impl Iterator<Item = &P> {
        self.in_flight
            .values()
            .chain(self.ready.iter())
            .map(|m| &m.position)
    }

    /// Positions completed and not yet acknowledged to the broker.
    pub fn completed(&self) -> &[P] {
        &self.completed
    }

    /// Takes the completed positions, once the broker confirmed them.
    pub fn take_completed(&mut self) -> Vec<P> {
        std::mem::take(&mut self.completed)
    }

    /// Trees in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Forgets every message not yet completed (on close: the broker still holds them as
    /// pending and delivers them again). Returns how many.
    pub fn forget_pending(&mut self) -> usize {
        let n = self.in_flight.len() + self.ready.len();
        self.in_flight.clear();
        self.ready.clear();
        self.replay.clear();
        self.failures.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_topology_api::values;

    fn message(position: &str) -> Fetched<String> {
        Fetched {
            position: position.to_owned(),
            values: values![position],
        }
    }

    #[test]
    fn a_completed_tree_releases_its_position_and_a_failed_one_is_emitted_again() {
        let mut t = Tracker::default();
        t.fetched([message("1-0"), message("2-0")]);
        let (a, _) = t.next_to_emit().unwrap();
        let (b, v) = t.next_to_emit().unwrap();
        assert_eq!(v, values!["2-0"]);
        assert!(t.next_to_emit().is_none());
        t.fail(b);
        assert!(!t.is_drained());
        t.ack(a);
        assert_eq!(t.completed(), ["1-0".to_owned()]);
        // The failed message comes back with the same id, and completes later.
        assert_eq!(t.next_to_emit(), Some((b, values!["2-0"])));
        t.ack(b);
        t.ack(b);
        assert_eq!(t.take_completed(), ["1-0".to_owned(), "2-0".to_owned()]);
        assert!(t.completed().is_empty());
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_message_failing_again_waits_longer_each_time_without_holding_up_new_ones() {
        assert_eq!(retry_delay(1), Duration::ZERO);
        assert_eq!(retry_delay(2), FIRST_RETRY_DELAY);
        assert_eq!(retry_delay(3), FIRST_RETRY_DELAY * 2);
        assert_eq!(retry_delay(40), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY_DELAY);
        let mut t = Tracker::default();
        t.fetched([message("1-0")]);
        let (a, _) = t.next_to_emit().unwrap();
        let now = Instant::now();
        t.fail_at(a, now);
        assert_eq!(
            t.next_to_emit().map(|(id, _)| id),
            Some(a),
            "first: at once"
        );
        t.fail_at(a, now + Duration::from_secs(3_600));
        assert!(t.next_to_emit().is_none(), "second: after its delay");
        assert!(!t.is_drained());
        assert!(t.wants_more(), "new messages go on meanwhile");
        t.fetched([message("2-0")]);
        assert_eq!(t.next_to_emit(), Some((a + 1, values!["2-0"])));
        // Acked before it was due (a late ack): never emitted again.
        t.ack(a);
        assert!(t.is_drained());
    }

    #[test]
    fn fetching_stops_while_many_failed_messages_wait() {
        let mut t = Tracker::default();
        let later = Instant::now() + Duration::from_secs(3_600);
        t.fetched((0..MAX_WAITING_REPLAYS).map(|i| message(&i.to_string())));
        let ids: Vec<MessageId> = std::iter::from_fn(|| t.next_to_emit())
            .map(|(id, _)| id)
            .collect();
        for (n, &id) in ids.iter().enumerate() {
            assert!(t.wants_more(), "{n} waiting");
            // A second failure waits (the first is emitted again at once).
            t.fail_at(id, later);
            t.fail_at(id, later);
        }
        assert!(
            !t.wants_more(),
            "{MAX_WAITING_REPLAYS} waiting: no more fetching"
        );
        // An ack of a waiting message (late) takes it out of the queue.
        t.ack(ids[0]);
        assert!(t.wants_more());
        assert_eq!(t.replay.len(), MAX_WAITING_REPLAYS - 1);
    }

    #[test]
    fn unknown_ids_change_nothing_and_forgetting_keeps_nothing() {
        let mut t = Tracker::default();
        t.ack(7);
        t.fail(7);
        assert!(t.next_to_emit().is_none());
        t.fetched([message("1-0"), message("2-0")]);
        let (a, _) = t.next_to_emit().unwrap();
        t.fail(a);
        assert_eq!(t.forget_pending(), 2);
        assert!(t.is_drained());
        assert!(t.completed().is_empty());
    }
}
