//! SQL for lint findings kept per project across scans: recording what a scan saw (opening,
//! updating and reopening findings, fixing the ones it no longer sees) and reading them back.

use std::collections::HashSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::clock;
use crate::domain::finding::{Author, Finding, Severity};
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
    pub findings: &'a [(Finding, String, Option<Author>)],
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
/// Findings a user closed (state 3) keep their state, and so do findings a person ignored
/// (resolution 2 won't fix, 3 false positive); new and reopened findings an ignore covers are
/// resolved at once (`db::triage::apply_ignores`). Of findings sharing a fingerprint, the first
/// counts. Called once per job, in its close transaction.
///
/// In bulk: the first finding of each fingerprint goes, in the order the scan reported it, into
/// a temporary table of the connection keyed by that order (appended, never sorted), and a few
/// set-based statements update, insert, link and fix against it; nothing of the project's other
/// findings is read into memory. The temporary tables are emptied before returning.
pub fn record(conn: &Connection, scan: &ScanFindings<'_>) -> rusqlite::Result<Recorded> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS scan_findings (
             seq         INTEGER PRIMARY KEY,
             fingerprint TEXT    NOT NULL,
             tool        TEXT    NOT NULL,
             rule        TEXT    NOT NULL,
             path        TEXT    NOT NULL,
             line        INTEGER NOT NULL,
             column_no   INTEGER NOT NULL,
             severity    INTEGER NOT NULL,
             category    TEXT    NOT NULL,
             message     TEXT    NOT NULL,
             author      TEXT,
             author_email TEXT
         );
         CREATE TEMP TABLE IF NOT EXISTS scan_matches (
             issue_id  INTEGER PRIMARY KEY,
             line      INTEGER NOT NULL,
             column_no INTEGER NOT NULL,
             severity  INTEGER NOT NULL,
             message   TEXT    NOT NULL,
             reopen    INTEGER NOT NULL
         );
         CREATE TEMP TABLE IF NOT EXISTS scan_tools (tool TEXT PRIMARY KEY) WITHOUT ROWID;
         CREATE TEMP TABLE IF NOT EXISTS scan_paths (path TEXT PRIMARY KEY) WITHOUT ROWID;",
    )?;
    let recorded = record_staged(conn, scan);
    // Emptied whatever happened: the connection goes back to the pool, and outside a
    // transaction (the unit tests) a failed insert must not leave the tallies deferred.
    let emptied = conn
        .execute_batch(EMPTY_STAGING)
        .and_then(|()| conn.execute(END_DEFERRAL, []).map(drop));
    let recorded = recorded?;
    emptied?;
    Ok(recorded)
}

const EMPTY_STAGING: &str = "DELETE FROM temp.scan_findings; DELETE FROM temp.scan_matches;
     DELETE FROM temp.scan_tools; DELETE FROM temp.scan_paths;";

fn record_staged(conn: &Connection, scan: &ScanFindings<'_>) -> rusqlite::Result<Recorded> {
    let now = clock::now_stored();
    let seen = stage(conn, scan)?;
    let sightings_before = count_sightings(conn, scan.job_id)?;
    // The insert triggers' tallies are added for the whole scan at once (schema.sql,
    // `tally_deferrals`); `record` removes the row whatever happens.
    conn.execute("INSERT INTO tally_deferrals (id) VALUES (1)", [])?;
    let reopened = update_seen(conn, scan, &now)?;
    let last_id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM issues", [], |row| {
        row.get(0)
    })?;
    let opened = open_new(conn, scan, &now, last_id)?;
    conn.execute(END_DEFERRAL, [])?;
    count_opened(conn, scan, last_id, opened)?;
    count_sightings_added(conn, scan, sightings_before)?;
    // Before fixing: an ignored finding is resolved, and fixing reads open ones only.
    crate::db::triage::apply_ignores(conn, scan.project_id, last_id)?;
    let fixed = fix_unseen(conn, scan, &now)?;
    Ok(Recorded {
        opened,
        reopened,
        fixed,
        seen,
    })
}

