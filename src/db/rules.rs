//! SQL for a scheme's rule configuration (`scheme_rules`), path filters (`scheme_scandirs`), and
//! the configuration each job's results were found with (`job_configs`).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::db;
use crate::domain::finding::Severity;
use crate::domain::ids::{JobId, SchemeId};
use crate::domain::rules::{NewScanDir, PathType, RuleSetting, ScanDir, ScanType, SchemeRules};

/// The scheme's rule settings and path filters.
pub fn for_scheme(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<SchemeRules> {
    Ok(SchemeRules {
        settings: settings(conn, scheme_id)?,
        scandirs: scandirs(conn, scheme_id)?,
    })
}

pub fn settings(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<Vec<RuleSetting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT tool, rule, enabled, severity FROM scheme_rules WHERE scheme_id = ?1
         ORDER BY tool, rule",
    )?;
    let rows = stmt.query_map(params![scheme_id.0], |row| {
        Ok(RuleSetting {
            tool: row.get(0)?,
            rule: row.get(1)?,
            enabled: row.get(2)?,
            severity: row.get::<_, Option<i64>>(3)?.and_then(Severity::from_i64),
        })
    })?;
    rows.collect()
}

/// One setting of a rule.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Enabled(bool),
    Severity(Severity),
}

/// Sets one setting of a rule, keeping the other.
pub fn set(
    conn: &Connection,
    scheme_id: SchemeId,
    tool: &str,
    rule: &str,
    setting: Setting,
) -> rusqlite::Result<()> {
    let (column, value) = match setting {
        Setting::Enabled(enabled) => ("enabled", i64::from(enabled)),
        Setting::Severity(severity) => ("severity", severity as i64),
    };
    conn.prepare_cached(&format!(
        "INSERT INTO scheme_rules (scheme_id, tool, rule, {column}) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (scheme_id, tool, rule) DO UPDATE SET {column} = excluded.{column}"
    ))?
    .execute(params![scheme_id.0, tool, rule, value])?;
    Ok(())
}

/// Drops a rule's settings: it is back to its default. Whether there were any.
pub fn reset(
    conn: &Connection,
    scheme_id: SchemeId,
    tool: &str,
    rule: &str,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM scheme_rules WHERE scheme_id = ?1 AND tool = ?2 AND rule = ?3",
        )?
        .execute(params![scheme_id.0, tool, rule])?
        > 0)
}

const SCANDIR_COLUMNS: &str = "id, dir_path, path_type, scan_type";

fn scandir_from_row(row: &Row<'_>) -> rusqlite::Result<ScanDir> {
    let bad = |column: usize, value: i64| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Integer,
            format!("unknown value {value}").into(),
        )
    };
    let path_type: i64 = row.get(2)?;
    let scan_type: i64 = row.get(3)?;
    Ok(ScanDir {
        id: row.get(0)?,
        filter: NewScanDir {
            dir_path: row.get(1)?,
            path_type: PathType::from_i64(path_type).ok_or_else(|| bad(2, path_type))?,
            scan_type: ScanType::from_i64(scan_type).ok_or_else(|| bad(3, scan_type))?,
        },
    })
}

/// The scheme's path filters, newest first (as TCA lists them).
pub fn scandirs(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<Vec<ScanDir>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SCANDIR_COLUMNS} FROM scheme_scandirs WHERE scheme_id = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map(params![scheme_id.0], scandir_from_row)?;
    rows.collect()
}

pub fn get_scandir(
    conn: &Connection,
    scheme_id: SchemeId,
    dir_id: i64,
) -> rusqlite::Result<Option<ScanDir>> {
    db::query_row(
        conn,
        &format!("SELECT {SCANDIR_COLUMNS} FROM scheme_scandirs WHERE scheme_id = ?1 AND id = ?2"),
        params![scheme_id.0, dir_id],
        scandir_from_row,
    )
    .optional()
}

/// Adds a path filter; a `dir_path` the scheme has already is a UNIQUE violation.
pub fn insert_scandir(
    conn: &Connection,
    scheme_id: SchemeId,
    filter: &NewScanDir,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO scheme_scandirs (scheme_id, dir_path, path_type, scan_type)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        scheme_id.0,
        filter.dir_path,
        filter.path_type as i64,
        filter.scan_type as i64
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Whether the scheme has a path filter with `dir_path`.
pub fn has_scandir(
    conn: &Connection,
    scheme_id: SchemeId,
    dir_path: &str,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM scheme_scandirs WHERE scheme_id = ?1 AND dir_path = ?2)",
    )?
    .query_row(params![scheme_id.0, dir_path], |row| row.get(0))
}

/// Replaces a path filter; a `dir_path` another filter of the scheme has is a UNIQUE violation.
pub fn update_scandir(
    conn: &Connection,
    scheme_id: SchemeId,
    dir_id: i64,
    filter: &NewScanDir,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE scheme_scandirs SET dir_path = ?3, path_type = ?4, scan_type = ?5
         WHERE scheme_id = ?1 AND id = ?2",
    )?
    .execute(params![
        scheme_id.0,
        dir_id,
        filter.dir_path,
        filter.path_type as i64,
        filter.scan_type as i64
    ])?;
    Ok(())
}

pub fn delete_scandir(conn: &Connection, scheme_id: SchemeId, dir_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM scheme_scandirs WHERE scheme_id = ?1 AND id = ?2")?
        .execute(params![scheme_id.0, dir_id])?;
    Ok(())
}

pub fn clear_scandirs(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM scheme_scandirs WHERE scheme_id = ?1")?
        .execute(params![scheme_id.0])?;
    Ok(())
}

pub fn count_scandirs(conn: &Connection, scheme_id: SchemeId) -> rusqlite::Result<usize> {
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM scheme_scandirs WHERE scheme_id = ?1")?
        .query_row(params![scheme_id.0], |row| row.get(0))?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// Records the configuration a job's results were found with.
pub fn set_job_config(conn: &Connection, job_id: JobId, config_hash: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_configs (job_id, config_hash) VALUES (?1, ?2)",
    )?
    .execute(params![job_id.0, config_hash])?;
    Ok(())
}

/// `job_id` was found with the configuration of `from` (it stored `from`'s results).
pub fn copy_job_config(conn: &Connection, job_id: JobId, from: JobId) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO job_configs (job_id, config_hash)
         SELECT ?1, config_hash FROM job_configs WHERE job_id = ?2",
    )?
    .execute(params![job_id.0, from.0])?;
    Ok(())
}

/// The configuration a job's results were found with; `None` for a job stored before codepup
/// recorded it.
pub fn job_config(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT config_hash FROM job_configs WHERE job_id = ?1")?
        .query_row(params![job_id.0], |row| row.get(0))
        .optional()
}
