//! Waking whoever waits for room in an executor's bounded input queue without blocking a
//! thread: network streams (each destination executor's batches arrive on a stream of their
//! own, parked, not a thread, while the queue is full) and executors of this process whose
//! outbox holds a batch the queue refused (parked in the pool until there is room). The
//! executor's side costs one relaxed load per batch taken while nobody waits.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::executor::pool::Wake;

/// Shared by an executor's input queue and whoever feeds it.
#[derive(Debug, Default)]
pub(crate) struct QueueWaker {
    waiting: AtomicBool,
    notify: Notify,
    executors: Mutex<Vec<Wake>>,
}

impl QueueWaker {
    /// The executor took a batch: wake the waiting streams and executors, if any. The fence
    /// pairs with the waiter's SeqCst store before its second look at the queue: either the
    /// waiter sees the room, or this sees the flag (a few nanoseconds a batch, not a tuple).
    #[inline]
    pub fn taken(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) {
            self.wake_all();
        }
    }

    #[cold]
    fn wake_all(&self) {
        self.waiting.store(false, Ordering::Relaxed);
        self.notify.notify_waiters();
        let waiting =
            std::mem::take(&mut *self.executors.lock().unwrap_or_else(|p| p.into_inner()));
        for wake in waiting {
            wake.wake();
        }
    }

    /// Registers a waiting stream and returns the future it awaits. Register first, then look
    /// at the queue again, then await: a batch taken in between wakes the registered future.
    pub fn prepare(&self) -> tokio::sync::futures::Notified<'_> {
        let notified = self.notify.notified();
        self.waiting.store(true, Ordering::SeqCst);
        notified
    }

    /// Registers an executor to wake at the next batch taken. As with [`Self::prepare`], the
    /// caller looks at the queue again afterwards.
    pub fn wake_on_room(&self, wake: &Wake) {
        {
            let mut executors = self.executors.lock().unwrap_or_else(|p| p.into_inner());
            if !executors.iter().any(|w| w.same(wake)) {
                executors.push(wake.clone());
            }
        }
        self.waiting.store(true, Ordering::SeqCst);
    }
}
