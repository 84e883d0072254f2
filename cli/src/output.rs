//! Writing to stdout without panicking when the reader goes away (`squall logs wc | head`):
//! `print!` panics on a closed pipe, these return the error, which `main` ends on quietly.

use std::io::Write;

/// Stdout's reader went away: the output ends there, quietly.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed")]
pub struct StdoutClosed;

fn closed(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::anyhow!("cannot write to stdout: {e}")
    }
}

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(closed)
}

/// Writes `line` and a newline to stdout.
pub fn println(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(closed)
}

/// Whether an error is stdout's reader having gone away (and not another broken pipe).
pub fn reader_gone(error: &anyhow::Error) -> bool {
    error.downcast_ref::<StdoutClosed>().is_some()
}
