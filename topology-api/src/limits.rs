//! What a topology may ask for: the bounds on its size and names, and the type and range of
//! every `topology.*` setting the runtime reads.
//!
//! Nimbus checks a submission against these before it stores anything, and `squall submit`
//! checks the same before it uploads, so a value that would make Nimbus allocate without bound,
//! make a worker panic, or be silently replaced by a default is refused with one error that
//! names the key and the value. Keys this table does not know are left alone.
//!
//! # Examples
//! ```
//! use squall_topology_api::{limits, Config};
//! let mut conf = Config::new();
//! conf.set("topology.workers", 100_000).set("my.own.key", "anything"); // unknown keys pass
//! let err = limits::check_config(&conf).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid value 100000 for topology.workers: expected an integer from 1 to 1024"
//! );
//! assert!(limits::check_topology_name("wordcount").is_ok());
//! ```

use std::fmt;

use crate::{Config, ConfigValue, TopologySpec, acker_count, cap_parallelism, config};

/// Most worker processes of one topology. Each is a process with its own gRPC server and a
/// connection to every other, so thousands of them are already a mistake; beyond this bound
/// placement and the all-to-all transport stop being cheap.
///
/// # Examples
/// ```
/// use squall_topology_api::{limits::{check_config, MAX_WORKERS}, Config};
/// let mut conf = Config::new();
/// conf.set_num_workers(MAX_WORKERS);
/// assert!(check_config(&conf).is_ok());
/// conf.set_num_workers(MAX_WORKERS + 1);
/// assert!(check_config(&conf).is_err());
/// ```
pub const MAX_WORKERS: u32 = 1024;
/// Most acker executors: one per worker is Storm's default, and a few per worker is the most
/// that ever helps.
///
/// # Examples
/// ```
/// use squall_topology_api::{limits::{check_config, MAX_ACKER_EXECUTORS}, Config};
/// let mut conf = Config::new();
/// conf.set_num_ackers(MAX_ACKER_EXECUTORS + 1);
/// let err = check_config(&conf).unwrap_err();
/// assert_eq!(err.key, "topology.acker.executors");
/// ```
pub const MAX_ACKER_EXECUTORS: u32 = 1024;
/// Most tasks of one component. Every task is an instance in some worker's memory.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// use squall_topology_api::limits::MAX_TASKS_PER_COMPONENT;
/// let mut b = TopologyBuilder::new();
/// b.set_spout("words", || Source("word"), 1).num_tasks(MAX_TASKS_PER_COMPONENT + 1);
/// let err = b.build().unwrap_err();
/// assert_eq!(
///     err.problems(),
///     [TopologyProblem::TooManyTasks { component: "words".into(), tasks: MAX_TASKS_PER_COMPONENT + 1 }]
/// );
/// ```
pub const MAX_TASKS_PER_COMPONENT: u32 = 10_000;
/// Most tasks of a whole topology, ackers included: task ids, executors and placement grow
/// with it, and every worker holds the whole layout.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// use squall_topology_api::limits::{check_config_for, total_tasks, Refused, MAX_TOTAL_TASKS};
/// let mut b = TopologyBuilder::new();
/// b.set_spout("a", || Source("x"), 1).num_tasks(10_000);
/// b.set_spout("b", || Source("x"), 1).num_tasks(10_000);
/// let topology = b.build().unwrap(); // each component is within its own bound
/// let conf = Config::new();
/// assert!(total_tasks(topology.spec(), &conf) > MAX_TOTAL_TASKS); // 20,000 plus an acker
/// assert_eq!(
///     check_config_for(topology.spec(), &conf),
///     Err(Refused::TooManyTasks { tasks: 20_001 })
/// );
/// ```
pub const MAX_TOTAL_TASKS: u64 = 20_000;
/// Most components (spouts and bolts) of a topology. Each runs at least one executor,
/// and validation and placement walk the graph; 5,000 keeps both well under a second.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::limits::MAX_COMPONENTS;
/// let one = ComponentSpec {
///     id: String::new(),
///     kind: ComponentKind::Spout,
///     parallelism: 1,
///     tasks: 1,
///     outputs: vec![],
///     inputs: vec![],
///     config: Config::new(),
/// };
/// let spec = TopologySpec {
///     resources: None,
///     components: (0..=MAX_COMPONENTS).map(|i| ComponentSpec { id: format!("s{i}"), ..one.clone() }).collect(),
/// };
/// let err = spec.validate().unwrap_err();
/// assert_eq!(err.problems(), [TopologyProblem::TooManyComponents(MAX_COMPONENTS + 1)]);
/// ```
pub const MAX_COMPONENTS: usize = 5_000;
/// Longest topology name, in bytes. A name becomes part of the topology id
/// (`<name>-<counter>-<unix secs>`, up to 32 bytes more) and of worker log file names
/// (`<id>-<port>.log.1`), which must fit the usual 255-byte file name limit with room to spare.
///
/// # Examples
/// ```
/// use squall_topology_api::limits::{check_topology_name, MAX_TOPOLOGY_NAME_BYTES};
/// assert!(check_topology_name(&"w".repeat(MAX_TOPOLOGY_NAME_BYTES)).is_ok());
/// assert!(check_topology_name(&"w".repeat(MAX_TOPOLOGY_NAME_BYTES + 1)).is_err());
/// ```
pub const MAX_TOPOLOGY_NAME_BYTES: usize = 128;
/// Longest component or stream id, in bytes: ids show up in metric labels, URLs and logs.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// use squall_topology_api::limits::MAX_ID_BYTES;
/// let mut b = TopologyBuilder::new();
/// b.set_spout(&"s".repeat(MAX_ID_BYTES + 1), || Source("x"), 1);
/// let err = b.build().unwrap_err();
/// assert!(matches!(err.problems()[0], TopologyProblem::IdTooLong { bytes: 257, .. }));
/// ```
pub const MAX_ID_BYTES: usize = 256;
/// Longest `topology.message.timeout.secs` and `topology.tick.tuple.freq.secs`: one day. A tree
/// pending longer is a leak, not a slow tree, and larger values overflow clocks.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, MAX_INTERVAL_SECS}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, MAX_INTERVAL_SECS);
/// assert!(check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_MESSAGE_TIMEOUT_SECS, MAX_INTERVAL_SECS * 2.0);
/// assert!(check_config(&conf).is_err());
/// ```
pub const MAX_INTERVAL_SECS: f64 = 86_400.0;
/// Shortest `topology.message.timeout.secs` and `topology.tick.tuple.freq.secs`: a
/// millisecond. Storm takes whole seconds; fractions serve tests, but a zero-length interval
/// would make a tick loop or a timeout wheel spin.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, MIN_INTERVAL_SECS}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, MIN_INTERVAL_SECS);
/// assert!(check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, 0);
/// assert!(check_config(&conf).is_err());
/// ```
pub const MIN_INTERVAL_SECS: f64 = 0.001;
/// The most threads `topology.executor.threads` may ask for.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, MAX_EXECUTOR_THREADS}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_EXECUTOR_THREADS, MAX_EXECUTOR_THREADS);
/// assert!(check_config(&conf).is_ok());
/// ```
pub const MAX_EXECUTOR_THREADS: u64 = 1024;
/// Largest `topology.producer.batch.size` (tuples per hand-over).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, MAX_BATCH_SIZE}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_PRODUCER_BATCH_SIZE, MAX_BATCH_SIZE);
/// assert!(check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_PRODUCER_BATCH_SIZE, MAX_BATCH_SIZE + 1);
/// assert!(check_config(&conf).is_err());
/// ```
pub const MAX_BATCH_SIZE: u64 = 1 << 16;
/// Largest `topology.executor.receive.buffer.size` (batches per input queue).
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, MAX_RECEIVE_BATCHES}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE, MAX_RECEIVE_BATCHES + 1);
/// assert!(check_config(&conf).is_err());
/// ```
pub const MAX_RECEIVE_BATCHES: u64 = 1 << 20;
/// Longest `topology.flush.tuple.freq.millis`: a minute; a batch waiting longer is lost
/// latency, not throughput.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, MAX_FLUSH_MILLIS}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS, MAX_FLUSH_MILLIS);
/// assert!(check_config(&conf).is_ok());
/// conf.set(config::TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS, MAX_FLUSH_MILLIS + 1);
/// assert!(check_config(&conf).is_err());
/// ```
pub const MAX_FLUSH_MILLIS: u64 = 60_000;

