//! The JSON shapes of records, in TCA's field order. Times are shown in the configured offset.

use serde_json::{json, Value};
use time::UtcOffset;

use crate::clock;
use crate::db::findings::{IssueTally, Sighting, StoredIssue};
use crate::db::triage::Comment;
use crate::domain::job::{
    result_code_msg, Job, JobOverview, JobState, LanguageCount, QueueHealth, Scan, Task,
    TaskProgress,
};
use crate::domain::org::{Members, Org, Team};
use crate::domain::project::{Project, ProjectPlace};
use crate::domain::repo::{Repo, RepoStats};
use crate::domain::scheme::Scheme;
use crate::domain::user::User;

fn time(stored: &str, tz: UtcOffset) -> Value {
    clock::display(stored, tz).map_or(Value::Null, Value::String)
}

pub fn user(user: &User) -> Value {
    json!({
        "username": user.username,
        "nickname": user.nickname,
        "is_superuser": user.is_superuser,
        "status": if user.is_active { 1 } else { 2 },
    })
}

/// A user as nested in other records (TCA's `creator` object).
pub fn user_brief(user: &User) -> Value {
    json!({
        "username": user.username,
        "nickname": user.nickname,
        "status": if user.is_active { 1 } else { 2 },
        "avatar": null,
        "latest_login_time": null,
        "org": null,
    })
}

pub fn members(members: &Members) -> Value {
    json!({
        "admins": members.admins.iter().map(user).collect::<Vec<_>>(),
        "users": members.users.iter().map(user).collect::<Vec<_>>(),
    })
}

pub fn org(org: &Org, tz: UtcOffset) -> Value {
    json!({
        "id": org.id,
        "org_sid": org.org_sid,
        "name": org.name,
        "description": org.description,
        "status": org.status,
        "level": org.level,
        "certificated": org.certificated,
        "owner": org.owner,
        "created_time": time(&org.created_time, tz),
    })
}

pub fn team(team: &Team, tz: UtcOffset) -> Value {
    json!({
        "id": team.id,
        "name": team.name,
        "display_name": team.display_name,
        "description": team.description,
        "status": team.status,
        "org_sid": team.org_sid,
        "created_time": time(&team.created_time, tz),
    })
}

/// TCA's `project_team` object nested in repositories and jobs.
pub fn team_brief(team: &Team) -> Value {
    json!({
        "name": team.name,
        "display_name": team.display_name,
        "status": team.status,
        "org_sid": team.org_sid,
    })
}

/// A repository with the fields of TCA's repo list and detail (§9.2).
pub fn repo(
    repo: &Repo,
    stats: &RepoStats,
    creator: Option<&User>,
    team: &Team,
    tz: UtcOffset,
) -> Value {
    let recent_active = stats.recent_active.as_ref().map(|recent| {
        json!({
            "id": recent.project_id,
            "branch_name": recent.branch_name,
            "active_time": recent.active_time.as_deref().map_or(Value::Null, |at| time(at, tz)),
            "total_line_num": recent.total_line_num,
            "code_line_num": recent.code_line_num,
        })
    });
    json!({
        "id": repo.id,
        "name": repo.name,
        "scm_url": repo.scm_url,
        "scm_type": repo.scm_type,
        "branch_count": stats.branch_count,
        "scheme_count": stats.scheme_count,
        "job_count": stats.job_count,
        "created_time": time(&repo.created_time, tz),
        "recent_active": recent_active,
        "created_from": repo.created_from,
        "creator": creator.map(user_brief),
        "scm_auth": null,
        "project_team": team_brief(team),
        "ssh_url": repo.ssh_url,
    })
}

pub fn scheme(scheme: &Scheme, tz: UtcOffset) -> Value {
    json!({
        "id": scheme.id,
        "name": scheme.name,
        "description": scheme.description,
        "repo": scheme.repo_id,
        "refer_scheme": scheme.refer_scheme_id,
        "languages": scheme.languages,
        "tag": null,
        "default_flag": scheme.default_flag,
        "status": scheme.status,
        "created_from": scheme.created_from,
        "lint_enabled": scheme.lint_enabled,
        "cc_scan_enabled": scheme.cc_scan_enabled,
        "min_ccn": scheme.min_ccn,
        "dup_scan_enabled": scheme.dup_scan_enabled,
        "cloc_scan_enabled": scheme.cloc_scan_enabled,
        "tools": scheme.tools,
        "job_runtime_limit": scheme.job_runtime_limit,
        "blame_enabled": scheme.blame_enabled,
        "gate_max_new_errors": scheme.gate.max_new_errors,
        "gate_no_new_secrets": scheme.gate.no_new_secrets,
        "gate_max_new_complex": scheme.gate.max_new_complex,
        "gate_max_dup_rate": scheme.gate.max_dup_rate,
        "created_time": time(&scheme.created_time, tz),
    })
}

