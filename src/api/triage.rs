//! Triage on TCA's analysis paths (`../codelint/issues/...`, TCA's `apps/codelint/apis/v2.py`):
//! a finding's resolution (ignore as won't fix or false positive, mark fixed, reopen), one at a
//! time or in a batch; its severity and author; its history (`comments/`); the project's
//! authors; and the findings one scan saw (`codelint/scans/<scan_id>/issues/`). Every change
//! is one write transaction that also records who made it and when.

use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::{json, Value};
use time::UtcOffset;

use crate::api::findings::read_issue_filter;
use crate::api::query::{paginate_all, paginated, Query};
use crate::api::{blocking, project_at, require, views};
use crate::auth::Caller;
use crate::body::{Body, Fields};
use crate::db;
use crate::db::triage::{Actor, ResolutionChange};
use crate::domain::ids::{ProjectId, ScanId};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::triage::{Resolution, Scope};
use crate::domain::user::User;
use crate::envelope;
use crate::error::{AppError, E_SERVER_BASE};
use crate::AppState;

type ProjectPath = web::Path<crate::api::ProjectPath>;
type IssuePath = web::Path<(String, String, i64, i64, i64)>;

/// The most findings one batch request may name.
pub const MAX_BATCH: usize = 10_000;
/// The longest reason, author or comment kept (TCA's column widths).
const MAX_REASON: usize = 512;
const MAX_AUTHOR: usize = 256;
const MAX_ACTION: usize = 128;

/// The project a triage URL names, checked in the documented order: 401, 404 for the org and
/// team, 403 outside the team, 404 for the repository, project and (when given) finding, then
/// 403 unless the caller may triage. Not `project_allowing`, which would answer 403 before
/// the finding's 404.
fn triage_scope(
    conn: &Connection,
    caller: &User,
    path: &crate::api::ProjectPath,
    issue_id: Option<i64>,
) -> Result<(Repo, Project), AppError> {
    let (_, _, repo, project, access) = project_at(conn, caller, path)?;
    if let Some(issue_id) = issue_id {
        db::findings::get(conn, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("issue {issue_id}")))?;
    }
    require(access.can_triage())?;
    Ok((repo, project))
}

fn actor(caller: &User) -> Actor<'_> {
    Actor {
        user_id: caller.id,
        username: &caller.username,
    }
}

fn split(path: IssuePath) -> (crate::api::ProjectPath, i64) {
    let (org_sid, team_name, repo_id, project_id, issue_id) = path.into_inner();
    ((org_sid, team_name, repo_id, project_id), issue_id)
}

/// TCA's `ParseError`: a 400 with its text.
pub(crate) fn parse_error(msg: String) -> AppError {
    AppError::business(E_SERVER_BASE, msg)
}

/// The finding as TCA's `DetailedIssueSerializer` shows it, after a change.
fn detail(
    conn: &Connection,
    repo: &Repo,
    project_id: ProjectId,
    issue_id: i64,
    tz: UtcOffset,
) -> Result<Value, AppError> {
    let issue = db::findings::get(conn, project_id, issue_id)?
        .ok_or_else(|| AppError::not_found(format!("issue {issue_id}")))?;
    let sighting = db::findings::latest_sighting(conn, issue.id)?;
    Ok(views::issue_detail(&issue, sighting.as_ref(), repo, tz))
}

/// A resolution change as the body asks it (`resolution`, `scope`, `ignore_reason`).
struct AskedResolution {
    resolution: Resolution,
    scope: Scope,
    reason: Option<String>,
}

/// Reads `resolution`, `scope` and `ignore_reason`; a wrong type is an invalid field, a number
/// TCA does not know gets TCA's `ParseError` text.
fn read_resolution(body: &Fields) -> Result<AskedResolution, AppError> {
    let mut fields = body.reader();
    let resolution = fields.optional_int("resolution", i64::MIN, i64::MAX);
    let scope = (!body.is_null("scope"))
        .then(|| fields.optional_int("scope", i64::MIN, i64::MAX))
        .flatten();
    let reason = (!body.is_null("ignore_reason"))
        .then(|| fields.optional_str("ignore_reason", MAX_REASON))
        .flatten()
        .filter(|reason| !reason.is_empty());
    fields.finish()?;
    let shown = |value: Option<i64>| value.map_or("None".to_string(), |n| n.to_string());
    Ok(AskedResolution {
        resolution: Resolution::parse(resolution, &shown(resolution)).map_err(parse_error)?,
        scope: Scope::parse(scope, &shown(scope)).map_err(parse_error)?,
        reason,
    })
}

