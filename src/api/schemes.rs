//! Scan schemes: global templates (`orgs/<org_sid>/schemes/`) and a repository's own
//! (`.../repos/<repo_id>/initscheme/`, `schemes/`, `schemes/<scheme_id>/`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::api::blocking;
use crate::api::query::{paginate_all, Query};
use crate::api::{org_scope, repo_scope, require, views};
use crate::auth::Caller;
use crate::body::{Body, FieldReader, Fields};
use crate::db;
use crate::domain::gate::{self, GateThresholds};
use crate::domain::ids::{RepoId, SchemeId};
use crate::domain::scheme::{self, NewScheme};
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// The org's scheme templates, paginated as TCA's `ScanSchemeTemplateListApiView` answers.
pub async fn list_templates(
    request: HttpRequest,
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
    let templates = templates.iter().map(|s| views::scheme(s, tz)).collect();
    Ok(envelope::ok(paginate_all(
        &request,
        &Query::from_request(&request),
        templates,
    )?))
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
        let (_, _, repo, _) = repo_scope(&tx, &caller, &org_sid, &team_name, RepoId(repo_id))?;
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
        gate: read_gate(body, &mut fields, GateThresholds::default()),
    };
    fields.finish()?;
    Ok(new_scheme)
}

/// The repository's schemes, paginated as TCA's `ScanSchemeListApiView` answers.
pub async fn list_schemes(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let schemes = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        Ok(db::schemes::list_for_repo(conn, repo.id)?)
    })
    .await?;
    let schemes = schemes.iter().map(|s| views::scheme(s, tz)).collect();
    Ok(envelope::ok(paginate_all(
        &request,
        &Query::from_request(&request),
        schemes,
    )?))
}

pub async fn get_scheme(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let tz = state.config.tz_offset;
    let scheme = repo_scheme(&state, caller, path).await?;
    Ok(envelope::ok(views::scheme(&scheme, tz)))
}

type SchemePath = web::Path<(String, String, i64, i64)>;

/// The repository's scheme the URL names, once the caller may see the team.
async fn repo_scheme(
    state: &web::Data<AppState>,
    caller: crate::domain::user::User,
    path: SchemePath,
) -> Result<scheme::Scheme, AppError> {
    let (org_sid, team_name, repo_id, scheme_id) = path.into_inner();
    blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let scheme = db::schemes::get_for_repo(conn, repo.id, SchemeId(scheme_id))?
            .ok_or_else(|| AppError::not_found(format!("scheme {scheme_id}")))?;
        Ok(scheme)
    })
    .await
}

/// `schemes/<id>/lintconf/`: the scheme's code-check settings as TCA's
/// `ScanSchemeLintConfSerializer` shows them (`server/projects/main/apps/codeproj/serializers/
/// v3.py`). codepup has no rule sets (`checkprofile`) or build commands: its tools are listed in
/// `tools`.
pub async fn get_lint_conf(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let scheme = repo_scheme(&state, caller, path).await?;
    Ok(envelope::ok(json!({
        "id": scheme.id,
        "enabled": scheme.lint_enabled,
        "checkprofile": null,
        "scan_scheme": scheme.id,
        "build_cmd": null,
        "envs": null,
        "pre_cmd": null,
        "tools": scheme.tools,
    })))
}

/// `schemes/<id>/metricconf/`: the scheme's metric switches as TCA's
/// `ScanSchemeMetricConfSerializer` shows them, with TCA's defaults for the thresholds codepup
/// does not use (it computes neither complexity nor duplication yet).
pub async fn get_metric_conf(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let scheme = repo_scheme(&state, caller, path).await?;
    Ok(envelope::ok(json!({
        "id": scheme.id,
        "cc_scan_enabled": scheme.cc_scan_enabled,
        "min_ccn": scheme.min_ccn,
        "dup_scan_enabled": scheme.dup_scan_enabled,
        "dup_block_length_min": 120,
        "dup_block_length_max": null,
        "dup_min_dup_times": 2,
        "dup_max_dup_times": null,
        "dup_min_midd_rate": 5,
        "dup_min_high_rate": 11,
        "dup_min_exhi_rate": 20,
        "dup_issue_limit": 1000,
        "cloc_scan_enabled": scheme.cloc_scan_enabled,
        "scan_scheme": scheme.id,
    })))
}

/// The quality gate's thresholds in `body` over `current`: a field sent replaces its threshold,
/// null (or an empty form value) unsets it, a field not sent keeps it.
fn read_gate(
    body: &Fields,
    fields: &mut FieldReader<'_>,
    current: GateThresholds,
) -> GateThresholds {
    let count = |fields: &mut FieldReader<'_>, name: &str, kept: Option<i64>| {
        if !body.has(name) {
            kept
        } else if body.is_cleared(name) {
            None
        } else {
            fields.optional_int(name, 0, gate::MAX_COUNT)
        }
    };
    GateThresholds {
        max_new_errors: count(fields, "gate_max_new_errors", current.max_new_errors),
        no_new_secrets: if body.is_cleared("gate_no_new_secrets") {
            false
        } else {
            fields
                .optional_bool("gate_no_new_secrets")
                .unwrap_or(current.no_new_secrets)
        },
        max_new_complex: count(fields, "gate_max_new_complex", current.max_new_complex),
        max_dup_rate: if !body.has("gate_max_dup_rate") {
            current.max_dup_rate
        } else if body.is_cleared("gate_max_dup_rate") {
            None
        } else {
            fields.optional_number("gate_max_dup_rate", 0.0, gate::MAX_DUP_RATE)
        },
    }
}

/// `schemes/<id>/gateconf/`: the scheme's quality-gate thresholds (codepup's own; TCA has no
/// gate).
pub async fn get_gate_conf(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let scheme = repo_scheme(&state, caller, path).await?;
    Ok(envelope::ok(views::gate_conf(&scheme)))
}

/// `PUT schemes/<id>/gateconf/`: changes the thresholds sent (null unsets one); team admins.
/// The next job's verdict uses them; verdicts already given stay.
pub async fn update_gate_conf(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, scheme_id) = path.into_inner();
    let scheme = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, repo, access) = repo_scope(&tx, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let scheme = db::schemes::get_for_repo(&tx, repo.id, SchemeId(scheme_id))?
            .ok_or_else(|| AppError::not_found(format!("scheme {scheme_id}")))?;
        require(access.can_admin_team())?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let thresholds = read_gate(&body, &mut fields, scheme.gate);
        fields.finish()?;
        db::schemes::set_gate(&tx, scheme.id, &thresholds)?;
        tx.commit()?;
        Ok(scheme::Scheme {
            gate: thresholds,
            ..scheme
        })
    })
    .await?;
    Ok(envelope::ok(views::gate_conf(&scheme)))
}
