//! Squall's connectors (`squall-connectors`) as built-in components of a Flux file, so a YAML
//! topology reads from and writes to Redis, NATS JetStream, Kafka and files with no Rust:
//!
//! ```yaml
//! spouts:
//!   - id: "sentences"
//!     className: "squall.connectors.redis.RedisStreamSpout"
//!     constructorArgs: ["redis://127.0.0.1:6379", "sentences", "squall", ["sentence"]]
//! ```
//!
//! A class's `constructorArgs` are its Rust constructor's arguments in order and its
//! `configMethods` its builder methods in camelCase (see [`CLASSES`]). The definitions are
//! read whatever the build; a connector is built only when this crate's cargo feature of the
//! same name (`redis`, `nats`, `kafka`, `files`) is on, and a file naming one that is not is
//! refused with the feature to turn on.

use std::path::PathBuf;

use serde_json::Value as Json;
use squall_topology_api::{BoltDeclarer, SpoutDeclarer, TopologyBuilder};

use crate::model::{ComponentDef, ConfigMethodDef};
use crate::shell::{Kind, parallelism, strings};

/// Where the connector classes' names start.
pub const PREFIX: &str = "squall.connectors.";

/// Each built-in class: its name, section, cargo feature, and how it is written.
pub const CLASSES: [(&str, Kind, &str, &str); 8] = [
    (
        "squall.connectors.redis.RedisStreamSpout",
        Kind::Spout,
        "redis",
        "constructorArgs [url, stream, group, [fields...]]; configMethods withEntryId(name)",
    ),
    (
        "squall.connectors.redis.RedisSink",
        Kind::Bolt,
        "redis",
        "constructorArgs [url]; configMethods: one of xadd(stream, [fields...]), hset(key, field, value), hincrby(key, field, by)",
    ),
    (
        "squall.connectors.nats.JetStreamSpout",
        Kind::Spout,
        "nats",
        "constructorArgs [url, stream, durable]; configMethods field(name)",
    ),
    (
        "squall.connectors.nats.JetStreamSink",
        Kind::Bolt,
        "nats",
        "constructorArgs [url, subject]; configMethods field(name)",
    ),
    (
        "squall.connectors.kafka.KafkaSpout",
        Kind::Spout,
        "kafka",
        "constructorArgs [brokers, topic, group]; configMethods valueOnly(name), set(key, value)",
    ),
    (
        "squall.connectors.kafka.KafkaSink",
        Kind::Bolt,
        "kafka",
        "constructorArgs [brokers, topic, valueField]; configMethods keyField(name), idempotent(bool), set(key, value)",
    ),
    (
        "squall.connectors.files.FileSpout",
        Kind::Spout,
        "files",
        "constructorArgs [directory]; configMethods field(name)",
    ),
    (
        "squall.connectors.files.FileSink",
        Kind::Bolt,
        "files",
        "constructorArgs [directory, prefix]; configMethods field(name), rollBytes(bytes)",
    ),
];

/// What a Redis sink writes (the connector's `RedisWrite`).
#[derive(Debug, Clone, PartialEq)]
pub enum RedisWriteDef {
    /// `XADD stream * field value ...`.
    XAdd {
        /// The stream.
        stream: String,
        /// The tuple fields written.
        fields: Vec<String>,
    },
    /// `HSET key <field> <value>`.
    HSet {
        /// The hash.
        key: String,
        /// The tuple field naming the hash field.
        field: String,
        /// The tuple field holding the value.
        value: String,
    },
    /// `HINCRBY key <field> <by>`.
    HIncrBy {
        /// The hash.
        key: String,
        /// The tuple field naming the hash field.
        field: String,
        /// The tuple field holding the increment.
        by: String,
    },
}

/// A built-in connector as the file defines it: the constructor's arguments and the builder
/// methods called, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub enum Connector {
    /// `squall.connectors.redis.RedisStreamSpout`.
    RedisStreamSpout(RedisSpoutDef),
    /// `squall.connectors.redis.RedisSink`.
    RedisSink(RedisSinkDef),
    /// `squall.connectors.nats.JetStreamSpout`.
    JetStreamSpout(NatsSpoutDef),
    /// `squall.connectors.nats.JetStreamSink`.
    JetStreamSink(NatsSinkDef),
    /// `squall.connectors.kafka.KafkaSpout`.
    KafkaSpout(KafkaSpoutDef),
    /// `squall.connectors.kafka.KafkaSink`.
    KafkaSink(KafkaSinkDef),
    /// `squall.connectors.files.FileSpout`.
    FileSpout(FileSpoutDef),
    /// `squall.connectors.files.FileSink`.
    FileSink(FileSinkDef),
}

