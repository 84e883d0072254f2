//! Per-destination buffers: where an executor's emits and acks wait to be handed over.
//!
//! Each destination executor has one buffer of tuples and one of acker messages. A buffer is
//! handed over whole when it reaches the batch size, and every buffer is flushed when the
//! executor is about to wait or has held them for `topology.flush.tuple.freq.millis`. Handing
//! over a tuple batch blocks while the destination's bounded queue is full: that is the
//! backpressure that slows a spout down to the pace of its slowest bolt.

use std::sync::Arc;

use crossbeam_channel::Sender;
use squall_topology_api::TaskId;

use crate::message::{AckMsg, Batch, Control, Delivery};
use crate::stats::Flow;
use crate::transport::sender::RemoteLink;
use crate::waker::QueueWaker;

/// Where a destination's batches go.
#[derive(Clone)]
pub(crate) enum Peer {
    /// An executor in this process.
    Local {
        data: Sender<Batch>,
        control: Sender<Control>,
        /// Wakes network streams waiting for room in `data`.
        waker: Arc<QueueWaker>,
        /// Acker answers go to spouts on their unbounded control queue (see `message::Control`).
        acks_on_control: bool,
    },
    /// The network transport, for every task in other worker processes; batches carry their
    /// destination task in each entry.
    Remote(RemoteLink),
}

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
}

impl Outbox {
    pub fn new(
        peers: Arc<[Peer]>,
        task_peer: Arc<[u32]>,
        batch_size: usize,
        flow: Arc<Flow>,
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
        // A closed queue means the destination has shut down; its tuples are lost the way
        // Storm loses a dead worker's queue, and their trees time out.
        match &self.peers[peer] {
            Peer::Local { data, .. } => {
                let _ = data.send(Batch::Tuples(Self::take(&mut self.tuples[peer])));
            }
            // Encoded right here, so the buffer is kept for the next batch.
            Peer::Remote(link) => {
                link.send_tuples(&self.tuples[peer]);
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
            Peer::Local {
                control,
                acks_on_control: true,
                ..
            } => {
                let _ = control.send(Control::Acks(Self::take(&mut self.acks[peer])));
            }
            Peer::Local { data, .. } => {
                let _ = data.send(Batch::Acks(Self::take(&mut self.acks[peer])));
            }
            Peer::Remote(link) => {
                link.send_acks(&self.acks[peer]);
                self.acks[peer].clear();
            }
        }
    }

    /// Sends through `peers` from now on, once what is buffered for the old ones is handed
    /// over (a stopped executor's queue refuses it, as a dead worker's would).
    pub fn rewire(&mut self, peers: Arc<[Peer]>, task_peer: Arc<[u32]>) {
        self.flush();
        let n = peers.len();
        self.peers = peers;
        self.task_peer = task_peer;
        self.tuples = (0..n).map(|_| Vec::new()).collect();
        self.acks = (0..n).map(|_| Vec::new()).collect();
        self.dirty.clear();
        self.is_dirty = vec![false; n];
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
