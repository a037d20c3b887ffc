//! Closing jobs: revoke (failure, cancel, timeout, superseded), cancel, and the monitor that
//! enforces `job_runtime_limit`. Every close is a compare-and-set on `state != CLOSED`, so two
//! closers can race and exactly one wins; the winner kills the job's tools and wakes its watchers.

use rusqlite::{Connection, Transaction};
use time::{Duration, OffsetDateTime};

use crate::clock;
use crate::db;
use crate::domain::ids::{JobId, UserId};
use crate::domain::job::{code, JobState};
use crate::scan::Shared;

/// Closes the job and its open tasks inside `tx` unless the job is already CLOSED. Other tasks
/// of a job revoked with a 2xx (tool) code get 299, as in TCA.
fn revoke_in(
    tx: &Transaction<'_>,
    job_id: JobId,
    result_code: i64,
    result_msg: &str,
) -> rusqlite::Result<bool> {
    let closed = db::jobs::close(tx, job_id, result_code, result_msg, true)?;
    if closed {
        let task_code = if (200..300).contains(&result_code) {
            code::E_NODE_TASK_CANCEL
        } else {
            result_code
        };
        db::tasks::close_open(tx, job_id, task_code, result_msg)?;
    }
    Ok(closed)
}

/// What follows a close: the job's tools are killed, whoever waits on it is told.
fn after_close(shared: &Shared, job_id: JobId) {
    let killed = shared.processes.kill_job(job_id);
    if killed > 0 {
        log::info!("job {job_id}: killed {killed} tool process group(s)");
    }
    shared.job_closed(job_id);
}

/// Revokes a job that is not CLOSED. Returns whether this call closed it.
pub fn revoke(
    shared: &Shared,
    conn: &mut Connection,
    job_id: JobId,
    result_code: i64,
    result_msg: &str,
) -> rusqlite::Result<bool> {
    let tx = db::begin(conn)?;
    let closed = revoke_in(&tx, job_id, result_code, result_msg)?;
    tx.commit()?;
    if closed {
        log::info!("job {job_id} revoked with {result_code}: {result_msg}");
        shared.metrics.job_closed(result_code);
        after_close(shared, job_id);
    }
    Ok(closed)
}

/// What a cancel did.
#[derive(Debug, PartialEq, Eq)]
pub enum Cancelled {
    Now,
    AlreadyClosed,
}

/// Cancels a job for `nickname` (TCA §8.5): revoke with 301 and the remark, recorded with who.
pub fn cancel(
    shared: &Shared,
    conn: &mut Connection,
    job_id: JobId,
    nickname: &str,
    user_id: UserId,
    remarks: &str,
) -> rusqlite::Result<Cancelled> {
    let tx = db::begin(conn)?;
    let message = match db::jobs::state(&tx, job_id)? {
        None | Some(JobState::Closed) => return Ok(Cancelled::AlreadyClosed),
        Some(JobState::Closing) => {
            format!("User( {nickname} ) Canceled: {remarks}.[Job is closing] ")
        }
        Some(_) => format!("User( {nickname} ) Canceled: {remarks} . "),
    };
    if !revoke_in(&tx, job_id, code::E_CLIENT_CANCELED, &message)? {
        return Ok(Cancelled::AlreadyClosed);
    }
    db::jobs::set_remarks(&tx, job_id, remarks, user_id)?;
    tx.commit()?;
    log::info!("job {job_id} cancelled by {nickname}");
    shared.metrics.job_closed(code::E_CLIENT_CANCELED);
    after_close(shared, job_id);
    Ok(Cancelled::Now)
}

/// Closes a job whose tasks all succeeded, then supersedes the project's older unfinished jobs
/// (code 2, TCA's redirect), killing their tools.
pub fn close_ok(
    shared: &Shared,
    conn: &mut Connection,
    job_id: JobId,
    store: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<bool> {
    if !db::jobs::transition(conn, job_id, JobState::Running, JobState::Closing)? {
        return Ok(false);
    }
    // The results and the final state go in one transaction: a crash keeps both or neither.
    let tx = db::begin(conn)?;
    store(&tx)?;
    let closed = db::jobs::close(&tx, job_id, code::OK, "success", false)?;
    tx.commit()?;
    if !closed {
        return Ok(false);
    }
    shared.metrics.job_closed(code::OK);
    after_close(shared, job_id);
    let Some(job) = db::jobs::get(conn, job_id)? else {
        return Ok(true);
    };
    let scan_id = job.scan_id.map_or("null".to_string(), |id| id.to_string());
    let message = format!(
        r#"{{"job_id": {job_id}, "scan_id": {scan_id}, "msg": "plz check the other job's result"}}"#
    );
    for older in db::jobs::older_unfinished(conn, job.project_id, job_id)? {
        revoke(shared, conn, older, code::CLIENT_REDIRECT, &message)?;
    }
    Ok(true)
}

/// The monitor thread: revokes jobs that ran past their scheme's `job_runtime_limit` (counted from
/// the moment a worker took them) with 297 `Time out while <State>`.
pub fn monitor(shared: &Shared) {
    while !shared.is_stopping() {
        if let Err(error) = check_time_limits(shared) {
            log::warn!("checking job time limits: {error:#}");
        }
        shared.idle();
    }
}

fn check_time_limits(shared: &Shared) -> anyhow::Result<()> {
    let mut conn = shared.pool.get()?;
    let now = OffsetDateTime::now_utc();
    for active in db::jobs::active_with_limits(&conn)? {
        let Some(claimed) = active.claim_time.as_deref().and_then(clock::from_stored) else {
            continue;
        };
        if now - claimed < Duration::minutes(active.limit_minutes) {
            continue;
        }
        let state = JobState::from_i64(active.state).map_or("Unknown", JobState::display);
        let message = format!("Time out while {state}");
        revoke(
            shared,
            &mut conn,
            active.job_id,
            code::E_NODE_JOB_TIMEOUT,
            &message,
        )?;
    }
    Ok(())
}
