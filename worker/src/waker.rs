//! Waking whoever waits for room in an executor's bounded input queue without blocking a
//! thread: the network receiver delivers each destination executor's batches from its own
//! stream, and when that executor's queue is full it parks the stream (not a thread, not the
//! other streams) until the executor takes a batch. The executor's side costs one relaxed load
//! per batch taken while nobody waits.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Shared by an executor's input queue and the streams that feed it.
#[derive(Debug, Default)]
pub(crate) struct QueueWaker {
    waiting: AtomicBool,
    notify: Notify,
}

impl QueueWaker {
    /// The executor took a batch: wake the waiting streams, if any. The fence pairs with the
    /// waiter's SeqCst store before its second look at the queue: either the waiter sees the
    /// room, or this sees the flag (a few nanoseconds a batch, not a tuple).
    #[inline]
    pub fn taken(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) {
            self.waiting.store(false, Ordering::Relaxed);
            self.notify.notify_waiters();
        }
    }

    /// Registers a waiter and returns the future it awaits. Register first, then look at the
    /// queue again, then await: a batch taken in between wakes the registered future.
    pub fn prepare(&self) -> tokio::sync::futures::Notified<'_> {
        let notified = self.notify.notified();
        self.waiting.store(true, Ordering::SeqCst);
        notified
    }
}
