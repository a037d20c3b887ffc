//! The task-management endpoints: `scans/create/`, the job list, job detail, cancel, and
//! codepup's additions (line counts by language, task and job logs).

use std::collections::hash_map::{Entry, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::json;

use crate::api::blocking;
use crate::api::query::{paginated, FilterReader, Query};
use crate::api::{job_scope, project_at, project_scope, require, views, JobScope, Links};
use crate::auth::{Caller, Token};
use crate::body::Body;
use crate::clock;
use crate::db;
use crate::db::jobs::{JobFilter, NewJob};
use crate::domain::ids::{JobId, ProjectId, RepoId, ScanId, TaskId};
use crate::domain::job::{code, JobState, Task};
use crate::domain::org::{Org, Team};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::user::User;
use crate::envelope;
use crate::error::AppError;
use crate::scan::{Cancelled, ScanQueue};
use crate::AppState;

/// The largest piece of a log one answer carries; clients continue with `offset`.
const LOG_CHUNK: u64 = 1024 * 1024;

type ProjectPath = web::Path<crate::api::ProjectPath>;
type JobPath = web::Path<crate::api::JobPath>;

/// Starts a scan (TCA §4). With `async_flag=false` the answer waits, without holding a thread,
/// until the job is CLOSED; a client that hangs up does not stop the job.
pub async fn create_scan(
    state: web::Data<AppState>,
    token: Token,
    path: ProjectPath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id) = path.into_inner();
    let (job_id, scan_id, async_flag) = blocking::run(&state.pool, move |conn| {
        // Authenticated in the same blocking call as the work (one thread hop, not two), before
        // anything else, so a bad key is still the first refusal.
        let caller = token.authenticate(conn)?;
        let target = ScanTarget {
            org_sid,
            team_name,
            repo_id: RepoId(repo_id),
            project_id: ProjectId(project_id),
        };
        insert_scan(conn, &caller, &target, body)
    })
    .await?;
    if async_flag {
        state.queue.job_added();
        return Ok(envelope::ok(
            json!({"job": {"id": job_id}, "scan": {"id": scan_id}}),
        ));
    }
    // Watch before the workers can see the job, so its close cannot be missed.
    let closed = state.queue.watch(job_id);
    state.queue.job_added();
    let job = wait_until_closed(&state, job_id, closed).await?;
    Ok(envelope::ok(json!({
        "job": {"id": job_id, "state": job.state, "result_code": job.result_code,
                "result_msg": job.result_msg, "gate": job.gate},
        "scan": {"id": scan_id},
    })))
}

/// The project a `scans/create` URL names.
struct ScanTarget {
    org_sid: String,
    team_name: String,
    repo_id: RepoId,
    project_id: ProjectId,
}

/// What a `scans/create` body asks for, with TCA's defaults.
struct ScanRequest {
    incr_scan: bool,
    force_create: bool,
    async_flag: bool,
    created_from: String,
}

/// Checks the caller may scan the project, reads the body and inserts the WAITING job and its
/// scan row: the job id, the scan id and whether the client waits.
fn insert_scan(
    conn: &mut Connection,
    caller: &User,
    target: &ScanTarget,
    body: Body,
) -> Result<(JobId, ScanId, bool), AppError> {
    // The checks run inside the write transaction, so a project deleted meanwhile either
    // sees this job among the ones it cancels or refuses it with 404.
    let tx = db::begin(conn)?;
    let (_, _, _, project, access) = project_scope(
        &tx,
        caller,
        &target.org_sid,
        &target.team_name,
        target.repo_id,
        target.project_id,
    )?;
    require(access.can_start_scan())?;
    let request = read_scan_request(body)?;
    if !request.force_create {
        refuse_unfinished(&tx, &project)?;
    }
    let new_job = NewJob {
        incr_scan: request.incr_scan,
        force_create: request.force_create,
        async_flag: request.async_flag,
        created_from: &request.created_from,
        creator: &caller.nickname,
        creator_id: caller.id,
    };
    let (job_id, scan_id) = db::jobs::insert(&tx, project.id, &new_job)?;
    tx.commit()?;
    Ok((job_id, scan_id, request.async_flag))
}

