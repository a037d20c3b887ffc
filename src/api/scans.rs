//! The scan history on TCA's analysis paths (`/server/analysis/api/[v3/]orgs/.../projects/<id>/
//! scans/` and `scans/<id>/`): one entry per scan, newest first, with its job's times and result.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::blocking;
use crate::api::query::{paginated, Query};
use crate::api::{project_scope, require, views};
use crate::auth::Caller;
use crate::db;
use crate::domain::ids::{ProjectId, RepoId, ScanId};
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// The project's scans, newest first, paginated (TCA's `ProjectScanListView`).
pub async fn list_scans(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id) = path.into_inner();
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, project, access) = project_scope(
            conn,
            &caller,
            &org_sid,
            &team_name,
            RepoId(repo_id),
            ProjectId(project_id),
        )?;
        require(access.can_view_team())?;
        let page = query.page()?;
        let (count, scans) = db::scans::list(conn, project.id, page.limit, page.offset)?;
        let results = scans
            .iter()
            .map(|scan| views::scan(scan, &repo, tz))
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// One scan of the project (TCA's `ProjectScanDetailView`).
pub async fn get_scan(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id, scan_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let scan = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, project, access) = project_scope(
            conn,
            &caller,
            &org_sid,
            &team_name,
            RepoId(repo_id),
            ProjectId(project_id),
        )?;
        let scan = db::scans::get(conn, project.id, ScanId(scan_id))?
            .ok_or_else(|| AppError::not_found(format!("scan {scan_id}")))?;
        require(access.can_view_team())?;
        Ok(views::scan(&scan, &repo, tz))
    })
    .await?;
    Ok(envelope::ok(scan))
}
