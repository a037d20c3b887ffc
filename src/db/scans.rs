//! SQL for a project's scan history: each scan with the job that ran it (TCA keeps scans on its
//! analysis server; codepup has one job per scan).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db;
use crate::domain::ids::{ProjectId, ScanId};
use crate::domain::job::Scan;

fn query(filter: &str) -> String {
    format!(
        "SELECT s.id, s.scan_type, s.scm_revision, s.create_time, {}
         FROM scans s JOIN jobs j ON j.scan_id = s.id WHERE {filter}",
        db::jobs::columns_of("j")
    )
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Scan> {
    Ok(Scan {
        id: ScanId(row.get(0)?),
        scan_type: row.get(1)?,
        revision: row.get(2)?,
        create_time: row.get(3)?,
        job: db::jobs::from_row_at(row, 4)?,
    })
}

/// One page of the project's scans, newest first, and how many there are.
pub fn list(
    conn: &Connection,
    project_id: ProjectId,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Scan>)> {
    let count = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM scans s JOIN jobs j ON j.scan_id = s.id WHERE s.project_id = ?1",
        )?
        .query_row(params![project_id.0], |row| row.get(0))?;
    if count == 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    let mut stmt = conn.prepare_cached(&format!(
        "{} ORDER BY s.id DESC LIMIT ?2 OFFSET ?3",
        query("s.project_id = ?1")
    ))?;
    let scans = stmt
        .query_map(params![project_id.0, limit, offset], from_row)?
        .collect::<rusqlite::Result<Vec<Scan>>>()?;
    Ok((count, scans))
}

/// One scan of the project.
pub fn get(
    conn: &Connection,
    project_id: ProjectId,
    scan_id: ScanId,
) -> rusqlite::Result<Option<Scan>> {
    db::query_row(
        conn,
        &query("s.project_id = ?1 AND s.id = ?2"),
        params![project_id.0, scan_id.0],
        from_row,
    )
    .optional()
}