/// Fills the staging tables: the scan's findings, the tools that ran, the paths of its
/// coverage. Returns how many distinct findings the scan saw.
fn stage(conn: &Connection, scan: &ScanFindings<'_>) -> rusqlite::Result<usize> {
    conn.execute_batch(EMPTY_STAGING)?;
    // In the order reported, so the table is built by appending and the new findings are
    // inserted in that order without a sort; of equal fingerprints the first reported wins.
    let mut stage = conn.prepare_cached(
        "INSERT INTO temp.scan_findings (seq, fingerprint, tool, rule, path, line, column_no,
             severity, category, message, author, author_email)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut staged: HashSet<&str> = HashSet::with_capacity(scan.findings.len());
    for (seq, (finding, fingerprint, author)) in scan.findings.iter().enumerate() {
        if !staged.insert(fingerprint) {
            continue;
        }
        stage.execute(params![
            seq as i64,
            fingerprint,
            finding.tool,
            finding.rule,
            finding.path,
            finding.line,
            finding.column,
            finding.severity as i64,
            finding.category,
            finding.message,
            author.as_ref().map(|author| &author.name),
            author.as_ref().map(|author| &author.email)
        ])?;
    }
    let mut tool =
        conn.prepare_cached("INSERT OR IGNORE INTO temp.scan_tools (tool) VALUES (?1)")?;
    for name in scan.tools {
        tool.execute([name])?;
    }
    if let Coverage::Files(paths) | Coverage::AllBut(paths) = &scan.coverage {
        let mut path =
            conn.prepare_cached("INSERT OR IGNORE INTO temp.scan_paths (path) VALUES (?1)")?;
        for name in paths.iter() {
            path.execute([name])?;
        }
    }
    Ok(staged.len())
}

/// Known findings seen again take their place as seen now, fixed ones reopen, and each is
/// linked to the job. Returns how many reopened.
fn update_seen(conn: &Connection, scan: &ScanFindings<'_>, now: &str) -> rusqlite::Result<usize> {
    // In issue id order, so that updating and linking them walk the tables in order.
    conn.prepare_cached(
        "INSERT INTO temp.scan_matches (issue_id, line, column_no, severity, message, reopen)
         SELECT i.id, t.line, t.column_no, t.severity, t.message,
             i.state = 2 AND i.resolution NOT IN (2, 3)
         FROM temp.scan_findings t
         JOIN issues i ON i.project_id = ?1 AND i.fingerprint = t.fingerprint
         ORDER BY i.id",
    )?
    .execute([scan.project_id.0])?;
    let reopened: i64 = conn.query_row(
        "SELECT COUNT(*) FROM temp.scan_matches WHERE reopen",
        [],
        |row| row.get(0),
    )?;
    // Only the rare changes of the indexed columns (state, severity) touch the state index.
    conn.prepare_cached(
        "UPDATE issues SET line = m.line, column_no = m.column_no, message = m.message,
             revision = ?1, modified_time = ?2
         FROM temp.scan_matches m WHERE issues.id = m.issue_id",
    )?
    .execute(params![scan.revision, now])?;
    conn.prepare_cached(
        "UPDATE issues SET severity = m.severity
         FROM temp.scan_matches m WHERE issues.id = m.issue_id AND issues.severity <> m.severity
           AND issues.id NOT IN (SELECT issue_id FROM issue_severity_overrides)",
    )?
    .execute([])?;
    conn.prepare_cached(
        "UPDATE issues SET state = 1, resolution = 0, scan_fix = NULL, fixed_time = NULL
         FROM temp.scan_matches m WHERE issues.id = m.issue_id AND m.reopen",
    )?
    .execute([])?;
    conn.prepare_cached(
        "INSERT INTO job_issues (job_id, issue_id, line, column_no)
         SELECT ?1, issue_id, line, column_no FROM temp.scan_matches WHERE true ORDER BY issue_id
         ON CONFLICT DO UPDATE SET line = excluded.line, column_no = excluded.column_no",
    )?
    .execute([scan.job_id.0])?;
    Ok(reopened as usize)
}

