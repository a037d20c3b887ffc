//! SQL for a job's tasks and their progress steps. Every change of a task's progress (a new
//! rate, its close) also writes a step, so a client can see when each happened.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::{JobId, ProjectId, RepoId, TaskId};
use crate::domain::job::{progress_message, Task, TaskProgress, TaskState, ToolModule};

/// The version of this binary, recorded on the tasks it makes and runs.
pub const CODEPUP_VERSION: &str = env!("CARGO_PKG_VERSION");

const COLUMNS: &str =
    "id, job_id, module, task_name, state, progress_rate, result_code, result_msg, result_path,
    create_time, start_time, end_time, create_version, execute_version";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: TaskId(row.get(0)?),
        job_id: JobId(row.get(1)?),
        module: db::parsed(row, 2, |name: &String| ToolModule::parse(name))?,
        task_name: row.get(3)?,
        state: row.get(4)?,
        progress_rate: row.get(5)?,
        result_code: row.get(6)?,
        result_msg: row.get(7)?,
        result_path: row.get(8)?,
        create_time: row.get(9)?,
        start_time: row.get(10)?,
        end_time: row.get(11)?,
        create_version: row.get(12)?,
        execute_version: row.get(13)?,
    })
}

pub fn insert(
    conn: &Connection,
    job_id: JobId,
    module: &str,
    task_name: &str,
) -> rusqlite::Result<TaskId> {
    conn.execute(
        "INSERT INTO tasks (job_id, module, task_name, create_time, create_version)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            job_id.0,
            module,
            task_name,
            clock::now_stored(),
            CODEPUP_VERSION
        ],
    )?;
    Ok(TaskId(conn.last_insert_rowid()))
}

pub fn list_for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<Vec<Task>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE job_id = ?1 ORDER BY id"
    ))?;
    let tasks = stmt.query_map(params![job_id.0], from_row)?.collect();
    tasks
}

/// One task of `job_id`.
pub fn get(conn: &Connection, job_id: JobId, task_id: TaskId) -> rusqlite::Result<Option<Task>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1 AND job_id = ?2"),
        params![task_id.0, job_id.0],
        from_row,
    )
    .optional()
}

/// The tasks of several jobs, by job id then task id.
pub fn list_for_jobs(conn: &Connection, job_ids: &[JobId]) -> rusqlite::Result<Vec<Task>> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; job_ids.len()].join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE job_id IN ({marks}) ORDER BY job_id, id"
    ))?;
    let tasks = stmt
        .query_map(
            rusqlite::params_from_iter(job_ids.iter().map(|id| id.0)),
            from_row,
        )?
        .collect();
    tasks
}

/// A task's progress steps, oldest first.
pub fn progresses(conn: &Connection, task_id: TaskId) -> rusqlite::Result<Vec<TaskProgress>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, task_id, progress_rate, message, create_time FROM task_progresses
         WHERE task_id = ?1 ORDER BY id",
    )?;
    let steps = stmt
        .query_map(params![task_id.0], |row| {
            Ok(TaskProgress {
                id: row.get(0)?,
                task_id: TaskId(row.get(1)?),
                progress_rate: row.get(2)?,
                message: row.get(3)?,
                create_time: row.get(4)?,
            })
        })?
        .collect();
    steps
}

fn add_progress(
    conn: &Connection,
    task_id: TaskId,
    progress_rate: i64,
    message: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO task_progresses (task_id, progress_rate, message, create_time) VALUES (?1, ?2, ?3, ?4)",
        params![task_id.0, progress_rate.clamp(0, 100), message, clock::now_stored()],
    )?;
    Ok(())
}

/// WAITING -> RUNNING, if the task is still waiting.
pub fn start(conn: &Connection, task_id: TaskId) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE tasks SET state = ?2, start_time = ?3, execute_version = ?5 WHERE id = ?1 AND state = ?4",
        params![
            task_id.0,
            TaskState::Running as i64,
            clock::now_stored(),
            TaskState::Waiting as i64,
            CODEPUP_VERSION
        ],
    )?;
    Ok(changed == 1)
}

pub fn set_progress(
    conn: &Connection,
    task_id: TaskId,
    progress_rate: i64,
) -> rusqlite::Result<()> {
    let changed = conn.execute(
        "UPDATE tasks SET progress_rate = ?2 WHERE id = ?1 AND state != 2",
        params![task_id.0, progress_rate.clamp(0, 100)],
    )?;
    if changed == 1 {
        add_progress(
            conn,
            task_id,
            progress_rate,
            progress_message(progress_rate),
        )?;
    }
    Ok(())
}

/// The message of a task's closing step.
fn closing_message(result_code: i64, result_msg: &str) -> String {
    if (0..100).contains(&result_code) {
        format!("done: {result_msg}")
    } else {
        format!("failed ({result_code}): {result_msg}")
    }
}

/// Closes a task that is not closed yet. Returns whether this call closed it.
pub fn close(
    conn: &Connection,
    task_id: TaskId,
    result_code: i64,
    result_msg: &str,
    progress_rate: i64,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE tasks SET state = 2, result_code = ?2, result_msg = ?3, progress_rate = ?4, end_time = ?5
         WHERE id = ?1 AND state != 2",
        params![task_id.0, result_code, result_msg, progress_rate.clamp(0, 100), clock::now_stored()],
    )?;
    if changed == 1 {
        add_progress(
            conn,
            task_id,
            progress_rate,
            &closing_message(result_code, result_msg),
        )?;
    }
    Ok(changed == 1)
}

