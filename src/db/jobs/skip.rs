//! Deep offsets of the job lists: the matches of whole months and days, newest first, are
//! counted from the tallies and skipped without reading a job, so a page at offset 500,000 walks
//! the jobs of one day at most. Only where the ids follow the days (`job_days` says so); the
//! caller walks every job otherwise.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::db::jobs::list::{JobFilter, JobScope};
use crate::db::jobs::tally;

/// Below this offset a page walks the jobs it skips: a few thousand index steps cost less than
/// the queries that would skip them.
const DEEP_OFFSET: i64 = 10_000;

/// Where a deep page starts: walk the matches with ids at most `last_id`, skipping `offset` of
/// them (fewer than one day's matches).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Skip {
    pub last_id: i64,
    pub offset: i64,
}

/// The matches of the whole days newer than the one holding `offset` (newest first), counted
/// from the tallies, as the id below which the rest lie and the offset left. `None` when the
/// offset is small, the filter is one the tallies cannot count by day (`end_time`, a
/// `create_time` range: its partial days are not in the day rows), or the ids of the days
/// around that day interleave (a job whose `create_time` was changed, a clock that went back).
pub(super) fn skip(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
    offset: i64,
) -> rusqlite::Result<Option<Skip>> {
    let timed = filter.create_time_gte.is_some() || filter.create_time_lte.is_some();
    if offset < DEEP_OFFSET || timed || !filter.tallies_can_count() {
        return Ok(None);
    }
    let months = period_counts(conn, scope, filter, ("M", "N"))?;
    let Some((month, newer_months)) = holding(&months, offset) else {
        return Ok(None);
    };
    let month = &month[1..];
    let days = period_counts(
        conn,
        scope,
        filter,
        (&format!("D{month}-00"), &format!("D{month}-99")),
    )?;
    let Some((day, newer_days)) = holding(&days, offset - newer_months) else {
        return Ok(None);
    };
    Ok(
        ids_follow_days(conn, scope, &day[1..])?.map(|last_id| Skip {
            last_id,
            offset: offset - newer_months - newer_days,
        }),
    )
}

/// The period (`M2026-05`, `D2026-05-10`) holding the match at `offset`, newest first, and the
/// matches of the newer periods.
fn holding(counts: &BTreeMap<String, i64>, offset: i64) -> Option<(String, i64)> {
    let mut newer = 0;
    for (period, n) in counts.iter().rev() {
        if newer + n > offset {
            return Some((period.clone(), newer));
        }
        newer += n;
    }
    None
}

/// The matches per period between `from` and `to` (`M` rows or a month's `D` rows): the
/// closed jobs from the tally rows `tally::sum_terms` picks, and the unfinished ones (few)
/// counted by their `create_time`.
fn period_counts(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
    (from, to): (&str, &str),
) -> rusqlite::Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    let mut add = |rows: Vec<(String, i64)>, sign: i64| {
        for (period, n) in rows {
            *counts.entry(period).or_insert(0) += sign * n;
        }
    };
    for (sign, table, clause, mut values) in tally::sum_terms(conn, scope, filter)? {
        values.extend([Value::Text(from.to_string()), Value::Text(to.to_string())]);
        let sql = format!(
            "SELECT period, SUM(n) FROM {table} WHERE {clause} AND period BETWEEN ? AND ?
             GROUP BY period"
        );
        add(grouped(conn, &sql, &values)?, sign);
    }
    if let Some((jobs, clause, mut values)) = tally::unfinished(scope, filter) {
        // `M2026-05` or `D2026-05-10`: the kind (a literal: `from` is one of ours), then as
        // much of the time as the period names.
        let (kind, length) = if from.starts_with('M') {
            ("M", 7)
        } else {
            ("D", 10)
        };
        values.extend([Value::Text(from.to_string()), Value::Text(to.to_string())]);
        let sql = format!(
            "SELECT period, n FROM
                 (SELECT '{kind}' || substr(create_time, 1, {length}) AS period, COUNT(*) AS n
                  FROM {jobs} WHERE {clause} GROUP BY 1)
             WHERE period BETWEEN ? AND ?"
        );
        add(grouped(conn, &sql, &values)?, 1);
    }
    counts.retain(|_, n| *n != 0);
    Ok(counts)
}

/// The (period, count) rows of a grouped count.
fn grouped(conn: &Connection, sql: &str, values: &[Value]) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.prepare_cached(sql)?
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect()
}

