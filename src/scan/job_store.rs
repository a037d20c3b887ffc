//! The store facade: everything the scan engine reads from or writes to the database goes
//! through `JobStore`. Each method takes a pooled connection and gives it back before it
//! returns, so no connection is ever held while git or a tool runs, by construction. The trait
//! is the seam where a worker on another machine, or another database, plugs in later;
//! `SqliteStore` is the one implementation.

use rusqlite::Connection;

use crate::analyzers::codecount::Count;
use crate::db::{self, findings, metrics, results, Pool};
use crate::domain::gate::GateVerdict;
use crate::domain::ids::{JobId, ProjectId, ScanId, TaskId};
use crate::domain::job::{code, Job, JobState, ToolModule, INCR_IGNORE_MSG};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::rules::SchemeRules;
use crate::domain::scheme::Scheme;
use crate::scan::checkout::TreeEntry;
use crate::scan::lifecycle;
use crate::scan::per_file::CacheUpdate;

pub type StoreResult<T> = anyhow::Result<T>;

/// A job with the records it names.
pub struct Loaded {
    pub job: Job,
    pub project: Project,
    pub repo: Repo,
    pub scheme: Scheme,
    /// The scheme's rule configuration and path filters.
    pub rules: SchemeRules,
}

/// What a job that closes normally stores, in the transaction that closes it.
#[derive(Default)]
pub struct Results<'a> {
    pub line_counts: Option<&'a Count>,
    /// Per-file results of the in-process analyzers, and the project's references to them.
    pub caches: Vec<&'a CacheUpdate<'a>>,
    pub findings: Option<findings::ScanFindings<'a>>,
    /// The identity of the rule configuration and path filters the results were found with.
    pub config_hash: Option<&'a str>,
    pub cc: Option<metrics::CcResults<'a>>,
    pub dup: Option<metrics::DupResults<'a>>,
}

/// What closing a job did.
pub struct Closed {
    pub recorded: Option<findings::Recorded>,
    pub cc: Option<metrics::CcRecorded>,
    /// The quality gate's verdict, when the scheme has thresholds.
    pub gate: Option<GateVerdict>,
    /// The project's older unfinished jobs this close superseded (closed with code 2).
    pub superseded: Vec<JobId>,
}

pub trait JobStore: Send + Sync {
    /// Takes the oldest WAITING job (WAITING -> INITING).
    fn claim_next(&self) -> StoreResult<Option<JobId>>;
    /// The job and its project, repository and scheme; `None` when the job is gone.
    fn load(&self, job_id: JobId) -> StoreResult<Option<Loaded>>;
    fn state(&self, job_id: JobId) -> StoreResult<Option<JobState>>;
    /// A compare-and-set on the job's state; whether it moved.
    fn transition(&self, job_id: JobId, from: JobState, to: JobState) -> StoreResult<bool>;
    /// The revision and job of the project's last stored scan other than `job_id`.
    fn baseline(
        &self,
        project_id: ProjectId,
        job_id: JobId,
    ) -> StoreResult<Option<(String, JobId)>>;
    fn set_revisions(&self, scan_id: ScanId, revision: &str, base: Option<&str>)
        -> StoreResult<()>;
    /// The identity of the configuration job `job_id`'s results were found with, if recorded.
    fn job_config(&self, job_id: JobId) -> StoreResult<Option<String>>;
    /// One task per `(module, tool)`, and the job's task count, in one transaction.
    fn create_tasks(&self, job_id: JobId, tasks: &[(ToolModule, &str)])
        -> StoreResult<Vec<TaskId>>;
    fn start_task(&self, task_id: TaskId) -> StoreResult<()>;
    fn set_progress(&self, task_id: TaskId, progress_rate: i64) -> StoreResult<()>;
    /// Closes a task and counts it done, in one transaction.
    fn close_task(
        &self,
        job_id: JobId,
        task_id: TaskId,
        code: i64,
        message: &str,
    ) -> StoreResult<()>;
    /// Closes a job whose head equals its baseline with TCA's code 1, the baseline's line
    /// counts and all `task_num` tasks done, in one transaction. Whether this call closed it.
    fn nothing_to_scan(&self, job_id: JobId, base_job: JobId, task_num: usize)
        -> StoreResult<bool>;
    /// Closes a job that is not CLOSED with a failure code. Whether this call closed it.
    fn revoke(&self, job_id: JobId, code: i64, message: &str) -> StoreResult<bool>;
    /// RUNNING -> CLOSING, then the results and CLOSED in one transaction, then the project's
    /// older unfinished jobs superseded. `None` when someone else closed the job first.
    fn close(&self, job_id: JobId, results: &Results<'_>) -> StoreResult<Option<Closed>>;
    /// Whether job `job_id` measured complexity.
    fn measured_cc(&self, job_id: JobId) -> StoreResult<bool>;
    /// The project's references in the result cache, a row at a time.
    fn cached_results(
        &self,
        scope: results::Scope<'_>,
        each: &mut dyn FnMut(&str, &str, &str),
    ) -> StoreResult<()>;
    /// What the repository's result cache holds for each of `entries`, by index.
    fn shared_results(
        &self,
        scope: results::Scope<'_>,
        entries: &[&TreeEntry],
        found: &mut dyn FnMut(usize, &str),
    ) -> StoreResult<()>;
}

/// The engine's store on the server's SQLite file.
pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    pub fn new(pool: Pool) -> SqliteStore {
        SqliteStore { pool }
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<r2d2_sqlite::SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }
}

