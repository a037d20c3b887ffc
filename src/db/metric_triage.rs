//! Triage of complexity findings: a function's status (1 needs attention, 2 needs none) and
//! author, kept per function (file and signature) in `cc_issue_marks`, so a later measure of the
//! same function shows them too, with who set them and when. Knows nothing of HTTP.

use rusqlite::{params, Connection};

use crate::domain::ids::ProjectId;

/// A column of the marks of a `cc_issues` row's function, as a subquery.
macro_rules! mark_of {
    ($column:literal) => {
        concat!(
            "(SELECT ",
            $column,
            " FROM cc_issue_marks m WHERE m.project_id = cc_issues.project_id
               AND m.file_path = cc_issues.file_path AND m.long_name = cc_issues.long_name)"
        )
    };
}

/// A `cc_issues` row's status: its function's, else 1 (needs attention).
pub(crate) const STATUS_OF: &str = concat!("COALESCE(", mark_of!("status"), ", 1)");
/// A `cc_issues` row's author: its function's, else null.
pub(crate) const AUTHOR_OF: &str = mark_of!("author");
/// The columns a complexity row shows from its function's marks, for `MetricList::CcIssues`.
macro_rules! mark_columns {
    () => {
        concat!(
            "COALESCE(",
            $crate::db::metric_triage::mark_of!("status"),
            ", 1) AS status, ",
            $crate::db::metric_triage::mark_of!("author"),
            " AS author, ",
            $crate::db::metric_triage::mark_of!("modifier"),
            " AS modifier, ",
            $crate::db::metric_triage::mark_of!("modified_time"),
            " AS marked_time"
        )
    };
}
pub(crate) use {mark_columns, mark_of};

/// What a person sets on functions.
#[derive(Debug, Clone, Copy)]
pub enum Mark<'a> {
    Status(i64),
    Author(&'a str),
}

/// Sets `mark` on the functions of the project's complexity rows `ids` (ids of other projects
/// are skipped), as `who`, now. Returns how many functions it set it on.
pub fn set(
    conn: &Connection,
    project_id: ProjectId,
    ids: &[i64],
    mark: Mark<'_>,
    who: &str,
) -> rusqlite::Result<usize> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string());
    let (status, author) = match mark {
        Mark::Status(status) => (Some(status), None),
        Mark::Author(author) => (None, Some(author)),
    };
    conn.prepare_cached(
        "INSERT INTO cc_issue_marks (project_id, file_path, long_name, status, author, modifier,
             modified_time)
         SELECT DISTINCT project_id, file_path, long_name, COALESCE(?3, 1), ?4, ?5, ?6
         FROM cc_issues WHERE project_id = ?1 AND id IN (SELECT value FROM json_each(?2))
         ON CONFLICT (project_id, file_path, long_name) DO UPDATE SET
             status = COALESCE(?3, status), author = COALESCE(?4, author),
             modifier = excluded.modifier, modified_time = excluded.modified_time",
    )?
    .execute(params![
        project_id.0,
        ids,
        status,
        author,
        who,
        crate::clock::now_stored()
    ])
}

/// How many functions over the threshold at the project's latest complexity measure need
/// attention and have `author` (the overview's `mine/`).
pub fn count_open_of_author(
    conn: &Connection,
    project_id: ProjectId,
    author: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM cc_issues i JOIN cc_issue_marks m ON m.project_id = i.project_id
             AND m.file_path = i.file_path AND m.long_name = i.long_name
         WHERE i.job_id = (SELECT MAX(job_id) FROM cc_scans WHERE project_id = ?1)
           AND m.author = ?2 AND m.status = 1",
    )?
    .query_row(params![project_id.0, author], |row| row.get(0))
}

