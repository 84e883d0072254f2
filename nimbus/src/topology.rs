//! A submitted topology and its lifecycle.
//!
//! The legal transitions, in one place (Storm's `TopologyStatus`):
//! ```text
//!   submit ──▶ ACTIVE ◀──activate── INACTIVE
//!                │  ──deactivate──▶    │
//!                ├──rebalance──▶ REBALANCING ──(wait over)──▶ previous status
//!                └──kill──▶ KILLED ──(wait over)──▶ removed          (from any state)
//! ```
//! While REBALANCING or KILLED the spouts are paused, so trees in flight can finish.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use squall_proto::{Assignment, TopologyStatus};
use squall_topology_api::{Config, TopologySpec, config as keys};

/// Everything Nimbus keeps about one topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyRecord {
    /// `<name>-<counter>-<submit epoch secs>`.
    pub id: String,
    /// The user's name for it.
    pub name: String,
    /// Its state.
    pub status: TopologyStatus,
    /// The status to return to when a rebalance's wait is over.
    pub resume: Option<TopologyStatus>,
    /// When (unix seconds) a KILLED topology is removed or a REBALANCING one resumes.
    pub until: Option<u64>,
    /// The topology as its binary described it.
    pub spec: TopologySpec,
    /// The topology configuration.
    pub conf: Config,
    /// Arguments for the topology's `main`.
    pub args: Vec<String>,
    /// Its binary.
    pub binary_sha256: String,
    /// Its resources archive, stored beside the binaries, when it was submitted with one.
    #[serde(default)]
    pub resources_sha256: Option<String>,
    /// When it was submitted (unix seconds).
    pub submitted_at: u64,
    /// `topology.workers`, possibly changed by rebalance.
    pub workers: u32,
    /// Executors per component, where a rebalance changed them.
    pub executors: BTreeMap<String, u32>,
    /// Where it runs.
    pub assignment: Option<Assignment>,
    /// The user who submitted it (from their certificate); `None` when submitted with
    /// security off. It may always act on its topology.
    #[serde(default)]
    pub owner: Option<String>,
}

/// Fixes the task numbering for the topology's life: the acker count, which otherwise follows
/// `topology.workers`, is written into the stored conf, so a rebalance that changes the worker
/// count moves tasks but never renumbers them (Storm fixes it at submit the same way).
pub fn fix_task_layout(conf: &mut Config) {
    if conf.get(keys::TOPOLOGY_ACKER_EXECUTORS).is_none() {
        let ackers = squall_topology_api::acker_count(conf);
        conf.set(keys::TOPOLOGY_ACKER_EXECUTORS, ackers);
    }
}

/// A transition that is not allowed from the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topology {name:?} is {status}: cannot {action}")]
pub struct IllegalTransition {
    /// The topology.
    pub name: String,
    /// Its state.
    pub status: &'static str,
    /// What was asked.
    pub action: &'static str,
}

impl TopologyRecord {
    fn refuse(&self, action: &'static str) -> IllegalTransition {
        IllegalTransition {
            name: self.name.clone(),
            status: self.status.as_str(),
            action,
        }
    }

    /// ACTIVE from INACTIVE (or already ACTIVE).
    pub fn activate(&mut self) -> Result<(), IllegalTransition> {
        match self.status {
            TopologyStatus::Active | TopologyStatus::Inactive => {
                self.status = TopologyStatus::Active;
                Ok(())
            }
            TopologyStatus::Rebalancing => {
                self.resume = Some(TopologyStatus::Active);
                Ok(())
            }
            TopologyStatus::Killed => Err(self.refuse("activate")),
        }
    }

    /// INACTIVE from ACTIVE (or already INACTIVE).
    pub fn deactivate(&mut self) -> Result<(), IllegalTransition> {
        match self.status {
            TopologyStatus::Active | TopologyStatus::Inactive => {
                self.status = TopologyStatus::Inactive;
                Ok(())
            }
            TopologyStatus::Rebalancing => {
                self.resume = Some(TopologyStatus::Inactive);
                Ok(())
            }
            TopologyStatus::Killed => Err(self.refuse("deactivate")),
        }
    }

    /// REBALANCING until `until`, then back to the current status.
    pub fn rebalance(&mut self, until: u64) -> Result<(), IllegalTransition> {
        match self.status {
            TopologyStatus::Active | TopologyStatus::Inactive => {
                self.resume = Some(self.status);
                self.status = TopologyStatus::Rebalancing;
                self.until = Some(until);
                Ok(())
            }
            TopologyStatus::Rebalancing => {
                self.until = Some(until);
                Ok(())
            }
            TopologyStatus::Killed => Err(self.refuse("rebalance")),
        }
    }

    /// KILLED until `until`, then removed. Killing twice keeps the earlier deadline.
    pub fn kill(&mut self, until: u64) {
        if self.status != TopologyStatus::Killed {
            self.status = TopologyStatus::Killed;
            self.until = Some(until);
        }
    }

    /// Ends a wait that is over: a rebalance resumes; returns `true` if a kill is complete
    /// and the topology should be removed.
    pub fn tick(&mut self, now: u64) -> bool {
        match (self.status, self.until) {
            (TopologyStatus::Killed, Some(t)) => now >= t,
            (TopologyStatus::Rebalancing, Some(t)) if now >= t => {
                self.status = self.resume.take().unwrap_or(TopologyStatus::Active);
                self.until = None;
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TopologyRecord {
        TopologyRecord {
            id: "t-1-0".into(),
            name: "t".into(),
            status: TopologyStatus::Active,
            resume: None,
            until: None,
            spec: TopologySpec::default(),
            conf: Config::new(),
            args: Vec::new(),
            binary_sha256: String::new(),
            resources_sha256: None,
            submitted_at: 0,
            workers: 1,
            executors: BTreeMap::new(),
            assignment: None,
            owner: None,
        }
    }

    #[test]
    fn a_rebalance_returns_to_the_status_it_interrupted() {
        let mut r = record();
        r.deactivate().unwrap();
        r.rebalance(10).unwrap();
        assert_eq!(r.status, TopologyStatus::Rebalancing);
        r.activate().unwrap();
        assert!(!r.tick(9));
        assert_eq!(r.status, TopologyStatus::Rebalancing);
        assert!(!r.tick(10));
        assert_eq!(r.status, TopologyStatus::Active);
    }

    #[test]
    fn a_killed_topology_refuses_everything_and_goes_at_its_deadline() {
        let mut r = record();
        r.kill(5);
        r.kill(50);
        assert_eq!(
            r.activate().unwrap_err().to_string(),
            r#"topology "t" is KILLED: cannot activate"#
        );
        assert!(r.deactivate().is_err());
        assert!(r.rebalance(9).is_err());
        assert!(!r.tick(4));
        assert!(r.tick(5));
    }
}
