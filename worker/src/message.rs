//! What travels between executors: batches of tuples and of acker messages.
//!
//! Nothing travels alone: a producer appends to a per-destination buffer and hands over the
//! whole buffer (see `outbox`), so the cost of a queue operation is shared by hundreds of
//! messages.

use squall_topology_api::{TaskId, Tuple};

/// One tuple addressed to one task of the receiving executor.
pub(crate) struct Delivery {
    pub task: TaskId,
    pub tuple: Tuple,
}

/// The acker protocol (Storm's `__ack_*` system streams), as plain messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum AckKind {
    /// Spout → acker: a tree starts; `value` is the XOR of the spout's edges, `task` the spout task.
    Init,
    /// Bolt → acker: an input is done; `value` is its edge XOR its children's edges.
    Ack,
    /// Bolt → acker: an input failed; fail the tree.
    Fail,
    /// Bolt → acker: restart the tree's timeout.
    Reset,
    /// Acker → spout task `task`: the tree completed.
    Completed,
    /// Acker → spout task `task`: the tree failed.
    Failed,
    /// Acker → spout task `task`: restart the tree's timeout.
    TimeoutReset,
}

/// One acker-protocol message; `root` is the tree's root id, `dest` the task it is for (set
/// when it is queued, so it can cross the network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckMsg {
    pub root: u64,
    pub value: u64,
    pub task: TaskId,
    pub dest: TaskId,
    pub kind: AckKind,
}

/// What an executor's bounded input queue carries.
pub(crate) enum Batch {
    Tuples(Vec<Delivery>),
    Acks(Vec<AckMsg>),
}

/// What an executor's unbounded control queue carries: lifecycle commands, and the acker's
/// answers to spouts. Those answers must never block the acker, or a spout blocked on a full
/// bolt queue, that bolt blocked on a full acker queue, and the acker blocked on the spout's
/// queue would wait on each other forever; they stay bounded by the spout's pending trees.
pub(crate) enum Control {
    Acks(Vec<AckMsg>),
    Activate,
    Deactivate,
    /// Stop. With `fail_pending` (a planned restart: rebalance, new conf) a spout first fails
    /// its trees in flight back to itself, so a spout that keeps its messages in memory or
    /// nacks them to a broker loses none; the end of a local run leaves them be.
    Shutdown {
        fail_pending: bool,
    },
    /// The worker's executors changed around this one, which keeps running: send through these
    /// peers from now on (after handing over what is buffered for the old ones).
    Rewire(Rewiring),
}

/// How a kept executor reaches every task after its worker's executors changed.
pub(crate) struct Rewiring {
    pub peers: std::sync::Arc<[crate::outbox::Peer]>,
    pub task_peer: std::sync::Arc<[u32]>,
}
