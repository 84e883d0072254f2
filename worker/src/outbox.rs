//! Per-destination buffers: where an executor's emits and acks wait to be handed over.
//!
//! Each destination executor has one buffer of tuples and one of acker messages. A buffer is
//! handed over whole when it reaches the batch size, and every buffer is flushed when the
//! executor is about to wait or has held them for `topology.flush.tuple.freq.millis`.
//!
//! Handing over never blocks the thread: a batch that finds the destination's bounded queue
//! (or network lane) full is held, in order, and the executor stops taking input until its
//! held batches are taken (see [`Outbox::stalled`]): that is the backpressure that slows a
//! spout down to the pace of its slowest bolt, and it parks the executor, not its pool thread.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Sender, TrySendError};
use squall_topology_api::TaskId;

use crate::executor::pool::Wake;
use crate::message::{AckMsg, Batch, Control, Delivery};
use crate::stats::Flow;
use crate::transport::sender::{HeldRemote, RemoteLink};
use crate::waker::QueueWaker;

/// Where a destination's batches go.
#[derive(Clone)]
pub(crate) enum Peer {
    /// An executor in this process.
    Local {
        data: Sender<Batch>,
        control: Sender<Control>,
        /// Wakes whoever waits for room in `data`.
        waker: Arc<QueueWaker>,
        /// Runs the executor when something is queued for it.
        wake: Wake,
        /// Acker answers go to spouts on their unbounded control queue (see `message::Control`).
        acks_on_control: bool,
    },
    /// The network transport, for every task in other worker processes; batches carry their
    /// destination task in each entry.
    Remote(RemoteLink),
}

impl Peer {
    /// Queues a command for a local executor and wakes it; false when it has stopped.
    pub fn command(&self, c: Control) -> bool {
        match self {
            Peer::Local { control, wake, .. } => {
                let sent = control.send(c).is_ok();
                wake.wake();
                sent
            }
            Peer::Remote(_) => false,
        }
    }
}

/// Puts a batch in a local executor's bounded queue and wakes it; the batch back if the queue
/// is full. A closed queue means the executor has stopped; its batch is dropped, as Storm
/// loses a dead worker's queue, and the trees in it time out.
pub(crate) fn offer(data: &Sender<Batch>, wake: &Wake, batch: Batch) -> Option<Batch> {
    match data.try_send(batch) {
        Ok(()) => {
            wake.wake();
            None
        }
        Err(TrySendError::Full(batch)) => Some(batch),
        Err(TrySendError::Disconnected(_)) => None,
    }
}

/// Longest a stopping executor's held batches wait for room before they are dropped.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The peer index of tasks that have no destination here (dropped, as Storm drops tuples
/// for a task whose worker is gone).
pub(crate) const NO_PEER: u32 = u32::MAX;

/// An executor's outgoing buffers.
pub(crate) struct Outbox {
    peers: Arc<[Peer]>,
    /// Destination (peer index) of each task id.
    task_peer: Arc<[u32]>,
    tuples: Vec<Vec<Delivery>>,
    acks: Vec<Vec<AckMsg>>,
    /// Peers with something buffered, so a flush does not scan every peer.
    dirty: Vec<u32>,
    is_dirty: Vec<bool>,
    batch_size: usize,
    flow: Arc<Flow>,
    /// Batches this executor took in and processed, reported to the flow after the next flush
    /// (see [`Flow`]).
    pub batches_done: u64,
    /// Batches refused by a full local queue, per peer, in order.
    held: Vec<VecDeque<Batch>>,
    /// How many batches `held` holds in all.
    held_count: usize,
    /// Remote batches refused by a full lane, in order.
    held_remote: VecDeque<HeldRemote>,
    /// Set while the transport sends held remote batches for this executor.
    handing_over: Arc<AtomicBool>,
    /// Wakes this executor (when its held batches can go).
    wake: Wake,
}

impl Outbox {
    pub fn new(
        peers: Arc<[Peer]>,
        task_peer: Arc<[u32]>,
        batch_size: usize,
        flow: Arc<Flow>,
        wake: Wake,
    ) -> Self {
        let n = peers.len();
        Outbox {
            peers,
            task_peer,
            tuples: (0..n).map(|_| Vec::new()).collect(),
            acks: (0..n).map(|_| Vec::new()).collect(),
            dirty: Vec::with_capacity(n),
            is_dirty: vec![false; n],
            batch_size: batch_size.max(1),
            flow,
            batches_done: 0,
            held: (0..n).map(|_| VecDeque::new()).collect(),
            held_count: 0,
            held_remote: VecDeque::new(),
            handing_over: Arc::new(AtomicBool::new(false)),
            wake,
        }
    }