/// The type and range a setting must have.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{Expect, KNOWN_KEYS}};
/// let expect = |key: &str| KNOWN_KEYS.iter().find(|(k, _)| *k == key).map(|(_, e)| *e);
/// assert_eq!(expect(config::TOPOLOGY_DEBUG), Some(Expect::Boolean));
/// assert_eq!(expect(config::TOPOLOGY_WORKERS), Some(Expect::Integer { min: 1, max: 1024 }));
/// assert_eq!(expect(config::TOPOLOGY_STATS_SAMPLE_RATE), Some(Expect::Fraction));
/// // Its `Display` is what an error says the key takes.
/// assert_eq!(Expect::Integer { min: 1, max: 1024 }.to_string(), "an integer from 1 to 1024");
/// assert_eq!(Expect::Boolean.to_string(), "true or false");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// An integer in `min..=max`.
    Integer {
        /// The least value.
        min: u64,
        /// The greatest value.
        max: u64,
    },
    /// A number of seconds in `min..=max`.
    Seconds {
        /// The least value.
        min: f64,
        /// The greatest value.
        max: f64,
    },
    /// A number in `[0, 1]`.
    Fraction,
    /// `true` or `false`.
    Boolean,
    /// A list of names (strings).
    Names,
    /// A name (a string).
    Name,
    /// A JSON object, or a string holding one (Storm's form).
    Json,
    /// One of these names.
    OneOf(&'static [&'static str]),
}