/// One change to one finding: the checks (`triage_scope`), then `change` with the body, in one
/// write transaction that answers the finding as TCA's `DetailedIssueSerializer` shows it.
async fn change_issue<F>(
    state: web::Data<AppState>,
    caller: User,
    path: IssuePath,
    body: Body,
    change: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&Connection, Actor<'_>, ProjectId, i64, Fields) -> Result<(), AppError>
        + Send
        + 'static,
{
    let (path, issue_id) = split(path);
    let tz = state.config.tz_offset;
    let detail = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (repo, project) = triage_scope(&tx, &caller, &path, Some(issue_id))?;
        change(&tx, actor(&caller), project.id, issue_id, body.fields()?)?;
        let detail = detail(&tx, &repo, project.id, issue_id, tz)?;
        tx.commit()?;
        Ok(detail)
    })
    .await?;
    Ok(envelope::ok(detail))
}

/// One change to a batch of the project's findings, named in the body's `issue_ids`: the
/// checks, then `change` with the ids and the body, in one write transaction. Answers TCA's
/// `{"msg": "success"}` and how many findings changed.
async fn change_batch<F>(
    state: web::Data<AppState>,
    caller: User,
    path: ProjectPath,
    body: Body,
    change: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&Connection, Actor<'_>, ProjectId, &[i64], Fields) -> Result<usize, AppError>
        + Send
        + 'static,
{
    let path = path.into_inner();
    let changed = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, project) = triage_scope(&tx, &caller, &path, None)?;
        let body = body.fields()?;
        let ids = read_issue_ids(&body)?;
        let changed = change(&tx, actor(&caller), project.id, &ids, body)?;
        tx.commit()?;
        Ok(changed)
    })
    .await?;
    Ok(envelope::ok(json!({"msg": "success", "count": changed})))
}

/// Sets the resolution the body asks of `ids`, recorded under `action`.
fn resolve(
    conn: &Connection,
    actor: Actor<'_>,
    project_id: ProjectId,
    ids: &[i64],
    (body, action): (&Fields, &str),
) -> Result<usize, AppError> {
    let asked = read_resolution(body)?;
    let change = ResolutionChange {
        resolution: asked.resolution,
        scope: asked.scope,
        reason: asked.reason.as_deref(),
        action,
    };
    Ok(db::triage::set_resolution(
        conn, project_id, ids, &change, actor,
    )?)
}

/// `PUT|POST .../codelint/issues/<id>/resolution/`: sets one finding's resolution and answers
/// with the finding.
pub async fn update_issue_resolution(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_issue(
        state,
        caller,
        path,
        body,
        |conn, actor, project_id, issue_id, body| {
            resolve(conn, actor, project_id, &[issue_id], (&body, "处理")).map(drop)
        },
    )
    .await
}

/// Reads a batch's `issue_ids`: required, a list, at most `MAX_BATCH`.
fn read_issue_ids(body: &Fields) -> Result<Vec<i64>, AppError> {
    read_ids(body, "issue_ids")
}

/// Reads a batch's ids from `field` (`issue_ids`, `ccissue_ids`): required, a list, at most
/// `MAX_BATCH`; TCA's text names `issue_ids` whatever the field.
pub(crate) fn read_ids(body: &Fields, field: &str) -> Result<Vec<i64>, AppError> {
    if !body.has(field) || body.is_null(field) {
        return Err(parse_error("参数异常, `issue_ids`不是list格式".to_string()));
    }
    let mut fields = body.reader();
    let ids = fields.optional_int_list(field, MAX_BATCH);
    fields.finish()?;
    Ok(ids.unwrap_or_default())
}

/// `PUT .../codelint/issues/resolution/`: sets the resolution of the project's findings
/// `issue_ids` (ids of other projects are skipped).
pub async fn bulk_update_resolution(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_batch(
        state,
        caller,
        path,
        body,
        |conn, actor, project_id, ids, body| {
            resolve(conn, actor, project_id, ids, (&body, "批量处理"))
        },
    )
    .await
}

/// `PUT|POST .../codelint/issues/<id>/severity/`: sets one finding's severity (1 fatal to 4
/// info), which later scans keep; answers with the finding.
pub async fn update_issue_severity(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_issue(
        state,
        caller,
        path,
        body,
        |conn, actor, project_id, issue_id, body| {
            let mut fields = body.reader();
            let severity = fields.optional_int("severity", i64::MIN, i64::MAX);
            fields.finish()?;
            let severity = severity
                .filter(|severity| (1..=4).contains(severity))
                .ok_or_else(|| {
                    let shown = severity.map_or("None".to_string(), |n| n.to_string());
                    parse_error(format!("参数异常，`Severity` 值[{shown}]错误"))
                })?;
            db::triage::set_severity(conn, project_id, issue_id, severity, actor)?;
            Ok(())
        },
    )
    .await
}

/// Reads a new `author`: required, not blank (TCA's text), at most 256 characters.
pub(crate) fn read_author(body: &Fields) -> Result<String, AppError> {
    let mut fields = body.reader();
    let author = fields
        .optional_str("author", MAX_AUTHOR)
        .unwrap_or_default();
    fields.finish()?;
    if author.is_empty() {
        return Err(parse_error("参数异常，责任人不可以为空".to_string()));
    }
    Ok(author)
}

