//! The branch overview's cards on TCA's analysis paths (`overview/lintscans/latest/`,
//! `overview/mine/`, the per-scan lint list, which codepup has no data for).
//! TCA's views: `server/projects/analysis/apps/codeproj/apis/v2.py` (`ProjectMyOverviewDetailView`,
//! `ProjectOverviewLintScanLatestDetailView`, `ProjectOverview*ScanListView`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::api::query::{paginate_all, Query};
use crate::api::visible_project;
use crate::auth::Caller;
use crate::db;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

type ProjectPath = web::Path<crate::api::ProjectPath>;

/// TCA's `Issue.StateEnum.ACTIVE`: an open finding.
const ACTIVE: i64 = 1;

/// `overview/lintscans/latest/`: the project's open findings, in all and by severity (1 fatal,
/// 2 error, 3 warning, 4 info).
pub async fn get_latest_lint_overview(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let tally = visible_project(&state, caller, path, |conn, project, _| {
        Ok(db::findings::tally(conn, project.id)?)
    })
    .await?;
    let mut by_severity: Vec<(i64, i64)> = Vec::new();
    for row in tally.iter().filter(|row| row.state == ACTIVE) {
        match by_severity
            .iter_mut()
            .find(|(severity, _)| *severity == row.severity)
        {
            Some((_, num)) => *num += row.count,
            None => by_severity.push((row.severity, row.count)),
        }
    }
    by_severity.sort_unstable();
    Ok(envelope::ok(json!({
        "lint_issue_num": by_severity.iter().map(|(_, num)| num).sum::<i64>(),
        "lint_issue_severity_list": by_severity
            .iter()
            .map(|(severity, num)| json!({"severity": severity, "num": num}))
            .collect::<Vec<Value>>(),
    })))
}

/// `overview/mine/`: the open findings whose author is the caller, and the functions of the
/// latest complexity measure that need attention and whose author is the caller, and the open
/// duplicate-code issues the caller owns.
pub async fn get_my_overview(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let (mine, cc, dup) = visible_project(&state, caller, path, |conn, project, caller| {
        let name = &caller.username;
        Ok((
            db::findings::count_open_by_author(conn, project.id, name)?,
            db::metric_triage::count_open_of_author(conn, project.id, name)?,
            db::metric_triage::count_open_dup_of_owner(conn, project.id, name)?,
        ))
    })
    .await?;
    Ok(envelope::ok(json!({
        "lint_issue_num": mine,
        "cyc_issue_num": cc,
        "dup_issue_num": dup,
    })))
}

/// The overview's per-scan lint list (`lintscans/`): codepup keeps no per-scan lint summaries,
/// so it is an empty page, after the same checks as every project route. (The metric trend
/// lists are `api::metric_scans`.)
pub async fn list_nothing_yet(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    visible_project(&state, caller, path, |_, _, _| Ok(())).await?;
    Ok(envelope::ok(paginate_all(
        &request,
        &Query::from_request(&request),
        Vec::new(),
    )?))
}
