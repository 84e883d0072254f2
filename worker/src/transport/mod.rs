//! Tuples between worker processes: batches encoded by `codec`, sent by `sender` on one
//! long-lived gRPC stream per destination executor (and one per peer for acker messages),
//! received by `receiver` and handed to local executors by `delivery`, each stream waiting
//! only for its own executor. A local destination never goes through here and is never
//! serialized.

pub(crate) mod codec;
pub(crate) mod delivery;
pub(crate) mod receiver;
pub(crate) mod sender;
