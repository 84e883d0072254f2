//! The directory spout: newline-delimited files, read line by line, with each file's committed
//! offset persisted beside it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use squall_topology_api::state::ReplayableSpout;
use squall_topology_api::{
    ComponentError, Fields, MessageId, OutputDeclarer, Spout, SpoutCollector, TopologyContext,
    Values,
};

use super::ledger::OffsetLedger;
use super::{DONE_SUFFIX, FileError, OFFSETS_DIR, write_atomically};
use crate::tracker::{Fetched, Tracker};

/// Lines read per refill.
const READ_LINES: usize = 256;
/// Longest line read; a longer one is cut there (and the rest read as the next line).
const MAX_LINE_BYTES: u64 = 16 << 20;
/// How often the directory is listed for new files.
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// Committed offsets are written at most this often.
const PERSIST_EVERY: Duration = Duration::from_millis(100);

/// A file this task reads.
struct Tracked {
    name: String,
    /// The file's inode: a later file under the same name is another file.
    inode: u64,
    ledger: OffsetLedger,
    /// Bytes up to which lines were read (into the tracker).
    read_to: u64,
    /// Bytes up to which lines were emitted.
    emitted_to: u64,
    /// The end of the file was reached on a line boundary.
    fully_read: bool,
    /// Its last line lacks its newline: other files go first until the next scan.
    waiting: bool,
    /// The committed offset changed since it was last written.
    dirty: bool,
    finished: bool,
}

/// Reads the newline-delimited files of a directory, one tuple per line (without its newline),
/// each emitted with a message id. A file's committed offset, written to
/// `DIR/.squall-offsets/NAME.offset`, advances only past lines whose trees completed, so a
/// restarted spout resumes there and emits again what was not done. A file whose every line
/// is done is renamed `NAME.done`. Failed lines are emitted again.
///
/// Put complete files into the directory (write them elsewhere and rename them in), as with
/// Storm's HDFS spout: a last line without its newline waits for it. Files are shared out
/// among the spout's tasks by name; names starting with `.` and ending in `.done` are skipped.
///
/// It is also a [`ReplayableSpout`] (add it with `set_replayable_spout`): with
/// `topology.state.guarantee` = `exactly_once` its position is each file's offset, recorded
/// with every checkpoint; a rollback sends it back there, and only a committed checkpoint
/// moves the offsets on disk and renames finished files.
///
/// ```no_run
/// use squall_connectors::files::FileSpout;
/// use squall_topology_api::TopologyBuilder;
///
/// let mut b = TopologyBuilder::new();
/// b.set_spout("lines", || FileSpout::new("/var/spool/events").field("line"), 2);
/// ```
pub struct FileSpout {
    dir: PathBuf,
    field: String,
    task_index: usize,
    task_count: usize,
    files: Vec<Tracked>,
    reading: Option<(usize, BufReader<File>)>,
    /// Per line: its file, and where it starts and ends.
    tracker: Tracker<(usize, u64, u64)>,
    next_scan: Instant,
    last_persist: Instant,
    /// Exactly-once mode: checkpoints, not trees, decide what is done.
    exactly_once: bool,
    /// A scan has listed the directory since the start or the last seek.
    scanned: bool,
    /// Exactly-once: the position of the last seek, for files a scan finds after it.
    resume: FilePositions,
}

/// Exactly-once: per file name, its inode and the offset after its last line emitted.
type FilePositions = BTreeMap<String, (u64, u64)>;

/// The inode of `path`, or 0 when it cannot be read.
fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or(0, |m| m.ino())
}

