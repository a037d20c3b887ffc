//! The job lists (one project's, every visible project's, the admin's) with TCA's filters, and
//! the queue's summaries (health over visible projects, the metrics scrape's open jobs).

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::clock;
use crate::db;
use crate::db::access::{PLACE_COLUMNS, PLACE_JOINS};
use crate::db::jobs::{from_row, skip, tally, COLUMNS};
use crate::domain::ids::ProjectId;
use crate::domain::job::{Job, JobOverview, JobState, QueueHealth};
use crate::domain::user::User;

/// Filters of the job lists (TCA_API.md §5.3 and TCA's `JobFilterSet`), already parsed. Times
/// are stored-form text. `project` and `repo` are numbers as Django reads them, whole (`api::jobs`
/// truncates `1.5` to 1).
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub project: Option<f64>,
    pub repo: Option<f64>,
    pub create_time_gte: Option<String>,
    pub create_time_lte: Option<String>,
    pub end_time_gte: Option<String>,
    pub end_time_lte: Option<String>,
    pub result_code_gte: Option<f64>,
    pub result_code_lte: Option<f64>,
    pub result_msg: Option<String>,
    pub created_from: Option<String>,
    pub creator: Option<String>,
    /// A substring of the repository's `scm_url`, any case.
    pub scm_url: Option<String>,
    pub states: Option<Vec<i64>>,
}

/// Which jobs a list covers: one project's, those of every project a user may see, or every job
/// there is (the superuser's admin list, deleted projects included).
pub enum JobScope<'a> {
    Project(ProjectId),
    VisibleTo(&'a User),
    All,
    /// `All` said through `projects`, so a time range is read from the (project, create_time)
    /// index project by project (every job has a project: the foreign key).
    EveryProject,
}

impl<'a> JobScope<'a> {
    /// The same jobs, said so that a `create_time` range can use an index.
    pub(super) fn for_time_ranges(&self) -> JobScope<'a> {
        match self {
            JobScope::Project(project_id) => JobScope::Project(*project_id),
            JobScope::VisibleTo(user) => JobScope::VisibleTo(user),
            JobScope::All | JobScope::EveryProject => JobScope::EveryProject,
        }
    }

    /// The scope as a condition on `jobs.project_id` (or any table's `project_id`), with its
    /// values.
    pub(super) fn condition(&self) -> (String, Vec<Value>) {
        match self {
            JobScope::Project(project_id) => (
                "project_id = ?".to_string(),
                vec![Value::Integer(project_id.0)],
            ),
            JobScope::VisibleTo(user) => {
                let (visible, values) = db::access::visible_projects(user);
                (
                    format!(
                        "project_id IN (SELECT p.id FROM projects p {PLACE_JOINS} WHERE {visible})"
                    ),
                    values,
                )
            }
            JobScope::All => ("1".to_string(), Vec::new()),
            JobScope::EveryProject => (
                "project_id IN (SELECT id FROM projects)".to_string(),
                Vec::new(),
            ),
        }
    }
}

/// What a WHERE clause is written for: the jobs themselves, or their tallies (`job_tallies`,
/// which have the same column names, no times, and `code_set` beside `result_code`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Jobs,
    Tallies,
}

impl JobFilter {
    /// Whether the tallies can count the jobs this filter keeps (they know no `end_time`).
    pub(super) fn tallies_can_count(&self) -> bool {
        self.end_time_gte.is_none() && self.end_time_lte.is_none()
    }

    /// Whether the filter narrows the projects itself (`project`, `repo`, `scm_url`), so only
    /// per-project rows can count it.
    pub(super) fn names_projects(&self) -> bool {
        self.project.is_some() || self.repo.is_some() || self.scm_url.is_some()
    }

    /// The WHERE clause and its values. Only the filters given appear in the SQL, so SQLite can
    /// use the (project, state), (project, create_time) and (project, result_code) indexes;
    /// a catch-all `?n IS NULL OR ...` form would make it scan every job of the project. For
    /// the tallies, the `create_time` filters are left out (the caller picks the periods).
    pub(super) fn where_clause(
        &self,
        scope: &JobScope<'_>,
        target: Target,
    ) -> (String, Vec<Value>) {
        self.where_clause_in(scope.condition(), target)
    }

