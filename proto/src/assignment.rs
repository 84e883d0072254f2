//! What runs where: a topology's executors placed on worker slots.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use squall_topology_api::{Config, TaskId};

/// A worker slot: a port on a supervisor's host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    /// The supervisor's host address.
    pub host: String,
    /// The worker's port.
    pub port: u16,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A topology's state (Storm's `TopologyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopologyStatus {
    /// Spouts emit.
    Active,
    /// Spouts paused; acks still flow.
    Inactive,
    /// Executors are being moved.
    Rebalancing,
    /// Being removed after its kill wait.
    Killed,
}

impl TopologyStatus {
    /// The name status output shows.
    pub fn as_str(self) -> &'static str {
        match self {
            TopologyStatus::Active => "ACTIVE",
            TopologyStatus::Inactive => "INACTIVE",
            TopologyStatus::Rebalancing => "REBALANCING",
            TopologyStatus::Killed => "KILLED",
        }
    }

    /// Whether spouts should be emitting.
    pub fn spouts_active(self) -> bool {
        self == TopologyStatus::Active
    }
}

/// One executor placed on a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorAssignment {
    /// The component it runs (`__acker` for ackers).
    pub component: String,
    /// Its tasks, a contiguous ascending range.
    pub tasks: Vec<TaskId>,
    /// Where it runs.
    pub slot: Slot,
    /// The supervisor that owns the slot.
    pub supervisor_id: String,
}

/// A topology's placement and everything a worker needs to run its share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The topology's id.
    pub topology_id: String,
    /// The topology's name.
    pub topology_name: String,
    /// Its state.
    pub status: TopologyStatus,
    /// The binary's SHA-256, hex.
    pub binary_sha256: String,
    /// Its resources archive's SHA-256, hex, when it has one ([`crate::resources`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_sha256: Option<String>,
    /// The topology configuration as submitted.
    pub conf: Config,
    /// Arguments for the topology's `main`.
    pub args: Vec<String>,
    /// Every executor, system ones included.
    pub executors: Vec<ExecutorAssignment>,
    /// Bumped on every change, so workers notice.
    pub version: u64,
    /// The `version` at which the executors last moved. Workers tag every transfer batch with
    /// it and refuse batches routed under another placement, so a tuple never reaches a task
    /// through a route that no longer holds. Status changes alone keep it, so acks in flight
    /// during a deactivate or a rebalance's drain still arrive.
    #[serde(default)]
    pub placement_version: u64,
}

impl Assignment {
    /// The slots the topology occupies.
    pub fn slots(&self) -> BTreeSet<Slot> {
        self.executors.iter().map(|e| e.slot.clone()).collect()
    }

    /// The executors on one slot.
    pub fn executors_on<'a>(
        &'a self,
        slot: &'a Slot,
    ) -> impl Iterator<Item = &'a ExecutorAssignment> {
        self.executors.iter().filter(move |e| &e.slot == slot)
    }

    /// Whether two assignments place the same executors on the same slots.
    pub fn same_placement(&self, other: &Assignment) -> bool {
        self.executors == other.executors
    }
}
