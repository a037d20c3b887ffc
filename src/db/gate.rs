//! The quality gate in the database (issue 11): a job's verdict, evaluated in the transaction
//! that closes it, from what the project's scans of the job's revision stored.
//!
//! "New" belongs to the revision, not to the one job: a finding is new when the first scan that
//! saw it scanned this revision, a function when the first complexity measure of this revision
//! found it new or grown past the threshold. So a scan of the same commit again (a re-run CI,
//! a full scan, a job that matched its baseline with code 1) reaches the same verdict, except
//! for what people changed since: findings they marked ignored no longer count, and thresholds
//! changed count from then on. Verdicts already stored are never rewritten.

use rusqlite::{params, Connection, OptionalExtension};

use crate::db;
use crate::domain::gate::{self, GateMeasures, GateThresholds, GateVerdict, NewComplex};
use crate::domain::ids::{JobId, ProjectId, SchemeId};
use crate::domain::job::ToolModule;
use crate::domain::metrics::change_type;

/// The scans of one revision of a project.
const REVISION_SCANS: &str = "SELECT id FROM scans WHERE project_id = ?1 AND scm_revision = ?2";

/// Evaluates the gate of job `job_id` with its scheme's thresholds now, and stores the verdict
/// on the job (whose `gate` stays NULL when the scheme has none). Call it in the transaction
/// that closes the job with results, before the close writes its notifications.
pub fn judge_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<GateVerdict>> {
    let Some(verdict) = evaluate(conn, job_id)? else {
        // No thresholds, or nothing stored: `gate` stays null, as the job was made.
        return Ok(None);
    };
    let stored = serde_json::to_string(&verdict).expect("a verdict is plain JSON");
    conn.execute(
        "UPDATE jobs SET gate = ?2 WHERE id = ?1",
        params![job_id.0, stored],
    )?;
    Ok(Some(verdict))
}

fn evaluate(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<GateVerdict>> {
    let found = db::query_row(
        conn,
        "SELECT j.project_id, p.scan_scheme_id, s.scm_revision
         FROM jobs j JOIN projects p ON p.id = j.project_id LEFT JOIN scans s ON s.id = j.scan_id
         WHERE j.id = ?1",
        params![job_id.0],
        |row| {
            Ok((
                ProjectId(row.get(0)?),
                SchemeId(row.get(1)?),
                row.get::<_, Option<String>>(2)?,
            ))
        },
    )
    .optional()?;
    let Some((project_id, scheme_id, Some(revision))) = found else {
        return Ok(None);
    };
    let Some(scheme) = db::schemes::get(conn, scheme_id)? else {
        return Ok(None);
    };
    if scheme.gate.is_empty() {
        return Ok(None);
    }
    let revision = Revision {
        conn,
        project_id,
        revision: &revision,
    };
    let measures = revision.measure(&scheme.gate)?;
    Ok(gate::judge(&scheme.gate, &measures))
}

fn new_findings_sql() -> String {
    format!(
        "SELECT COALESCE(SUM(severity <= 2), 0),
             COALESCE(SUM(tool = ?3 AND rule IN (SELECT value FROM json_each(?4))), 0)
         FROM issues
         WHERE scan_open IN ({REVISION_SCANS}) AND +project_id = ?1 AND +state = 1"
    )
}

/// One revision of one project, whose scans the gate reads.
struct Revision<'a> {
    conn: &'a Connection,
    project_id: ProjectId,
    revision: &'a str,
}

