//! The scan engine: a pool of named worker threads that take jobs from the jobs table (the
//! queue, which survives restarts), a monitor thread that enforces job time limits, and
//! `ScanQueue`, the handle the API uses to wake workers, revoke jobs and wait for them.

pub mod checkout;
pub mod job_store;
pub mod lifecycle;
mod listings;
mod objects;
pub mod per_file;
pub mod process;
mod run;
mod tools;
mod worker;

pub use lifecycle::Cancelled;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::Context;

use crate::analyzers::Catalog;
use crate::config::{Config, ScanLimits};
use crate::db::{self, Pool};
use crate::domain::ids::{JobId, RepoId, TaskId, UserId};

/// A job is re-queued at most this many times by server starts; then it is closed with code 100.
pub const MAX_RESTARTS: i64 = 3;

/// How often idle workers and the monitor look at the table even without a wake-up.
const POLL: Duration = Duration::from_secs(1);

/// State shared by the workers, the monitor and the API.
pub struct Shared {
    pub pool: Pool,
    /// What the engine reads and writes, through the store facade only.
    pub store: Box<dyn job_store::JobStore>,
    pub catalog: Catalog,
    pub git_cache_dir: PathBuf,
    pub workspace_dir: PathBuf,
    pub logs_dir: PathBuf,
    /// Where local repositories may live; checked again before every fetch.
    pub local_repo_roots: Vec<PathBuf>,
    pub processes: process::Processes,
    pub confinement: crate::sandbox::Confinement,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// How much of a repository one scan takes.
    pub limits: ScanLimits,
    /// The last few tree listings.
    pub listings: listings::Listings,
    /// No new job is taken (a graceful stop has begun); running jobs go on.
    draining: AtomicBool,
    /// Running jobs are abandoned and their tools killed.
    stopping: AtomicBool,
    workers_wanted: usize,
    workers_alive: AtomicUsize,
    workers_busy: AtomicUsize,
    wake: (Mutex<u64>, Condvar),
    /// What the monitor sleeps on: told only when the engine stops, so that queueing a job
    /// never wakes it.
    stop: (Mutex<()>, Condvar),
    watchers: Mutex<HashMap<JobId, Vec<tokio::sync::oneshot::Sender<()>>>>,
    repo_locks: Mutex<HashMap<RepoId, Arc<Mutex<()>>>>,
}

impl Shared {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Whether workers should take no new job.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst) || self.is_stopping()
    }

    /// Marks a worker busy with a job until the guard drops.
    fn working(&self) -> AliveGuard<'_> {
        self.workers_busy.fetch_add(1, Ordering::SeqCst);
        AliveGuard(&self.workers_busy)
    }

    /// (scan workers running their loop, scan workers started).
    pub fn workers_alive(&self) -> (usize, usize) {
        (
            self.workers_alive.load(Ordering::SeqCst),
            self.workers_wanted,
        )
    }

    /// Wakes one idle worker (a job was queued).
    pub fn wake(&self) {
        let (count, condvar) = &self.wake;
        *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        condvar.notify_all();
    }

    /// The monitor's sleep: `POLL`, or until the engine stops.
    fn rest(&self) {
        let (lock, condvar) = &self.stop;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let _ = condvar
            .wait_timeout_while(guard, POLL, |_| !self.is_stopping())
            .map_err(|p| p.into_inner());
    }

    /// A worker's sleep: until woken or `POLL` passes.
    fn idle(&self) {
        let (count, condvar) = &self.wake;
        let guard = count.lock().unwrap_or_else(|p| p.into_inner());
        let seen = *guard;
        let _ = condvar
            .wait_timeout_while(guard, POLL, |now| *now == seen && !self.is_draining())
            .map_err(|p| p.into_inner());
    }

    /// Tells everyone waiting on `job_id` that it closed.
    pub fn job_closed(&self, job_id: JobId) {
        let senders = self
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&job_id);
        for sender in senders.into_iter().flatten() {
            let _ = sender.send(());
        }
    }

    /// The lock that serialises git work on one repository's cache.
    pub fn repo_lock(&self, repo_id: RepoId) -> Arc<Mutex<()>> {
        self.repo_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(repo_id)
            .or_default()
            .clone()
    }

    /// A task's log file.
    pub fn task_log_path(&self, job_id: JobId, task_id: crate::domain::ids::TaskId) -> PathBuf {
        task_log_path(&self.logs_dir, job_id, task_id)
    }

    /// The job's own log (source, revisions, file counts).
    pub fn job_log_path(&self, job_id: JobId) -> PathBuf {
        job_log_path(&self.logs_dir, job_id)
    }
}

