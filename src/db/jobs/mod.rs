//! SQL for jobs: their rows, inserting them, and their state changes. State changes are
//! compare-and-set updates: each names the state it expects, and reports whether it won. The
//! job lists and their filters are in `list`, line counts in `counts`, a job's scan row in
//! `scans`; all are re-exported here, so callers write `db::jobs::<function>`.

mod counts;
mod list;
mod periods;
mod scans;
mod skip;
mod tally;

pub use counts::{copy_line_counts, languages, set_line_counts};
pub use list::{
    list, list_visible, open_job_snapshot, queue_health, JobFilter, JobScope, OpenJobs,
};
pub use scans::{baseline, revision, set_revisions};
pub use tally::{rebuild_messages, rebuild_sums, rebuild_tallies};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::{JobId, ProjectId, ScanId, UserId};
use crate::domain::job::{code, Job, JobState, LineCounts};

const COLUMNS: &str = "id, project_id, scan_id, state, incr_scan, create_time, claim_time, initialized_time,
    start_time, closing_time, end_time, expire_time, result_code, result_msg, result_path, task_num, task_done,
    remarks, remarked_by, code_line_num, comment_line_num, blank_line_num, total_line_num, created_from,
    creator, restart_count, async_flag, gate";

/// The job columns `from_row` reads, each prefixed with `alias.` (for queries that join jobs).
pub fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(',')
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    from_row_at(row, 0)
}

/// A job from the columns of a row starting at `first`, in `COLUMNS` order.
pub fn from_row_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Job> {
    let at = |index: usize| first + index;
    Ok(Job {
        id: JobId(row.get(at(0))?),
        project_id: ProjectId(row.get(at(1))?),
        scan_id: row.get::<_, Option<i64>>(at(2))?.map(ScanId),
        state: db::parsed(row, at(3), |state: &i64| JobState::from_i64(*state))?,
        incr_scan: row.get(at(4))?,
        create_time: row.get(at(5))?,
        claim_time: row.get(at(6))?,
        initialized_time: row.get(at(7))?,
        start_time: row.get(at(8))?,
        closing_time: row.get(at(9))?,
        end_time: row.get(at(10))?,
        expire_time: row.get(at(11))?,
        result_code: row.get(at(12))?,
        result_msg: row.get(at(13))?,
        result_path: row.get(at(14))?,
        task_num: row.get(at(15))?,
        task_done: row.get(at(16))?,
        remarks: row.get(at(17))?,
        remarked_by: row.get(at(18))?,
        lines: LineCounts {
            code: row.get(at(19))?,
            comment: row.get(at(20))?,
            blank: row.get(at(21))?,
            total: row.get(at(22))?,
        },
        created_from: row.get(at(23))?,
        creator: row.get(at(24))?,
        restart_count: row.get(at(25))?,
        async_flag: row.get(at(26))?,
        gate: db::parsed(row, at(27), |stored: &Option<String>| match stored {
            None => Some(None),
            Some(text) => serde_json::from_str(text).ok().map(Some),
        })?,
    })
}

/// What `scans/create` stores.
pub struct NewJob<'a> {
    pub incr_scan: bool,
    pub force_create: bool,
    pub async_flag: bool,
    pub created_from: &'a str,
    pub creator: &'a str,
    pub creator_id: UserId,
}

/// Inserts a WAITING job and its scan row.
pub fn insert(
    conn: &Connection,
    project_id: ProjectId,
    new_job: &NewJob<'_>,
) -> rusqlite::Result<(JobId, ScanId)> {
    let now = clock::now_stored();
    let scan_type = if new_job.incr_scan { 1 } else { 2 };
    conn.prepare_cached(
        "INSERT INTO scans (project_id, scan_type, create_time) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![project_id.0, scan_type, now])?;
    let scan_id = ScanId(conn.last_insert_rowid());
    conn.prepare_cached(
        "INSERT INTO jobs (project_id, scan_id, state, incr_scan, force_create, async_flag, create_time,
             created_from, creator, creator_id)
         VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
            project_id.0,
            scan_id.0,
            new_job.incr_scan,
            new_job.force_create,
            new_job.async_flag,
            now,
            new_job.created_from,
            new_job.creator,
            new_job.creator_id.0
        ],
    )?;
    Ok((JobId(conn.last_insert_rowid()), scan_id))
}

