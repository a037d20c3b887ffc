//! How the findings list counts and pages at millions of findings (issue 9): which tally or
//! index answers each combination of filters, so a first page costs what its filters select,
//! not what the project holds. The SQL of one filter lives in `db::findings::IssueFilter`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};

use crate::db::findings::IssueFilter;
use crate::domain::ids::ProjectId;

/// How many of the project's findings the filter keeps, exact. Each key filter alone is one
/// tally: `issue_paths` (distinct paths matched by the substring), `issue_scan_tallies`,
/// `job_issue_tallies` (schema.sql); the tallied columns alone are a sum over `issue_tallies`;
/// a path with tallied columns reads, for each `issue_tallies` row they keep, its range of
/// `issues_tally_path`. Other combinations count the findings the most selective key reaches.
pub fn count(
    conn: &Connection,
    project_id: ProjectId,
    filter: &IssueFilter,
) -> rusqlite::Result<i64> {
    let tallied = tallied_part(filter);
    let has_tallied = tallied.where_clause(project_id).1.len() > 1;
    let keys = (
        filter.file_path.as_deref(),
        filter.scan_open,
        filter.scan_fix,
        filter.job_id,
    );
    match keys {
        (None, None, None, None) => sum_tallies(conn, project_id, &tallied),
        (Some(path), None, None, None) if !has_tallied => {
            one_number(conn, "SELECT IFNULL(SUM(n), 0) FROM issue_paths WHERE project_id = ?1 AND path LIKE ?2 ESCAPE '\\'",
                params![project_id.0, crate::db::contains_pattern(path)])
        }
        (Some(path), None, None, None) => count_paths_in_tallies(conn, project_id, &tallied, path),
        (None, Some(scan), None, None) if !has_tallied => scan_tally(conn, project_id, scan, 0),
        (None, None, Some(scan), None) if !has_tallied => scan_tally(conn, project_id, scan, 1),
        (None, None, None, Some(job)) if !has_tallied => one_number(
            conn,
            "SELECT IFNULL(SUM(n), 0) FROM job_issue_tallies WHERE job_id = ?1 AND project_id = ?2",
            params![job, project_id.0],
        ),
        _ => count_findings(conn, project_id, filter),
    }
}

/// The filter without its key filters (path, scans, job): what `issue_tallies` can count.
fn tallied_part(filter: &IssueFilter) -> IssueFilter {
    IssueFilter {
        file_path: None,
        scan_open: None,
        scan_fix: None,
        job_id: None,
        ..filter.clone()
    }
}

fn one_number<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    values: P,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(sql)?
        .query_row(values, |row| row.get(0))
}

fn sum_tallies(
    conn: &Connection,
    project_id: ProjectId,
    tallied: &IssueFilter,
) -> rusqlite::Result<i64> {
    let (condition, values) = tallied.where_clause(project_id);
    one_number(
        conn,
        &format!("SELECT IFNULL(SUM(n), 0) FROM issue_tallies WHERE {condition}"),
        params_from_iter(values.iter()),
    )
}

fn scan_tally(
    conn: &Connection,
    project_id: ProjectId,
    scan: i64,
    fixed: i64,
) -> rusqlite::Result<i64> {
    one_number(
        conn,
        "SELECT IFNULL(SUM(n), 0) FROM issue_scan_tallies WHERE scan_id = ?1 AND fixed = ?2 AND project_id = ?3",
        params![scan, fixed, project_id.0],
    )
}

