//! Tasks: one task with its progress steps (`.../jobs/<id>/tasks/<id>/`, TCA's scan-detail
//! page) and the superuser's list of every task (`v2/jobs/tasks/`).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::{job_scope, require, views, JobScope, Links};
use crate::auth::Caller;
use crate::db;
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
    let tz = state.config.tz_offset;
    let links = Links::new(&request);
    let detail = db::run(&state.pool, move |conn| {
        let JobScope {
            job,
            project,
            access,
            ..
        } = job_scope(
            conn, &caller, &org_sid, &team_name, repo_id, project_id, job_id,
        )?;
        let task = db::tasks::get(conn, job.id, TaskId(task_id))?
            .ok_or_else(|| AppError::not_found(format!("task {task_id}")))?;
        require(access.can_view_team())?;
        let steps = db::tasks::progresses(conn, task.id)?;
        let context = views::TaskContext {
            log_url: links.task_log(&org_sid, &team_name, &project, &task),
            is_superuser: caller.is_superuser,
        };
        Ok(views::task_detail(&task, &steps, &context, tz))
    })
    .await?;
    Ok(envelope::ok(detail))
}