/// The highest id of a job of `scope` created on `day` or before, if every job created after
/// that day has a higher id: then the jobs up to that id are exactly those of `day` and the days
/// before it. `job_days` holds a superset of each day's ids (only widened), so a yes is sure.
fn ids_follow_days(
    conn: &Connection,
    scope: &JobScope<'_>,
    day: &str,
) -> rusqlite::Result<Option<i64>> {
    let (condition, scope_values) = scope.for_time_ranges().condition();
    let mut values = scope_values.clone();
    values.push(Value::Text(day.to_string()));
    values.extend(scope_values);
    values.push(Value::Text(day.to_string()));
    let (older_max, newer_min): (Option<i64>, Option<i64>) = conn
        .prepare_cached(&format!(
            "SELECT (SELECT MAX(max_id) FROM job_days WHERE {condition} AND day <= ?),
                    (SELECT MIN(min_id) FROM job_days WHERE {condition} AND day > ?)"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    Ok(match (older_max, newer_min) {
        (Some(last_id), None) => Some(last_id),
        (Some(last_id), Some(first_newer)) if last_id < first_newer => Some(last_id),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ProjectId;

    /// `n` closed jobs of project 1 (result codes 0, 1, 2 in turn), created in id order ten
    /// minutes apart from 2027-01-01: 144 a day, over months.
    fn store(n: i64) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::SCHEMA).unwrap();
        // Jobs alone: the project they name is not needed to list them.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        conn.execute(
            "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?1)
             INSERT INTO jobs (project_id, state, result_code, create_time)
             SELECT 1, 2, i % 3, strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2027-01-01', (i * 600) || ' seconds')
             FROM g",
            [n],
        )
        .unwrap();
        conn
    }

    fn naive_page(conn: &Connection, code: Option<i64>, offset: i64) -> Vec<i64> {
        conn.prepare(
            "SELECT id FROM jobs WHERE ?1 IS NULL OR result_code >= ?1
             ORDER BY id DESC LIMIT 5 OFFSET ?2",
        )
        .unwrap()
        .query_map(rusqlite::params![code, offset], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn a_deep_page_skips_whole_days_and_equals_the_naive_page() {
        let conn = store(30_000);
        let scope = JobScope::Project(ProjectId(1));
        for (code, offset) in [
            (None, 10_000),
            (None, 29_990),
            (Some(1), 12_345),
            (Some(1), 19_999),
        ] {
            let filter = JobFilter {
                result_code_gte: code.map(|code| code as f64),
                ..JobFilter::default()
            };
            let skip = skip(&conn, &scope, &filter, offset).unwrap().unwrap();
            // What is left to skip lies within one day: 144 jobs.
            assert!(skip.offset < 144, "{skip:?}");
            let (count, page) = crate::db::jobs::list(&conn, &scope, &filter, 5, offset).unwrap();
            let ids: Vec<i64> = page.iter().map(|job| job.id.0).collect();
            assert_eq!(ids, naive_page(&conn, code, offset), "{code:?} at {offset}");
            assert!(count > offset);
        }
        // A job moved to an older day: its id no longer follows the days, so nothing is skipped
        // around it, and the page is still the naive one.
        conn.execute_batch(
            "UPDATE jobs SET create_time = '2027-01-02T00:00:00.000000Z' WHERE id = 29000",
        )
        .unwrap();
        let filter = JobFilter::default();
        assert_eq!(skip(&conn, &scope, &filter, 10_000).unwrap(), None);
        let (_, page) = crate::db::jobs::list(&conn, &scope, &filter, 5, 10_000).unwrap();
        let ids: Vec<i64> = page.iter().map(|job| job.id.0).collect();
        assert_eq!(ids, naive_page(&conn, None, 10_000));
    }

    #[test]
    fn the_period_holding_an_offset_is_found_newest_first() {
        let counts: BTreeMap<String, i64> = [("D1", 5), ("D2", 3), ("D3", 4)]
            .into_iter()
            .map(|(period, n)| (period.to_string(), n))
            .collect();
        assert_eq!(holding(&counts, 0), Some(("D3".to_string(), 0)));
        assert_eq!(holding(&counts, 3), Some(("D3".to_string(), 0)));
        assert_eq!(holding(&counts, 4), Some(("D2".to_string(), 4)));
        assert_eq!(holding(&counts, 7), Some(("D1".to_string(), 7)));
        assert_eq!(holding(&counts, 11), Some(("D1".to_string(), 7)));
        assert_eq!(holding(&counts, 12), None);
    }
}