/// A scheme's quality-gate thresholds (`schemes/<id>/gateconf/`), as the scheme shows them.
pub fn gate_conf(scheme: &Scheme) -> Value {
    let full = self::scheme(scheme, UtcOffset::UTC);
    let mut conf = serde_json::Map::new();
    conf.insert("scan_scheme".into(), json!(scheme.id));
    conf.insert("min_ccn".into(), json!(scheme.min_ccn));
    for (key, value) in full.as_object().expect("a scheme is an object") {
        if key.starts_with("gate_") {
            conf.insert(key.clone(), value.clone());
        }
    }
    Value::Object(conf)
}

/// A project with its repository and scheme nested (TCA's `ProjectSerializer`,
/// `server/projects/main/apps/codeproj/serializers/base.py`, on `CDBaseModelSerializer`:
/// `creator` a user object, `created_time` Python's text of the datetime, and `project_key`).
pub fn project(project: &Project, nested: ProjectNested<'_>, tz: UtcOffset) -> Value {
    json!({
        "id": project.id,
        "branch": project.branch,
        "repo": nested.repo,
        "scan_scheme": nested.scheme,
        "scan_path": project.scan_path,
        "status": project.status,
        "created_from": project.created_from,
        "creator": nested.creator.map(user_brief),
        "project_key": crate::domain::project::project_key(
            project.repo_id,
            project.scheme_id,
            &project.branch,
            &project.scan_path,
        ),
        "scm_initial_revision": project.scm_initial_revision,
        "created_time": clock::display_str(&project.created_time, tz),
    })
}

/// What a project record nests: its repository and scheme (already shown) and its creator.
pub struct ProjectNested<'a> {
    pub repo: &'a Value,
    pub scheme: &'a Value,
    pub creator: Option<&'a User>,
}

/// A job in the job list (TCA's `JobCodeLineSerializer`).
pub fn job_item(job: &Job) -> Value {
    json!({
        "id": job.id,
        "state": job.state,
        "result_code": job.result_code,
        "result_msg": job.result_msg,
        "code_line_num": job.lines.code,
        "comment_line_num": job.lines.comment,
        "blank_line_num": job.lines.blank,
        "total_line_num": job.lines.total,
        "efficient_comment_line_num": null,
        "filtered_efficient_comment_line_num": null,
    })
}

fn duration(from: Option<&str>, to: &str) -> Option<i64> {
    clock::micros_between(from?, to)
}

/// Waiting, execution and save durations in microseconds (TCA §6.3); "now" is truncated to
/// whole seconds.
fn durations(job: &Job) -> (Option<i64>, Option<i64>, Option<i64>) {
    let now = clock::now_stored_whole_seconds();
    let waiting = match (&job.start_time, &job.expire_time) {
        (Some(start), _) => duration(Some(&job.create_time), start).map(|m| m.max(0)),
        (None, Some(expire)) => duration(Some(&job.create_time), expire),
        (None, None) => duration(Some(&job.create_time), &now),
    };
    let execute =
        job.start_time
            .as_deref()
            .and_then(|start| match (&job.end_time, &job.expire_time) {
                (Some(end), _) => duration(Some(start), end),
                (None, Some(expire)) => duration(Some(start), expire),
                (None, None) => duration(Some(start), &now).map(|m| m.max(0)),
            });
    let save = job
        .closing_time
        .as_deref()
        .and_then(|closing| match &job.end_time {
            Some(end) => duration(Some(closing), end),
            None => duration(Some(closing), &now),
        });
    (waiting, execute, save)
}

/// A duration as DRF's `DurationField` writes it (Django's `duration_string`): `HH:MM:SS`, with
/// `.ffffff` when there are microseconds and `D ` in front when there are days. A negative one
/// reads as Python's timedelta normalises it: `-1 23:59:59.600000` is minus 0.4 seconds.
pub fn drf_duration(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (seconds, fraction) = (rest / 1_000_000, rest % 1_000_000);
    let mut text = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if days != 0 {
        text = format!("{days} {text}");
    }
    if fraction != 0 {
        text.push_str(&format!(".{fraction:06}"));
    }
    text
}

/// A task's waiting and execution times in microseconds (TCA's `TaskRunTime`): waiting runs from
/// creation to the start (or the end, or now), never below zero; execution from the start to
/// the end (or now), null before the start.
fn task_durations(task: &Task) -> (Option<i64>, Option<i64>) {
    let now = clock::now_stored_whole_seconds();
    let waiting = match (&task.start_time, &task.end_time) {
        (Some(start), _) => duration(Some(&task.create_time), start),
        (None, Some(end)) => duration(Some(&task.create_time), end),
        (None, None) => duration(Some(&task.create_time), &now),
    }
    .map(|micros| micros.max(0));
    let execute = task
        .start_time
        .as_deref()
        .and_then(|start| match &task.end_time {
            Some(end) => duration(Some(start), end),
            None => duration(Some(start), &now).map(|micros| micros.max(0)),
        });
    (waiting, execute)
}

