//! A topology with a shell bolt, for the cluster tests of multi-lang components: a Rust spout
//! of numbered sentences (tracked, replayed on failure) → `split`, the scripted Python bolt
//! (`tests/multilang/scripted_bolt.py --linger`) → a Rust sink that acks.
//!
//!     shell_topology [--python python3] [--resources-named DIR]
//!
//! With `--resources-named DIR` the topology names DIR as its resources
//! (`TopologyBuilder::resources`) and runs `scripted_bolt.py` from there by a relative path:
//! the script is found only if the resources directory is.

use std::collections::VecDeque;
use std::time::Duration;

use squall_worker::multilang::ShellBolt;
use squall_worker::prelude::*;

struct Sentences {
    next: u64,
    replay: VecDeque<u64>,
}

impl Spout for Sentences {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["sentence"]));
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        let id = match self.replay.pop_front() {
            Some(id) => id,
            None => {
                // A modest, steady rate: the test is about processes, not speed.
                std::thread::sleep(Duration::from_millis(5));
                self.next += 1;
                self.next
            }
        };
        out.emit_with_id(values![format!("plain sentence {id}")], id)?;
        Ok(())
    }

    fn fail(&mut self, id: MessageId) {
        self.replay.push_back(id);
    }
}

struct Sink;

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        out.ack(&input);
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let python = args
        .iter()
        .position(|a| a == "--python")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "python3".to_owned());
    let named = args
        .iter()
        .position(|a| a == "--resources-named")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut builder = TopologyBuilder::new();
    let script = match named {
        Some(dir) => {
            builder.resources(dir);
            "scripted_bolt.py"
        }
        None => concat!(env!("CARGO_MANIFEST_DIR"), "/multilang/scripted_bolt.py"),
    };
    builder.set_spout(
        "sentences",
        || Sentences {
            next: 0,
            replay: VecDeque::new(),
        },
        1,
    );
    builder
        .set_bolt(
            "split",
            move || {
                ShellBolt::new([python.clone(), script.to_owned(), "--linger".to_owned()])
                    .output(Fields::new(["word"]))
            },
            2,
        )
        .shuffle_grouping("sentences");
    builder
        .set_bolt("sink", || Sink, 1)
        .shuffle_grouping("split");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(200);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("shell", &conf, &topology)?;
    std::thread::sleep(Duration::from_secs(3));
    let stats = running.kill(Duration::from_millis(500));
    println!("acked {}", stats.spout_totals().acked);
    Ok(())
}
