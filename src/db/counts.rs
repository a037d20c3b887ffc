//! SQL for a project's per-file line counts: the snapshot a scan reuses for every file whose blob
//! is unchanged.

use rusqlite::{params, Connection};

use crate::analyzers::codecount::FileCount;
use crate::domain::ids::ProjectId;

/// The snapshot: each counted file with the blob id it was counted from.
pub fn load(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Vec<(String, FileCount)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT blob, path, language, code, comment, blank FROM project_file_counts WHERE project_id = ?1",
    )?;
    let files = stmt
        .query_map(params![project_id.0], |row| {
            Ok((
                row.get(0)?,
                FileCount {
                    path: row.get(1)?,
                    language: row.get(2)?,
                    code: row.get(3)?,
                    comment: row.get(4)?,
                    blank: row.get(5)?,
                },
            ))
        })?
        .collect();
    files
}

/// Removes the rows of `removed` paths and stores `added` counts.
pub fn apply(
    conn: &Connection,
    project_id: ProjectId,
    removed: &[String],
    added: &[(String, FileCount)],
) -> rusqlite::Result<()> {
    let mut delete =
        conn.prepare_cached("DELETE FROM project_file_counts WHERE project_id = ?1 AND path = ?2")?;
    for path in removed {
        delete.execute(params![project_id.0, path])?;
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO project_file_counts (project_id, path, blob, language, code, comment, blank)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (blob, file) in added {
        insert.execute(params![
            project_id.0,
            file.path,
            blob,
            file.language,
            file.code,
            file.comment,
            file.blank
        ])?;
    }
    Ok(())
}