/// What a close stored: the findings' changes, the complexity verdict, the gate's.
type Stored = (
    Option<findings::Recorded>,
    Option<metrics::CcRecorded>,
    Option<GateVerdict>,
);

/// The results of job `job_id` and its CLOSED state, in one transaction; `None` when the job
/// was no longer CLOSING (cancelled meanwhile).
fn store_results(
    conn: &mut Connection,
    job_id: JobId,
    results: &Results<'_>,
) -> StoreResult<Option<Stored>> {
    // The results and the final state go in one transaction: a crash keeps both or neither.
    let tx = db::begin(conn)?;
    if let Some(count) = results.line_counts {
        db::jobs::set_line_counts(&tx, job_id, &count.lines, &count.languages)?;
    }
    let found = results
        .findings
        .as_ref()
        .map_or(&[][..], |scan| scan.findings);
    for update in &results.caches {
        update.apply(&tx, found)?;
    }
    let recorded = match &results.findings {
        Some(scan) => {
            let recorded = findings::record(&tx, scan)?;
            db::trends::record_lint(&tx, scan.project_id, job_id, &recorded)?;
            Some(recorded)
        }
        None => None,
    };
    if let Some(config_hash) = results.config_hash {
        db::rules::set_job_config(&tx, job_id, config_hash)?;
    }
    let cc = match &results.cc {
        Some(measured) => Some(metrics::record_cc(&tx, measured)?),
        None => None,
    };
    if let Some(dup) = &results.dup {
        metrics::record_dup(&tx, dup)?;
    }
    // After every result is in, before the close writes the notifications that carry it.
    let gate = db::gate::judge_job(&tx, job_id)?;
    if !db::jobs::close(&tx, job_id, code::OK, "success", false)? {
        return Ok(None);
    }
    tx.commit()?;
    Ok(Some((recorded, cc, gate)))
}

fn missing(what: &str, id: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{what} {id} is gone")
}

impl JobStore for SqliteStore {
    fn claim_next(&self) -> StoreResult<Option<JobId>> {
        Ok(db::jobs::claim_next(&*self.conn()?)?)
    }