/// After a duplicate-code run (`job_id`) of the project: each file with copies has its issue,
/// open issues of files without copies are closed, closed ones whose file has copies again
/// are reopened; ignored ones stay ignored.
pub fn sync_dup_issues(
    conn: &Connection,
    project_id: ProjectId,
    job_id: crate::domain::ids::JobId,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO dup_issues (project_id, file_path)
         SELECT project_id, file_path FROM dup_files WHERE job_id = ?2 AND project_id = ?1",
    )?
    .execute(params![project_id.0, job_id.0])?;
    conn.prepare_cached(
        "UPDATE dup_issues SET state = CASE
             WHEN file_path IN (SELECT file_path FROM dup_files WHERE job_id = ?2) THEN 1 ELSE 3 END
         WHERE project_id = ?1 AND state IN (1, 3)",
    )?
    .execute(params![project_id.0, job_id.0])?;
    Ok(())
}

/// A duplicate-code issue of the project: its state and owner.
pub fn dup_issue(
    conn: &Connection,
    project_id: ProjectId,
    issue_id: i64,
) -> rusqlite::Result<Option<(i64, Option<String>)>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached("SELECT state, owner FROM dup_issues WHERE id = ?1 AND project_id = ?2")?
        .query_row(params![issue_id, project_id.0], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
}

/// A change a person makes to a duplicate-code issue, with the words its history keeps.
pub struct DupChange<'a> {
    pub action: &'a str,
    pub message: String,
    pub who: &'a str,
}

/// Sets the state of the project's duplicate-code issue `issue_id` and records it.
pub fn set_dup_state(
    conn: &Connection,
    (project_id, issue_id): (ProjectId, i64),
    state: i64,
    change: &DupChange<'_>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE dup_issues SET state = ?3 WHERE id = ?1 AND project_id = ?2")?
        .execute(params![issue_id, project_id.0, state])?;
    record_dup_change(conn, (project_id, issue_id), change)
}

/// Sets the owner of the project's duplicate-code issue `issue_id`, and with `all` of every
/// issue of the project that had the same owner; records each. Returns the issues changed.
pub fn set_dup_owner(
    conn: &Connection,
    (project_id, issue_id): (ProjectId, i64),
    (owner, all): (&str, bool),
    change: &DupChange<'_>,
) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare_cached(
        "UPDATE dup_issues SET owner = ?3 WHERE project_id = ?2 AND (id = ?1 OR (?4 AND
             owner IS (SELECT owner FROM dup_issues WHERE id = ?1 AND project_id = ?2)))
         RETURNING id",
    )?;
    let changed = statement
        .query_map(params![issue_id, project_id.0, owner, all], |row| {
            row.get(0)
        })?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    for id in &changed {
        record_dup_change(conn, (project_id, *id), change)?;
    }
    Ok(changed)
}

fn record_dup_change(
    conn: &Connection,
    (project_id, issue_id): (ProjectId, i64),
    change: &DupChange<'_>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO dup_issue_comments (project_id, issue_id, action, message, created_time,
             creator) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        project_id.0,
        issue_id,
        change.action,
        change.message,
        crate::clock::now_stored(),
        change.who
    ])?;
    Ok(())
}

/// The issue's last 20 history entries, newest first, keyed as TCA's
/// `DuplicateIssueCommentSerializer` names them (`created_time` stored).
pub fn dup_comments(
    conn: &Connection,
    issue_id: i64,
) -> rusqlite::Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    crate::db::metrics::json_rows(
        conn,
        "SELECT id, project_id, issue_id, action, message, created_time, creator
         FROM dup_issue_comments WHERE issue_id = ?1 ORDER BY id DESC LIMIT 20",
        &[rusqlite::types::Value::Integer(issue_id)],
    )
}

/// How many open duplicate-code issues of the project `owner` owns (the overview's `mine/`).
pub fn count_open_dup_of_owner(
    conn: &Connection,
    project_id: ProjectId,
    owner: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM dup_issues WHERE project_id = ?1 AND owner = ?2 AND state = 1",
    )?
    .query_row(params![project_id.0, owner], |row| row.get(0))
}
