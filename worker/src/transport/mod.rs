//! Tuples between worker processes: batches encoded by `codec`, sent by `sender` on one
//! long-lived gRPC stream per peer worker, received and handed to local executors by
//! `receiver`.

pub(crate) mod codec;
