//! SQL for jobs, their scans and their line counts. State changes are compare-and-set updates:
//! each names the state it expects, and reports whether it won.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::db::access::{PLACE_COLUMNS, PLACE_JOINS};
use crate::domain::ids::{JobId, ProjectId, ScanId, UserId};
use crate::domain::job::{
    code, Job, JobOverview, JobState, LanguageCount, LineCounts, QueueHealth,
};
use crate::domain::user::User;

const COLUMNS: &str = "id, project_id, scan_id, state, incr_scan, create_time, claim_time, initialized_time,
    start_time, closing_time, end_time, expire_time, result_code, result_msg, result_path, task_num, task_done,
    remarks, remarked_by, code_line_num, comment_line_num, blank_line_num, total_line_num, created_from,
    creator, restart_count, async_flag";

/// The job columns `from_row` reads, each prefixed with `alias.` (for queries that join jobs).
pub fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(',')
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    from_row_at(row, 0)
}

/// A job from the columns of a row starting at `first`, in `COLUMNS` order.
pub fn from_row_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Job> {
    let at = |index: usize| first + index;
    Ok(Job {
        id: JobId(row.get(at(0))?),
        project_id: ProjectId(row.get(at(1))?),
        scan_id: row.get::<_, Option<i64>>(at(2))?.map(ScanId),
        state: db::parsed(row, at(3), |state: &i64| JobState::from_i64(*state))?,
        incr_scan: row.get(at(4))?,
        create_time: row.get(at(5))?,
        claim_time: row.get(at(6))?,
        initialized_time: row.get(at(7))?,
        start_time: row.get(at(8))?,
        closing_time: row.get(at(9))?,
        end_time: row.get(at(10))?,
        expire_time: row.get(at(11))?,
        result_code: row.get(at(12))?,
        result_msg: row.get(at(13))?,
        result_path: row.get(at(14))?,
        task_num: row.get(at(15))?,
        task_done: row.get(at(16))?,
        remarks: row.get(at(17))?,
        remarked_by: row.get(at(18))?,
        lines: LineCounts {
            code: row.get(at(19))?,
            comment: row.get(at(20))?,
            blank: row.get(at(21))?,
            total: row.get(at(22))?,
        },
        created_from: row.get(at(23))?,
        creator: row.get(at(24))?,
        restart_count: row.get(at(25))?,
        async_flag: row.get(at(26))?,
    })
}

/// What `scans/create` stores.
pub struct NewJob<'a> {
    pub incr_scan: bool,
    pub force_create: bool,
    pub async_flag: bool,
    pub created_from: &'a str,
    pub creator: &'a str,
    pub creator_id: UserId,
}

/// Inserts a WAITING job and its scan row.
pub fn insert(
    conn: &Connection,
    project_id: ProjectId,
    new_job: &NewJob<'_>,
) -> rusqlite::Result<(JobId, ScanId)> {
    let now = clock::now_stored();
    let scan_type = if new_job.incr_scan { 1 } else { 2 };
    conn.prepare_cached(
        "INSERT INTO scans (project_id, scan_type, create_time) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![project_id.0, scan_type, now])?;
    let scan_id = ScanId(conn.last_insert_rowid());
    conn.prepare_cached(
        "INSERT INTO jobs (project_id, scan_id, state, incr_scan, force_create, async_flag, create_time,
             created_from, creator, creator_id)
         VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
            project_id.0,
            scan_id.0,
            new_job.incr_scan,
            new_job.force_create,
            new_job.async_flag,
            now,
            new_job.created_from,
            new_job.creator,
            new_job.creator_id.0
        ],
    )?;
    Ok((JobId(conn.last_insert_rowid()), scan_id))
}

/// The scan ids of the project's jobs that are not CLOSED, oldest first.
pub fn unfinished_scan_ids(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Vec<Option<i64>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT scan_id FROM jobs WHERE project_id = ?1 AND state != 2 ORDER BY id",
    )?;
    let ids = stmt
        .query_map(params![project_id.0], |row| row.get(0))?
        .collect();
    ids
}

