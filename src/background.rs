//! What the server's background threads (`scan-scheduler`, `notify-delivery`, `housekeeping`)
//! share: a stop signal they sleep on between rounds, so a shutdown wakes them at once instead of
//! after a tick, and `Ticker`, a thread that does its work once per tick.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
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

/// A named thread that runs its work at once and then once per tick until `shutdown`. The work
/// is handed a check of whether a stop was asked, so a long pass can end early. The scheduler
/// and the notification thread (`crate::notify`) run on one each.
pub struct Ticker {
    stop: Arc<StopSignal>,
    thread: JoinHandle<()>,
}

impl Ticker {
    pub fn spawn(
        name: &str,
        tick: Duration,
        mut work: impl FnMut(&dyn Fn() -> bool) + Send + 'static,
    ) -> std::io::Result<Ticker> {
        let stop = Arc::new(StopSignal::default());
        let thread_stop = stop.clone();
        let thread = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || loop {
                work(&|| thread_stop.is_stopping());
                if thread_stop.sleep(tick) {
                    return;
                }
            })?;
        Ok(Ticker { stop, thread })
    }

    /// Stops the thread and waits for it (at most the end of one pass).
    pub fn shutdown(self) {
        self.stop.stop();
        let _ = self.thread.join();
    }
}
