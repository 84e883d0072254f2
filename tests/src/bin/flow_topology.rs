//! The flow-control test topology: sentences → split (shuffle) → count (fields), the shape of word
//! count that the scheduler spreads over two workers so that each worker's split sends to the
//! other's count. The spout emits as fast as it can (no rate), sentences of `--words` words of
//! about 100 bytes each. Each count task writes its running total to `count-<task>` in the
//! output directory every 100 ms; while a file `stall` exists there, every count task sleeps
//! (a 10 s database hiccup, say) and then the test removes it.
//!
//!     flow_topology --out DIR [--words 64]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use squall_worker::prelude::*;

struct Sentences {
    words: usize,
    next: u64,
    /// Sentences made once, so the spout is fast and the splits are the bottleneck.
    pool: Vec<String>,
}

impl Spout for Sentences {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["sentence"]));
    }

    fn open(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.pool = (0..64u64)
            .map(|n| {
                (0..self.words as u64)
                    // About 100 bytes a word: a number and padding.
                    .map(|i| format!("{:0>100} ", (n * 31 + i * 7) % 997))
                    .collect()
            })
            .collect();
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        let sentence = self.pool[(self.next % 64) as usize].clone();
        self.next += 1;
        out.emit_with_id(values![sentence], self.next)?;
        Ok(())
    }
}

struct Split;

impl Bolt for Split {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        for word in input.get_str("sentence")?.split_whitespace() {
            out.emit(&[&input], values![word])?;
        }
        out.ack(&input);
        Ok(())
    }
}

struct Count {
    out: PathBuf,
    task: TaskId,
    total: u64,
    last_write: Instant,
}

fn write_total(dir: &Path, task: TaskId, total: u64) -> std::io::Result<()> {
    let tmp = dir.join(format!(".count-{task}"));
    std::fs::write(&tmp, total.to_string())?;
    std::fs::rename(tmp, dir.join(format!("count-{task}")))
}

impl Bolt for Count {
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}

    fn prepare(&mut self, ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.task = ctx.this_task_id();
        Ok(())
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        input.get_str("word")?;
        self.total += 1;
        out.ack(&input);
        if self.last_write.elapsed() >= Duration::from_millis(100) {
            self.last_write = Instant::now();
            write_total(&self.out, self.task, self.total)?;
            while self.out.join("stall").exists() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::env::temp_dir();
    let mut words = 64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--out" => out = PathBuf::from(value),
            "--words" => words = value.parse().map_err(|_| "bad --words")?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "sentences",
        move || Sentences {
            words,
            next: 0,
            pool: Vec::new(),
        },
        2,
    );
    b.set_bolt("split", || Split, 2)
        .shuffle_grouping("sentences");
    b.set_bolt(
        "count",
        move || Count {
            out: out.clone(),
            task: 0,
            total: 0,
            last_write: Instant::now(),
        },
        2,
    )
    .fields_grouping("split", ["word"]);
    let topology = b.build()?;
    let mut conf = Config::new();
    conf.set_message_timeout_secs(30);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    Err("run me with `squall submit`".into())
}