/// The project's jobs that are not CLOSED, oldest first.
pub fn unfinished(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Vec<JobId>> {
    let mut stmt = conn
        .prepare_cached("SELECT id FROM jobs WHERE project_id = ?1 AND state != 2 ORDER BY id")?;
    let ids = stmt
        .query_map(params![project_id.0], |row| row.get(0).map(JobId))?
        .collect();
    ids
}

/// The project's unfinished jobs older than `job_id`.
pub fn older_unfinished(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
) -> rusqlite::Result<Vec<JobId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM jobs WHERE project_id = ?1 AND id < ?2 AND state != 2 ORDER BY id",
    )?;
    let ids = stmt
        .query_map(params![project_id.0, job_id.0], |row| row.get(0).map(JobId))?
        .collect();
    ids
}

pub fn get(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<Job>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
        params![job_id.0],
        from_row,
    )
    .optional()
}

/// A job of the project (404 material when it belongs to another).
pub fn get_in_project(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
) -> rusqlite::Result<Option<Job>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1 AND project_id = ?2"),
        params![job_id.0, project_id.0],
        from_row,
    )
    .optional()
}

pub fn state(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<JobState>> {
    let state: Option<i64> = conn
        .query_row(
            "SELECT state FROM jobs WHERE id = ?1",
            params![job_id.0],
            |row| row.get(0),
        )
        .optional()?;
    Ok(state.and_then(JobState::from_i64))
}

/// Filters of the job lists (TCA_API.md §5.3 and TCA's `JobFilterSet`), already parsed. Times
/// are stored-form text. `project` and `repo` are numbers as Django reads them: `1.5` matches
/// nothing, `1.0` matches 1.
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
}

impl JobScope<'_> {
    /// The scope as a condition on `jobs.project_id`, with its values.
    fn condition(&self) -> (String, Vec<Value>) {
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
        }
    }
}

