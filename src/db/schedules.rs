//! SQL for scheduled scans: one schedule per project, and what the scheduler reads to decide.

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock;
use crate::domain::hook::Schedule;
use crate::domain::ids::{JobId, ProjectId, UserId};

const COLUMNS: &str = "project_id, cron, incr_scan, is_enabled, disabled_reason, next_run_time,
    last_run_time, last_job_id, creator_id, modified_time";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        project_id: ProjectId(row.get(0)?),
        cron: row.get(1)?,
        incr_scan: row.get(2)?,
        is_enabled: row.get(3)?,
        disabled_reason: row.get(4)?,
        next_run_time: row.get(5)?,
        last_run_time: row.get(6)?,
        last_job_id: row.get::<_, Option<i64>>(7)?.map(JobId),
        creator_id: UserId(row.get(8)?),
        modified_time: row.get(9)?,
    })
}

pub fn get(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Option<Schedule>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM project_schedules WHERE project_id = ?1"),
        params![project_id.0],
        from_row,
    )
    .optional()
}

/// What a `PUT .../schedule/` sets.
pub struct NewSchedule<'a> {
    pub cron: &'a str,
    pub incr_scan: bool,
    pub is_enabled: bool,
    pub next_run_time: Option<&'a str>,
    pub creator_id: UserId,
}

/// Sets the project's schedule; a reason the scheduler turned it off is cleared.
pub fn put(
    conn: &Connection,
    project_id: ProjectId,
    schedule: &NewSchedule<'_>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO project_schedules (project_id, cron, incr_scan, is_enabled, disabled_reason,
             next_run_time, creator_id, modified_time)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7)
         ON CONFLICT (project_id) DO UPDATE SET cron = excluded.cron, incr_scan = excluded.incr_scan,
             is_enabled = excluded.is_enabled, disabled_reason = NULL,
             next_run_time = excluded.next_run_time, creator_id = excluded.creator_id,
             modified_time = excluded.modified_time",
        params![
            project_id.0,
            schedule.cron,
            schedule.incr_scan,
            schedule.is_enabled,
            schedule.next_run_time,
            schedule.creator_id.0,
            clock::now_stored()
        ],
    )?;
    Ok(())
}

/// The enabled schedules whose next run is at or before `now` (stored form).
pub fn due(conn: &Connection, now: &str) -> rusqlite::Result<Vec<ProjectId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT project_id FROM project_schedules
         WHERE is_enabled = 1 AND next_run_time IS NOT NULL AND next_run_time <= ?1
         ORDER BY next_run_time, project_id",
    )?;
    let ids = stmt
        .query_map(params![now], |row| row.get(0).map(ProjectId))?
        .collect();
    ids
}

/// Records a run (or a skipped slot) and the next slot.
pub fn set_ran(
    conn: &Connection,
    project_id: ProjectId,
    ran_at: &str,
    job_id: Option<JobId>,
    next_run_time: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE project_schedules SET last_run_time = ?2, last_job_id = COALESCE(?3, last_job_id),
             next_run_time = ?4
         WHERE project_id = ?1",
        params![project_id.0, ran_at, job_id.map(|id| id.0), next_run_time],
    )?;
    Ok(())
}

/// Turns the schedule off, saying why.
pub fn disable(conn: &Connection, project_id: ProjectId, reason: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE project_schedules SET is_enabled = 0, disabled_reason = ?2, next_run_time = NULL
         WHERE project_id = ?1",
        params![project_id.0, reason],
    )?;
    Ok(())
}

/// The result codes of the project's last `n` closed jobs, newest first.
pub fn last_result_codes(
    conn: &Connection,
    project_id: ProjectId,
    n: i64,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT COALESCE(result_code, 0) FROM jobs WHERE project_id = ?1 AND state = 2
         ORDER BY id DESC LIMIT ?2",
    )?;
    let codes = stmt
        .query_map(params![project_id.0, n], |row| row.get(0))?
        .collect();
    codes
}