    fn peer_of(&self, task: TaskId) -> Option<usize> {
        match self.task_peer.get(task as usize) {
            Some(&p) if p != NO_PEER => Some(p as usize),
            _ => None,
        }
    }

    /// How full a task's input queue is (0..=1), for a task in this process; 0 otherwise.
    pub fn local_fill(&self, task: TaskId) -> f64 {
        match self.peer_of(task).map(|p| &self.peers[p]) {
            Some(Peer::Local { data, .. }) => data
                .capacity()
                .map_or(0.0, |c| data.len() as f64 / c.max(1) as f64),
            _ => 0.0,
        }
    }

    fn mark(&mut self, peer: usize) {
        if !self.is_dirty[peer] {
            self.is_dirty[peer] = true;
            self.dirty.push(peer as u32);
        }
    }

    /// Buffers a tuple for `task`, handing the buffer over if it is full.
    pub fn push_tuple(&mut self, delivery: Delivery) {
        let Some(peer) = self.peer_of(delivery.task) else {
            return;
        };
        self.tuples[peer].push(delivery);
        self.mark(peer);
        if self.tuples[peer].len() >= self.batch_size {
            self.send_tuples(peer);
        }
    }

    /// Buffers an acker message for `task` (an acker task, or a spout task for answers).
    pub fn push_ack(&mut self, task: TaskId, mut msg: AckMsg) {
        msg.dest = task;
        let Some(peer) = self.peer_of(task) else {
            return;
        };
        self.acks[peer].push(msg);
        self.mark(peer);
        if self.acks[peer].len() >= self.batch_size {
            self.send_acks(peer);
        }
    }

    fn take<T>(buf: &mut Vec<T>) -> Vec<T> {
        // The next buffer starts at the size this one reached: big under load, small when quiet.
        let cap = buf.len().max(16);
        std::mem::replace(buf, Vec::with_capacity(cap))
    }

    fn send_tuples(&mut self, peer: usize) {
        if self.tuples[peer].is_empty() {
            return;
        }
        self.flow.sent_one();
        match &self.peers[peer] {
            Peer::Local { .. } => {
                let batch = Batch::Tuples(Self::take(&mut self.tuples[peer]));
                self.offer(peer, batch);
            }
            // Encoded right here, so the buffer is kept for the next batch.
            Peer::Remote(link) => {
                let hold = self.handing_over.load(Ordering::Acquire);
                link.send_tuples(&self.tuples[peer], &mut self.held_remote, hold);
                self.tuples[peer].clear();
            }
        }
    }

    fn send_acks(&mut self, peer: usize) {
        if self.acks[peer].is_empty() {
            return;
        }
        self.flow.sent_one();
        match &self.peers[peer] {
            p @ Peer::Local {
                acks_on_control: true,
                ..
            } => {
                p.command(Control::Acks(Self::take(&mut self.acks[peer])));
            }
            Peer::Local { .. } => {
                let batch = Batch::Acks(Self::take(&mut self.acks[peer]));
                self.offer(peer, batch);
            }
            Peer::Remote(link) => {
                link.send_acks(&self.acks[peer]);
                self.acks[peer].clear();
            }
        }
    }

    /// Hands a batch to a local peer, or holds it (behind any held before it) if the peer's
    /// queue is full.
    fn offer(&mut self, peer: usize, batch: Batch) {
        let Peer::Local { data, wake, .. } = &self.peers[peer] else {
            return;
        };
        if !self.held[peer].is_empty() {
            self.held[peer].push_back(batch);
            self.held_count += 1;
            return;
        }
        if let Some(batch) = offer(data, wake, batch) {
            self.held[peer].push_back(batch);
            self.held_count += 1;
        }
    }

    /// Whether batches are held for a full destination, after trying them again. While it is
    /// true the executor must take no more input: it is woken when there is room.
    pub fn stalled(&mut self) -> bool {
        if self.held_count > 0 {
            self.resend_local();
        }
        if self.handing_over.load(Ordering::Acquire) {
            return true;
        }
        if !self.held_remote.is_empty() && RemoteLink::resend(&mut self.held_remote) {
            self.hand_over_remote();
        }
        self.held_count > 0 || self.handing_over.load(Ordering::Acquire)
    }