impl Expect {
    fn accepts(self, v: &ConfigValue) -> bool {
        match self {
            Expect::Integer { min, max } => v.as_u64().is_some_and(|n| (min..=max).contains(&n)),
            Expect::Seconds { min, max } => v.as_f64().is_some_and(|s| (min..=max).contains(&s)),
            Expect::Fraction => v.as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)),
            Expect::Boolean => v.is_boolean(),
            Expect::Names => v
                .as_array()
                .is_some_and(|a| a.iter().all(ConfigValue::is_string)),
            Expect::Name => v.as_str().is_some_and(|s| !s.is_empty()),
            Expect::OneOf(names) => v.as_str().is_some_and(|s| names.contains(&s)),
            Expect::Json => {
                v.is_object()
                    || v.as_str().is_some_and(|s| {
                        serde_json::from_str::<ConfigValue>(s).is_ok_and(|j| j.is_object())
                    })
            }
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Integer { min, max } => write!(f, "an integer from {min} to {max}"),
            Expect::Seconds { min, max } => write!(f, "a number of seconds from {min} to {max}"),
            Expect::Fraction => f.write_str("a number from 0 to 1"),
            Expect::Boolean => f.write_str("true or false"),
            Expect::Names => f.write_str("a list of names, as [\"alice\", \"bob\"]"),
            Expect::Name => f.write_str("a name"),
            Expect::OneOf(names) => write!(f, "one of {}", names.join(", ")),
            Expect::Json => f.write_str("a JSON object, as {\"dir\": \"/var/lib/squall/state\"}"),
        }
    }
}

