//! Receiving batches from other workers: the `Worker` gRPC service.
//!
//! A peer opens one stream per destination executor (and one for acker messages); each is
//! decoded as it arrives (a garbled batch ends that stream with `invalid argument` and changes
//! nothing) and delivered straight to its executor's queue (see [`delivery`](super::delivery)).
//! A full queue parks only its own stream, so HTTP/2 flow control slows only that edge.
//! Batches that arrive before this worker's executors exist wait (and their stream behind
//! them) until there is somewhere to deliver them, instead of being lost and replayed.
//!
//! A stream from another topology's worker is refused, and so is every batch routed under
//! another placement than this worker's (workers learn of a new assignment up to a couple of
//! seconds apart): such a batch is counted and dropped, and its trees are replayed, instead of
//! reaching a task through a route that no longer holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use squall_proto::pb::{Empty, TransferBatch};
use squall_proto::{TRANSFER_TOPOLOGY_HEADER, Worker};
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use super::codec::{StreamTable, decode};
use super::delivery::{LocalTargets, Undelivered};

/// Which placement this worker follows, and how many batches it refused or dropped.
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

    /// Batches refused so far (routed under another placement, or to a task not here).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stream refused for its sender's identity; returns the count so far.
    fn count_foreign(&self) -> u64 {
        self.refused.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether a batch routed under `version` may be delivered; counts it if not.
    fn admit(&self, version: u64) -> bool {
        let ok = version == self.version.load(Ordering::Acquire);
        if !ok {
            self.count_refused();
        }
        ok
    }
}

/// The executors the network delivers to: `None` until the first set has started.
pub(crate) type Targets = watch::Receiver<Option<Arc<LocalTargets>>>;

/// The gRPC side.
pub(crate) struct TransferService {
    table: Arc<StreamTable>,
    targets: Targets,
    topology_id: Arc<str>,
    gate: Arc<PlacementGate>,
    /// Whether streams arrive over mutual TLS: each must then come from a worker certificate
    /// of this topology.
    secure: bool,
}

impl TransferService {
    /// The service for `topology_id`'s worker, delivering to `targets` the batches of the
    /// placement `gate` admits.
    pub fn new(
        table: Arc<StreamTable>,
        targets: Targets,
        topology_id: &str,
        gate: Arc<PlacementGate>,
    ) -> Self {
        TransferService {
            table,
            targets,
            topology_id: Arc::from(topology_id),
            gate,
            secure: false,
        }
    }

    /// Requires every stream to come from a worker certificate of this topology.
    pub fn secure(mut self) -> Self {
        self.secure = true;
        self
    }
}

#[tonic::async_trait]
impl Worker for TransferService {
    async fn transfer(
        &self,
        request: Request<Streaming<TransferBatch>>,
    ) -> Result<Response<Empty>, Status> {
        if self.secure {
            let peer = request.peer_certs().and_then(|certs| {
                certs
                    .first()
                    .and_then(|c| squall_security::principal_of(c.as_ref()))
            });
            let ours = peer.as_ref().is_some_and(|p| {
                p.role == squall_security::Role::Worker
                    && p.name == squall_security::pki::worker_name(&self.topology_id)
            });
            if !ours {
                let named = peer.map(|p| p.to_string());
                let refused = self.gate.count_foreign();
                tracing::warn!(peer = ?named, refused, "refused a transfer stream from a peer that is not a worker of this topology");
                return Err(Status::permission_denied(format!(
                    "this worker accepts streams only from workers of topology {:?}",
                    &*self.topology_id
                )));
            }
        }
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
        let mut targets = self.targets.clone();
        let mut stream = request.into_inner();
        while let Some(msg) = stream.message().await? {
            // Before its first executors start, this worker has no placement yet: a peer that
            // started first waits here rather than having its batches refused.
            let here = loop {
                if let Some(t) = targets.borrow_and_update().as_ref() {
                    break Arc::clone(t);
                }
                if targets.changed().await.is_err() {
                    return Err(Status::unavailable("worker is shutting down"));
                }
            };
            if !self.gate.admit(msg.placement_version) {
                tracing::debug!(
                    version = msg.placement_version,
                    "refused a batch routed under another placement"
                );
                continue;
            }
            let batches = decode(&self.table, &msg.payload)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            for batch in batches {
                match here.deliver(batch).await {
                    Ok(()) => {}
                    Err(Undelivered::NotHere) => self.gate.count_refused(),
                    // Its executors are being replaced: those trees replay.
                    Err(Undelivered::Stopped) => {}
                }
            }
        }
        Ok(Response::new(Empty {}))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossbeam_channel::bounded;
    use squall_proto::{WorkerClient, WorkerServer};
    use squall_topology_api::{
        ComponentError, Fields, OutputDeclarer, Spout, SpoutCollector, TaskId, TopologyBuilder,
    };
    use tokio_stream::wrappers::TcpListenerStream;
    use tonic::metadata::MetadataValue;

    use super::*;
    use crate::assembly::Wiring;
    use crate::message::{AckKind, AckMsg, Batch, Control};
    use crate::outbox::{NO_PEER, Peer};
    use crate::transport::codec::encode_acks;
    use crate::waker::QueueWaker;

    struct S;
    impl Spout for S {
        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(Fields::new(["a"]));
        }
        fn next_tuple(&mut self, _out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
            Ok(())
        }
    }