/// The scan ids of the project's jobs that are not CLOSED, oldest first.
pub fn unfinished_scan_ids(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Vec<Option<i64>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT scan_id FROM jobs WHERE project_id = ?1 AND state != 2 ORDER BY id",
    )?;
    let ids = stmt
        .query_map(params![project_id.0], |row| row.get(0))?
        .collect();
    ids
}

/// The project's jobs that are not CLOSED, oldest first.
pub fn unfinished(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Vec<JobId>> {
    let mut stmt = conn
        .prepare_cached("SELECT id FROM jobs WHERE project_id = ?1 AND state != 2 ORDER BY id")?;
    let ids = stmt
        .query_map(params![project_id.0], |row| row.get(0).map(JobId))?
        .collect();
    ids
}

/// The project's unfinished jobs older than `job_id`.
pub fn older_unfinished(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
) -> rusqlite::Result<Vec<JobId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM jobs WHERE project_id = ?1 AND id < ?2 AND state != 2 ORDER BY id",
    )?;
    let ids = stmt
        .query_map(params![project_id.0, job_id.0], |row| row.get(0).map(JobId))?
        .collect();
    ids
}

pub fn get(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<Job>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
        params![job_id.0],
        from_row,
    )
    .optional()
}

/// A job of the project (404 material when it belongs to another).
pub fn get_in_project(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
) -> rusqlite::Result<Option<Job>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1 AND project_id = ?2"),
        params![job_id.0, project_id.0],
        from_row,
    )
    .optional()
}

pub fn state(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<JobState>> {
    let state: Option<i64> = conn
        .query_row(
            "SELECT state FROM jobs WHERE id = ?1",
            params![job_id.0],
            |row| row.get(0),
        )
        .optional()?;
    Ok(state.and_then(JobState::from_i64))
}

/// Takes the oldest WAITING job for a worker (WAITING -> INITING), or `None` when there is none.
/// One statement, so two workers can never take the same job.
pub fn claim_next(conn: &Connection) -> rusqlite::Result<Option<JobId>> {
    db::query_row(
        conn,
        "UPDATE jobs SET state = 4, claim_time = ?1
         WHERE id = (SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT 1) AND state = 0
         RETURNING id",
        params![clock::now_stored()],
        |row| row.get(0).map(JobId),
    )
    .optional()
}

/// Moves a job from `from` to `to` if it is still in `from`, stamping the time column that
/// belongs to `to`. Returns whether it moved.
pub fn transition(
    conn: &Connection,
    job_id: JobId,
    from: JobState,
    to: JobState,
) -> rusqlite::Result<bool> {
    debug_assert!(from.can_become(to), "{from:?} -> {to:?}");
    let stamp = match to {
        JobState::Inited => Some("initialized_time"),
        JobState::Running => Some("start_time"),
        JobState::Closing => Some("closing_time"),
        _ => None,
    };
    let changed = match stamp {
        Some(column) => conn.execute(
            &format!("UPDATE jobs SET state = ?3, {column} = ?4 WHERE id = ?1 AND state = ?2"),
            params![job_id.0, from as i64, to as i64, clock::now_stored()],
        )?,
        None => conn.execute(
            "UPDATE jobs SET state = ?3 WHERE id = ?1 AND state = ?2",
            params![job_id.0, from as i64, to as i64],
        )?,
    };
    Ok(changed == 1)
}

/// Closes a job that is not CLOSED yet with `result_code`/`result_msg`. `end_time` is set on
/// every close (TCA leaves it null on revokes); `expire_time` marks a revoke. Returns whether
/// this call closed it.
pub fn close(
    conn: &Connection,
    job_id: JobId,
    result_code: i64,
    result_msg: &str,
    is_revoke: bool,
) -> rusqlite::Result<bool> {
    let now = clock::now_stored();
    let changed = conn.execute(
        "UPDATE jobs SET state = 2, result_code = ?2, result_msg = ?3,
             closing_time = COALESCE(closing_time, ?4), end_time = ?4,
             expire_time = CASE WHEN ?5 THEN ?4 ELSE expire_time END
         WHERE id = ?1 AND state != 2",
        params![job_id.0, result_code, result_msg, now, is_revoke],
    )?;
    // Every close comes through here, inside the transaction that closes the job: its
    // notifications are in the outbox exactly when the close is committed.
    if changed == 1 {
        crate::db::notify::enqueue_for_job(conn, job_id)?;
    }
    Ok(changed == 1)
}

/// Records who cancelled a job and why.
pub fn set_remarks(
    conn: &Connection,
    job_id: JobId,
    remarks: &str,
    user_id: UserId,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET remarks = ?2, remarked_by = ?3 WHERE id = ?1",
        params![job_id.0, remarks, user_id.0],
    )?;
    Ok(())
}