/// Every `topology.*` key the runtime reads, with what it must be. `null` always means unset.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{Expect, KNOWN_KEYS}};
/// assert!(KNOWN_KEYS.iter().all(|(key, _)| key.starts_with("topology.")));
/// let (_, timeout) = KNOWN_KEYS.iter().find(|(k, _)| *k == config::TOPOLOGY_MESSAGE_TIMEOUT_SECS).unwrap();
/// assert!(matches!(timeout, Expect::Seconds { .. }));
/// ```
pub const KNOWN_KEYS: &[(&str, Expect)] = &[
    (
        config::TOPOLOGY_WORKERS,
        Expect::Integer {
            min: 1,
            max: MAX_WORKERS as u64,
        },
    ),
    (
        config::TOPOLOGY_ACKER_EXECUTORS,
        Expect::Integer {
            min: 0,
            max: MAX_ACKER_EXECUTORS as u64,
        },
    ),
    (
        config::TOPOLOGY_MESSAGE_TIMEOUT_SECS,
        Expect::Seconds {
            min: MIN_INTERVAL_SECS,
            max: MAX_INTERVAL_SECS,
        },
    ),
    (
        config::TOPOLOGY_MAX_SPOUT_PENDING,
        Expect::Integer {
            min: 1,
            max: u32::MAX as u64,
        },
    ),
    (config::TOPOLOGY_ENABLE_MESSAGE_TIMEOUTS, Expect::Boolean),
    (
        config::TOPOLOGY_TICK_TUPLE_FREQ_SECS,
        Expect::Seconds {
            min: MIN_INTERVAL_SECS,
            max: MAX_INTERVAL_SECS,
        },
    ),
    (
        config::TOPOLOGY_MAX_TASK_PARALLELISM,
        Expect::Integer {
            min: 1,
            max: u32::MAX as u64,
        },
    ),
    (config::TOPOLOGY_DEBUG, Expect::Boolean),
    (
        config::TOPOLOGY_DISABLE_LOADAWARE_MESSAGING,
        Expect::Boolean,
    ),
    (
        config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND,
        Expect::Fraction,
    ),
    (config::TOPOLOGY_LOCALITYAWARE_LOWER_BOUND, Expect::Fraction),
    (config::TOPOLOGY_STATS_SAMPLE_RATE, Expect::Fraction),
    (
        config::TOPOLOGY_EXECUTOR_THREADS,
        Expect::Integer {
            min: 0,
            max: MAX_EXECUTOR_THREADS,
        },
    ),
    (
        config::TOPOLOGY_PRODUCER_BATCH_SIZE,
        Expect::Integer {
            min: 1,
            max: MAX_BATCH_SIZE,
        },
    ),
    (
        config::TOPOLOGY_FLUSH_TUPLE_FREQ_MILLIS,
        Expect::Integer {
            min: 0,
            max: MAX_FLUSH_MILLIS,
        },
    ),
    (
        config::TOPOLOGY_EXECUTOR_RECEIVE_BUFFER_SIZE,
        Expect::Integer {
            min: 1,
            max: MAX_RECEIVE_BATCHES,
        },
    ),
    (
        config::TOPOLOGY_SUBPROCESS_TIMEOUT_SECS,
        Expect::Seconds {
            min: MIN_INTERVAL_SECS,
            max: MAX_INTERVAL_SECS,
        },
    ),
    (
        config::TOPOLOGY_SHELLBOLT_MAX_PENDING,
        Expect::Integer {
            min: 1,
            max: 1 << 20,
        },
    ),
    (config::TOPOLOGY_USERS, Expect::Names),
    (config::TOPOLOGY_GROUPS, Expect::Names),
    (
        crate::state::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS,
        Expect::Integer {
            min: 100,
            max: 3_600_000,
        },
    ),
    (crate::state::TOPOLOGY_STATE_PROVIDER, Expect::Name),
    (crate::state::TOPOLOGY_STATE_PROVIDER_CONFIG, Expect::Json),
    (
        crate::state::TOPOLOGY_STATE_GUARANTEE,
        Expect::OneOf(crate::state::GUARANTEES),
    ),
];

/// A setting of the wrong type or out of range.
///
/// # Examples
/// ```
/// use squall_topology_api::{config, limits::{check_config, InvalidSetting}, Config};
/// let mut conf = Config::new();
/// conf.set(config::TOPOLOGY_DEBUG, "yes");
/// let err: InvalidSetting = check_config(&conf).unwrap_err();
/// assert_eq!(err.key, "topology.debug");
/// assert_eq!(err.value, r#""yes""#); // as JSON
/// assert_eq!(err.expected, "true or false");
/// assert_eq!(err.to_string(), r#"invalid value "yes" for topology.debug: expected true or false"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value} for {key}: expected {expected}")]
pub struct InvalidSetting {
    /// The key.
    pub key: String,
    /// The value as given, in JSON (`"abc"`, `1e30`).
    pub value: String,
    /// What the key takes.
    pub expected: String,
}

