//! Wiring checkpoints into a topology with stateful bolts, as Storm's
//! `TopologyBuilder.createTopology` does: a `$checkpointspout`, a `$checkpoint` stream out of
//! every component, all-grouped from the checkpoint spout into each spout and each bolt a
//! spout feeds, and from each component into each bolt it feeds; plain bolts wrapped so they
//! pass checkpoints on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::spec::ComponentFactory;
use crate::{
    Bolt, ComponentKind, ComponentSpec, Config, Fields, Grouping, InputSpec, Spout,
    StreamDeclaration,
};

use super::{
    CHECKPOINT_COMPONENT_ID, CHECKPOINT_STREAM_ID, CheckpointForwarder, CheckpointSpout, Providers,
};

fn checkpoint_stream() -> StreamDeclaration {
    StreamDeclaration {
        id: CHECKPOINT_STREAM_ID.to_owned(),
        fields: Fields::new(super::CHECKPOINT_FIELDS),
        direct: false,
    }
}

/// Adds the checkpoint spout and streams. `stateful` names the stateful bolts, whose
/// factories already run them with checkpoints; every other bolt is wrapped in a forwarder.
pub(crate) fn wire_checkpoints(
    components: &mut Vec<ComponentSpec>,
    factories: &mut BTreeMap<String, ComponentFactory>,
    stateful: &BTreeSet<String>,
    providers: &Providers,
) {
    let spouts: BTreeSet<String> = components
        .iter()
        .filter(|c| c.kind == ComponentKind::Spout)
        .map(|c| c.id.clone())
        .collect();
    for c in components.iter_mut() {
        if !c.outputs.iter().any(|s| s.id == CHECKPOINT_STREAM_ID) {
            c.outputs.push(checkpoint_stream());
        }
        // Each upstream component sends its checkpoints: in exactly-once mode they travel
        // with the data from the spouts; in Storm's mode the bolts a spout feeds hear them from
        // the checkpoint spout directly. Both are wired; the mode picks whose copies count.
        let mut sources: BTreeSet<&str> = BTreeSet::new();
        if c.kind == ComponentKind::Spout {
            sources.insert(CHECKPOINT_COMPONENT_ID);
        }
        for input in &c.inputs {
            if spouts.contains(&input.component) {
                sources.insert(CHECKPOINT_COMPONENT_ID);
            }
            sources.insert(&input.component);
        }
        let new_inputs: Vec<InputSpec> = sources
            .into_iter()
            .map(|source| InputSpec {
                component: source.to_owned(),
                stream: CHECKPOINT_STREAM_ID.to_owned(),
                grouping: Grouping::All,
            })
            .collect();
        c.inputs.extend(new_inputs);
        if c.kind != ComponentKind::Bolt {
            continue;
        }
        if !stateful.contains(&c.id)
            && let Some(ComponentFactory::Bolt(inner)) = factories.get(&c.id).cloned()
        {
            factories.insert(
                c.id.clone(),
                ComponentFactory::Bolt(Arc::new(move || -> Box<dyn Bolt> {
                    Box::new(CheckpointForwarder::new(inner()))
                })),
            );
        }
    }
    components.push(ComponentSpec {
        id: CHECKPOINT_COMPONENT_ID.to_owned(),
        kind: ComponentKind::Spout,
        parallelism: 1,
        tasks: 1,
        outputs: vec![checkpoint_stream()],
        inputs: Vec::new(),
        config: Config::new(),
    });
    let providers = providers.clone();
    factories.insert(
        CHECKPOINT_COMPONENT_ID.to_owned(),
        ComponentFactory::Spout(Arc::new(move || -> Box<dyn Spout> {
            Box::new(CheckpointSpout::new(providers.clone()))
        })),
    );
}
