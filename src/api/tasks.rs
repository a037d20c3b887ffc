//! Tasks: one task with its progress steps (`.../jobs/<id>/tasks/<id>/`, TCA's scan-detail
//! page) and the superuser's list of every task (`v2/jobs/tasks/`).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::blocking;
use crate::api::query::FilterReader;
use crate::api::query::{paginated, Query};
use crate::api::{job_scope, require, views, JobScope, Links};
use crate::auth::Caller;
use crate::db;
use crate::db::tasks::TaskFilter;
use crate::domain::ids::TaskId;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// One task of a job (TCA's `TaskDetailSerializer`): its times, versions, result, log URL and
/// the progress steps the engine recorded.
pub async fn get_task(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id, job_id, task_id) = path.into_inner();
    let path = (org_sid, team_name, repo_id, project_id, job_id);
    let tz = state.config.tz_offset;
    let links = Links::new(&request);
    let detail = blocking::run(&state.pool, move |conn| {
        let JobScope { job, project, .. } = job_scope(conn, &caller, &path)?;
        let task = db::tasks::get(conn, job.id, TaskId(task_id))?
            .ok_or_else(|| AppError::not_found(format!("task {task_id}")))?;
        let steps = db::tasks::progresses(conn, task.id)?;
        let context = views::TaskContext {
            log_url: links.task_log(&path.0, &path.1, project.repo_id, project.id, &task),
            is_superuser: caller.is_superuser,
        };
        Ok(views::task_detail(&task, &steps, &context, tz))
    })
    .await?;
    Ok(envelope::ok(detail))
}

/// Every task, newest first, for the superuser's admin pages (TCA's `v2/jobs/tasks/`,
/// `TaskListApiView`: `TaskSerializer`, `TaskFilterSet`, `IsAdminUser`).
pub async fn list_all_tasks(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let links = Links::new(&request);
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        require(caller.is_superuser)?;
        let page = query.page()?;
        let filter = read_task_filter(&query, tz)?;
        let (count, tasks) = db::tasks::list_all(conn, &filter, page.limit, page.offset)?;
        let results = tasks
            .iter()
            .map(|placed| {
                let log_url = links.task_log(
                    &placed.org_sid,
                    &placed.team_name,
                    placed.repo_id,
                    placed.project_id,
                    &placed.task,
                );
                views::admin_task(&placed.task, &log_url, tz)
            })
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// TCA's `TaskFilterSet` in its order (the `tag` and `node` it makes from the model first), then
/// codepup's `job`, `create_time_gte`/`_lte` and `end_time_gte`/`_lte`, which TCA's admin page
/// sends and TCA ignores.
fn read_task_filter(query: &Query, tz: time::UtcOffset) -> Result<TaskFilter, AppError> {
    let mut reader = FilterReader::new(query, tz);
    // codepup has no exec tags or nodes, so no value can name one.
    for field in ["tag", "node"] {
        if query.get(field).is_some() {
            reader.fail(
                field,
                "Select a valid choice. That choice is not one of the available choices.",
            );
        }
    }
    let filter = TaskFilter {
        start_time_gte: reader.time("start_time_gte"),
        start_time_lte: reader.time("start_time_lte"),
        result_code_gte: reader.number("result_code_gte"),
        result_code_lte: reader.number("result_code_lte"),
        result_msg: reader.text("result_msg"),
        states: reader.numbers("state"),
        task_name: reader.text("task_name"),
        created_from: reader.text("created_from"),
        job: reader.number("job"),
        create_time_gte: reader.time("create_time_gte"),
        create_time_lte: reader.time("create_time_lte"),
        end_time_gte: reader.time("end_time_gte"),
        end_time_lte: reader.time("end_time_lte"),
    };
    reader.finish()?;
    Ok(filter)
}
