//! SQL for a project's per-file line counts (the snapshot incremental scans start from).

use rusqlite::{params, Connection, OptionalExtension};

use crate::analyzers::codecount::FileCount;
use crate::domain::ids::ProjectId;

/// The revision the project's snapshot describes, if it has one.
pub fn revision(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT counts_revision FROM projects WHERE id = ?1",
        params![project_id.0],
        |row| row.get(0),
    )
    .optional()
    .map(Option::flatten)
}

pub fn load(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Vec<FileCount>> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, language, code, comment, blank FROM project_file_counts WHERE project_id = ?1",
    )?;
    let files = stmt
        .query_map(params![project_id.0], |row| {
            Ok(FileCount {
                path: row.get(0)?,
                language: row.get(1)?,
                code: row.get(2)?,
                comment: row.get(3)?,
                blank: row.get(4)?,
            })
        })?
        .collect();
    files
}

fn insert_all(
    conn: &Connection,
    project_id: ProjectId,
    files: &[FileCount],
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO project_file_counts (project_id, path, language, code, comment, blank)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for file in files {
        insert.execute(params![
            project_id.0,
            file.path,
            file.language,
            file.code,
            file.comment,
            file.blank
        ])?;
    }
    Ok(())
}

/// Replaces the snapshot with a full count of `revision`.
pub fn replace(
    conn: &Connection,
    project_id: ProjectId,
    revision: &str,
    files: &[FileCount],
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM project_file_counts WHERE project_id = ?1",
        params![project_id.0],
    )?;
    insert_all(conn, project_id, files)?;
    conn.execute(
        "UPDATE projects SET counts_revision = ?2 WHERE id = ?1",
        params![project_id.0, revision],
    )?;
    Ok(())
}

/// Moves the snapshot from `base` to `revision`: `removed` paths go, `added` counts come in.
/// Does nothing (and returns false) when the snapshot no longer describes `base`, because
/// another job stored a count in the meantime.
pub fn apply_delta(
    conn: &Connection,
    project_id: ProjectId,
    base: &str,
    revision: &str,
    removed: &[String],
    added: &[FileCount],
) -> rusqlite::Result<bool> {
    let moved = conn.execute(
        "UPDATE projects SET counts_revision = ?3 WHERE id = ?1 AND counts_revision = ?2",
        params![project_id.0, base, revision],
    )?;
    if moved == 0 {
        return Ok(false);
    }
    let mut delete =
        conn.prepare_cached("DELETE FROM project_file_counts WHERE project_id = ?1 AND path = ?2")?;
    for path in removed {
        delete.execute(params![project_id.0, path])?;
    }
    insert_all(conn, project_id, added)?;
    Ok(true)
}
