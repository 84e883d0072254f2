//! Sending batches to other workers.
//!
//! An executor hands a batch for remote tasks to its [`RemoteLink`], which splits it by
//! destination executor, encodes each part on the executor's own thread and queues it, bounded,
//! on that executor's lane (backpressure: a full lane parks the emitting executor until its
//! batches are sent, and only a lane whose receiving executor cannot keep up fills). A lane is a tokio task holding one long-lived
//! client-streaming `Transfer` call on a connection of its own, reconnecting when the peer goes
//! away, and sending what queued meanwhile as one message. Batches for a peer that cannot be
//! reached are dropped; their trees time out and are replayed.
//!
//! One lane per destination executor is the flow control: the receiver parks a stream whose
//! executor's queue is full, HTTP/2's per-stream window then stops that lane alone, and no
//! other edge waits behind it. With one stream per peer, two workers whose bolts send to each
//! other deadlocked: each receiver blocked on a full queue whose bolt waited on the other
//! worker. Each lane has its own TCP connection, so a stalled stream cannot use up a shared
//! connection window either.
//!
//! Acker messages take one lane per peer that never blocks. A sink's only output is acks, so
//! with acks behind tuples two workers could wait on each other for ever. Unbounded is safe
//! here: acks in flight are bounded by the tuples that caused them, and those are bounded by
//! the spouts' in-flight limits.
//!
//! Encoding where the batch is made, rather than on a sender thread, saves a thread wake per
//! batch: at 20 k sentences/s on two workers that thread woke 5 k times a second.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use squall_proto::pb::TransferBatch;
use squall_proto::{MAX_MESSAGE_BYTES, Slot, TRANSFER_TOPOLOGY_HEADER, WorkerClient};
use squall_topology_api::TaskId;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;

use super::codec::{StreamTable, encode_acks, encode_tuples};
use crate::message::{AckMsg, Delivery};

/// How long batches wait for a peer that cannot be reached before they are dropped.
const HOLD_WHILE_DOWN: Duration = Duration::from_secs(5);
/// A message stops taking more queued payloads past this size.
const COALESCE_BYTES: usize = 1 << 20;
/// Longest wait before a lane asks again a peer that ended its stream with an error.
const MAX_REFUSED_BACKOFF: Duration = Duration::from_secs(2);
/// Encoded payloads waiting per lane.
const PAYLOADS_PER_LANE: usize = 64;
/// HTTP/2 flow-control window of a transfer stream (and its connection, which carries just
/// it). The 64 KiB default holds about one batch, so every batch waited a round trip for a
/// window update.
pub(crate) const WINDOW_BYTES: u32 = 16 << 20;

/// Which lane reaches each remote task: executor lanes for tuples, one per destination
/// executor; peer lanes for acker messages, one per destination worker.
#[derive(Debug, Default, Clone)]
pub(crate) struct Routes {
    /// Destination executors, by (slot, first task).
    lanes: Vec<(Slot, TaskId)>,
    task_lane: Vec<u32>,
    slots: Vec<Slot>,
    task_slot: Vec<u32>,
}

