//! NATS JetStream: [`JetStreamSpout`] pulls from a durable consumer shared by its tasks and
//! acknowledges a message only when its tuple tree completes; a failed tree's message is
//! nak'ed with a delay, so JetStream delivers it again; the consumer's ack wait is longer than
//! the message timeout, and trees in flight for a while are marked in progress, so JetStream
//! never redelivers a message whose tree is still running. [`JetStreamSink`] publishes its
//! inputs and acks each once the stream acknowledged it.

mod sink;
mod spout;

pub use sink::JetStreamSink;
pub use spout::JetStreamSpout;

use std::time::Duration;

/// How long a NATS operation may take before the component reports an error.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a JetStream connector could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// Connecting, or talking to the server, failed.
    #[error("nats at {url}: {message}")]
    Server {
        /// The server.
        url: String,
        /// What failed.
        message: String,
    },
    /// The component's runtime could not start.
    #[error("cannot start the NATS client runtime: {0}")]
    Runtime(std::io::Error),
    /// An input lacks the field the sink publishes.
    #[error("input has no field {0:?} to publish")]
    MissingField(String),
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, NatsError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(NatsError::Runtime)
}

/// Runs `f` on `runtime` for at most [`IO_TIMEOUT`].
pub(crate) fn block_on<T, E: std::fmt::Display>(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, NatsError> {
    let server = |message: String| NatsError::Server {
        url: url.to_owned(),
        message,
    };
    // The timer is made inside the runtime: it needs its context.
    match runtime.block_on(async { tokio::time::timeout(IO_TIMEOUT, f).await }) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(server(format!("{what}: {e}"))),
        Err(_) => Err(server(format!("{what}: no answer within {IO_TIMEOUT:?}"))),
    }
}
