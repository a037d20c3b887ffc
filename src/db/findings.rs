//! SQL for lint findings kept per project across scans: recording what a scan saw (opening,
//! updating and reopening findings, fixing the ones it no longer sees) and reading them back.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};

use crate::clock;
use crate::domain::finding::Finding;
use crate::domain::ids::{JobId, ProjectId, ScanId};

/// Which files a scan looked at: all of them, or only these paths (an incremental scan).
pub enum Coverage<'a> {
    Full,
    Files(&'a HashSet<String>),
}

/// What one job's lint tasks found, ready to record.
pub struct ScanFindings<'a> {
    pub project_id: ProjectId,
    pub job_id: JobId,
    pub scan_id: Option<ScanId>,
    pub revision: &'a str,
    /// The tools that ran: only their findings can be fixed by this scan.
    pub tools: &'a [String],
    pub coverage: Coverage<'a>,
    /// Each finding with its fingerprint and, when blame was asked for, its author.
    pub findings: &'a [(Finding, String, Option<String>)],
}

/// How a scan changed the project's findings.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub opened: usize,
    pub reopened: usize,
    pub fixed: usize,
    pub seen: usize,
}

/// Records a scan's findings (TCA's rules): a new fingerprint opens a finding with this scan as
/// `scan_open`; a fixed one seen again is reopened; an open one not seen by a scan that covered
/// its file with its tool is fixed (`state` 2, `resolution` 1, `scan_fix`, `fixed_time`).
/// Findings a user closed (state 3) keep their state.
pub fn record(conn: &Connection, scan: &ScanFindings<'_>) -> rusqlite::Result<Recorded> {
    let now = clock::now_stored();
    let mut recorded = Recorded::default();
    let mut seen = HashSet::new();
    let mut find = conn.prepare_cached(
        "SELECT id, state FROM issues WHERE project_id = ?1 AND fingerprint = ?2",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO issues (project_id, fingerprint, tool, rule, path, line, column_no, severity, category,
             message, author, revision, scan_open, created_time, modified_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )?;
    let mut update = conn.prepare_cached(
        "UPDATE issues SET line = ?2, column_no = ?3, severity = ?4, message = ?5, revision = ?6, modified_time = ?7,
             state = CASE WHEN state = 2 THEN 1 ELSE state END,
             resolution = CASE WHEN state = 2 THEN 0 ELSE resolution END,
             scan_fix = CASE WHEN state = 2 THEN NULL ELSE scan_fix END,
             fixed_time = CASE WHEN state = 2 THEN NULL ELSE fixed_time END
         WHERE id = ?1",
    )?;
    let mut link = conn.prepare_cached(
        "INSERT OR REPLACE INTO job_issues (job_id, issue_id, line, column_no) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let scan_id = scan.scan_id.map(|id| id.0);
    for (finding, fingerprint, author) in scan.findings {
        if !seen.insert(fingerprint.as_str()) {
            continue;
        }
        recorded.seen += 1;
        let existing: Option<(i64, i64)> = find
            .query_row(params![scan.project_id.0, fingerprint], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let issue_id = match existing {
            None => {
                insert.execute(params![
                    scan.project_id.0,
                    fingerprint,
                    finding.tool,
                    finding.rule,
                    finding.path,
                    finding.line,
                    finding.column,
                    finding.severity as i64,
                    finding.category,
                    finding.message,
                    author,
                    scan.revision,
                    scan_id,
                    now
                ])?;
                recorded.opened += 1;
                conn.last_insert_rowid()
            }
            Some((issue_id, state)) => {
                update.execute(params![
                    issue_id,
                    finding.line,
                    finding.column,
                    finding.severity as i64,
                    finding.message,
                    scan.revision,
                    now
                ])?;
                if state == 2 {
                    recorded.reopened += 1;
                }
                issue_id
            }
        };
        link.execute(params![
            scan.job_id.0,
            issue_id,
            finding.line,
            finding.column
        ])?;
    }
    // Open findings of the tools that ran, in files the scan covered, that it did not see: fixed.
    let mut open = conn.prepare_cached(
        "SELECT id, fingerprint, tool, path FROM issues WHERE project_id = ?1 AND state = 1",
    )?;
    let candidates: Vec<(i64, String, String, String)> = open
        .query_map(params![scan.project_id.0], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut fix = conn.prepare_cached(
        "UPDATE issues SET state = 2, resolution = 1, scan_fix = ?2, fixed_time = ?3, modified_time = ?3 WHERE id = ?1",
    )?;
    for (issue_id, fingerprint, tool, path) in candidates {
        let covered = match &scan.coverage {
            Coverage::Full => true,
            Coverage::Files(files) => files.contains(&path),
        };
        if covered && scan.tools.contains(&tool) && !seen.contains(fingerprint.as_str()) {
            fix.execute(params![issue_id, scan_id, now])?;
            recorded.fixed += 1;
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::Severity;

    fn finding(path: &str) -> Finding {
        Finding {
            tool: "codepup".into(),
            rule: "long-line".into(),
            path: path.into(),
            line: 3,
            column: 1,
            severity: Severity::Info,
            category: "style".into(),
            message: "m".into(),
        }
    }

    fn state_of(conn: &Connection, fingerprint: &str) -> (i64, i64, Option<i64>) {
        conn.query_row(
            "SELECT state, resolution, scan_fix FROM issues WHERE fingerprint = ?1",
            [fingerprint],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap()
    }

    #[test]
    fn findings_open_fix_only_where_covered_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("f.db")).unwrap();
        // The project, scan and job rows these point at are not needed for this rule.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let tools = vec!["codepup".to_string()];
        let a = (finding("a.py"), "fa".to_string(), None);
        let b = (finding("b.py"), "fb".to_string(), None);
        let scan =
            |job: i64, coverage: Coverage<'_>, findings: &[(Finding, String, Option<String>)]| {
                let scan = ScanFindings {
                    project_id: ProjectId(1),
                    job_id: JobId(job),
                    scan_id: Some(ScanId(job)),
                    revision: "r",
                    tools: &tools,
                    coverage,
                    findings,
                };
                record(&conn, &scan).unwrap()
            };
        let first = scan(1, Coverage::Full, &[a.clone(), b.clone()]);
        assert_eq!((first.opened, first.fixed), (2, 0));
        let only_a: HashSet<String> = ["a.py".to_string()].into();
        let incremental = scan(2, Coverage::Files(&only_a), std::slice::from_ref(&a));
        assert_eq!(
            incremental.fixed, 0,
            "b.py was not scanned, so its finding stays open"
        );
        let full = scan(3, Coverage::Full, std::slice::from_ref(&a));
        assert_eq!(full.fixed, 1);
        assert_eq!(state_of(&conn, "fb"), (2, 1, Some(3)));
        let again = scan(4, Coverage::Full, &[a.clone(), b.clone()]);
        assert_eq!(again.reopened, 1);
        assert_eq!(state_of(&conn, "fb"), (1, 0, None));
        let other_tools = ScanFindings {
            project_id: ProjectId(1),
            job_id: JobId(5),
            scan_id: Some(ScanId(5)),
            revision: "r",
            tools: &["pylint".to_string()],
            coverage: Coverage::Full,
            findings: &[],
        };
        assert_eq!(
            record(&conn, &other_tools).unwrap().fixed,
            0,
            "pylint cannot fix codepup's findings"
        );
    }
}