impl Routes {
    /// Routes to remote executors given as (slot, tasks).
    pub fn new<'a>(executors: impl IntoIterator<Item = (&'a Slot, &'a [TaskId])>) -> Self {
        let mut routes = Routes::default();
        let mut slot_index: HashMap<&Slot, u32> = HashMap::new();
        for (slot, tasks) in executors {
            let Some(&first) = tasks.first() else {
                continue;
            };
            let s = *slot_index.entry(slot).or_insert_with(|| {
                routes.slots.push(slot.clone());
                (routes.slots.len() - 1) as u32
            });
            routes.lanes.push((slot.clone(), first));
            let lane = (routes.lanes.len() - 1) as u32;
            for &task in tasks {
                let t = task as usize;
                if routes.task_lane.len() <= t {
                    routes.task_lane.resize(t + 1, u32::MAX);
                    routes.task_slot.resize(t + 1, u32::MAX);
                }
                routes.task_lane[t] = lane;
                routes.task_slot[t] = s;
            }
        }
        routes
    }

    fn lane_of(&self, task: TaskId) -> Option<usize> {
        match self.task_lane.get(task as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }

    fn slot_of(&self, task: TaskId) -> Option<usize> {
        match self.task_slot.get(task as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }
}

/// The routes with the lanes that serve them (`tuples[i]` is `lanes[i]`'s, `acks[i]` is
/// `slots[i]`'s).
struct Linked {
    routes: Routes,
    tuples: Vec<mpsc::Sender<TransferBatch>>,
    acks: Vec<mpsc::UnboundedSender<TransferBatch>>,
    /// The placement the routes come from; every batch routed by them carries it.
    placement_version: u64,
}

/// The sending side of the transport: lanes to the other workers' executors, kept across
/// route changes for the destinations that stay.
pub(crate) struct RemoteSender {
    link: RemoteLink,
    runtime: tokio::runtime::Handle,
    open: Mutex<OpenLanes>,
    topology_id: Arc<str>,
    /// With security on: this worker's certificate, shown to every peer.
    tls: Option<Arc<squall_security::TlsSettings>>,
}

#[derive(Default)]
struct OpenLanes {
    tuples: HashMap<(Slot, TaskId), mpsc::Sender<TransferBatch>>,
    acks: HashMap<Slot, mpsc::UnboundedSender<TransferBatch>>,
}

/// What an executor sends remote batches through.
#[derive(Clone)]
pub(crate) struct RemoteLink {
    table: Arc<StreamTable>,
    linked: Arc<RwLock<Arc<Linked>>>,
    /// Where held batches wait for room in their lane (see [`RemoteLink::hand_over`]).
    runtime: tokio::runtime::Handle,
}

/// An encoded tuple batch that found its lane full, held in order by the executor's outbox.
pub(crate) struct HeldRemote {
    lane: mpsc::Sender<TransferBatch>,
    batch: TransferBatch,
}

impl RemoteSender {
    /// A sender for `topology_id`'s worker whose lanes run on `runtime`.
    pub fn new(
        table: Arc<StreamTable>,
        runtime: tokio::runtime::Handle,
        topology_id: &str,
        tls: Option<Arc<squall_security::TlsSettings>>,
    ) -> Self {
        RemoteSender {
            link: RemoteLink {
                table,
                linked: Arc::new(RwLock::new(Arc::new(Linked {
                    routes: Routes::default(),
                    tuples: Vec::new(),
                    acks: Vec::new(),
                    placement_version: 0,
                }))),
                runtime: runtime.clone(),
            },
            runtime,
            open: Mutex::new(OpenLanes::default()),
            topology_id: Arc::from(topology_id),
            tls,
        }
    }

    /// The link executors hand remote batches to.
    pub fn link(&self) -> RemoteLink {
        self.link.clone()
    }

    /// Points tasks at (new) executors of placement `placement_version`, opening lanes to new
    /// destinations and closing the lanes no route uses any more (once their queued payloads
    /// are sent).
    pub fn set_routes(&self, routes: Routes, placement_version: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.tuples.retain(|key, _| routes.lanes.contains(key));
        open.acks.retain(|slot, _| routes.slots.contains(slot));
        let tuples = routes
            .lanes
            .iter()
            .map(|key| {
                open.tuples
                    .entry(key.clone())
                    .or_insert_with(|| {
                        let (tx, rx) = mpsc::channel(PAYLOADS_PER_LANE);
                        self.spawn_lane(key.0.clone(), Lane::Tuples(rx));
                        tx
                    })
                    .clone()
            })
            .collect();
        let acks = routes
            .slots
            .iter()
            .map(|slot| {
                open.acks
                    .entry(slot.clone())
                    .or_insert_with(|| {
                        let (tx, rx) = mpsc::unbounded_channel();
                        self.spawn_lane(slot.clone(), Lane::Acks(rx));
                        tx
                    })
                    .clone()
            })
            .collect();
        *self.link.linked.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Linked {
            routes,
            tuples,
            acks,
            placement_version,
        });
    }

    fn spawn_lane(&self, slot: Slot, lane: Lane) {
        self.runtime.spawn(run_lane(
            slot,
            Arc::clone(&self.topology_id),
            self.tls.clone(),
            lane,
        ));
    }
}

