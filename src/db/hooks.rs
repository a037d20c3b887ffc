//! SQL for push webhooks in: a repository's hook, the deliveries it accepted, and the follow-up
//! scans owed to projects that were busy when a push came.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::domain::hook::{Followup, HookDelivery, RepoHook};
use crate::domain::ids::{JobId, ProjectId, RepoId, UserId};

/// How many deliveries a hook keeps; older ones are forgotten (and a retry of one of them would
/// count as new, which forges do not do after this many later deliveries).
const KEPT_DELIVERIES: i64 = 200;

const HOOK_COLUMNS: &str = "h.id, h.repo_id, h.hook_key, h.secret, h.creator_id, h.created_time";

fn hook_from_row(row: &Row<'_>) -> rusqlite::Result<RepoHook> {
    Ok(RepoHook {
        id: row.get(0)?,
        repo_id: RepoId(row.get(1)?),
        hook_key: row.get(2)?,
        secret: row.get(3)?,
        creator_id: UserId(row.get(4)?),
        created_time: row.get(5)?,
    })
}

pub fn get_for_repo(conn: &Connection, repo_id: RepoId) -> rusqlite::Result<Option<RepoHook>> {
    conn.query_row(
        &format!("SELECT {HOOK_COLUMNS} FROM repo_hooks h WHERE h.repo_id = ?1"),
        params![repo_id.0],
        hook_from_row,
    )
    .optional()
}

/// The hook a URL names, if its repository is not deleted.
pub fn get_by_key(conn: &Connection, hook_key: &str) -> rusqlite::Result<Option<RepoHook>> {
    conn.query_row(
        &format!(
            "SELECT {HOOK_COLUMNS} FROM repo_hooks h JOIN repos r ON r.id = h.repo_id
             WHERE h.hook_key = ?1 AND r.deleted_time IS NULL"
        ),
        params![hook_key],
        hook_from_row,
    )
    .optional()
}

/// Makes the repository's hook, replacing any earlier one (and its deliveries).
pub fn replace(
    conn: &Connection,
    repo_id: RepoId,
    hook_key: &str,
    secret: &str,
    creator_id: UserId,
) -> rusqlite::Result<RepoHook> {
    delete(conn, repo_id)?;
    conn.execute(
        "INSERT INTO repo_hooks (repo_id, hook_key, secret, creator_id, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            repo_id.0,
            hook_key,
            secret,
            creator_id.0,
            clock::now_stored()
        ],
    )?;
    get_for_repo(conn, repo_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Removes the repository's hook and its deliveries. Returns whether there was one.
pub fn delete(conn: &Connection, repo_id: RepoId) -> rusqlite::Result<bool> {
    conn.execute(
        "DELETE FROM hook_deliveries WHERE hook_id IN (SELECT id FROM repo_hooks WHERE repo_id = ?1)",
        params![repo_id.0],
    )?;
    let deleted = conn.execute(
        "DELETE FROM repo_hooks WHERE repo_id = ?1",
        params![repo_id.0],
    )?;
    Ok(deleted > 0)
}

/// The answer given to an earlier delivery with this id, if any.
pub fn delivery_answer(
    conn: &Connection,
    hook_id: i64,
    delivery_id: &str,
) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT answer FROM hook_deliveries WHERE hook_id = ?1 AND delivery_id = ?2",
        params![hook_id, delivery_id],
        |row| row.get(0),
    )
    .optional()
}

/// Records an accepted delivery and its answer, and forgets the oldest past `KEPT_DELIVERIES`.
pub fn insert_delivery(
    conn: &Connection,
    hook_id: i64,
    delivery: &HookDelivery,
    answer: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO hook_deliveries (hook_id, delivery_id, forge, event, summary, answer, received_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            hook_id,
            delivery.delivery_id,
            delivery.forge,
            delivery.event,
            delivery.summary,
            answer,
            delivery.received_time
        ],
    )?;
    conn.execute(
        "DELETE FROM hook_deliveries WHERE hook_id = ?1 AND id <= (
             SELECT id FROM hook_deliveries WHERE hook_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![hook_id, KEPT_DELIVERIES],
    )?;
    Ok(())
}