impl Revision<'_> {
    /// What the scans of the revision measured, for the thresholds that are set.
    fn measure(&self, thresholds: &GateThresholds) -> rusqlite::Result<GateMeasures> {
        let mut measures = GateMeasures::default();
        let wants_errors = thresholds.max_new_errors.is_some() && self.linted_by(None)?;
        let wants_secrets = thresholds.no_new_secrets && self.linted_by(Some(gate::SECRET_TOOL))?;
        if wants_errors || wants_secrets {
            let (errors, secrets) = self.new_findings()?;
            measures.new_errors = wants_errors.then_some(errors);
            measures.new_secrets = wants_secrets.then_some(secrets);
        }
        if thresholds.max_new_complex.is_some() {
            measures.new_complex = self.new_complex()?;
        }
        if thresholds.max_dup_rate.is_some() {
            measures.dup_rate = self.dup_rate()?;
        }
        Ok(measures)
    }

    /// Whether a lint task (of `tool`, or any) of a scan of the revision succeeded.
    fn linted_by(&self, tool: Option<&str>) -> rusqlite::Result<bool> {
        db::query_row(
            self.conn,
            &format!(
                "SELECT EXISTS (SELECT 1 FROM jobs j JOIN tasks t ON t.job_id = j.id
                     WHERE j.scan_id IN ({REVISION_SCANS}) AND t.module = ?3
                       AND t.result_code = 0 AND (?4 IS NULL OR t.task_name = ?4))"
            ),
            params![
                self.project_id.0,
                self.revision,
                ToolModule::Codelint.as_str(),
                tool
            ],
            |row| row.get(0),
        )
    }

    /// Of the open findings first seen by a scan of the revision: how many are of severity
    /// error or worse, and how many are secrets (the built-in checker's secret rules, whatever
    /// their severity). One pass over them for both, through the `scan_open` index (the `+`s
    /// keep SQLite from walking every open finding of the project through its state index).
    fn new_findings(&self) -> rusqlite::Result<(i64, i64)> {
        let rules = serde_json::to_string(gate::SECRET_RULES).expect("names are plain JSON");
        db::query_row(
            self.conn,
            &new_findings_sql(),
            params![self.project_id.0, self.revision, gate::SECRET_TOOL, rules],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    }

    /// Of the revision's first complexity measure: its functions over the threshold that were
    /// new, or under the threshold at the measure before.
    fn new_complex(&self) -> rusqlite::Result<Option<NewComplex>> {
        let first = db::query_row(
            self.conn,
            &format!(
                "SELECT c.job_id, c.threshold FROM jobs j JOIN cc_scans c ON c.job_id = j.id
                 WHERE j.scan_id IN ({REVISION_SCANS}) ORDER BY c.job_id LIMIT 1"
            ),
            params![self.project_id.0, self.revision],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()?;
        let Some((job_id, threshold)) = first else {
            return Ok(None);
        };
        let count = db::query_row(
            self.conn,
            "SELECT COUNT(*) FROM cc_issues
             WHERE job_id = ?1 AND ccn > ?3
               AND (change_type = ?2 OR (diff_ccn > 0 AND ccn - diff_ccn <= ?3))",
            params![job_id, change_type::ADDED, threshold],
            |row| row.get(0),
        )?;
        Ok(Some(NewComplex { count, threshold }))
    }

    /// The duplicate rate the revision's last look for copies found.
    fn dup_rate(&self) -> rusqlite::Result<Option<f64>> {
        db::query_row(
            self.conn,
            &format!(
                "SELECT d.duplicate_rate FROM jobs j JOIN dup_scans d ON d.job_id = j.id
                 WHERE j.scan_id IN ({REVISION_SCANS}) ORDER BY d.job_id DESC LIMIT 1"
            ),
            params![self.project_id.0, self.revision],
            |row| row.get(0),
        )
        .optional()
    }
}

#[cfg(test)]
mod tests {
    /// The count reads the findings a revision opened, never every open finding of the project
    /// (150,000 on a large repository), whatever the planner would guess without statistics.
    #[test]
    fn new_findings_are_found_through_the_scan_open_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("plan.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::new_findings_sql()))
            .unwrap()
            .query_map(rusqlite::params![1, "abc", "codepup", "[]"], |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().any(|step| step.contains("issues_scan_open")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .any(|step| step.contains("scans_project_revision")),
            "{plan:?}"
        );
    }
}
