//! A topology of any size for the bound tests: a chain `c00000 → c00001 → ...` of `N`
//! components (a spout, then bolts, each shuffle-grouped on the one before), optionally declared
//! from the sink back to the spout, with `T` tasks spread over them (each task its own
//! executor). Its spout emits nothing; the topology exists to be described, validated and
//! placed.
//!
//!     chain_topology --components 5000 [--tasks 18976] [--reverse true]

use squall_worker::prelude::*;

struct Quiet;

impl Spout for Quiet {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["x"]));
    }

    fn next_tuple(&mut self, _out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        std::thread::sleep(std::time::Duration::from_millis(100));
        Ok(())
    }
}

struct Pass;

impl Bolt for Pass {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["x"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        out.emit(&[&input], input.values().clone())?;
        out.ack(&input);
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut components, mut tasks, mut reverse) = (3usize, None::<usize>, false);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--components" => components = value.parse()?,
            "--tasks" => tasks = Some(value.parse()?),
            "--reverse" => reverse = value.parse()?,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let tasks = tasks.unwrap_or(components).max(components);
    let name = |i: usize| format!("c{i:05}");
    let order: Vec<usize> = if reverse {
        (0..components).rev().collect()
    } else {
        (0..components).collect()
    };
    let mut b = TopologyBuilder::new();
    for i in order {
        let n = (tasks / components + usize::from(i < tasks % components)) as u32;
        if i == 0 {
            b.set_spout(&name(i), || Quiet, n);
        } else {
            b.set_bolt(&name(i), || Pass, n)
                .shuffle_grouping(name(i - 1).as_str());
        }
    }
    let topology = b.build()?;
    if squall_worker::serve_cluster_role(&topology, &Config::new())? {
        return Ok(());
    }
    Err("run me with `squall submit`".into())
}