impl JobFilter {
    /// The WHERE clause and its values. Only the filters given appear in the SQL, so SQLite can
    /// use the (project, state), (project, create_time) and (project, result_code) indexes;
    /// a catch-all `?n IS NULL OR ...` form would make it scan every job of the project.
    fn where_clause(&self, scope: &JobScope<'_>) -> (String, Vec<Value>) {
        let (scope_condition, mut values) = scope.condition();
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
        if let Some(time) = &self.create_time_gte {
            add("create_time >= ?", Value::Text(time.clone()));
        }
        if let Some(time) = &self.create_time_lte {
            add("create_time <= ?", Value::Text(time.clone()));
        }
        if let Some(time) = &self.end_time_gte {
            add("end_time >= ?", Value::Text(time.clone()));
        }
        if let Some(time) = &self.end_time_lte {
            add("end_time <= ?", Value::Text(time.clone()));
        }
        if let Some(code) = self.result_code_gte {
            add("result_code >= ?", Value::Real(code));
        }
        if let Some(code) = self.result_code_lte {
            add("result_code <= ?", Value::Real(code));
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
/// it, walking the jobs newest first meets enough matches quickly.
const FEW_MATCHES: i64 = 10_000;

/// One page of the project's jobs, newest first, and the count of all that match.
pub fn list(
    conn: &Connection,
    project_id: ProjectId,
    filter: &JobFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Job>)> {
    // Positional `?` parameters: the clause is built from the filters present.
    let (clause, mut values) = filter.where_clause(&JobScope::Project(project_id));
    let count = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM jobs WHERE {clause}"))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))?;
    if count == 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
    // The count tells how selective the filters are, which SQLite's planner can only guess. Few
    // matches: `+id` keeps the id index out, so the filters' indexes find them and they are
    // sorted. Many: walk the (project, id) index newest first and stop after the page.
    let sql = if count < FEW_MATCHES {
        format!("SELECT {COLUMNS} FROM jobs WHERE {clause} ORDER BY +id DESC LIMIT ? OFFSET ?")
    } else {
        format!("SELECT {COLUMNS} FROM jobs INDEXED BY jobs_project_id WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?")
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let jobs = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), from_row)?
        .collect::<rusqlite::Result<Vec<Job>>>()?;
    Ok((count, jobs))
}

/// One page of every job there is, newest first, and the count of all that match (the
/// superuser's admin list; jobs of deleted projects included, as in TCA).
pub fn list_all(
    conn: &Connection,
    filter: &JobFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Job>)> {
    let (clause, mut values) = filter.where_clause(&JobScope::All);
    let count = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM jobs WHERE {clause}"))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))?;
    if count == 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?"
    ))?;
    let jobs = stmt
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
    let (clause, where_values) = filter.where_clause(&JobScope::VisibleTo(user));
    let count = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM jobs WHERE {clause}"))?
        .query_row(rusqlite::params_from_iter(where_values.iter()), |row| {
            row.get(0)
        })?;
    if count == 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    // The page is picked from the jobs alone and only its rows are joined with their places.
    // Positional `?`s take their values in the order they appear: the place columns' first.
    let job_columns: Vec<String> = COLUMNS
        .split(',')
        .map(|column| format!("j.{}", column.trim()))
        .collect();
    let sql = format!(
        "SELECT {}, {PLACE_COLUMNS}
         FROM (SELECT {COLUMNS} FROM jobs WHERE {clause} ORDER BY id DESC LIMIT ? OFFSET ?) j
         JOIN projects p ON p.id = j.project_id {PLACE_JOINS}
         ORDER BY j.id DESC",
        job_columns.join(", ")
    );
    let mut values = db::access::place_values(user);
    values.extend(where_values);
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
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

/// Takes the oldest WAITING job for a worker (WAITING -> INITING), or `None` when there is none.
/// One statement, so two workers can never take the same job.
pub fn claim_next(conn: &Connection) -> rusqlite::Result<Option<JobId>> {
    db::query_row(
        conn,
        "UPDATE jobs SET state = 4, claim_time = ?1
         WHERE id = (SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT 1) AND state = 0
         RETURNING id",
        params![clock::now_stored()],
        |row| row.get(0).map(JobId),
    )
    .optional()
}

/// Moves a job from `from` to `to` if it is still in `from`, stamping the time column that
/// belongs to `to`. Returns whether it moved.
pub fn transition(
    conn: &Connection,
    job_id: JobId,
    from: JobState,
    to: JobState,
) -> rusqlite::Result<bool> {
    debug_assert!(from.can_become(to), "{from:?} -> {to:?}");
    let stamp = match to {
        JobState::Inited => Some("initialized_time"),
        JobState::Running => Some("start_time"),
        JobState::Closing => Some("closing_time"),
        _ => None,
    };
    let changed = match stamp {
        Some(column) => conn.execute(
            &format!("UPDATE jobs SET state = ?3, {column} = ?4 WHERE id = ?1 AND state = ?2"),
            params![job_id.0, from as i64, to as i64, clock::now_stored()],
        )?,
        None => conn.execute(
            "UPDATE jobs SET state = ?3 WHERE id = ?1 AND state = ?2",
            params![job_id.0, from as i64, to as i64],
        )?,
    };
    Ok(changed == 1)
}

/// Closes a job that is not CLOSED yet with `result_code`/`result_msg`. `end_time` is set on
/// every close (TCA leaves it null on revokes); `expire_time` marks a revoke. Returns whether
/// this call closed it.
pub fn close(
    conn: &Connection,
    job_id: JobId,
    result_code: i64,
    result_msg: &str,
    is_revoke: bool,
) -> rusqlite::Result<bool> {
    let now = clock::now_stored();
    let changed = conn.execute(
        "UPDATE jobs SET state = 2, result_code = ?2, result_msg = ?3,
             closing_time = COALESCE(closing_time, ?4), end_time = ?4,
             expire_time = CASE WHEN ?5 THEN ?4 ELSE expire_time END
         WHERE id = ?1 AND state != 2",
        params![job_id.0, result_code, result_msg, now, is_revoke],
    )?;
    Ok(changed == 1)
}

/// Records who cancelled a job and why.
pub fn set_remarks(
    conn: &Connection,
    job_id: JobId,
    remarks: &str,
    user_id: UserId,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET remarks = ?2, remarked_by = ?3 WHERE id = ?1",
        params![job_id.0, remarks, user_id.0],
    )?;
    Ok(())
}

