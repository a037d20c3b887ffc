//! Triage of complexity findings on TCA's paths: `PUT codemetric/ccissues/status/` (a batch's
//! status: 1 needs attention, 2 needs none) and `PUT codemetric/ccissues/<id>/author/`. TCA's
//! views: `codemetric/apis/v2.py` (`CCIssueStatusBulkUpdateView`, `CCIssueAuthorUpdateView`).
//! The same permission as lint triage (`Access::can_triage`); a mark belongs to the function
//! (file and signature), so later measures of it keep it.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api::codemetric::{metric_project, metric_project_allowing, shape, MetricPath};
use crate::api::triage::{parse_error, read_author, read_ids};
use crate::api::{blocking, project_allowing, ProjectPath};
use crate::auth::Caller;
use crate::body::Body;
use crate::db;
use crate::db::metric_triage::Mark;
use crate::db::metrics::{MetricFilter, MetricList};
use crate::domain::access::Access;
use crate::domain::ids::ProjectId;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// `PUT ccissues/status/` with `{ccissue_ids: [...], status}`: answers TCA's
/// `{"msg": "success"}` and how many functions changed.
pub async fn update_cc_status(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<ProjectPath>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let changed = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, _, project, _) =
            project_allowing(&tx, &caller, &path, |access, _| access.can_triage())?;
        let body = body.fields()?;
        let ids = read_ids(&body, "ccissue_ids")?;
        let mut fields = body.reader();
        let status = fields.optional_int("status", i64::MIN, i64::MAX);
        fields.finish()?;
        let status = status
            .filter(|status| (1..=2).contains(status))
            .ok_or_else(|| {
                let shown = status.map_or("None".to_string(), |n| n.to_string());
                parse_error(format!("参数异常，`Status` 值[{shown}]错误"))
            })?;
        let changed = db::metric_triage::set(
            &tx,
            project.id,
            &ids,
            Mark::Status(status),
            &caller.username,
        )?;
        tx.commit()?;
        Ok(changed)
    })
    .await?;
    Ok(envelope::ok(json!({"msg": "success", "count": changed})))
}

/// `PUT ccissues/<id>/author/` with `{author}`: answers the row as TCA's
/// `CyclomaticComplexitySerializer` shows it.
pub async fn update_cc_author(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let (repo_id, row) = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (repo, project) = metric_project_allowing(&tx, &caller, &path, Access::can_triage)?;
        let issue_id = path.issue_id.unwrap_or(0);
        let job_id = db::metrics::row_job(&tx, MetricList::CcIssues, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("cc issue {issue_id}")))?;
        let author = read_author(&body.fields()?)?;
        let mark = Mark::Author(&author);
        db::metric_triage::set(&tx, project.id, &[issue_id], mark, &caller.username)?;
        let filter = MetricFilter {
            id: Some(issue_id),
            ..MetricFilter::default()
        };
        let (_, rows) = db::metrics::list(&tx, MetricList::CcIssues, job_id, &filter, (1, 0))?;
        tx.commit()?;
        Ok((repo.id, rows.into_iter().next().unwrap_or_default()))
    })
    .await?;
    Ok(envelope::ok(shape(MetricList::CcIssues, row, repo_id, tz)))
}

/// TCA's `DuplicateIssue.STATE_CHOICES`: the words of the states 1 to 3.
fn dup_state_word(state: i64) -> &'static str {
    match state {
        1 => "未处理",
        2 => "可忽略",
        _ => "关闭",
    }
}