    /// `where_clause` with the scope given as a condition on `project_id` and its values.
    pub(super) fn where_clause_in(
        &self,
        scope: (String, Vec<Value>),
        target: Target,
    ) -> (String, Vec<Value>) {
        let (scope_condition, mut values) = scope;
        let mut clauses = vec![scope_condition];
        let mut add = |clause: &str, value: Value| {
            clauses.push(clause.to_string());
            values.push(value);
        };
        if let Some(project) = self.project {
            add("project_id = ?", Value::Real(project));
        }
        if let Some(repo) = self.repo {
            add(
                "project_id IN (SELECT id FROM projects WHERE repo_id = ?)",
                Value::Real(repo),
            );
        }
        if target == Target::Jobs {
            if let Some(time) = &self.create_time_gte {
                add("create_time >= ?", Value::Text(time.clone()));
            }
            if let Some(time) = &self.create_time_lte {
                add("create_time <= ?", Value::Text(time.clone()));
            }
        }
        if let Some(time) = &self.end_time_gte {
            add("end_time >= ?", Value::Text(time.clone()));
        }
        if let Some(time) = &self.end_time_lte {
            add("end_time <= ?", Value::Text(time.clone()));
        }
        // A tally's `result_code` is -1 where the jobs' is NULL, which no comparison matches.
        let code_set = if target == Target::Tallies {
            "code_set = 1 AND "
        } else {
            ""
        };
        if let Some(code) = self.result_code_gte {
            add(&format!("{code_set}result_code >= ?"), Value::Real(code));
        }
        if let Some(code) = self.result_code_lte {
            add(&format!("{code_set}result_code <= ?"), Value::Real(code));
        }
        // Case-insensitive substrings, as Django's icontains: LIKE ignores ASCII case, and the
        // value's own `%`, `_` and `\` are escaped so they match literally.
        for (column, text) in [
            ("result_msg", &self.result_msg),
            ("created_from", &self.created_from),
            ("creator", &self.creator),
        ] {
            if let Some(text) = text {
                add(
                    &format!("{column} LIKE ? ESCAPE '\\'"),
                    Value::Text(crate::db::contains_pattern(text)),
                );
            }
        }
        if let Some(text) = &self.scm_url {
            add(
                "project_id IN (SELECT p.id FROM projects p JOIN repos r ON r.id = p.repo_id
                     WHERE r.scm_url LIKE ? ESCAPE '\\')",
                Value::Text(crate::db::contains_pattern(text)),
            );
        }
        if let Some(states) = &self.states {
            let marks = vec!["?"; states.len()].join(", ");
            clauses.push(format!("state IN ({marks})"));
            values.extend(states.iter().map(|state| Value::Integer(*state)));
        }
        (clauses.join(" AND "), values)
    }
}

/// Below this many matches a page is found through the filters' own indexes and sorted; above
/// it, walking the jobs newest first meets enough matches quickly. (At 10,000, five filters
/// matching 9,811 of 1,000,000 jobs took seconds through the index SQLite picked.)
const FEW_MATCHES: i64 = 1_000;

/// A page's SELECT and its values.
type PageQuery = (String, Vec<Value>);

/// The count of the jobs of `scope` the filter keeps (from the tallies), and the SELECT of one
/// page of them, newest first, with its values (`LIMIT ? OFFSET ?` last). `None` when the page
/// is empty.
fn count_and_page(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
    page: (i64, i64),
) -> rusqlite::Result<(i64, Option<PageQuery>)> {
    let (limit, mut offset) = page;
    let count = tally::count(conn, scope, filter)?;
    if count == 0 || offset >= count {
        return Ok((count, None));
    }
    let (clause, mut values) = filter.where_clause(scope, Target::Jobs);
    // The count tells how selective the filters are, which SQLite's planner can only guess. Few
    // matches: `+id` keeps the id index out, so the filters' indexes find them and they are
    // sorted. Many: walk the jobs newest first (one project's through its (project, id) index),
    // between the ids the `create_time` range allows, and stop after the page.
    let sql = if count < FEW_MATCHES {
        format!("SELECT {COLUMNS} FROM jobs WHERE {clause} ORDER BY +id DESC LIMIT ? OFFSET ?")
    } else {
        // Across projects, the rowid order itself: given an index on `project_id IN (...)`,
        // SQLite read every job of the visible projects and sorted them (3.4 s at 2,000,000).
        let index = match scope {
            JobScope::Project(_) => "INDEXED BY jobs_project_id",
            _ => "NOT INDEXED",
        };
        let mut walk = clause;
        if let Some((low, high)) = tally::id_bounds(conn, scope, filter)? {
            walk.push_str(" AND id BETWEEN ? AND ?");
            values.extend([Value::Integer(low), Value::Integer(high)]);
        }
        // A deep offset: the matches of the newer whole days are skipped by their tallies.
        if let Some(skip) = skip::skip(conn, scope, filter, offset)? {
            walk.push_str(" AND id <= ?");
            values.push(Value::Integer(skip.last_id));
            offset = skip.offset;
        }
        format!("SELECT {COLUMNS} FROM jobs {index} WHERE {walk} ORDER BY id DESC LIMIT ? OFFSET ?")
    };
    values.extend([Value::Integer(limit), Value::Integer(offset)]);
    Ok((count, Some((sql, values))))
}

