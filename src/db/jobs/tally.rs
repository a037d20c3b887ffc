//! Counting a job list through the tallies the triggers in schema.sql keep (`job_tallies`, closed
//! jobs only): a sum over the rows of the scope's projects for the periods the `create_time`
//! filter covers whole, plus the closed jobs of at most two partial days and the unfinished jobs
//! (the queue: few), counted one by one. The answer is exact whatever wrote the jobs; only
//! filters the tallies know nothing of (`end_time`) count all the matching jobs themselves.

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::db;
use crate::db::access::PLACE_JOINS;
use crate::db::jobs::list::{JobFilter, JobScope, Target};
use crate::db::jobs::periods;

/// How many jobs of `scope` the filter keeps.
pub(super) fn count(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> rusqlite::Result<i64> {
    if !filter.tallies_can_count() {
        let (clause, values) = filter.where_clause(scope, Target::Jobs);
        return count_jobs(conn, "jobs", &clause, values);
    }
    Ok(count_unfinished(conn, scope, filter)? + count_closed(conn, scope, filter)?)
}

/// States of a job not yet closed: the tallies hold closed jobs (state 2) only.
const UNFINISHED: [i64; 5] = [0, 1, 3, 4, 5];

/// How many unfinished jobs (the queue: few) of `scope` the filter keeps.
fn count_unfinished(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> rusqlite::Result<i64> {
    match unfinished(scope, filter) {
        Some((from, clause, values)) => count_jobs(conn, from, &clause, values),
        None => Ok(0),
    }
}

/// The unfinished jobs of `scope` the filter keeps, as a FROM (with its index), a WHERE clause
/// and its values, or `None` when the filter allows no unfinished state. They are read through
/// a state index with only unfinished states as its keys: given the filter's own `state IN (1,
/// 2)` beside them, SQLite seeked state 2 too and read every closed job (21 ms at 200,000).
pub(super) fn unfinished(
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> Option<(&'static str, String, Vec<Value>)> {
    let states: Vec<i64> = UNFINISHED
        .into_iter()
        .filter(|state| {
            filter
                .states
                .as_ref()
                .is_none_or(|wanted| wanted.contains(state))
        })
        .collect();
    if states.is_empty() {
        return None;
    }
    let open = JobFilter {
        states: Some(states),
        ..filter.clone()
    };
    let (clause, values) = open.where_clause(scope, Target::Jobs);
    let index = match scope {
        JobScope::Project(_) => "jobs INDEXED BY jobs_project_state",
        _ => "jobs INDEXED BY jobs_state_id",
    };
    Some((index, clause, values))
}

/// How many closed jobs of `scope` the filter keeps (which has no `end_time` filters): the
/// tally rows of the periods the `create_time` range covers whole, plus (and less) the jobs of
/// its partial days, counted in the covering (project, create_time, ...) index.
fn count_closed(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> rusqlite::Result<i64> {
    let split = if filter.create_time_gte.is_some() || filter.create_time_lte.is_some() {
        periods::split(
            filter.create_time_gte.as_deref(),
            filter.create_time_lte.as_deref(),
        )
    } else {
        periods::Split {
            periods: vec![("A".to_string(), "A".to_string())],
            ..periods::Split::default()
        }
    };
    let mut total = 0;
    for (sign, table, clause, values) in sum_terms(conn, scope, filter)? {
        let signed = split.periods.iter().map(|range| (sign, range));
        for (sign, (from, to)) in signed.chain(split.minus.iter().map(|range| (-sign, range))) {
            let mut values = values.clone();
            values.extend([Value::Text(from.clone()), Value::Text(to.clone())]);
            total += sign
                * conn
                    .prepare_cached(&format!(
                        "SELECT IFNULL(SUM(n), 0) FROM {table} WHERE {clause} AND period BETWEEN ? AND ?"
                    ))?
                    .query_row(rusqlite::params_from_iter(values.iter()), |row| {
                        row.get::<_, i64>(0)
                    })?;
        }
    }
    Ok(total + count_edges(conn, scope, filter, &split.edges)?
        - count_edges(conn, scope, filter, &split.minus_edges)?)
}

/// One sum of tally rows: its sign, table, WHERE clause (without the period) and values.
pub(super) type SumTerm = (i64, &'static str, String, Vec<Value>);

/// Which tally rows count the closed jobs: project by project, `job_tallies` for a filter on the
/// message and `job_sums` (fewer rows) for any other; or, for every job or a user who sees most
/// projects, the store's rows (`store_term`) less the rows of the projects they cannot see.
pub(super) fn sum_terms(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> rusqlite::Result<Vec<SumTerm>> {
    let rows = if filter.result_msg.is_some() {
        "job_tallies"
    } else {
        "job_sums"
    };
    // Across every project, said through `projects` so the rows' key (project first) is seeked
    // project by project: "every job" scanned all the tallies (21 ms at 400,000 jobs).
    let per_project = || {
        let (clause, values) = filter.where_clause(&scope.for_time_ranges(), Target::Tallies);
        Ok(vec![(1, rows, clause, values)])
    };
    if filter.names_projects() {
        return per_project();
    }
    let user = match scope {
        JobScope::Project(_) => return per_project(),
        JobScope::All | JobScope::EveryProject => return Ok(vec![store_term(conn, filter)?]),
        JobScope::VisibleTo(user) => user,
    };
    let (visible, visible_values) = db::access::visible_projects(user);
    let (seen, all): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT (SELECT COUNT(*) FROM projects p {PLACE_JOINS} WHERE {visible}),
                    (SELECT COUNT(*) FROM projects)"
        ))?
        .query_row(rusqlite::params_from_iter(visible_values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if all - seen >= seen {
        return per_project();
    }
    let mut terms = vec![store_term(conn, filter)?];
    if seen < all {
        let hidden = format!(
            "project_id IN (SELECT id FROM projects WHERE id NOT IN
                 (SELECT p.id FROM projects p {PLACE_JOINS} WHERE {visible}))"
        );
        let (clause, values) = filter.where_clause_in((hidden, visible_values), Target::Tallies);
        terms.push((-1, rows, clause, values));
    }
    Ok(terms)
}

/// The store's rows (every project's jobs at once): `job_sums` of project 0, or, for a filter on
/// the message, `job_message_sums` of the messages that match, found first among the distinct
/// messages (`matching_messages`).
fn store_term(conn: &Connection, filter: &JobFilter) -> rusqlite::Result<SumTerm> {
    let Some(text) = &filter.result_msg else {
        let (clause, values) =
            filter.where_clause_in(("project_id = 0".to_string(), Vec::new()), Target::Tallies);
        return Ok((1, "job_sums", clause, values));
    };
    let others = JobFilter {
        result_msg: None,
        ..filter.clone()
    };
    let messages = (
        "message_id IN (SELECT value FROM json_each(?))".to_string(),
        vec![Value::Text(matching_messages(conn, text)?)],
    );
    let (clause, values) = others.where_clause_in(messages, Target::Tallies);
    Ok((1, "job_message_sums", clause, values))
}

/// The ids of the distinct messages (`job_messages`) that contain `text` as the jobs' filter
/// reads it (`LIKE`, ASCII case ignored), as a JSON array. A text of three characters or more
/// without LIKE's wildcards is looked up in the trigram index (its matches, a superset under
/// Unicode case folding, are checked by the same `LIKE`); a shorter one reads every distinct
/// message.
fn matching_messages(conn: &Connection, text: &str) -> rusqlite::Result<String> {
    let pattern = crate::db::contains_pattern(text);
    let indexed = text.chars().count() >= 3 && !text.contains(['%', '_', '\\']);
    let sql = if indexed {
        "SELECT json_group_array(m.id) FROM job_messages_trigram t
         JOIN job_messages m ON m.id = t.rowid
         WHERE t.text LIKE ?1 AND m.text LIKE ?1 ESCAPE '\\'"
    } else {
        "SELECT json_group_array(id) FROM job_messages WHERE text LIKE ?1 ESCAPE '\\'"
    };
    conn.prepare_cached(sql)?
        .query_row([pattern], |row| row.get(0))
}

/// The closed jobs of `scope` the filter keeps within the partial days `edges` (`create_time`
/// ranges), read from the covering index only.
fn count_edges(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
    edges: &[(String, String)],
) -> rusqlite::Result<i64> {
    let untimed = JobFilter {
        create_time_gte: None,
        create_time_lte: None,
        ..filter.clone()
    };
    let (clause, values) = untimed.where_clause(&scope.for_time_ranges(), Target::Jobs);
    let mut total = 0;
    for (from, to) in edges {
        let mut values = values.clone();
        values.extend([Value::Text(from.clone()), Value::Text(to.clone())]);
        // Named: across projects SQLite took the (project, state) index and read every closed
        // job of the visible projects.
        total += count_jobs(
            conn,
            "jobs INDEXED BY jobs_project_create_cover",
            &format!("{clause} AND state = 2 AND create_time BETWEEN ? AND ?"),
            values,
        )?;
    }
    Ok(total)
}

/// `COUNT(*)` of `from` (jobs, maybe with an index named) under `clause`.
fn count_jobs(
    conn: &Connection,
    from: &str,
    clause: &str,
    values: Vec<Value>,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!("SELECT COUNT(*) FROM {from} WHERE {clause}"))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))
}

/// The lowest and highest id a job matching the filter's time ranges can have, or `None`
/// without a time filter: for `create_time` from `job_days` (a superset, never too narrow), for
/// `end_time` the ids in that range of its index (without them a list of last March walked
/// every job closed since, 3.3 s at 10,000,000 jobs).
pub(super) fn id_bounds(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> rusqlite::Result<Option<(i64, i64)>> {
    let created = match (&filter.create_time_gte, &filter.create_time_lte) {
        (None, None) => None,
        _ => Some(created_bounds(conn, scope, filter)?),
    };
    let ended = match (&filter.end_time_gte, &filter.end_time_lte) {
        (None, None) => None,
        (from, to) => Some(ended_bounds(conn, from, to)?),
    };
    Ok(match (created, ended) {
        (Some((low, high)), Some((end_low, end_high))) => {
            Some((low.max(end_low), high.min(end_high)))
        }
        (bounds, None) | (None, bounds) => bounds,
    })
}

/// `id_bounds` of a `create_time` range, from `job_days`.
fn created_bounds(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
) -> rusqlite::Result<(i64, i64)> {
    let day = |time: &Option<String>, open: &str| {
        Value::Text(
            time.as_deref()
                .and_then(|time| time.get(..10))
                .unwrap_or(open)
                .to_string(),
        )
    };
    let (condition, mut values) = scope.for_time_ranges().condition();
    values.push(day(&filter.create_time_gte, "0000-00-00"));
    values.push(day(&filter.create_time_lte, "9999-99-99"));
    let bounds = conn
        .prepare_cached(&format!(
            "SELECT MIN(min_id), MAX(max_id) FROM job_days WHERE {condition} AND day BETWEEN ? AND ?"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    Ok(or_empty(bounds))
}

/// `id_bounds` of an `end_time` range: the exact lowest and highest id of every job that ended
/// in it (whatever its project), read from the `end_time` index alone.
fn ended_bounds(
    conn: &Connection,
    from: &Option<String>,
    to: &Option<String>,
) -> rusqlite::Result<(i64, i64)> {
    let mut clauses = vec!["end_time IS NOT NULL"];
    let mut values = Vec::new();
    if let Some(from) = from {
        clauses.push("end_time >= ?");
        values.push(Value::Text(from.clone()));
    }
    if let Some(to) = to {
        clauses.push("end_time <= ?");
        values.push(Value::Text(to.clone()));
    }
    let bounds = conn
        .prepare_cached(&format!(
            "SELECT MIN(id), MAX(id) FROM jobs INDEXED BY jobs_end_time WHERE {}",
            clauses.join(" AND ")
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    Ok(or_empty(bounds))
}

/// Bounds read with MIN and MAX, or an empty range of ids where nothing was in range.
fn or_empty(bounds: (Option<i64>, Option<i64>)) -> (i64, i64) {
    match bounds {
        (Some(low), Some(high)) => (low, high),
        _ => (1, 0),
    }
}

/// Counts every job into `job_tallies` and `job_days` anew (the schema step that made them;
/// the triggers keep them from then on).
pub fn rebuild_tallies(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM job_tallies;
         DELETE FROM job_days;
         INSERT INTO job_tallies
             (project_id, period, state, code_set, result_code, creator, created_from, result_msg, n)
         SELECT project_id,
                CASE k.kind WHEN 'A' THEN 'A' WHEN 'M' THEN 'M' || substr(create_time, 1, 7)
                            ELSE 'D' || substr(create_time, 1, 10) END,
                state, result_code IS NOT NULL, IFNULL(result_code, -1), IFNULL(creator, ''),
                IFNULL(created_from, ''), IFNULL(result_msg, ''), COUNT(*)
         FROM jobs, (SELECT 'A' AS kind UNION ALL SELECT 'M' UNION ALL SELECT 'D') k
         WHERE state = 2
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
         INSERT INTO job_days (project_id, day, min_id, max_id)
         SELECT project_id, substr(create_time, 1, 10), MIN(id), MAX(id) FROM jobs GROUP BY 1, 2;",
    )
}

/// Counts `job_sums` anew from `job_tallies` (the schema step that made them; the triggers keep
/// them from then on): the tallies less their messages, read in their key's order, then the
/// store's rows (project 0) as the sum of every project's.
pub fn rebuild_sums(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM job_sums;
         INSERT INTO job_sums
             (project_id, period, state, code_set, result_code, creator, created_from, n)
         SELECT project_id, period, state, code_set, result_code, creator, created_from, SUM(n)
         FROM job_tallies
         GROUP BY project_id, period, state, code_set, result_code, creator, created_from;
         INSERT INTO job_sums
             (project_id, period, state, code_set, result_code, creator, created_from, n)
         SELECT 0, period, state, code_set, result_code, creator, created_from, SUM(n)
         FROM job_sums WHERE project_id > 0
         GROUP BY period, state, code_set, result_code, creator, created_from;",
    )
}

/// Counts `job_messages` (with its trigram index) and `job_message_sums` anew from `job_tallies`
/// (the schema step that made them; the triggers keep them from then on).
pub fn rebuild_messages(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DELETE FROM job_message_sums;
         DELETE FROM job_messages;
         INSERT INTO job_messages_trigram (job_messages_trigram) VALUES ('delete-all');
         INSERT INTO job_messages (text, n)
         SELECT result_msg, SUM(n) FROM job_tallies WHERE period = 'A' GROUP BY result_msg;
         INSERT INTO job_message_sums
             (message_id, period, state, code_set, result_code, creator, created_from, n)
         SELECT m.id, t.period, t.state, t.code_set, t.result_code, t.creator, t.created_from,
                SUM(t.n)
         FROM job_tallies t JOIN job_messages m ON m.text = t.result_msg
         GROUP BY m.id, t.period, t.state, t.code_set, t.result_code, t.creator, t.created_from;",
    )
}
