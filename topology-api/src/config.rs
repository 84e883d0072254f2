//! Topology and component configuration, with Storm's key names.
//!
//! Values are JSON values so that a configuration travels unchanged from `squall submit --conf`
//! through Nimbus to every worker. Precedence (lowest first), as in Storm: runtime defaults,
//! the topology's config, a component's own [`component_config`](crate::Spout::component_config),
//! then what the builder sets on the component.
//!
//! # Examples
//! ```
//! use squall_topology_api::{config, Config};
//! // A topology's configuration; `squall submit --conf key=value` settings parse the same way.
//! let mut conf = Config::new();
//! conf.set_num_workers(2).set(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, 60);
//! let (key, value) = config::parse_setting("topology.max.spout.pending=500").unwrap();
//! conf.set(key, value);
//! // A component's own setting wins over the topology's, for that component.
//! let mut own = Config::new();
//! own.set_max_spout_pending(10);
//! let effective = conf.merged(&own.component_overrides());
//! assert_eq!(effective.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(10));
//! assert_eq!(effective.get_u64(config::TOPOLOGY_WORKERS), Some(2));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
pub use serde_json::Value as ConfigValue;

/// `topology.workers`: worker processes for the topology (default 1).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_WORKERS, "topology.workers");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_WORKERS, 4); // the same as `conf.set_num_workers(4)`
/// assert_eq!(conf.get_u64(config::TOPOLOGY_WORKERS), Some(4));
/// conf.set(config::TOPOLOGY_WORKERS, 0);
/// assert!(limits::check_config(&conf).is_err()); // at least 1
/// ```
pub const TOPOLOGY_WORKERS: &str = "topology.workers";
/// `topology.acker.executors`: acker tasks; 0 turns tuple tracking off (default: one per worker).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// use squall_topology_api::acker_count;
/// assert_eq!(config::TOPOLOGY_ACKER_EXECUTORS, "topology.acker.executors");
/// let mut conf = Config::new();
/// conf.set_num_workers(3);
/// assert_eq!(acker_count(&conf), 3); // one per worker when unset
/// conf.set(config::TOPOLOGY_ACKER_EXECUTORS, 0); // no tracking: spouts are acked on emit
/// assert_eq!(acker_count(&conf), 0);
/// assert!(limits::check_config(&conf).is_ok());
/// ```
pub const TOPOLOGY_ACKER_EXECUTORS: &str = "topology.acker.executors";
/// `topology.message.timeout.secs`: a tuple tree not completed in this time fails (default 30).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, "topology.message.timeout.secs");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, 60);
/// assert_eq!(conf.get_f64(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS), Some(60.0));
/// conf.set(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, 0.5); // fractions are allowed (tests use them)
/// assert!(limits::check_config(&conf).is_ok());
/// ```
pub const TOPOLOGY_MESSAGE_TIMEOUT_SECS: &str = "topology.message.timeout.secs";
/// `topology.max.spout.pending`: most trees in flight per spout task (default: adaptive, see [`REFERENCE`]).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_MAX_SPOUT_PENDING, "topology.max.spout.pending");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_MAX_SPOUT_PENDING, 1000);
/// assert_eq!(conf.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(1000));
/// conf.set(config::TOPOLOGY_MAX_SPOUT_PENDING, 0);
/// assert!(limits::check_config(&conf).is_err()); // at least 1
/// ```
pub const TOPOLOGY_MAX_SPOUT_PENDING: &str = "topology.max.spout.pending";
/// `topology.enable.message.timeouts`: whether trees time out at all (default true).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS, "topology.enable.message.timeouts");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS, false);
/// assert_eq!(conf.get_bool(config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS), Some(false));
/// conf.set(config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS, "no");
/// assert!(limits::check_config(&conf).is_err()); // a boolean, not a string
/// ```
pub const TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS: &str = "topology.enable.message.timeouts";
/// `topology.tick.tuple.freq.secs`: send a tick tuple to each task this often (default none).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, "topology.tick.tuple.freq.secs");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, 10); // ticks every 10 s for every bolt
/// assert_eq!(conf.get_u64(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS), Some(10));
/// // It is one of the keys a single component may set for itself.
/// assert!(config::COMPONENT_OVERRIDABLE_KEYS.contains(&config::TOPOLOGY_TICK_TUPLE_FREQ_SECS));
/// ```
pub const TOPOLOGY_TICK_TUPLE_FREQ_SECS: &str = "topology.tick.tuple.freq.secs";
/// `topology.max.task.parallelism`: cap on each component's task count.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// use squall_topology_api::cap_parallelism;
/// assert_eq!(config::TOPOLOGY_MAX_TASK_PARALLELISM, "topology.max.task.parallelism");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_MAX_TASK_PARALLELISM, 4);
/// assert_eq!(cap_parallelism(&conf, 16), 4);
/// ```
pub const TOPOLOGY_MAX_TASK_PARALLELISM: &str = "topology.max.task.parallelism";
/// `topology.debug`: log every emitted tuple.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_DEBUG, "topology.debug");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_DEBUG, true); // the same as `conf.set_debug(true)`
/// assert_eq!(conf.get_bool(config::TOPOLOGY_DEBUG), Some(true));
/// assert!(limits::check_config(&conf).is_ok());
/// ```
pub const TOPOLOGY_DEBUG: &str = "topology.debug";
/// `topology.disable.loadaware.messaging`: true makes shuffle a plain round robin over every
/// task, even in a cluster where some of them share the emitter's worker.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_DISABLE_LOADAWARE_MESSAGING, "topology.disable.loadaware.messaging");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_DISABLE_LOADAWARE_MESSAGING, true);
/// assert_eq!(conf.get_bool(config::TOPOLOGY_DISABLE_LOADAWARE_MESSAGING), Some(true));
/// assert!(limits::check_config(&conf).is_ok());
/// ```
pub const TOPOLOGY_DISABLE_LOADAWARE_MESSAGING: &str = "topology.disable.loadaware.messaging";
/// Mean input-queue fill of a shuffle's worker-local tasks above which it spreads to all
/// (Storm's default 0.8).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND, "topology.localityaware.higher.bound");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND, 0.9);
/// assert_eq!(conf.get_f64(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND), Some(0.9));
/// assert!(limits::check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND, 1.5);
/// assert!(limits::check_config(&conf).is_err()); // a fraction
/// ```
pub const TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND: &str = "topology.localityaware.higher.bound";
/// Fill below which a spread shuffle comes back to the local tasks (Storm's default 0.2).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_LOCALITYAWARE_LOWER_BOUND, "topology.localityaware.lower.bound");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_LOCALITYAWARE_LOWER_BOUND, 0.3);
/// assert!(limits::check_config(&conf).is_ok());
/// // It must not exceed the higher bound.
/// conf.set(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND, 0.2);
/// assert!(limits::check_config(&conf).is_err());
/// ```
pub const TOPOLOGY_LOCALITYAWARE_LOWER_BOUND: &str = "topology.localityaware.lower.bound";
/// The share of tuples whose execute and process latency bolts measure (default 0.05; 0 turns
/// latency sampling off).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_STATS_SAMPLE_RATE, "topology.stats.sample.rate");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_STATS_SAMPLE_RATE, 0.0); // no latency sampling
/// assert_eq!(conf.get_f64(config::TOPOLOGY_STATS_SAMPLE_RATE), Some(0.0));
/// conf.set(config::TOPOLOGY_STATS_SAMPLE_RATE, 1.5);
/// assert!(limits::check_config(&conf).is_err()); // a share, from 0 to 1
/// ```
pub const TOPOLOGY_STATS_SAMPLE_RATE: &str = "topology.stats.sample.rate";
/// Threads that run a process's executors (Squall's own key): 0, the default, means one per
/// core of the machine, but never more than the process has executors. Executors are tasks on
/// these threads, not threads of their own, so a hop between executors of one process is a
/// queue push, not a thread wake-up.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_EXECUTOR_THREADS, "topology.executor.threads");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_EXECUTOR_THREADS, 1); // every executor on one thread
/// assert!(limits::check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_EXECUTOR_THREADS, limits::MAX_EXECUTOR_THREADS + 1);
/// assert!(limits::check_config(&conf).is_err());
/// ```
pub const TOPOLOGY_EXECUTOR_THREADS: &str = "topology.executor.threads";
/// `topology.producer.batch.size`: tuples buffered per destination before a hand-over.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_PRODUCER_BATCH_SIZE, "topology.producer.batch.size");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_PRODUCER_BATCH_SIZE, 64); // smaller batches: lower latency
/// assert!(limits::check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_PRODUCER_BATCH_SIZE, limits::MAX_BATCH_SIZE + 1);
/// assert!(limits::check_config(&conf).is_err());
/// ```
pub const TOPOLOGY_PRODUCER_BATCH_SIZE: &str = "topology.producer.batch.size";
/// `topology.flush.tuple.freq.millis`: longest a partly filled batch waits under load.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS, "topology.flush.tuple.freq.millis");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS, 5);
/// assert_eq!(conf.get_u64(config::TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS), Some(5));
/// assert!(limits::check_config(&conf).is_ok());
/// ```
pub const TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS: &str = "topology.flush.tuple.freq.millis";
/// `topology.executor.receive.buffer.size`: batches an executor's input queue holds.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE, "topology.executor.receive.buffer.size");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE, 128);
/// assert!(limits::check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE, 0);
/// assert!(limits::check_config(&conf).is_err()); // at least 1
/// ```
pub const TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE: &str = "topology.executor.receive.buffer.size";