/// TCA's `OnlySuperAdminReadField`: a staff user sees the value, anyone else `""`; null stays
/// null.
fn staff_only(value: Option<&str>, is_superuser: bool) -> Value {
    match value {
        None => Value::Null,
        Some(text) if is_superuser => json!(text),
        Some(_) => json!(""),
    }
}

/// What a task view needs besides the task: its log's URL and whether the reader is staff.
pub struct TaskContext {
    pub log_url: String,
    pub is_superuser: bool,
}

/// The fields TCA's `ProjectTaskBriefSerializer` and `TaskDetailSerializer` share, in their
/// order, with `extra` (name, value) pairs inserted after `node`. codepup's tasks run on the
/// server's own workers: no node, exec tag, registration, heartbeat or process rows.
fn task_fields(
    task: &Task,
    context: &TaskContext,
    extra: Vec<(&str, Value)>,
    tz: UtcOffset,
) -> serde_json::Map<String, Value> {
    let (waiting, execute) = task_durations(task);
    let optional_time =
        |stored: &Option<String>| stored.as_deref().map_or(Value::Null, |t| time(t, tz));
    let mut fields = serde_json::Map::new();
    let mut put = |key: &str, value: Value| {
        fields.insert(key.to_string(), value);
    };
    put("id", json!(task.id));
    put("result_code_msg", json!(result_code_msg(task.result_code)));
    put("waiting_time", json!(waiting.map(drf_duration)));
    put("execute_time", json!(execute.map(drf_duration)));
    put("params_path", Value::Null);
    put(
        "result_path",
        staff_only(task.result_path.as_deref(), context.is_superuser),
    );
    put("task_name", json!(task.task_name));
    put("node", Value::Null);
    for (key, value) in extra {
        put(key, value);
    }
    put("module", json!(task.module));
    put("private", json!(false));
    put("result_code", json!(task.result_code));
    put("result_msg", json!(task.result_msg));
    put("create_version", json!(task.create_version));
    put("execute_version", json!(task.execute_version));
    put("start_time", optional_time(&task.start_time));
    put("end_time", optional_time(&task.end_time));
    put("state", json!(task.state));
    put("create_time", time(&task.create_time, tz));
    put("register_time", Value::Null);
    put("log_url", json!(context.log_url));
    put("last_beat_time", Value::Null);
    put("job", json!(task.job_id));
    fields
}

/// A task inside a job's `task_set` (TCA's `ProjectTaskBriefSerializer`).
pub fn task_brief(task: &Task, context: &TaskContext, tz: UtcOffset) -> Value {
    let mut fields = task_fields(task, context, Vec::new(), tz);
    fields.insert("tag".into(), Value::Null);
    fields.insert("processes".into(), json!([]));
    Value::Object(fields)
}

/// One task with its progress steps (TCA's `TaskDetailSerializer`).
pub fn task_detail(
    task: &Task,
    steps: &[TaskProgress],
    context: &TaskContext,
    tz: UtcOffset,
) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .map(|step| {
            json!({
                "id": step.id,
                "message": step.message,
                "create_time": time(&step.create_time, tz),
                "progress_rate": step.progress_rate,
                "task": step.task_id,
                "node": null,
            })
        })
        .collect();
    Value::Object(task_fields(
        task,
        context,
        vec![("taskprogress_set", json!(steps)), ("tag", Value::Null)],
        tz,
    ))
}

/// A job with its tasks as TCA's scan-detail page reads it (`ProjectJobDetailSerializer`: every
/// job column but `result_path`, durations as DRF durations). `tasks` pairs each task with its
/// context; `expected_end_time` is when the job's time limit revokes it (stored form).
pub fn project_job_detail(
    job: &Job,
    tasks: &[(Task, TaskContext)],
    project: &Project,
    repo: &Repo,
    expected_end_time: Option<&str>,
    tz: UtcOffset,
) -> Value {
    let (waiting, execute, _) = durations(job);
    let optional_time =
        |stored: &Option<String>| stored.as_deref().map_or(Value::Null, |t| time(t, tz));
    let task_set: Vec<Value> = tasks
        .iter()
        .map(|(task, context)| task_brief(task, context, tz))
        .collect();
    json!({
        "id": job.id,
        "task_set": task_set,
        "result_code_msg": result_code_msg(job.result_code),
        "waiting_time": waiting.map(drf_duration),
        "execute_time": execute.map(drf_duration),
        "project": {
            "id": project.id,
            "branch": project.branch,
            "repo_id": repo.id,
            "scan_scheme": project.scheme_id,
            "repo_scm_url": repo.scm_url,
            "scan_path": project.scan_path,
        },
        "context_path": null,
        "scan_id": job.scan_id,
        "state": job.state,
        "initialized_time": optional_time(&job.initialized_time),
        "start_time": optional_time(&job.start_time),
        "closing_time": optional_time(&job.closing_time),
        "end_time": optional_time(&job.end_time),
        "expire_time": optional_time(&job.expire_time),
        "last_beat_time": null,
        "result_code": job.result_code,
        "result_msg": job.result_msg,
        "create_time": time(&job.create_time, tz),
        "expected_end_time": expected_end_time.map_or(Value::Null, |t| time(t, tz)),
        "task_num": job.task_num,
        "task_done": job.task_done,
        "remarks": job.remarks,
        "code_line_num": job.lines.code,
        "comment_line_num": job.lines.comment,
        "blank_line_num": job.lines.blank,
        "total_line_num": job.lines.total,
        "filtered_code_line_num": null,
        "filtered_comment_line_num": null,
        "filtered_blank_line_num": null,
        "filtered_total_line_num": null,
        "efficient_comment_line_num": null,
        "filtered_efficient_comment_line_num": null,
        "created_from": job.created_from,
        "async_flag": job.async_flag,
        "client_flag": false,
        "creator": job.creator,
        "ext_field": null,
        "archived": null,
        "remarked_by": job.remarked_by,
        "gate": job.gate,
    })
}