/// Checks the type and range of every known `topology.*` key of `conf`; the first bad one (in
/// key order) is the error.
///
/// # Errors
/// [`InvalidSetting`] naming the key, the value and what the key takes.
///
/// # Examples
/// ```
/// use squall_topology_api::{Config, limits::check_config};
/// let mut conf = Config::new();
/// conf.set("topology.workers", "abc");
/// assert_eq!(
///     check_config(&conf).unwrap_err().to_string(),
///     r#"invalid value "abc" for topology.workers: expected an integer from 1 to 1024"#
/// );
/// ```
pub fn check_config(conf: &Config) -> Result<(), InvalidSetting> {
    for (key, value) in conf.iter() {
        if value.is_null() {
            continue;
        }
        let Some(&(_, expect)) = KNOWN_KEYS.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        if !expect.accepts(value) {
            return Err(InvalidSetting {
                key: key.to_owned(),
                value: value.to_string(),
                expected: expect.to_string(),
            });
        }
    }
    let bound = |key| conf.get_f64(key);
    if let (Some(lower), Some(higher)) = (
        bound(config::TOPOLOGY_LOCALITYAWARE_LOWER_BOUND),
        bound(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND),
    ) && lower > higher
    {
        return Err(InvalidSetting {
            key: config::TOPOLOGY_LOCALITYAWARE_LOWER_BOUND.to_owned(),
            value: lower.to_string(),
            expected: format!(
                "a number from 0 to {higher} ({})",
                config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND
            ),
        });
    }
    Ok(())
}

/// Why a submission was refused before anything was stored.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// # struct Sink;
/// # impl Bolt for Sink {
/// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
/// # }
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// use squall_topology_api::limits::{check_config_for, check_topology_name, Refused};
/// assert!(matches!(check_topology_name("my.topology"), Err(Refused::Name(_))));
///
/// let mut conf = Config::new();
/// conf.set_num_workers(0);
/// let err = check_config_for(topology.spec(), &conf).unwrap_err();
/// assert!(matches!(err, Refused::Setting(_)));
/// assert_eq!(err.to_string(), "invalid value 0 for topology.workers: expected an integer from 1 to 1024");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The name cannot be a topology name.
    #[error(
        "invalid topology name {0:?}: names must be non-empty, at most {MAX_TOPOLOGY_NAME_BYTES} bytes, and not contain / . : % or \\"
    )]
    Name(String),
    /// A setting of the wrong type or out of range.
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
    /// More tasks than a topology may have.
    #[error(
        "the topology has {tasks} tasks (ackers included): at most {MAX_TOTAL_TASKS} are allowed"
    )]
    TooManyTasks {
        /// Its task count.
        tasks: u64,
    },
    /// A windowed bolt's windows conflict with the topology's settings (Storm's check).
    #[error("bolt {component:?}: {message}")]
    Window {
        /// The windowed bolt.
        component: String,
        /// What conflicts.
        message: String,
    },
    /// A topology with stateful bolts has acking turned off: checkpoints could not tell when
    /// every task has prepared, so a commit could outrun a prepare.
    #[error(
        "stateful bolts need acking: topology.acker.executors is 0 (unset it, or set it to 1 or more)"
    )]
    StatefulWithoutAckers,
    /// An exactly-once topology has a spout that cannot rewind.
    #[error(
        "spout {spout:?} cannot be rewound, so topology.state.guarantee exactly_once cannot hold: add it with set_replayable_spout, or use at_least_once"
    )]
    NotReplayable {
        /// The spout.
        spout: String,
    },
}

/// Whether `name` may name a topology: non-empty, at most [`MAX_TOPOLOGY_NAME_BYTES`], and
/// without `/ . : \\` (Storm's rule, as names become file and URL parts).
///
/// # Errors
/// [`Refused::Name`].
///
/// # Examples
/// ```
/// use squall_topology_api::limits::check_topology_name;
/// assert!(check_topology_name("wordcount").is_ok());
/// assert!(check_topology_name("word-count_v2").is_ok());
/// for bad in ["", "a/b", "v1.2", "a:b", "50%", "a\\b"] {
///     assert!(check_topology_name(bad).is_err(), "{bad:?}");
/// }
/// ```
pub fn check_topology_name(name: &str) -> Result<(), Refused> {
    if crate::valid_topology_name(name) && name.len() <= MAX_TOPOLOGY_NAME_BYTES {
        Ok(())
    } else {
        let shown: String = name.chars().take(40).collect();
        let shown = if shown.len() < name.len() {
            format!("{shown}... ({} bytes)", name.len())
        } else {
            shown
        };
        Err(Refused::Name(shown))
    }
}

