//! Sending batches to other workers.
//!
//! Executors hand batches for remote tasks to one bounded queue (backpressure: a slow network
//! slows the emitters). A sender thread splits each batch by destination worker, encodes each
//! part once, and passes it to that worker's connection: a tokio task holding one long-lived
//! client-streaming `Transfer` call, reconnecting when the peer goes away. Batches for a peer
//! that cannot be reached are dropped; their trees time out and are replayed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use squall_proto::pb::TransferBatch;
use squall_proto::{MAX_MESSAGE_BYTES, Slot, WorkerClient};
use squall_topology_api::TaskId;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use super::codec::{StreamTable, encode_acks, encode_tuples};
use crate::message::Batch;

/// Batches waiting for the sender thread.
const OUTGOING_BATCHES: usize = 64;
/// How long batches wait for a peer that cannot be reached before they are dropped.
const HOLD_WHILE_DOWN: Duration = Duration::from_secs(5);
/// A message stops taking more queued batches past this size.
const COALESCE_BYTES: usize = 1 << 20;
/// Encoded payloads waiting per peer connection.
const PAYLOADS_PER_PEER: usize = 32;
/// HTTP/2 flow-control window of a transfer stream. The 64 KiB default holds about one
/// batch, so every batch waited a round trip for a window update.
pub(crate) const WINDOW_BYTES: u32 = 16 << 20;

/// Which worker slot runs each task.
#[derive(Debug, Default, Clone)]
pub(crate) struct Routes {
    slots: Vec<Slot>,
    task_slot: Vec<u32>,
}

impl Routes {
    /// Routes from (task, slot) pairs.
    pub fn new(placements: impl IntoIterator<Item = (TaskId, Slot)>) -> Self {
        let mut routes = Routes::default();
        let mut index: HashMap<Slot, u32> = HashMap::new();
        for (task, slot) in placements {
            let i = *index.entry(slot.clone()).or_insert_with(|| {
                routes.slots.push(slot);
                (routes.slots.len() - 1) as u32
            });
            if routes.task_slot.len() <= task as usize {
                routes.task_slot.resize(task as usize + 1, u32::MAX);
            }
            routes.task_slot[task as usize] = i;
        }
        routes
    }

    fn slot_of(&self, task: TaskId) -> Option<usize> {
        match self.task_slot.get(task as usize) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }
}

/// The sending side of the transport.
pub(crate) struct RemoteSender {
    tx: Sender<Batch>,
    routes: Arc<RwLock<Arc<Routes>>>,
}

impl RemoteSender {
    /// Starts the sender thread; connections run on `runtime`.
    pub fn start(
        table: Arc<StreamTable>,
        runtime: tokio::runtime::Handle,
    ) -> std::io::Result<Self> {
        let (tx, rx) = bounded(OUTGOING_BATCHES);
        let routes: Arc<RwLock<Arc<Routes>>> = Arc::default();
        let thread_routes = Arc::clone(&routes);
        std::thread::Builder::new()
            .name("transport-send".into())
            .spawn(move || send_loop(&rx, &thread_routes, &table, &runtime))?;
        Ok(RemoteSender { tx, routes })
    }

    /// The queue executors hand remote batches to.
    pub fn queue(&self) -> Sender<Batch> {
        self.tx.clone()
    }

    /// Points tasks at (new) slots.
    pub fn set_routes(&self, routes: Routes) {
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
    }
}