/// `RedisStreamSpout::new(url, stream, group).fields(fields)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSpoutDef {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// The stream.
    pub stream: String,
    /// The consumer group.
    pub group: String,
    /// The entry fields emitted.
    pub fields: Vec<String>,
    /// `withEntryId`: the entry id as a last field of this name.
    pub entry_id: Option<String>,
}

/// `RedisSink::new(url, write)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSinkDef {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// The write.
    pub write: RedisWriteDef,
}

/// `JetStreamSpout::new(url, stream, durable)`.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsSpoutDef {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// The stream.
    pub stream: String,
    /// The durable consumer.
    pub durable: String,
    /// `field`: the tuple's field name.
    pub field: Option<String>,
}

/// `JetStreamSink::new(url, subject)`.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsSinkDef {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// The subject published to.
    pub subject: String,
    /// `field`: the input field published.
    pub field: Option<String>,
}

/// `KafkaSpout::new(brokers, topic, group)`.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSpoutDef {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// The consumer group.
    pub group: String,
    /// `valueOnly`: emit only the value, under this name.
    pub value_only: Option<String>,
    /// `set`: librdkafka properties.
    pub settings: Vec<(String, String)>,
}

/// `KafkaSink::new(brokers, topic, value_field)`.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSinkDef {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// The input field holding the record's value.
    pub value_field: String,
    /// `keyField`: the input field keying the record.
    pub key_field: Option<String>,
    /// `idempotent`: whether the producer is idempotent (by default it is).
    pub idempotent: Option<bool>,
    /// `set`: librdkafka properties.
    pub settings: Vec<(String, String)>,
}

/// `FileSpout::new(directory)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSpoutDef {
    /// The directory read.
    pub dir: PathBuf,
    /// `field`: the tuple's field name.
    pub field: Option<String>,
}

/// `FileSink::new(directory, prefix)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSinkDef {
    /// The directory written.
    pub dir: PathBuf,
    /// The files' name prefix.
    pub prefix: String,
    /// `field`: the input field written.
    pub field: Option<String>,
    /// `rollBytes`: the size at which a file is rolled.
    pub roll_bytes: Option<u64>,
}

/// A connector component: what it is, its declared streams, config and executors.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorDef {
    /// The connector.
    pub connector: Connector,
    /// Declared streams, as the connector declares them: (stream id, fields).
    pub streams: Vec<(String, Vec<String>)>,
    /// `addComponentConfig` settings, in order.
    pub config: Vec<(String, Json)>,
    /// Executors.
    pub parallelism: u32,
}

/// Whether `class` names a built-in connector (it may still be misspelt).
pub fn is_connector_class(class: &str) -> bool {
    class.starts_with(PREFIX)
}

