//! The connector test topologies' middle bolt: it fails the first sighting of every
//! `every`-th message (by a number field) and passes the others on, anchored, so the spout
//! sees failures to deliver again.

use std::collections::HashSet;

use squall_worker::prelude::*;

/// Fails the first sighting of inputs whose field `number` is a multiple of `every`; emits
/// the field `pass` (under the same name) of the others.
pub struct Flaky {
    every: i64,
    number: &'static str,
    pass: &'static str,
    failed: HashSet<String>,
}

impl Flaky {
    /// Fails one input in `every` once (never when `every` is 0).
    pub fn new(every: i64, number: &'static str, pass: &'static str) -> Self {
        Flaky {
            every,
            number,
            pass,
            failed: HashSet::new(),
        }
    }
}

impl Bolt for Flaky {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new([self.pass]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let n: i64 = input.get_str(self.number)?.parse().unwrap_or(1);
        let pass = input.get_str(self.pass)?.to_owned();
        if self.every > 0 && n % self.every == 0 && self.failed.insert(pass.clone()) {
            out.fail(&input);
            return Ok(());
        }
        out.emit(&[&input], values![pass])?;
        out.ack(&input);
        Ok(())
    }
}

/// The value following `name` on a command line.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
