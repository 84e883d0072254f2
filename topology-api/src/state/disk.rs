//! The on-disk backend: one embedded redb database per namespace under a directory, for a
//! single machine (or a directory every host shares). redb commits are crash-safe, so state
//! survives `kill -9` of the worker and of the machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backon::{BlockingRetryable, ExponentialBuilder};
use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};

use super::store::{Change, Loaded, StateBackend, StateError, StateStore};

/// Committed entries.
const COMMITTED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("committed");
/// The prepared change set: the value's first byte is 1 for a put, 0 for a delete.
const PREPARED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("prepared");
/// `committed_txid` and `prepared_txid`.
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

/// How long `open` waits for a namespace that another process still holds: the worker that
/// ran the task before a restart or rebalance, on its way out.
const OPEN_PATIENCE: Duration = Duration::from_secs(30);

/// Keeps each namespace in `<dir>/<topology>/<namespace>.redb`.
///
/// # Examples
/// ```
/// use squall_topology_api::state::{DiskBackend, StateBackend};
/// let dir = std::env::temp_dir().join(format!("squall-doc-{}", std::process::id()));
/// let backend = DiskBackend::new(&dir);
/// {
///     let mut store = backend.open("wordcount", "count-2").unwrap();
///     store.prepare(0, &[(b"storm".to_vec(), Some(b"1".to_vec()))]).unwrap();
///     store.commit(0).unwrap();
/// }
/// // A new process (here: a new handle) finds it on disk.
/// let mut again = backend.open("wordcount", "count-2").unwrap();
/// assert_eq!(again.load().unwrap().entries.len(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DiskBackend {
    dir: PathBuf,
}

impl DiskBackend {
    /// A backend keeping its files under `dir` (created when needed).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::DiskBackend;
    /// let backend = DiskBackend::new("/var/lib/squall/state");
    /// assert_eq!(backend.dir(), std::path::Path::new("/var/lib/squall/state"));
    /// ```
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskBackend { dir: dir.into() }
    }

    /// The directory holding the files.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::DiskBackend;
    /// assert!(DiskBackend::new("state").dir().ends_with("state"));
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A name safe as one path segment: letters, digits, `-`, `_` and `$` kept, the rest as `%XX`.
fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn err(path: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::new(format!("{}: {e}", path.display()))
}

impl StateBackend for DiskBackend {
    fn open(&self, topology: &str, namespace: &str) -> Result<Box<dyn StateStore>, StateError> {
        let dir = self.dir.join(file_name(topology));
        std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        let path = dir.join(format!("{}.redb", file_name(namespace)));
        let db = (|| Database::create(&path))
            .retry(
                ExponentialBuilder::default()
                    .with_max_delay(Duration::from_secs(2))
                    .with_total_delay(Some(OPEN_PATIENCE))
                    .without_max_times(),
            )
            .when(|e| matches!(e, DatabaseError::DatabaseAlreadyOpen))
            .call()
            .map_err(|e| err(&path, e))?;
        let store = DiskStore { db, path };
        store.write(|txn| {
            txn.open_table(COMMITTED)?;
            txn.open_table(PREPARED)?;
            txn.open_table(META)?;
            Ok(())
        })?;
        Ok(Box::new(store))
    }
}

struct DiskStore {
    db: Database,
    path: PathBuf,
}

impl DiskStore {
    fn write(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    ) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(|e| err(&self.path, e))?;
        f(&txn).map_err(|e| err(&self.path, e))?;
        txn.commit().map_err(|e| err(&self.path, e))
    }
}

impl StateStore for DiskStore {
    fn load(&mut self) -> Result<Loaded, StateError> {
        let read = || -> Result<Loaded, redb::Error> {
            let txn = self.db.begin_read()?;
            let committed_txid = txn
                .open_table(META)?
                .get("committed_txid")?
                .map(|v| v.value());
            let mut entries = Vec::new();
            for row in txn.open_table(COMMITTED)?.iter()? {
                let (k, v) = row?;
                entries.push((k.value().to_vec(), v.value().to_vec()));
            }
            Ok(Loaded {
                committed_txid,
                entries,
            })
        };
        read().map_err(|e| err(&self.path, e))
    }

    fn prepare(&mut self, txid: i64, changes: &[Change]) -> Result<(), StateError> {
        self.write(|txn| {
            let mut prepared = txn.open_table(PREPARED)?;
            prepared.retain(|_, _| false)?;
            let mut value = Vec::new();
            for (key, change) in changes {
                value.clear();
                match change {
                    Some(v) => {
                        value.push(1);
                        value.extend_from_slice(v);
                    }
                    None => value.push(0),
                }
                prepared.insert(key.as_slice(), value.as_slice())?;
            }
            txn.open_table(META)?.insert("prepared_txid", txid)?;
            Ok(())
        })
    }

    fn commit(&mut self, txid: i64) -> Result<(), StateError> {
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let prepared_txid = meta.get("prepared_txid")?.map(|v| v.value());
            if prepared_txid == Some(txid) {
                let mut prepared = txn.open_table(PREPARED)?;
                let mut committed = txn.open_table(COMMITTED)?;
                for row in prepared.iter()? {
                    let (k, v) = row?;
                    match v.value().split_first() {
                        Some((1, value)) => {
                            committed.insert(k.value(), value)?;
                        }
                        _ => {
                            committed.remove(k.value())?;
                        }
                    }
                }
                prepared.retain(|_, _| false)?;
                meta.remove("prepared_txid")?;
            }
            let last = meta.get("committed_txid")?.map(|v| v.value());
            meta.insert("committed_txid", last.map_or(txid, |t| t.max(txid)))?;
            Ok(())
        })
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        self.write(|txn| {
            txn.open_table(PREPARED)?.retain(|_, _| false)?;
            txn.open_table(META)?.remove("prepared_txid")?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_single_safe_path_segments() {
        assert_eq!(file_name("$checkpointspout-1"), "$checkpointspout-1");
        assert_eq!(file_name("../etc/x"), "%2E%2E%2Fetc%2Fx");
    }

    #[test]
    fn prepared_changes_survive_reopening_and_commit_applies_puts_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let backend = DiskBackend::new(dir.path());
        {
            let mut s = backend.open("t", "c-1").unwrap();
            s.prepare(
                0,
                &[
                    (b"a".to_vec(), Some(b"1".to_vec())),
                    (b"b".to_vec(), Some(b"2".to_vec())),
                ],
            )
            .unwrap();
            s.commit(0).unwrap();
            s.prepare(
                1,
                &[(b"a".to_vec(), None), (b"c".to_vec(), Some(b"3".to_vec()))],
            )
            .unwrap();
        } // the process dies between PREPARE and COMMIT
        let mut s = backend.open("t", "c-1").unwrap();
        assert_eq!(s.load().unwrap().committed_txid, Some(0));
        s.commit(1).unwrap(); // recovery finishes the commit
        let loaded = s.load().unwrap();
        assert_eq!(loaded.committed_txid, Some(1));
        assert_eq!(
            loaded.entries,
            [
                (b"b".to_vec(), b"2".to_vec()),
                (b"c".to_vec(), b"3".to_vec())
            ]
        );
        s.prepare(2, &[(b"b".to_vec(), None)]).unwrap();
        s.rollback().unwrap();
        s.commit(2).unwrap();
        assert_eq!(
            s.load().unwrap().entries.len(),
            2,
            "a rolled-back set is never applied"
        );
    }
}