/// Reads a `scans/create` body (400 on a bad field).
fn read_scan_request(body: Body) -> Result<ScanRequest, AppError> {
    let body = body.fields()?;
    let mut fields = body.reader();
    // TCA reads a boolean missing from a form as false (the HTML checkbox rule); from JSON
    // or an empty body, a missing incr_scan means incremental.
    let missing = |name: &str| {
        if body.is_form() && !body.has(name) {
            Some(false)
        } else {
            None
        }
    };
    let incr_scan = fields
        .optional_bool("incr_scan")
        .or(missing("incr_scan"))
        .unwrap_or(true);
    let force_create = fields.optional_bool("force_create").unwrap_or(false);
    // TCA ignores async_flag; codepup honours it, and a form without it stays asynchronous.
    let async_flag = fields.optional_bool("async_flag").unwrap_or(true);
    let created_from = fields
        .optional_non_blank_str("created_from", 32)
        .unwrap_or_else(|| "tca_web".to_string());
    fields.finish()?;
    Ok(ScanRequest {
        incr_scan,
        force_create,
        async_flag,
        created_from,
    })
}

/// TCA's refusal of a scan while the project's branch has unfinished jobs (without
/// `force_create`).
fn refuse_unfinished(conn: &Connection, project: &Project) -> Result<(), AppError> {
    let unfinished = db::jobs::unfinished_scan_ids(conn, project.id)?;
    if unfinished.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = unfinished
        .iter()
        .map(|id| id.map_or("None".to_string(), |id| id.to_string()))
        .collect();
    Err(AppError::business(
        code::E_CLIENT,
        format!(
            "当前项目分支[{}]{}还有未完成任务，编号为: [{}]",
            project.id,
            project.branch,
            ids.join(", ")
        ),
    ))
}

async fn wait_until_closed(
    state: &web::Data<AppState>,
    job_id: JobId,
    closed: tokio::sync::oneshot::Receiver<()>,
) -> Result<crate::domain::job::Job, AppError> {
    let job = read_job(state, job_id).await?;
    if job.state == JobState::Closed {
        return Ok(job);
    }
    if closed.await.is_err() {
        return Err(AppError::Unavailable(format!(
            "the server is stopping; job {job_id} goes on after the restart"
        )));
    }
    read_job(state, job_id).await
}

async fn read_job(
    state: &web::Data<AppState>,
    job_id: JobId,
) -> Result<crate::domain::job::Job, AppError> {
    blocking::run(&state.pool, move |conn| {
        db::jobs::get(conn, job_id)?.ok_or_else(|| AppError::not_found(format!("job {job_id}")))
    })
    .await
}