impl RemoteLink {
    /// Encodes tuples per destination executor and queues each part on its lane, without
    /// waiting. A part whose lane is full is appended to `held`, and so is every part after
    /// it while `held` is not empty or `hold` is set (earlier batches are being handed over),
    /// so that no batch overtakes another on its lane: the executor then stops taking input
    /// until [`Self::hand_over`] has sent them (backpressure that parks the executor, never a
    /// pool thread).
    pub fn send_tuples(
        &self,
        deliveries: &[Delivery],
        held: &mut VecDeque<HeldRemote>,
        hold: bool,
    ) {
        let linked = Arc::clone(&self.linked.read().unwrap_or_else(|p| p.into_inner()));
        let routes = &linked.routes;
        for_each_part(
            deliveries,
            routes.lanes.len(),
            |d| routes.lane_of(d.task),
            |lane, part| {
                let mut payload = Vec::new();
                encode_tuples(&self.table, part, &mut payload);
                let batch = TransferBatch {
                    payload,
                    placement_version: linked.placement_version,
                };
                let lane = &linked.tuples[lane];
                if hold || !held.is_empty() {
                    held.push_back(HeldRemote {
                        lane: lane.clone(),
                        batch,
                    });
                    return;
                }
                match lane.try_send(batch) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(batch)) => held.push_back(HeldRemote {
                        lane: lane.clone(),
                        batch,
                    }),
                    // The lane is gone (the worker is shutting down).
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            },
        );
    }

    /// Sends what `held` can take now, in order; whether any is left.
    pub fn resend(held: &mut VecDeque<HeldRemote>) -> bool {
        while let Some(h) = held.pop_front() {
            match h.lane.try_send(h.batch) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(batch)) => {
                    held.push_front(HeldRemote {
                        lane: h.lane,
                        batch,
                    });
                    return true;
                }
            }
        }
        false
    }

    /// Sends held batches in order, waiting for room, from a thread outside any runtime (an
    /// executor's last batches when it stops).
    pub fn send_blocking(held: VecDeque<HeldRemote>) {
        for h in held {
            // An error means the lane is gone (the worker is shutting down).
            drop(h.lane.blocking_send(h.batch));
        }
    }

    /// Sends `held` in order on the transport's runtime, each batch once its lane has room,
    /// then calls `done`.
    pub fn hand_over(&self, held: VecDeque<HeldRemote>, done: impl FnOnce() + Send + 'static) {
        self.runtime.spawn(async move {
            for h in held {
                // An error means the lane is gone (the worker is shutting down).
                drop(h.lane.send(h.batch).await);
            }
            done();
        });
    }

    /// Encodes acker messages per destination worker and queues each part on its ack lane,
    /// without waiting.
    pub fn send_acks(&self, msgs: &[AckMsg]) {
        let linked = Arc::clone(&self.linked.read().unwrap_or_else(|p| p.into_inner()));
        let routes = &linked.routes;
        for_each_part(
            msgs,
            routes.slots.len(),
            |m| routes.slot_of(m.dest),
            |slot, part| {
                let mut payload = Vec::new();
                encode_acks(part, &mut payload);
                let batch = TransferBatch {
                    payload,
                    placement_version: linked.placement_version,
                };
                drop(linked.acks[slot].send(batch));
            },
        );
    }
}

/// Splits `entries` by their destination (`dest` of an entry, among `n`) and calls `f` on
/// each non-empty part. Entries with no destination are dropped, as Storm drops tuples for a
/// task whose worker is gone. One destination (the common case) takes no copy of the order.
fn for_each_part<T>(
    entries: &[T],
    n: usize,
    dest: impl Fn(&T) -> Option<usize>,
    mut f: impl FnMut(usize, &[&T]),
) {
    let first = entries.first().and_then(&dest);
    if let Some(only) = first
        && entries.iter().all(|e| dest(e) == Some(only))
    {
        let part: Vec<&T> = entries.iter().collect();
        f(only, &part);
        return;
    }
    let mut parts: Vec<Vec<&T>> = vec![Vec::new(); n];
    for e in entries {
        if let Some(d) = dest(e) {
            parts[d].push(e);
        }
    }
    for (d, part) in parts.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        f(d, part);
    }
}

/// The receiving end of one lane.
enum Lane {
    Tuples(mpsc::Receiver<TransferBatch>),
    Acks(mpsc::UnboundedReceiver<TransferBatch>),
}

impl Lane {
    /// The next payload; `None` once the sending side is gone.
    async fn recv(&mut self) -> Option<TransferBatch> {
        match self {
            Lane::Tuples(rx) => rx.recv().await,
            Lane::Acks(rx) => rx.recv().await,
        }
    }

    /// A payload that is already queued.
    fn try_recv(&mut self) -> Option<TransferBatch> {
        match self {
            Lane::Tuples(rx) => rx.try_recv().ok(),
            Lane::Acks(rx) => rx.try_recv().ok(),
        }
    }
}