/// A scan of the history, as TCA's analysis server serializes it (`ScanSerializer`). `scan_time`
/// is when the scan started running (null while it waits); durations are float seconds, as
/// TCA's JSON encoder writes a timedelta; `result_code` is null until the job is closed. The
/// per-module summaries (`lintscan`, `clocscan`, ...) are null: codepup serves findings and
/// line counts on their own routes.
pub fn scan(scan: &Scan, repo: &Repo, tz: UtcOffset) -> Value {
    let job = &scan.job;
    let now = clock::now_stored_whole_seconds();
    let is_closed = job.state == JobState::Closed;
    // Waiting ends when the scan starts, or when a job closed before it started.
    let waiting_until = job.start_time.as_deref().or(job.end_time.as_deref());
    let waiting = duration(Some(&job.create_time), waiting_until.unwrap_or(&now));
    let execute = job
        .start_time
        .as_deref()
        .and_then(|start| duration(Some(start), job.end_time.as_deref().unwrap_or(&now)));
    let total = waiting.map(|waiting| waiting + execute.unwrap_or(0));
    let state = match job.state {
        JobState::Running => 1,
        JobState::Closed => 2,
        JobState::Closing => 3,
        _ => 0,
    };
    let result_code = job.result_code.filter(|_| is_closed);
    let result_msg = job.result_msg.as_deref().filter(|_| is_closed);
    json!({
        "id": scan.id,
        "repo_id": repo.id,
        "project_id": job.project_id,
        "job_gid": job.id,
        "scan_time": job.start_time.as_deref().map_or(Value::Null, |t| time(t, tz)),
        "state": state,
        "type": scan.scan_type,
        "current_revision": scan.revision,
        "result_code": result_code,
        "result_msg": result_msg,
        "create_time": time(&scan.create_time, tz),
        "creator": job.creator,
        "execute_time": execute.map(clock::seconds_text),
        "waiting_time": waiting.map(clock::seconds_text),
        "total_time": total.map(clock::seconds_text),
        "status": result_code,
        "text": result_code_msg(result_code),
        "url": "",
        "description": result_msg,
        "lintscan": null,
        "duplicatescan": null,
        "cyclomaticcomplexityscan": null,
        "clocscan": null,
        "result_code_msg": result_code_msg(result_code),
        "daily_save": false,
        "job_archived": null,
    })
}

/// A job's detail (TCA's `JobSerializerV3`, with every key of the seed and of TCA's code).
/// Durations follow TCA §6.3; "now" is truncated to whole seconds.
pub fn job_detail(
    job: &Job,
    tasks: &[Task],
    project: &Project,
    repo: &Repo,
    team: &Team,
    org: &Org,
    tz: UtcOffset,
) -> Value {
    let (waiting, execute, save) = durations(job);
    let optional_time =
        |stored: &Option<String>| stored.as_deref().map_or(Value::Null, |t| time(t, tz));
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|task| {
            json!({
                "id": task.id,
                "module": task.module,
                "task_name": task.task_name,
                "progress_rate": task.progress_rate,
                "state": task.state,
                "result_code": task.result_code,
                "result_msg": task.result_msg,
                "result_path": task.result_path,
            })
        })
        .collect();
    json!({
        "id": job.id,
        "scan_id": job.scan_id,
        "create_time": time(&job.create_time, tz),
        "waiting_time": waiting.map(clock::seconds_text),
        "start_time": optional_time(&job.start_time),
        "execute_time": execute.map(clock::seconds_text),
        "save_time": save.map(clock::seconds_text),
        "project": {
            "id": project.id,
            "branch": project.branch,
            "repo_id": repo.id,
            "scan_scheme": project.scheme_id,
            "repo_scm_url": repo.scm_url,
            "organization": {
                "org_sid": org.org_sid,
                "name": org.name,
                "certificated": org.certificated,
                "status": org.status,
                "level": org.level,
            },
            "project_team": team_brief(team),
        },
        "end_time": optional_time(&job.end_time),
        "expire_time": optional_time(&job.expire_time),
        "task_num": job.task_num,
        "task_done": job.task_done,
        "tasks": tasks,
        "co_jobs": [],
        "state": job.state,
        "result_code": job.result_code,
        "result_code_msg": result_code_msg(job.result_code),
        "result_msg": job.result_msg,
        "result_path": job.result_path,
        "remarks": job.remarks,
        "remarked_by": job.remarked_by,
        "code_line_num": job.lines.code,
        "comment_line_num": job.lines.comment,
        "blank_line_num": job.lines.blank,
        "total_line_num": job.lines.total,
        "created_from": job.created_from,
        "creator": job.creator,
        "gate": job.gate,
    })
}

