//! Where a task's state is kept: a [`StateBackend`] opens one [`StateStore`] per namespace
//! (Storm: one per task, `<component>-<task>`), holding committed key/value bytes and at most
//! one prepared change set. The two-step protocol is what makes a checkpoint atomic over many
//! tasks: every task prepares txid n durably, and only when all have does any commit it.

use std::fmt;
use std::sync::Arc;

/// One key's change since the last checkpoint: its new value, or `None` when deleted.
///
/// # Examples
/// ```
/// use squall_topology_api::state::Change;
/// let put: Change = (b"storm".to_vec(), Some(b"3".to_vec()));
/// let delete: Change = (b"flink".to_vec(), None);
/// assert!(put.1.is_some() && delete.1.is_none());
/// ```
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// What a store holds when it is opened.
///
/// # Examples
/// ```
/// use squall_topology_api::state::{MemoryBackend, StateBackend};
/// let mut store = MemoryBackend::new().open("readme", "count-2").unwrap();
/// let loaded = store.load().unwrap();
/// assert_eq!(loaded.committed_txid, None);
/// assert!(loaded.entries.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The last txid committed, if any.
    pub committed_txid: Option<i64>,
    /// The committed entries.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A state store failed: the backend is unreachable, refused a write, or holds damaged data.
///
/// # Examples
/// ```
/// use squall_topology_api::state::StateError;
/// let e = StateError::new("redis://10.0.0.9:6379 refused the connection");
/// assert_eq!(e.to_string(), "state backend: redis://10.0.0.9:6379 refused the connection");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateError(String);

impl StateError {
    /// An error with a message.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::StateError;
    /// assert!(StateError::new("disk full").to_string().ends_with("disk full"));
    /// ```
    pub fn new(message: impl fmt::Display) -> Self {
        StateError(message.to_string())
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state backend: {}", self.0)
    }
}

impl std::error::Error for StateError {}

/// One namespace's durable state.
///
/// # Examples
/// ```
/// use squall_topology_api::state::{MemoryBackend, StateBackend};
/// let mut store = MemoryBackend::new().open("docs", "count-3").unwrap();
/// store.prepare(0, &[(b"a".to_vec(), Some(b"1".to_vec()))]).unwrap();
/// assert!(store.load().unwrap().entries.is_empty(), "prepared is not committed");
/// store.commit(0).unwrap();
/// let loaded = store.load().unwrap();
/// assert_eq!(loaded.committed_txid, Some(0));
/// assert_eq!(loaded.entries, [(b"a".to_vec(), b"1".to_vec())]);
/// ```
pub trait StateStore: Send {
    /// The committed state.
    fn load(&mut self) -> Result<Loaded, StateError>;
    /// Durably sets `changes` aside as txid `txid`'s, replacing any earlier prepared set.
    fn prepare(&mut self, txid: i64, changes: &[Change]) -> Result<(), StateError>;
    /// Applies the set prepared as `txid`, if there is one, and records `txid` as committed.
    /// Committing a txid already committed does nothing, so a repeated COMMIT is safe.
    fn commit(&mut self, txid: i64) -> Result<(), StateError>;
    /// Drops the prepared set.
    fn rollback(&mut self) -> Result<(), StateError>;
}

/// Opens state stores: Storm's `topology.state.provider`.
///
/// `topology` is the topology's name (not its id), so state outlives a resubmission;
/// `namespace` is unique within the topology.
///
/// # Examples
/// ```
/// use squall_topology_api::state::{MemoryBackend, StateBackend};
/// let backend = MemoryBackend::new();
/// let mut a = backend.open("t", "count-2").unwrap();
/// a.prepare(0, &[(b"k".to_vec(), Some(b"v".to_vec()))]).unwrap();
/// a.commit(0).unwrap();
/// // The same namespace opened again (a restarted task) sees what was committed.
/// let mut b = backend.open("t", "count-2").unwrap();
/// assert_eq!(b.load().unwrap().entries.len(), 1);
/// ```
pub trait StateBackend: Send + Sync + 'static {
    /// Opens (creating if needed) one namespace's store.
    fn open(&self, topology: &str, namespace: &str) -> Result<Box<dyn StateStore>, StateError>;
}

/// A shared backend, as the builder hands it to every stateful task.
///
/// # Examples
/// ```
/// use squall_topology_api::state::{MemoryBackend, SharedBackend};
/// use std::sync::Arc;
/// let shared: SharedBackend = Arc::new(MemoryBackend::new());
/// assert!(shared.open("t", "n").is_ok());
/// ```
pub type SharedBackend = Arc<dyn StateBackend>;