/// `PUT|POST .../codelint/issues/<id>/author/`: sets one finding's author; with `all: true`,
/// also every open finding of the project that had the same author (TCA). Answers with the
/// finding.
pub async fn update_issue_author(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_issue(
        state,
        caller,
        path,
        body,
        |conn, actor, project_id, issue_id, body| {
            let author = read_author(&body)?;
            let mut fields = body.reader();
            let all = fields.optional_bool("all").unwrap_or(false);
            fields.finish()?;
            let old = db::triage::author_of(conn, project_id, issue_id)?;
            if old.as_deref() == Some(author.as_str()) {
                return Err(parse_error(
                    "参数异常，新责任人不可以与原责任人相同".to_string(),
                ));
            }
            let (mut ids, action) = if all {
                let ids = db::triage::open_ids_of_author(conn, project_id, old.as_deref())?;
                (ids, "批量修改责任人")
            } else {
                (Vec::new(), "修改责任人")
            };
            if !ids.contains(&issue_id) {
                ids.push(issue_id);
            }
            db::triage::set_authors(conn, project_id, &ids, &author, action, actor)?;
            Ok(())
        },
    )
    .await
}

/// `PUT .../codelint/issues/author/`: sets the author of the project's findings `issue_ids`.
pub async fn bulk_update_author(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_batch(
        state,
        caller,
        path,
        body,
        |conn, actor, project_id, ids, body| {
            let author = read_author(&body)?;
            let action = "批量修改责任人";
            Ok(db::triage::set_authors(
                conn, project_id, ids, &author, action, actor,
            )?)
        },
    )
    .await
}

/// `GET .../codelint/issues/authors/`: the distinct authors of the project's findings, in
/// name order (for the list's author filter). Anyone who sees the team may read it.
pub async fn list_issue_authors(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let authors = blocking::run(&state.pool, move |conn| {
        let (_, project) = triage_scope(conn, &caller, &path, None)?;
        Ok(db::triage::authors(conn, project.id)?)
    })
    .await?;
    Ok(envelope::ok(authors))
}

/// `GET .../codelint/issues/<id>/comments/`: the finding's last 20 history entries, newest
/// first, as a page.
pub async fn list_issue_comments(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
) -> Result<HttpResponse, AppError> {
    let (path, issue_id) = split(path);
    let tz = state.config.tz_offset;
    let comments = blocking::run(&state.pool, move |conn| {
        triage_scope(conn, &caller, &path, Some(issue_id))?;
        Ok(db::triage::comments(conn, issue_id)?)
    })
    .await?;
    let items = comments
        .iter()
        .map(|comment| views::issue_comment(comment, tz))
        .collect();
    let query = Query::from_request(&request);
    Ok(envelope::ok(paginate_all(&request, &query, items)?))
}

/// `POST .../codelint/issues/<id>/comments/`: adds a comment (`message`, and optionally an
/// `action`, `评论` by default) in the caller's name; 201 with the entry.
pub async fn create_issue_comment(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (path, issue_id) = split(path);
    let tz = state.config.tz_offset;
    let comment = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, project) = triage_scope(&tx, &caller, &path, Some(issue_id))?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let message = fields.required_str("message", MAX_REASON);
        let action = fields.optional_str("action", MAX_ACTION);
        fields.finish()?;
        let action = action.filter(|action| !action.is_empty());
        let id = db::triage::add_comment(
            &tx,
            project.id,
            issue_id,
            action.as_deref().unwrap_or("评论"),
            &message,
            Some(actor(&caller)),
        )?;
        let comment = db::triage::comment(&tx, id)?
            .ok_or_else(|| AppError::not_found(format!("comment {id}")))?;
        tx.commit()?;
        Ok(views::issue_comment(&comment, tz))
    })
    .await?;
    Ok(envelope::created(comment))
}

/// `GET .../codelint/scans/<scan_id>/issues/`: the findings the scan's job saw, where it saw
/// them, with the issue list's filters (`scan_open_id` and `scan_fix_id` as TCA names them).
pub async fn list_scan_issues(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
) -> Result<HttpResponse, AppError> {
    let (path, scan_id) = split(path);
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, project, _) = project_at(conn, &caller, &path)?;
        let scan = db::scans::get(conn, project.id, ScanId(scan_id))?
            .ok_or_else(|| AppError::not_found(format!("scan {scan_id}")))?;
        let mut filter = read_issue_filter(&query)?;
        filter.job_id = Some(scan.job.id.0);
        let page = query.page()?;
        let (count, issues) =
            db::findings::list(conn, project.id, &filter, page.limit, page.offset)?;
        let ids: Vec<i64> = issues.iter().map(|issue| issue.id).collect();
        let places = db::triage::job_places(conn, scan.job.id, &ids)?;
        let results = issues
            .iter()
            .map(|issue| {
                let place = places.get(&issue.id).copied().unwrap_or((
                    i64::from(issue.finding.line),
                    i64::from(issue.finding.column),
                ));
                views::scan_issue_item(issue, place, &scan, &repo, tz)
            })
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}