impl ConnectorDef {
    /// Reads a component whose class starts with [`PREFIX`]. The error is a sentence naming
    /// the key at fault (the caller names the component).
    pub fn read(kind: Kind, def: &ComponentDef) -> Result<ConnectorDef, String> {
        let Some(&(class, class_kind, feature, usage)) =
            CLASSES.iter().find(|(name, ..)| *name == def.class_name)
        else {
            let known: Vec<_> = CLASSES
                .iter()
                .filter(|(_, k, ..)| *k == kind)
                .map(|(name, ..)| *name)
                .collect();
            return Err(format!(
                "className: {} is not a Squall connector; the {}s are {}",
                def.class_name,
                kind.word(),
                known.join(", ")
            ));
        };
        if class_kind != kind {
            return Err(format!(
                "className: {class} is a {}, listed under {}s",
                class_kind.word(),
                kind.word()
            ));
        }
        for (key, present) in [
            ("properties", def.properties.is_some()),
            ("factory", def.factory.is_some()),
            ("factoryArgs", def.factory_args.is_some()),
        ] {
            if present {
                return Err(format!("{key}: {} takes {usage}", short(class)));
            }
        }
        let args = Args {
            values: &def.constructor_args,
            class,
            usage,
        };
        let mut config = Vec::new();
        let mut methods = Methods {
            class,
            usage,
            calls: Vec::new(),
        };
        for (i, method) in def.config_methods.iter().enumerate() {
            if method.name == "addComponentConfig" {
                let [key, value] = method.args.as_slice() else {
                    return Err(format!(
                        "configMethods[{i}] (addComponentConfig): takes 2 argument(s) (key, value), not {}",
                        method.args.len()
                    ));
                };
                let key = key.as_str().ok_or_else(|| {
                    format!("configMethods[{i}] (addComponentConfig): the key must be a string")
                })?;
                config.push((key.to_owned(), value.clone()));
            } else {
                methods.calls.push((i, method));
            }
        }
        let connector = match short(class) {
            "RedisStreamSpout" => {
                args.count(4)?;
                Connector::RedisStreamSpout(RedisSpoutDef {
                    url: args.text(0, "url")?,
                    stream: args.text(1, "stream")?,
                    group: args.text(2, "group")?,
                    fields: args.list(3, "fields")?,
                    entry_id: methods.one_text("withEntryId")?,
                })
            }
            "RedisSink" => {
                args.count(1)?;
                Connector::RedisSink(RedisSinkDef {
                    url: args.text(0, "url")?,
                    write: methods.redis_write()?,
                })
            }
            "JetStreamSpout" => {
                args.count(3)?;
                Connector::JetStreamSpout(NatsSpoutDef {
                    url: args.text(0, "url")?,
                    stream: args.text(1, "stream")?,
                    durable: args.text(2, "durable")?,
                    field: methods.one_text("field")?,
                })
            }
            "JetStreamSink" => {
                args.count(2)?;
                Connector::JetStreamSink(NatsSinkDef {
                    url: args.text(0, "url")?,
                    subject: args.text(1, "subject")?,
                    field: methods.one_text("field")?,
                })
            }
            "KafkaSpout" => {
                args.count(3)?;
                Connector::KafkaSpout(KafkaSpoutDef {
                    brokers: args.text(0, "brokers")?,
                    topic: args.text(1, "topic")?,
                    group: args.text(2, "group")?,
                    value_only: methods.one_text("valueOnly")?,
                    settings: methods.settings()?,
                })
            }
            "KafkaSink" => {
                args.count(3)?;
                Connector::KafkaSink(KafkaSinkDef {
                    brokers: args.text(0, "brokers")?,
                    topic: args.text(1, "topic")?,
                    value_field: args.text(2, "valueField")?,
                    key_field: methods.one_text("keyField")?,
                    idempotent: methods.one_bool("idempotent")?,
                    settings: methods.settings()?,
                })
            }
            "FileSpout" => {
                args.count(1)?;
                Connector::FileSpout(FileSpoutDef {
                    dir: args.directory(0)?,
                    field: methods.one_text("field")?,
                })
            }
            _ => {
                args.count(2)?;
                Connector::FileSink(FileSinkDef {
                    dir: args.directory(0)?,
                    prefix: args.text(1, "prefix")?,
                    field: methods.one_text("field")?,
                    roll_bytes: methods.one_number("rollBytes")?,
                })
            }
        };
        methods.all_used()?;
        let streams = connector.streams().ok_or_else(|| {
            format!(
                "className: this squall was built without the {feature} connector (build it with cargo feature \"connectors\", on by default)"
            )
        })?;
        Ok(ConnectorDef {
            connector,
            streams,
            config,
            parallelism: parallelism(def.parallelism)?,
        })
    }

    /// The declared fields of a stream.
    pub fn fields(&self, stream: &str) -> Option<&[String]> {
        self.streams
            .iter()
            .find(|(s, _)| s == stream)
            .map(|(_, f)| f.as_slice())
    }
}

