//! Handing batches that came over the network to this worker's executors, one destination
//! executor at a time, never blocking a thread.
//!
//! Each inbound stream carries the batches of one edge into one executor (or the acker
//! messages from one peer). When the destination's bounded queue is full the stream waits for
//! room (see [`QueueWaker`]) and stops being read, so HTTP/2 flow control slows just that
//! sender's lane: one full queue stalls only its own edge. The old design delivered every
//! stream through one dispatcher thread, which blocked on any full queue and let two workers
//! whose bolts send to each other wait on each other for ever.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use squall_topology_api::TaskId;

use crate::assembly::Wiring;
use crate::executor::pool::Wake;
use crate::message::{AckMsg, Batch, Control, Delivery};
use crate::outbox::{NO_PEER, Peer};
use crate::waker::QueueWaker;

/// Longest a waiting stream sleeps before it looks at a full queue again: a backstop for an
/// executor that stopped (and so will never take a batch) while a stream waited on it.
const RECHECK: Duration = Duration::from_millis(20);

/// Why a batch was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undelivered {
    /// Its task runs in no executor of this worker (routed by a placement that no longer holds).
    NotHere,
    /// Its executor stopped (the worker is restarting its executors).
    Stopped,
}

/// This worker's executors as the network reaches them.
pub(crate) struct LocalTargets {
    peers: Arc<[Peer]>,
    local_task_peer: Arc<[u32]>,
}

impl LocalTargets {
    /// The executors of a started set.
    pub fn new(wiring: &Wiring) -> Self {
        LocalTargets {
            peers: Arc::clone(&wiring.peers),
            local_task_peer: Arc::clone(&wiring.local_task_peer),
        }
    }

    fn peer_of(&self, task: TaskId) -> Option<usize> {
        match self.local_task_peer.get(task as usize) {
            Some(&p) if p != NO_PEER => Some(p as usize),
            _ => None,
        }
    }

    /// Delivers a batch, waiting (without blocking a thread) while a destination queue is full.
    /// Entries for tasks not here are dropped and counted in the result.
    pub async fn deliver(&self, batch: Batch) -> Result<(), Undelivered> {
        match batch {
            Batch::Tuples(deliveries) => {
                let mut result = Ok(());
                for (peer, part) in self.split(deliveries, |d: &Delivery| d.task) {
                    let r = match peer {
                        Some(p) => self.push(p, Batch::Tuples(part)).await,
                        None => Err(Undelivered::NotHere),
                    };
                    result = result.and(r);
                }
                result
            }
            Batch::Acks(msgs) => {
                let mut result = Ok(());
                for (peer, part) in self.split(msgs, |m: &AckMsg| m.dest) {
                    let r = match peer.map(|p| (p, &self.peers[p])) {
                        Some((
                            _,
                            p @ Peer::Local {
                                acks_on_control: true,
                                ..
                            },
                        )) => p
                            .command(Control::Acks(part))
                            .then_some(())
                            .ok_or(Undelivered::Stopped),
                        Some((p, _)) => self.push(p, Batch::Acks(part)).await,
                        None => Err(Undelivered::NotHere),
                    };
                    result = result.and(r);
                }
                result
            }
        }
    }

    /// Splits entries by destination peer, keeping their order; a batch for one executor (the
    /// usual case: a stream carries one edge) stays whole.
    fn split<T>(
        &self,
        entries: Vec<T>,
        task: impl Fn(&T) -> TaskId,
    ) -> Vec<(Option<usize>, Vec<T>)> {
        let first = entries.first().map(|e| self.peer_of(task(e)));
        if let Some(first) = first
            && entries.iter().all(|e| self.peer_of(task(e)) == first)
        {
            return vec![(first, entries)];
        }
        let mut parts: Vec<(Option<usize>, Vec<T>)> = Vec::new();
        for e in entries {
            let peer = self.peer_of(task(&e));
            match parts.iter_mut().find(|(p, _)| *p == peer) {
                Some((_, part)) => part.push(e),
                None => parts.push((peer, vec![e])),
            }
        }
        parts
    }

    async fn push(&self, peer: usize, batch: Batch) -> Result<(), Undelivered> {
        match &self.peers[peer] {
            Peer::Local {
                data, waker, wake, ..
            } => send_waiting(data, waker, wake, batch).await,
            Peer::Remote(_) => Err(Undelivered::NotHere),
        }
    }
}

/// Puts a batch in a bounded queue, waiting for room without blocking the thread.
async fn send_waiting(
    queue: &Sender<Batch>,
    waker: &QueueWaker,
    wake: &Wake,
    mut batch: Batch,
) -> Result<(), Undelivered> {
    let offer = |batch: Batch| match queue.try_send(batch) {
        Ok(()) => {
            wake.wake();
            Ok(None)
        }
        Err(TrySendError::Disconnected(_)) => Err(Undelivered::Stopped),
        Err(TrySendError::Full(b)) => Ok(Some(b)),
    };
    loop {
        match offer(batch)? {
            None => return Ok(()),
            Some(b) => batch = b,
        }
        let room = waker.prepare();
        match offer(batch)? {
            None => return Ok(()),
            Some(b) => batch = b,
        }
        let _ = tokio::time::timeout(RECHECK, room).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::pool::Pool;

    /// A wake for a queue no executor reads (nothing runs when it is called).
    fn idle_wake() -> (Arc<Pool>, Wake) {
        let pool = Pool::new(1, "test-pool").expect("pool");
        let wake = pool.entry(tracing::Span::none());
        (pool, wake)
    }

    #[test]
    fn a_full_queue_parks_its_sender_until_the_executor_takes_a_batch() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let (_pool, wake) = idle_wake();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waker = Arc::new(QueueWaker::default());
        tx.try_send(Batch::Acks(Vec::new())).expect("room for one");
        let consumer = {
            let waker = Arc::clone(&waker);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                let first = rx.recv().expect("a batch");
                waker.taken();
                drop(first);
                rx.recv().expect("the second batch")
            })
        };
        let sent = runtime.block_on(send_waiting(&tx, &waker, &wake, Batch::Tuples(Vec::new())));
        assert_eq!(sent, Ok(()));
        assert!(matches!(
            consumer.join().expect("consumer"),
            Batch::Tuples(_)
        ));
    }

    #[test]
    fn a_stopped_executor_is_reported_not_waited_for() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let (_pool, wake) = idle_wake();
        let (tx, rx) = crossbeam_channel::bounded(1);
        tx.try_send(Batch::Acks(Vec::new())).expect("room for one");
        let waker = QueueWaker::default();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            drop(rx);
        });
        let sent = runtime.block_on(send_waiting(&tx, &waker, &wake, Batch::Acks(Vec::new())));
        assert_eq!(sent, Err(Undelivered::Stopped));
        stopper.join().expect("stopper");
    }
}
