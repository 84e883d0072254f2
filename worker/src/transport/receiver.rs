//! Receiving batches from other workers: the `Worker` gRPC service.
//!
//! Each incoming stream is decoded as it arrives (a garbled batch ends that stream with
//! `invalid argument` and changes nothing) and handed to a dispatcher thread, which queues the
//! tuples and acker messages for the local executors. The dispatcher blocks when an executor's
//! queue is full, the gRPC stream stops being read, and HTTP/2 flow control slows the sender:
//! backpressure across workers.

use std::sync::Arc;

use crossbeam_channel::Receiver as CbReceiver;
use squall_proto::Worker;
use squall_proto::pb::{Empty, TransferBatch};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::codec::{StreamTable, decode};
use crate::message::Batch;
use crate::outbox::Outbox;

/// Decoded payloads waiting for the dispatcher.
const INBOUND_PAYLOADS: usize = 64;

/// The gRPC side.
pub(crate) struct TransferService {
    table: Arc<StreamTable>,
    tx: mpsc::Sender<Vec<Batch>>,
}

#[tonic::async_trait]
impl Worker for TransferService {
    async fn transfer(
        &self,
        request: Request<Streaming<TransferBatch>>,
    ) -> Result<Response<Empty>, Status> {
        let mut stream = request.into_inner();
        while let Some(msg) = stream.message().await? {
            let batches = decode(&self.table, &msg.payload)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            if self.tx.send(batches).await.is_err() {
                return Err(Status::unavailable("worker is shutting down"));
            }
        }
        Ok(Response::new(Empty {}))
    }
}

/// Starts the dispatcher thread; returns the service to serve. The dispatcher delivers through
/// the latest outbox received on `outboxes` (a new one each time the local executors change).
pub(crate) fn start(
    table: Arc<StreamTable>,
    outboxes: CbReceiver<Outbox>,
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
    Ok(TransferService { table, tx })
}
