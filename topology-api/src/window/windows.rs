//! One windowed task's windows, whatever runs them: stamps each input (processing or event
//! time), holds it, says which windows are due and what expired, and (for stateful windows)
//! writes what changed to a state store and reads it back. The bolt adapters decide what an
//! evaluation emits and when an input is acked.

use std::collections::HashMap;
use std::sync::Arc;

use super::bolt::{Clock, TupleWindow};
use super::persist::{self, CoreProgress, PROGRESS_KEY, Progress};
use super::session::Sessions;
use super::sliding::{Fired, Late, SlidingWindows};
use super::spec::{Shape, Timestamps, WindowSpec};
use super::watermark::Watermarks;
use crate::state::{Change, Loaded, StateError};
use crate::{ComponentError, TopologyContext, Tuple, Value};

pub(super) fn wall_clock() -> Clock {
    Arc::new(|| {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

/// The windows hold tuple numbers; the tuples themselves wait in [`TaskWindows::held`] (a
/// tuple is acked once, by its one owner, so it is not shared between windows).
enum Core {
    Sliding(SlidingWindows<u64>),
    Sessions {
        sessions: Sessions<String, u64>,
        key_fields: Vec<String>,
    },
}

/// Windows due for evaluation: per window, its session key (sessions only) and its tuples.
pub(super) type Due = Vec<(Option<String>, Fired<u64>)>;

/// What became of an input.
pub(super) enum Inserted {
    /// Held; these windows are now due.
    Held(Due),
    /// Late: not held.
    Late(Tuple, Late<u64>),
}

/// Where an input goes: its time and, for sessions, its key.
pub(super) struct Stamp {
    ts: i64,
    key: Option<String>,
}

/// What changed since the last checkpoint, kept only for stateful windows.
#[derive(Default)]
struct Changes {
    /// Tuples numbered from here on arrived since the last checkpoint.
    since: u64,
    /// Tuples from before `since` that expired since.
    expired: Vec<u64>,
}

/// The windows of one windowed bolt task.
pub(super) struct TaskWindows {
    spec: WindowSpec,
    core: Core,
    /// Every tuple in a window still to come or to be evaluated, by number.
    held: HashMap<u64, Tuple>,
    next_number: u64,
    watermarks: Watermarks,
    clock: Clock,
    /// Processing time never goes back, whatever the wall clock does.
    last_now: i64,
    next_watermark_at: i64,
    changes: Option<Changes>,
}

impl TaskWindows {
    pub(super) fn new(spec: WindowSpec, clock: Clock) -> Self {
        let event_time = spec.is_event_time();
        let core = match &spec.shape {
            Shape::Sliding { length, slide } => {
                Core::Sliding(SlidingWindows::new(*length, *slide, event_time))
            }
            Shape::Session { gap, key_fields } => Core::Sessions {
                sessions: Sessions::new(
                    i64::try_from(gap.as_millis()).unwrap_or(i64::MAX),
                    event_time,
                ),
                key_fields: key_fields.clone(),
            },
        };
        let lag = i64::try_from(spec.lag.as_millis()).unwrap_or(i64::MAX);
        TaskWindows {
            spec,
            core,
            held: HashMap::new(),
            next_number: 0,
            watermarks: Watermarks::new([], lag),
            clock,
            last_now: i64::MIN,
            next_watermark_at: i64::MIN,
            changes: None,
        }
    }

    pub(super) fn spec(&self) -> &WindowSpec {
        &self.spec
    }

    /// Records what changes from now on, for [`changes`](Self::changes).
    pub(super) fn track_changes(&mut self) {
        self.changes = Some(Changes {
            since: self.next_number,
            expired: Vec::new(),
        });
    }

    fn now(&mut self) -> i64 {
        self.last_now = self.last_now.max((self.clock)());
        self.last_now
    }

    /// Learns the task's input streams (for the watermark), starts the processing-time
    /// schedule and, when `session_timeout_ms` is given, cuts sessions before their first
    /// tuple would time out.
    pub(super) fn prepare(&mut self, context: &TopologyContext, session_timeout_ms: Option<i64>) {
        if let Some(me) = context.spec().component(context.this_component_id()) {
            // Checkpoints carry no time: they never hold the watermark back.
            let inputs = me
                .inputs
                .iter()
                .filter(|i| i.stream != crate::state::CHECKPOINT_STREAM_ID)
                .map(|i| (i.component.clone(), i.stream.clone()));
            let lag = i64::try_from(self.spec.lag.as_millis()).unwrap_or(i64::MAX);
            let seen = self.watermarks.progress();
            self.watermarks = Watermarks::new(inputs, lag);
            self.watermarks.restore(seen);
        }
        let now = self.now();
        match &mut self.core {
            Core::Sliding(windows) => {
                windows.tick(now);
            }
            Core::Sessions { sessions, .. } => {
                if let (Some(timeout_ms), Shape::Session { gap, .. }) =
                    (session_timeout_ms, &self.spec.shape)
                {
                    let gap = i64::try_from(gap.as_millis()).unwrap_or(i64::MAX);
                    sessions.set_max_span(timeout_ms.saturating_sub(gap));
                }
            }
        }
    }

    /// The input's time (now, or its event time) and session key; notes its time for the
    /// watermark.
    ///
    /// # Errors
    /// The input has no usable timestamp or session key.
    pub(super) fn stamp(&mut self, input: &Tuple) -> Result<Stamp, ComponentError> {
        let ts = match &self.spec.timestamps {
            Timestamps::Processing => self.now(),
            Timestamps::Field(name) => match input.get(&name.as_str()) {
                Ok(Value::I64(ts)) => *ts,
                Ok(other) => {
                    return Err(ComponentError::msg(format!(
                        "timestamp field {name:?} holds a {}, not an integer of milliseconds",
                        other.type_name()
                    )));
                }
                Err(_) => {
                    return Err(ComponentError::msg(format!(
                        "the tuple from {} has no timestamp field {name:?}",
                        input.source_component()
                    )));
                }
            },
            Timestamps::Extractor(f) => f(input).ok_or_else(|| {
                ComponentError::msg(format!(
                    "the timestamp extractor gave no time for a tuple from {}",
                    input.source_component()
                ))
            })?,
        };
        let key = match &self.core {
            Core::Sliding(_) => None,
            Core::Sessions { key_fields, .. } => Some(session_key(input, key_fields)?),
        };
        if self.spec.is_event_time() {
            self.watermarks
                .observe(input.source_component(), input.source_stream(), ts);
        }
        Ok(Stamp { ts, key })
    }

    /// Holds `input` in its windows and says which windows it completes, or gives it back
    /// if it is late (older than the watermark).
    pub(super) fn insert(&mut self, stamp: Stamp, input: Tuple) -> Inserted {
        let number = self.next_number;
        let added = match (&mut self.core, stamp.key) {
            (Core::Sliding(windows), _) => windows
                .add(stamp.ts, number)
                .map(|fired| fired.into_iter().map(|f| (None, f)).collect()),
            (Core::Sessions { sessions, .. }, key) => sessions
                .add(key.unwrap_or_default(), stamp.ts, number)
                .map(|()| Vec::new()),
        };
        match added {
            Ok(due) => {
                self.next_number += 1;
                self.held.insert(number, input);
                Inserted::Held(due)
            }
            Err(late) => Inserted::Late(input, late),
        }
    }

    /// The windows due by now: on processing time's schedule, or once a watermark (computed
    /// every watermark interval) passes them.
    pub(super) fn poll(&mut self) -> Due {
        let now = self.now();
        if self.spec.is_event_time() {
            if now < self.next_watermark_at {
                return Vec::new();
            }
            let interval = i64::try_from(self.spec.watermark_interval.as_millis()).unwrap_or(1);
            self.next_watermark_at = now.saturating_add(interval.max(1));
            let Some(watermark) = self.watermarks.advance() else {
                return Vec::new();
            };
            return match &mut self.core {
                Core::Sliding(windows) => windows
                    .advance(watermark)
                    .into_iter()
                    .map(|f| (None, f))
                    .collect(),
                Core::Sessions { sessions, .. } => sessions
                    .advance(watermark)
                    .into_iter()
                    .map(|(k, f)| (Some(k), f))
                    .collect(),
            };
        }
        match &mut self.core {
            Core::Sliding(windows) => windows.tick(now).into_iter().map(|f| (None, f)).collect(),
            Core::Sessions { sessions, .. } => sessions
                .advance(now)
                .into_iter()
                .map(|(k, f)| (Some(k), f))
                .collect(),
        }
    }

    /// Evaluates each due window that holds tuples with `evaluate`, then hands the tuples that
    /// left their last window to `expire`.
    pub(super) fn evaluate(
        &mut self,
        due: Due,
        mut evaluate: impl FnMut(&TupleWindow<'_>),
        mut expire: impl FnMut(Tuple),
    ) {
        for (key, fired) in due {
            if !fired.tuples.is_empty() {
                let held = &self.held;
                let resolve = |numbers: &[u64]| -> Vec<&Tuple> {
                    numbers.iter().filter_map(|n| held.get(n)).collect()
                };
                let window = TupleWindow {
                    tuples: resolve(&fired.tuples),
                    new: resolve(&fired.new),
                    expired: resolve(&fired.expired),
                    start: fired.start,
                    end: fired.end,
                    key,
                };
                evaluate(&window);
            }
            for number in &fired.expired {
                if let Some(tuple) = self.held.remove(number) {
                    if let Some(changes) = self.changes.as_mut()
                        && *number < changes.since
                    {
                        changes.expired.push(*number);
                    }
                    expire(tuple);
                }
            }
        }
    }

    /// What changed since the last call (or since tracking began), as a state store's change
    /// set: tuples that arrived and are still held, tuples that expired, and the progress.
    /// The record is cleared here, before the store has them: a PREPARE that fails is always
    /// followed by a ROLLBACK, which reloads the windows from the store.
    ///
    /// # Errors
    /// A tuple or the progress does not encode.
    pub(super) fn changes(&mut self) -> Result<Vec<Change>, StateError> {
        let Some(changes) = self.changes.as_mut() else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Change> = Vec::new();
        for n in changes.expired.drain(..) {
            out.push((persist::tuple_key(n), None));
        }
        for n in changes.since..self.next_number {
            if let Some(tuple) = self.held.get(&n) {
                out.push((persist::tuple_key(n), Some(persist::encode_tuple(tuple)?)));
            }
        }
        changes.since = self.next_number;
        let progress = Progress {
            core: self.progress_of_core(),
            watermarks: self.watermarks.progress(),
            next_number: self.next_number,
            last_now: self.last_now,
        };
        out.push((
            PROGRESS_KEY.to_vec(),
            Some(persist::encode_progress(&progress)?),
        ));
        Ok(out)
    }

    fn progress_of_core(&self) -> CoreProgress {
        match &self.core {
            Core::Sliding(w) => CoreProgress::Sliding(w.progress()),
            Core::Sessions { sessions, .. } => CoreProgress::Sessions(sessions.progress()),
        }
    }

    /// Puts the windows back as `loaded` holds them (nothing stored: empty windows), forgetting
    /// everything since.
    ///
    /// # Errors
    /// Stored data that does not decode, or progress that names a tuple not stored.
    pub(super) fn restore(&mut self, loaded: Loaded) -> Result<(), StateError> {
        let mut progress = None;
        let mut held = HashMap::new();
        for (key, value) in loaded.entries {
            if key == PROGRESS_KEY {
                progress = Some(persist::decode_progress(&value)?);
            } else if let Some(n) = persist::tuple_number(&key) {
                held.insert(n, persist::decode_tuple(&value)?);
            }
        }
        // Nothing stored: empty windows of this spec, and a watermark that has seen nothing.
        let progress = match progress {
            Some(p) => p,
            None => Progress {
                core: TaskWindows::new(self.spec.clone(), Arc::clone(&self.clock))
                    .progress_of_core(),
                watermarks: Default::default(),
                next_number: 0,
                last_now: i64::MIN,
            },
        };
        match (&mut self.core, progress.core) {
            (Core::Sliding(w), CoreProgress::Sliding(p)) => w.restore(p),
            (Core::Sessions { sessions, .. }, CoreProgress::Sessions(p)) => sessions.restore(p),
            _ => {
                return Err(StateError::new(
                    "the stored windows are of another kind (sliding or session) than this bolt's; clear the bolt's window state",
                ));
            }
        }
        // The watermark's inputs, learnt in `prepare`, stay.
        self.watermarks.restore(progress.watermarks);
        self.next_number = progress.next_number;
        self.last_now = self.last_now.max(progress.last_now);
        self.held.clear();
        let numbers: Vec<u64> = match &self.core {
            Core::Sliding(w) => w.items().copied().collect(),
            Core::Sessions { sessions, .. } => sessions.items().copied().collect(),
        };
        for n in numbers {
            let Some(tuple) = held.remove(&n) else {
                return Err(StateError::new(format!(
                    "the stored windows hold tuple {n}, which is not stored"
                )));
            };
            self.held.insert(n, tuple);
        }
        if self.changes.is_some() {
            self.track_changes();
        }
        Ok(())
    }
}

/// A session key: the key fields' values as text, joined by `|`.
pub(super) fn session_key(input: &Tuple, key_fields: &[String]) -> Result<String, ComponentError> {
    let mut key = String::new();
    for (i, name) in key_fields.iter().enumerate() {
        let value = input.get(&name.as_str()).map_err(|_| {
            ComponentError::msg(format!("the tuple has no session key field {name:?}"))
        })?;
        if i > 0 {
            key.push('|');
        }
        let text = match value {
            Value::Str(s) => s.to_string(),
            other => other.to_string(),
        };
        // Escaped, so ("a|b", "c") and ("a", "b|c") stay two keys.
        key.push_str(&text.replace('\\', "\\\\").replace('|', "\\|"));
    }
    Ok(key)
}