/// The project's jobs, newest first, with TCA's filters (§5.3) and pagination.
pub async fn list_jobs(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, jobs) = blocking::run(&state.pool, move |conn| {
        let (_, _, _, project, _) = project_at(conn, &caller, &path)?;
        let filter = read_job_filter(&query, tz, JobFilters::Project)?;
        let page = query.page()?;
        let (count, jobs) = db::jobs::list(
            conn,
            &db::jobs::JobScope::Project(project.id),
            &filter,
            page.limit,
            page.offset,
        )?;
        Ok((query, page, count, jobs))
    })
    .await?;
    let results = jobs.iter().map(views::job_item).collect();
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// Recent jobs of every project the caller may see, newest first, with the project job list's
/// filters and pagination; each says where it belongs and what the caller may do with it.
pub async fn list_recent_jobs(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let page = query.page()?;
    let tz = state.config.tz_offset;
    let (query, count, jobs) = blocking::run(&state.pool, move |conn| {
        let filter = read_job_filter(&query, tz, JobFilters::Project)?;
        let (count, jobs) =
            db::jobs::list_visible(conn, &caller, &filter, page.limit, page.offset)?;
        Ok((query, count, jobs))
    })
    .await?;
    let results = jobs
        .iter()
        .map(|job| views::job_overview(job, tz))
        .collect();
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// Queue health over the projects the caller may see: waiting and running jobs, jobs closed in
/// the last 24 hours and how many failed, the oldest waiting job's age.
pub async fn get_queue_summary(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let now = clock::now_stored();
    let since = clock::to_stored(time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let health = blocking::run(&state.pool, move |conn| {
        Ok(db::jobs::queue_health(conn, &caller, &since)?)
    })
    .await?;
    let tools = views::tool_confinement(state.queue.confinement());
    Ok(envelope::ok(views::queue_health(&health, &now, tools)))
}

/// Which of TCA's job filter sets a list takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobFilters {
    /// `JobFilterSetV3`, the project job list's (and codepup's cross-project list).
    Project,
    /// `JobFilterSet`, the admin job list's: also `repo`, `end_time_gte`/`_lte` and `scm_url`.
    Admin,
}

/// Reads the job filters of `filters` from the query, in the order TCA's filter set declares
/// them (so `msg` names the same bad field). The other set's parameters are ignored, as TCA
/// ignores unknown ones.
pub(crate) fn read_job_filter(
    query: &Query,
    tz: time::UtcOffset,
    filters: JobFilters,
) -> Result<JobFilter, AppError> {
    let admin = filters == JobFilters::Admin;
    let mut reader = FilterReader::new(query, tz);
    let filter = JobFilter {
        repo: admin.then(|| reader.number("repo")).flatten(),
        project: reader.number("project"),
        create_time_gte: reader.time("create_time_gte"),
        create_time_lte: reader.time("create_time_lte"),
        end_time_gte: admin.then(|| reader.time("end_time_gte")).flatten(),
        end_time_lte: admin.then(|| reader.time("end_time_lte")).flatten(),
        result_code_gte: reader.number("result_code_gte"),
        result_code_lte: reader.number("result_code_lte"),
        result_msg: reader.text("result_msg"),
        states: reader.numbers("state"),
        created_from: reader.text("created_from"),
        creator: reader.text("creator"),
        scm_url: admin.then(|| reader.text("scm_url")).flatten(),
    };
    reader.finish()?;
    Ok(filter)
}

/// One job with its tasks (TCA §6, plus the seed's `co_jobs`, `result_path`, `tasks[].result_path`).
pub async fn get_job_detail(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let detail = blocking::run(&state.pool, move |conn| {
        let JobScope {
            job,
            org,
            team,
            repo,
            project,
            ..
        } = job_scope(conn, &caller, &path)?;
        let tasks = db::tasks::list_for_job(conn, job.id)?;
        Ok(views::job_detail(
            &job, &tasks, &project, &repo, &team, &org, tz,
        ))
    })
    .await?;
    Ok(envelope::ok(detail))
}

/// One job as TCA's scan-detail page reads it (`.../jobs/<id>/`, TCA's
/// `ProjectJobDetailSerializer`), each task with its log's URL.
pub async fn get_project_job(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let links = Links::new(&request);
    let detail = blocking::run(&state.pool, move |conn| {
        let JobScope {
            job, repo, project, ..
        } = job_scope(conn, &caller, &path)?;
        let tasks = db::tasks::list_for_job(conn, job.id)?
            .into_iter()
            .map(|task| {
                let context = views::TaskContext {
                    log_url: links.task_log(&path.0, &path.1, project.repo_id, project.id, &task),
                    is_superuser: caller.is_superuser,
                };
                (task, context)
            })
            .collect::<Vec<_>>();
        let limit = db::schemes::get(conn, project.scheme_id)?.map(|s| s.job_runtime_limit);
        let expected_end_time = expected_end(&job, limit);
        Ok(views::project_job_detail(
            &job,
            &tasks,
            &project,
            &repo,
            expected_end_time.as_deref(),
            tz,
        ))
    })
    .await?;
    Ok(envelope::ok(detail))
}

/// When the scheme's `job_runtime_limit` (minutes, counted from the moment a worker took the
/// job) runs out, in stored form; `None` before a worker took it.
fn expected_end(job: &crate::domain::job::Job, limit_minutes: Option<i64>) -> Option<String> {
    let claimed = clock::from_stored(job.claim_time.as_deref()?)?;
    Some(clock::to_stored(
        claimed + time::Duration::minutes(limit_minutes?),
    ))
}

/// Cancels an unfinished job (any team member): revoke with 301, tools killed.
pub async fn cancel_job(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let queue = state.queue.clone();
    let outcome = blocking::run(&state.pool, move |conn| {
        let JobScope { job, .. } = job_scope(conn, &caller, &path)?;
        cancel_as(&queue, conn, &caller, job.id, body)
    })
    .await?;
    Ok(cancelled(outcome))
}

/// Cancels `job_id` for `caller` once the checks passed: reads the body (`remarks?`, `force?`,
/// which TCA accepts and ignores) and revokes through `ScanQueue::cancel`.
fn cancel_as(
    queue: &ScanQueue,
    conn: &mut Connection,
    caller: &User,
    job_id: JobId,
    body: Body,
) -> Result<Cancelled, AppError> {
    let body = body.fields()?;
    let mut fields = body.reader();
    let remarks = fields.optional_str("remarks", 512).unwrap_or_default();
    fields.optional_bool("force");
    fields.finish()?;
    Ok(queue.cancel(conn, job_id, &caller.nickname, caller.id, &remarks)?)
}

fn cancelled(outcome: Cancelled) -> HttpResponse {
    let msg = match outcome {
        Cancelled::Now => "取消成功",
        Cancelled::AlreadyClosed => "任务已结束，无需取消",
    };
    envelope::ok(json!({"msg": msg}))
}

/// Every job, newest first, for the superuser's admin pages (TCA's `v2/jobs/`, `JobListApiView`:
/// `JobSerializer`, `JobFilterSet`, `IsAdminUser`).
pub async fn list_all_jobs(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        require(caller.is_superuser)?;
        let filter = read_job_filter(&query, tz, JobFilters::Admin)?;
        let page = query.page()?;
        let (count, jobs) = db::jobs::list(
            conn,
            &db::jobs::JobScope::All,
            &filter,
            page.limit,
            page.offset,
        )?;
        let job_ids: Vec<JobId> = jobs.iter().map(|job| job.id).collect();
        let mut tasks: HashMap<JobId, Vec<Task>> = HashMap::new();
        for task in db::tasks::list_for_jobs(conn, &job_ids)? {
            tasks.entry(task.job_id).or_default().push(task);
        }
        let mut places = HashMap::new();
        let mut results = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let (project, repo, team, org) = match places.entry(job.project_id) {
                Entry::Occupied(place) => place.into_mut(),
                Entry::Vacant(slot) => slot.insert(place_of(conn, job.project_id)?),
            };
            let job_tasks = tasks.get(&job.id).map_or(&[][..], Vec::as_slice);
            results.push(views::admin_job(
                job, job_tasks, project, repo, team, org, tz,
            ));
        }
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// A project with its repository, team and org, whatever their state (the admin pages show
/// jobs of deleted projects too).
fn place_of(
    conn: &Connection,
    project_id: ProjectId,
) -> Result<(Project, Repo, Team, Org), AppError> {
    let missing = |what: String| AppError::Internal(anyhow::anyhow!("{what} of a job is missing"));
    let project = db::projects::get_by_id(conn, project_id)?
        .ok_or_else(|| missing(format!("project {project_id}")))?;
    let repo = db::repos::get_by_id(conn, project.repo_id)?
        .ok_or_else(|| missing(format!("repo {}", project.repo_id)))?;
    let team = db::teams::get_by_id(conn, repo.team_id)?
        .ok_or_else(|| missing(format!("team {}", repo.team_id)))?;
    let org = db::orgs::get_by_sid(conn, &team.org_sid)?
        .ok_or_else(|| missing(format!("org {}", team.org_sid)))?;
    Ok((project, repo, team, org))
}

/// Cancels a job named by id alone (TCA's `v2/jobs/<id>/cancel/`, `JobUserPermission`): 404 for
/// a missing job, then the superuser or whoever may see its project (a member of its team, an
/// admin of its org).
pub async fn cancel_any_job(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<i64>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let job_id = JobId(path.into_inner());
    let queue = state.queue.clone();
    let outcome = blocking::run(&state.pool, move |conn| {
        let job = db::jobs::get(conn, job_id)?
            .ok_or_else(|| AppError::not_found(format!("job {job_id}")))?;
        require(
            caller.is_superuser || db::access::can_see_project(conn, &caller, job.project_id)?,
        )?;
        cancel_as(&queue, conn, &caller, job.id, body)
    })
    .await?;
    Ok(cancelled(outcome))
}

/// The job's line counts with the per-language breakdown.
pub async fn get_job_codecount(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let counts = blocking::run(&state.pool, move |conn| {
        let JobScope { job, .. } = job_scope(conn, &caller, &path)?;
        let languages = db::jobs::languages(conn, job.id)?;
        Ok(views::codecount(&job, &languages))
    })
    .await?;
    Ok(envelope::ok(counts))
}

/// A task's log as plain text; `?offset=N` answers only the bytes after N, so a client can tail
/// a running task. `X-Log-Size` gives the whole log's size.
pub async fn get_task_log(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id, job_id, task_id) = path.into_inner();
    let path = (org_sid, team_name, repo_id, project_id, job_id);
    let offset = log_offset(&request);
    let queue = state.queue.clone();
    let (log_path, offset) = blocking::run(&state.pool, move |conn| {
        let JobScope { job, .. } = job_scope(conn, &caller, &path)?;
        let tasks = db::tasks::list_for_job(conn, job.id)?;
        if !tasks.iter().any(|task| task.id == TaskId(task_id)) {
            return Err(AppError::not_found(format!("task {task_id}")));
        }
        Ok((queue.task_log_path(job.id, TaskId(task_id)), offset?))
    })
    .await?;
    serve_log(log_path, offset).await
}

