//! Topologies defined in YAML, in Apache Storm Flux's format, so a topology whose components
//! are scripts (Python with pystorm, Ruby, Node, ...) needs no Rust: `squall run
//! topology.yaml` runs one locally, `squall submit topology.yaml` on a cluster, where the
//! `squall` binary itself is the worker.
//!
//! An existing Flux file whose components are Storm's shell wrappers (`FluxShellSpout`,
//! `FluxShellBolt`) runs unmodified; the files it names are taken from the YAML file's
//! directory, which is the topology's resources. Anything Squall cannot run (a Java class,
//! Flux's `includes`) is one error naming it; every error names the component or stream and
//! the key.
//!
//! Squall's connectors (Redis, NATS JetStream, Kafka, files) are built-in components, named
//! `squall.connectors.<broker>.<Type>` (cargo feature `connectors`, on in the `squall` binary).
//!
//! `model` is the file as written, `shell` the wrappers, `connector` the built-in connectors,
//! `grouping` a stream's grouping.

pub mod connector;
mod grouping;
pub mod model;
pub mod shell;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use squall_topology_api::{Config, Topology, TopologyBuilder};

use connector::ConnectorDef;
use model::{ComponentDef, StreamDef, TopologyDef};
use shell::{Kind, ShellDef};

/// A spout or bolt of the file: a shell component or a built-in connector.
#[derive(Debug, Clone)]
enum Component {
    Shell(ShellDef),
    Connector(ConnectorDef),
}

impl Component {
    fn fields(&self, stream: &str) -> Option<&[String]> {
        match self {
            Component::Shell(shell) => shell.fields(stream),
            Component::Connector(connector) => connector.fields(stream),
        }
    }

    fn config(&self) -> &[(String, Json)] {
        match self {
            Component::Shell(shell) => &shell.config,
            Component::Connector(connector) => &connector.config,
        }
    }
}

/// Largest Flux file read: topology definitions are kilobytes.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// A Flux topology, built.
pub struct FluxTopology {
    /// The file's `name`, if it has one.
    pub name: Option<String>,
    /// The topology; its resources are the file's directory.
    pub topology: Topology,
    /// The file's `config`.
    pub conf: Config,
}

/// Why a Flux file cannot run.
#[derive(Debug, thiserror::Error)]
pub enum FluxError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a topology Squall can run; `message` names the component and key.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
}

