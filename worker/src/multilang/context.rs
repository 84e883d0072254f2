//! The handshake's `context` and `conf` for a shell component, built from its topology
//! context with Storm's keys and grouping names (`FIELDS`, `SHUFFLE`, ...; global is `FIELDS`
//! with no fields, as Storm encodes it).

use serde_json::{Value as Json, json};
use squall_topology_api::{Grouping, TopologyContext};

use super::protocol::Context;

/// Storm's Thrift name for a grouping, with its fields where it has some.
fn grouping_json(grouping: &Grouping) -> Json {
    let fields = |f: &squall_topology_api::Fields| f.names().to_vec();
    match grouping {
        Grouping::Shuffle => json!({"type": "SHUFFLE"}),
        Grouping::Fields(f) | Grouping::PartialKey(f) => {
            json!({"type": "FIELDS", "fields": fields(f)})
        }
        Grouping::All => json!({"type": "ALL"}),
        Grouping::Global => json!({"type": "FIELDS", "fields": []}),
        Grouping::None => json!({"type": "NONE"}),
        Grouping::Direct => json!({"type": "DIRECT"}),
        Grouping::LocalOrShuffle => json!({"type": "LOCAL_OR_SHUFFLE"}),
        Grouping::Custom(_) => json!({"type": "CUSTOM_OBJECT"}),
    }
}

/// The context a shell component's process gets.
pub(crate) fn handshake_context(context: &TopologyContext) -> Context {
    let spec = context.spec();
    let me = context.this_component_id();
    let mut c = Context {
        taskid: context.this_task_id(),
        componentid: me.to_owned(),
        ..Context::default()
    };
    for component in context.component_ids() {
        for &task in context.component_tasks(component) {
            c.task_component
                .insert(task.to_string(), component.to_owned());
        }
    }
    if let Some(mine) = spec.component(me) {
        for stream in &mine.outputs {
            c.streams.push(stream.id.clone());
            c.stream_outputfields
                .insert(stream.id.clone(), stream.fields.names().to_vec());
        }
        for input in &mine.inputs {
            c.source_stream_grouping
                .entry(input.component.clone())
                .or_default()
                .insert(input.stream.clone(), grouping_json(&input.grouping));
            let fields = spec
                .component(&input.component)
                .and_then(|s| s.outputs.iter().find(|o| o.id == input.stream))
                .map(|o| o.fields.names().to_vec())
                .unwrap_or_default();
            c.source_stream_fields
                .entry(input.component.clone())
                .or_default()
                .insert(input.stream.clone(), fields);
        }
    }
    for target in &spec.components {
        for input in target.inputs.iter().filter(|i| i.component == me) {
            c.stream_target_grouping
                .entry(input.stream.clone())
                .or_default()
                .insert(target.id.clone(), grouping_json(&input.grouping));
        }
    }
    c
}

/// The conf a shell component's process gets: the component's merged configuration, with
/// `topology.name` (which pystorm reads) set to the topology's id when absent.
pub(crate) fn handshake_conf(context: &TopologyContext) -> Json {
    let mut conf: serde_json::Map<String, Json> = context
        .config()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    conf.entry("topology.name")
        .or_insert_with(|| Json::String(context.topology_id().to_owned()));
    Json::Object(conf)
}
