//! A Flux file as written: Storm Flux's keys and shapes, read without interpreting them.
//! Sections are read one at a time (see [`crate::load`]), so an error names the component
//! or stream it is in.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as Json;

/// The top level of a Flux file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologyDef {
    /// The topology's name.
    pub name: Option<String>,
    /// Topology configuration (`topology.workers: 2`, ...).
    #[serde(default)]
    pub config: Option<BTreeMap<String, Json>>,
    /// Each spout, read later as a [`ComponentDef`].
    #[serde(default)]
    pub spouts: Option<Vec<Json>>,
    /// Each bolt, read later as a [`ComponentDef`].
    #[serde(default)]
    pub bolts: Option<Vec<Json>>,
    /// Each stream, read later as a [`StreamDef`].
    #[serde(default)]
    pub streams: Option<Vec<Json>>,
    /// Flux's Java object definitions: refused with a reason.
    pub components: Option<Json>,
    /// Flux's includes of other files: refused with a reason.
    pub includes: Option<Json>,
    /// A Java class that builds the topology: refused with a reason.
    pub topology_source: Option<Json>,
}

/// A spout or a bolt.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentDef {
    /// Its id, unique in the topology.
    pub id: String,
    /// The (Java) class Flux would instantiate.
    pub class_name: String,
    /// The class's constructor arguments.
    #[serde(default)]
    pub constructor_args: Vec<Json>,
    /// Methods Flux calls after constructing it.
    #[serde(default)]
    pub config_methods: Vec<ConfigMethodDef>,
    /// Executors (Flux's default: 1).
    pub parallelism: Option<i64>,
    /// Java bean properties: refused with a reason.
    pub properties: Option<Json>,
    /// A Java factory method: refused with a reason.
    pub factory: Option<Json>,
    /// The factory's arguments.
    pub factory_args: Option<Json>,
}

/// One `configMethods` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMethodDef {
    /// The method's name.
    pub name: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<Json>,
}

/// A stream from one component to another.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamDef {
    /// A label for people (Flux ignores it too).
    pub name: Option<String>,
    /// The emitting component.
    pub from: String,
    /// The subscribing bolt.
    pub to: String,
    /// How tuples are spread over `to`'s tasks.
    pub grouping: GroupingDef,
}

/// A stream's grouping.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupingDef {
    /// SHUFFLE, FIELDS, ALL, GLOBAL, NONE, LOCAL_OR_SHUFFLE, DIRECT or CUSTOM.
    #[serde(rename = "type")]
    pub kind: String,
    /// The stream of `from` (default: `default`).
    pub stream_id: Option<String>,
    /// FIELDS: the fields to group by.
    pub args: Option<Vec<String>>,
    /// CUSTOM: a Java grouping class, refused with a reason.
    pub custom_class: Option<Json>,
}
