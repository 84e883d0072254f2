//! A topology binary whose `main` runs its topology in local mode and never calls
//! `serve_cluster_role`: the README's topology before it was fixed. Its spout creates the
//! file named by `SQUALL_TEST_MARKER` when it opens, so a test can tell whether any of the
//! topology ran.

use std::time::Duration;

use squall_worker::prelude::*;

struct Marker;

impl Spout for Marker {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["x"]));
    }

    fn open(&mut self, _context: &TopologyContext) -> Result<(), ComponentError> {
        if let Some(path) = std::env::var_os("SQUALL_TEST_MARKER") {
            std::fs::write(path, b"ran")?;
        }
        Ok(())
    }

    fn next_tuple(&mut self, _out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        std::thread::sleep(Duration::from_millis(10));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = TopologyBuilder::new();
    builder.set_spout("marker", || Marker, 1);
    let topology = builder.build()?;
    let running = LocalTopology::start("local-only", &Config::new(), &topology)?;
    std::thread::sleep(Duration::from_secs(1));
    running.kill(Duration::ZERO);
    Ok(())
}
