//! The project's findings as the download reads them (TCA's `codelint/issues/download/`), in
//! pieces behind a keyset cursor, and counted by rule (`codelint/issues/checkrules/`) from the
//! finding tallies. Knows nothing of HTTP.

use rusqlite::Connection;

use crate::db::findings::{IssueFilter, StoredIssue};
use crate::db::issue_lists::{self, Walk};
use crate::domain::ids::ProjectId;

/// A read of every finding a filter keeps, newest first, one piece at a time, each piece its
/// own call (no connection or transaction is held between pieces). The filter is counted
/// once, at the start, to choose the walk; each piece then starts below the last id the one
/// before it gave, so its cost does not grow with how far the read is, and a finding comes at
/// most once even when findings are added or changed between pieces (added ones have higher
/// ids and are not read).
#[derive(Debug, Clone)]
pub struct FindingsExport {
    project_id: ProjectId,
    filter: IssueFilter,
    walk: Walk,
    /// The id of the last finding read; `None` before the first piece.
    before: Option<i64>,
    done: bool,
}

impl FindingsExport {
    pub fn start(
        conn: &Connection,
        project_id: ProjectId,
        filter: IssueFilter,
    ) -> rusqlite::Result<FindingsExport> {
        let count = issue_lists::count(conn, project_id, &filter)?;
        let walk = Walk::choose(conn, project_id, &filter, count, count)?;
        Ok(FindingsExport {
            project_id,
            filter,
            walk,
            before: None,
            done: count == 0,
        })
    }

    /// The next (up to) `limit` findings, newest first; empty once every one was read.
    pub fn next_piece(
        &mut self,
        conn: &Connection,
        limit: i64,
    ) -> rusqlite::Result<Vec<StoredIssue>> {
        if self.done {
            return Ok(Vec::new());
        }
        let (ids, values) =
            issue_lists::ids_before(self.walk, self.project_id, &self.filter, self.before, limit);
        let issues = crate::db::findings::issues_in(conn, &ids, &values)?;
        self.done = (issues.len() as i64) < limit;
        if let Some(last) = issues.last() {
            self.before = Some(last.id);
        }
        Ok(issues)
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Each rule with findings in the project: its name, how many findings, how many open (state
/// 1), most findings first.
pub fn rule_counts(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Vec<(String, i64, i64)>> {
    let mut statement = conn.prepare_cached(
        "SELECT rule, SUM(n) AS num, SUM(CASE WHEN state = 1 THEN n ELSE 0 END)
         FROM issue_tallies WHERE project_id = ?1 GROUP BY rule ORDER BY num DESC, rule",
    )?;
    let rows = statement.query_map([project_id.0], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    fn add_finding(conn: &Connection, project: i64, state: i64, job: Option<i64>) {
        conn.execute(
            "INSERT INTO issues (project_id, fingerprint, tool, rule, path, line, column_no,
                 severity, category, message, state, resolution, scan_open,
                 created_time, modified_time)
             VALUES (?1, lower(hex(randomblob(8))), 't', 'R1', 'a.py', 1, 1, 2, 'c', 'm', ?2, 0, 1,
                 'x', 'x')",
            params![project, state],
        )
        .unwrap();
        if let Some(job) = job {
            conn.execute(
                "INSERT INTO job_issues (job_id, issue_id, line, column_no) VALUES (?1, ?2, 1, 1)",
                params![job, conn.last_insert_rowid()],
            )
            .unwrap();
        }
    }

    fn ids(conn: &Connection, sql: &str) -> Vec<i64> {
        let mut statement = conn.prepare(sql).unwrap();
        let rows = statement.query_map([], |row| row.get(0)).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    /// Every piece of an export, with findings the filter keeps added before each piece after
    /// the first; what the filter kept at the start is what it must read, each once, in order.
    fn export_while_writing(conn: &Connection, filter: IssueFilter, kept: &str) -> Walk {
        let at_start = ids(conn, kept);
        let mut export = FindingsExport::start(conn, ProjectId(1), filter).unwrap();
        let walk = export.walk;
        let mut read = Vec::new();
        let mut pieces = 0;
        while !export.is_done() {
            if pieces > 0 {
                for _ in 0..3 {
                    add_finding(conn, 1, 1, Some(7));
                }
            }
            read.extend(export.next_piece(conn, 4).unwrap().iter().map(|i| i.id));
            pieces += 1;
        }
        assert!(pieces > 2, "{pieces} pieces");
        assert_eq!(read, at_start);
        assert!(export.next_piece(conn, 4).unwrap().is_empty());
        walk
    }

    #[test]
    fn an_export_reads_each_finding_once_while_findings_are_added_between_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("f.db")).unwrap();
        // The projects, scans and jobs these rows name are not what is tested.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for n in 0..30 {
            let project = if n % 5 == 0 { 2 } else { 1 };
            let state = if n % 3 == 0 { 2 } else { 1 };
            add_finding(&conn, project, state, (n % 2 == 0).then_some(7));
        }
        let open = IssueFilter {
            states: Some(vec![1]),
            ..IssueFilter::default()
        };
        let open_kept = "SELECT id FROM issues WHERE project_id = 1 AND state = 1 ORDER BY id DESC";
        // Dense at first: the project's findings are walked.
        let first = export_while_writing(&conn, open.clone(), open_kept);
        let seen_by_job = IssueFilter {
            job_id: Some(7),
            ..IssueFilter::default()
        };
        export_while_writing(
            &conn,
            seen_by_job,
            "SELECT i.id FROM issues i JOIN job_issues ji ON ji.issue_id = i.id
             WHERE i.project_id = 1 AND ji.job_id = 7 ORDER BY i.id DESC",
        );
        // Project 2's findings now spread project 1's ids past the walk's budget: the
        // filter's matches are found and sorted, behind the same cursor.
        for _ in 0..40 {
            add_finding(&conn, 2, 1, None);
        }
        add_finding(&conn, 1, 2, None);
        let closed = IssueFilter {
            states: Some(vec![2]),
            ..IssueFilter::default()
        };
        let closed_kept =
            "SELECT id FROM issues WHERE project_id = 1 AND state = 2 ORDER BY id DESC";
        assert_ne!(export_while_writing(&conn, closed, closed_kept), first);
        let unseen = IssueFilter {
            job_id: Some(8),
            ..IssueFilter::default()
        };
        let mut export = FindingsExport::start(&conn, ProjectId(1), unseen).unwrap();
        assert!(export.is_done());
        assert!(export.next_piece(&conn, 4).unwrap().is_empty());
    }
}