/// Keeps one `Transfer` stream open to a peer for one lane, reconnecting as needed. A peer
/// that is not listening yet (a worker starting up) gets `HOLD_WHILE_DOWN` before the lane's
/// batches are dropped: meanwhile they wait here and the queue behind them pushes back.
/// Dropping at once lost the first trees of every topology whose workers did not start in the
/// same instant.
async fn run_lane(
    slot: Slot,
    topology_id: Arc<str>,
    tls: Option<Arc<squall_security::TlsSettings>>,
    mut rx: Lane,
) {
    let url = format!("http://{slot}");
    let mut down_since: Option<std::time::Instant> = None;
    // A payload taken from the lane but not sent yet: it could not join the message before
    // it (another placement version).
    let mut held: Option<TransferBatch> = None;
    let mut refused_backoff = Duration::from_millis(50);
    loop {
        let client = match squall_security::endpoint(&url, tls.as_deref()) {
            Ok(e) => {
                e.connect_timeout(Duration::from_secs(1))
                    .tcp_nodelay(true)
                    .initial_stream_window_size(Some(WINDOW_BYTES))
                    .initial_connection_window_size(Some(WINDOW_BYTES))
                    .connect()
                    .await
            }
            Err(e) => {
                tracing::error!(peer = %slot, error = %e, "bad peer address");
                return;
            }
        };
        let client = match client {
            Ok(channel) => WorkerClient::new(channel)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            Err(e) => {
                let since = *down_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < HOLD_WHILE_DOWN {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                tracing::debug!(peer = %slot, error = %e, "peer unreachable; dropping its batches");
                // Drop what arrives meanwhile: those trees time out and are replayed.
                held = None;
                let deadline = tokio::time::sleep(Duration::from_millis(250));
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        item = rx.recv() => if item.is_none() { return },
                        () = &mut deadline => break,
                    }
                }
                continue;
            }
        };
        down_since = None;
        let (stream_tx, stream_rx) = mpsc::channel(PAYLOADS_PER_LANE);
        let mut client = client;
        let mut request = tonic::Request::new(ReceiverStream::new(stream_rx));
        request.metadata_mut().insert_bin(
            TRANSFER_TOPOLOGY_HEADER,
            MetadataValue::from_bytes(topology_id.as_bytes()),
        );
        let mut call = tokio::spawn(async move { client.transfer(request).await });
        loop {
            let next = match held.take() {
                Some(batch) => Some(batch),
                None => tokio::select! {
                    item = rx.recv() => item,
                    result = &mut call => {
                        if let Ok(Err(status)) = result {
                            tracing::warn!(peer = %slot, %status, "transfer stream ended");
                            // A peer that refuses the stream (another topology now on that
                            // port, a worker shutting down) is not asked again at once.
                            tokio::time::sleep(refused_backoff).await;
                            refused_backoff = (refused_backoff * 2).min(MAX_REFUSED_BACKOFF);
                        }
                        break;
                    }
                },
            };
            let Some(mut batch) = next else { return };
            // Payloads that queued while the stream was busy go as one message, as long as
            // they were routed under the same placement.
            while batch.payload.len() < COALESCE_BYTES {
                match rx.try_recv() {
                    Some(more) if more.placement_version == batch.placement_version => {
                        batch.payload.extend_from_slice(&more.payload);
                    }
                    Some(more) => {
                        held = Some(more);
                        break;
                    }
                    None => break,
                }
            }
            if stream_tx.send(batch).await.is_err() {
                break;
            }
            refused_backoff = Duration::from_millis(50);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(port: u16) -> Slot {
        Slot {
            host: "127.0.0.9".into(),
            port,
        }
    }

    #[test]
    fn every_remote_executor_has_its_own_lane_and_every_worker_one_ack_lane() {
        let (a, b) = (slot(1), slot(2));
        let routes = Routes::new([(&a, &[1, 2][..]), (&b, &[3][..]), (&a, &[4, 5][..])]);
        let lanes: Vec<Option<usize>> = (0..7).map(|t| routes.lane_of(t)).collect();
        assert_eq!(
            lanes,
            vec![None, Some(0), Some(0), Some(1), Some(2), Some(2), None]
        );
        let slots: Vec<Option<usize>> = (0..7).map(|t| routes.slot_of(t)).collect();
        assert_eq!(
            slots,
            vec![None, Some(0), Some(0), Some(1), Some(0), Some(0), None]
        );
    }

    #[test]
    fn parts_keep_their_order_and_unroutable_entries_are_dropped() {
        let entries = [10u32, 21, 11, 99, 22, 12];
        let mut parts = Vec::new();
        for_each_part(
            &entries,
            3,
            |e| (*e < 99).then_some((*e / 10) as usize),
            |d, part| parts.push((d, part.iter().map(|e| **e).collect::<Vec<_>>())),
        );
        assert_eq!(parts, vec![(1, vec![10, 11, 12]), (2, vec![21, 22])]);
        let mut whole = Vec::new();
        for_each_part(
            &entries[..1],
            3,
            |_| Some(2),
            |d, part| whole.push((d, part.len())),
        );
        assert_eq!(whole, vec![(2, 1)]);
    }
}
