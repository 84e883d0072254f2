//! Nimbus's errors, and their one mapping to gRPC status codes.

use tonic::Status;

use crate::store::StoreError;
use crate::topology::IllegalTransition;

/// Why a Nimbus request failed. Messages are one line, lowercase, naming the offending value.
#[derive(Debug, thiserror::Error)]
pub enum NimbusError {
    /// No topology of that name.
    #[error("no topology named {0:?}")]
    NotFound(String),
    /// A topology of that name exists.
    #[error("a topology named {0:?} already exists")]
    NameTaken(String),
    /// The request is malformed or the topology invalid.
    #[error("{0}")]
    Invalid(String),
    /// The upload is larger than `nimbus.max.upload.bytes`.
    #[error("upload of {size} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Declared or received size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not allowed in the topology's current state.
    #[error(transparent)]
    Transition(#[from] IllegalTransition),
    /// Durable state failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller may not do this.
    #[error(transparent)]
    Denied(#[from] crate::authorize::Denied),
    /// The gRPC server failed.
    #[error("server: {0}")]
    Server(#[from] tonic::transport::Error),
}

impl From<NimbusError> for Status {
    fn from(e: NimbusError) -> Self {
        let msg = e.to_string();
        match e {
            NimbusError::NotFound(_) => Status::not_found(msg),
            NimbusError::NameTaken(_) => Status::already_exists(msg),
            NimbusError::Invalid(_) => Status::invalid_argument(msg),
            NimbusError::TooLarge { .. } => Status::resource_exhausted(msg),
            NimbusError::Transition(_) => Status::failed_precondition(msg),
            NimbusError::Denied(_) => Status::permission_denied(msg),
            NimbusError::Store(_) | NimbusError::Server(_) => Status::internal(msg),
        }
    }
}