/// The directory of a job's logs (its own and its tasks') below the logs directory.
/// Lowers the calling thread's CPU priority by `nice` (added to the niceness it inherited, at
/// most 19). On Linux niceness is per thread, and the threads and processes a thread starts
/// inherit it: the scans and their tools run below the requests that queue them. A failure only
/// costs that precedence: it is logged, not fatal.
#[allow(unsafe_code)]
fn lower_priority(nice: i32) {
    use nix::libc::{getpriority, id_t, setpriority, PRIO_PROCESS};
    if nice == 0 {
        return;
    }
    let tid = nix::unistd::gettid().as_raw() as id_t;
    // SAFETY: both calls only read their integer arguments; `tid` is this thread's id.
    // getpriority can return -1 as a value: errno tells, and -1 + nice is right in either case.
    let done = unsafe {
        let now = getpriority(PRIO_PROCESS, tid);
        setpriority(PRIO_PROCESS, tid, (now + nice).min(19))
    };
    if done != 0 {
        log::warn!(
            "could not lower a scan worker's priority by {nice}: {}",
            std::io::Error::last_os_error()
        );
    }
}

pub fn job_logs_dir(logs_dir: &Path, job_id: JobId) -> PathBuf {
    logs_dir.join(format!("job-{job_id}"))
}

/// Where a task's log lives below the logs directory.
pub fn task_log_path(
    logs_dir: &Path,
    job_id: JobId,
    task_id: crate::domain::ids::TaskId,
) -> PathBuf {
    job_logs_dir(logs_dir, job_id).join(format!("task-{task_id}.log"))
}

/// Where a job's own log lives below the logs directory.
pub fn job_log_path(logs_dir: &Path, job_id: JobId) -> PathBuf {
    job_logs_dir(logs_dir, job_id).join("job.log")
}

/// The handle the API holds. Cloning is cheap.
#[derive(Clone)]
pub struct ScanQueue {
    shared: Arc<Shared>,
}

impl ScanQueue {
    /// Wakes a worker: a job was inserted (and committed). When every worker is busy nobody is
    /// woken: a worker takes the next job straight after its current one, before it would sleep,
    /// and that is after this commit. Waking them anyway woke the monitor too, which then read
    /// the table, on every `scans/create` of a burst.
    pub fn job_added(&self) {
        let shared = &self.shared;
        if shared.workers_busy.load(Ordering::SeqCst) < shared.workers_alive.load(Ordering::SeqCst)
        {
            shared.wake();
        }
    }

    /// A receiver that fires once `job_id` is CLOSED. Register before checking the job's state,
    /// so a close in between is not missed. It fails if the server stops first.
    pub fn watch(&self, job_id: JobId) -> tokio::sync::oneshot::Receiver<()> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.shared
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(job_id)
            .or_default()
            .push(sender);
        receiver
    }

    /// Cancels `job_id` for `nickname` (revoke with 301, tools killed, watchers woken) inside
    /// the caller's connection; see `lifecycle::cancel`.
    pub fn cancel(
        &self,
        conn: &mut rusqlite::Connection,
        job_id: JobId,
        nickname: &str,
        user_id: UserId,
        remarks: &str,
    ) -> rusqlite::Result<Cancelled> {
        lifecycle::cancel(&self.shared, conn, job_id, nickname, user_id, remarks)
    }

    /// Where a task's log is (it may not exist yet).
    pub fn task_log_path(&self, job_id: JobId, task_id: TaskId) -> PathBuf {
        self.shared.task_log_path(job_id, task_id)
    }

    /// Where a job's own log is (it may not exist yet).
    pub fn job_log_path(&self, job_id: JobId) -> PathBuf {
        self.shared.job_log_path(job_id)
    }

    /// (scan workers running their loop, scan workers started), for `/readyz`.
    pub fn workers_alive(&self) -> (usize, usize) {
        self.shared.workers_alive()
    }

    /// Scan workers running a job now, for the node list TCA's UI shows.
    pub fn workers_busy(&self) -> usize {
        self.shared.workers_busy.load(Ordering::SeqCst)
    }

    /// How tools run on this server, for the queue summary.
    pub fn confinement(&self) -> &crate::sandbox::Confinement {
        &self.shared.confinement
    }
}

