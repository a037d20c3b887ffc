//! The project's findings counted by rule (TCA's `codelint/issues/checkrules/`), from the
//! finding tallies. Knows nothing of HTTP.

use rusqlite::Connection;

use crate::domain::ids::ProjectId;

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
