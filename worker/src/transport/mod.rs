//! Tuples between worker processes: batches encoded by `codec`, sent by `sender` on one
//! long-lived gRPC stream per peer worker, received and handed to local executors by
//! `receiver`. A local destination never goes through here and is never serialized.

pub(crate) mod codec;
pub(crate) mod receiver;
pub(crate) mod sender;