/// A job in the admin job list (TCA's `JobSerializer`, apps/job/serializers/base.py): the
/// detail's fields without `co_jobs`, with `context_path` (null: codepup keeps no context file)
/// and the efficient-comment counts (null: not counted).
pub fn admin_job(
    job: &Job,
    tasks: &[Task],
    project: &Project,
    repo: &Repo,
    team: &Team,
    org: &Org,
    tz: UtcOffset,
) -> Value {
    let Value::Object(detail) = job_detail(job, tasks, project, repo, team, org, tz) else {
        unreachable!("job_detail is an object")
    };
    let mut fields = serde_json::Map::new();
    for (key, value) in detail {
        match key.as_str() {
            // TCA's admin serializer has neither; the gate is on the job's own details.
            "co_jobs" | "gate" => continue,
            "task_num" => {
                fields.insert("context_path".into(), Value::Null);
            }
            "created_from" => {
                fields.insert("efficient_comment_line_num".into(), Value::Null);
                fields.insert("filtered_efficient_comment_line_num".into(), Value::Null);
            }
            _ => {}
        }
        fields.insert(key, value);
    }
    Value::Object(fields)
}

/// A task in the admin task list (TCA's `TaskSerializer`, every column of the model): its
/// node, tags and process rows do not exist in codepup (null, empty).
pub fn admin_task(task: &Task, log_url: &str, tz: UtcOffset) -> Value {
    let optional_time =
        |stored: &Option<String>| stored.as_deref().map_or(Value::Null, |t| time(t, tz));
    json!({
        "id": task.id,
        "module": task.module,
        "task_name": task.task_name,
        "params_path": null,
        "private": false,
        "result_code": task.result_code,
        "result_msg": task.result_msg,
        "result_path": task.result_path,
        "create_version": task.create_version,
        "execute_version": task.execute_version,
        "start_time": optional_time(&task.start_time),
        "end_time": optional_time(&task.end_time),
        "state": task.state,
        "create_time": time(&task.create_time, tz),
        "register_time": null,
        "log_url": log_url,
        "progress_rate": task.progress_rate,
        "last_beat_time": null,
        "job": task.job_id,
        "tag": null,
        "node": null,
        "exec_tags": [],
        "processes": [],
    })
}

/// A job's line counts by language (codepup's addition).
pub fn codecount(job: &Job, languages: &[LanguageCount]) -> Value {
    let languages: Vec<Value> = languages
        .iter()
        .map(|language| {
            json!({
                "name": language.name,
                "files": language.files,
                "code_line_num": language.code,
                "comment_line_num": language.comment,
                "blank_line_num": language.blank,
                "total_line_num": language.code + language.comment + language.blank,
            })
        })
        .collect();
    json!({
        "job_id": job.id,
        "code_line_num": job.lines.code,
        "comment_line_num": job.lines.comment,
        "blank_line_num": job.lines.blank,
        "total_line_num": job.lines.total,
        "languages": languages,
    })
}

/// Where a project sits, with what the caller may do there (the status page's project list).
pub fn project_place(place: &ProjectPlace) -> Value {
    json!({
        "id": place.project_id,
        "branch": place.branch,
        "repo_id": place.repo_id,
        "repo_name": place.repo_name,
        "repo_scm_url": place.scm_url,
        "org_sid": place.org_sid,
        "team_name": place.team_name,
        "can_scan": place.access.can_start_scan(),
        "can_triage": place.access.can_triage(),
    })
}