/// `topology.subprocess.timeout.secs`: a shell component's process silent this long is
/// killed and restarted, its pending tuples failed (default 30).
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, config::TOPOLOGY_SUBPROCESS_TIMEOUT_SECS};
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_SUBPROCESS_TIMEOUT_SECS, 10);
/// assert_eq!(conf.get_u64("topology.subprocess.timeout.secs"), Some(10));
/// ```
pub const TOPOLOGY_SUBPROCESS_TIMEOUT_SECS: &str = "topology.subprocess.timeout.secs";
/// `topology.shellbolt.max.pending`: inputs waiting to be written to a shell bolt's process
/// before `execute` waits for it to read (default 100).
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, config::TOPOLOGY_SHELLBOLT_MAX_PENDING};
/// let mut conf = Config::new();
/// conf.set(TOPOLOGY_SHELLBOLT_MAX_PENDING, 10);
/// assert_eq!(conf.get_u64("topology.shellbolt.max.pending"), Some(10));
/// ```
pub const TOPOLOGY_SHELLBOLT_MAX_PENDING: &str = "topology.shellbolt.max.pending";

/// `topology.users`: users who may see, kill, rebalance, (de)activate the topology and read
/// its logs, besides its owner and `nimbus.admins`.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_USERS, "topology.users");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_USERS, vec!["alice", "bob"]);
/// assert!(limits::check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_USERS, "alice");
/// assert!(limits::check_config(&conf).is_err()); // a list, even of one name
/// ```
pub const TOPOLOGY_USERS: &str = "topology.users";
/// `topology.groups`: groups whose members may do what `topology.users` may.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits, Config};
/// assert_eq!(config::TOPOLOGY_GROUPS, "topology.groups");
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_GROUPS, vec!["ops"]);
/// let groups = conf.get(config::TOPOLOGY_GROUPS).and_then(|v| v.as_array()).unwrap();
/// assert_eq!(groups[0], "ops");
/// assert!(limits::check_config(&conf).is_ok());
/// ```
pub const TOPOLOGY_GROUPS: &str = "topology.groups";