/// The running engine. Dropping it without `shutdown` leaves the threads running.
pub struct ScanPool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl ScanPool {
    /// Re-queues interrupted jobs, clears stale workspaces, then starts `config.scan_workers`
    /// workers and the monitor.
    pub fn start(
        pool: Pool,
        config: &Config,
        catalog: Catalog,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<ScanPool> {
        let logs_dir = config.logs_dir();
        std::fs::create_dir_all(&logs_dir)
            .with_context(|| format!("creating {}", logs_dir.display()))?;
        let confinement = crate::sandbox::Confinement::build(config)?;
        let shared = Arc::new(Shared {
            store: Box::new(job_store::SqliteStore::new(pool.clone())),
            pool,
            catalog,
            git_cache_dir: config.git_cache_dir(),
            workspace_dir: config.workspace_dir(),
            logs_dir,
            local_repo_roots: config.local_repo_roots.clone(),
            processes: process::Processes::default(),
            confinement,
            metrics,
            limits: config.limits,
            listings: listings::Listings::default(),
            draining: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            workers_wanted: config.scan_workers,
            workers_alive: AtomicUsize::new(0),
            workers_busy: AtomicUsize::new(0),
            wake: (Mutex::new(0), Condvar::new()),
            stop: (Mutex::new(()), Condvar::new()),
            watchers: Mutex::new(HashMap::new()),
            repo_locks: Mutex::new(HashMap::new()),
        });
        // Before any worker runs: whatever a previous process had taken was interrupted.
        {
            let mut conn = shared.pool.get()?;
            // One transaction: the jobs given up close with their notifications in the outbox.
            let tx = db::begin(&mut conn)?;
            let (requeued, given_up) = db::jobs::requeue_interrupted(&tx, MAX_RESTARTS)?;
            tx.commit()?;
            if requeued + given_up > 0 {
                log::warn!("found {requeued} interrupted jobs (re-queued) and {given_up} interrupted too often (closed with 100)");
            }
            let pruned = db::results::prune_other_analyzers(&conn, run::ANALYZERS)?;
            if pruned > 0 {
                log::info!("removed {pruned} cached results of older analyzer versions");
            }
        }
        checkout::clear_workspaces(&shared.workspace_dir);
        checkout::remove_partial_clones(&shared.git_cache_dir);
        let mut threads = Vec::new();
        for n in 0..config.scan_workers {
            let shared = shared.clone();
            let nice = config.scan_nice;
            shared.workers_alive.fetch_add(1, Ordering::SeqCst);
            threads.push(
                thread::Builder::new()
                    .name(format!("scan-worker-{n}"))
                    .spawn(move || {
                        // Counted up before the thread started (so /readyz never sees a worker
                        // that is merely starting as dead), down however the loop ends.
                        let _alive = AliveGuard(&shared.workers_alive);
                        lower_priority(nice);
                        worker::run(&shared)
                    })
                    .context("starting a scan worker")?,
            );
        }
        let monitor_shared = shared.clone();
        threads.push(
            thread::Builder::new()
                .name("scan-monitor".into())
                .spawn(move || lifecycle::monitor(&monitor_shared))
                .context("starting the scan monitor")?,
        );
        Ok(ScanPool { shared, threads })
    }

    pub fn queue(&self) -> ScanQueue {
        ScanQueue {
            shared: self.shared.clone(),
        }
    }

    /// Stops the engine. Call after the HTTP server stopped, so no new job can arrive. Workers
    /// take no new job; running jobs get `grace` to finish. Then the tools still running are
    /// killed and their jobs left unfinished: the next start re-queues them (that is what
    /// `restart_count` counts). Waiting requests are released with an error.
    pub fn shutdown(self, grace: Duration) {
        self.shared.draining.store(true, Ordering::SeqCst);
        self.shared.wake();
        let deadline = std::time::Instant::now() + grace;
        let busy = || self.shared.workers_busy.load(Ordering::SeqCst) > 0;
        if busy() && !grace.is_zero() {
            log::info!("stopping: letting running jobs finish for up to {grace:?}");
        }
        while busy() && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake();
        {
            let _held = self.shared.stop.0.lock().unwrap_or_else(|p| p.into_inner());
            self.shared.stop.1.notify_all();
        }
        self.shared.processes.kill_all();
        for handle in self.threads {
            let _ = handle.join();
        }
        self.shared
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Counts a worker down when its loop (or its job) ends.
struct AliveGuard<'a>(&'a AtomicUsize);

impl Drop for AliveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