impl Connector {
    /// The streams the connector declares, or `None` when it is not built in.
    #[cfg_attr(
        not(any(
            feature = "redis",
            feature = "nats",
            feature = "kafka",
            feature = "files"
        )),
        allow(unused_imports, unused_mut, unused_variables, unreachable_code)
    )] // built without connectors, only the refusing arm is left
    fn streams(&self) -> Option<Vec<(String, Vec<String>)>> {
        use squall_topology_api::{Bolt, OutputDeclarer, Spout};
        let mut out = OutputDeclarer::default();
        match self {
            #[cfg(feature = "redis")]
            Connector::RedisStreamSpout(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "redis")]
            Connector::RedisSink(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "nats")]
            Connector::JetStreamSpout(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "nats")]
            Connector::JetStreamSink(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "kafka")]
            Connector::KafkaSpout(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "kafka")]
            Connector::KafkaSink(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "files")]
            Connector::FileSpout(def) => def.build().declare_outputs(&mut out),
            #[cfg(feature = "files")]
            Connector::FileSink(def) => def.build().declare_outputs(&mut out),
            #[allow(unreachable_patterns)] // reached in builds without every connector
            _ => return None,
        }
        let streams = out.into_streams().into_iter();
        Some(streams.map(|s| (s.id, s.fields.names().to_vec())).collect())
    }

    /// Adds this spout to `builder`; `None` when it is not a spout built in.
    #[cfg_attr(
        not(any(
            feature = "redis",
            feature = "nats",
            feature = "kafka",
            feature = "files"
        )),
        allow(unused_imports, unused_mut, unused_variables, unreachable_code)
    )] // built without connectors, only the refusing arm is left
    pub(crate) fn set_spout<'b>(
        &self,
        builder: &'b mut TopologyBuilder,
        id: &str,
        parallelism: u32,
    ) -> Option<SpoutDeclarer<'b>> {
        let declarer = match self.clone() {
            #[cfg(feature = "redis")]
            Connector::RedisStreamSpout(def) => {
                builder.set_spout(id, move || def.build(), parallelism)
            }
            #[cfg(feature = "nats")]
            Connector::JetStreamSpout(def) => {
                builder.set_spout(id, move || def.build(), parallelism)
            }
            #[cfg(feature = "kafka")]
            Connector::KafkaSpout(def) => builder.set_spout(id, move || def.build(), parallelism),
            #[cfg(feature = "files")]
            Connector::FileSpout(def) => builder.set_spout(id, move || def.build(), parallelism),
            _ => return None,
        };
        Some(declarer)
    }

    /// Adds this bolt to `builder`; `None` when it is not a bolt built in.
    #[cfg_attr(
        not(any(
            feature = "redis",
            feature = "nats",
            feature = "kafka",
            feature = "files"
        )),
        allow(unused_imports, unused_mut, unused_variables, unreachable_code)
    )] // built without connectors, only the refusing arm is left
    pub(crate) fn set_bolt<'b>(
        &self,
        builder: &'b mut TopologyBuilder,
        id: &str,
        parallelism: u32,
    ) -> Option<BoltDeclarer<'b>> {
        let declarer = match self.clone() {
            #[cfg(feature = "redis")]
            Connector::RedisSink(def) => builder.set_bolt(id, move || def.build(), parallelism),
            #[cfg(feature = "nats")]
            Connector::JetStreamSink(def) => builder.set_bolt(id, move || def.build(), parallelism),
            #[cfg(feature = "kafka")]
            Connector::KafkaSink(def) => builder.set_bolt(id, move || def.build(), parallelism),
            #[cfg(feature = "files")]
            Connector::FileSink(def) => builder.set_bolt(id, move || def.build(), parallelism),
            _ => return None,
        };
        Some(declarer)
    }
}

#[cfg(feature = "redis")]
impl RedisSpoutDef {
    fn build(&self) -> squall_connectors::redis::RedisStreamSpout {
        let spout =
            squall_connectors::redis::RedisStreamSpout::new(&self.url, &self.stream, &self.group)
                .fields(self.fields.clone());
        match &self.entry_id {
            Some(name) => spout.with_entry_id(name),
            None => spout,
        }
    }
}

#[cfg(feature = "redis")]
impl RedisSinkDef {
    fn build(&self) -> squall_connectors::redis::RedisSink {
        use squall_connectors::redis::{RedisSink, RedisWrite};
        let write = match self.write.clone() {
            RedisWriteDef::XAdd { stream, fields } => RedisWrite::XAdd { stream, fields },
            RedisWriteDef::HSet { key, field, value } => RedisWrite::HSet { key, field, value },
            RedisWriteDef::HIncrBy { key, field, by } => RedisWrite::HIncrBy { key, field, by },
        };
        RedisSink::new(&self.url, write)
    }
}

#[cfg(feature = "nats")]
impl NatsSpoutDef {
    fn build(&self) -> squall_connectors::nats::JetStreamSpout {
        let spout =
            squall_connectors::nats::JetStreamSpout::new(&self.url, &self.stream, &self.durable);
        match &self.field {
            Some(name) => spout.field(name),
            None => spout,
        }
    }
}

#[cfg(feature = "nats")]
impl NatsSinkDef {
    fn build(&self) -> squall_connectors::nats::JetStreamSink {
        let sink = squall_connectors::nats::JetStreamSink::new(&self.url, &self.subject);
        match &self.field {
            Some(name) => sink.field(name),
            None => sink,
        }
    }
}

