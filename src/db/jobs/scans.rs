//! A job's scan row: the revisions it scans, and the baseline an incremental scan compares with.

use rusqlite::{params, Connection, OptionalExtension};

use crate::db;
use crate::domain::ids::{JobId, ProjectId, ScanId};

/// Records the revisions a job scans (and, when incremental, compares with).
pub fn set_revisions(
    conn: &Connection,
    scan_id: ScanId,
    revision: &str,
    base: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE scans SET scm_revision = ?2, base_revision = ?3 WHERE id = ?1",
        params![scan_id.0, revision, base],
    )?;
    Ok(())
}

pub fn revision(conn: &Connection, scan_id: Option<ScanId>) -> rusqlite::Result<Option<String>> {
    let Some(scan_id) = scan_id else {
        return Ok(None);
    };
    db::query_row(
        conn,
        "SELECT scm_revision FROM scans WHERE id = ?1",
        params![scan_id.0],
        |row| row.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// The baseline of an incremental scan: the revision and job of the project's latest job whose
/// results were stored (result code 0 or 1), other than `job_id`. It walks the partial index
/// `jobs_project_baseline` (INDEXED BY: the planner would otherwise walk every closed job of the
/// project), whose WHERE names the same literal codes (a unit test checks both).
pub fn baseline(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
) -> rusqlite::Result<Option<(String, JobId)>> {
    db::query_row(conn, BASELINE_SQL, params![project_id.0, job_id.0], |row| {
        Ok((row.get(0)?, JobId(row.get(1)?)))
    })
    .optional()
}

const BASELINE_SQL: &str = "SELECT s.scm_revision, j.id
     FROM jobs j INDEXED BY jobs_project_baseline JOIN scans s ON s.id = j.scan_id
     WHERE j.project_id = ?1 AND j.id != ?2 AND j.state = 2 AND j.result_code IN (0, 1)
       AND s.scm_revision IS NOT NULL
     ORDER BY j.id DESC LIMIT 1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::{code, JobState};

    #[test]
    fn the_baseline_walks_only_jobs_with_stored_results() {
        assert_eq!(
            (code::OK, code::INCR_IGNORE),
            (0, 1),
            "BASELINE_SQL names them"
        );
        assert_eq!(JobState::Closed as i64, 2, "BASELINE_SQL names it");
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::SCHEMA).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {BASELINE_SQL}"))
            .unwrap()
            .query_map(params![1, 2], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("jobs_project_baseline")),
            "{plan:?}"
        );
    }
}