/// Reads and builds the Flux topology in `path`.
///
/// # Errors
/// When the file cannot be read, is not YAML, or is not a topology Squall can run.
pub fn load(path: &Path) -> Result<FluxTopology, FluxError> {
    let read_error = |source| FluxError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(FluxError::Invalid {
            path: path.to_owned(),
            message: format!(
                "{size} bytes is over the {MAX_FILE_BYTES} bytes a topology file may have"
            ),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    let dir = std::path::absolute(path)
        .map_err(read_error)?
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_owned);
    parse(&text, &dir).map_err(|message| FluxError::Invalid {
        path: path.to_owned(),
        message,
    })
}

/// Builds a Flux topology from its text; `resources` is the directory its files are in.
///
/// # Errors
/// One sentence naming the component or stream and the key at fault.
pub fn parse(text: &str, resources: &Path) -> Result<FluxTopology, String> {
    let value: Json = serde_saphyr::from_str(text).map_err(|e| {
        let first = e.to_string();
        format!(
            "not valid YAML: {}",
            first.lines().next().unwrap_or_default()
        )
    })?;
    if value.is_null() {
        return Err("the file is empty: a topology needs spouts, bolts and streams".into());
    }
    let def: TopologyDef = typed(value).map_err(|e| format!("top level: {e}"))?;
    for (key, present, why) in [
        (
            "includes",
            def.includes.is_some(),
            "Squall reads one file; copy the included definitions into it",
        ),
        (
            "components",
            def.components.is_some(),
            "these are Java objects, which Squall cannot build; shell components and Squall's connectors need none",
        ),
        (
            "topologySource",
            def.topology_source.is_some(),
            "a Java class builds this topology, which Squall cannot run; define spouts, bolts and streams in the file",
        ),
    ] {
        if present {
            return Err(format!("{key}: {why}"));
        }
    }
    // Commands run in the file's directory, also when the resources shipped are a directory
    // above it (an absolute directory wins over the resources root in `current_dir`).
    let in_dir = |(id, component): (String, Component)| match component {
        Component::Shell(mut shell) => {
            shell.dir = Some(resources.to_owned());
            (id, Component::Shell(shell))
        }
        other => (id, other),
    };
    let spouts: Vec<_> = read_components(Kind::Spout, def.spouts.unwrap_or_default())?
        .into_iter()
        .map(in_dir)
        .collect();
    if spouts.is_empty() {
        return Err("spouts: a topology needs at least one spout".into());
    }
    let bolts: Vec<_> = read_components(Kind::Bolt, def.bolts.unwrap_or_default())?
        .into_iter()
        .map(in_dir)
        .collect();
    let mut kinds: BTreeMap<&str, (Kind, &Component)> = BTreeMap::new();
    for (kind, (id, shell)) in spouts
        .iter()
        .map(|c| (Kind::Spout, c))
        .chain(bolts.iter().map(|c| (Kind::Bolt, c)))
    {
        if let Some((first, _)) = kinds.insert(id, (kind, shell)) {
            return Err(format!(
                "{} \"{id}\": id: a {} already has the id \"{id}\"",
                kind.word(),
                first.word()
            ));
        }
    }

    let mut builder = TopologyBuilder::new();
    builder.resources(resources.display().to_string());
    for (id, component) in &spouts {
        let mut declarer = match component {
            Component::Shell(shell) => {
                let def = shell.clone();
                builder.set_spout(id, move || def.spout(), shell.parallelism)
            }
            Component::Connector(connector) => connector
                .connector
                .set_spout(&mut builder, id, connector.parallelism)
                .ok_or_else(|| format!("spout \"{id}\": className: not a spout"))?,
        };
        for (key, value) in component.config() {
            declarer.config(key, value.clone());
        }
    }
    let mut inputs: BTreeMap<&str, Vec<(String, String, squall_topology_api::Grouping)>> =
        BTreeMap::new();
    for (i, value) in def.streams.unwrap_or_default().into_iter().enumerate() {
        let label = stream_label(i, &value);
        let stream: StreamDef = typed(value).map_err(|e| format!("{label}: {e}"))?;
        let Some((_, from)) = kinds.get(stream.from.as_str()) else {
            return Err(format!(
                "{label}: from: no spout or bolt has the id \"{}\"",
                stream.from
            ));
        };
        let to = match kinds.get_key_value(stream.to.as_str()) {
            Some((to, (Kind::Bolt, _))) => *to,
            Some((_, (Kind::Spout, _))) => {
                return Err(format!(
                    "{label}: to: \"{}\" is a spout; streams go to bolts",
                    stream.to
                ));
            }
            None => {
                return Err(format!("{label}: to: no bolt has the id \"{}\"", stream.to));
            }
        };
        let (stream_id, grouping) = grouping::read(&stream.grouping, &stream.from, |s| {
            from.fields(s).map(<[String]>::to_vec)
        })
        .map_err(|e| format!("{label}: {e}"))?;
        inputs
            .entry(to)
            .or_default()
            .push((stream.from.clone(), stream_id, grouping));
    }
    for (id, component) in &bolts {
        let mut declarer = match component {
            Component::Shell(shell) => {
                let def = shell.clone();
                builder.set_bolt(id, move || def.bolt(), shell.parallelism)
            }
            Component::Connector(connector) => connector
                .connector
                .set_bolt(&mut builder, id, connector.parallelism)
                .ok_or_else(|| format!("bolt \"{id}\": className: not a bolt"))?,
        };
        for (key, value) in component.config() {
            declarer.config(key, value.clone());
        }
        for (from, stream, grouping) in inputs.remove(id.as_str()).unwrap_or_default() {
            declarer.grouping((from.as_str(), stream.as_str()), grouping);
        }
    }
    let topology = builder.build().map_err(|e| format!("topology: {e}"))?;
    let mut conf = Config::new();
    for (key, value) in def.config.unwrap_or_default() {
        conf.set(key, value);
    }
    Ok(FluxTopology {
        name: def.name,
        topology,
        conf,
    })
}

/// Each component of a section, by id.
fn read_components(kind: Kind, values: Vec<Json>) -> Result<Vec<(String, Component)>, String> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let label = match value.get("id").and_then(Json::as_str) {
                Some(id) => format!("{} \"{id}\"", kind.word()),
                None => format!("{}s[{i}]", kind.word()),
            };
            let def: ComponentDef = typed(value).map_err(|e| format!("{label}: {e}"))?;
            if def.id.trim().is_empty() {
                return Err(format!("{label}: id: empty"));
            }
            let component = if connector::is_connector_class(&def.class_name) {
                ConnectorDef::read(kind, &def).map(Component::Connector)
            } else {
                ShellDef::read(kind, &def).map(Component::Shell)
            };
            Ok((def.id, component.map_err(|e| format!("{label}: {e}"))?))
        })
        .collect()
}

/// How errors name a stream: its `name`, else `from --> to`, else its position.
fn stream_label(i: usize, value: &Json) -> String {
    let text = |k: &str| value.get(k).and_then(Json::as_str);
    match (text("name"), text("from"), text("to")) {
        (Some(name), _, _) => format!("stream \"{name}\""),
        (None, Some(from), Some(to)) => format!("stream \"{from} --> {to}\""),
        _ => format!("streams[{i}]"),
    }
}

/// A section as its typed definition; the error names the key (`parallelism: invalid type:
/// string "two", expected i64`).
fn typed<T: serde::de::DeserializeOwned>(value: Json) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names an unknown key itself.
        if path == "." || path.is_empty() || inner.starts_with(&format!("unknown field `{path}`")) {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

#[cfg(test)]
mod tests;
