//! One job's life, read top-down in `run_job`: **plan** (the job, its scheme's tools, the
//! baseline) -> **source** (fetch, resolve, diff, checkout when a tool needs files) -> **tasks**
//! (each analyzer or tool) -> **store** (results and CLOSED in one transaction, then
//! supersede). Every stage takes the `JobRun` context and talks to the database only through
//! the store facade (`scan::job_store`), so no connection is held while git or a tool runs.

mod check;
mod count;
mod metrics;
mod notes;
mod plan;
mod source;
mod store;
mod tasks;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::domain::ids::{JobId, TaskId};
use crate::domain::job::{code, Job, JobState};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::scheme::Scheme;
use crate::git::GitError;
use crate::scan::job_store::JobStore;
use crate::scan::Shared;

pub use plan::{JobRules, Planned};

/// The per-file analyzers whose results the cache keeps, with their versions: results of any
/// other are deleted at start.
pub const ANALYZERS: &[&str] = &[count::ANALYZER, check::ANALYZER];

/// Why a job stopped before closing normally.
pub enum Stop {
    /// Close the job with this code and message.
    Fail(i64, String),
    /// Someone else closed the job (cancel, timeout, superseded) or the server is stopping:
    /// leave the row as it is.
    Abandon,
}

impl From<anyhow::Error> for Stop {
    fn from(error: anyhow::Error) -> Stop {
        Stop::Fail(code::E_SERVER, format!("database error: {error:#}"))
    }
}

pub type Step<T> = Result<T, Stop>;

/// A git failure, sorted into TCA's codes.
pub fn git_stop(error: GitError) -> Stop {
    let result_code = match &error {
        GitError::Auth(_) => code::E_SERVER_SCM_AUTH_ERROR,
        GitError::NotFound(_) => code::E_SERVER_SCM_NOT_FOUND,
        GitError::Forbidden(_) => code::E_SERVER_SCM_FORBIDDEN_ACCESS,
        GitError::Timeout(_) | GitError::Other(_) => code::E_SERVER_SCM,
    };
    Stop::Fail(result_code, error.to_string())
}

/// The job being run, and what every stage needs to know of it.
pub struct JobRun<'s> {
    pub shared: &'s Shared,
    pub job: Job,
    pub project: Project,
    pub repo: Repo,
    pub scheme: Scheme,
    /// What the scheme's rule configuration and path filters mean for this job.
    pub rules: JobRules,
    /// The job's own log (source, revisions, files, timings).
    pub log: File,
    pub started: Instant,
}

impl JobRun<'_> {
    pub fn id(&self) -> JobId {
        self.job.id
    }

    pub fn store(&self) -> &dyn JobStore {
        &*self.shared.store
    }

    /// Adds a line to the job's log.
    pub fn note(&mut self, line: impl std::fmt::Display) {
        let _ = writeln!(self.log, "{line}");
    }

    /// Milliseconds since the job started, for the log.
    pub fn elapsed_ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }

    /// Stops unless the job is still in `expected` and the server is not stopping.
    pub fn still(&self, expected: JobState) -> Step<()> {
        still(self.shared, self.id(), expected)
    }

    /// Moves the job from `from` to `to`, or stops when someone else moved it.
    pub fn advance(&self, from: JobState, to: JobState) -> Step<()> {
        if self.store().transition(self.id(), from, to)? {
            Ok(())
        } else {
            Err(Stop::Abandon)
        }
    }
}

/// Runs job `job_id`, which this worker claimed, to its close.
pub fn run_job(shared: &Shared, job_id: JobId) -> Step<()> {
    let (mut run, tasks) = plan::plan(shared, job_id)?;
    let source = source::fetch(&mut run)?;
    run.still(JobState::Initing)?;
    if let Some(base_job) = source.unchanged_since() {
        return store::nothing_to_scan(&mut run, &source, base_job, tasks.len());
    }
    let task_ids = plan::create_tasks(&run, &tasks)?;
    let files = source::prepare(&mut run, &source, &tasks)?;
    run.advance(JobState::Inited, JobState::Running)?;
    let outcome = tasks::run_all(&mut run, &source, &files, &tasks, &task_ids)?;
    store::close(&mut run, &source, &files, outcome)
}

/// Stops unless job `job_id` is still in `expected` and the server is not stopping.
pub fn still(shared: &Shared, job_id: JobId, expected: JobState) -> Step<()> {
    if shared.is_stopping() {
        return Err(Stop::Abandon);
    }
    match shared.store.state(job_id)? {
        Some(state) if state == expected => Ok(()),
        _ => Err(Stop::Abandon),
    }
}

pub fn set_progress(shared: &Shared, task_id: TaskId, progress_rate: i64) -> Step<()> {
    Ok(shared.store.set_progress(task_id, progress_rate)?)
}

/// Opens a log file for appending, creating its directory.
pub fn open_log(path: &Path) -> Step<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| {
            Stop::Fail(
                code::E_SERVER,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            Stop::Fail(
                code::E_SERVER,
                format!("cannot open {}: {e}", path.display()),
            )
        })
}
