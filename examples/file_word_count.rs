//! Word count over files: the newline-delimited files put into `--input` are read line by
//! line (one sentence a line), split into words, counted per word (fields grouping), and each
//! word's running count is appended as `word count` to rolling files in `--output`. A file's
//! offset advances only past lines whose counts are on disk, so a restart resumes there;
//! finished input files are renamed `NAME.done`.
//!
//!     mkdir -p /tmp/in /tmp/out && printf 'the cow jumped\nover the moon\n' > /tmp/in/a.txt
//!     cargo run --release --example file_word_count -- --input /tmp/in --output /tmp/out --seconds 5
//!
//! With `--seconds N` it stops by itself and prints the spouts' totals last:
//! `emitted=<n> acked=<n> failed=<n>`.

use clap::Parser;
use squall_connectors::files::{FileSink, FileSpout};
use squall_examples::word_count::{RunningCount, SplitBolt};
use squall_worker::prelude::*;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Word count from a directory of files into rolling files")]
struct Args {
    /// The directory whose files are read.
    #[arg(long)]
    input: PathBuf,
    /// The directory the counts are written to.
    #[arg(long)]
    output: PathBuf,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
}

/// `word count` as one line.
struct Format;

impl Bolt for Format {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["line"]));
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
    let (input, output) = (args.input.clone(), args.output.clone());
    let mut builder = TopologyBuilder::new();
    builder.set_spout("lines", move || FileSpout::new(&input), 1);
    builder
        .set_bolt("split", || SplitBolt, 2)
        .shuffle_grouping("lines");
    builder
        .set_bolt("count", RunningCount::default, 2)
        .fields_grouping("split", ["word"]);
    builder
        .set_bolt("format", || Format, 1)
        .fields_grouping("count", ["word"]);
    builder
        .set_bolt("store", move || FileSink::new(&output, "counts"), 1)
        .shuffle_grouping("format");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(2_000);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::run_local_for("file-word-count", &conf, &topology, args.seconds)
}
