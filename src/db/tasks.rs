//! SQL for a job's tasks and their progress steps. Every change of a task's progress (a new
//! rate, its close) also writes a step, so a client can see when each happened.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::domain::ids::{JobId, TaskId};
use crate::domain::job::{progress_message, Task, TaskProgress, TaskState};

/// The version of this binary, recorded on the tasks it makes and runs.
pub const CODEPUP_VERSION: &str = env!("CARGO_PKG_VERSION");

const COLUMNS: &str =
    "id, job_id, module, task_name, state, progress_rate, result_code, result_msg, result_path,
    create_time, start_time, end_time, create_version, execute_version";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        id: TaskId(row.get(0)?),
        job_id: JobId(row.get(1)?),
        module: row.get(2)?,
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
    conn.query_row(
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