/// One page of the jobs of `scope` (a project, or every job there is: the superuser's admin
/// list, jobs of deleted projects included, as in TCA), newest first, and the count of all that
/// match.
pub fn list(
    conn: &Connection,
    scope: &JobScope<'_>,
    filter: &JobFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Job>)> {
    let (count, page) = count_and_page(conn, scope, filter, (limit, offset))?;
    let Some((sql, values)) = page else {
        return Ok((count, Vec::new()));
    };
    let jobs = conn
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<Job>>>()?;
    Ok((count, jobs))
}

/// One page of the jobs of every project `user` may see, newest first, each with its place and
/// the user's roles there, and the count of all that match.
pub fn list_visible(
    conn: &Connection,
    user: &User,
    filter: &JobFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<JobOverview>)> {
    let scope = JobScope::VisibleTo(user);
    let (count, page) = count_and_page(conn, &scope, filter, (limit, offset))?;
    let Some((page_sql, page_values)) = page else {
        return Ok((count, Vec::new()));
    };
    // The page is picked from the jobs alone and only its rows are joined with their places.
    // Positional `?`s take their values in the order they appear: the place columns' first.
    let job_columns: Vec<String> = COLUMNS
        .split(',')
        .map(|column| format!("j.{}", column.trim()))
        .collect();
    let sql = format!(
        "SELECT {}, {PLACE_COLUMNS}
         FROM ({page_sql}) j
         JOIN projects p ON p.id = j.project_id {PLACE_JOINS}
         ORDER BY j.id DESC",
        job_columns.join(", ")
    );
    let mut values = db::access::place_values(user);
    values.extend(page_values);
    let mut stmt = conn.prepare_cached(&sql)?;
    let jobs = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            Ok(JobOverview {
                job: from_row(row)?,
                place: db::access::place_from_row(row, job_columns.len(), user)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<JobOverview>>>()?;
    Ok((count, jobs))
}

/// Queue health over the projects `user` may see; "recently" means closed at or after `since`
/// (stored form). Two queries, each on an index: unfinished jobs by state, closed ones by
/// `end_time`, so the cost follows the queue and the last day, not the whole history.
pub fn queue_health(conn: &Connection, user: &User, since: &str) -> rusqlite::Result<QueueHealth> {
    let (scope, scope_values) = JobScope::VisibleTo(user).condition();
    let (waiting, running, oldest_waiting_since) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FILTER (WHERE state IN (0, 4, 5)), COUNT(*) FILTER (WHERE state IN (1, 3)),
                 MIN(create_time) FILTER (WHERE state IN (0, 4, 5))
             FROM jobs WHERE state IN (0, 1, 3, 4, 5) AND {scope}"
        ))?
        .query_row(rusqlite::params_from_iter(scope_values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    let mut values = vec![Value::Text(since.to_string())];
    values.extend(scope_values);
    let (closed_recently, failed_recently) = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE result_code >= 100)
             FROM jobs WHERE end_time >= ? AND state = 2 AND {scope}"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    Ok(QueueHealth {
        waiting,
        running,
        closed_recently,
        failed_recently,
        oldest_waiting_since,
    })
}

/// Jobs not yet closed, by state, and the age of the oldest waiting one: what a metrics scrape
/// reads (cheap: `jobs_state_id` holds only a few rows per open state).
#[derive(Debug, Default)]
pub struct OpenJobs {
    pub by_state: Vec<(String, i64)>,
    pub oldest_waiting_seconds: Option<i64>,
}

pub fn open_job_snapshot(conn: &Connection) -> rusqlite::Result<OpenJobs> {
    let mut by_state = Vec::new();
    for state in [
        JobState::Waiting,
        JobState::Initing,
        JobState::Inited,
        JobState::Running,
        JobState::Closing,
    ] {
        let count: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM jobs WHERE state = ?1")?
            .query_row([state as i64], |row| row.get(0))?;
        by_state.push((state.display().to_lowercase(), count));
    }
    let oldest: Option<String> = conn
        .prepare_cached("SELECT MIN(create_time) FROM jobs WHERE state = 0")?
        .query_row([], |row| row.get(0))?;
    let oldest_waiting_seconds = oldest
        .and_then(|since| clock::micros_between(&since, &clock::now_stored()))
        .map(|micros| (micros / 1_000_000).max(0));
    Ok(OpenJobs {
        by_state,
        oldest_waiting_seconds,
    })
}
