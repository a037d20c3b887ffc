//! SQL for lint findings kept per project across scans: recording what a scan saw (opening,
//! updating and reopening findings, fixing the ones it no longer sees) and reading them back.

use std::collections::HashSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::clock;
use crate::domain::finding::{Finding, Severity};
use crate::domain::ids::{JobId, ProjectId, ScanId};

/// Which files a scan looked at: all of them, or only these paths (an incremental scan).
pub enum Coverage<'a> {
    Full,
    Files(&'a HashSet<String>),
    /// Every file but these (a full scan that left some files out, or gave up on some).
    AllBut(&'a HashSet<String>),
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
            Coverage::AllBut(files) => !files.contains(&path),
        };
        if covered && scan.tools.contains(&tool) && !seen.contains(fingerprint.as_str()) {
            fix.execute(params![issue_id, scan_id, now])?;
            recorded.fixed += 1;
        }
    }
    Ok(recorded)
}

/// A finding as the store keeps it, with TCA's state, resolution and scan bookkeeping.
#[derive(Debug, Clone)]
pub struct StoredIssue {
    pub id: i64,
    pub project_id: ProjectId,
    pub fingerprint: String,
    /// The tool, rule, place (as last seen), severity, category and message.
    pub finding: Finding,
    pub state: i64,
    pub resolution: i64,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub revision: Option<String>,
    pub scan_open: Option<i64>,
    pub scan_fix: Option<i64>,
    pub fixed_time: Option<String>,
    pub created_time: String,
    pub modified_time: String,
}

const ISSUE_COLUMNS: &str =
    "id, project_id, fingerprint, tool, rule, path, line, column_no, severity, category,
     message, state, resolution, author, author_email, revision, scan_open, scan_fix, fixed_time,
     created_time, modified_time";

fn issue_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredIssue> {
    let severity: i64 = row.get(8)?;
    Ok(StoredIssue {
        id: row.get(0)?,
        project_id: ProjectId(row.get(1)?),
        fingerprint: row.get(2)?,
        finding: Finding {
            tool: row.get(3)?,
            rule: row.get(4)?,
            path: row.get(5)?,
            line: row.get(6)?,
            column: row.get(7)?,
            // The schema's CHECK keeps severities within TCA's four.
            severity: Severity::from_i64(severity).unwrap_or(Severity::Info),
            category: row.get(9)?,
            message: row.get(10)?,
        },
        state: row.get(11)?,
        resolution: row.get(12)?,
        author: row.get(13)?,
        author_email: row.get(14)?,
        revision: row.get(15)?,
        scan_open: row.get(16)?,
        scan_fix: row.get(17)?,
        fixed_time: row.get(18)?,
        created_time: row.get(19)?,
        modified_time: row.get(20)?,
    })
}

/// Filters of the issue list (codelint-issues-api.md), already parsed. Text filters are
/// case-insensitive substrings, as Django's `icontains`.
#[derive(Debug, Default, Clone)]
pub struct IssueFilter {
    pub states: Option<Vec<i64>>,
    pub severities: Option<Vec<i64>>,
    pub resolutions: Option<Vec<i64>>,
    pub author: Option<String>,
    pub scan_open: Option<i64>,
    pub scan_fix: Option<i64>,
    pub file_path: Option<String>,
    /// The rule id (`checkrule_display_name`), as a substring.
    pub rule: Option<String>,
}

impl IssueFilter {
    /// The WHERE clause and its values; only the filters given appear in the SQL.
    fn where_clause(&self, project_id: ProjectId) -> (String, Vec<SqlValue>) {
        let mut clauses = vec!["project_id = ?".to_string()];
        let mut values = vec![SqlValue::Integer(project_id.0)];
        for (column, list) in [
            ("state", &self.states),
            ("severity", &self.severities),
            ("resolution", &self.resolutions),
        ] {
            if let Some(list) = list {
                let marks = vec!["?"; list.len()].join(", ");
                clauses.push(format!("{column} IN ({marks})"));
                values.extend(list.iter().map(|value| SqlValue::Integer(*value)));
            }
        }
        for (column, number) in [("scan_open", self.scan_open), ("scan_fix", self.scan_fix)] {
            if let Some(number) = number {
                clauses.push(format!("{column} = ?"));
                values.push(SqlValue::Integer(number));
            }
        }
        for (column, text) in [
            ("author", &self.author),
            ("path", &self.file_path),
            ("rule", &self.rule),
        ] {
            if let Some(text) = text {
                clauses.push(format!("{column} LIKE ? ESCAPE '\\'"));
                values.push(SqlValue::Text(crate::db::contains_pattern(text)));
            }
        }
        (clauses.join(" AND "), values)
    }
}

