//! What the server's background threads (`scan-scheduler`, `housekeeping`) share: a stop signal
//! they sleep on between rounds, so a shutdown wakes them at once instead of after a tick.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct StopSignal {
    is_stopping: Mutex<bool>,
    condvar: Condvar,
}

impl StopSignal {
    /// Sleeps `wait`, or less when stopped meanwhile; whether the thread should stop.
    pub fn sleep(&self, wait: Duration) -> bool {
        let guard = self.is_stopping.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .condvar
            .wait_timeout_while(guard, wait, |is_stopping| !*is_stopping)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    pub fn is_stopping(&self) -> bool {
        *self.is_stopping.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the sleepers to stop, waking them.
    pub fn stop(&self) {
        *self.is_stopping.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.condvar.notify_all();
    }
}
