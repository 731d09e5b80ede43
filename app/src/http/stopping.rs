//! The portal's "stopping" signal. When SIGTERM (or Ctrl-C) arrives, held
//! requests (the nodes' long-polls) answer at once instead of running out
//! their wait, so graceful shutdown takes milliseconds, not 25 seconds.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::watch;

struct Inner {
    stopping: watch::Sender<bool>,
    held: AtomicUsize,
}

#[derive(Clone)]
pub struct Stopping(Arc<Inner>);

impl Default for Stopping {
    fn default() -> Self {
        Self(Arc::new(Inner {
            stopping: watch::Sender::new(false),
            held: AtomicUsize::new(0),
        }))
    }
}

/// A request parked until something changes; counted while it lives.
pub struct Held(Arc<Inner>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Stopping {
    /// From now on, `wait` returns at once.
    pub fn begin(&self) {
        self.0.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.0.stopping.borrow()
    }

    /// Resolves when the portal starts stopping (at once if it has).
    pub async fn wait(&self) {
        let mut rx = self.0.stopping.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Marks a request as parked (a long-poll) for as long as the guard lives.
    pub fn hold(&self) -> Held {
        self.0.held.fetch_add(1, Ordering::SeqCst);
        Held(self.0.clone())
    }

    /// How many requests are parked now (`truevault_held_requests`).
    pub fn held(&self) -> usize {
        self.0.held.load(Ordering::SeqCst)
    }
}
