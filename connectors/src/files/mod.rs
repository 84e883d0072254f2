//! Files: [`FileSpout`] reads a directory of newline-delimited files, a file's offset
//! advancing only past lines whose trees completed (persisted, so a restarted spout resumes
//! there; a finished file is renamed); [`FileSink`] appends lines to rolling files and acks its
//! inputs once they are on disk.

mod ledger;
mod sink;
mod spout;

pub use ledger::OffsetLedger;
pub use sink::FileSink;
pub use spout::{FileSpout, committed_offset};

use std::io::Write;
use std::path::{Path, PathBuf};

/// What a fully processed input file is renamed with.
pub const DONE_SUFFIX: &str = ".done";
/// Where the spout keeps each file's committed offset, inside the directory it reads.
pub const OFFSETS_DIR: &str = ".squall-offsets";

/// A file operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file or directory.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl FileError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        FileError {
            path: path.to_owned(),
            source,
        }
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename: the old or the new
/// content, never half of one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