#[cfg(feature = "kafka")]
impl KafkaSpoutDef {
    fn build(&self) -> squall_connectors::kafka::KafkaSpout {
        let mut spout =
            squall_connectors::kafka::KafkaSpout::new(&self.brokers, &self.topic, &self.group);
        if let Some(name) = &self.value_only {
            spout = spout.value_only(name);
        }
        for (key, value) in &self.settings {
            spout = spout.set(key, value);
        }
        spout
    }
}

#[cfg(feature = "kafka")]
impl KafkaSinkDef {
    fn build(&self) -> squall_connectors::kafka::KafkaSink {
        let mut sink =
            squall_connectors::kafka::KafkaSink::new(&self.brokers, &self.topic, &self.value_field);
        if let Some(name) = &self.key_field {
            sink = sink.key_field(name);
        }
        if let Some(on) = self.idempotent {
            sink = sink.idempotent(on);
        }
        for (key, value) in &self.settings {
            sink = sink.set(key, value);
        }
        sink
    }
}

#[cfg(feature = "files")]
impl FileSpoutDef {
    fn build(&self) -> squall_connectors::files::FileSpout {
        let spout = squall_connectors::files::FileSpout::new(&self.dir);
        match &self.field {
            Some(name) => spout.field(name),
            None => spout,
        }
    }
}

#[cfg(feature = "files")]
impl FileSinkDef {
    fn build(&self) -> squall_connectors::files::FileSink {
        let mut sink = squall_connectors::files::FileSink::new(&self.dir, &self.prefix);
        if let Some(name) = &self.field {
            sink = sink.field(name);
        }
        if let Some(bytes) = self.roll_bytes {
            sink = sink.roll_bytes(bytes);
        }
        sink
    }
}

/// A class's constructor arguments, read with errors naming the argument.
struct Args<'a> {
    values: &'a [Json],
    class: &'static str,
    usage: &'static str,
}

impl Args<'_> {
    fn count(&self, n: usize) -> Result<(), String> {
        if self.values.len() == n {
            Ok(())
        } else {
            Err(format!(
                "constructorArgs: {} takes {}, not {} argument(s)",
                short(self.class),
                // The constructor part of the usage, without its methods.
                self.usage.split(';').next().unwrap_or(self.usage),
                self.values.len()
            ))
        }
    }

    fn text(&self, i: usize, name: &str) -> Result<String, String> {
        match self.values.get(i) {
            Some(Json::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Json::String(_)) => Err(format!("constructorArgs[{i}] ({name}): empty")),
            _ => Err(format!("constructorArgs[{i}] ({name}): expected a string")),
        }
    }

    fn list(&self, i: usize, name: &str) -> Result<Vec<String>, String> {
        let values = self
            .values
            .get(i)
            .ok_or_else(|| format!("constructorArgs[{i}] ({name}): missing"))?;
        let list = strings(values).map_err(|e| format!("constructorArgs[{i}] ({name}): {e}"))?;
        if list.is_empty() {
            return Err(format!(
                "constructorArgs[{i}] ({name}): the list is empty (for example [sentence])"
            ));
        }
        Ok(list)
    }

    /// A directory: absolute, since the topology may run on another host, in another
    /// working directory.
    fn directory(&self, i: usize) -> Result<PathBuf, String> {
        let dir = PathBuf::from(self.text(i, "directory")?);
        if dir.is_absolute() {
            Ok(dir)
        } else {
            Err(format!(
                "constructorArgs[{i}] (directory): {} is relative; give an absolute path (workers run in their own directory, on any host)",
                dir.display()
            ))
        }
    }
}

/// A class's `configMethods` other than `addComponentConfig`: each must be used once.
struct Methods<'a> {
    class: &'static str,
    usage: &'static str,
    calls: Vec<(usize, &'a ConfigMethodDef)>,
}

impl<'a> Methods<'a> {
    /// Takes every call of `name`.
    fn take(&mut self, name: &str) -> Vec<(usize, &'a ConfigMethodDef)> {
        let (taken, rest) = self.calls.drain(..).partition(|(_, m)| m.name == name);
        self.calls = rest;
        taken
    }

