//! The acker executor: applies acker messages to its [`AckerState`] and answers the spout
//! task of every tree that completed, failed or had its timeout reset.

use std::time::{Duration, Instant};

use super::pool::{Step, Wake};
use super::{Executor, Inbox, Report, Setup};
use crate::acker::AckerState;
use crate::collector::Emitter;
use crate::message::{Batch, Control};

/// Without message timeouts the acker still wakes now and then to publish its counters.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// Input batches a step takes at most before it lets other executors run.
const BATCHES_PER_STEP: u32 = 8;

pub(crate) struct AckerExecutor {
    emitter: Emitter,
    inbox: Inbox,
    state: AckerState,
    rotate_every: Option<Duration>,
    flush_interval: Duration,
    next_rotation: Option<Instant>,
    last_flush: Instant,
}

pub(crate) fn start(setup: Setup) -> AckerExecutor {
    let rotate_every = setup.settings.message_timeout;
    AckerExecutor {
        emitter: setup.emitter,
        inbox: setup.inbox,
        state: AckerState::default(),
        rotate_every,
        flush_interval: setup.settings.flush_interval,
        next_rotation: rotate_every.map(|t| Instant::now() + t),
        last_flush: Instant::now(),
    }
}

impl Executor for AckerExecutor {
    fn step(&mut self, _wake: &Wake) -> Step {
        while let Ok(c) = self.inbox.control.try_recv() {
            if control(&mut self.emitter, c) {
                return Step::Done;
            }
        }
        if let (Some(at), Some(every)) = (self.next_rotation, self.rotate_every)
            && Instant::now() >= at
        {
            let dropped = self.state.rotate();
            if dropped > 0 {
                tracing::debug!(dropped, "acker dropped trees untouched for two timeouts");
            }
            self.next_rotation = Some(at + every);
        }
        if self.emitter.outbox.stalled() {
            return Step::Idle(Some(self.deadline()));
        }
        for _ in 0..BATCHES_PER_STEP {
            match self.inbox.data.try_recv() {
                Ok(batch) => {
                    self.inbox.waker.taken();
                    apply(&mut self.state, &mut self.emitter, batch);
                    if self.last_flush.elapsed() >= self.flush_interval {
                        self.emitter.outbox.flush();
                        publish(&mut self.emitter, &self.state, self.inbox.data.len());
                        self.last_flush = Instant::now();
                    }
                    if self.emitter.outbox.stalled() {
                        return Step::Idle(Some(self.deadline()));
                    }
                }
                Err(_) => {
                    self.emitter.outbox.flush();
                    publish(&mut self.emitter, &self.state, self.inbox.data.len());
                    self.last_flush = Instant::now();
                    self.emitter.outbox.stalled();
                    return Step::Idle(Some(self.deadline()));
                }
            }
        }
        Step::Busy
    }

    fn finish(&mut self) -> Report {
        self.emitter.outbox.release();
        publish(&mut self.emitter, &self.state, self.inbox.data.len());
        Report { captured: None }
    }
}

impl AckerExecutor {
    fn deadline(&self) -> Instant {
        let idle = Instant::now() + IDLE_WAKE;
        self.next_rotation.map_or(idle, |at| at.min(idle))
    }
}

/// Applies a lifecycle command; `true` means stop.
fn control(emitter: &mut Emitter, c: Control) -> bool {
    match c {
        Control::Shutdown { .. } => true,
        Control::Rewire(w) => {
            emitter.outbox.rewire(w.peers, w.task_peer);
            false
        }
        Control::Acks(_) | Control::Activate | Control::Deactivate => false,
    }
}

fn apply(state: &mut AckerState, emitter: &mut Emitter, batch: Batch) {
    if let Batch::Acks(msgs) = batch {
        emitter.counters.executed += msgs.len() as u64;
        for msg in &msgs {
            if let Some(answer) = state.apply(msg) {
                emitter.outbox.push_ack(answer.task, answer);
            }
        }
    }
    emitter.outbox.batches_done += 1;
}

fn publish(emitter: &mut Emitter, state: &AckerState, queued: usize) {
    emitter.counters.pending = state.len() as u64;
    emitter.publish(queued, false);
}