/// A path substring with tallied filters: the tally rows the others keep, each joined to its
/// range of `issues_tally_path` (the same key, path last), whose paths are matched there. A
/// tally's '' author stands for NULL and '' alike: the second join counts the NULLs. `CROSS
/// JOIN` keeps the tallies the outer loop: with statistics, SQLite preferred to scan the whole
/// index and look each entry up in the tallies (810 ms at 1,000,000 findings).
fn count_paths_in_tallies(
    conn: &Connection,
    project_id: ProjectId,
    tallied: &IssueFilter,
    path: &str,
) -> rusqlite::Result<i64> {
    let (condition, mut values) = tallied.where_clause(project_id);
    values.push(SqlValue::Text(crate::db::contains_pattern(path)));
    let mut total = 0;
    for author in ["i.author = t.author", "t.author = '' AND i.author IS NULL"] {
        total += one_number(
            conn,
            &format!(
                "SELECT COUNT(*)
                 FROM (SELECT project_id, state, severity, resolution, author, rule
                       FROM issue_tallies WHERE {condition}) t
                 CROSS JOIN issues i INDEXED BY issues_tally_path
                   ON i.project_id = t.project_id AND i.state = t.state
                  AND i.severity = t.severity AND i.resolution = t.resolution
                  AND {author} AND i.rule = t.rule
                 WHERE i.path LIKE ? ESCAPE '\\'"
            ),
            params_from_iter(values.iter()),
        )?;
    }
    Ok(total)
}

/// The findings themselves, reached through the most selective key given: the job's
/// sightings, a scan's index, or the project's findings.
fn count_findings(
    conn: &Connection,
    project_id: ProjectId,
    filter: &IssueFilter,
) -> rusqlite::Result<i64> {
    let (condition, values) = Source::of(filter).condition(project_id, filter);
    one_number(
        conn,
        &format!(
            "SELECT COUNT(*) FROM {} WHERE {condition}",
            Source::of(filter).from()
        ),
        params_from_iter(values.iter()),
    )
}

/// Where the findings a filter keeps are reached: its most selective key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The job's sightings (`job_issues`, by issue id).
    Sightings,
    /// A scan's findings, by the `issues_scan_open` or `issues_scan_fix` index (scan, id).
    Scan(&'static str),
    /// The project's findings.
    Project,
}

impl Source {
    fn of(filter: &IssueFilter) -> Source {
        if filter.job_id.is_some() {
            Source::Sightings
        } else if filter.scan_open.is_some() {
            Source::Scan("issues_scan_open")
        } else if filter.scan_fix.is_some() {
            Source::Scan("issues_scan_fix")
        } else {
            Source::Project
        }
    }

    fn from(self) -> String {
        match self {
            Source::Sightings => "job_issues ji JOIN issues ON issues.id = ji.issue_id".to_string(),
            Source::Scan(index) => format!("issues INDEXED BY {index}"),
            Source::Project => "issues".to_string(),
        }
    }

    /// The WHERE condition and its values (in order).
    fn condition(self, project_id: ProjectId, filter: &IssueFilter) -> (String, Vec<SqlValue>) {
        let (condition, values) = filter.where_clause(project_id);
        match (self, filter.job_id) {
            (Source::Sightings, Some(job)) => {
                let mut all = vec![SqlValue::Integer(job)];
                all.extend(values);
                (format!("ji.job_id = ? AND {condition}"), all)
            }
            _ => (condition, values),
        }
    }
}

/// How many findings a walk newest first may read to fill a page before the filters' own
/// indexes and a sort are cheaper. Small in unit tests, so their few findings take both ways.
const WALK_BUDGET: i64 = if cfg!(test) { 40 } else { 20_000 };

/// From this many matches on the project's findings are walked whatever the page: finding and
/// sorting them all costs more than any walk (a deep offset sorted 1,000,000 in 2.7 s).
const FEW_MATCHES: i64 = if cfg!(test) { 200 } else { 10_000 };

/// How the findings a filter keeps are read newest first, chosen once from its count: a job's
/// sightings and a scan's findings are walked in their own index; otherwise the project's
/// findings are walked when matches are many (`FEW_MATCHES`) or dense enough to give the
/// `wanted` ones within `WALK_BUDGET` reads (the count over the span of the project's ids says
/// how dense), else found through the filters' indexes and sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    source: Source,
    walks_project: bool,
}

impl Walk {
    pub fn choose(
        conn: &Connection,
        project_id: ProjectId,
        filter: &IssueFilter,
        count: i64,
        wanted: i64,
    ) -> rusqlite::Result<Walk> {
        let source = Source::of(filter);
        let walks_project = source == Source::Project
            && (count >= FEW_MATCHES || walk_is_cheap(conn, project_id, count, wanted)?);
        Ok(Walk {
            source,
            walks_project,
        })
    }