    fn load(&self, job_id: JobId) -> StoreResult<Option<Loaded>> {
        let conn = self.conn()?;
        let Some(job) = db::jobs::get(&conn, job_id)? else {
            return Ok(None);
        };
        let project = db::projects::get_by_id(&conn, job.project_id)?
            .ok_or_else(|| missing("project", job.project_id))?;
        let repo = db::repos::get_by_id(&conn, project.repo_id)?
            .ok_or_else(|| missing("repository", project.repo_id))?;
        let scheme = db::schemes::get(&conn, project.scheme_id)?
            .ok_or_else(|| missing("scheme", project.scheme_id))?;
        let rules = db::rules::for_scheme(&conn, scheme.id)?;
        Ok(Some(Loaded {
            job,
            project,
            repo,
            scheme,
            rules,
        }))
    }

    fn state(&self, job_id: JobId) -> StoreResult<Option<JobState>> {
        Ok(db::jobs::state(&*self.conn()?, job_id)?)
    }

    fn transition(&self, job_id: JobId, from: JobState, to: JobState) -> StoreResult<bool> {
        Ok(db::jobs::transition(&*self.conn()?, job_id, from, to)?)
    }

    fn baseline(
        &self,
        project_id: ProjectId,
        job_id: JobId,
    ) -> StoreResult<Option<(String, JobId)>> {
        Ok(db::jobs::baseline(&*self.conn()?, project_id, job_id)?)
    }

    fn job_config(&self, job_id: JobId) -> StoreResult<Option<String>> {
        Ok(db::rules::job_config(&*self.conn()?, job_id)?)
    }

    fn set_revisions(
        &self,
        scan_id: ScanId,
        revision: &str,
        base: Option<&str>,
    ) -> StoreResult<()> {
        Ok(db::jobs::set_revisions(
            &*self.conn()?,
            scan_id,
            revision,
            base,
        )?)
    }

    fn create_tasks(
        &self,
        job_id: JobId,
        tasks: &[(ToolModule, &str)],
    ) -> StoreResult<Vec<TaskId>> {
        let mut conn = self.conn()?;
        let tx = db::begin(&mut conn)?;
        let mut ids = Vec::with_capacity(tasks.len());
        for (module, name) in tasks {
            ids.push(db::tasks::insert(&tx, job_id, module.as_str(), name)?);
        }
        db::jobs::set_task_num(&tx, job_id, tasks.len() as i64)?;
        tx.commit()?;
        Ok(ids)
    }

    fn start_task(&self, task_id: TaskId) -> StoreResult<()> {
        db::tasks::start(&*self.conn()?, task_id)?;
        Ok(())
    }

    fn set_progress(&self, task_id: TaskId, progress_rate: i64) -> StoreResult<()> {
        Ok(db::tasks::set_progress(
            &*self.conn()?,
            task_id,
            progress_rate,
        )?)
    }