/// Keys a component may override for itself; Storm drops other `topology.*` keys found in a
/// component's configuration, and so do we.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, Config};
/// assert!(config::COMPONENT_OVERRIDABLE_KEYS.contains(&config::TOPOLOGY_MAX_SPOUT_PENDING));
/// assert!(!config::COMPONENT_OVERRIDABLE_KEYS.contains(&config::TOPOLOGY_WORKERS));
///
/// let mut own = Config::new();
/// own.set(config::TOPOLOGY_MAX_SPOUT_PENDING, 10).set(config::TOPOLOGY_WORKERS, 8);
/// let kept = own.component_overrides();
/// assert_eq!(kept.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(10));
/// assert_eq!(kept.get_u64(config::TOPOLOGY_WORKERS), None);
/// ```
pub const COMPONENT_OVERRIDABLE_KEYS: &[&str] = &[
    TOPOLOGY_DEBUG,
    TOPOLOGY_MAX_SPOUT_PENDING,
    TOPOLOGY_MAX_TASK_PARALLELISM,
    TOPOLOGY_TICK_TUPLE_FREQ_SECS,
    // A windowed bolt's own windows (see `crate::window`).
    crate::window::WINDOW_LENGTH_COUNT,
    crate::window::WINDOW_LENGTH_DURATION_MS,
    crate::window::WINDOW_SLIDING_INTERVAL_COUNT,
    crate::window::WINDOW_SLIDING_INTERVAL_DURATION_MS,
    crate::window::TUPLE_TIMESTAMP_FIELD_NAME,
    crate::window::TUPLE_TIMESTAMP_MAX_LAG_MS,
    crate::window::WATERMARK_EVENT_INTERVAL_MS,
    crate::window::LATE_TUPLE_STREAM,
    crate::window::WINDOW_SESSION_GAP_MS,
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
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Config;
    /// let conf = Config::new();
    /// assert!(conf.is_empty());
    /// assert_eq!(conf, Config::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key, replacing any earlier value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut conf = Config::new();
    /// conf.set(config::TOPOLOGY_WORKERS, 2)
    ///     .set("db.url", "postgres://localhost/app")
    ///     .set(config::TOPOLOGY_WORKERS, 3); // replaces 2
    /// assert_eq!(conf.get_u64(config::TOPOLOGY_WORKERS), Some(3));
    /// assert_eq!(conf.get_str("db.url"), Some("postgres://localhost/app"));
    /// ```
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<ConfigValue>) -> &mut Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The raw value of a key.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Config, ConfigValue};
    /// let mut conf = Config::new();
    /// conf.set("hosts", vec!["a", "b"]);
    /// assert_eq!(conf.get("hosts"), Some(&ConfigValue::from(vec!["a", "b"])));
    /// assert_eq!(conf.get("hosts").and_then(|v| v.as_array()).map(|a| a.len()), Some(2));
    /// assert_eq!(conf.get("missing"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&ConfigValue> {
        self.0.get(key)
    }

    /// A non-negative integer value; `null` and values of other types read as absent.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{Config, ConfigValue};
    /// let mut conf = Config::new();
    /// conf.set("a", 5).set("b", -1).set("c", "5").set("d", ConfigValue::Null);
    /// assert_eq!(conf.get_u64("a"), Some(5));
    /// assert_eq!(conf.get_u64("b"), None); // negative
    /// assert_eq!(conf.get_u64("c"), None); // a string
    /// assert_eq!(conf.get_u64("d"), None); // null
    /// ```
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.0.get(key).and_then(ConfigValue::as_u64)
    }

    /// A number value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Config;
    /// let mut conf = Config::new();
    /// conf.set("rate", 0.25).set("secs", 30);
    /// assert_eq!(conf.get_f64("rate"), Some(0.25));
    /// assert_eq!(conf.get_f64("secs"), Some(30.0)); // integers widen
    /// ```
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(ConfigValue::as_f64)
    }

    /// A boolean value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut conf = Config::new();
    /// conf.set_debug(true).set("flag", "true");
    /// assert_eq!(conf.get_bool(config::TOPOLOGY_DEBUG), Some(true));
    /// assert_eq!(conf.get_bool("flag"), None); // a string, not a boolean
    /// ```
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(ConfigValue::as_bool)
    }

    /// A string value.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Config;
    /// let mut conf = Config::new();
    /// conf.set("db.url", "postgres://localhost/app").set("db.pool", 4);
    /// assert_eq!(conf.get_str("db.url"), Some("postgres://localhost/app"));
    /// assert_eq!(conf.get_str("db.pool"), None);
    /// ```
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(ConfigValue::as_str)
    }

    /// Every key and value, in key order.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Config;
    /// let mut conf = Config::new();
    /// conf.set("b.key", 2).set("a.key", 1);
    /// let keys: Vec<&str> = conf.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["a.key", "b.key"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ConfigValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether no key is set.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::Config;
    /// let mut conf = Config::new();
    /// assert!(conf.is_empty());
    /// conf.set_num_workers(2);
    /// assert!(!conf.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This configuration with `other`'s keys laid over it.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut topology_conf = Config::new();
    /// topology_conf.set_num_workers(2).set_max_spout_pending(100);
    /// let mut component_conf = Config::new();
    /// component_conf.set_max_spout_pending(10);
    /// let effective = topology_conf.merged(&component_conf);
    /// assert_eq!(effective.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(10)); // `other` wins
    /// assert_eq!(effective.get_u64(config::TOPOLOGY_WORKERS), Some(2));
    /// ```
    pub fn merged(&self, other: &Config) -> Config {
        let mut out = self.clone();
        for (k, v) in &other.0 {
            out.0.insert(k.clone(), v.clone());
        }
        out
    }

    /// The keys of `self` that a component may set for itself: its own keys and the overridable
    /// `topology.*` keys.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut own = Config::new();
    /// own.set_debug(true).set_num_workers(8).set("cache.size", 100);
    /// let kept = own.component_overrides();
    /// assert_eq!(kept.get_bool(config::TOPOLOGY_DEBUG), Some(true));
    /// assert_eq!(kept.get_u64("cache.size"), Some(100)); // not a `topology.*` key: kept
    /// assert_eq!(kept.get_u64(config::TOPOLOGY_WORKERS), None); // topology-wide only: dropped
    /// ```
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
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut conf = Config::new();
    /// conf.set_num_workers(4);
    /// assert_eq!(conf.get_u64(config::TOPOLOGY_WORKERS), Some(4));
    /// ```
    pub fn set_num_workers(&mut self, n: u32) -> &mut Self {
        self.set(TOPOLOGY_WORKERS, n)
    }

    /// Sets `topology.acker.executors` (0 turns tracking off).
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{acker_count, config, Config};
    /// let mut conf = Config::new();
    /// conf.set_num_ackers(0);
    /// assert_eq!(conf.get_u64(config::TOPOLOGY_ACKER_EXECUTORS), Some(0));
    /// assert_eq!(acker_count(&conf), 0);
    /// ```
    pub fn set_num_ackers(&mut self, n: u32) -> &mut Self {
        self.set(TOPOLOGY_ACKER_EXECUTORS, n)
    }

    /// Sets `topology.message.timeout.secs`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut conf = Config::new();
    /// conf.set_message_timeout_secs(120);
    /// assert_eq!(conf.get_u64(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS), Some(120));
    /// ```
    pub fn set_message_timeout_secs(&mut self, secs: u64) -> &mut Self {
        self.set(TOPOLOGY_MESSAGE_TIMEOUT_SECS, secs)
    }

    /// Sets `topology.max.spout.pending`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut conf = Config::new();
    /// conf.set_max_spout_pending(5000);
    /// assert_eq!(conf.get_u64(config::TOPOLOGY_MAX_SPOUT_PENDING), Some(5000));
    /// ```
    pub fn set_max_spout_pending(&mut self, n: u64) -> &mut Self {
        self.set(TOPOLOGY_MAX_SPOUT_PENDING, n)
    }

    /// Sets `topology.debug`.
    ///
    /// # Examples
    /// ```
    /// use squall_topology_api::{config, Config};
    /// let mut conf = Config::new();
    /// conf.set_debug(true);
    /// assert_eq!(conf.get_bool(config::TOPOLOGY_DEBUG), Some(true));
    /// ```
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
///
/// # Examples
/// ```
/// use squall_topology_api::config::{KeyReference, REFERENCE, TOPOLOGY_MESSAGE_TIMEOUT_SECS};
/// let timeout: &KeyReference = REFERENCE.iter().find(|k| k.key == TOPOLOGY_MESSAGE_TIMEOUT_SECS).unwrap();
/// assert_eq!(timeout.default, "30");
/// assert!(!timeout.meaning.is_empty());
/// // One line of a generated reference table:
/// let row = format!("| `{}` | {} | {} |", timeout.key, timeout.default, timeout.meaning);
/// assert!(row.starts_with("| `topology.message.timeout.secs` | 30 |"));
/// ```
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
        key: TOPOLOGY_EXECUTOR_THREADS,
        default: "0",
        meaning: "Threads that run a worker's executors; 0 means one per core, at most one per executor.",
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
        key: TOPOLOGY_SUBPROCESS_TIMEOUT_SECS,
        default: "30",
        meaning: "A shell component's process silent this long is killed and restarted; its pending tuples are failed so they replay.",
    },
    KeyReference {
        key: TOPOLOGY_SHELLBOLT_MAX_PENDING,
        default: "100",
        meaning: "Inputs waiting to be written to a shell bolt's process before `execute` waits for it to read: a slow script backpressures like a slow bolt.",
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
    KeyReference {
        key: crate::state::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS,
        default: "1000",
        meaning: "How often a topology with stateful bolts checkpoints their state; their inputs are acked when the checkpoint after them commits, so keep `topology.message.timeout.secs` well above it.",
    },
    KeyReference {
        key: crate::state::TOPOLOGY_STATE_PROVIDER,
        default: "memory",
        meaning: "Where stateful bolts keep their state: `memory` (lost with the worker), `disk` (a redb file per task under `dir`), or a backend the topology registered with `TopologyBuilder::state_backend`. Storm's provider class names are understood.",
    },
    KeyReference {
        key: crate::state::TOPOLOGY_STATE_PROVIDER_CONFIG,
        default: "{}",
        meaning: "The backend's settings, as a map or a JSON string: `disk` needs `{\"dir\": \"/absolute/path\"}`.",
    },
    KeyReference {
        key: crate::state::TOPOLOGY_STATE_GUARANTEE,
        default: "at_least_once",
        meaning: "`at_least_once` (Storm's): after a failure stateful bolts go back to their last checkpoint and the inputs since are replayed, so some count twice. `exactly_once`: checkpoints travel with the data as barriers and replayable spouts rewind with the state, so each input counts once; every spout must be replayable.",
    },
];
