//! Nimbus's state: the topologies (mirrored in the store) and the supervisors it has heard
//! from, and the scheduling pass that keeps every topology placed on live supervisors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use squall_proto::pb::RunningWorker;
use squall_proto::{Assignment, ExecutorAssignment, Slot, TopologyStatus};
use squall_topology_api::{ACKER_COMPONENT_ID, cap_parallelism, split_tasks};

use crate::error::NimbusError;
use crate::metrics::Metrics;
use crate::scheduler::{Affinity, ExecutorToPlace, SupervisorView, assign, is_settled};
use crate::store::Store;
use crate::topology::TopologyRecord;

/// Storm's `nimbus.supervisor.timeout.secs` default.
pub const DEFAULT_SUPERVISOR_TIMEOUT_SECS: u64 = 60;

/// What Nimbus knows of one supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorEntry {
    /// Its host address.
    pub host: String,
    /// Its slot ports.
    pub ports: Vec<u16>,
    /// When it last heartbeat.
    pub last_seen: Instant,
    /// Its own uptime at that heartbeat.
    pub uptime_secs: u64,
    /// The workers it reported.
    pub workers: Vec<RunningWorker>,
    /// Its own API's URL.
    pub api_url: String,
}

/// The mutable part of Nimbus.
pub struct Inner {
    /// Topologies by id.
    pub topologies: BTreeMap<String, TopologyRecord>,
    /// Supervisors by id.
    pub supervisors: BTreeMap<String, SupervisorEntry>,
    /// What the workers reported, in windows.
    pub metrics: Metrics,
}

/// Nimbus's state and durable store.
pub struct State {
    /// The durable store.
    pub store: Store,
    /// The in-memory state.
    pub inner: Mutex<Inner>,
    /// A supervisor silent for longer is dead and its workers are moved.
    pub supervisor_timeout: Duration,
    /// When this Nimbus started.
    pub started: Instant,
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl State {
    /// Loads the stored topologies. Supervisors named in their assignments count as alive for
    /// one timeout, so a restarted Nimbus does not move workers before their supervisors have
    /// had a chance to heartbeat.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn recover(store: Store, supervisor_timeout: Duration) -> Result<Self, NimbusError> {
        let now = Instant::now();
        let mut topologies = BTreeMap::new();
        let mut supervisors: BTreeMap<String, SupervisorEntry> = BTreeMap::new();
        for mut record in store.load()? {
            // A record stored by a Nimbus that checked less must not take this one down on
            // every start (a task layout of billions of tasks): it is dropped, loudly.
            let checked = squall_topology_api::limits::check_topology_name(&record.name)
                .map_err(|e| NimbusError::Invalid(e.to_string()))
                .and_then(|()| {
                    record
                        .spec
                        .validate()
                        .map_err(|e| NimbusError::Invalid(e.to_string()))
                })
                .and_then(|()| crate::service::check_record(&record.spec, &record.conf));
            if let Err(e) = checked {
                tracing::error!(topology = %record.id, error = %e, "stored topology is invalid; removing it");
                store.remove(&record.id)?;
                continue;
            }
            // Records stored before the acker count was fixed at submit: fix it now, as the
            // running layout has it.
            crate::topology::fix_task_layout(&mut record.conf);
            for e in record.assignment.iter().flat_map(|a| &a.executors) {
                let entry = supervisors
                    .entry(e.supervisor_id.clone())
                    .or_insert_with(|| SupervisorEntry {
                        host: e.slot.host.clone(),
                        ports: Vec::new(),
                        last_seen: now,
                        uptime_secs: 0,
                        workers: Vec::new(),
                        api_url: String::new(),
                    });
                if !entry.ports.contains(&e.slot.port) {
                    entry.ports.push(e.slot.port);
                }
            }
            topologies.insert(record.id.clone(), record);
        }
        let mut metrics = Metrics::default();
        for (id, json) in store.load_metrics()? {
            if !topologies.contains_key(&id) {
                continue;
            }
            match serde_json::from_slice(&json) {
                Ok(saved) => metrics.restore(&id, saved),
                // Figures are not worth refusing to start over: they start again from zero.
                Err(e) => tracing::warn!(topology = %id, error = %e, "saved metrics unreadable"),
            }
        }
        tracing::info!(topologies = topologies.len(), "state recovered");
        Ok(State {
            store,
            inner: Mutex::new(Inner {
                topologies,
                supervisors,
                metrics,
            }),
            supervisor_timeout,
            started: now,
        })
    }

    /// Locks the in-memory state.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Worker slots in use per supervisor id, as the assignments place them.
    pub fn slots_used(inner: &Inner) -> BTreeMap<&str, u32> {
        let mut used = BTreeMap::new();
        for a in inner
            .topologies
            .values()
            .filter_map(|r| r.assignment.as_ref())
        {
            let slots: BTreeMap<&Slot, &str> = a
                .executors
                .iter()
                .map(|e| (&e.slot, e.supervisor_id.as_str()))
                .collect();
            for supervisor in slots.into_values() {
                *used.entry(supervisor).or_default() += 1;
            }
        }
        used
    }

    /// Saves every topology's metrics (all-time totals, recent buckets, last totals per
    /// executor). Serialized under the lock, written after it is released.
    ///
    /// # Errors
    /// When the write cannot be committed.
    pub fn save_metrics(&self) -> Result<(), NimbusError> {
        let (saved, ids) = {
            let inner = self.lock();
            let saved: Vec<(String, Vec<u8>)> = inner
                .metrics
                .save()
                .into_iter()
                .filter_map(|(id, m)| serde_json::to_vec(&m).ok().map(|json| (id, json)))
                .collect();
            let ids: BTreeSet<String> = inner.topologies.keys().cloned().collect();
            (saved, ids)
        };
        self.store.put_metrics(&saved, |id| ids.contains(id))?;
        Ok(())
    }

