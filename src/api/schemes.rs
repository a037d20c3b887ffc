//! Scan schemes: global templates (`orgs/<org_sid>/schemes/`) and a repository's own
//! (`.../repos/<repo_id>/initscheme/`, `schemes/`, `schemes/<scheme_id>/`).

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::api::blocking;
use crate::api::{org_scope, repo_scope, require, views};
use crate::auth::Caller;
use crate::body::{Body, Fields};
use crate::db;
use crate::domain::ids::{RepoId, SchemeId};
use crate::domain::scheme::{self, NewScheme};
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

pub async fn list_templates(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let tz = state.config.tz_offset;
    let templates = blocking::run(&state.pool, move |conn| {
        let (_, access) = org_scope(conn, &caller, &org_sid)?;
        require(access.can_view_org())?;
        Ok(db::schemes::list_templates(conn)?)
    })
    .await?;
    Ok(envelope::ok(
        templates
            .iter()
            .map(|s| views::scheme(s, tz))
            .collect::<Vec<Value>>(),
    ))
}

/// `initscheme/`: a scheme made from scratch for one repository; any team member.
pub async fn create_scheme(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let known_tools = state.catalog.names();
    let scheme_id = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, repo, access) = repo_scope(&tx, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        require(access.can_view_team())?;
        let new_scheme = read_new_scheme(&body.fields()?, &known_tools)?;
        let scheme_id =
            db::schemes::insert(&tx, repo.id, &new_scheme, None, caller.id).map_err(|error| {
                if db::is_unique_violation(&error) {
                    AppError::invalid(
                        "name",
                        format!(
                            "a scheme named {:?} already exists in this repository",
                            new_scheme.name
                        ),
                    )
                } else {
                    error.into()
                }
            })?;
        tx.commit()?;
        Ok(scheme_id)
    })
    .await?;
    Ok(envelope::created(json!({"scan_scheme": scheme_id})))
}

fn read_new_scheme(body: &Fields, known_tools: &[String]) -> Result<NewScheme, AppError> {
    let mut fields = body.reader();
    let name = fields.required_str("name", 128);
    let description = fields.optional_str("description", 512);
    let mut languages = Vec::new();
    for language in fields
        .optional_str_list("languages", 32)
        .unwrap_or_default()
    {
        match scheme::check_language(&language) {
            Ok(language) if !languages.contains(&language) => languages.push(language),
            Ok(_) => {}
            Err(message) => fields.reject("languages", message),
        }
    }
    let mut tools: Vec<String> = Vec::new();
    for tool in fields.optional_str_list("tools", 64).unwrap_or_default() {
        match scheme::check_tool(&tool, known_tools) {
            Ok(()) if !tools.contains(&tool) => tools.push(tool),
            Ok(()) => {}
            Err(message) => fields.reject("tools", message),
        }
    }
    let new_scheme = NewScheme {
        name,
        description,
        languages,
        tools,
        lint_enabled: fields.optional_bool("lint_enabled").unwrap_or(false),
        cc_scan_enabled: fields.optional_bool("cc_scan_enabled").unwrap_or(false),
        dup_scan_enabled: fields.optional_bool("dup_scan_enabled").unwrap_or(false),
        cloc_scan_enabled: fields.optional_bool("cloc_scan_enabled").unwrap_or(true),
        blame_enabled: fields.optional_bool("blame_enabled").unwrap_or(false),
        min_ccn: fields
            .optional_int("min_ccn", 1, 10_000)
            .unwrap_or(crate::domain::metrics::DEFAULT_CC_THRESHOLD),
        job_runtime_limit: fields
            .optional_int("job_runtime_limit", 1, scheme::MAX_JOB_RUNTIME_LIMIT)
            .unwrap_or(scheme::DEFAULT_JOB_RUNTIME_LIMIT),
    };
    fields.finish()?;
    Ok(new_scheme)
}

pub async fn list_schemes(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let schemes = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, access) =
            repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        require(access.can_view_team())?;
        Ok(db::schemes::list_for_repo(conn, repo.id)?)
    })
    .await?;
    Ok(envelope::ok(
        schemes
            .iter()
            .map(|s| views::scheme(s, tz))
            .collect::<Vec<Value>>(),
    ))
}

pub async fn get_scheme(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, scheme_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let scheme = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, access) =
            repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let scheme = db::schemes::get_for_repo(conn, repo.id, SchemeId(scheme_id))?
            .ok_or_else(|| AppError::not_found(format!("scheme {scheme_id}")))?;
        require(access.can_view_team())?;
        Ok(scheme)
    })
    .await?;
    Ok(envelope::ok(views::scheme(&scheme, tz)))
}