impl FileSpout {
    /// Reads the files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSpout {
            dir: dir.into(),
            field: "line".to_owned(),
            task_index: 0,
            task_count: 1,
            files: Vec::new(),
            reading: None,
            tracker: Tracker::default(),
            next_scan: Instant::now(),
            last_persist: Instant::now(),
            exactly_once: false,
            scanned: false,
            resume: FilePositions::new(),
        }
    }

    /// The name of the tuple's one field (default `line`).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.field = name.into();
        self
    }

    fn offset_path(&self, name: &str) -> PathBuf {
        self.dir.join(OFFSETS_DIR).join(format!("{name}.offset"))
    }

    /// Lists the directory and starts tracking this task's new files.
    fn scan(&mut self) -> Result<(), FileError> {
        self.next_scan = Instant::now() + SCAN_EVERY;
        self.scanned = true;
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| FileError::io(&self.dir, e))?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.') && !n.ends_with(DONE_SUFFIX))
            .filter(|n| owner(n, self.task_count) == self.task_index)
            .collect();
        names.sort();
        for f in &mut self.files {
            f.waiting = false;
        }
        for name in names {
            // A name seen before and finished is a new file that reuses it.
            if self.files.iter().any(|f| f.name == name && !f.finished) {
                continue;
            }
            let inode = inode(&self.dir.join(&name));
            let committed = self.start_offset(&name, inode);
            self.files.push(Tracked {
                name,
                inode,
                ledger: OffsetLedger::resume(committed),
                read_to: committed,
                emitted_to: committed,
                fully_read: false,
                waiting: false,
                dirty: false,
                finished: false,
            });
        }
        Ok(())
    }

    /// Where a file starts: in exactly-once mode its offset in the last seek's position (if it
    /// is the same file), else its offset on disk, else 0.
    fn start_offset(&self, name: &str, inode: u64) -> u64 {
        if let Some(&(_, offset)) = self.resume.get(name).filter(|(i, _)| *i == inode) {
            return offset;
        }
        std::fs::read_to_string(self.offset_path(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Reads up to [`READ_LINES`] more lines into the tracker.
    fn refill(&mut self) -> Result<(), FileError> {
        if self.reading.is_none() {
            // A file waiting for its last newline is read again after the next listing, not
            // on every call: re-reading it here kept every later file of the task waiting.
            let Some(idx) = self
                .files
                .iter()
                .position(|f| !f.finished && !f.fully_read && !f.waiting)
            else {
                return Ok(());
            };
            let path = self.dir.join(&self.files[idx].name);
            let opened = File::open(&path).and_then(|mut file| {
                file.seek(SeekFrom::Start(self.files[idx].read_to))?;
                Ok(file)
            });
            match opened {
                Ok(file) => self.reading = Some((idx, BufReader::new(file))),
                Err(e) => {
                    // Reported once; the other files go on. A file gone is forgotten (with its
                    // offset: a later file of that name is another file), and another error is
                    // tried again after the next listing.
                    if e.kind() == std::io::ErrorKind::NotFound {
                        self.files[idx].finished = true;
                        let _ = std::fs::remove_file(self.offset_path(&self.files[idx].name));
                    } else {
                        self.files[idx].waiting = true;
                    }
                    return Err(FileError::io(&path, e));
                }
            }
        }
        let Some((idx, reader)) = self.reading.as_mut() else {
            return Ok(());
        };
        let idx = *idx;
        let tracked = &mut self.files[idx];
        let mut fetched = Vec::new();
        let mut line = Vec::new();
        for _ in 0..READ_LINES {
            line.clear();
            let n = reader
                .by_ref()
                .take(MAX_LINE_BYTES)
                .read_until(b'\n', &mut line)
                .map_err(|e| FileError::io(&self.dir.join(&tracked.name), e))?;
            let complete = line.last() == Some(&b'\n') || n as u64 == MAX_LINE_BYTES;
            if n == 0 || !complete {
                // The end, or a last line still without its newline: read it again later.
                if n > 0 {
                    tracked.waiting = true;
                } else {
                    tracked.fully_read = true;
                }
                self.reading = None;
                break;
            }
            let start = tracked.read_to;
            let end = start + n as u64;
            tracked.read_to = end;
            tracked.ledger.emitted(start, end);
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let mut values = Values::with_capacity(1);
            values.push(String::from_utf8_lossy(text).into_owned());
            fetched.push(Fetched {
                position: (idx, start, end),
                values,
            });
        }
        self.tracker.fetched(fetched);
        Ok(())
    }

    /// Renames a file whose every line is done to `NAME.done`, removing its offset first: an
    /// offset left behind (the rename done, then a crash or a failed removal) would start a
    /// later file of the same name past its first bytes. A crash between the two reads the
    /// file again from its start: duplicates, never a loss.
    fn finish_file(&self, name: &str) -> Result<(), FileError> {
        let offset = self.offset_path(name);
        match std::fs::remove_file(&offset) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FileError::io(&offset, e)),
        }
        let from = self.dir.join(name);
        let to = self.dir.join(format!("{name}{DONE_SUFFIX}"));
        match std::fs::rename(&from, &to) {
            // Gone meanwhile: nothing left to rename (an error here every time would keep
            // the other files' offsets from being written).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %name, "a finished file was gone before it could be renamed");
                Ok(())
            }
            renamed => renamed.map_err(|e| FileError::io(&from, e)),
        }
    }

    /// Writes changed offsets, and renames files whose every line is done.
    fn housekeeping(&mut self, force: bool) -> Result<(), FileError> {
        if !force && self.last_persist.elapsed() < PERSIST_EVERY {
            return Ok(());
        }
        self.last_persist = Instant::now();
        let reading = self.reading.as_ref().map(|(i, _)| *i);
        // One file's error (a rename refused, a full disk) does not keep the others' offsets
        // from being written; the first is reported, and that file tried again next time.
        let mut first_error = None;
        for i in 0..self.files.len() {
            let (done, dirty) = {
                let f = &self.files[i];
                (
                    !f.finished
                        && f.fully_read
                        && f.ledger.outstanding() == 0
                        && reading != Some(i),
                    f.dirty,
                )
            };
            let name = self.files[i].name.clone();
            if done {
                match self.finish_file(&name) {
                    Ok(()) => {
                        self.files[i].finished = true;
                        self.files[i].dirty = false;
                        tracing::info!(file = %name, "file done");
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            } else if dirty && !self.files[i].finished {
                let committed = self.files[i].ledger.committed();
                let path = self.offset_path(&name);
                match write_atomically(&path, committed.to_string().as_bytes()) {
                    Ok(()) => self.files[i].dirty = false,
                    Err(e) => {
                        first_error.get_or_insert(FileError::io(&path, e));
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Which task reads a file: a stable hash of its name (FNV-1a), the same in every process.
fn owner(name: &str, tasks: usize) -> usize {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % tasks.max(1) as u64) as usize
}

impl Spout for FileSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        declarer.declare(Fields::new([self.field.as_str()]));
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.task_index = context.this_task_index();
        self.task_count = context
            .component_tasks(context.this_component_id())
            .len()
            .max(1);
        let offsets = self.dir.join(OFFSETS_DIR);
        std::fs::create_dir_all(&offsets).map_err(|e| FileError::io(&offsets, e))?;
        Ok(())
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.housekeeping(false)?;
        if self.tracker.wants_more() {
            if Instant::now() >= self.next_scan {
                self.scan()?;
            }
            self.refill()?;
        }
        if let Some((id, values)) = self.tracker.next_to_emit() {
            collector.emit_with_id(values, id)?;
        }
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        self.tracker.ack(msg_id);
        for (idx, start, _) in self.tracker.take_completed() {
            if let Some(f) = self.files.get_mut(idx)
                && f.ledger.acked(start)
            {
                f.dirty = true;
            }
        }
    }

    fn fail(&mut self, msg_id: MessageId) {
        self.tracker.fail(msg_id);
    }

    fn deactivate(&mut self) {
        if let Err(e) = self.housekeeping(true) {
            tracing::warn!(error = %e, "could not write file offsets");
        }
    }

    fn close(&mut self) {
        if let Err(e) = self.housekeeping(true) {
            tracing::warn!(error = %e, "could not write file offsets; lines after the last written offset are read again");
        }
    }
}

impl FileSpout {
    /// Exactly-once: emits the next line; its tree is not tracked (a checkpoint covers it).
    fn emit_next_once(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.tracker.is_drained() {
            if Instant::now() >= self.next_scan {
                self.scan()?;
            }
            self.refill()?;
        }
        let Some((id, values)) = self.tracker.next_to_emit() else {
            return Ok(());
        };
        let Some((idx, start, end)) = self.tracker.forget(id) else {
            return Ok(());
        };
        collector.emit_with_id(values, id)?;
        if let Some(f) = self.files.get_mut(idx) {
            f.emitted_to = end;
            // The ledger is for Storm's mode; keep it from growing.
            f.ledger.acked(start);
        }
        Ok(())
    }

    /// Exactly-once: `position` is committed: renames each file read to its end, every line
    /// of it emitted before that checkpoint, and writes the others' offsets (also of files
    /// not tracked yet, as long as the same file is there), going on past a file that fails.
    fn commit_position(&mut self, position: &FilePositions) -> Result<(), FileError> {
        let reading = self.reading.as_ref().map(|(i, _)| *i);
        let mut first_error = None;
        for (name, &(inode, offset)) in position {
            let tracked = self
                .files
                .iter()
                .position(|f| !f.finished && f.name == *name && f.inode == inode);
            let done = tracked.is_some_and(|i| {
                let f = &self.files[i];
                f.fully_read && f.read_to == offset && f.emitted_to == offset && reading != Some(i)
            });
            let result = if done {
                self.finish_file(name).map(|()| {
                    if let Some(i) = tracked {
                        self.files[i].finished = true;
                    }
                    tracing::info!(file = %name, "file done");
                })
            } else if self::inode(&self.dir.join(name)) == inode {
                let path = self.offset_path(name);
                write_atomically(&path, offset.to_string().as_bytes())
                    .map_err(|e| FileError::io(&path, e))
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::warn!(file = %name, error = %e, "could not record a committed file offset");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl ReplayableSpout for FileSpout {
    /// Per file this task reads: its inode, and the offset after its last line emitted.
    type Position = FilePositions;

    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        Spout::declare_outputs(self, declarer);
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        // In an at-least-once topology it is the plain spout: offsets advance per tree.
        self.exactly_once = squall_topology_api::state::exactly_once(context);
        Spout::open(self, context)
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.exactly_once {
            self.emit_next_once(collector)
        } else {
            Spout::next_tuple(self, collector)
        }
    }

    fn position(&self) -> FilePositions {
        self.files
            .iter()
            .filter(|f| !f.finished)
            .map(|f| (f.name.clone(), (f.inode, f.emitted_to)))
            .collect()
    }

    /// Every file goes back to its offset in `position`; a file not in it (or another file
    /// under that name) to its offset on disk, or the start. Files found later start there too.
    fn seek(&mut self, position: Option<&FilePositions>) -> Result<(), ComponentError> {
        self.resume = position.cloned().unwrap_or_default();
        self.reading = None;
        self.tracker = Tracker::default();
        self.scanned = false;
        for i in 0..self.files.len() {
            if self.files[i].finished {
                continue;
            }
            let offset = self.start_offset(&self.files[i].name, self.files[i].inode);
            let f = &mut self.files[i];
            f.read_to = offset;
            f.emitted_to = offset;
            f.ledger = OffsetLedger::resume(offset);
            f.fully_read = false;
            f.waiting = false;
        }
        Ok(())
    }

    fn committed(&mut self, position: &FilePositions) {
        // Each failure is logged; the checkpoint keeps the offsets for the next seek.
        let _ = self.commit_position(position);
    }

    fn ack(&mut self, msg_id: MessageId) {
        Spout::ack(self, msg_id);
    }

    fn fail(&mut self, msg_id: MessageId) {
        Spout::fail(self, msg_id);
    }

    fn deactivate(&mut self) {
        if !self.exactly_once {
            Spout::deactivate(self);
        }
    }

    fn close(&mut self) {
        if !self.exactly_once {
            Spout::close(self);
        }
    }

    /// Every file listed so far read to its end and every line emitted.
    fn is_exhausted(&self) -> bool {
        self.scanned
            && self.tracker.is_drained()
            && self
                .files
                .iter()
                .all(|f| f.finished || (f.fully_read && !f.waiting && f.emitted_to == f.read_to))
    }
}

/// The committed offset of `name` in `dir`, as the spout left it (for tools and tests).
pub fn committed_offset(dir: &Path, name: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(OFFSETS_DIR).join(format!("{name}.offset")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_shared_out_by_name_the_same_way_every_time() {
        let names: Vec<String> = (0..100).map(|i| format!("part-{i}.log")).collect();
        let owners: Vec<usize> = names.iter().map(|n| owner(n, 3)).collect();
        assert_eq!(
            owners,
            names.iter().map(|n| owner(n, 3)).collect::<Vec<_>>()
        );
        for task in 0..3 {
            assert!(owners.iter().filter(|o| **o == task).count() > 10);
        }
        assert_eq!(owner("x", 1), 0);
    }

    /// A spout in exactly-once mode over `dir`, as `open` leaves it.
    fn exactly_once_spout(dir: &Path) -> FileSpout {
        let mut spout = FileSpout::new(dir);
        spout.exactly_once = true;
        std::fs::create_dir_all(dir.join(OFFSETS_DIR)).unwrap();
        spout
    }

    #[test]
    fn a_restarted_spout_starts_each_file_at_the_checkpoint_not_at_an_older_offset_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "one\ntwo\nthree\n").unwrap();
        let mut spout = exactly_once_spout(dir.path());
        // The offset on disk lags the checkpoint (a crash before `committed` wrote it).
        std::fs::write(dir.path().join(OFFSETS_DIR).join("a.offset"), "0").unwrap();
        let ino = inode(&dir.path().join("a"));
        let position: FilePositions = [("a".to_owned(), (ino, 4))].into();
        // At start-up the seek comes before the directory was ever listed.
        ReplayableSpout::seek(&mut spout, Some(&position)).unwrap();
        spout.scan().unwrap();
        assert_eq!(spout.files[0].read_to, 4, "resumes after `one`");
        assert_eq!(ReplayableSpout::position(&spout), position);
        // Another file under the same name is not that file.
        let other: FilePositions = [("a".to_owned(), (ino + 1, 4))].into();
        let mut fresh = exactly_once_spout(dir.path());
        ReplayableSpout::seek(&mut fresh, Some(&other)).unwrap();
        fresh.scan().unwrap();
        assert_eq!(fresh.files[0].read_to, 0, "the offset on disk");
    }

    #[test]
    fn a_committed_position_is_written_even_for_files_not_read_yet_and_only_for_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "one\ntwo\n").unwrap();
        std::fs::write(dir.path().join("b"), "x\n").unwrap();
        let (a, b) = (inode(&dir.path().join("a")), inode(&dir.path().join("b")));
        let mut spout = exactly_once_spout(dir.path());
        let position: FilePositions =
            [("a".to_owned(), (a, 4)), ("b".to_owned(), (b + 1, 2))].into();
        ReplayableSpout::committed(&mut spout, &position);
        assert_eq!(committed_offset(dir.path(), "a"), Some(4));
        assert_eq!(
            committed_offset(dir.path(), "b"),
            None,
            "b is another file now"
        );
        assert!(
            dir.path().join("a").exists(),
            "not read to its end here: not renamed"
        );
    }

    /// A spout in at-least-once mode over `dir`, as `open` leaves it, with the directory listed.
    fn listed_spout(dir: &Path) -> FileSpout {
        let mut spout = FileSpout::new(dir);
        std::fs::create_dir_all(dir.join(OFFSETS_DIR)).unwrap();
        spout.scan().unwrap();
        spout
    }

    /// The lines read so far, in order.
    fn lines_read(spout: &mut FileSpout) -> Vec<String> {
        std::iter::from_fn(|| spout.tracker.next_to_emit())
            .map(|(_, values)| values[0].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn a_file_whose_last_line_lacks_its_newline_lets_the_other_files_go_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "one\ntwo").unwrap();
        std::fs::write(dir.path().join("b"), "x\ny\n").unwrap();
        let mut spout = listed_spout(dir.path());
        for _ in 0..10 {
            spout.refill().unwrap();
        }
        assert_eq!(lines_read(&mut spout), ["one", "x", "y"]);
        // Once its newline comes, the next listing reads it.
        std::fs::write(dir.path().join("a"), "one\ntwo\n").unwrap();
        spout.scan().unwrap();
        spout.refill().unwrap();
        assert_eq!(lines_read(&mut spout), ["two"]);
    }

    #[test]
    fn a_file_that_cannot_be_opened_lets_the_other_files_go_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "one\n").unwrap();
        std::fs::write(dir.path().join("b"), "x\n").unwrap();
        let mut spout = listed_spout(dir.path());
        // Deleted between the listing and the read.
        std::fs::remove_file(dir.path().join("a")).unwrap();
        let errors = (0..10).filter(|_| spout.refill().is_err()).count();
        assert_eq!(errors, 1, "reported once, not on every call");
        assert_eq!(lines_read(&mut spout), ["x"]);
        // And forgotten: the next listing does not report it again.
        spout.scan().unwrap();
        assert!((0..10).all(|_| spout.refill().is_ok()));
    }

    #[test]
    fn a_finished_file_is_renamed_only_once_its_offset_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "one\n").unwrap();
        let mut spout = listed_spout(dir.path());
        spout.refill().unwrap();
        let ids: Vec<MessageId> = std::iter::from_fn(|| spout.tracker.next_to_emit())
            .map(|(id, _)| id)
            .collect();
        ids.into_iter().for_each(|id| Spout::ack(&mut spout, id));
        spout.refill().unwrap();
        // An offset that cannot be removed (here a directory in its place): renaming the file
        // anyway left the offset to a later file of the same name, which then skipped its
        // first bytes.
        std::fs::create_dir_all(spout.offset_path("a").join("x")).unwrap();
        assert!(spout.housekeeping(true).is_err());
        assert!(dir.path().join("a").exists(), "not renamed");
        std::fs::remove_dir_all(spout.offset_path("a")).unwrap();
        spout.housekeeping(true).unwrap();
        assert!(dir.path().join("a.done").exists());
    }

    #[test]
    fn a_finished_file_that_cannot_be_renamed_does_not_keep_the_other_offsets_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "one\n").unwrap();
        std::fs::write(dir.path().join("b"), "x\ny\n").unwrap();
        let mut spout = listed_spout(dir.path());
        let mut emitted = Vec::new();
        for _ in 0..10 {
            spout.refill().unwrap();
            emitted.extend(std::iter::from_fn(|| spout.tracker.next_to_emit()));
        }
        let line = |id: &MessageId| {
            let (_, values) = emitted.iter().find(|(i, _)| i == id).unwrap();
            values[0].as_str().unwrap().to_owned()
        };
        // All of `a` done, and `b`'s first line: `b`'s offset moves to 2.
        let done: Vec<MessageId> = emitted
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| ["one", "x"].contains(&line(id).as_str()))
            .collect();
        assert_eq!(done.len(), 2);
        done.into_iter().for_each(|id| Spout::ack(&mut spout, id));
        // `a` cannot be renamed (a non-empty directory in the way of `a.done`).
        std::fs::create_dir_all(dir.path().join("a.done").join("x")).unwrap();
        assert!(spout.housekeeping(true).is_err());
        assert_eq!(
            std::fs::read_to_string(spout.offset_path("b"))
                .ok()
                .as_deref(),
            Some("2"),
            "b's offset was not written"
        );
    }
}