/// At start-up: every job a worker had taken was interrupted. Jobs interrupted fewer than
/// `max_restarts` times go back to WAITING with their tasks removed; the others are closed with
/// code 100. Returns `(requeued, given_up)`.
pub fn requeue_interrupted(
    conn: &Connection,
    max_restarts: i64,
) -> rusqlite::Result<(usize, usize)> {
    let now = clock::now_stored();
    let given_up = conn.execute(
        "UPDATE jobs SET state = 2, result_code = ?1,
             result_msg = 'interrupted by ' || (restart_count + 1) || ' server restarts; start a new scan',
             closing_time = COALESCE(closing_time, ?2), end_time = ?2, expire_time = ?2,
             restart_count = restart_count + 1
         WHERE state IN (1, 3, 4, 5) AND restart_count + 1 >= ?3",
        params![code::E_SERVER, now, max_restarts],
    )?;
    conn.execute(
        "INSERT INTO task_progresses (task_id, progress_rate, message, create_time)
         SELECT id, progress_rate, 'failed (' || ?1 || '): Job revoked: server restarted', ?2
         FROM tasks WHERE state != 2 AND job_id IN (SELECT id FROM jobs WHERE state = 2)",
        params![code::E_SERVER, now],
    )?;
    conn.execute(
        "UPDATE tasks SET state = 2, result_code = ?1, result_msg = 'Job revoked: server restarted', end_time = ?2
         WHERE state != 2 AND job_id IN (SELECT id FROM jobs WHERE state = 2)",
        params![code::E_SERVER, now],
    )?;
    conn.execute(
        "DELETE FROM tasks WHERE job_id IN (SELECT id FROM jobs WHERE state IN (1, 3, 4, 5))",
        [],
    )?;
    let requeued = conn.execute(
        "UPDATE jobs SET state = 0, restart_count = restart_count + 1, claim_time = NULL, initialized_time = NULL,
             start_time = NULL, closing_time = NULL, task_num = 0, task_done = 0
         WHERE state IN (1, 3, 4, 5)",
        [],
    )?;
    Ok((requeued, given_up))
}

/// A job a worker holds, with what its time limit needs.
pub struct ActiveJob {
    pub job_id: JobId,
    pub state: i64,
    pub claim_time: Option<String>,
    /// The scheme's `job_runtime_limit`, in minutes.
    pub limit_minutes: i64,
}

/// Jobs a worker holds (not WAITING, not CLOSED) with the minutes their scheme allows.
pub fn active_with_limits(conn: &Connection) -> rusqlite::Result<Vec<ActiveJob>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.id, j.state, j.claim_time, s.job_runtime_limit
         FROM jobs j JOIN projects p ON p.id = j.project_id JOIN scan_schemes s ON s.id = p.scan_scheme_id
         WHERE j.state IN (1, 3, 4, 5)",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok(ActiveJob {
                job_id: JobId(row.get(0)?),
                state: row.get(1)?,
                claim_time: row.get(2)?,
                limit_minutes: row.get(3)?,
            })
        })?
        .collect();
    rows
}

pub fn set_task_num(conn: &Connection, job_id: JobId, task_num: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET task_num = ?2, task_done = 0 WHERE id = ?1",
        params![job_id.0, task_num],
    )?;
    Ok(())
}