fn send_loop(
    rx: &Receiver<Batch>,
    routes: &RwLock<Arc<Routes>>,
    table: &StreamTable,
    runtime: &tokio::runtime::Handle,
) {
    let mut connections: HashMap<Slot, mpsc::Sender<TransferBatch>> = HashMap::new();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    while let Ok(first) = rx.recv() {
        let routes = Arc::clone(&routes.read().unwrap_or_else(|p| p.into_inner()));
        parts.clear();
        parts.resize_with(routes.slots.len(), Vec::new);
        // Everything already queued goes out with this batch, one message per peer: payloads
        // are self-delimiting, and a message costs far more than its bytes. No waiting here,
        // so a lone batch leaves at once.
        let mut batch = Some(first);
        while let Some(b) = batch.take() {
            encode_into(&b, &routes, table, &mut parts);
            if parts.iter().map(Vec::len).sum::<usize>() < COALESCE_BYTES {
                batch = rx.try_recv().ok();
            }
        }
        for (s, payload) in parts.iter_mut().enumerate() {
            if payload.is_empty() {
                continue;
            }
            let slot = &routes.slots[s];
            let conn = connections
                .entry(slot.clone())
                .or_insert_with(|| connect(slot.clone(), runtime));
            let msg = TransferBatch {
                payload: std::mem::take(payload),
            };
            if conn.blocking_send(msg).is_err() {
                connections.remove(slot);
            }
        }
    }
}

/// Appends one batch's entries to the payloads of the slots they are for.
fn encode_into(batch: &Batch, routes: &Routes, table: &StreamTable, parts: &mut [Vec<u8>]) {
    match batch {
        Batch::Tuples(deliveries) => {
            let mut by_slot: Vec<Vec<&crate::message::Delivery>> =
                vec![Vec::new(); routes.slots.len()];
            for d in deliveries {
                if let Some(s) = routes.slot_of(d.task) {
                    by_slot[s].push(d);
                }
            }
            for (s, ds) in by_slot.iter().enumerate().filter(|(_, ds)| !ds.is_empty()) {
                encode_tuples(table, ds, &mut parts[s]);
            }
        }
        Batch::Acks(msgs) => {
            let mut by_slot: Vec<Vec<&crate::message::AckMsg>> =
                vec![Vec::new(); routes.slots.len()];
            for m in msgs {
                if let Some(s) = routes.slot_of(m.dest) {
                    by_slot[s].push(m);
                }
            }
            for (s, ms) in by_slot.iter().enumerate().filter(|(_, ms)| !ms.is_empty()) {
                encode_acks(ms, &mut parts[s]);
            }
        }
    }
}

fn connect(slot: Slot, runtime: &tokio::runtime::Handle) -> mpsc::Sender<TransferBatch> {
    let (tx, rx) = mpsc::channel(PAYLOADS_PER_PEER);
    runtime.spawn(connection(slot, rx));
    tx
}

/// Keeps one `Transfer` stream open to a peer, reconnecting as needed. A peer that is not
/// listening yet (a worker starting up) gets `HOLD_WHILE_DOWN` before its batches are dropped:
/// meanwhile they wait here and the queues behind them push back. Dropping at once lost the
/// first trees of every topology whose workers did not start in the same instant.
async fn connection(slot: Slot, mut rx: mpsc::Receiver<TransferBatch>) {
    let url = format!("http://{slot}");
    let mut down_since: Option<std::time::Instant> = None;
    loop {
        let client = match Endpoint::from_shared(url.clone()) {
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
        let (stream_tx, stream_rx) = mpsc::channel(PAYLOADS_PER_PEER);
        let mut client = client;
        let mut call =
            tokio::spawn(async move { client.transfer(ReceiverStream::new(stream_rx)).await });
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(mut batch) => {
                        // Payloads that queued while the stream was busy go as one message.
                        while batch.payload.len() < COALESCE_BYTES {
                            match rx.try_recv() {
                                Ok(more) => batch.payload.extend_from_slice(&more.payload),
                                Err(_) => break,
                            }
                        }
                        if stream_tx.send(batch).await.is_err() { break }
                    }
                    None => return,
                },
                result = &mut call => {
                    if let Ok(Err(status)) = result {
                        tracing::warn!(peer = %slot, %status, "transfer stream ended");
                    }
                    break;
                }
            }
        }
    }
}
