//! SQL for a project's per-file line counts: the snapshot a scan reuses for every file whose blob
//! is unchanged.

use rusqlite::{params, Connection};

use crate::domain::ids::ProjectId;
use crate::domain::job::FileCount;

/// The snapshot: calls `each` with every counted file's path, the blob id it was counted from,
/// its language's name and its counts, one row at a time (a tree of a million files is never
/// held twice).
pub fn for_each(
    conn: &Connection,
    project_id: ProjectId,
    mut each: impl FnMut(String, &str, &str, [i64; 3]),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, blob, language, code, comment, blank FROM project_file_counts WHERE project_id = ?1",
    )?;
    let mut rows = stmt.query(params![project_id.0])?;
    while let Some(row) = rows.next()? {
        let counts = [row.get(3)?, row.get(4)?, row.get(5)?];
        each(
            row.get(0)?,
            row.get_ref(1)?.as_str()?,
            row.get_ref(2)?.as_str()?,
            counts,
        );
    }
    Ok(())
}

/// Removes the rows of `removed` paths and stores `added` counts: `(path, blob id, counts)`.
pub fn apply<'a, C: Into<FileCount>>(
    conn: &Connection,
    project_id: ProjectId,
    removed: &[String],
    added: impl IntoIterator<Item = (&'a str, String, C)>,
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
    for (path, blob, count) in added {
        let lines: FileCount = count.into();
        insert.execute(params![
            project_id.0,
            path,
            blob,
            lines.language,
            lines.code,
            lines.comment,
            lines.blank
        ])?;
    }
    Ok(())
}
