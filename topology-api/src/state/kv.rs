//! A task's key/value state (Storm's `KeyValueState`): the whole map in memory for reads and
//! writes at memory speed, the keys changed since the last checkpoint remembered so a
//! checkpoint writes only those.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map;
use std::hash::Hash;

use rustc_hash::{FxBuildHasher, FxHashSet};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::{Change, StateError, StateStore};

/// What a key or a value of state must be: serialisable (as JSON) to reach the backend.
///
/// # Examples
/// ```
/// use squall_topology_api::state::StateData;
/// fn takes<T: StateData>() {}
/// takes::<String>();
/// takes::<(String, u64)>();
/// ```
pub trait StateData: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> StateData for T {}

/// A task's key/value state, given to a stateful bolt's callbacks.
///
/// # Examples
/// ```
/// use squall_topology_api::state::KeyValueState;
/// let mut counts: KeyValueState<String, u64> = KeyValueState::detached();
/// *counts.entry("storm".into()).or_insert(0) += 1;
/// counts.put("flink".into(), 5);
/// assert_eq!(counts.get("storm"), Some(&1));
/// assert_eq!(counts.get_or(&"spark".to_owned(), &0), &0);
/// assert_eq!(counts.delete(&"flink".to_owned()), Some(5));
/// assert_eq!(counts.len(), 1);
/// ```
pub struct KeyValueState<K, V> {
    entries: HashMap<K, V, FxBuildHasher>,
    changed: FxHashSet<K>,
    store: Option<Box<dyn StateStore>>,
}

