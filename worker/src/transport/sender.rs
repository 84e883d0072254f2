//! Sending batches to other workers.
//!
//! An executor hands a batch for remote tasks to its [`RemoteLink`], which splits it by
//! destination worker, encodes each part on the executor's own thread and queues it, bounded,
//! on that worker's connection (backpressure: a slow network slows the emitters). A connection
//! is a tokio task holding one long-lived client-streaming `Transfer` call, reconnecting when
//! the peer goes away, and sending what queued meanwhile as one message. Batches for a peer
//! that cannot be reached are dropped; their trees time out and are replayed.
//!
//! Acker messages take a lane of their own that never blocks. A sink's only output is acks, so
//! with acks behind tuples two workers could wait on each other for ever: A's receiver waits on
//! a full queue whose bolt waits to send tuples to B, whose receiver waits on a full sink queue
//! whose sink waits to send acks to A. Unbounded is safe here: acks in flight are bounded by the
//! tuples that caused them, and those are bounded by the spouts' in-flight limits.
//!
//! Encoding where the batch is made, rather than on a sender thread, saves a thread wake per
//! batch: at 20 k sentences/s on two workers that thread woke 5 k times a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use squall_proto::pb::TransferBatch;
use squall_proto::{MAX_MESSAGE_BYTES, Slot, TRANSFER_TOPOLOGY_HEADER, WorkerClient};
use squall_topology_api::TaskId;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;

use super::codec::{StreamTable, encode_acks, encode_tuples};
use crate::message::{AckMsg, Delivery};

/// How long batches wait for a peer that cannot be reached before they are dropped.
const HOLD_WHILE_DOWN: Duration = Duration::from_secs(5);
/// A message stops taking more queued payloads past this size.
const COALESCE_BYTES: usize = 1 << 20;
/// Encoded payloads waiting per peer connection.
const PAYLOADS_PER_PEER: usize = 64;
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

/// The two lanes into one peer's connection task.
#[derive(Clone)]
struct Connection {
    tuples: mpsc::Sender<TransferBatch>,
    acks: mpsc::UnboundedSender<TransferBatch>,
}

/// The routes with a connection for each of their slots (`connections[i]` is `slots[i]`'s).
struct Linked {
    routes: Routes,
    connections: Vec<Connection>,
    /// The placement the routes come from; every batch routed by them carries it.
    placement_version: u64,
}

/// The sending side of the transport: connections to the other workers, kept across route
/// changes for the slots that stay.
pub(crate) struct RemoteSender {
    link: RemoteLink,
    runtime: tokio::runtime::Handle,
    open: Mutex<HashMap<Slot, Connection>>,
    topology_id: Arc<str>,
}

/// What an executor sends remote batches through.
#[derive(Clone)]
pub(crate) struct RemoteLink {
    table: Arc<StreamTable>,
    linked: Arc<RwLock<Arc<Linked>>>,
}

impl RemoteSender {
    /// A sender for `topology_id`'s worker whose connections run on `runtime`.
    pub fn new(
        table: Arc<StreamTable>,
        runtime: tokio::runtime::Handle,
        topology_id: &str,
    ) -> Self {
        RemoteSender {
            link: RemoteLink {
                table,
                linked: Arc::new(RwLock::new(Arc::new(Linked {
                    routes: Routes::default(),
                    connections: Vec::new(),
                    placement_version: 0,
                }))),
            },
            runtime,
            open: Mutex::new(HashMap::new()),
            topology_id: Arc::from(topology_id),
        }
    }

    /// The link executors hand remote batches to.
    pub fn link(&self) -> RemoteLink {
        self.link.clone()
    }

    /// Points tasks at (new) slots of placement `placement_version`, connecting to new slots
    /// and closing connections to slots no task uses any more (once their queued payloads are
    /// sent).
    pub fn set_routes(&self, routes: Routes, placement_version: u64) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|slot, _| routes.slots.contains(slot));
        let connections = routes
            .slots
            .iter()
            .map(|slot| {
                open.entry(slot.clone())
                    .or_insert_with(|| {
                        connect(slot.clone(), Arc::clone(&self.topology_id), &self.runtime)
                    })
                    .clone()
            })
            .collect();
        *self.link.linked.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Linked {
            routes,
            connections,
            placement_version,
        });
    }
}

impl RemoteLink {
    /// Encodes tuples per destination worker and queues each part on its connection, waiting
    /// while a connection's queue is full. Blocks, so never call it from async code.
    pub fn send_tuples(&self, deliveries: &[Delivery]) {
        self.send(
            deliveries,
            |d| d.task,
            |ds, out| encode_tuples(&self.table, ds, out),
            // An error means the connection task is gone (the worker is shutting down).
            |conn, batch| drop(conn.tuples.blocking_send(batch)),
        );
    }