    fn resend_local(&mut self) {
        for peer in 0..self.held.len() {
            let Peer::Local {
                data, wake, waker, ..
            } = &self.peers[peer]
            else {
                continue;
            };
            let mut registered = false;
            while let Some(batch) = self.held[peer].pop_front() {
                match offer(data, wake, batch) {
                    None => self.held_count -= 1,
                    Some(batch) if !registered => {
                        // Register, then look again: room made in between wakes this executor.
                        waker.wake_on_room(&self.wake);
                        registered = true;
                        self.held[peer].push_front(batch);
                    }
                    Some(batch) => {
                        self.held[peer].push_front(batch);
                        break;
                    }
                }
            }
        }
    }

    /// Lets the transport send the held remote batches as their lanes make room, and wake this
    /// executor after.
    fn hand_over_remote(&mut self) {
        let Some(Peer::Remote(link)) = self.peers.last() else {
            return;
        };
        let held = std::mem::take(&mut self.held_remote);
        self.handing_over.store(true, Ordering::Release);
        let (done, wake) = (Arc::clone(&self.handing_over), self.wake.clone());
        link.hand_over(held, move || {
            done.store(false, Ordering::Release);
            wake.wake();
        });
    }

    /// At a stop: flushes, then hands whatever is still held to a thread of its own that
    /// delivers it as room is made (as the blocked send of a stopping executor used to), so
    /// the executors still running downstream get it; a destination that stopped too drops it.
    pub fn release(&mut self) {
        self.flush();
        self.stalled();
        let local: Vec<(Sender<Batch>, Wake, Batch)> = (0..self.held.len())
            .flat_map(|peer| {
                let target = match &self.peers[peer] {
                    Peer::Local { data, wake, .. } => Some((data.clone(), wake.clone())),
                    Peer::Remote(_) => None,
                };
                std::mem::take(&mut self.held[peer])
                    .into_iter()
                    .filter_map(move |b| target.clone().map(|(d, w)| (d, w, b)))
            })
            .collect();
        self.held_count = 0;
        let remote = std::mem::take(&mut self.held_remote);
        if local.is_empty() && remote.is_empty() {
            return;
        }
        let handing_over = Arc::clone(&self.handing_over);
        let spawned = std::thread::Builder::new()
            .name("held-batches".to_owned())
            .spawn(move || {
                for (data, wake, batch) in local {
                    if data.send_timeout(batch, RELEASE_WAIT).is_ok() {
                        wake.wake();
                    }
                }
                // Behind the batches already being handed over, in order.
                let since = std::time::Instant::now();
                while handing_over.load(Ordering::Acquire) && since.elapsed() < RELEASE_WAIT {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                RemoteLink::send_blocking(remote);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "dropped the batches held for full queues at stop");
        }
    }

    /// Sends through `peers` from now on, once what is buffered for the old ones is handed
    /// over (a stopped executor's queue refuses it, as a dead worker's would).
    pub fn rewire(&mut self, peers: Arc<[Peer]>, task_peer: Arc<[u32]>) {
        self.flush();
        // Batches still held for a full queue are routed again by the new wiring below, and
        // counted as sent again then: count them done now, so the flow stays balanced.
        let held: Vec<Batch> = self.held.iter_mut().flat_map(std::mem::take).collect();
        self.held_count = 0;
        self.flow.done(held.len() as u64);
        let n = peers.len();
        self.peers = peers;
        self.task_peer = task_peer;
        self.tuples = (0..n).map(|_| Vec::new()).collect();
        self.acks = (0..n).map(|_| Vec::new()).collect();
        self.dirty.clear();
        self.is_dirty = vec![false; n];
        self.held = (0..n).map(|_| VecDeque::new()).collect();
        for batch in held {
            match batch {
                Batch::Tuples(deliveries) => {
                    deliveries.into_iter().for_each(|d| self.push_tuple(d))
                }
                Batch::Acks(msgs) => msgs.into_iter().for_each(|m| self.push_ack(m.dest, m)),
            }
        }
    }

    /// Hands over everything buffered, then reports the batches processed so far as done.
    pub fn flush(&mut self) {
        while let Some(peer) = self.dirty.pop() {
            let peer = peer as usize;
            self.is_dirty[peer] = false;
            self.send_tuples(peer);
            self.send_acks(peer);
        }
        self.flow.done(std::mem::take(&mut self.batches_done));
    }
}
