//! Word count over Kafka: records (one sentence each) are read from the topic `--topic` as
//! consumer group `--group`, split into words, counted per word (fields grouping), and each
//! word's running count is produced to `--out` as `word count`, keyed by the word; a record's
//! offset is committed only once every count it led to was confirmed by the brokers.
//!
//!     cargo run --release --example kafka_word_count -- --brokers 127.0.0.1:9092 \
//!         --topic sentences --group squall --out word_counts --seconds 10
//!
//! With `--seconds N` it stops by itself and prints the spouts' totals last:
//! `emitted=<n> acked=<n> failed=<n>`.

use clap::Parser;
use squall_connectors::kafka::{KafkaSink, KafkaSpout};
use squall_examples::word_count::{RunningCount, SplitBolt};
use squall_worker::prelude::*;

#[derive(Parser)]
#[command(about = "Word count from a Kafka topic to a Kafka topic")]
struct Args {
    /// The brokers, HOST:PORT[,HOST:PORT...].
    #[arg(long)]
    brokers: String,
    /// The topic to read.
    #[arg(long, default_value = "sentences")]
    topic: String,
    /// The consumer group to commit offsets as.
    #[arg(long, default_value = "squall")]
    group: String,
    /// The topic the counts are produced to.
    #[arg(long, default_value = "word_counts")]
    out: String,
    /// Spout tasks (each reads every n-th partition).
    #[arg(long, default_value_t = 1)]
    spouts: u32,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
}

/// `word count` as one line, keyed by the word.
struct Format;

impl Bolt for Format {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word", "line"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str("word")?;
        let line = format!("{word} {}", input.get_i64("count")?);
        out.emit(&[&input], values![word, line])?;
        out.ack(&input);
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (brokers, topic, group) = (args.brokers.clone(), args.topic.clone(), args.group.clone());
    let mut builder = TopologyBuilder::new();
    builder.set_spout(
        "sentences",
        move || KafkaSpout::new(&brokers, &topic, &group).value_only("sentence"),
        args.spouts,
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
    let (brokers, out) = (args.brokers.clone(), args.out.clone());
    builder
        .set_bolt(
            "produce",
            move || KafkaSink::new(&brokers, &out, "line").key_field("word"),
            1,
        )
        .fields_grouping("format", ["word"]);
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(2_000);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::run_local_for("kafka-word-count", &conf, &topology, args.seconds)
}