    /// Encodes acker messages per destination worker and queues each part on its connection's
    /// ack lane, without waiting.
    pub fn send_acks(&self, msgs: &[AckMsg]) {
        self.send(
            msgs,
            |m| m.dest,
            encode_acks,
            |conn, batch| drop(conn.acks.send(batch)),
        );
    }

    /// Splits `entries` by the slot of their task and queues each encoded part. Entries for
    /// tasks no other worker runs are dropped, as Storm drops tuples for a task whose worker
    /// is gone.
    fn send<T>(
        &self,
        entries: &[T],
        task_of: impl Fn(&T) -> TaskId,
        encode: impl Fn(&[&T], &mut Vec<u8>),
        queue: impl Fn(&Connection, TransferBatch),
    ) {
        let linked = Arc::clone(&self.linked.read().unwrap_or_else(|p| p.into_inner()));
        let mut by_slot: Vec<Vec<&T>> = vec![Vec::new(); linked.routes.slots.len()];
        for e in entries {
            if let Some(s) = linked.routes.slot_of(task_of(e)) {
                by_slot[s].push(e);
            }
        }
        for (s, part) in by_slot.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
            let mut payload = Vec::new();
            encode(part, &mut payload);
            let batch = TransferBatch {
                payload,
                placement_version: linked.placement_version,
            };
            queue(&linked.connections[s], batch);
        }
    }
}

fn connect(slot: Slot, topology_id: Arc<str>, runtime: &tokio::runtime::Handle) -> Connection {
    let (tuples, tuples_rx) = mpsc::channel(PAYLOADS_PER_PEER);
    let (acks, acks_rx) = mpsc::unbounded_channel();
    runtime.spawn(connection(
        slot,
        topology_id,
        Lanes {
            tuples: tuples_rx,
            acks: acks_rx,
        },
    ));
    Connection { tuples, acks }
}

/// The receiving ends of a connection's lanes.
struct Lanes {
    tuples: mpsc::Receiver<TransferBatch>,
    acks: mpsc::UnboundedReceiver<TransferBatch>,
}

impl Lanes {
    /// The next payload, acks first; `None` once the sending side is gone.
    async fn recv(&mut self) -> Option<TransferBatch> {
        tokio::select! {
            biased;
            Some(batch) = self.acks.recv() => Some(batch),
            item = self.tuples.recv() => item,
        }
    }

    /// A payload that is already queued, acks first.
    fn try_recv(&mut self) -> Option<TransferBatch> {
        self.acks
            .try_recv()
            .or_else(|_| self.tuples.try_recv())
            .ok()
    }
}

/// Keeps one `Transfer` stream open to a peer, reconnecting as needed. A peer that is not
/// listening yet (a worker starting up) gets `HOLD_WHILE_DOWN` before its batches are dropped:
/// meanwhile they wait here and the queues behind them push back. Dropping at once lost the
/// first trees of every topology whose workers did not start in the same instant.
async fn connection(slot: Slot, topology_id: Arc<str>, mut rx: Lanes) {
    let url = format!("http://{slot}");
    let mut down_since: Option<std::time::Instant> = None;
    // A payload taken from the lanes but not sent yet: it could not join the message before
    // it (another placement version).
    let mut held: Option<TransferBatch> = None;
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(byte: u8) -> TransferBatch {
        TransferBatch {
            payload: vec![byte],
            placement_version: 0,
        }
    }

    #[test]
    fn acks_overtake_queued_tuples_and_never_wait_for_room() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (tuples, tuples_rx) = mpsc::channel(1);
        let (acks, acks_rx) = mpsc::unbounded_channel();
        let mut lanes = Lanes {
            tuples: tuples_rx,
            acks: acks_rx,
        };
        tuples
            .try_send(batch(1))
            .expect("room for one tuple payload");
        assert!(tuples.try_send(batch(2)).is_err(), "the tuple lane is full");
        // The ack lane takes more while the tuple lane is full.
        for b in [10, 11, 12] {
            acks.send(batch(b)).expect("ack lane open");
        }
        let first = runtime.block_on(lanes.recv()).expect("a payload");
        assert_eq!(first.payload, vec![10]);
        let rest: Vec<u8> = std::iter::from_fn(|| lanes.try_recv())
            .map(|b| b.payload[0])
            .collect();
        assert_eq!(rest, vec![11, 12, 1]);
        drop((tuples, acks));
        assert!(runtime.block_on(lanes.recv()).is_none(), "closed lanes end");
    }
}
