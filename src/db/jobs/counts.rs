//! A job's line counts and its per-language breakdown.

use rusqlite::{params, Connection};

use crate::domain::ids::JobId;
use crate::domain::job::{LanguageCount, LineCounts};

/// Sets the job's line counts and replaces its per-language breakdown.
pub fn set_line_counts(
    conn: &Connection,
    job_id: JobId,
    lines: &LineCounts,
    languages: &[LanguageCount],
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET code_line_num = ?2, comment_line_num = ?3, blank_line_num = ?4, total_line_num = ?5
         WHERE id = ?1",
        params![job_id.0, lines.code, lines.comment, lines.blank, lines.total],
    )?;
    conn.execute(
        "DELETE FROM job_languages WHERE job_id = ?1",
        params![job_id.0],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO job_languages (job_id, language, files, code, comment, blank) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for language in languages {
        insert.execute(params![
            job_id.0,
            language.name,
            language.files,
            language.code,
            language.comment,
            language.blank
        ])?;
    }
    Ok(())
}

pub fn languages(conn: &Connection, job_id: JobId) -> rusqlite::Result<Vec<LanguageCount>> {
    let mut stmt = conn.prepare_cached(
        "SELECT language, files, code, comment, blank FROM job_languages WHERE job_id = ?1
         ORDER BY code DESC, language",
    )?;
    let rows = stmt
        .query_map(params![job_id.0], |row| {
            Ok(LanguageCount {
                name: row.get(0)?,
                files: row.get(1)?,
                code: row.get(2)?,
                comment: row.get(3)?,
                blank: row.get(4)?,
            })
        })?
        .collect();
    rows
}

/// Copies line counts (and the breakdown) from `from` to `to`: a scan of an unchanged head
/// describes the same tree.
pub fn copy_line_counts(conn: &Connection, from: JobId, to: JobId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET (code_line_num, comment_line_num, blank_line_num, total_line_num) =
            (SELECT code_line_num, comment_line_num, blank_line_num, total_line_num FROM jobs WHERE id = ?1)
         WHERE id = ?2",
        params![from.0, to.0],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO job_languages (job_id, language, files, code, comment, blank)
         SELECT ?2, language, files, code, comment, blank FROM job_languages WHERE job_id = ?1",
        params![from.0, to.0],
    )?;
    Ok(())
}