/// New findings open, in the order the scan reported them, and are linked to the job. Returns
/// how many opened.
fn open_new(
    conn: &Connection,
    scan: &ScanFindings<'_>,
    now: &str,
    last_id: i64,
) -> rusqlite::Result<usize> {
    let opened = conn
        .prepare_cached(
            "INSERT INTO issues (project_id, fingerprint, tool, rule, path, line, column_no, severity,
                 category, message, author, author_email, revision, scan_open, created_time,
                 modified_time)
             SELECT ?1, t.fingerprint, t.tool, t.rule, t.path, t.line, t.column_no, t.severity,
                 t.category, t.message, t.author, t.author_email, ?2, ?3, ?4, ?4
             FROM temp.scan_findings t
             WHERE NOT EXISTS (
                 SELECT 1 FROM issues i WHERE i.project_id = ?1 AND i.fingerprint = t.fingerprint)
             ORDER BY t.seq",
        )?
        .execute(params![
            scan.project_id.0,
            scan.revision,
            scan.scan_id.map(|id| id.0),
            now
        ])?;
    conn.prepare_cached(
        "INSERT INTO job_issues (job_id, issue_id, line, column_no)
         SELECT ?1, i.id, i.line, i.column_no FROM issues i WHERE i.id > ?2 ORDER BY i.id
         ON CONFLICT DO UPDATE SET line = excluded.line, column_no = excluded.column_no",
    )?
    .execute(params![scan.job_id.0, last_id])?;
    Ok(opened)
}

const END_DEFERRAL: &str = "DELETE FROM tally_deferrals";

/// How many findings job `job_id` has seen so far.
fn count_sightings(conn: &Connection, job_id: JobId) -> rusqlite::Result<i64> {
    crate::db::query_row(
        conn,
        "SELECT COUNT(*) FROM job_issues WHERE job_id = ?1",
        [job_id.0],
        |row| row.get(0),
    )
}

/// What the insert trigger of `job_issues` would have counted for the sightings just added:
/// every one is of a finding of the scan's project (`update_seen` and `open_new` link only
/// those), and an upsert that found its row added none.
fn count_sightings_added(
    conn: &Connection,
    scan: &ScanFindings<'_>,
    before: i64,
) -> rusqlite::Result<()> {
    let added = count_sightings(conn, scan.job_id)? - before;
    if added > 0 {
        conn.prepare_cached(
            "INSERT INTO job_issue_tallies (job_id, project_id, n) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET n = n + excluded.n",
        )?
        .execute(params![scan.job_id.0, scan.project_id.0, added])?;
    }
    Ok(())
}

