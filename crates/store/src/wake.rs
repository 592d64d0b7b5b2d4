//! Waking sleeping workers when a grant becomes due.
//!
//! Every store keeps one [`tokio::sync::watch`] counter. PostgreSQL bumps it from a background
//! `LISTEN grantflow_due` task (the trigger in the migrations notifies after any statement that
//! leaves an unleased grant due within 5 seconds, whichever process wrote it); SQLite bumps it
//! in-process after a write that leaves an unleased grant with any wake-up time. A worker holds a [`WakeSignal`] and waits on it with a timeout:
//! a lost notification only costs one poll interval.

use std::time::Duration;

use tokio::sync::watch;

/// The sending side, held by the store.
#[derive(Debug, Clone)]
pub(crate) struct Waker {
    tx: watch::Sender<u64>,
}

impl Waker {
    pub(crate) fn new() -> Self {
        Self {
            tx: watch::channel(0).0,
        }
    }

    pub(crate) fn wake(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn signal(&self) -> WakeSignal {
        WakeSignal {
            rx: self.tx.subscribe(),
        }
    }
}

/// A worker's view of the store's wake-ups. Wake-ups that happen between two waits are not lost:
/// the next wait returns at once.
#[derive(Debug, Clone)]
pub struct WakeSignal {
    rx: watch::Receiver<u64>,
}

impl WakeSignal {
    /// Waits until a grant may have become due, or `timeout` passed. Returns `true` when woken.
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.rx.changed()).await,
            Ok(Ok(()))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_before_the_wait_is_not_lost() {
        let waker = Waker::new();
        let mut signal = waker.signal();
        waker.wake();
        assert!(signal.wait(Duration::from_secs(5)).await);
        assert!(!signal.wait(Duration::from_millis(10)).await);
    }
}
