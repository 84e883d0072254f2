//! Squall's wire contracts.
//!
//! The gRPC services (generated from `proto/squall.proto`): [`nimbus`] for clients and
//! supervisors, [`supervisor`] for a supervisor's workers, [`worker`] for the tuple transport.
//! And the [`Assignment`] a topology runs under, which Nimbus computes, supervisors carry to
//! their workers, and workers follow.

mod assignment;

pub use assignment::{Assignment, ExecutorAssignment, Slot, TopologyStatus};

/// The generated messages and services.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("squall");
}

pub use pb::nimbus_client::NimbusClient;
pub use pb::nimbus_server::{Nimbus, NimbusServer};
pub use pb::supervisor_client::SupervisorClient;
pub use pb::supervisor_server::{Supervisor, SupervisorServer};
pub use pb::worker_client::WorkerClient;
pub use pb::worker_server::{Worker, WorkerServer};

/// Largest gRPC message we accept or send: batches and binary chunks stay well below it.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