/// The job's own log (source, revision, baseline, file counts), served like a task log.
pub async fn get_job_log(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let offset = log_offset(&request);
    let queue = state.queue.clone();
    let (log_path, offset) = blocking::run(&state.pool, move |conn| {
        let JobScope { job, .. } = job_scope(conn, &caller, &path)?;
        Ok((queue.job_log_path(job.id), offset?))
    })
    .await?;
    serve_log(log_path, offset).await
}

fn log_offset(request: &HttpRequest) -> Result<u64, AppError> {
    let query = Query::from_request(request);
    match query.get("offset") {
        None => Ok(0),
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| AppError::invalid("offset", "A valid non-negative integer is required.")),
    }
}

async fn serve_log(path: PathBuf, offset: u64) -> Result<HttpResponse, AppError> {
    let (size, bytes) = web::block(move || -> std::io::Result<(u64, Vec<u8>)> {
        let mut file = match File::open(&path) {
            Ok(file) => file,
            // A task that has not started has no log yet: an empty one.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok((0, Vec::new()))
            }
            Err(error) => return Err(error),
        };
        let size = file.metadata()?.len();
        let mut bytes = Vec::new();
        if offset < size {
            file.seek(SeekFrom::Start(offset))?;
            file.take(LOG_CHUNK).read_to_end(&mut bytes)?;
        }
        Ok((size, bytes))
    })
    .await?
    .map_err(|error| AppError::Internal(anyhow::Error::new(error).context("reading a log")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header(("X-Log-Size", size.to_string()))
        .insert_header((
            "X-Log-Next-Offset",
            (offset.min(size) + bytes.len() as u64).to_string(),
        ))
        .body(bytes))
}

