//! Word count over NATS JetStream: messages (one sentence each) are pulled from the stream
//! `--stream` through the durable consumer `--durable`, split into words, counted per word
//! (fields grouping), and each word's running count is published as `word count` to
//! `--out`, a subject a stream must capture; a message is acknowledged to JetStream only once
//! every count it led to was acknowledged by the stream.
//!
//!     nats-server -js &
//!     nats stream add SENTENCES --subjects sentences --defaults
//!     nats stream add COUNTS --subjects word_counts --defaults
//!     nats pub sentences "the cow jumped over the moon"
//!     cargo run --release --example nats_word_count -- --nats nats://127.0.0.1:4222 \
//!         --stream SENTENCES --durable squall --out word_counts --seconds 10
//!
//! With `--seconds N` it stops by itself and prints the spouts' totals last:
//! `emitted=<n> acked=<n> failed=<n>`.

use clap::Parser;
use squall_connectors::nats::{JetStreamSink, JetStreamSpout};
use squall_examples::word_count::{RunningCount, SplitBolt};
use squall_worker::prelude::*;

#[derive(Parser)]
#[command(about = "Word count from a JetStream stream to a JetStream subject")]
struct Args {
    /// The NATS server, nats://HOST:PORT.
    #[arg(long)]
    nats: String,
    /// The stream to read.
    #[arg(long, default_value = "SENTENCES")]
    stream: String,
    /// The durable consumer to read it through (created if missing).
    #[arg(long, default_value = "squall")]
    durable: String,
    /// The subject the counts are published to.
    #[arg(long, default_value = "word_counts")]
    out: String,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
}

/// `word count` as one payload.
struct Format;

impl Bolt for Format {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["payload"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let line = format!("{} {}", input.get_str("word")?, input.get_i64("count")?);
        out.emit(&[&input], values![line])?;
        out.ack(&input);
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (url, stream, durable) = (args.nats.clone(), args.stream.clone(), args.durable.clone());
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "sentences",
        move || JetStreamSpout::new(&url, &stream, &durable).field("sentence"),
        1,
    );
    builder
        .set_bolt("split", || SplitBolt, 2)
        .shuffle_grouping("sentences");
    builder
        .set_bolt("count", RunningCount::default, 2)
        .fields_grouping("split", ["word"]);
    builder
        .set_bolt("format", || Format, 1)
        .fields_grouping("count", ["word"]);
    let (url, out) = (args.nats.clone(), args.out.clone());
    builder
        .set_bolt("publish", move || JetStreamSink::new(&url, &out), 1)
        .shuffle_grouping("format");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(2_000);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::run_local_for("nats-word-count", &conf, &topology, args.seconds)
}
