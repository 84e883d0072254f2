//! Kafka, through librdkafka (the `rdkafka` crate): [`KafkaSpout`] reads a topic's partitions
//! dealt round-robin across its tasks and commits to its consumer group, per partition, only
//! offsets below which every record's tree completed (as storm-kafka-client does);
//! [`KafkaSink`] produces with `acks=all` and acks each input once the broker confirmed its
//! record.
//!
//! librdkafka reconnects to brokers by itself, with its own exponential backoff
//! (`reconnect.backoff.ms` up to `reconnect.backoff.max.ms`); the spout reports the errors it
//! hears of and, while it cannot read the topic's partitions, tries again with backoff.

mod offsets;
mod sink;
mod spout;

pub use sink::KafkaSink;
pub use spout::KafkaSpout;

use std::time::Duration;

/// How long a request to the brokers (metadata, committed offsets) may take; commits are
/// asynchronous.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a Kafka connector could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The client refused its configuration, or the brokers failed a request.
    #[error("kafka at {brokers}: {what}: {source}")]
    Client {
        /// `bootstrap.servers`.
        brokers: String,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        source: rdkafka::error::KafkaError,
    },
    /// An input lacks the field the sink produces as the record's value.
    #[error("input has no field {0:?} to produce")]
    MissingField(String),
    /// The topic is not there (or has no partitions).
    #[error("kafka at {brokers}: topic {topic:?} has no partitions; create it first")]
    NoPartitions {
        /// `bootstrap.servers`.
        brokers: String,
        /// The topic.
        topic: String,
    },
}
