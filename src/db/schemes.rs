//! SQL for scan schemes: global templates and each repository's own.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::db::string_list;
use crate::domain::gate::GateThresholds;
use crate::domain::ids::{RepoId, SchemeId, UserId};
use crate::domain::scheme::{NewScheme, Scheme};

const COLUMNS: &str =
    "id, repo_id, name, description, refer_scheme_id, languages, tools, lint_enabled,
    cc_scan_enabled, dup_scan_enabled, cloc_scan_enabled, job_runtime_limit, default_flag, status,
    created_from, created_time, blame_enabled, min_ccn, gate_max_new_errors, gate_no_new_secrets,
    gate_max_new_complex, gate_max_dup_rate";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Scheme> {
    Ok(Scheme {
        id: SchemeId(row.get(0)?),
        repo_id: row.get::<_, Option<i64>>(1)?.map(RepoId),
        name: row.get(2)?,
        description: row.get(3)?,
        refer_scheme_id: row.get(4)?,
        languages: string_list(&row.get::<_, String>(5)?),
        tools: string_list(&row.get::<_, String>(6)?),
        lint_enabled: row.get(7)?,
        cc_scan_enabled: row.get(8)?,
        dup_scan_enabled: row.get(9)?,
        cloc_scan_enabled: row.get(10)?,
        job_runtime_limit: row.get(11)?,
        default_flag: row.get(12)?,
        status: row.get(13)?,
        created_from: row.get(14)?,
        created_time: row.get(15)?,
        blame_enabled: row.get(16)?,
        min_ccn: row.get(17)?,
        gate: GateThresholds {
            max_new_errors: row.get(18)?,
            no_new_secrets: row.get(19)?,
            max_new_complex: row.get(20)?,
            max_dup_rate: row.get(21)?,
        },
    })
}

/// Inserts a scheme of `repo_id`. The repository's first scheme becomes its default. A name
/// already used in the repository is a UNIQUE violation.
pub fn insert(
    conn: &Connection,
    repo_id: RepoId,
    new_scheme: &NewScheme,
    refer_scheme: Option<SchemeId>,
    creator: UserId,
) -> rusqlite::Result<SchemeId> {
    let languages = serde_json::to_string(&new_scheme.languages).unwrap_or_else(|_| "[]".into());
    let tools = serde_json::to_string(&new_scheme.tools).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT INTO scan_schemes (repo_id, name, description, refer_scheme_id, languages, tools, lint_enabled,
             cc_scan_enabled, dup_scan_enabled, cloc_scan_enabled, job_runtime_limit, default_flag,
             creator_id, created_time, blame_enabled, min_ccn)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
             NOT EXISTS (SELECT 1 FROM scan_schemes WHERE repo_id = ?1), ?12, ?13, ?14, ?15)",
        params![
            repo_id.0,
            new_scheme.name,
            new_scheme.description,
            refer_scheme.map(|id| id.0),
            languages,
            tools,
            new_scheme.lint_enabled,
            new_scheme.cc_scan_enabled,
            new_scheme.dup_scan_enabled,
            new_scheme.cloc_scan_enabled,
            new_scheme.job_runtime_limit,
            creator.0,
            clock::now_stored(),
            new_scheme.blame_enabled,
            new_scheme.min_ccn
        ],
    )?;
    let scheme_id = SchemeId(conn.last_insert_rowid());
    set_gate(conn, scheme_id, &new_scheme.gate)?;
    Ok(scheme_id)
}

/// Replaces a scheme's quality-gate thresholds. The verdicts of jobs already closed stay.
pub fn set_gate(
    conn: &Connection,
    scheme_id: SchemeId,
    gate: &GateThresholds,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE scan_schemes SET gate_max_new_errors = ?2, gate_no_new_secrets = ?3,
             gate_max_new_complex = ?4, gate_max_dup_rate = ?5
         WHERE id = ?1",
        params![
            scheme_id.0,
            gate.max_new_errors,
            gate.no_new_secrets,
            gate.max_new_complex,
            gate.max_dup_rate
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<Option<Scheme>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM scan_schemes WHERE id = ?1"),
        params![scheme_id.0],
        from_row,
    )
    .optional()
}

/// A scheme of `repo_id` (not a template, not another repository's).
pub fn get_for_repo(
    conn: &Connection,
    repo_id: RepoId,
    scheme_id: SchemeId,
) -> rusqlite::Result<Option<Scheme>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM scan_schemes WHERE id = ?1 AND repo_id = ?2"),
        params![scheme_id.0, repo_id.0],
        from_row,
    )
    .optional()
}

/// A global template.
pub fn get_template(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<Option<Scheme>> {
    db::query_row(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM scan_schemes WHERE id = ?1 AND repo_id IS NULL AND status = 1"
        ),
        params![scheme_id.0],
        from_row,
    )
    .optional()
}

pub fn list_templates(conn: &Connection) -> rusqlite::Result<Vec<Scheme>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM scan_schemes WHERE repo_id IS NULL AND status = 1 ORDER BY id"
    ))?;
    let schemes = stmt.query_map([], from_row)?.collect();
    schemes
}

pub fn list_for_repo(conn: &Connection, repo_id: RepoId) -> rusqlite::Result<Vec<Scheme>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM scan_schemes WHERE repo_id = ?1 ORDER BY id"
    ))?;
    let schemes = stmt.query_map(params![repo_id.0], from_row)?.collect();
    schemes
}