/// What the insert triggers of `issues` would have counted for the findings just opened (ids
/// above `last_id`), added per tally row: `issue_tallies` and `issue_paths` grouped, and
/// `issue_scan_tallies` the one row of the scan that opened them all.
fn count_opened(
    conn: &Connection,
    scan: &ScanFindings<'_>,
    last_id: i64,
    opened: usize,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO issue_tallies (project_id, state, severity, resolution, author, rule, n)
         SELECT project_id, state, severity, resolution, IFNULL(author, ''), rule, COUNT(*)
         FROM issues WHERE id > ?1 GROUP BY 1, 2, 3, 4, 5, 6
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute([last_id])?;
    conn.prepare_cached(
        "INSERT INTO issue_paths (project_id, path, n)
         SELECT project_id, path, COUNT(*) FROM issues WHERE id > ?1 GROUP BY 1, 2
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?
    .execute([last_id])?;
    // Every finding opened names this scan as `scan_open` and none has a `scan_fix` yet.
    if let (Some(scan_id), true) = (scan.scan_id, opened > 0) {
        conn.prepare_cached(
            "INSERT INTO issue_scan_tallies (scan_id, fixed, project_id, n) VALUES (?1, 0, ?2, ?3)
             ON CONFLICT DO UPDATE SET n = n + excluded.n",
        )?
        .execute(params![scan_id.0, scan.project_id.0, opened as i64])?;
    }
    Ok(())
}

/// Open findings of the tools that ran, in files the scan covered, that it did not see: fixed.
/// Returns how many.
fn fix_unseen(conn: &Connection, scan: &ScanFindings<'_>, now: &str) -> rusqlite::Result<usize> {
    let covered = match scan.coverage {
        Coverage::Full => "",
        Coverage::Files(_) => "AND path IN (SELECT path FROM temp.scan_paths)",
        Coverage::AllBut(_) => "AND path NOT IN (SELECT path FROM temp.scan_paths)",
    };
    conn.prepare_cached(&format!(
        "UPDATE issues SET state = 2, resolution = 1, scan_fix = ?2, fixed_time = ?3,
             modified_time = ?3
         WHERE project_id = ?1 AND state = 1
           AND tool IN (SELECT tool FROM temp.scan_tools) {covered}
           AND NOT EXISTS (
               SELECT 1 FROM job_issues ji WHERE ji.job_id = ?4 AND ji.issue_id = issues.id)"
    ))?
    .execute(params![
        scan.project_id.0,
        scan.scan_id.map(|id| id.0),
        now,
        scan.job_id.0
    ])
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
    /// Only the findings this job saw (codepup's own filter, for a job's page).
    pub job_id: Option<i64>,
}

impl IssueFilter {
    /// The WHERE clause and its values; only the filters given appear in the SQL. `job_id` is
    /// not among them: `db::issue_lists` reaches a job's findings through its sightings.
    pub(crate) fn where_clause(&self, project_id: ProjectId) -> (String, Vec<SqlValue>) {
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

/// One page of the project's findings, newest first, and the count of all that match
/// (`db::issue_lists` picks the tally and the index for the filters).
pub fn list(
    conn: &Connection,
    project_id: ProjectId,
    filter: &IssueFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<StoredIssue>)> {
    let count = crate::db::issue_lists::count(conn, project_id, filter)?;
    if count == 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    let (ids, values) =
        crate::db::issue_lists::page_ids(conn, project_id, filter, count, (limit, offset))?;
    Ok((count, issues_in(conn, &ids, &values)?))
}

/// The findings whose ids the SELECT `ids` (with `values`) gives, newest first.
pub(crate) fn issues_in(
    conn: &Connection,
    ids: &str,
    values: &[rusqlite::types::Value],
) -> rusqlite::Result<Vec<StoredIssue>> {
    let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id IN ({ids}) ORDER BY id DESC");
    conn.prepare_cached(&sql)?
        .query_map(params_from_iter(values.iter()), issue_from_row)?
        .collect()
}

/// Counts every finding into `issue_tallies` anew (the schema step that made it; the triggers
/// keep it from then on).
pub fn rebuild_tallies(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM issue_tallies;
         INSERT INTO issue_tallies (project_id, state, severity, resolution, author, rule, n)
         SELECT project_id, state, severity, resolution, IFNULL(author, ''), rule, COUNT(*)
         FROM issues GROUP BY 1, 2, 3, 4, 5, 6;",
    )
}

/// Counts every finding into `issue_paths` and `issue_scan_tallies`, and every sighting into
/// `job_issue_tallies`, anew (schema step 15; the triggers keep them from then on).
pub fn rebuild_key_tallies(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM issue_paths;
         DELETE FROM issue_scan_tallies;
         DELETE FROM job_issue_tallies;
         INSERT INTO issue_paths (project_id, path, n)
         SELECT project_id, path, COUNT(*) FROM issues GROUP BY 1, 2;
         INSERT INTO issue_scan_tallies (scan_id, fixed, project_id, n)
         SELECT scan_id, fixed, project_id, COUNT(*) FROM (
             SELECT scan_open AS scan_id, 0 AS fixed, project_id FROM issues WHERE scan_open IS NOT NULL
             UNION ALL
             SELECT scan_fix, 1, project_id FROM issues WHERE scan_fix IS NOT NULL)
         GROUP BY 1, 2, 3;
         INSERT INTO job_issue_tallies (job_id, project_id, n)
         SELECT ji.job_id, i.project_id, COUNT(*) FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
         GROUP BY 1, 2;",
    )
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

/// One tool's part of a job's findings, in the order an export lists them (path, line, column,
/// then issue id): the issue ids, and each distinct rule's first finding (its issue id), in
/// first-seen order. About 8 bytes a finding, so a large job's export holds this and one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFindings {
    pub tool: String,
    pub ids: Vec<i64>,
    pub rule_ids: Vec<i64>,
}

/// The tools that have findings of the job, in name order, each with its findings' order.
pub fn export_order(conn: &Connection, job_id: JobId) -> rusqlite::Result<Vec<ToolFindings>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, i.tool, i.rule
         FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
         WHERE ji.job_id = ?1
         ORDER BY i.tool, i.path, ji.line, ji.column_no, i.id",
    )?;
    let mut rows = stmt.query(params![job_id.0])?;
    let mut tools: Vec<ToolFindings> = Vec::new();
    let mut rules: HashSet<String> = HashSet::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let tool = row.get_ref(1)?.as_str()?;
        let rule = row.get_ref(2)?.as_str()?;
        if tools.last().is_none_or(|last| last.tool != tool) {
            tools.push(ToolFindings {
                tool: tool.to_string(),
                ..ToolFindings::default()
            });
            rules.clear();
        }
        let current = tools.last_mut().expect("a tool was just pushed");
        current.ids.push(id);
        if !rules.contains(rule) {
            rules.insert(rule.to_string());
            current.rule_ids.push(id);
        }
    }
    Ok(tools)
}