    /// `SELECT issues.id FROM ... WHERE <the filter> [AND <id> < ?] ORDER BY <id> DESC` and its
    /// values: the ids below `before` (all with `None`), newest first, for a LIMIT to follow.
    fn select(
        self,
        project_id: ProjectId,
        filter: &IssueFilter,
        before: Option<i64>,
    ) -> (String, Vec<SqlValue>) {
        let (condition, mut values) = self.source.condition(project_id, filter);
        let (from, id, order) = match self.source {
            Source::Sightings => (self.source.from(), "ji.issue_id", "ji.issue_id DESC"),
            Source::Scan(_) => (self.source.from(), "issues.id", "issues.id DESC"),
            _ if self.walks_project => (
                "issues INDEXED BY issues_project_id".to_string(),
                "issues.id",
                "issues.id DESC",
            ),
            Source::Project => (self.source.from(), "issues.id", "+issues.id DESC"),
        };
        let below = match before {
            Some(before) => {
                values.push(SqlValue::Integer(before));
                format!(" AND {id} < ?")
            }
            None => String::new(),
        };
        (
            format!("SELECT issues.id FROM {from} WHERE {condition}{below} ORDER BY {order}"),
            values,
        )
    }
}

/// The SELECT of the ids of one page (`limit`, `offset`) of the `count` findings the filter
/// keeps, newest first, and its values (`Walk` says through which index).
pub fn page_ids(
    conn: &Connection,
    project_id: ProjectId,
    filter: &IssueFilter,
    count: i64,
    page: (i64, i64),
) -> rusqlite::Result<(String, Vec<SqlValue>)> {
    let (limit, offset) = page;
    let walk = Walk::choose(
        conn,
        project_id,
        filter,
        count,
        limit.saturating_add(offset),
    )?;
    let (select, mut values) = walk.select(project_id, filter, None);
    values.extend([SqlValue::Integer(limit), SqlValue::Integer(offset)]);
    Ok((format!("{select} LIMIT ? OFFSET ?"), values))
}

/// The SELECT of the ids of the next `limit` findings the filter keeps below the id `before`
/// (from the newest with `None`), newest first: a keyset cursor, so a reader that goes through
/// every piece (the findings download) reads each finding once, and findings added meanwhile
/// (higher ids) never shift what comes next. `walk` is chosen once for the whole read.
pub fn ids_before(
    walk: Walk,
    project_id: ProjectId,
    filter: &IssueFilter,
    before: Option<i64>,
    limit: i64,
) -> (String, Vec<SqlValue>) {
    let (select, mut values) = walk.select(project_id, filter, before);
    values.push(SqlValue::Integer(limit));
    (format!("{select} LIMIT ?"), values)
}

