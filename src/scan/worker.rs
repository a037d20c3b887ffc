//! The worker loop: take the oldest waiting job and run it (`scan::run`), closing it with a
//! failure code when it stops early or panics.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::domain::ids::JobId;
use crate::domain::job::code;
use crate::scan::run::{self, Stop};
use crate::scan::{lifecycle, Shared};

/// The worker thread's body.
pub fn run(shared: &Shared) {
    while !shared.is_draining() {
        match shared.store.claim_next() {
            Ok(Some(job_id)) => {
                let _busy = shared.working();
                run_guarded(shared, job_id);
                give_back_memory();
            }
            Ok(None) => shared.idle(),
            Err(error) => {
                log::error!("cannot take a job: {error:#}");
                shared.idle();
            }
        }
    }
}

/// Runs one job; a panic closes it with a server code instead of killing the worker.
fn run_guarded(shared: &Shared, job_id: JobId) {
    log::info!("job {job_id}: started");
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| run::run_job(shared, job_id)));
    shared.metrics.job_ran(started.elapsed());
    let stop = match result {
        Ok(Ok(())) => return,
        Ok(Err(stop)) => stop,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Stop::Fail(
                code::E_SERVER,
                format!("internal error while running the job: {what}"),
            )
        }
    };
    match stop {
        Stop::Abandon => {
            log::info!("job {job_id}: left as it is (closed elsewhere or server stopping)")
        }
        Stop::Fail(result_code, message) => {
            match shared.store.revoke(job_id, result_code, &message) {
                Ok(true) => {
                    log::info!("job {job_id} revoked with {result_code}: {message}");
                    lifecycle::closed(shared, job_id, result_code);
                }
                Ok(false) => {}
                Err(error) => log::error!(
                    "job {job_id}: could not record failure {result_code} ({message}): {error:#}"
                ),
            }
        }
    }
}

/// Returns the heap a job freed to the system. glibc keeps freed memory for reuse by default, so
/// one large scan (hundreds of thousands of findings) would otherwise stay in the server's
/// resident memory until it exits.
#[allow(unsafe_code)]
fn give_back_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes their locks as malloc does.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}
