//! Nimbus's durable state: topology records in a redb database (ACID, fsynced on commit) and
//! binaries as content-addressed files beside it, written to a temporary file and renamed into
//! place. Either a write happened completely or not at all, so `kill -9` at any instant leaves
//! a state Nimbus can restart from.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sha2::{Digest, Sha256};

use crate::topology::TopologyRecord;

const TOPOLOGIES: TableDefinition<&str, &[u8]> = TableDefinition::new("topologies");
const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
/// Each topology's saved metrics (`metrics::saved`), JSON.
const METRICS: TableDefinition<&str, &[u8]> = TableDefinition::new("metrics");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("state database: {0}")]
    Db(String),
    /// A file operation failed.
    #[error("state files: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record could not be read back.
    #[error("stored record {0:?} is unreadable: {1}")]
    Corrupt(String, serde_json::Error),
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// The store under a data directory.
pub struct Store {
    db: Database,
    binaries: PathBuf,
}

impl Store {
    /// Opens (or creates) the store in `data_dir`.
    ///
    /// # Errors
    /// When the directory or database cannot be created or opened.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let binaries = data_dir.join("binaries");
        std::fs::create_dir_all(&binaries)?;
        let db = Database::create(data_dir.join("nimbus.redb")).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(TOPOLOGIES).map_err(db_err)?;
        txn.open_table(COUNTERS).map_err(db_err)?;
        txn.open_table(METRICS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Store { db, binaries })
    }

    /// Every stored topology.
    ///
    /// # Errors
    /// When the database or a record cannot be read.
    pub fn load(&self) -> Result<Vec<TopologyRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TOPOLOGIES).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let record = serde_json::from_slice(v.value())
                .map_err(|e| StoreError::Corrupt(k.value().to_owned(), e))?;
            out.push(record);
        }
        Ok(out)
    }

    /// Writes a topology record (replacing the one with its id).
    ///
    /// # Errors
    /// When the write cannot be committed.
    pub fn put(&self, record: &TopologyRecord) -> Result<(), StoreError> {
        let json =
            serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(record.id.clone(), e))?;
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(TOPOLOGIES)
            .map_err(db_err)?
            .insert(record.id.as_str(), json.as_slice())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Deletes a topology record and its saved metrics.
    ///
    /// # Errors
    /// When the delete cannot be committed.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(TOPOLOGIES)
            .map_err(db_err)?
            .remove(id)
            .map_err(db_err)?;
        txn.open_table(METRICS)
            .map_err(db_err)?
            .remove(id)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Saves topologies' metrics (id, JSON) in one transaction; ids not in `keep` are dropped.
    ///
    /// # Errors
    /// When the write cannot be committed.
    pub fn put_metrics(
        &self,
        saved: &[(String, Vec<u8>)],
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(METRICS).map_err(db_err)?;
            let stale: Vec<String> = table
                .iter()
                .map_err(db_err)?
                .filter_map(Result::ok)
                .map(|(k, _)| k.value().to_owned())
                .filter(|k| !keep(k))
                .collect();
            for id in stale {
                table.remove(id.as_str()).map_err(db_err)?;
            }
            for (id, json) in saved.iter().filter(|(id, _)| keep(id)) {
                table.insert(id.as_str(), json.as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Every topology's saved metrics (id, JSON).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn load_metrics(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(METRICS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The next value of a persistent counter (1, 2, ...).
    ///
    /// # Errors
    /// When the update cannot be committed.
    pub fn next(&self, counter: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let next = {
            let mut table = txn.open_table(COUNTERS).map_err(db_err)?;
            let next = table
                .get(counter)
                .map_err(db_err)?
                .map_or(1, |v| v.value() + 1);
            table.insert(counter, next).map_err(db_err)?;
            next
        };
        txn.commit().map_err(db_err)?;
        Ok(next)
    }

    /// Where a binary with this hash is (or would be) stored.
    pub fn binary_path(&self, sha256: &str) -> PathBuf {
        self.binaries.join(sha256)
    }

    /// Starts writing an uploaded binary.
    ///
    /// # Errors
    /// When the temporary file cannot be created.
    pub fn begin_binary(&self) -> Result<BinaryUpload, StoreError> {
        let n = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tmp = self.binaries.join(format!(".upload-{n}-{nanos}"));
        Ok(BinaryUpload {
            file: File::create(&tmp)?,
            tmp,
            hasher: Sha256::new(),
            size: 0,
        })
    }
}

/// A binary being uploaded: written to a temporary file and hashed as it arrives.
pub struct BinaryUpload {
    file: File,
    tmp: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl BinaryUpload {
    /// Appends a chunk.
    ///
    /// # Errors
    /// When the write fails.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hex SHA-256 of what was received.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Flushes what was received to disk: the slow part of [`commit`](Self::commit) (an fsync
    /// of the whole binary), done before taking the state lock so that commit is quick.
    ///
    /// # Errors
    /// When syncing fails.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_all()?;
        Ok(())
    }

    /// Makes the binary durable under its hash.
    ///
    /// # Errors
    /// When syncing or renaming fails.
    pub fn commit(self, store: &Store) -> Result<String, StoreError> {
        let sha = self.sha256();
        self.file.sync_all()?;
        std::fs::rename(&self.tmp, store.binary_path(&sha))?;
        File::open(&store.binaries)?.sync_all()?;
        Ok(sha)
    }

    /// Throws the upload away.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}
