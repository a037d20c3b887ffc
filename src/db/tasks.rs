//! SQL for a job's tasks.

use rusqlite::{params, Connection, Row};

use crate::clock;
use crate::domain::ids::{JobId, TaskId};
use crate::domain::job::{Task, TaskState};

const COLUMNS: &str =
    "id, job_id, module, task_name, state, progress_rate, result_code, result_msg, result_path";

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
    })
}

pub fn insert(
    conn: &Connection,
    job_id: JobId,
    module: &str,
    task_name: &str,
) -> rusqlite::Result<TaskId> {
    conn.execute(
        "INSERT INTO tasks (job_id, module, task_name, create_time) VALUES (?1, ?2, ?3, ?4)",
        params![job_id.0, module, task_name, clock::now_stored()],
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

/// WAITING -> RUNNING, if the task is still waiting.
pub fn start(conn: &Connection, task_id: TaskId) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE tasks SET state = ?2, start_time = ?3 WHERE id = ?1 AND state = ?4",
        params![
            task_id.0,
            TaskState::Running as i64,
            clock::now_stored(),
            TaskState::Waiting as i64
        ],
    )?;
    Ok(changed == 1)
}

pub fn set_progress(
    conn: &Connection,
    task_id: TaskId,
    progress_rate: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE tasks SET progress_rate = ?2 WHERE id = ?1 AND state != 2",
        params![task_id.0, progress_rate.clamp(0, 100)],
    )?;
    Ok(())
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
    Ok(changed == 1)
}

/// Closes every open task of a revoked job (TCA: a 2xx job code becomes 299 for the others).
pub fn close_open(
    conn: &Connection,
    job_id: JobId,
    result_code: i64,
    result_msg: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE tasks SET state = 2, result_code = ?2, result_msg = ?3, end_time = ?4
         WHERE job_id = ?1 AND state != 2",
        params![
            job_id.0,
            result_code,
            format!("Job revoked: {result_msg}"),
            clock::now_stored()
        ],
    )
}
