//! Topology and component configuration, with Storm's key names.
//!
//! Values are JSON values so that a configuration travels unchanged from `squall submit --conf`
//! through Nimbus to every worker. Precedence (lowest first), as in Storm: runtime defaults,
//! the topology's config, a component's own [`component_config`](crate::Spout::component_config),
//! then what the builder sets on the component.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
pub use serde_json::Value as ConfigValue;

/// `topology.workers`: worker processes for the topology (default 1).
pub const TOPOLOGY_WORKERS: &str = "topology.workers";
/// `topology.acker.executors`: acker tasks; 0 turns tuple tracking off (default: one per worker).
pub const TOPOLOGY_ACKER_EXECUTORS: &str = "topology.acker.executors";
/// `topology.message.timeout.secs`: a tuple tree not completed in this time fails (default 30).
pub const TOPOLOGY_MESSAGE_TIMEOUT_SECS: &str = "topology.message.timeout.secs";
/// `topology.max.spout.pending`: most trees in flight per spout task (default unbounded).
pub const TOPOLOGY_MAX_SPOUT_PENDING: &str = "topology.max.spout.pending";
/// `topology.enable.message.timeouts`: whether trees time out at all (default true).
pub const TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS: &str = "topology.enable.message.timeouts";
/// `topology.tick.tuple.freq.secs`: send a tick tuple to each task this often (default none).
pub const TOPOLOGY_TICK_TUPLE_FREQ_SECS: &str = "topology.tick.tuple.freq.secs";
/// `topology.max.task.parallelism`: cap on each component's task count.
pub const TOPOLOGY_MAX_TASK_PARALLELISM: &str = "topology.max.task.parallelism";
/// `topology.debug`: log every emitted tuple.
pub const TOPOLOGY_DEBUG: &str = "topology.debug";
/// `topology.disable.loadaware.messaging`: true makes shuffle a plain round robin over every
/// task, even in a cluster where some of them share the emitter's worker.
pub const TOPOLOGY_DISABLE_LOADAWARE_MESSAGING: &str = "topology.disable.loadaware.messaging";
/// Mean input-queue fill of a shuffle's worker-local tasks above which it spreads to all
/// (Storm's default 0.8).
pub const TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND: &str = "topology.localityaware.higher.bound";
/// Fill below which a spread shuffle comes back to the local tasks (Storm's default 0.2).
pub const TOPOLOGY_LOCALITYAWARE_LOWER_BOUND: &str = "topology.localityaware.lower.bound";
/// The share of tuples whose execute and process latency bolts measure (default 0.05; 0 turns
/// latency sampling off).
pub const TOPOLOGY_STATS_SAMPLE_RATE: &str = "topology.stats.sample.rate";
/// `topology.producer.batch.size`: tuples buffered per destination before a hand-over.
pub const TOPOLOGY_PRODUCER_BATCH_SIZE: &str = "topology.producer.batch.size";
/// `topology.flush.tuple.freq.millis`: longest a partly filled batch waits under load.
pub const TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS: &str = "topology.flush.tuple.freq.millis";
/// `topology.executor.receive.buffer.size`: batches an executor's input queue holds.
pub const TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE: &str = "topology.executor.receive.buffer.size";

/// `topology.users`: users who may see, kill, rebalance, (de)activate the topology and read
/// its logs, besides its owner and `nimbus.admins`.
pub const TOPOLOGY_USERS: &str = "topology.users";
/// `topology.groups`: groups whose members may do what `topology.users` may.
pub const TOPOLOGY_GROUPS: &str = "topology.groups";

/// Keys a component may override for itself; Storm drops other `topology.*` keys found in a
/// component's configuration, and so do we.
pub const COMPONENT_OVERRIDABLE_KEYS: &[&str] = &[
    TOPOLOGY_DEBUG,
    TOPOLOGY_MAX_SPOUT_PENDING,
    TOPOLOGY_MAX_TASK_PARALLELISM,
    TOPOLOGY_TICK_TUPLE_FREQ_SECS,
];

/// A configuration map.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_MAX_SPOUT_PENDING, 1000);
/// assert_eq!(conf.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(1000));
/// assert_eq!(conf.get_u64(config::TOPOLOGY_WORKERS), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Config(BTreeMap<String, ConfigValue>);

