//! The Redis-stream word count, shared by the `redis_word_count` example and the
//! `redis_bench` benchmark: a stream spout, split, count (fields grouping) and a sink writing
//! each word's running count into the hash `word_counts`.

use squall_connectors::redis::{RedisSink, RedisStreamSpout, RedisWrite};
use squall_worker::prelude::*;
use squall_worker::{InvalidTopology, Topology};

use crate::word_count::{RunningCount, SplitBolt};

/// The hash the counts are written to.
pub const COUNTS_HASH: &str = "word_counts";

/// Reads entries' `sentence` field from `stream` through `group` at `url` with `spouts` spout
/// tasks (each a consumer of the group); `parallelism` executors for each bolt.
pub fn topology(
    url: &str,
    stream: &str,
    group: &str,
    spouts: u32,
    parallelism: u32,
) -> Result<Topology, InvalidTopology> {
    let mut builder = TopologyBuilder::new();
    let (spout_url, stream, group) = (url.to_owned(), stream.to_owned(), group.to_owned());
    builder.set_spout(
        "sentences",
        move || RedisStreamSpout::new(&spout_url, &stream, &group).fields(["sentence"]),
        spouts,
    );
    builder
        .set_bolt("split", || SplitBolt, parallelism)
        .shuffle_grouping("sentences");
    builder
        .set_bolt("count", RunningCount::default, parallelism)
        .fields_grouping("split", ["word"]);
    let url = url.to_owned();
    let write = RedisWrite::HSet {
        key: COUNTS_HASH.into(),
        field: "word".into(),
        value: "count".into(),
    };
    // Grouped by word too, so a word's counts are written in the order they were counted.
    builder
        .set_bolt(
            "store",
            move || RedisSink::new(&url, write.clone()),
            parallelism,
        )
        .fields_grouping("count", ["word"]);
    builder.build()
}
