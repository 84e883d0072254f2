//! What a broker spout keeps between the broker and its tuple trees, with no I/O: messages
//! fetched and not yet emitted, trees in flight by message id, failed ones waiting to be
//! emitted again, and the broker positions whose trees completed, waiting to be acknowledged
//! to the broker in one batch.

use std::collections::{HashMap, VecDeque};

use squall_topology_api::{MessageId, Values};

/// A message as fetched: its broker position (a Redis entry id, an offset, ...) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched<P> {
    /// Where the broker keeps it.
    pub position: P,
    /// The tuple to emit.
    pub values: Values,
}

/// The spout's bookkeeping, for broker positions of type `P`.
#[derive(Debug)]
pub struct Tracker<P> {
    ready: VecDeque<Fetched<P>>,
    in_flight: HashMap<MessageId, Fetched<P>>,
    replay: VecDeque<MessageId>,
    completed: Vec<P>,
    next_id: MessageId,
}

impl<P: Clone> Default for Tracker<P> {
    fn default() -> Self {
        Tracker {
            ready: VecDeque::new(),
            in_flight: HashMap::new(),
            replay: VecDeque::new(),
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

    /// Whether nothing waits to be emitted (time to fetch).
    pub fn is_drained(&self) -> bool {
        self.ready.is_empty() && self.replay.is_empty()
    }

    /// The next tuple to emit and its message id: a failed tree's message first, else the
    /// oldest fetched one. Its tree is then in flight.
    pub fn next_to_emit(&mut self) -> Option<(MessageId, Values)> {
        while let Some(id) = self.replay.pop_front() {
            // A replay queued before an ack of the same id (cannot happen in order, but an
            // id acked meanwhile must not be emitted again).
            if let Some(m) = self.in_flight.get(&id) {
                return Some((id, m.values.clone()));
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
            self.completed.push(m.position);
        }
    }

    /// A tree failed or timed out: its message is emitted again (it stays pending at the broker).
    pub fn fail(&mut self, id: MessageId) {
        if self.in_flight.contains_key(&id) {
            self.replay.push_back(id);
        }
    }

    /// Drops a tree in flight, for a broker that delivers a failed message again itself
    /// (a NATS nak); returns its position.
    pub fn forget(&mut self, id: MessageId) -> Option<P> {
        self.in_flight.remove(&id).map(|m| m.position)
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