/// A change to one duplicate-code issue (`dupissues/<id>/state/`, `owner/`): the checks, then
/// `change` with the issue's state and owner and the body, in one write transaction; answers
/// the issue as TCA's `DuplicateIssueSerializer` shows it (`{id, state, owner}`).
async fn change_dup_issue<F>(
    state: web::Data<AppState>,
    caller: crate::domain::user::User,
    path: MetricPath,
    body: Body,
    change: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&rusqlite::Connection, (ProjectId, i64), DupIssueNow, &str) -> Result<(), AppError>
        + Send
        + 'static,
{
    let issue = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, project) = metric_project_allowing(&tx, &caller, &path, Access::can_triage)?;
        let issue_id = path.issue_id.unwrap_or(0);
        let (now_state, owner) = db::metric_triage::dup_issue(&tx, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("duplicate issue {issue_id}")))?;
        let now = DupIssueNow {
            state: now_state,
            owner,
            body: body.fields()?,
        };
        change(&tx, (project.id, issue_id), now, &caller.username)?;
        let (state, owner) = db::metric_triage::dup_issue(&tx, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("duplicate issue {issue_id}")))?;
        tx.commit()?;
        Ok(json!({"id": issue_id, "state": state, "owner": owner}))
    })
    .await?;
    Ok(envelope::ok(issue))
}

/// A duplicate-code issue as a change finds it, and the request's body.
struct DupIssueNow {
    state: i64,
    owner: Option<String>,
    body: crate::body::Fields,
}

/// `PUT dupissues/<id>/state/` with `{state}`: 1 open, 2 ignored, 3 closed (a later run
/// reopens a closed issue whose file still has copies; an ignored one stays ignored).
pub async fn update_dup_state(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_dup_issue(
        state,
        caller,
        path.into_inner(),
        body,
        |conn, issue, now, who| {
            let mut fields = now.body.reader();
            let asked = fields.optional_int("state", i64::MIN, i64::MAX);
            fields.finish()?;
            let asked = asked
                .filter(|asked| (1..=3).contains(asked))
                .ok_or_else(|| parse_error("State 值错误".to_string()))?;
            let change = db::metric_triage::DupChange {
                action: "修改状态",
                message: format!("{} -> {}", dup_state_word(now.state), dup_state_word(asked)),
                who,
            };
            Ok(db::metric_triage::set_dup_state(
                conn, issue, asked, &change,
            )?)
        },
    )
    .await
}

/// `PUT dupissues/<id>/owner/` with `{owner, all?}`: with `all: true`, every issue of the
/// project with the same owner too. TCA's texts for an empty or unchanged owner.
pub async fn update_dup_owner(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_dup_issue(
        state,
        caller,
        path.into_inner(),
        body,
        |conn, issue, now, who| {
            let mut fields = now.body.reader();
            let owner = fields.optional_str("owner", 128).unwrap_or_default();
            let all = fields.optional_bool("all").unwrap_or(false);
            fields.finish()?;
            if owner.is_empty() {
                return Err(parse_error("责任人不可以为空".to_string()));
            }
            if now.owner.as_deref() == Some(owner.as_str()) {
                return Err(parse_error("新责任人不可以与原责任人相同".to_string()));
            }
            let change = db::metric_triage::DupChange {
                action: "修改责任人",
                message: format!("{} -> {owner}", now.owner.as_deref().unwrap_or("无")),
                who,
            };
            db::metric_triage::set_dup_owner(conn, issue, (&owner, all), &change)?;
            Ok(())
        },
    )
    .await
}

/// `GET dupissues/<id>/comments/`: the issue's last 20 changes, newest first, paginated.
pub async fn list_dup_comments(
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let rows = blocking::run(&state.pool, move |conn| {
        let (_, project) = metric_project(conn, &caller, &path)?;
        let issue_id = path.issue_id.unwrap_or(0);
        db::metric_triage::dup_issue(conn, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("duplicate issue {issue_id}")))?;
        Ok(db::metric_triage::dup_comments(conn, issue_id)?)
    })
    .await?;
    let items = rows
        .into_iter()
        .map(|mut row| {
            let shown = row
                .get("created_time")
                .and_then(serde_json::Value::as_str)
                .and_then(|stored| crate::clock::display(stored, tz));
            row.insert("created_time".into(), json!(shown));
            serde_json::Value::Object(row)
        })
        .collect();
    let query = crate::api::query::Query::from_request(&request);
    Ok(envelope::ok(crate::api::query::paginate_all(
        &request, &query, items,
    )?))
}