impl Config {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key, replacing any earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<ConfigValue>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&ConfigValue> {
        self.0.get(key)
    }

    /// A non-negative integer value; `null` and values of other types read as absent.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(ConfigValue::as_u64)
    }

    /// A number value.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(ConfigValue::as_f64)
    }

    /// A boolean value.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(ConfigValue::as_bool)
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(ConfigValue::as_str)
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ConfigValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This configuration with `other`'s keys laid over it.
    pub fn merged(&self, other: &Config) -> Config {
        let mut out = self.clone();
        for (k, v) in &other.0 {
            out.0.insert(k.clone(), v.clone());
        }
        out
    }

    /// The keys of `self` that a component may set for itself: its own keys and the overridable
    /// `topology.*` keys.
    pub fn component_overrides(&self) -> Config {
        Config(
            self.0
                .iter()
                .filter(|(k, _)| {
                    !k.starts_with("topology.") || COMPONENT_OVERRIDABLE_KEYS.contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Sets `topology.workers`.
    pub fn set_num_workers(&mut self, n: u32) -> &mut Self {
        self.set(TOPOLOGY_WORKERS, n)
    }

    /// Sets `topology.acker.executors` (0 turns tracking off).
    pub fn set_num_ackers(&mut self, n: u32) -> &mut Self {
        self.set(TOPOLOGY_ACKER_EXECUTORS, n)
    }

    /// Sets `topology.message.timeout.secs`.
    pub fn set_message_timeout_secs(&mut self, secs: u64) -> &mut Self {
        self.set(TOPOLOGY_MESSAGE_TIMEOUT_SECS, secs)
    }

    /// Sets `topology.max.spout.pending`.
    pub fn set_max_spout_pending(&mut self, n: u64) -> &mut Self {
        self.set(TOPOLOGY_MAX_SPOUT_PENDING, n)
    }

    /// Sets `topology.debug`.
    pub fn set_debug(&mut self, on: bool) -> &mut Self {
        self.set(TOPOLOGY_DEBUG, on)
    }
}

/// Parses a `key=value` setting as given on a command line (`--conf`): the value is read as
/// JSON when it parses (numbers, booleans, lists), else taken as a string.
///
/// # Errors
/// When there is no `=`.
///
/// # Examples
/// ```
/// use squall_topology_api::config::{ConfigValue, parse_setting};
/// assert_eq!(parse_setting("topology.workers=2").unwrap(), ("topology.workers".into(), ConfigValue::from(2)));
/// assert_eq!(parse_setting("a.b=text").unwrap().1, ConfigValue::from("text"));
/// assert!(parse_setting("nope").is_err());
/// ```
pub fn parse_setting(s: &str) -> Result<(String, ConfigValue), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {s:?}"))?;
    let value = v
        .parse::<ConfigValue>()
        .unwrap_or_else(|_| ConfigValue::String(v.to_owned()));
    Ok((k.to_owned(), value))
}

impl<K: Into<String>, V: Into<ConfigValue>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Config(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_and_components_keep_only_overridable_keys() {
        let topo: Config = [(TOPOLOGY_WORKERS, 2), (TOPOLOGY_MAX_SPOUT_PENDING, 10)]
            .into_iter()
            .collect();
        let comp: Config = [
            (TOPOLOGY_WORKERS, ConfigValue::from(9)),
            (TOPOLOGY_MAX_SPOUT_PENDING, ConfigValue::from(5)),
            ("my.key", ConfigValue::from("x")),
        ]
        .into_iter()
        .collect();
        let merged = topo.merged(&comp.component_overrides());
        assert_eq!(merged.get_u64(TOPOLOGY_WORKERS), Some(2));
        assert_eq!(merged.get_u64(TOPOLOGY_MAX_SPOUT_PENDING), Some(5));
        assert_eq!(merged.get_str("my.key"), Some("x"));
    }
}

/// One `topology.*` key as the configuration reference documents it.
#[derive(Debug, Clone, Copy)]
pub struct KeyReference {
    /// The key.
    pub key: &'static str,
    /// Its value when not set, in words.
    pub default: &'static str,
    /// What it does.
    pub meaning: &'static str,
}

/// Every `topology.*` key Squall reads, with its default and meaning: the source of
/// `docs/configuration.md` (a test keeps the two, and this and the checked ranges of
/// [`limits::KNOWN_KEYS`](crate::limits::KNOWN_KEYS), in step).
///
/// # Examples
/// ```
/// use squall_topology_api::config::{REFERENCE, TOPOLOGY_WORKERS};
/// let workers = REFERENCE.iter().find(|k| k.key == TOPOLOGY_WORKERS).unwrap();
/// assert_eq!(workers.default, "1");
/// ```
pub const REFERENCE: &[KeyReference] = &[
    KeyReference {
        key: TOPOLOGY_WORKERS,
        default: "1",
        meaning: "Worker processes the topology asks for; `squall submit --workers N` sets it and `squall rebalance --workers N` changes it. Fewer run when the cluster lacks free slots (status shows `workers=assigned/requested`).",
    },
    KeyReference {
        key: TOPOLOGY_ACKER_EXECUTORS,
        default: "one per worker, fixed at submit",
        meaning: "Acker tasks, which track every tuple tree; 0 turns tracking off (spouts are acked on emit). Fixed at submit so a rebalance never renumbers tasks.",
    },
    KeyReference {
        key: TOPOLOGY_MESSAGE_TIMEOUT_SECS,
        default: "30",
        meaning: "Seconds a tuple tree may take before it fails back to its spout (swept several times a period: a tree fails between T and 1.125·T). Also the default `--wait` of kill and rebalance.",
    },
    KeyReference {
        key: TOPOLOGY_MAX_SPOUT_PENDING,
        default: "adaptive",
        meaning: "Most trees in flight per spout task. Unset, a tracked spout adapts its own bound (slow start, cut when trees near a quarter of the timeout) instead of Storm's unbounded.",
    },
    KeyReference {
        key: TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS,
        default: "true",
        meaning: "false: trees never time out (they complete or fail explicitly).",
    },
    KeyReference {
        key: TOPOLOGY_TICK_TUPLE_FREQ_SECS,
        default: "none",
        meaning: "Sends each bolt task a `__system`/`__tick` tuple this often; settable per component.",
    },
    KeyReference {
        key: TOPOLOGY_MAX_TASK_PARALLELISM,
        default: "none",
        meaning: "Caps every component's task (and executor) count; settable per component.",
    },
    KeyReference {
        key: TOPOLOGY_DEBUG,
        default: "false",
        meaning: "Logs every emitted tuple; settable per component.",
    },
    KeyReference {
        key: TOPOLOGY_DISABLE_LOADAWARE_MESSAGING,
        default: "false",
        meaning: "true makes shuffle a plain round robin over every task, even where some share the emitter's worker.",
    },
    KeyReference {
        key: TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND,
        default: "0.8",
        meaning: "Mean input-queue fill of a shuffle's worker-local tasks above which it spreads to every task.",
    },
    KeyReference {
        key: TOPOLOGY_LOCALITYAWARE_LOWER_BOUND,
        default: "0.2",
        meaning: "Fill below which a spread shuffle comes back to the worker-local tasks.",
    },
    KeyReference {
        key: TOPOLOGY_STATS_SAMPLE_RATE,
        default: "0.05",
        meaning: "Share of tuples whose execute and process latency bolts time; 0 turns sampling off. Spouts time every tree.",
    },
    KeyReference {
        key: TOPOLOGY_PRODUCER_BATCH_SIZE,
        default: "512",
        meaning: "Tuples buffered per destination executor before they are handed over as one batch.",
    },
    KeyReference {
        key: TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS,
        default: "1",
        meaning: "Longest a partly filled batch waits under load (an idle executor flushes at once).",
    },
    KeyReference {
        key: TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE,
        default: "64",
        meaning: "Batches an executor's input queue holds; a full queue backpressures its producers.",
    },
    KeyReference {
        key: TOPOLOGY_USERS,
        default: "[]",
        meaning: "Users who may see, kill, rebalance, (de)activate the topology and read its logs, besides its owner and `nimbus.admins`.",
    },
    KeyReference {
        key: TOPOLOGY_GROUPS,
        default: "[]",
        meaning: "Groups (from Nimbus's `squall.auth.groups`) whose members may do what `topology.users` may.",
    },
];
