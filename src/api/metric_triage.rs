//! Triage of complexity findings on TCA's paths: `PUT codemetric/ccissues/status/` (a batch's
//! status: 1 needs attention, 2 needs none) and `PUT codemetric/ccissues/<id>/author/`. TCA's
//! views: `codemetric/apis/v2.py` (`CCIssueStatusBulkUpdateView`, `CCIssueAuthorUpdateView`).
//! The same permission as lint triage (`Access::can_triage`); a mark belongs to the function
//! (file and signature), so later measures of it keep it.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api::codemetric::{metric_project, shape, MetricPath};
use crate::api::triage::{parse_error, read_author, read_ids};
use crate::api::{blocking, project_scope, require};
use crate::auth::Caller;
use crate::body::Body;
use crate::db;
use crate::db::metric_triage::Mark;
use crate::db::metrics::{MetricFilter, MetricList};
use crate::domain::ids::{ProjectId, RepoId};
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// `PUT ccissues/status/` with `{ccissue_ids: [...], status}`: answers TCA's
/// `{"msg": "success"}` and how many functions changed.
pub async fn update_cc_status(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64)>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id) = path.into_inner();
    let changed = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, _, project, access) = project_scope(
            &tx,
            &caller,
            &org_sid,
            &team_name,
            RepoId(repo_id),
            ProjectId(project_id),
        )?;
        require(access.can_triage())?;
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
        let (repo, project) = metric_project(&tx, &caller, &path)?;
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
