//! Choosing a task's backend from the topology's configuration, as Storm does with
//! `topology.state.provider` and `topology.state.provider.config`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{Config, ConfigValue};

use super::disk::DiskBackend;
use super::memory::MemoryBackend;
use super::store::{SharedBackend, StateError};

/// `topology.state.provider`: `memory` (the default), `disk`, or a name the topology
/// registered with [`TopologyBuilder::state_backend`](crate::TopologyBuilder::state_backend).
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, state::TOPOLOGY_STATE_PROVIDER};
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_STATE_PROVIDER, "disk");
/// ```
pub const TOPOLOGY_STATE_PROVIDER: &str = "topology.state.provider";

/// `topology.state.provider.config`: the backend's settings, as a map or (Storm's form) a
/// JSON string. `disk` reads `dir`, the directory every stateful task's file goes under.
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, state::TOPOLOGY_STATE_PROVIDER_CONFIG};
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_STATE_PROVIDER_CONFIG, r#"{"dir": "/var/lib/squall/state"}"#);
/// ```
pub const TOPOLOGY_STATE_PROVIDER_CONFIG: &str = "topology.state.provider.config";

/// Makes a backend from `topology.state.provider.config` (a JSON object; `{}` when unset).
///
/// # Examples
/// ```
/// use squall_topology_api::state::{BackendFactory, MemoryBackend, SharedBackend};
/// use std::sync::Arc;
/// let factory: BackendFactory = Arc::new(|_config| Ok(Arc::new(MemoryBackend::new()) as SharedBackend));
/// assert!(factory(&serde_json::json!({})).is_ok());
/// ```
pub type BackendFactory =
    Arc<dyn Fn(&serde_json::Value) -> Result<SharedBackend, StateError> + Send + Sync>;

/// Storm's provider class names, taken as the matching backend.
const STORM_NAMES: &[(&str, &str)] = &[
    (
        "org.apache.storm.state.InMemoryKeyValueStateProvider",
        "memory",
    ),
    (
        "org.apache.storm.redis.state.RedisKeyValueStateProvider",
        "redis",
    ),
];

/// The backends a topology can name: the built-in ones and those it registered.
#[derive(Clone)]
pub(crate) struct Providers {
    factories: BTreeMap<String, BackendFactory>,
}

impl Default for Providers {
    fn default() -> Self {
        // One in-memory backend per process, shared by every task the process runs.
        let memory: SharedBackend = Arc::new(MemoryBackend::new());
        let mut factories: BTreeMap<String, BackendFactory> = BTreeMap::new();
        factories.insert("memory".into(), Arc::new(move |_| Ok(Arc::clone(&memory))));
        factories.insert(
            "disk".into(),
            Arc::new(|config| {
                let dir = config.get("dir").and_then(|d| d.as_str()).ok_or_else(|| {
                    StateError::new(format!(
                        "the disk backend needs a directory: set {TOPOLOGY_STATE_PROVIDER_CONFIG} to {{\"dir\": \"/absolute/path\"}}"
                    ))
                })?;
                Ok(Arc::new(DiskBackend::new(dir)) as SharedBackend)
            }),
        );
        Providers { factories }
    }
}

impl Providers {
    pub(crate) fn register(&mut self, name: &str, factory: BackendFactory) {
        self.factories.insert(name.to_owned(), factory);
    }

    /// The backend `conf` names.
    pub(crate) fn resolve(&self, conf: &Config) -> Result<SharedBackend, StateError> {
        let asked = conf.get_str(TOPOLOGY_STATE_PROVIDER).unwrap_or("memory");
        let name = STORM_NAMES
            .iter()
            .find(|(storm, _)| *storm == asked)
            .map_or(asked, |(_, ours)| ours);
        let factory = self.factories.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.factories.keys().map(String::as_str).collect();
            StateError::new(format!(
                "{TOPOLOGY_STATE_PROVIDER} {asked:?} is not a backend this topology knows (known: {}); register it with TopologyBuilder::state_backend",
                known.join(", ")
            ))
        })?;
        let config = match conf.get(TOPOLOGY_STATE_PROVIDER_CONFIG) {
            None => ConfigValue::Object(Default::default()),
            Some(ConfigValue::String(json)) => serde_json::from_str(json).map_err(|e| {
                StateError::new(format!("{TOPOLOGY_STATE_PROVIDER_CONFIG} is not JSON: {e}"))
            })?,
            Some(other) => other.clone(),
        };
        factory(&config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_the_default_and_is_shared_by_every_task() {
        let providers = Providers::default();
        let a = providers.resolve(&Config::new()).unwrap();
        let b = providers.resolve(&Config::new()).unwrap();
        let mut store = a.open("t", "n").unwrap();
        store
            .prepare(0, &[(b"k".to_vec(), Some(b"1".to_vec()))])
            .unwrap();
        store.commit(0).unwrap();
        assert_eq!(b.open("t", "n").unwrap().load().unwrap().entries.len(), 1);
    }

    #[test]
    fn storm_class_names_and_json_string_configs_are_understood() {
        let providers = Providers::default();
        let mut conf = Config::new();
        conf.set(
            TOPOLOGY_STATE_PROVIDER,
            "org.apache.storm.state.InMemoryKeyValueStateProvider",
        );
        assert!(providers.resolve(&conf).is_ok());
        conf.set(TOPOLOGY_STATE_PROVIDER, "disk");
        conf.set(TOPOLOGY_STATE_PROVIDER_CONFIG, r#"{"dir": "/tmp/x"}"#);
        assert!(providers.resolve(&conf).is_ok());
    }

    #[test]
    fn a_misconfigured_backend_is_one_line_with_the_fix() {
        let providers = Providers::default();
        let mut conf = Config::new();
        conf.set(TOPOLOGY_STATE_PROVIDER, "disk");
        let e = providers.resolve(&conf).err().unwrap().to_string();
        assert!(
            e.contains(r#"set topology.state.provider.config to {"dir": "/absolute/path"}"#),
            "{e}"
        );
        conf.set(TOPOLOGY_STATE_PROVIDER, "hbase");
        let e = providers.resolve(&conf).err().unwrap().to_string();
        assert!(e.contains("(known: disk, memory)"), "{e}");
        assert!(!e.contains('\n'));
    }
}