/// Closes every open task of a revoked job (TCA: a 2xx job code becomes 299 for the others).
pub fn close_open(
    conn: &Connection,
    job_id: JobId,
    result_code: i64,
    result_msg: &str,
) -> rusqlite::Result<usize> {
    let message = format!("Job revoked: {result_msg}");
    // The steps first, while the open tasks can still be told from the closed ones.
    conn.execute(
        "INSERT INTO task_progresses (task_id, progress_rate, message, create_time)
         SELECT id, progress_rate, ?2, ?3 FROM tasks WHERE job_id = ?1 AND state != 2",
        params![
            job_id.0,
            closing_message(result_code, &message),
            clock::now_stored()
        ],
    )?;
    conn.execute(
        "UPDATE tasks SET state = 2, result_code = ?2, result_msg = ?3, end_time = ?4
         WHERE job_id = ?1 AND state != 2",
        params![job_id.0, result_code, message, clock::now_stored()],
    )
}

/// Filters of the admin task list (TCA's `TaskFilterSet`, plus `job` and the create and end
/// times TCA's admin page sends), already parsed. Times are stored-form text.
#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    pub job: Option<f64>,
    pub start_time_gte: Option<String>,
    pub start_time_lte: Option<String>,
    pub create_time_gte: Option<String>,
    pub create_time_lte: Option<String>,
    pub end_time_gte: Option<String>,
    pub end_time_lte: Option<String>,
    pub result_code_gte: Option<f64>,
    pub result_code_lte: Option<f64>,
    /// A substring of `result_msg`, any case.
    pub result_msg: Option<String>,
    pub states: Option<Vec<i64>>,
    /// The tool's name, exactly.
    pub task_name: Option<String>,
    /// The job's `created_from`, exactly.
    pub created_from: Option<String>,
}

impl TaskFilter {
    /// The WHERE clause over tasks `x` and their jobs `j`, and its values, in order.
    fn where_clause(&self) -> (String, Vec<Value>) {
        let mut clauses = vec!["1".to_string()];
        let mut values = Vec::new();
        let mut add = |clause: &str, value: Value| {
            clauses.push(clause.to_string());
            values.push(value);
        };
        if let Some(job) = self.job {
            add("x.job_id = ?", Value::Real(job));
        }
        for (clause, time) in [
            ("x.start_time >= ?", &self.start_time_gte),
            ("x.start_time <= ?", &self.start_time_lte),
            ("x.create_time >= ?", &self.create_time_gte),
            ("x.create_time <= ?", &self.create_time_lte),
            ("x.end_time >= ?", &self.end_time_gte),
            ("x.end_time <= ?", &self.end_time_lte),
        ] {
            if let Some(time) = time {
                add(clause, Value::Text(time.clone()));
            }
        }
        if let Some(code) = self.result_code_gte {
            add("x.result_code >= ?", Value::Real(code));
        }
        if let Some(code) = self.result_code_lte {
            add("x.result_code <= ?", Value::Real(code));
        }
        if let Some(text) = &self.result_msg {
            add(
                "x.result_msg LIKE ? ESCAPE '\\'",
                Value::Text(crate::db::contains_pattern(text)),
            );
        }
        if let Some(name) = &self.task_name {
            add("x.task_name = ?", Value::Text(name.clone()));
        }
        if let Some(created_from) = &self.created_from {
            add("j.created_from = ?", Value::Text(created_from.clone()));
        }
        if let Some(states) = &self.states {
            let marks = vec!["?"; states.len()].join(", ");
            clauses.push(format!("x.state IN ({marks})"));
            values.extend(states.iter().map(|state| Value::Integer(*state)));
        }
        (clauses.join(" AND "), values)
    }
}

/// A task with where its job belongs, for links to it.
#[derive(Debug, Clone)]
pub struct PlacedTask {
    pub task: Task,
    pub org_sid: String,
    pub team_name: String,
    pub repo_id: RepoId,
    pub project_id: ProjectId,
}

/// One page of every task there is, newest first, and the count of all that match.
pub fn list_all(
    conn: &Connection,
    filter: &TaskFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<PlacedTask>)> {
    let (clause, mut values) = filter.where_clause();
    let count = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM tasks x JOIN jobs j ON j.id = x.job_id WHERE {clause}"
        ))?
        .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))?;
    if count == 0 || offset >= count {
        return Ok((count, Vec::new()));
    }
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
    let columns: Vec<String> = COLUMNS
        .split(',')
        .map(|column| format!("x.{}", column.trim()))
        .collect();
    let first_place = columns.len();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {}, o.org_sid, tm.name, r.id, p.id
         FROM tasks x JOIN jobs j ON j.id = x.job_id JOIN projects p ON p.id = j.project_id
             JOIN repos r ON r.id = p.repo_id JOIN teams tm ON tm.id = r.team_id
             JOIN orgs o ON o.id = tm.org_id
         WHERE {clause} ORDER BY x.id DESC LIMIT ? OFFSET ?",
        columns.join(", ")
    ))?;
    let tasks = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            Ok(PlacedTask {
                task: from_row(row)?,
                org_sid: row.get(first_place)?,
                team_name: row.get(first_place + 1)?,
                repo_id: RepoId(row.get(first_place + 2)?),
                project_id: ProjectId(row.get(first_place + 3)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<PlacedTask>>>()?;
    Ok((count, tasks))
}