pub fn increment_task_done(conn: &Connection, job_id: JobId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET task_done = task_done + 1 WHERE id = ?1",
        params![job_id.0],
    )?;
    Ok(())
}

/// Sets the job's line counts and replaces its per-language breakdown.
pub fn set_line_counts(
    conn: &Connection,
    job_id: JobId,
    lines: &LineCounts,
    languages: &[LanguageCount],
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET code_line_num = ?2, comment_line_num = ?3, blank_line_num = ?4, total_line_num = ?5
         WHERE id = ?1",
        params![job_id.0, lines.code, lines.comment, lines.blank, lines.total],
    )?;
    conn.execute(
        "DELETE FROM job_languages WHERE job_id = ?1",
        params![job_id.0],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO job_languages (job_id, language, files, code, comment, blank) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for language in languages {
        insert.execute(params![
            job_id.0,
            language.name,
            language.files,
            language.code,
            language.comment,
            language.blank
        ])?;
    }
    Ok(())
}

pub fn languages(conn: &Connection, job_id: JobId) -> rusqlite::Result<Vec<LanguageCount>> {
    let mut stmt = conn.prepare_cached(
        "SELECT language, files, code, comment, blank FROM job_languages WHERE job_id = ?1
         ORDER BY code DESC, language",
    )?;
    let rows = stmt
        .query_map(params![job_id.0], |row| {
            Ok(LanguageCount {
                name: row.get(0)?,
                files: row.get(1)?,
                code: row.get(2)?,
                comment: row.get(3)?,
                blank: row.get(4)?,
            })
        })?
        .collect();
    rows
}

/// Records the revisions a job scans (and, when incremental, compares with).
pub fn set_revisions(
    conn: &Connection,
    scan_id: ScanId,
    revision: &str,
    base: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE scans SET scm_revision = ?2, base_revision = ?3 WHERE id = ?1",
        params![scan_id.0, revision, base],
    )?;
    Ok(())
}

pub fn revision(conn: &Connection, scan_id: Option<ScanId>) -> rusqlite::Result<Option<String>> {
    let Some(scan_id) = scan_id else {
        return Ok(None);
    };
    db::query_row(
        conn,
        "SELECT scm_revision FROM scans WHERE id = ?1",
        params![scan_id.0],
        |row| row.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// The baseline of an incremental scan: the revision and job of the project's latest job whose
/// results were stored (result code 0 or 1), other than `job_id`.
pub fn baseline(
    conn: &Connection,
    project_id: ProjectId,
    job_id: JobId,
) -> rusqlite::Result<Option<(String, JobId)>> {
    db::query_row(
        conn,
        "SELECT s.scm_revision, j.id FROM jobs j JOIN scans s ON s.id = j.scan_id
         WHERE j.project_id = ?1 AND j.id != ?2 AND j.state = 2 AND j.result_code IN (?3, ?4)
           AND s.scm_revision IS NOT NULL
         ORDER BY j.id DESC LIMIT 1",
        params![project_id.0, job_id.0, code::OK, code::INCR_IGNORE],
        |row| Ok((row.get(0)?, JobId(row.get(1)?))),
    )
    .optional()
}

/// Copies line counts (and the breakdown) from `from` to `to`: a scan of an unchanged head
/// describes the same tree.
pub fn copy_line_counts(conn: &Connection, from: JobId, to: JobId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET (code_line_num, comment_line_num, blank_line_num, total_line_num) =
            (SELECT code_line_num, comment_line_num, blank_line_num, total_line_num FROM jobs WHERE id = ?1)
         WHERE id = ?2",
        params![from.0, to.0],
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO job_languages (job_id, language, files, code, comment, blank)
         SELECT ?2, language, files, code, comment, blank FROM job_languages WHERE job_id = ?1",
        params![from.0, to.0],
    )?;
    Ok(())
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