/// The topology's task count under `conf`, ackers included, as its layout will number them.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// # struct Sink;
/// # impl Bolt for Sink {
/// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
/// # }
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// use squall_topology_api::limits::total_tasks;
/// // `words` has 1 task and `count` 2.
/// let mut conf = Config::new();
/// assert_eq!(total_tasks(topology.spec(), &conf), 4); // and one acker
/// conf.set_num_workers(3); // one acker per worker
/// assert_eq!(total_tasks(topology.spec(), &conf), 6);
/// conf.set(config::TOPOLOGY_MAX_TASK_PARALLELISM, 1);
/// assert_eq!(total_tasks(topology.spec(), &conf), 5);
/// ```
pub fn total_tasks(spec: &TopologySpec, conf: &Config) -> u64 {
    let own: u64 = spec
        .components
        .iter()
        .map(|c| u64::from(cap_parallelism(conf, c.tasks)))
        .sum();
    own + u64::from(acker_count(conf))
}

/// Checks what a submission asks of the cluster beyond the spec's own validity: its settings,
/// and its task count under them.
///
/// # Errors
/// The first problem found, as [`Refused`].
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// # struct Source(&'static str);
/// # impl Spout for Source {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new([self.0])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// # struct Sink;
/// # impl Bolt for Sink {
/// #     fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> { out.ack(&t); Ok(()) }
/// # }
/// # let mut b = TopologyBuilder::new();
/// # b.set_spout("words", || Source("word"), 1);
/// # b.set_bolt("count", || Sink, 2).fields_grouping("words", ["word"]);
/// # let topology = b.build().unwrap();
/// use squall_topology_api::limits::check_config_for;
/// let mut conf = Config::new();
/// conf.set_num_workers(2).set_max_spout_pending(1000);
/// assert!(check_config_for(topology.spec(), &conf).is_ok());
/// conf.set_message_timeout_secs(0);
/// assert!(check_config_for(topology.spec(), &conf).is_err());
/// ```
pub fn check_config_for(spec: &TopologySpec, conf: &Config) -> Result<(), Refused> {
    check_config(conf)?;
    let tasks = total_tasks(spec, conf);
    if tasks > MAX_TOTAL_TASKS {
        return Err(Refused::TooManyTasks { tasks });
    }
    let stateful = spec
        .component(crate::state::CHECKPOINT_COMPONENT_ID)
        .is_some();
    if stateful && acker_count(conf) == 0 {
        return Err(Refused::StatefulWithoutAckers);
    }
    if stateful && crate::state::Guarantee::of(conf) == crate::state::Guarantee::ExactlyOnce {
        let replayable = |c: &&crate::ComponentSpec| {
            c.config.get_bool(crate::state::REPLAYABLE_MARKER) == Some(true)
                || c.id == crate::state::CHECKPOINT_COMPONENT_ID
        };
        if let Some(spout) = spec
            .components
            .iter()
            .filter(|c| c.kind == crate::ComponentKind::Spout)
            .find(|c| !replayable(c))
        {
            return Err(Refused::NotReplayable {
                spout: spout.id.clone(),
            });
        }
    }
    for component in &spec.components {
        crate::window::check_against(&component.config, conf).map_err(|message| {
            Refused::Window {
                component: component.id.clone(),
                message,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(key: &str, value: ConfigValue) -> Result<(), String> {
        let mut conf = Config::new();
        conf.set(key, value);
        check_config(&conf).map_err(|e| e.to_string())
    }

    fn parsed(setting: &str) -> Result<(), String> {
        let (k, v) = config::parse_setting(setting).map_err(|e| e.clone())?;
        one(&k, v)
    }

    #[test]
    fn bad_values_are_refused_naming_key_and_value() {
        let cases = [
            (
                "topology.workers=abc",
                r#"invalid value "abc" for topology.workers: expected an integer from 1 to 1024"#,
            ),
            (
                "topology.workers=4000000000",
                "invalid value 4000000000 for topology.workers: expected an integer from 1 to 1024",
            ),
            (
                "topology.workers=0",
                "invalid value 0 for topology.workers: expected an integer from 1 to 1024",
            ),
            (
                "topology.workers=2.5",
                "invalid value 2.5 for topology.workers: expected an integer from 1 to 1024",
            ),
            (
                "topology.message.timeout.secs=1e30",
                "invalid value 1e+30 for topology.message.timeout.secs: expected a number of seconds from 0.001 to 86400",
            ),
            (
                "topology.message.timeout.secs=-1",
                "invalid value -1 for topology.message.timeout.secs: expected a number of seconds from 0.001 to 86400",
            ),
            (
                "topology.max.spout.pending=lots",
                r#"invalid value "lots" for topology.max.spout.pending: expected an integer from 1 to 4294967295"#,
            ),
            (
                "topology.acker.executors=100000",
                "invalid value 100000 for topology.acker.executors: expected an integer from 0 to 1024",
            ),
            (
                "topology.debug=yes",
                r#"invalid value "yes" for topology.debug: expected true or false"#,
            ),
            (
                "topology.stats.sample.rate=1.5",
                "invalid value 1.5 for topology.stats.sample.rate: expected a number from 0 to 1",
            ),
            (
                "topology.tick.tuple.freq.secs=0",
                "invalid value 0 for topology.tick.tuple.freq.secs: expected a number of seconds from 0.001 to 86400",
            ),
        ];
        for (setting, message) in cases {
            assert_eq!(parsed(setting), Err(message.to_owned()), "{setting}");
        }
    }

    #[test]
    fn good_values_unknown_keys_and_nulls_pass() {
        for setting in [
            "topology.workers=1024",
            "topology.acker.executors=0",
            "topology.message.timeout.secs=0.5",
            "topology.message.timeout.secs=86400",
            "topology.max.spout.pending=1000",
            "topology.debug=true",
            "topology.stats.sample.rate=0",
            "topology.flush.tuple.freq.millis=0",
            "topology.workers=null",
            "topology.some.future.key=whatever",
            "my.own.key=1e30",
        ] {
            assert_eq!(parsed(setting), Ok(()), "{setting}");
        }
    }

    #[test]
    fn locality_bounds_must_be_ordered() {
        let mut conf = Config::new();
        conf.set(config::TOPOLOGY_LOCALITYAWARE_LOWER_BOUND, 0.9);
        conf.set(config::TOPOLOGY_LOCALITYAWARE_HIGHER_BOUND, 0.5);
        assert!(
            check_config(&conf)
                .unwrap_err()
                .to_string()
                .starts_with("invalid value 0.9 for topology.localityaware.lower.bound")
        );
    }

    #[test]
    fn stateful_bolts_without_acking_are_refused_and_state_settings_are_checked() {
        use crate::state::{KeyValueState, StatefulBolt};
        use crate::{
            BasicCollector, ComponentError, Fields, OutputDeclarer, Spout, SpoutCollector,
            TopologyBuilder, Tuple,
        };
        struct Src;
        impl Spout for Src {
            fn declare_outputs(&self, out: &mut OutputDeclarer) {
                out.declare(Fields::new(["k"]));
            }
            fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
                Ok(())
            }
        }
        struct Keep;
        impl StatefulBolt for Keep {
            type Key = String;
            type Value = u64;
            fn execute(
                &mut self,
                _: &Tuple,
                _: &mut KeyValueState<String, u64>,
                _: &mut BasicCollector<'_, '_>,
            ) -> Result<(), ComponentError> {
                Ok(())
            }
        }
        let mut b = TopologyBuilder::new();
        b.set_spout("src", || Src, 1);
        b.set_stateful_bolt("keep", || Keep, 1)
            .shuffle_grouping("src");
        let topology = b.build().unwrap();
        let mut conf = Config::new();
        assert!(check_config_for(topology.spec(), &conf).is_ok());
        conf.set(config::TOPOLOGY_ACKER_EXECUTORS, 0);
        assert_eq!(
            check_config_for(topology.spec(), &conf).unwrap_err(),
            Refused::StatefulWithoutAckers
        );
        assert_eq!(
            one(
                crate::state::TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS,
                10.into()
            )
            .unwrap_err(),
            "invalid value 10 for topology.state.checkpoint.interval.ms: expected an integer from 100 to 3600000"
        );
        assert!(
            one(
                crate::state::TOPOLOGY_STATE_PROVIDER_CONFIG,
                r#"{"dir": "/x"}"#.into()
            )
            .is_ok()
        );
        assert!(one(crate::state::TOPOLOGY_STATE_PROVIDER_CONFIG, "/x".into()).is_err());
        assert!(one(crate::state::TOPOLOGY_STATE_PROVIDER, "".into()).is_err());
        // Exactly-once needs every spout to rewind; `src` is a plain spout.
        let mut conf = Config::new();
        conf.set(crate::state::TOPOLOGY_STATE_GUARANTEE, "exactly_once");
        assert_eq!(
            check_config_for(topology.spec(), &conf).unwrap_err(),
            Refused::NotReplayable {
                spout: "src".into()
            }
        );
        assert_eq!(
            one(
                crate::state::TOPOLOGY_STATE_GUARANTEE,
                "exactly-once".into()
            )
            .unwrap_err(),
            r#"invalid value "exactly-once" for topology.state.guarantee: expected one of at_least_once, exactly_once"#
        );
    }

    #[test]
    fn a_window_longer_than_the_message_timeout_or_max_pending_is_refused_naming_the_bolt() {
        use crate::window::{
            Extent, TupleWindow, WindowCollector, WindowSpec, Windowed, WindowedBolt,
        };
        use crate::{
            ComponentError, Fields, OutputDeclarer, Spout, SpoutCollector, TopologyBuilder,
        };
        use std::time::Duration;
        struct Source;
        impl Spout for Source {
            fn declare_outputs(&self, out: &mut OutputDeclarer) {
                out.declare(Fields::new(["n"]));
            }
            fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
                Ok(())
            }
        }
        struct Noop;
        impl WindowedBolt for Noop {
            fn execute(
                &mut self,
                _: &TupleWindow<'_>,
                _: &mut WindowCollector<'_, '_>,
            ) -> Result<(), ComponentError> {
                Ok(())
            }
        }
        let topology = |spec: WindowSpec| {
            let mut b = TopologyBuilder::new();
            b.set_spout("numbers", || Source, 1);
            b.set_bolt("sums", move || Windowed::new(Noop, spec.clone()), 1)
                .shuffle_grouping("numbers");
            b.build().unwrap()
        };
        let secs = |n| Extent::duration(Duration::from_secs(n));
        let timed = topology(WindowSpec::sliding(secs(25), secs(10)));
        let mut conf = Config::new();
        let err = check_config_for(timed.spec(), &conf)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "bolt \"sums\": window length 25000 ms + slide 10000 ms is longer than topology.message.timeout.secs (30 s)"
            ),
            "{err}"
        );
        conf.set_message_timeout_secs(60);
        assert!(check_config_for(timed.spec(), &conf).is_ok());
        let counted = topology(WindowSpec::tumbling(Extent::count(600)));
        conf.set_max_spout_pending(1000);
        let err = check_config_for(counted.spec(), &conf)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "bolt \"sums\": window length 600 + slide 600 tuples is more than topology.max.spout.pending (1000)"
            ),
            "{err}"
        );
        conf.set_max_spout_pending(1200);
        assert!(check_config_for(counted.spec(), &conf).is_ok());
        let sessions = topology(WindowSpec::session(Duration::from_secs(90), ["n"]));
        let err = check_config_for(sessions.spec(), &conf)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "bolt \"sums\": session gap 90000 ms is longer than topology.message.timeout.secs (60 s)"
            ),
            "{err}"
        );
    }

    #[test]
    fn names_are_bounded_and_long_ones_are_shortened_in_the_error() {
        assert!(check_topology_name("wc").is_ok());
        assert!(check_topology_name(&"a".repeat(MAX_TOPOLOGY_NAME_BYTES)).is_ok());
        let long = "a".repeat(10_000);
        let err = check_topology_name(&long).unwrap_err().to_string();
        assert!(err.contains("(10000 bytes)"), "{err}");
        assert!(err.len() < 200, "{err}");
        assert!(check_topology_name("a/b").is_err());
        assert!(check_topology_name("").is_err());
    }
}

#[cfg(test)]
mod reference_tests {
    use super::KNOWN_KEYS;
    use crate::config::REFERENCE;

    #[test]
    fn the_reference_documents_exactly_the_checked_keys_in_the_same_order() {
        let documented: Vec<&str> = REFERENCE.iter().map(|k| k.key).collect();
        let checked: Vec<&str> = KNOWN_KEYS.iter().map(|(k, _)| *k).collect();
        assert_eq!(documented, checked);
    }
}