/// A job in the cross-project list: the job list's fields, the detail's times and durations,
/// where it belongs, and whether the caller may cancel it or scan its project again.
pub fn job_overview(overview: &JobOverview, tz: UtcOffset) -> Value {
    let job = &overview.job;
    let place = &overview.place;
    let (waiting, execute, _) = durations(job);
    let optional_time =
        |stored: &Option<String>| stored.as_deref().map_or(Value::Null, |t| time(t, tz));
    json!({
        "id": job.id,
        "project": {
            "id": place.project_id,
            "branch": place.branch,
            "repo_id": place.repo_id,
            "repo_name": place.repo_name,
            "repo_scm_url": place.scm_url,
            "org_sid": place.org_sid,
            "team_name": place.team_name,
        },
        "incr_scan": job.incr_scan,
        "state": job.state,
        "result_code": job.result_code,
        "result_code_msg": result_code_msg(job.result_code),
        "result_msg": job.result_msg,
        "task_num": job.task_num,
        "task_done": job.task_done,
        "create_time": time(&job.create_time, tz),
        "start_time": optional_time(&job.start_time),
        "end_time": optional_time(&job.end_time),
        "waiting_time": waiting.map(clock::seconds_text),
        "execute_time": execute.map(clock::seconds_text),
        "code_line_num": job.lines.code,
        "comment_line_num": job.lines.comment,
        "blank_line_num": job.lines.blank,
        "total_line_num": job.lines.total,
        "created_from": job.created_from,
        "creator": job.creator,
        "can_cancel": job.state != JobState::Closed && place.access.can_view_team(),
        "can_scan": place.access.can_start_scan(),
    })
}

/// Queue health: counts, and the oldest waiting job's age in whole seconds at `now` (stored form).
/// How tools run here, for the status page: confined, unconfined by the admin's choice, or
/// refused because the kernel cannot confine them.
pub fn tool_confinement(confinement: &crate::sandbox::Confinement) -> Value {
    json!({
        "confined": confinement.landlock,
        "refused": confinement.refusal().is_some(),
        "refusal": confinement.refusal(),
        "description": confinement.describe(),
    })
}

pub fn queue_health(health: &QueueHealth, now: &str, tools: Value) -> Value {
    let oldest_waiting_age = health
        .oldest_waiting_since
        .as_deref()
        .and_then(|since| clock::micros_between(since, now))
        .map(|micros| (micros / 1_000_000).max(0));
    json!({
        "waiting": health.waiting,
        "running": health.running,
        "closed_last_24h": health.closed_recently,
        "failed_last_24h": health.failed_recently,
        "oldest_waiting_age": oldest_waiting_age,
        "tools": tools,
    })
}

fn optional_time(stored: &Option<String>, tz: UtcOffset) -> Value {
    stored.as_deref().map_or(Value::Null, |t| time(t, tz))
}

/// A finding in the issue list (codelint-issues-api.md's keys, then codepup's `line`, `column`
/// and `category`). Commit times and file owners are not kept: `ci_time` and `file_owners` are
/// null.
pub fn issue_item(issue: &StoredIssue, repo: &Repo, tz: UtcOffset) -> Value {
    let finding = &issue.finding;
    json!({
        "id": issue.id,
        "file_path": finding.path,
        "project": issue.project_id,
        "repo": repo.id,
        "checkrule_real_name": finding.rule,
        "checkrule_display_name": finding.rule,
        "checktool_name": finding.tool,
        "msg": finding.message,
        "state": issue.state,
        "resolution": issue.resolution,
        "author": issue.author,
        "author_email": issue.author_email,
        "severity": finding.severity as i64,
        "revision": issue.revision,
        "ci_time": null,
        "file_owners": null,
        "is_external": false,
        "scm_url": repo.scm_url,
        "real_file_path": "",
        "scan_open": issue.scan_open,
        "scan_fix": issue.scan_fix,
        "fixed_time": optional_time(&issue.fixed_time, tz),
        "line": finding.line,
        "column": finding.column,
        "category": finding.category,
    })
}