    fn close_task(
        &self,
        job_id: JobId,
        task_id: TaskId,
        code: i64,
        message: &str,
    ) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let tx = db::begin(&mut conn)?;
        db::tasks::close(&tx, task_id, code, message, 100)?;
        db::jobs::increment_task_done(&tx, job_id)?;
        tx.commit()?;
        Ok(())
    }

    fn nothing_to_scan(
        &self,
        job_id: JobId,
        base_job: JobId,
        task_num: usize,
    ) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let tx = db::begin(&mut conn)?;
        if !db::jobs::transition(&tx, job_id, JobState::Initing, JobState::Running)? {
            return Ok(false);
        }
        db::jobs::copy_line_counts(&tx, base_job, job_id)?;
        db::rules::copy_job_config(&tx, job_id, base_job)?;
        db::jobs::set_task_num(&tx, job_id, task_num as i64)?;
        db::jobs::set_all_tasks_done(&tx, job_id)?;
        // The revision is the baseline's: its scans' results give the verdict.
        db::gate::judge_job(&tx, job_id)?;
        let closed = lifecycle::revoke_in(&tx, job_id, code::INCR_IGNORE, INCR_IGNORE_MSG)?;
        tx.commit()?;
        Ok(closed)
    }

    fn revoke(&self, job_id: JobId, code: i64, message: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let tx = db::begin(&mut conn)?;
        let closed = lifecycle::revoke_in(&tx, job_id, code, message)?;
        tx.commit()?;
        Ok(closed)
    }

    fn close(&self, job_id: JobId, results: &Results<'_>) -> StoreResult<Option<Closed>> {
        let mut conn = self.conn()?;
        if !db::jobs::transition(&conn, job_id, JobState::Running, JobState::Closing)? {
            return Ok(None);
        }
        // A scan's findings are written once, in bulk: with a small page cache, given back
        // after (`db::in_bulk`), so the server's memory does not keep them.
        let stored = if results.findings.is_some() {
            db::in_bulk(&mut conn, db::Bulk::Write, |conn| {
                store_results(conn, job_id, results)
            })?
        } else {
            store_results(&mut conn, job_id, results)?
        };
        let Some((recorded, cc, gate)) = stored else {
            return Ok(None);
        };
        let superseded = supersede(&mut conn, job_id)?;
        Ok(Some(Closed {
            recorded,
            cc,
            gate,
            superseded,
        }))
    }

    fn measured_cc(&self, job_id: JobId) -> StoreResult<bool> {
        let conn = self.conn()?;
        Ok(metrics::measured_cc(&conn, job_id)?)
    }

    fn cached_results(
        &self,
        scope: results::Scope<'_>,
        each: &mut dyn FnMut(&str, &str, &str),
    ) -> StoreResult<()> {
        Ok(results::for_each_of_project(&*self.conn()?, scope, each)?)
    }

    fn shared_results(
        &self,
        scope: results::Scope<'_>,
        entries: &[&TreeEntry],
        found: &mut dyn FnMut(usize, &str),
    ) -> StoreResult<()> {
        let conn = self.conn()?;
        if entries.is_empty() || !results::any(&conn, scope)? {
            return Ok(());
        }
        for (index, entry) in entries.iter().enumerate() {
            if let Some(result) =
                results::lookup(&conn, scope, &entry.path, &entry.blob.to_string())?
            {
                found(index, &result);
            }
        }
        Ok(())
    }
}

/// Closes the project's unfinished jobs older than `job_id` with code 2 (TCA's redirect to the
/// newer job's result). Returns the jobs it closed.
fn supersede(conn: &mut rusqlite::Connection, job_id: JobId) -> StoreResult<Vec<JobId>> {
    let Some(job) = db::jobs::get(conn, job_id)? else {
        return Ok(Vec::new());
    };
    let scan_id = job.scan_id.map_or("null".to_string(), |id| id.to_string());
    let message = format!(
        r#"{{"job_id": {job_id}, "scan_id": {scan_id}, "msg": "plz check the other job's result"}}"#
    );
    let mut superseded = Vec::new();
    for older in db::jobs::older_unfinished(conn, job.project_id, job_id)? {
        let tx = db::begin(conn)?;
        if lifecycle::revoke_in(&tx, older, code::CLIENT_REDIRECT, &message)? {
            superseded.push(older);
        }
        tx.commit()?;
    }
    Ok(superseded)
}

#[cfg(test)]
mod tests {
    /// "No connection is held while git or a tool runs" holds by construction: in `scan/`, only
    /// the store facade and the close paths the API and the monitor use take a connection.
    #[test]
    fn only_the_store_facade_and_lifecycle_take_connections_in_the_engine() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scan");
        let mut dirs = vec![root.clone()];
        let mut offenders = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                if ["job_store.rs", "lifecycle.rs", "mod.rs"].contains(&name.as_str()) {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains("pool.get()")
                    || text.contains(".pool\n")
                    || text.contains("db::jobs::")
                {
                    offenders.push(name);
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "these reach the database around the store facade: {offenders:?}"
        );
    }
}