/// The hook's newest deliveries, newest first.
pub fn recent_deliveries(
    conn: &Connection,
    hook_id: i64,
    limit: i64,
) -> rusqlite::Result<Vec<HookDelivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT delivery_id, forge, event, summary, received_time FROM hook_deliveries
         WHERE hook_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![hook_id, limit], |row| {
            Ok(HookDelivery {
                delivery_id: row.get(0)?,
                forge: row.get(1)?,
                event: row.get(2)?,
                summary: row.get(3)?,
                received_time: row.get(4)?,
            })
        })?
        .collect();
    rows
}

/// The active projects of the repository on `branch` (not deleted, status 1).
pub fn active_projects_on_branch(
    conn: &Connection,
    repo_id: RepoId,
    branch: &str,
) -> rusqlite::Result<Vec<ProjectId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM projects
         WHERE repo_id = ?1 AND branch = ?2 AND status = 1 AND deleted_time IS NULL ORDER BY id",
    )?;
    let ids = stmt
        .query_map(params![repo_id.0, branch], |row| row.get(0).map(ProjectId))?
        .collect();
    ids
}

/// Whether the project exists, is not deleted and is active.
pub fn is_project_active(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM projects WHERE id = ?1 AND status = 1 AND deleted_time IS NULL)",
        params![project_id.0],
        |row| row.get(0),
    )
}

/// The project's jobs that are not CLOSED with their states, oldest first.
pub fn unfinished_states(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Vec<(JobId, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, state FROM jobs WHERE project_id = ?1 AND state != 2 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![project_id.0], |row| {
            Ok((JobId(row.get(0)?), row.get(1)?))
        })?
        .collect();
    rows
}

/// Records (or refreshes, with the newer head and pusher) the follow-up scan a project is owed.
pub fn set_followup(conn: &Connection, followup: &Followup) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO scan_followups (project_id, head, created_from, creator, creator_id, requested_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (project_id) DO UPDATE SET head = excluded.head, created_from = excluded.created_from,
             creator = excluded.creator, creator_id = excluded.creator_id,
             requested_time = excluded.requested_time",
        params![
            followup.project_id.0,
            followup.head,
            followup.created_from,
            followup.creator,
            followup.creator_id.0,
            clock::now_stored()
        ],
    )?;
    Ok(())
}

/// Whether the project of job `job_id` is owed a follow-up scan (a read, for every close).
pub fn followup_owed_after(conn: &Connection, job_id: JobId) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM scan_followups f JOIN jobs j ON j.project_id = f.project_id
                        WHERE j.id = ?1)",
    )?
    .query_row(params![job_id.0], |row| row.get(0))
}

pub fn followup(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Option<Followup>> {
    conn.query_row(
        "SELECT project_id, head, created_from, creator, creator_id FROM scan_followups
         WHERE project_id = ?1",
        params![project_id.0],
        |row| {
            Ok(Followup {
                project_id: ProjectId(row.get(0)?),
                head: row.get(1)?,
                created_from: row.get(2)?,
                creator: row.get(3)?,
                creator_id: UserId(row.get(4)?),
            })
        },
    )
    .optional()
}

pub fn delete_followup(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM scan_followups WHERE project_id = ?1",
        params![project_id.0],
    )?;
    Ok(())
}

/// Every project owed a follow-up scan.
pub fn followup_projects(conn: &Connection) -> rusqlite::Result<Vec<ProjectId>> {
    let mut stmt =
        conn.prepare_cached("SELECT project_id FROM scan_followups ORDER BY project_id")?;
    let ids = stmt
        .query_map([], |row| row.get(0).map(ProjectId))?
        .collect();
    ids
}
