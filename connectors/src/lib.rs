//! Real sources and sinks for Squall topologies. Each connector carries the at-least-once
//! guarantee to its broker: a message leaves the broker's pending state only when its whole
//! tuple tree is acked (as Storm's Kafka spout commits only acked offsets), and a sink acks its
//! input only once the write is confirmed.
//!
//! Each connector is behind a cargo feature, so a topology that needs none pulls in nothing:
//!
//! - `redis`: [`redis::RedisStreamSpout`] reads a Redis stream through a consumer group;
//!   [`redis::RedisSink`] writes (`XADD`, `HSET`, `HINCRBY`) in pipelines.
//! - `nats`: [`nats::JetStreamSpout`] pulls from a durable JetStream consumer (ack when the
//!   tree completes, nak with a delay when it fails, in-progress for slow trees);
//!   [`nats::JetStreamSink`] publishes and acks its input once the stream acknowledged it.
//! - `kafka`: [`kafka::KafkaSpout`] reads a topic's partitions dealt across its tasks and
//!   commits only offsets below which every tree completed; [`kafka::KafkaSink`] produces with
//!   `acks=all` and acks each input once its record is confirmed.
//! - `files`: [`files::FileSpout`] reads a directory of newline-delimited files with
//!   persisted offsets; [`files::FileSink`] writes rolling files.

#[cfg(feature = "files")]
pub mod files;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis;

#[cfg(any(feature = "redis", feature = "nats", feature = "kafka"))]
mod retry;
pub mod tracker;