    /// The argument of `name(text)`, called at most once.
    fn one_text(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name).as_slice() {
            [] => Ok(None),
            [(i, call)] => match call.args.as_slice() {
                [Json::String(s)] if !s.trim().is_empty() => Ok(Some(s.clone())),
                _ => Err(format!(
                    "configMethods[{i}] ({name}): takes one non-empty string"
                )),
            },
            [_, (i, _), ..] => Err(format!("configMethods[{i}] ({name}): given twice")),
        }
    }

    /// The argument of `name(number)`, called at most once.
    fn one_number(&mut self, name: &str) -> Result<Option<u64>, String> {
        match self.take(name).as_slice() {
            [] => Ok(None),
            [(i, call)] => match call.args.as_slice() {
                [Json::Number(n)] if n.as_u64().is_some_and(|n| n > 0) => Ok(n.as_u64()),
                _ => Err(format!(
                    "configMethods[{i}] ({name}): takes one positive whole number"
                )),
            },
            [_, (i, _), ..] => Err(format!("configMethods[{i}] ({name}): given twice")),
        }
    }

    /// The argument of `name(true|false)`, called at most once.
    fn one_bool(&mut self, name: &str) -> Result<Option<bool>, String> {
        match self.take(name).as_slice() {
            [] => Ok(None),
            [(i, call)] => match call.args.as_slice() {
                [Json::Bool(b)] => Ok(Some(*b)),
                _ => Err(format!(
                    "configMethods[{i}] ({name}): takes one boolean, true or false"
                )),
            },
            [_, (i, _), ..] => Err(format!("configMethods[{i}] ({name}): given twice")),
        }
    }

    /// Every `set(key, value)` call, in order; values may be numbers or booleans.
    fn settings(&mut self) -> Result<Vec<(String, String)>, String> {
        self.take("set")
            .into_iter()
            .map(|(i, call)| match call.args.as_slice() {
                [Json::String(key), value] => match value {
                    Json::String(s) => Ok((key.clone(), s.clone())),
                    Json::Number(n) => Ok((key.clone(), n.to_string())),
                    Json::Bool(b) => Ok((key.clone(), b.to_string())),
                    _ => Err(format!(
                        "configMethods[{i}] (set): the value of {key} must be a string, number or boolean"
                    )),
                },
                _ => Err(format!(
                    "configMethods[{i}] (set): takes 2 argument(s) (key, value)"
                )),
            })
            .collect()
    }

    /// The Redis sink's one write method.
    fn redis_write(&mut self) -> Result<RedisWriteDef, String> {
        let mut writes = Vec::new();
        for name in ["xadd", "hset", "hincrby"] {
            writes.extend(self.take(name));
        }
        writes.sort_by_key(|(i, _)| *i);
        let (i, call) = match writes.as_slice() {
            [one] => *one,
            [] => {
                return Err(format!(
                    "configMethods: {} needs one write method: {}",
                    short(self.class),
                    self.usage
                ));
            }
            [_, (i, _), ..] => {
                return Err(format!(
                    "configMethods[{i}]: a RedisSink does one write; give one of xadd, hset and hincrby"
                ));
            }
        };
        let at = |e: &str| format!("configMethods[{i}] ({}): {e}", call.name);
        let text = |j: usize| match call.args.get(j) {
            Some(Json::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(at(&format!("argument {j} must be a non-empty string"))),
        };
        match (call.name.as_str(), call.args.len()) {
            ("xadd", 2) => {
                let fields = strings(&call.args[1]).map_err(|e| at(&e))?;
                if fields.is_empty() {
                    return Err(at("the list of fields to write is empty"));
                }
                Ok(RedisWriteDef::XAdd {
                    stream: text(0)?,
                    fields,
                })
            }
            ("hset", 3) => Ok(RedisWriteDef::HSet {
                key: text(0)?,
                field: text(1)?,
                value: text(2)?,
            }),
            ("hincrby", 3) => Ok(RedisWriteDef::HIncrBy {
                key: text(0)?,
                field: text(1)?,
                by: text(2)?,
            }),
            (name, n) => Err(at(&format!(
                "takes {} argument(s), not {n}",
                if name == "xadd" { 2 } else { 3 }
            ))),
        }
    }

    /// Fails on a method left over: the class has no such method.
    fn all_used(&self) -> Result<(), String> {
        match self.calls.first() {
            None => Ok(()),
            Some((i, call)) => Err(format!(
                "configMethods[{i}]: {} has no method {} ({}; and addComponentConfig)",
                short(self.class),
                call.name,
                self.usage
            )),
        }
    }
}

fn short(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}