/// The job's findings with these issue ids, in the order given, at the line and column the job
/// saw them, each with its fingerprint; ids the job did not see are left out.
pub fn job_findings(
    conn: &Connection,
    job_id: JobId,
    ids: &[i64],
) -> rusqlite::Result<Vec<(Finding, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.tool, i.rule, i.path, ji.line, ji.column_no, i.severity, i.category, i.message,
                i.fingerprint
         FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
         WHERE ji.job_id = ?1 AND ji.issue_id = ?2",
    )?;
    let mut findings = Vec::with_capacity(ids.len());
    for id in ids {
        let found = stmt
            .query_row(params![job_id.0, id], |row| {
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
            })
            .optional()?;
        findings.extend(found);
    }
    Ok(findings)
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

/// The project's open findings (state 1) whose author is `author`.
pub fn count_open_by_author(
    conn: &Connection,
    project_id: ProjectId,
    author: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM issues WHERE project_id = ?1 AND state = 1 AND author = ?2",
    )?
    .query_row(params![project_id.0, author], |row| row.get(0))
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

    /// Every tally the triggers and `record` keep, as rows of text.
    fn tallies(conn: &Connection) -> Vec<String> {
        let mut rows = Vec::new();
        for sql in [
            "SELECT project_id, state, severity, resolution, author, rule, n FROM issue_tallies",
            "SELECT project_id, path, n, '', '', '', '' FROM issue_paths",
            "SELECT scan_id, fixed, project_id, n, '', '', '' FROM issue_scan_tallies",
            "SELECT job_id, project_id, n, '', '', '', '' FROM job_issue_tallies",
        ] {
            let mut stmt = conn.prepare(sql).unwrap();
            let found = stmt
                .query_map([], |row| {
                    (0..7)
                        .map(|i| {
                            row.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .unwrap();
            rows.extend(found.map(|row| format!("{sql}: {}", row.unwrap().join(" "))));
        }
        rows.sort();
        rows
    }

    /// The tallies as they stand equal a count of every finding and sighting from scratch.
    fn assert_tallies_exact(conn: &Connection) {
        let kept = tallies(conn);
        assert!(!kept.is_empty());
        rebuild_tallies(conn).unwrap();
        rebuild_key_tallies(conn).unwrap();
        assert_eq!(kept, tallies(conn), "the tallies kept equal a recount");
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
            |job: i64, coverage: Coverage<'_>, findings: &[(Finding, String, Option<Author>)]| {
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
        assert_tallies_exact(&conn);
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

    #[test]
    fn the_first_of_a_fingerprint_counts_closed_findings_stay_closed_and_left_out_files_keep_theirs(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("f.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let tools = vec!["codepup".to_string(), "pylint".to_string()];
        let at = |path: &str, line: u32, fingerprint: &str, author: Option<&str>| {
            let mut finding = finding(path);
            finding.line = line;
            let author = author.map(|name: &str| Author {
                name: name.to_string(),
                email: format!("{name}@example.com"),
            });
            (finding, fingerprint.to_string(), author)
        };
        let scan =
            |job: i64, coverage: Coverage<'_>, findings: &[(Finding, String, Option<Author>)]| {
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
        let sightings = |job: i64| -> Vec<(String, i64, i64)> {
            let mut stmt = conn
                .prepare(
                    "SELECT i.fingerprint, ji.line, i.line FROM job_issues ji
                     JOIN issues i ON i.id = ji.issue_id WHERE ji.job_id = ?1 ORDER BY i.id",
                )
                .unwrap();
            stmt.query_map([job], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let first = scan(
            1,
            Coverage::Full,
            &[
                at("c.py", 7, "fc", Some("carol")),
                at("a.py", 5, "fa", Some("alice")),
                at("a.py", 9, "fa", Some("mallory")),
                at("b.py", 1, "fb", None),
            ],
        );
        assert_eq!(
            first,
            Recorded {
                opened: 3,
                reopened: 0,
                fixed: 0,
                seen: 3
            },
            "a repeated fingerprint is one finding"
        );
        assert_eq!(
            sightings(1),
            [
                ("fc".to_string(), 7, 7),
                ("fa".to_string(), 5, 5),
                ("fb".to_string(), 1, 1)
            ],
            "ids follow the order the scan reported, and the first of a fingerprint wins"
        );
        let author: Option<String> = conn
            .query_row(
                "SELECT author FROM issues WHERE fingerprint = 'fa'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(author.as_deref(), Some("alice"));
        // A user closes fc: seen or not, it stays closed.
        conn.execute(
            "UPDATE issues SET state = 3, resolution = 2 WHERE fingerprint = 'fc'",
            [],
        )
        .unwrap();
        let left_out: HashSet<String> = ["b.py".to_string()].into();
        let second = scan(
            2,
            Coverage::AllBut(&left_out),
            &[at("a.py", 6, "fa", Some("bob"))],
        );
        assert_eq!(
            second,
            Recorded {
                opened: 0,
                reopened: 0,
                fixed: 0,
                seen: 1
            },
            "b.py was left out and fc is closed"
        );
        assert_eq!(state_of(&conn, "fc"), (3, 2, None));
        assert_eq!(state_of(&conn, "fb"), (1, 0, None));
        assert_eq!(sightings(2), [("fa".to_string(), 6, 6)]);
        assert_eq!(
            sightings(1)[1],
            ("fa".to_string(), 5, 6),
            "job 1 keeps where it saw fa"
        );
        let third = scan(3, Coverage::Full, &[at("c.py", 8, "fc", None)]);
        assert_eq!(
            third,
            Recorded {
                opened: 0,
                reopened: 0,
                fixed: 2,
                seen: 1
            }
        );
        assert_eq!(state_of(&conn, "fc"), (3, 2, None));
        assert_eq!(state_of(&conn, "fa"), (2, 1, Some(3)));
        let none_left: HashSet<String> = HashSet::new();
        let fourth = scan(
            4,
            Coverage::AllBut(&none_left),
            &[at("b.py", 2, "fb", None)],
        );
        assert_eq!(
            fourth,
            Recorded {
                opened: 0,
                reopened: 1,
                fixed: 0,
                seen: 1
            }
        );
        let fixed_time: Option<String> = conn
            .query_row(
                "SELECT fixed_time FROM issues WHERE fingerprint = 'fb'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!((state_of(&conn, "fb"), fixed_time), ((1, 0, None), None));
        let temp_rows: i64 = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM temp.scan_findings) + (SELECT COUNT(*) FROM temp.scan_paths)
                     + (SELECT COUNT(*) FROM temp.scan_matches)
                     + (SELECT COUNT(*) FROM temp.scan_tools)",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(temp_rows, 0, "the staging tables are left empty");
        assert_tallies_exact(&conn);
        let deferred: i64 = conn
            .query_row("SELECT COUNT(*) FROM tally_deferrals", [], |row| row.get(0))
            .unwrap();
        assert_eq!(deferred, 0, "no tally is left deferred");
    }
}