/// Whether walking the project's findings newest first meets `wanted` matches within
/// `WALK_BUDGET` reads, if the `count` matches are spread evenly over its ids.
fn walk_is_cheap(
    conn: &Connection,
    project_id: ProjectId,
    count: i64,
    wanted: i64,
) -> rusqlite::Result<bool> {
    let span = one_number(
        conn,
        "SELECT IFNULL((SELECT MAX(id) FROM issues WHERE project_id = ?1)
                     - (SELECT MIN(id) FROM issues WHERE project_id = ?1) + 1, 0)",
        params![project_id.0],
    )?;
    Ok(wanted.saturating_mul(span) / count.max(1) <= WALK_BUDGET)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// A small deterministic generator: the test fails the same way every time.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }

        fn pick<T: Copy>(&mut self, values: &[T]) -> T {
            values[self.below(values.len())]
        }
    }

    const PATHS: [&str; 6] = [
        "src/a.py",
        "src/B.py",
        "lib/a_b.py",
        "lib/100%.py",
        "x/y/z.sh",
        "A.PY",
    ];
    const AUTHORS: [Option<&str>; 5] = [Some("alice"), Some("Bob"), Some(""), Some("al_x"), None];
    const RULES: [&str; 4] = ["E501", "W291", "long-line", "E5_x"];
    const SCANS: [Option<i64>; 5] = [Some(1), Some(2), Some(3), Some(4), None];

    /// A finding as the naive count sees it.
    struct Row {
        id: i64,
        project: i64,
        state: i64,
        severity: i64,
        resolution: i64,
        author: Option<String>,
        rule: String,
        path: String,
        scan_open: Option<i64>,
        scan_fix: Option<i64>,
    }

    fn write_randomly(conn: &Connection, rng: &mut Lcg, steps: usize) {
        let first: i64 = conn
            .query_row("SELECT IFNULL(MAX(id), 0) + 1 FROM issues", [], |row| {
                row.get(0)
            })
            .unwrap();
        let mut next = first as usize;
        for _ in 0..steps {
            let some_issue = rng.below(next.max(1)) as i64 + 1;
            match rng.below(10) {
                0..=3 => {
                    conn.execute(
                        "INSERT INTO issues (id, project_id, fingerprint, tool, rule, path, line, column_no,
                             severity, category, message, state, resolution, author, scan_open, scan_fix,
                             created_time, modified_time)
                         VALUES (?1, ?2, ?1, 't', ?3, ?4, 1, 1, ?5, 'c', 'm', ?6, ?7, ?8, ?9, ?10, 'x', 'x')",
                        params![next as i64, rng.below(3) as i64 + 1, rng.pick(&RULES), rng.pick(&PATHS),
                            rng.below(4) as i64 + 1, rng.below(3) as i64 + 1, rng.below(3) as i64,
                            rng.pick(&AUTHORS), rng.pick(&SCANS), rng.pick(&SCANS)],
                    )
                    .unwrap();
                    next += 1;
                }
                4 => {
                    let column = rng.pick(&[
                        "state",
                        "resolution",
                        "scan_open",
                        "scan_fix",
                        "project_id",
                        "severity",
                    ]);
                    let value = match column {
                        "scan_open" | "scan_fix" => rng.pick(&SCANS),
                        "severity" => Some(rng.below(4) as i64 + 1),
                        _ => Some(rng.below(3) as i64 + 1),
                    };
                    conn.execute(
                        &format!("UPDATE issues SET {column} = ?1 WHERE id = ?2"),
                        params![value, some_issue],
                    )
                    .unwrap();
                }
                5 => {
                    conn.execute(
                        "UPDATE issues SET path = ?1, author = ?2, rule = ?3 WHERE id = ?4",
                        params![
                            rng.pick(&PATHS),
                            rng.pick(&AUTHORS),
                            rng.pick(&RULES),
                            some_issue
                        ],
                    )
                    .unwrap();
                }
                6 => {
                    // As retention: the sightings go first (their foreign key).
                    conn.execute("DELETE FROM job_issues WHERE issue_id = ?1", [some_issue])
                        .unwrap();
                    conn.execute("DELETE FROM issues WHERE id = ?1", [some_issue])
                        .unwrap();
                }
                7 | 8 => {
                    conn.execute(
                        "INSERT INTO job_issues (job_id, issue_id, line, column_no)
                         SELECT ?1, id, 1, 1 FROM issues WHERE id = ?2
                         ON CONFLICT DO UPDATE SET line = excluded.line + 1",
                        params![rng.below(4) as i64 + 1, some_issue],
                    )
                    .unwrap();
                }
                _ => {
                    conn.execute(
                        "DELETE FROM job_issues WHERE job_id = ?1 AND issue_id = ?2",
                        params![rng.below(4) as i64 + 1, some_issue],
                    )
                    .unwrap();
                }
            }
        }
    }

    fn rows(conn: &Connection) -> (Vec<Row>, HashSet<(i64, i64)>) {
        let mut stmt = conn
            .prepare("SELECT id, project_id, state, severity, resolution, author, rule, path, scan_open, scan_fix FROM issues ORDER BY id DESC")
            .unwrap();
        let rows = stmt
            .query_map([], |row| {
                Ok(Row {
                    id: row.get(0)?,
                    project: row.get(1)?,
                    state: row.get(2)?,
                    severity: row.get(3)?,
                    resolution: row.get(4)?,
                    author: row.get(5)?,
                    rule: row.get(6)?,
                    path: row.get(7)?,
                    scan_open: row.get(8)?,
                    scan_fix: row.get(9)?,
                })
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<Row>>>()
            .unwrap();
        let mut sightings = conn
            .prepare("SELECT job_id, issue_id FROM job_issues")
            .unwrap();
        let seen = sightings
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<HashSet<(i64, i64)>>>()
            .unwrap();
        (rows, seen)
    }

    fn contains(value: Option<&str>, needle: &Option<String>) -> bool {
        needle.as_ref().is_none_or(|needle| {
            value.is_some_and(|value| {
                value
                    .to_ascii_lowercase()
                    .contains(&needle.to_ascii_lowercase())
            })
        })
    }

    fn keeps(filter: &IssueFilter, project: i64, row: &Row, seen: &HashSet<(i64, i64)>) -> bool {
        let listed = |list: &Option<Vec<i64>>, value: i64| {
            list.as_ref().is_none_or(|list| list.contains(&value))
        };
        row.project == project
            && listed(&filter.states, row.state)
            && listed(&filter.severities, row.severity)
            && listed(&filter.resolutions, row.resolution)
            && contains(row.author.as_deref(), &filter.author)
            && contains(Some(&row.path), &filter.file_path)
            && contains(Some(&row.rule), &filter.rule)
            && filter
                .scan_open
                .is_none_or(|scan| row.scan_open == Some(scan))
            && filter
                .scan_fix
                .is_none_or(|scan| row.scan_fix == Some(scan))
            && filter
                .job_id
                .is_none_or(|job| seen.contains(&(job, row.id)))
    }

    fn random_filter(rng: &mut Lcg) -> IssueFilter {
        let maybe = |rng: &mut Lcg| rng.below(3) == 0;
        let text = |rng: &mut Lcg, values: &[&str]| Some(rng.pick(values).to_string());
        IssueFilter {
            states: maybe(rng).then(|| vec![rng.below(3) as i64 + 1]),
            severities: maybe(rng).then(|| vec![1, rng.below(4) as i64 + 1]),
            resolutions: maybe(rng).then(|| vec![rng.below(3) as i64]),
            author: if maybe(rng) {
                text(rng, &["AL", "b", "_", "o"])
            } else {
                None
            },
            file_path: if maybe(rng) {
                text(rng, &["a", "%", "_", ".PY", "src/", "y/z"])
            } else {
                None
            },
            rule: if maybe(rng) {
                text(rng, &["e5", "_", "line"])
            } else {
                None
            },
            scan_open: if maybe(rng) { rng.pick(&SCANS) } else { None },
            scan_fix: if maybe(rng) { rng.pick(&SCANS) } else { None },
            job_id: maybe(rng).then(|| rng.below(5) as i64),
        }
    }

    #[test]
    fn counts_and_pages_equal_a_naive_count_for_every_mix_of_filters_and_writes() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("f.db")).unwrap();
        // The projects, scans and jobs these rows name are not what is tested.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let mut rng = Lcg(9);
        for round in 0..4 {
            write_randomly(&conn, &mut rng, 400);
            if round == 3 {
                // A database whose tallies were lost is counted anew by the schema step.
                crate::db::findings::rebuild_key_tallies(&conn).unwrap();
            }
            let (rows, seen) = rows(&conn);
            for _ in 0..300 {
                let filter = random_filter(&mut rng);
                let project = rng.below(3) as i64 + 1;
                let expected: Vec<i64> = rows
                    .iter()
                    .filter(|row| keeps(&filter, project, row, &seen))
                    .map(|row| row.id)
                    .collect();
                let offset = rng.below(expected.len().max(1)) as i64;
                let (count, page) =
                    crate::db::findings::list(&conn, ProjectId(project), &filter, 3, offset)
                        .unwrap();
                let page: Vec<i64> = page.iter().map(|issue| issue.id).collect();
                let wanted: Vec<i64> = expected
                    .iter()
                    .skip(offset as usize)
                    .take(3)
                    .copied()
                    .collect();
                assert_eq!(
                    (count, &page),
                    (expected.len() as i64, &wanted),
                    "{filter:?} project {project} offset {offset}"
                );
            }
        }
    }
}