/// At start-up: every job a worker had taken was interrupted. Jobs interrupted fewer than
/// `max_restarts` times go back to WAITING with their tasks removed; the others are closed with
/// code 100. Returns `(requeued, given_up)`.
pub fn requeue_interrupted(
    conn: &Connection,
    max_restarts: i64,
) -> rusqlite::Result<(usize, usize)> {
    let now = clock::now_stored();
    let given_up: Vec<i64> = conn
        .prepare(
            "UPDATE jobs SET state = 2, result_code = ?1,
                 result_msg = 'interrupted by ' || (restart_count + 1) || ' server restarts; start a new scan',
                 closing_time = COALESCE(closing_time, ?2), end_time = ?2, expire_time = ?2,
                 restart_count = restart_count + 1
             WHERE state IN (1, 3, 4, 5) AND restart_count + 1 >= ?3
             RETURNING id",
        )?
        .query_map(params![code::E_SERVER, now, max_restarts], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // These closes bypass `close`: their notifications are written here, in the same
    // transaction (the caller's).
    for job_id in &given_up {
        crate::db::notify::enqueue_for_job(conn, JobId(*job_id))?;
    }
    let given_up = given_up.len();
    conn.execute(
        "INSERT INTO task_progresses (task_id, progress_rate, message, create_time)
         SELECT id, progress_rate, 'failed (' || ?1 || '): Job revoked: server restarted', ?2
         FROM tasks WHERE state != 2 AND job_id IN (SELECT id FROM jobs WHERE state = 2)",
        params![code::E_SERVER, now],
    )?;
    conn.execute(
        "UPDATE tasks SET state = 2, result_code = ?1, result_msg = 'Job revoked: server restarted', end_time = ?2
         WHERE state != 2 AND job_id IN (SELECT id FROM jobs WHERE state = 2)",
        params![code::E_SERVER, now],
    )?;
    conn.execute(
        "DELETE FROM tasks WHERE job_id IN (SELECT id FROM jobs WHERE state IN (1, 3, 4, 5))",
        [],
    )?;
    let requeued = conn.execute(
        "UPDATE jobs SET state = 0, restart_count = restart_count + 1, claim_time = NULL, initialized_time = NULL,
             start_time = NULL, closing_time = NULL, task_num = 0, task_done = 0
         WHERE state IN (1, 3, 4, 5)",
        [],
    )?;
    Ok((requeued, given_up))
}

/// A job a worker holds, with what its time limit needs.
pub struct ActiveJob {
    pub job_id: JobId,
    pub state: i64,
    pub claim_time: Option<String>,
    /// The scheme's `job_runtime_limit`, in minutes.
    pub limit_minutes: i64,
}

/// Jobs a worker holds (not WAITING, not CLOSED) with the minutes their scheme allows.
pub fn active_with_limits(conn: &Connection) -> rusqlite::Result<Vec<ActiveJob>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.id, j.state, j.claim_time, s.job_runtime_limit
         FROM jobs j JOIN projects p ON p.id = j.project_id JOIN scan_schemes s ON s.id = p.scan_scheme_id
         WHERE j.state IN (1, 3, 4, 5)",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok(ActiveJob {
                job_id: JobId(row.get(0)?),
                state: row.get(1)?,
                claim_time: row.get(2)?,
                limit_minutes: row.get(3)?,
            })
        })?
        .collect();
    rows
}

pub fn set_task_num(conn: &Connection, job_id: JobId, task_num: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET task_num = ?2, task_done = 0 WHERE id = ?1",
        params![job_id.0, task_num],
    )?;
    Ok(())
}

/// Counts every task of the job done (a job with nothing to scan).
pub fn set_all_tasks_done(conn: &Connection, job_id: JobId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET task_done = task_num WHERE id = ?1",
        params![job_id.0],
    )?;
    Ok(())
}

pub fn increment_task_done(conn: &Connection, job_id: JobId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET task_done = task_done + 1 WHERE id = ?1",
        params![job_id.0],
    )?;
    Ok(())
}
