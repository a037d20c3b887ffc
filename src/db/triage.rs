//! SQL for triage (issue 11): people resolving, reopening, re-rating and re-assigning findings,
//! each change recorded in `issue_comments` with who and when; the ignores (won't fix, false
//! positive) kept by fingerprint in `issue_ignores`, which later scans honour (`apply_ignores`,
//! called by `db::findings::record`); and the reads around them (authors, comments, where a job
//! saw its findings).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock;
use crate::domain::ids::{JobId, ProjectId, UserId};
use crate::domain::triage::{self, Resolution, Scope};

/// Who makes a change: the user, and the name the history shows.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: UserId,
    pub username: &'a str,
}

/// The name history entries of changes a scan made carry.
pub const SCAN_ACTOR: &str = "codepup";

/// A resolution change as asked: what to set, how far an ignore reaches, why, and the action
/// name the history gets (TCA: 处理 for one finding, 批量处理 for a batch).
#[derive(Debug, Clone, Copy)]
pub struct ResolutionChange<'a> {
    pub resolution: Resolution,
    pub scope: Scope,
    pub reason: Option<&'a str>,
    pub action: &'a str,
}

/// One history entry of a finding (TCA's `IssueComment`).
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: i64,
    pub project_id: ProjectId,
    pub issue_id: i64,
    pub fingerprint: Option<String>,
    pub action: String,
    pub message: String,
    pub creator: String,
    pub created_time: String,
}

/// A finding's fields triage reads before it changes them.
struct Current {
    state: i64,
    resolution: i64,
    severity: i64,
    author: Option<String>,
    fingerprint: String,
}

fn current(
    conn: &Connection,
    project_id: ProjectId,
    issue_id: i64,
) -> rusqlite::Result<Option<Current>> {
    conn.prepare_cached(
        "SELECT state, resolution, severity, author, fingerprint FROM issues
         WHERE id = ?1 AND project_id = ?2",
    )?
    .query_row(params![issue_id, project_id.0], |row| {
        Ok(Current {
            state: row.get(0)?,
            resolution: row.get(1)?,
            severity: row.get(2)?,
            author: row.get(3)?,
            fingerprint: row.get(4)?,
        })
    })
    .optional()
}

