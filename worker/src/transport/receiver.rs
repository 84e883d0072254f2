//! Receiving batches from other workers: the `Worker` gRPC service.
//!
//! Each incoming stream is decoded as it arrives (a garbled batch ends that stream with
//! `invalid argument` and changes nothing) and handed to a dispatcher thread, which queues the
//! tuples and acker messages for the local executors. The dispatcher blocks when an executor's
//! queue is full, the gRPC stream stops being read, and HTTP/2 flow control slows the sender:
//! backpressure across workers.
//!
//! A stream from another topology's worker is refused, and so is every batch routed under
//! another placement than this worker's (workers learn of a new assignment up to a couple of
//! seconds apart): such a batch is counted and dropped, and its trees are replayed, instead of
//! reaching a task through a route that no longer holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::Receiver as CbReceiver;
use squall_proto::pb::{Empty, TransferBatch};
use squall_proto::{TRANSFER_TOPOLOGY_HEADER, Worker};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::codec::{StreamTable, decode};
use crate::message::Batch;
use crate::outbox::Outbox;

/// Decoded payloads waiting for the dispatcher.
const INBOUND_PAYLOADS: usize = 64;

/// Which placement this worker follows, and how many batches it refused for being routed
/// under another.
#[derive(Debug, Default)]
pub(crate) struct PlacementGate {
    version: AtomicU64,
    refused: AtomicU64,
}

impl PlacementGate {
    /// Accepts batches of `version` from now on.
    pub fn set(&self, version: u64) {
        self.version.store(version, Ordering::Release);
    }

    /// Batches refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Whether a batch routed under `version` may be delivered; counts it if not.
    fn admit(&self, version: u64) -> bool {
        let ok = version == self.version.load(Ordering::Acquire);
        if !ok {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

/// The gRPC side.
pub(crate) struct TransferService {
    table: Arc<StreamTable>,
    tx: mpsc::Sender<Vec<Batch>>,
    topology_id: Arc<str>,
    gate: Arc<PlacementGate>,
}

#[tonic::async_trait]
impl Worker for TransferService {
    async fn transfer(
        &self,
        request: Request<Streaming<TransferBatch>>,
    ) -> Result<Response<Empty>, Status> {
        let sender = request
            .metadata()
            .get_bin(TRANSFER_TOPOLOGY_HEADER)
            .and_then(|v| v.to_bytes().ok());
        if sender.as_deref() != Some(self.topology_id.as_bytes()) {
            let named = sender.map(|b| String::from_utf8_lossy(&b).into_owned());
            tracing::warn!(sender = ?named, "refused a transfer stream of another topology");
            return Err(Status::failed_precondition(format!(
                "this worker runs topology {:?}, not {:?}",
                &*self.topology_id,
                named.unwrap_or_default()
            )));
        }
        let mut stream = request.into_inner();
        while let Some(msg) = stream.message().await? {
            if !self.gate.admit(msg.placement_version) {
                tracing::debug!(
                    version = msg.placement_version,
                    "refused a batch routed under another placement"
                );
                continue;
            }
            let batches = decode(&self.table, &msg.payload)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            if self.tx.send(batches).await.is_err() {
                return Err(Status::unavailable("worker is shutting down"));
            }
        }
        Ok(Response::new(Empty {}))
    }
}

/// Starts the dispatcher thread; returns the service to serve for `topology_id`'s worker,
/// admitting the placement that `gate` holds. The dispatcher delivers through the latest
/// outbox received on `outboxes` (a new one each time the local executors change).
pub(crate) fn start(
    table: Arc<StreamTable>,
    outboxes: CbReceiver<Outbox>,
    topology_id: &str,
    gate: Arc<PlacementGate>,
) -> std::io::Result<TransferService> {
    let (tx, mut rx) = mpsc::channel::<Vec<Batch>>(INBOUND_PAYLOADS);
    std::thread::Builder::new()
        .name("transport-recv".into())
        .spawn(move || {
            // The server listens before the executors exist, and peers start sending as soon
            // as it does: their first batches wait (and the stream behind them) until there is
            // somewhere to deliver them, instead of being lost and replayed.
            let Ok(mut out) = outboxes.recv() else {
                return;
            };
            while let Some(batches) = rx.blocking_recv() {
                while let Ok(newer) = outboxes.try_recv() {
                    out = newer;
                }
                for batch in batches {
                    match batch {
                        Batch::Tuples(deliveries) => {
                            for d in deliveries {
                                out.push_tuple(d);
                            }
                        }
                        Batch::Acks(msgs) => {
                            for m in msgs {
                                out.push_ack(m.dest, m);
                            }
                        }
                    }
                }
                out.flush();
            }
        })?;
    Ok(TransferService {
        table,
        tx,
        topology_id: Arc::from(topology_id),
        gate,
    })
}