    fn payload_for(task: TaskId) -> TransferBatch {
        let msg = AckMsg {
            root: 7,
            value: 9,
            task: 1,
            dest: task,
            kind: AckKind::Ack,
        };
        let mut payload = Vec::new();
        encode_acks(&[&msg], &mut payload);
        TransferBatch {
            payload,
            placement_version: 3,
        }
    }

    /// Two destination executors on one worker: the first one's queue is full and nobody
    /// drains it. A batch for the second, on its own stream, still arrives: a full queue stalls
    /// only its own edge. (One delivery thread per worker waited behind the first for ever.)
    #[test]
    fn a_full_queue_stalls_only_its_own_stream() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let mut b = TopologyBuilder::new();
        b.set_spout("s", || S, 1);
        let table = Arc::new(StreamTable::new(&b.build().expect("valid")));

        let (stuck_tx, _stuck_rx) = bounded(1);
        stuck_tx
            .try_send(Batch::Acks(Vec::new()))
            .expect("room for one");
        let (live_tx, live_rx) = bounded(1);
        let (control, _control_rx) = crossbeam_channel::unbounded::<Control>();
        // No executor runs on it: the test reads the queues itself.
        let pool = crate::executor::pool::Pool::new(1, "test-pool").expect("pool");
        let peer = |data| Peer::Local {
            data,
            control: control.clone(),
            waker: Arc::new(QueueWaker::default()),
            wake: pool.entry(tracing::Span::none()),
            acks_on_control: false,
        };
        let wiring = Wiring {
            peers: vec![peer(stuck_tx), peer(live_tx)].into(),
            task_peer: vec![NO_PEER, 0, 1].into(),
            local_task_peer: vec![NO_PEER, 0, 1].into(),
        };
        let (_targets_tx, targets) = watch::channel(Some(Arc::new(LocalTargets::new(&wiring))));
        let gate = Arc::new(PlacementGate::default());
        gate.set(3);
        let service = TransferService::new(table, targets, "t-1", gate);

        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(WorkerServer::new(service))
                    .serve_with_incoming(TcpListenerStream::new(listener)),
            );
            let open = |task| {
                let url = format!("http://{addr}");
                async move {
                    let mut client = WorkerClient::connect(url).await.expect("connect");
                    let mut request =
                        tonic::Request::new(tokio_stream::iter(vec![payload_for(task)]));
                    request
                        .metadata_mut()
                        .insert_bin(TRANSFER_TOPOLOGY_HEADER, MetadataValue::from_bytes(b"t-1"));
                    client.transfer(request).await
                }
            };
            // The stream into the full queue never completes; keep it open meanwhile.
            let stuck = tokio::spawn(open(1));
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                !stuck.is_finished(),
                "the batch for the full queue cannot be delivered"
            );
            let live = tokio::time::timeout(Duration::from_secs(5), open(2))
                .await
                .expect("the other stream is not held up");
            assert!(live.is_ok(), "{live:?}");
        });
        match live_rx.try_recv() {
            Ok(Batch::Acks(msgs)) => assert_eq!(msgs.len(), 1),
            _ => panic!("the second executor got nothing"),
        }
    }
}
