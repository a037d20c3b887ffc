//! The per-scan summaries of the branch overview's trend lists (TCA's `overview/cycscans/`,
//! `dupscans/`, `clocscans/`): one row per job that measured complexity, looked for duplicate
//! code, or counted lines, newest first, each beside the measure before it. Rows are JSON objects
//! keyed by column name; the API orders them as TCA's serializers do. Knows nothing of HTTP.

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::db::metrics::{count_and_page, Where};
use crate::domain::ids::ProjectId;

/// Which trend list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanSummary {
    /// `cycscans/`: TCA's CyclomaticComplexityScan.
    Cc,
    /// `dupscans/`: TCA's DuplicateScan.
    Dup,
    /// `clocscans/`: TCA's ClocScan.
    Cloc,
}

/// `scan_time_after` and `scan_time_before` (stored form): when the job started running.
#[derive(Debug, Default, Clone)]
pub struct ScanTimes {
    pub after: Option<String>,
    pub before: Option<String>,
}

impl ScanSummary {
    /// The measures of the project, each with the job before it (`prev_job`), in one window
    /// over all of them, so a time filter never hides the measure a row compares with.
    fn measures(self) -> &'static str {
        match self {
            ScanSummary::Cc => {
                "SELECT job_id, threshold, cc_open_num, diff_cc_num, cc_fix_num, worse_cc_file_num,
                        func_num, ccn_sum,
                        LAG(cc_open_num) OVER w AS prev_open, LAG(job_id) OVER w AS prev_job
                 FROM cc_scans WHERE project_id = ?1 WINDOW w AS (ORDER BY job_id)"
            }
            ScanSummary::Dup => {
                "SELECT job_id, duplicate_file_count, duplicate_block_count, duplicate_line_count,
                        total_line_count, duplicate_rate,
                        LAG(duplicate_block_count) OVER w AS prev_blocks,
                        LAG(duplicate_line_count) OVER w AS prev_lines, LAG(job_id) OVER w AS prev_job
                 FROM dup_scans WHERE project_id = ?1 WINDOW w AS (ORDER BY job_id)"
            }
            ScanSummary::Cloc => {
                "SELECT id AS job_id, LAG(id) OVER w AS prev_job FROM jobs
                 WHERE project_id = ?1 AND total_line_num IS NOT NULL WINDOW w AS (ORDER BY id)"
            }
        }
    }

    /// What each row adds to its measure: the job's scan and times, and the sums a summary
    /// needs from the measure's files.
    fn extra(self) -> &'static str {
        match self {
            ScanSummary::Cc => {
                ", (SELECT COALESCE(SUM(over_cc_sum), 0) FROM cc_files f WHERE f.job_id = m.job_id)
                     AS over_cc_sum,
                   (SELECT COALESCE(SUM(ccn), 0) FROM cc_issues i WHERE i.job_id = m.job_id)
                     AS over_ccn_sum"
            }
            ScanSummary::Dup => {
                ", (SELECT json_group_array(duplicate_rate) FROM dup_files f WHERE f.job_id = m.job_id)
                     AS file_rates,
                   (SELECT json_group_array(duplicate_rate) FROM dup_files f
                     WHERE f.job_id = m.prev_job) AS prev_file_rates"
            }
            ScanSummary::Cloc => "",
        }
    }
}

/// One page of the project's summaries of `kind`, newest first, and how many match.
pub fn list(
    conn: &Connection,
    kind: ScanSummary,
    project_id: ProjectId,
    times: &ScanTimes,
    (limit, offset): (i64, i64),
) -> rusqlite::Result<(i64, Vec<serde_json::Map<String, serde_json::Value>>)> {
    // ?1 is the project id the window reads; the conditions' parameters follow it.
    let mut conditions = Where {
        clauses: vec!["j.project_id = ?1".to_string()],
        values: vec![Value::Integer(project_id.0)],
    };
    if let Some(after) = &times.after {
        conditions.add("j.start_time >= ?", vec![Value::Text(after.clone())]);
    }
    if let Some(before) = &times.before {
        conditions.add("j.start_time <= ?", vec![Value::Text(before.clone())]);
    }
    let condition = conditions.clauses.join(" AND ");
    let from = format!(
        "FROM ({}) m JOIN jobs j ON j.id = m.job_id LEFT JOIN scans s ON s.id = j.scan_id
         LEFT JOIN jobs pj ON pj.id = m.prev_job LEFT JOIN scans ps ON ps.id = pj.scan_id
         WHERE {condition}",
        kind.measures()
    );
    let mut values = conditions.values;
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
    let page = format!(
        "SELECT m.*, j.scan_id AS scan, s.scm_revision AS scan_revision, j.start_time AS scan_time,
                j.end_time AS created_time, ps.scm_revision AS last_revision,
                j.code_line_num, j.comment_line_num, j.blank_line_num, j.total_line_num {}
         {from} ORDER BY m.job_id DESC",
        kind.extra()
    );
    count_and_page(conn, &format!("SELECT COUNT(*) {from}"), &page, &values)
}