/// Adds one history entry.
pub fn add_comment(
    conn: &Connection,
    project_id: ProjectId,
    issue_id: i64,
    action: &str,
    message: &str,
    actor: Option<Actor<'_>>,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO issue_comments (project_id, issue_id, action, message, creator, creator_id,
             created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        project_id.0,
        issue_id,
        action,
        message,
        actor.map_or(SCAN_ACTOR, |actor| actor.username),
        actor.map(|actor| actor.user_id.0),
        clock::now_stored()
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Sets the resolution of the project's findings `ids` (ids of other projects are skipped) and
/// records each change. An ignore is kept by fingerprint; a repository-scope one also resolves
/// the open findings with that fingerprint in the repository's other projects. Any other
/// resolution lifts the finding's ignore. Returns how many of `ids` were the project's.
/// Call it inside a write transaction.
pub fn set_resolution(
    conn: &Connection,
    project_id: ProjectId,
    ids: &[i64],
    change: &ResolutionChange<'_>,
    actor: Actor<'_>,
) -> rusqlite::Result<usize> {
    each_of_project(conn, project_id, ids, |issue_id, before| {
        resolve_one(conn, issue_id, change.resolution)?;
        let message = triage::resolution_message(
            (before.state, before.resolution),
            change.resolution,
            change.reason,
            change.scope,
        );
        add_comment(
            conn,
            project_id,
            issue_id,
            change.action,
            &message,
            Some(actor),
        )?;
        if change.resolution.is_ignore() {
            keep_ignore(conn, project_id, &before.fingerprint, change, actor)?;
            if change.scope == Scope::Repository {
                spread_ignore(conn, project_id, &before.fingerprint, change, actor)?;
            }
        } else {
            conn.prepare_cached(
                "DELETE FROM issue_ignores WHERE project_id = ?1 AND fingerprint = ?2",
            )?
            .execute(params![project_id.0, before.fingerprint])?;
        }
        Ok(())
    })
}

/// Runs `change` on each of `ids` that is a finding of the project, with what it was before;
/// returns how many were.
fn each_of_project(
    conn: &Connection,
    project_id: ProjectId,
    ids: &[i64],
    mut change: impl FnMut(i64, Current) -> rusqlite::Result<()>,
) -> rusqlite::Result<usize> {
    let mut changed = 0;
    for &issue_id in ids {
        if let Some(before) = current(conn, project_id, issue_id)? {
            change(issue_id, before)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Sets one finding's state and resolution as `resolution` says.
fn resolve_one(conn: &Connection, issue_id: i64, resolution: Resolution) -> rusqlite::Result<()> {
    let now = clock::now_stored();
    let fixed_time = (resolution.state() == 2).then_some(now.as_str());
    conn.prepare_cached(
        "UPDATE issues SET state = ?2, resolution = ?3, fixed_time = ?4, modified_time = ?5,
             scan_fix = CASE WHEN ?2 = 1 THEN NULL ELSE scan_fix END
         WHERE id = ?1",
    )?
    .execute(params![
        issue_id,
        resolution.state(),
        resolution as i64,
        fixed_time,
        now
    ])?;
    Ok(())
}

/// Keeps (or replaces) the project's ignore of `fingerprint`, which later scans honour.
fn keep_ignore(
    conn: &Connection,
    project_id: ProjectId,
    fingerprint: &str,
    change: &ResolutionChange<'_>,
    actor: Actor<'_>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO issue_ignores (project_id, fingerprint, repo_id, resolution, scope,
             reason, creator_id, created_time)
         SELECT ?1, ?2, repo_id, ?3, ?4, ?5, ?6, ?7 FROM projects WHERE id = ?1",
    )?
    .execute(params![
        project_id.0,
        fingerprint,
        change.resolution as i64,
        change.scope as i64,
        change.reason,
        actor.user_id.0,
        clock::now_stored()
    ])?;
    Ok(())
}

/// Resolves the open findings with `fingerprint` in the other projects of the project's
/// repository, each with its own history entry.
fn spread_ignore(
    conn: &Connection,
    project_id: ProjectId,
    fingerprint: &str,
    change: &ResolutionChange<'_>,
    actor: Actor<'_>,
) -> rusqlite::Result<()> {
    let others: Vec<(i64, ProjectId)> = conn
        .prepare_cached(
            "SELECT i.id, i.project_id FROM issues i
             JOIN projects p ON p.id = i.project_id
             WHERE p.repo_id = (SELECT repo_id FROM projects WHERE id = ?1)
               AND i.project_id <> ?1 AND i.fingerprint = ?2 AND i.state = 1
             ORDER BY i.id",
        )?
        .query_map(params![project_id.0, fingerprint], |row| {
            Ok((row.get(0)?, ProjectId(row.get(1)?)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (issue_id, other) in others {
        resolve_one(conn, issue_id, change.resolution)?;
        let message = format!(
            "{} (repository ignore from project {project_id})",
            triage::resolution_message((1, 0), change.resolution, change.reason, change.scope)
        );
        add_comment(conn, other, issue_id, change.action, &message, Some(actor))?;
    }
    Ok(())
}

/// After a scan recorded its findings: the ones it opened (ids above `last_id`) or reopened from
/// fixed, whose fingerprint this project ignored or its repository ignores (scope 2), are
/// resolved as the ignore says, with a history entry. Findings that were open already are left
/// alone: a person reopened them. Returns how many were resolved.
pub fn apply_ignores(
    conn: &Connection,
    project_id: ProjectId,
    last_id: i64,
) -> rusqlite::Result<usize> {
    let matched: Vec<(i64, i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT i.id, g.resolution, g.reason FROM issues i
             JOIN issue_ignores g ON g.fingerprint = i.fingerprint
                 AND (g.project_id = ?1
                      OR (g.scope = 2 AND g.repo_id = (SELECT repo_id FROM projects WHERE id = ?1)))
             WHERE i.project_id = ?1 AND i.state = 1
               AND (i.id > ?2 OR i.id IN (SELECT issue_id FROM temp.scan_matches WHERE reopen))
             GROUP BY i.id ORDER BY i.id",
        )?
        .query_map(params![project_id.0, last_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (issue_id, resolution, reason) in &matched {
        let resolution = if *resolution == 3 {
            Resolution::FalsePositive
        } else {
            Resolution::WontFix
        };
        resolve_one(conn, *issue_id, resolution)?;
        let message = format!(
            "{} (an ignore of this fingerprint)",
            triage::resolution_message((1, 0), resolution, reason.as_deref(), Scope::Project)
        );
        add_comment(conn, project_id, *issue_id, "ignore kept", &message, None)?;
    }
    Ok(matched.len())
}

/// Sets a finding's severity, which later scans keep, and records it. `false` when the finding
/// is not the project's.
pub fn set_severity(
    conn: &Connection,
    project_id: ProjectId,
    issue_id: i64,
    severity: i64,
    actor: Actor<'_>,
) -> rusqlite::Result<bool> {
    let Some(before) = current(conn, project_id, issue_id)? else {
        return Ok(false);
    };
    let now = clock::now_stored();
    conn.prepare_cached("UPDATE issues SET severity = ?2, modified_time = ?3 WHERE id = ?1")?
        .execute(params![issue_id, severity, now])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO issue_severity_overrides (issue_id, severity, creator_id,
             created_time) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![issue_id, severity, actor.user_id.0, now])?;
    let message = format!(
        "{} -> {}",
        triage::severity_word(before.severity),
        triage::severity_word(severity)
    );
    add_comment(
        conn,
        project_id,
        issue_id,
        "修改优先级",
        &message,
        Some(actor),
    )?;
    Ok(true)
}

/// Sets the author of the project's findings `ids` (others skipped), each with a history entry
/// naming `action`. Returns how many were the project's.
pub fn set_authors(
    conn: &Connection,
    project_id: ProjectId,
    ids: &[i64],
    author: &str,
    action: &str,
    actor: Actor<'_>,
) -> rusqlite::Result<usize> {
    each_of_project(conn, project_id, ids, |issue_id, before| {
        conn.prepare_cached("UPDATE issues SET author = ?2, modified_time = ?3 WHERE id = ?1")?
            .execute(params![issue_id, author, clock::now_stored()])?;
        let message = format!("{} -> {author}", before.author.as_deref().unwrap_or("None"));
        add_comment(conn, project_id, issue_id, action, &message, Some(actor))?;
        Ok(())
    })
}

/// The project's open findings of `author` (by exact name), for TCA's `all` author change.
pub fn open_ids_of_author(
    conn: &Connection,
    project_id: ProjectId,
    author: Option<&str>,
) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT id FROM issues WHERE project_id = ?1 AND state = 1 AND author IS ?2 ORDER BY id",
    )?
    .query_map(params![project_id.0, author], |row| row.get(0))?
    .collect()
}

/// A finding's current author (`None` when it has none or is not the project's; the caller
/// checked it exists).
pub fn author_of(
    conn: &Connection,
    project_id: ProjectId,
    issue_id: i64,
) -> rusqlite::Result<Option<String>> {
    Ok(current(conn, project_id, issue_id)?.and_then(|issue| issue.author))
}

/// The distinct non-empty authors of the project's findings, in name order.
pub fn authors(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT DISTINCT author FROM issues
         WHERE project_id = ?1 AND author IS NOT NULL AND author <> '' ORDER BY author",
    )?
    .query_map(params![project_id.0], |row| row.get(0))?
    .collect()
}

/// How many history entries of a finding the comment list shows (TCA: the last 20).
pub const COMMENTS_SHOWN: i64 = 20;

/// A finding's last history entries, newest first.
pub fn comments(conn: &Connection, issue_id: i64) -> rusqlite::Result<Vec<Comment>> {
    conn.prepare_cached(&format!(
        "SELECT {COMMENT_COLUMNS} FROM issue_comments c LEFT JOIN issues i ON i.id = c.issue_id
         WHERE c.issue_id = ?1 ORDER BY c.id DESC LIMIT ?2"
    ))?
    .query_map(params![issue_id, COMMENTS_SHOWN], comment_from_row)?
    .collect()
}

/// One history entry by id.
pub fn comment(conn: &Connection, comment_id: i64) -> rusqlite::Result<Option<Comment>> {
    conn.prepare_cached(&format!(
        "SELECT {COMMENT_COLUMNS} FROM issue_comments c LEFT JOIN issues i ON i.id = c.issue_id
         WHERE c.id = ?1"
    ))?
    .query_row(params![comment_id], comment_from_row)
    .optional()
}

const COMMENT_COLUMNS: &str =
    "c.id, c.project_id, c.issue_id, i.fingerprint, c.action, c.message, c.creator, c.created_time";

fn comment_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: row.get(0)?,
        project_id: ProjectId(row.get(1)?),
        issue_id: row.get(2)?,
        fingerprint: row.get(3)?,
        action: row.get(4)?,
        message: row.get(5)?,
        creator: row.get(6)?,
        created_time: row.get(7)?,
    })
}

/// Where `job_id` saw each of the findings `ids`: line and column by issue id.
pub fn job_places(
    conn: &Connection,
    job_id: JobId,
    ids: &[i64],
) -> rusqlite::Result<HashMap<i64, (i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT line, column_no FROM job_issues WHERE job_id = ?1 AND issue_id = ?2",
    )?;
    let mut places = HashMap::with_capacity(ids.len());
    for &id in ids {
        let place = stmt
            .query_row(params![job_id.0, id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some(place) = place {
            places.insert(id, place);
        }
    }
    Ok(places)
}