impl<K, V> KeyValueState<K, V>
where
    K: StateData + Eq + Hash + Clone,
    V: StateData,
{
    /// A state backed by nothing: for tests of a bolt's logic.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let state: KeyValueState<String, i64> = KeyValueState::detached();
    /// assert!(state.is_empty());
    /// ```
    pub fn detached() -> Self {
        KeyValueState {
            entries: HashMap::default(),
            changed: FxHashSet::default(),
            store: None,
        }
    }

    /// The state committed in `store`.
    pub(crate) fn load(mut store: Box<dyn StateStore>) -> Result<Self, StateError> {
        let mut state = KeyValueState::detached();
        state.reload_from(&mut *store)?;
        state.store = Some(store);
        Ok(state)
    }

    fn reload_from(&mut self, store: &mut dyn StateStore) -> Result<(), StateError> {
        let loaded = store.load()?;
        self.entries.clear();
        self.changed.clear();
        for (k, v) in loaded.entries {
            let key: K = serde_json::from_slice(&k)
                .map_err(|e| StateError::new(format!("a stored key does not decode: {e}")))?;
            let value: V = serde_json::from_slice(&v)
                .map_err(|e| StateError::new(format!("a stored value does not decode: {e}")))?;
            self.entries.insert(key, value);
        }
        Ok(())
    }

    /// The value of `key`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<String, u64> = KeyValueState::detached();
    /// s.put("a".into(), 1);
    /// assert_eq!(s.get("a"), Some(&1));
    /// assert_eq!(s.get("b"), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    /// The value of `key`, to change in place; it is part of the next checkpoint. Takes a
    /// borrowed key (`&str` for `String` keys), so a hit costs no allocation.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<String, u64> = KeyValueState::detached();
    /// s.put("storm".into(), 1);
    /// if let Some(n) = s.get_mut("storm") {
    ///     *n += 1;
    /// }
    /// assert_eq!(s.get("storm"), Some(&2));
    /// assert!(s.get_mut("flink").is_none());
    /// ```
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + ToOwned<Owned = K>,
    {
        let value = self.entries.get_mut(key)?;
        if !self.changed.contains(key) {
            self.changed.insert(key.to_owned());
        }
        Some(value)
    }

    /// The value of `key`, or `default`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let s: KeyValueState<String, u64> = KeyValueState::detached();
    /// assert_eq!(*s.get_or(&"a".to_owned(), &0), 0);
    /// ```
    pub fn get_or<'a, Q>(&'a self, key: &Q, default: &'a V) -> &'a V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key).unwrap_or(default)
    }

    /// Sets `key` to `value`, returning the old value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<String, u64> = KeyValueState::detached();
    /// assert_eq!(s.put("a".into(), 1), None);
    /// assert_eq!(s.put("a".into(), 2), Some(1));
    /// ```
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        self.mark(&key);
        self.entries.insert(key, value)
    }

    /// Remembers `key` as changed since the last checkpoint (cloning it only the first time).
    fn mark(&mut self, key: &K) {
        if !self.changed.contains(key) {
            self.changed.insert(key.clone());
        }
    }

    /// Removes `key`, returning its value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<String, u64> = KeyValueState::detached();
    /// s.put("a".into(), 1);
    /// assert_eq!(s.delete(&"a".to_owned()), Some(1));
    /// assert!(s.is_empty());
    /// ```
    pub fn delete(&mut self, key: &K) -> Option<V> {
        let old = self.entries.remove(key);
        if old.is_some() {
            self.changed.insert(key.clone());
        }
        old
    }

    /// The entry of `key`, to read and change in place.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<String, u64> = KeyValueState::detached();
    /// *s.entry("a".into()).or_insert(0) += 2;
    /// *s.entry("a".into()).or_insert(0) += 2;
    /// assert_eq!(s.get("a"), Some(&4));
    /// ```
    pub fn entry(&mut self, key: K) -> hash_map::Entry<'_, K, V> {
        self.mark(&key);
        self.entries.entry(key)
    }

    /// Every entry, in no particular order.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<String, u64> = KeyValueState::detached();
    /// s.put("a".into(), 1);
    /// s.put("b".into(), 2);
    /// assert_eq!(s.iter().map(|(_, v)| v).sum::<u64>(), 3);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter()
    }

    /// How many keys are set.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// let mut s: KeyValueState<u32, u32> = KeyValueState::detached();
    /// s.put(1, 1);
    /// assert_eq!(s.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is set.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::state::KeyValueState;
    /// assert!(KeyValueState::<u32, u32>::detached().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the changes since the last prepare aside as `txid`'s.
    pub(crate) fn prepare_commit(&mut self, txid: i64) -> Result<(), StateError> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let mut changes: Vec<Change> = Vec::with_capacity(self.changed.len());
        for key in &self.changed {
            let k = serde_json::to_vec(key)
                .map_err(|e| StateError::new(format!("a key does not encode: {e}")))?;
            let v = match self.entries.get(key) {
                Some(v) => Some(
                    serde_json::to_vec(v)
                        .map_err(|e| StateError::new(format!("a value does not encode: {e}")))?,
                ),
                None => None,
            };
            changes.push((k, v));
        }
        store.prepare(txid, &changes)?;
        self.changed.clear();
        Ok(())
    }

    pub(crate) fn commit(&mut self, txid: i64) -> Result<(), StateError> {
        match self.store.as_mut() {
            Some(store) => store.commit(txid),
            None => Ok(()),
        }
    }

    /// Drops the prepared changes and every change since, back to the committed state.
    pub(crate) fn rollback(&mut self) -> Result<(), StateError> {
        let Some(mut store) = self.store.take() else {
            return Ok(());
        };
        let result = store
            .rollback()
            .and_then(|()| self.reload_from(&mut *store));
        self.store = Some(store);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::super::memory::MemoryBackend;
    use super::super::store::StateBackend;
    use super::*;

    fn open(backend: &MemoryBackend) -> KeyValueState<String, u64> {
        KeyValueState::load(backend.open("t", "count-1").unwrap()).unwrap()
    }

    #[test]
    fn only_committed_changes_survive_a_reload() {
        let backend = MemoryBackend::new();
        let mut s = open(&backend);
        s.put("a".into(), 1);
        s.put("b".into(), 2);
        s.prepare_commit(0).unwrap();
        s.commit(0).unwrap();
        s.put("a".into(), 10);
        s.delete(&"b".to_owned());
        s.prepare_commit(1).unwrap();
        s.put("c".into(), 3); // after the prepare: not part of txid 1
        s.commit(1).unwrap();
        let again = open(&backend);
        assert_eq!(again.get("a"), Some(&10));
        assert_eq!(again.get("b"), None);
        assert_eq!(again.get("c"), None);
    }

    #[test]
    fn a_rollback_returns_to_the_committed_state() {
        let backend = MemoryBackend::new();
        let mut s = open(&backend);
        s.put("a".into(), 1);
        s.prepare_commit(0).unwrap();
        s.commit(0).unwrap();
        *s.entry("a".into()).or_insert(0) += 5;
        s.prepare_commit(1).unwrap();
        *s.entry("a".into()).or_insert(0) += 5;
        s.rollback().unwrap();
        assert_eq!(s.get("a"), Some(&1));
        assert!(s.changed.is_empty());
    }
}