/// One page of the project's findings, newest first, and the count of all that match.
pub fn list(
    conn: &Connection,
    project_id: ProjectId,
    filter: &IssueFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<StoredIssue>)> {
    let (condition, values) = filter.where_clause(project_id);
    let count: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM issues WHERE {condition}"),
        params_from_iter(values.iter()),
        |row| row.get(0),
    )?;
    let mut page_values = values;
    page_values.push(SqlValue::Integer(limit));
    page_values.push(SqlValue::Integer(offset));
    let mut stmt = conn.prepare(&format!(
        "SELECT {ISSUE_COLUMNS} FROM issues WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
    ))?;
    let issues = stmt
        .query_map(params_from_iter(page_values.iter()), issue_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok((count, issues))
}

/// A finding of the project (`None` when missing or in another project).
pub fn get(
    conn: &Connection,
    project_id: ProjectId,
    issue_id: i64,
) -> rusqlite::Result<Option<StoredIssue>> {
    conn.query_row(
        &format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?1 AND project_id = ?2"),
        params![issue_id, project_id.0],
        issue_from_row,
    )
    .optional()
}

/// Where the latest job that saw a finding saw it, and what it scanned.
#[derive(Debug, Clone)]
pub struct Sighting {
    pub job_id: JobId,
    pub line: i64,
    pub column: i64,
    pub scan_revision: Option<String>,
    pub job_create_time: String,
}

pub fn latest_sighting(conn: &Connection, issue_id: i64) -> rusqlite::Result<Option<Sighting>> {
    conn.query_row(
        "SELECT ji.job_id, ji.line, ji.column_no, s.scm_revision, j.create_time
         FROM job_issues ji
         JOIN jobs j ON j.id = ji.job_id
         LEFT JOIN scans s ON s.id = j.scan_id
         WHERE ji.issue_id = ?1
         ORDER BY ji.job_id DESC LIMIT 1",
        params![issue_id],
        |row| {
            Ok(Sighting {
                job_id: JobId(row.get(0)?),
                line: row.get(1)?,
                column: row.get(2)?,
                scan_revision: row.get(3)?,
                job_create_time: row.get(4)?,
            })
        },
    )
    .optional()
}

/// The findings a job saw, at the line and column it saw them, each with its fingerprint, in
/// tool, path and line order.
pub fn for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<Vec<(Finding, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.tool, i.rule, i.path, ji.line, ji.column_no, i.severity, i.category, i.message,
                i.fingerprint
         FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
         WHERE ji.job_id = ?1
         ORDER BY i.tool, i.path, ji.line, ji.column_no, i.id",
    )?;
    let findings = stmt
        .query_map(params![job_id.0], |row| {
            let severity: i64 = row.get(5)?;
            Ok((
                Finding {
                    tool: row.get(0)?,
                    rule: row.get(1)?,
                    path: row.get(2)?,
                    line: row.get(3)?,
                    column: row.get(4)?,
                    severity: Severity::from_i64(severity).unwrap_or(Severity::Info),
                    category: row.get(6)?,
                    message: row.get(7)?,
                },
                row.get(8)?,
            ))
        })?
        .collect();
    findings
}

/// How many findings a job saw.
pub fn count_for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM job_issues WHERE job_id = ?1",
        params![job_id.0],
        |row| row.get(0),
    )
}

/// The project's findings counted by state, severity, category and tool together: small
/// (one row per combination), so callers sum it any way they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueTally {
    pub state: i64,
    pub severity: i64,
    pub category: String,
    pub tool: String,
    pub count: i64,
}

pub fn tally(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Vec<IssueTally>> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, severity, category, tool, COUNT(*) FROM issues WHERE project_id = ?1
         GROUP BY state, severity, category, tool ORDER BY state, severity, category, tool",
    )?;
    let tally = stmt
        .query_map(params![project_id.0], |row| {
            Ok(IssueTally {
                state: row.get(0)?,
                severity: row.get(1)?,
                category: row.get(2)?,
                tool: row.get(3)?,
                count: row.get(4)?,
            })
        })?
        .collect();
    tally
}

/// The project's newest job, in any state.
pub fn latest_job_id(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Option<JobId>> {
    conn.query_row(
        "SELECT id FROM jobs WHERE project_id = ?1 ORDER BY id DESC LIMIT 1",
        params![project_id.0],
        |row| Ok(JobId(row.get(0)?)),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

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
