//! The acker executor: applies acker messages to its [`AckerState`] and answers the spout
//! task of every tree that completed, failed or had its timeout reset.

use std::time::{Duration, Instant};

use crossbeam_channel::{TryRecvError, select};

use super::{Report, Setup};
use crate::acker::AckerState;
use crate::collector::Emitter;
use crate::message::{Batch, Control};

/// Without message timeouts the acker still wakes now and then to publish its counters.
const IDLE_WAKE: Duration = Duration::from_secs(1);

pub(crate) fn run(setup: Setup) -> Report {
    let mut emitter = setup.emitter;
    let inbox = setup.inbox;
    let mut state = AckerState::default();
    let rotate_every = setup.settings.message_timeout;
    let flush_interval = setup.settings.flush_interval;
    let mut next_rotation = rotate_every.map(|t| Instant::now() + t);
    let mut last_flush = Instant::now();
    'run: loop {
        while let Ok(c) = inbox.control.try_recv() {
            if control(&mut emitter, c) {
                break 'run;
            }
        }
        if let (Some(at), Some(every)) = (next_rotation, rotate_every)
            && Instant::now() >= at
        {
            let dropped = state.rotate();
            if dropped > 0 {
                tracing::debug!(dropped, "acker dropped trees untouched for two timeouts");
            }
            next_rotation = Some(at + every);
        }
        match inbox.data.try_recv() {
            Ok(batch) => {
                inbox.waker.taken();
                apply(&mut state, &mut emitter, batch);
                if last_flush.elapsed() >= flush_interval {
                    emitter.outbox.flush();
                    publish(&mut emitter, &state, inbox.data.len());
                    last_flush = Instant::now();
                }
            }
            Err(empty_or_closed) => {
                emitter.outbox.flush();
                publish(&mut emitter, &state, inbox.data.len());
                last_flush = Instant::now();
                let wake = next_rotation
                    .map(|at| at.saturating_duration_since(Instant::now()))
                    .unwrap_or(IDLE_WAKE);
                if empty_or_closed == TryRecvError::Disconnected {
                    if let Ok(c) = inbox.control.recv_timeout(wake)
                        && control(&mut emitter, c)
                    {
                        break 'run;
                    }
                    continue;
                }
                select! {
                    recv(inbox.data) -> batch => if let Ok(batch) = batch {
                        inbox.waker.taken();
                        apply(&mut state, &mut emitter, batch);
                    },
                    recv(inbox.control) -> c => if let Ok(c) = c && control(&mut emitter, c) {
                        break 'run;
                    },
                    default(wake) => {}
                }
            }
        }
    }
    emitter.outbox.flush();
    publish(&mut emitter, &state, inbox.data.len());
    Report { captured: None }
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
