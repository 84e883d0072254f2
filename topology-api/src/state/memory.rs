//! The in-memory backend (Storm's `InMemoryKeyValueStateProvider`, its default): state lives
//! as long as the process. Right for tests and local mode; on a cluster a task's state is
//! lost with its worker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use super::store::{Change, Loaded, StateBackend, StateError, StateStore};

#[derive(Debug, Default)]
struct Namespace {
    committed_txid: Option<i64>,
    committed: BTreeMap<Vec<u8>, Vec<u8>>,
    prepared: Option<(i64, Vec<Change>)>,
}

/// Every namespace by (topology, namespace).
type Namespaces = FxHashMap<(String, String), Arc<Mutex<Namespace>>>;

/// Keeps every namespace in this process's memory.
///
/// # Examples
/// ```
/// use squall_topology_api::state::{MemoryBackend, StateBackend};
/// let backend = MemoryBackend::new();
/// let mut store = backend.open("wordcount", "count-2").unwrap();
/// store.prepare(4, &[(b"storm".to_vec(), Some(b"2".to_vec()))]).unwrap();
/// store.rollback().unwrap();
/// store.commit(4).unwrap(); // nothing prepared any more: only the txid is recorded
/// assert!(store.load().unwrap().entries.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    namespaces: Arc<Mutex<Namespaces>>,
}

impl MemoryBackend {
    /// An empty backend.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::{MemoryBackend, StateBackend};
    /// let mut store = MemoryBackend::new().open("t", "n").unwrap();
    /// assert_eq!(store.load().unwrap().committed_txid, None);
    /// ```
    pub fn new() -> Self {
        MemoryBackend::default()
    }
}

impl StateBackend for MemoryBackend {
    fn open(&self, topology: &str, namespace: &str) -> Result<Box<dyn StateStore>, StateError> {
        let mut all = self
            .namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ns = all
            .entry((topology.to_owned(), namespace.to_owned()))
            .or_default();
        Ok(Box::new(MemoryStore(Arc::clone(ns))))
    }
}

struct MemoryStore(Arc<Mutex<Namespace>>);

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Namespace) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl StateStore for MemoryStore {
    fn load(&mut self) -> Result<Loaded, StateError> {
        Ok(self.with(|ns| Loaded {
            committed_txid: ns.committed_txid,
            entries: ns
                .committed
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }))
    }

    fn prepare(&mut self, txid: i64, changes: &[Change]) -> Result<(), StateError> {
        self.with(|ns| ns.prepared = Some((txid, changes.to_vec())));
        Ok(())
    }

    fn commit(&mut self, txid: i64) -> Result<(), StateError> {
        self.with(|ns| {
            if let Some((prepared, changes)) = ns.prepared.take() {
                if prepared == txid {
                    for (key, value) in changes {
                        match value {
                            Some(v) => ns.committed.insert(key, v),
                            None => ns.committed.remove(&key),
                        };
                    }
                } else {
                    ns.prepared = Some((prepared, changes));
                }
            }
            ns.committed_txid = Some(ns.committed_txid.map_or(txid, |t| t.max(txid)));
        });
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        self.with(|ns| ns.prepared = None);
        Ok(())
    }
}