    /// Whether a supervisor has heartbeat within the timeout.
    pub fn alive(&self, s: &SupervisorEntry) -> bool {
        s.last_seen.elapsed() <= self.supervisor_timeout
    }

    /// Ends waits that are over, removes finished kills, and (re)places every topology on the
    /// live supervisors; stores what changed.
    ///
    /// # Errors
    /// When a change cannot be stored.
    pub fn reschedule(&self, inner: &mut Inner) -> Result<(), NimbusError> {
        let now = now_secs();
        let finished: Vec<String> = inner
            .topologies
            .values_mut()
            .filter_map(|r| r.tick(now).then(|| r.id.clone()))
            .collect();
        for id in finished {
            self.store.remove(&id)?;
            inner.topologies.remove(&id);
            tracing::info!(topology = %id, "topology removed");
        }
        // Forget the figures of removed topologies and of sources long silent.
        let topologies = &inner.topologies;
        inner.metrics.retain(|t| topologies.contains_key(t));
        let live: Vec<SupervisorView> = inner
            .supervisors
            .iter()
            .filter(|(_, s)| self.alive(s))
            .map(|(id, s)| SupervisorView {
                id: id.clone(),
                host: s.host.clone(),
                ports: s.ports.clone(),
            })
            .collect();
        let ids: Vec<String> = inner.topologies.keys().cloned().collect();
        for id in ids {
            let taken: BTreeSet<Slot> = inner
                .topologies
                .values()
                .filter(|r| r.id != id)
                .filter_map(|r| r.assignment.as_ref())
                .flat_map(Assignment::slots)
                .collect();
            let Some(record) = inner.topologies.get_mut(&id) else {
                continue;
            };
            if let Some(updated) = place(record, &live, &taken) {
                self.store.put(&updated)?;
                *record = updated;
            }
        }
        Ok(())
    }
}

/// The executors of a topology: each component split by its (possibly rebalanced) executor
/// count, and the ackers.
pub fn executors_of(record: &TopologyRecord) -> Vec<ExecutorToPlace> {
    let layout = record.spec.layout(&record.conf);
    let mut out = Vec::new();
    for c in &record.spec.components {
        let executors = record
            .executors
            .get(&c.id)
            .copied()
            .unwrap_or(c.parallelism);
        for tasks in split_tasks(
            layout.tasks_of(&c.id),
            cap_parallelism(&record.conf, executors),
        ) {
            out.push(ExecutorToPlace {
                component: c.id.clone(),
                tasks: tasks.to_vec(),
            });
        }
    }
    for &t in layout.tasks_of(ACKER_COMPONENT_ID) {
        out.push(ExecutorToPlace {
            component: ACKER_COMPONENT_ID.to_owned(),
            tasks: vec![t],
        });
    }
    out
}

/// The record with a new assignment if its placement or status should change.
fn place(
    record: &TopologyRecord,
    live: &[SupervisorView],
    taken: &BTreeSet<Slot>,
) -> Option<TopologyRecord> {
    let previous = record.assignment.as_ref();
    let stays = match record.status {
        // A dying topology stays where it is until its wait is over.
        TopologyStatus::Killed => true,
        // A rebalance drains first, as Storm's: spouts paused, trees in flight finish where
        // they are, and only when the wait is over are executors moved (and spouts resumed,
        // in the same assignment).
        TopologyStatus::Rebalancing => previous.is_some(),
        TopologyStatus::Active | TopologyStatus::Inactive => false,
    };
    let executors = if stays {
        previous.map(|a| a.executors.clone())?
    } else {
        let wanted = executors_of(record);
        let before = previous.map(|a| a.executors.as_slice()).unwrap_or_default();
        if previous.is_some() && is_settled(&wanted, record.workers, live, taken, before) {
            return previous
                .is_some_and(|a| a.status != record.status || a.conf != record.conf)
                .then(|| with_assignment(record, before.to_vec()));
        }
        match assign(
            &wanted,
            &Affinity::of(&record.spec),
            record.workers,
            live,
            taken,
            before,
        ) {
            Ok(placed) => placed,
            Err(e) => {
                tracing::warn!(topology = %record.id, error = %e, "cannot place topology");
                previous.map(|a| a.executors.clone())?
            }
        }
    };
    let unchanged = previous.is_some_and(|a| {
        a.executors == executors && a.status == record.status && a.conf == record.conf
    });
    if unchanged {
        return None;
    }
    Some(with_assignment(record, executors))
}

/// The record with an assignment of `executors` at the next version.
fn with_assignment(record: &TopologyRecord, executors: Vec<ExecutorAssignment>) -> TopologyRecord {
    let previous = record.assignment.as_ref();
    let version = previous.map_or(1, |a| a.version + 1);
    let placement_version = match previous {
        Some(a) if a.executors == executors => a.placement_version,
        _ => version,
    };
    let mut updated = record.clone();
    updated.assignment = Some(Assignment {
        topology_id: record.id.clone(),
        topology_name: record.name.clone(),
        status: record.status,
        binary_sha256: record.binary_sha256.clone(),
        resources_sha256: record.resources_sha256.clone(),
        conf: record.conf.clone(),
        args: record.args.clone(),
        version,
        placement_version,
        executors,
    });
    updated
}