/// One finding with its latest sighting as `issue_details` (the detail's keys; what codepup does
/// not keep is null). `category` is codepup's category name, not TCA's number.
pub fn issue_detail(
    issue: &StoredIssue,
    sighting: Option<&Sighting>,
    repo: &Repo,
    tz: UtcOffset,
) -> Value {
    let finding = &issue.finding;
    let details: Vec<Value> = sighting
        .map(|sighting| {
            json!({
                "id": null,
                "issue_refers": [],
                "creator": null,
                "modifier": null,
                "deleted_time": null,
                "deleter": null,
                "issuedetail_uuid": null,
                "checkrule_real_name": finding.rule,
                "checktool_name": finding.tool,
                "author": issue.author,
                "author_email": issue.author_email,
                "line": sighting.line,
                "column": sighting.column,
                "scan_revision": sighting.scan_revision,
                "revision": issue.revision,
                "ci_time": null,
                "real_revision": "",
                "created_time": time(&sighting.job_create_time, tz),
                "modified_time": time(&sighting.job_create_time, tz),
                "issue": issue.id,
                "project": issue.project_id,
                "job_id": sighting.job_id,
            })
        })
        .into_iter()
        .collect();
    json!({
        "id": issue.id,
        "issue_details": details,
        "is_external": false,
        "repo": repo.id,
        "author": issue.author,
        "created_time": time(&issue.created_time, tz),
        "creator": null,
        "modifier": null,
        "deleted_time": null,
        "deleter": null,
        "file_path": finding.path,
        "file_hash": null,
        "scm_url": repo.scm_url,
        "real_file_path": "",
        "checkrule_gid": null,
        "checkrule_real_name": finding.rule,
        "checkrule_display_name": finding.rule,
        "checkrule_rule_title": null,
        "checktool_name": finding.tool,
        "category": finding.category,
        "state": issue.state,
        "resolution": issue.resolution,
        "scan_revision": sighting.and_then(|sighting| sighting.scan_revision.clone()),
        "severity": finding.severity as i64,
        "language": null,
        "revision": issue.revision,
        "ci_time": null,
        "file_owners": null,
        "fixed_time": optional_time(&issue.fixed_time, tz),
        "tapd_ws_id": null,
        "tapd_bug_id": null,
        "modified_time": time(&issue.modified_time, tz),
        "project": issue.project_id,
        "scan_open": issue.scan_open,
        "scan_fix": issue.scan_fix,
        "msg": finding.message,
        "line": finding.line,
        "column": finding.column,
        "fingerprint": issue.fingerprint,
    })
}

fn state_name(state: i64) -> &'static str {
    match state {
        1 => "active",
        2 => "resolved",
        _ => "closed",
    }
}

fn severity_name(severity: i64) -> &'static str {
    match severity {
        1 => "fatal",
        2 => "error",
        3 => "warning",
        _ => "info",
    }
}

/// Adds `count` to `totals[group][state]`, creating either level as needed. Like TCA, a
/// breakdown only lists the states that have findings.
fn add_to(totals: &mut serde_json::Map<String, Value>, group: &str, state: i64, count: i64) {
    let entry = totals.entry(group.to_string()).or_insert_with(|| json!({}));
    let slot = &mut entry[state_name(state)];
    *slot = json!(slot.as_i64().unwrap_or(0) + count);
}

/// The project overview (overview-api.md's `lintscan` and `clocscan`, the parts codepup has),
/// plus `total.tool_detail` and the latest job. `latest` is the newest job, the revision it
/// scanned and how many findings it saw.
pub fn overview(
    tally: &[IssueTally],
    latest: Option<&(Job, Option<String>, i64)>,
    tz: UtcOffset,
) -> Value {
    let sum = |state: i64| -> i64 {
        tally
            .iter()
            .filter(|row| row.state == state)
            .map(|row| row.count)
            .sum()
    };
    let scan = latest.map(|(job, _, _)| {
        json!({
            "id": job.scan_id,
            "job_id": job.id,
            "scan_time": time(&job.create_time, tz),
            "execute_time": durations(job).1.map(clock::seconds_text),
        })
    });
    json!({
        "lintscan": {
            "issue_open_num": sum(1),
            "issue_fix_num": sum(2),
            "issue_detail_num": latest.map_or(0, |(_, _, n_findings)| *n_findings),
            "scan": scan,
            "total": overview_totals(tally),
            "status": 0,
            "text": "成功",
            "description": null,
        },
        "clocscan": latest.map(|(job, revision, _)| overview_clocscan(job, revision, tz)),
        "latest_job": latest.map(|(job, revision, _)| overview_latest_job(job, revision, tz)),
    })
}

/// The overview's `lintscan.total`: the findings by state, and by category, severity and tool,
/// each of those by state.
fn overview_totals(tally: &[IssueTally]) -> Value {
    let mut state_detail = serde_json::Map::new();
    let mut category_detail = serde_json::Map::new();
    let mut severity_detail = serde_json::Map::new();
    let mut tool_detail = serde_json::Map::new();
    for row in tally {
        let slot = state_detail
            .entry(state_name(row.state).to_string())
            .or_insert(json!(0));
        *slot = json!(slot.as_i64().unwrap_or(0) + row.count);
        add_to(&mut category_detail, &row.category, row.state, row.count);
        add_to(
            &mut severity_detail,
            severity_name(row.severity),
            row.state,
            row.count,
        );
        add_to(&mut tool_detail, &row.tool, row.state, row.count);
    }
    json!({
        "state_detail": state_detail,
        "category_detail": category_detail,
        "severity_detail": severity_detail,
        "tool_detail": tool_detail,
    })
}

/// The overview's `latest_job`.
fn overview_latest_job(job: &Job, revision: &Option<String>, tz: UtcOffset) -> Value {
    json!({
        "id": job.id,
        "scan_id": job.scan_id,
        "state": job.state,
        "result_code": job.result_code,
        "result_code_msg": result_code_msg(job.result_code),
        "result_msg": job.result_msg,
        "create_time": time(&job.create_time, tz),
        "end_time": optional_time(&job.end_time, tz),
        "scan_revision": revision,
    })
}

