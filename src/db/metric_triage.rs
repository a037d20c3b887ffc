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