/// The job list's filters never panic on any query string (issue 8, hole 4), and a time filter
/// that is accepted is stored in the fixed-width form the SQL compares.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?([-+Z].{0,5})?",
            "[-+0-9., eEnNaAiIfF]{0,12}",
        ]
    }

    proptest! {
        // A failure becomes a named unit test, not a seed file in the repository.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn no_query_string_makes_the_job_filter_panic(
            key in prop::sample::select(vec![
                "repo",
                "project",
                "create_time_gte",
                "create_time_lte",
                "end_time_gte",
                "end_time_lte",
                "result_code_gte",
                "result_code_lte",
                "state",
                "creator",
                "scm_url",
            ]),
            value in value(),
            tz_minutes in -1439..=1439i32,
        ) {
            let tz = time::UtcOffset::from_whole_seconds(tz_minutes * 60).expect("within a day");
            let encoded = serde_urlencoded::to_string([(key, &value)]).expect("strings encode");
            match read_job_filter(&Query::parse(&encoded), tz, JobFilters::Admin) {
                Ok(filter) => {
                    let times = [
                        filter.create_time_gte,
                        filter.create_time_lte,
                        filter.end_time_gte,
                        filter.end_time_lte,
                    ];
                    for stored in times.into_iter().flatten() {
                        prop_assert!(clock::from_stored(&stored).is_some(), "{}", stored);
                    }
                }
                Err(AppError::InvalidInput(errors)) => {
                    prop_assert_eq!(errors.len(), 1);
                    prop_assert_eq!(errors[0].field.as_str(), key);
                }
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }
    }
}
