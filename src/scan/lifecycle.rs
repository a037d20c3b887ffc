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
pub(super) fn revoke_in(
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

/// What follows a close this process won, wherever it was decided (the engine's store, a
/// cancel, the monitor): counted, the tools killed, the watchers told.
pub fn closed(shared: &Shared, job_id: JobId, result_code: i64) {
    shared.metrics.job_closed(result_code);
    after_close(shared, job_id);
    // A push that came while the job ran is owed one more scan (issue 10).
    crate::hooks::after_job_closed(shared, job_id);
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
    let won = revoke_in(&tx, job_id, result_code, result_msg)?;
    tx.commit()?;
    if won {
        log::info!("job {job_id} revoked with {result_code}: {result_msg}");
        closed(shared, job_id, result_code);
    }
    Ok(won)
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
    closed(shared, job_id, code::E_CLIENT_CANCELED);
    Ok(Cancelled::Now)
}

/// The monitor thread: revokes jobs that ran past their scheme's `job_runtime_limit` (counted from
/// the moment a worker took them) with 297 `Time out while <State>`.
pub fn monitor(shared: &Shared) {
    while !shared.is_stopping() {
        if let Err(error) = check_time_limits(shared) {
            log::warn!("checking job time limits: {error:#}");
        }
        shared.rest();
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