/// The overview's `clocscan`: the latest job's line counts.
fn overview_clocscan(job: &Job, revision: &Option<String>, tz: UtcOffset) -> Value {
    json!({
        "id": job.id,
        "scan_revision": revision,
        "scan_time": time(&job.create_time, tz),
        "code_line_num": job.lines.code,
        "comment_line_num": job.lines.comment,
        "blank_line_num": job.lines.blank,
        "total_line_num": job.lines.total,
        "scan": job.scan_id,
    })
}

/// One history entry of a finding (TCA's `IssueCommentSerializer`, all of `IssueComment`'s
/// fields; `issue_hash` is the finding's fingerprint).
pub fn issue_comment(comment: &Comment, tz: UtcOffset) -> Value {
    json!({
        "id": comment.id,
        "project_id": comment.project_id,
        "issue_id": comment.issue_id,
        "issue_hash": comment.fingerprint,
        "action": comment.action,
        "message": comment.message,
        "created_time": time(&comment.created_time, tz),
        "creator": comment.creator,
    })
}

/// A finding as one scan saw it (codelint-issues-api.md's per-scan list: TCA's issue detail
/// rows with their issue's fields): the line and column are that scan's, `scan_revision` the
/// revision it scanned.
pub fn scan_issue_item(
    issue: &StoredIssue,
    place: (i64, i64),
    scan: &Scan,
    repo: &Repo,
    tz: UtcOffset,
) -> Value {
    let finding = &issue.finding;
    json!({
        "id": issue.id,
        "repo_id": repo.id,
        "project_id": issue.project_id,
        "scan_time": time(&scan.create_time, tz),
        "file_path": finding.path,
        "scm_url": repo.scm_url,
        "real_file_path": "",
        "line": place.0,
        "column": place.1,
        "checkrule_gid": null,
        "checkrule_real_name": finding.rule,
        "checkrule_display_name": finding.rule,
        "checkrule_rule_title": null,
        "checktool_name": finding.tool,
        "category": finding.category,
        "msg": finding.message,
        "state": issue.state,
        "resolution": issue.resolution,
        "author": issue.author,
        "author_email": issue.author_email,
        "scan_open_id": issue.scan_open,
        "scan_fix_id": issue.scan_fix,
        "issuedetail_uuid": null,
        "scan_revision": scan.revision,
        "real_revision": "",
        "severity": finding.severity as i64,
        "language": null,
        "revision": issue.revision,
        "ci_time": null,
        "file_owners": null,
        "created_time": time(&issue.created_time, tz),
        "fixed_time": optional_time(&issue.fixed_time, tz),
    })
}

/// One point of a project's trends (codepup's own `trends/`): the scan, its line counts, and
/// what its close stored for lint, complexity and duplicate code (null when it ran none).
pub fn trend_point(point: &crate::db::trends::TrendPoint, tz: UtcOffset) -> Value {
    let lines = point.lines.map(|[code, comment, blank, total]| {
        json!({"code_line_num": code, "comment_line_num": comment,
               "blank_line_num": blank, "total_line_num": total})
    });
    let lint = point.lint.map(|lint| {
        let [fatal, error, warning, info] = lint.open;
        json!({
            "opened": lint.opened,
            "reopened": lint.reopened,
            "fixed": lint.fixed,
            "open": {"fatal": fatal, "error": error, "warning": warning, "info": info},
            "open_total": fatal + error + warning + info,
        })
    });
    let cc = point.cc.map(|cc| {
        json!({"min_ccn": cc.threshold, "cc_open_num": cc.over, "func_num": cc.functions,
               "diff_cc_num": cc.new_or_worse, "cc_fix_num": cc.fixed})
    });
    let dup = point.dup.map(|dup| {
        json!({"duplicate_rate": dup.rate, "duplicate_line_count": dup.duplicate_lines,
               "total_line_count": dup.total_lines, "duplicate_block_count": dup.blocks})
    });
    json!({
        "job_id": point.job_id,
        "scan_id": point.scan_id,
        "scan_type": point.scan_type,
        "scan_revision": point.revision,
        "create_time": time(&point.create_time, tz),
        "end_time": optional_time(&point.end_time, tz),
        "lines": lines,
        "lint": lint,
        "cc": cc,
        "dup": dup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_django_duration_string() {
        assert_eq!(drf_duration(0), "00:00:00");
        assert_eq!(drf_duration(1_000_000), "00:00:01");
        assert_eq!(drf_duration(62_750_000), "00:01:02.750000");
        assert_eq!(drf_duration(3_723_000_001), "01:02:03.000001");
        assert_eq!(drf_duration(90_061_000_000), "1 01:01:01");
        assert_eq!(drf_duration(-400_000), "-1 23:59:59.600000");
        assert_eq!(drf_duration(-86_400_000_000), "-1 00:00:00");
    }
}
