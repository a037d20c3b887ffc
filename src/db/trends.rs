//! A project's trends (the status page's charts, issue 11): per scan, its line counts, how its
//! close changed the lint findings and how many stayed open by severity, and its complexity and
//! duplicate-code totals. The lint counts are written by the close transaction
//! (`record_lint`); the series is one query over the job rows and the per-job totals the close
//! stored (`job_lint_counts`, `cc_scans`, `dup_scans`), never recounted from the findings.

use rusqlite::{params, Connection, Row};

use crate::db::findings::Recorded;
use crate::domain::ids::{JobId, ProjectId};

/// How a job's close changed the project's findings, and the open ones by severity after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintCounts {
    pub opened: i64,
    pub reopened: i64,
    pub fixed: i64,
    /// Open findings after the close, by severity: fatal, error, warning, info.
    pub open: [i64; 4],
}

/// A job's complexity totals (`cc_scans`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcCounts {
    pub threshold: i64,
    /// Functions over the threshold.
    pub over: i64,
    pub functions: i64,
    pub new_or_worse: i64,
    pub fixed: i64,
}

/// A job's duplicate-code totals (`dup_scans`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DupCounts {
    pub rate: f64,
    pub duplicate_lines: i64,
    pub total_lines: i64,
    pub blocks: i64,
}

/// One point of a project's trends: a job that closed with its results stored (code 0).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub job_id: JobId,
    pub scan_id: Option<i64>,
    /// 1 incremental, 2 full (the scan row's type).
    pub scan_type: Option<i64>,
    pub revision: Option<String>,
    pub create_time: String,
    pub end_time: Option<String>,
    /// Code, comment, blank and total lines; `None` when the job counted none.
    pub lines: Option<[i64; 4]>,
    pub lint: Option<LintCounts>,
    pub cc: Option<CcCounts>,
    pub dup: Option<DupCounts>,
}

/// Stores what a job's close did to the project's findings: `recorded` as `findings::record`
/// returned it, and the open findings by severity read from the tallies the same transaction
/// just updated. Call it in the close transaction, after `findings::record`.
pub fn record_lint(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
    recorded: &Recorded,
) -> rusqlite::Result<()> {
    let mut open = [0i64; 4];
    let mut by_severity = conn.prepare_cached(
        "SELECT severity, SUM(n) FROM issue_tallies WHERE project_id = ?1 AND state = 1
         GROUP BY severity",
    )?;
    let rows = by_severity.query_map(params![project_id.0], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (severity, n) = row?;
        if let Some(slot) = usize::try_from(severity - 1)
            .ok()
            .and_then(|i| open.get_mut(i))
        {
            *slot = n;
        }
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_lint_counts (job_id, project_id, opened, reopened, fixed,
             open_fatal, open_error, open_warning, open_info)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        job_id.0,
        project_id.0,
        recorded.opened as i64,
        recorded.reopened as i64,
        recorded.fixed as i64,
        open[0],
        open[1],
        open[2],
        open[3]
    ])?;
    Ok(())
}

/// The series' one query: `?1` the project, `?2` the limit.
const SERIES: &str =
    "SELECT j.id, j.scan_id, s.scan_type, s.scm_revision, j.create_time, j.end_time,
             j.code_line_num, j.comment_line_num, j.blank_line_num, j.total_line_num,
             l.opened, l.reopened, l.fixed, l.open_fatal, l.open_error, l.open_warning,
             l.open_info,
             c.threshold, c.cc_open_num, c.func_num, c.diff_cc_num, c.cc_fix_num,
             d.duplicate_rate, d.duplicate_line_count, d.total_line_count,
             d.duplicate_block_count
         FROM jobs j
         LEFT JOIN scans s ON s.id = j.scan_id
         LEFT JOIN job_lint_counts l ON l.job_id = j.id
         LEFT JOIN cc_scans c ON c.job_id = j.id
         LEFT JOIN dup_scans d ON d.job_id = j.id
         WHERE j.project_id = ?1 AND j.result_code = 0
         ORDER BY j.id DESC LIMIT ?2";

/// The project's last `limit` jobs that closed with stored results (code 0), oldest first, in
/// one query: the (project, result code) index walked backwards from the newest job, each row
/// joined with its scan and its per-job totals by primary key.
pub fn series(
    conn: &Connection,
    project_id: ProjectId,
    limit: i64,
) -> rusqlite::Result<Vec<TrendPoint>> {
    let mut stmt = conn.prepare_cached(SERIES)?;
    let mut points = stmt
        .query_map(params![project_id.0, limit], point_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    points.reverse();
    Ok(points)
}

fn point_from_row(row: &Row<'_>) -> rusqlite::Result<TrendPoint> {
    let lines = match (row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?) {
        (Some(code), Some(comment), Some(blank), Some(total)) => {
            Some([code, comment, blank, total])
        }
        _ => None,
    };
    let lint = match row.get::<_, Option<i64>>(10)? {
        Some(opened) => Some(LintCounts {
            opened,
            reopened: row.get(11)?,
            fixed: row.get(12)?,
            open: [row.get(13)?, row.get(14)?, row.get(15)?, row.get(16)?],
        }),
        None => None,
    };
    let cc = match row.get::<_, Option<i64>>(17)? {
        Some(threshold) => Some(CcCounts {
            threshold,
            over: row.get(18)?,
            functions: row.get(19)?,
            new_or_worse: row.get(20)?,
            fixed: row.get(21)?,
        }),
        None => None,
    };
    let dup = match row.get::<_, Option<f64>>(22)? {
        Some(rate) => Some(DupCounts {
            rate,
            duplicate_lines: row.get(23)?,
            total_lines: row.get(24)?,
            blocks: row.get(25)?,
        }),
        None => None,
    };
    Ok(TrendPoint {
        job_id: JobId(row.get(0)?),
        scan_id: row.get(1)?,
        scan_type: row.get(2)?,
        revision: row.get(3)?,
        create_time: row.get(4)?,
        end_time: row.get(5)?,
        lines,
        lint,
        cc,
        dup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series reads the (project, result code) index backwards and the per-job tables by
    /// key: no step of the plan scans a table or sorts.
    #[test]
    fn the_series_query_walks_an_index_and_never_sorts_or_scans() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open(
            &dir.path().join("t.db"),
            crate::db::Memory::for_machine(1 << 30),
        )
        .unwrap();
        let conn = pool.get().unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {SERIES}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params![1, 100], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .all(|step| !step.starts_with("SCAN") && !step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
}
