//! A scheme's rule configuration (`.../schemes/<id>/checkrules/`, `checkprofile/rules/...`) and
//! path filters (`.../schemes/<id>/scandirs/...`, TCA's shapes). Reading needs team membership;
//! changing needs a team admin (TCA: scheme, repository or team admin). A change applies from
//! the next scan.

use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::{json, Value};

use crate::analyzers::builtin;
use crate::api::query::{paginate_all, Query};
use crate::api::{blocking, repo_scope, require};
use crate::auth::Caller;
use crate::body::{Body, Fields};
use crate::db;
use crate::db::rules::Setting;
use crate::domain::access::Access;
use crate::domain::finding::Severity;
use crate::domain::ids::{RepoId, SchemeId};
use crate::domain::rules::{
    self, NewScanDir, PathType, RuleSetting, ScanDir, ScanType, MAX_SCANDIRS,
};
use crate::domain::scheme::Scheme;
use crate::domain::user::User;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

type SchemePath = web::Path<(String, String, i64, i64)>;

/// The repository's scheme named in the URL, with the caller's roles (404s, then 403 for a
/// caller outside the team).
fn scheme_scope(
    conn: &Connection,
    user: &User,
    path: &(String, String, i64, i64),
) -> Result<(Scheme, Access), AppError> {
    let (org_sid, team_name, repo_id, scheme_id) = path;
    let (_, _, repo, access) = repo_scope(conn, user, org_sid, team_name, RepoId(*repo_id))?;
    let scheme = db::schemes::get_for_repo(conn, repo.id, SchemeId(*scheme_id))?
        .ok_or_else(|| AppError::not_found(format!("scheme {scheme_id}")))?;
    Ok((scheme, access))
}

/// `checkrules/`: every rule of the built-in checker with its default and the scheme's
/// setting, then the settings of other tools' rules.
pub async fn list_rules(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let settings = blocking::run(&state.pool, move |conn| {
        let (scheme, _) = scheme_scope(conn, &caller, &path)?;
        Ok(db::rules::settings(conn, scheme.id)?)
    })
    .await?;
    let setting_of = |tool: &str, rule: &str| {
        settings
            .iter()
            .find(|setting| setting.tool == tool && setting.rule == rule)
    };
    let builtin_rules = builtin::RULES.iter().map(|rule| {
        rule_view(
            builtin::TOOL,
            rule.id,
            Some(rule),
            setting_of(builtin::TOOL, rule.id),
        )
    });
    let others = settings
        .iter()
        .filter(|setting| setting.tool != builtin::TOOL)
        .map(|setting| rule_view(&setting.tool, &setting.rule, None, Some(setting)));
    Ok(envelope::ok(
        builtin_rules.chain(others).collect::<Vec<_>>(),
    ))
}

/// One rule as `checkrules/` lists it: `state` 1 on, 2 off (TCA's package map states).
fn rule_view(
    tool: &str,
    rule: &str,
    builtin_rule: Option<&builtin::Rule>,
    setting: Option<&RuleSetting>,
) -> Value {
    let default_enabled = builtin_rule.is_none_or(|rule| rule.default_enabled);
    let default_severity = builtin_rule.map(|rule| rule.severity as i64);
    let enabled = setting.and_then(|s| s.enabled).unwrap_or(default_enabled);
    let severity = setting
        .and_then(|s| s.severity)
        .map(|severity| severity as i64)
        .or(default_severity);
    let state = |on: bool| if on { 1 } else { 2 };
    json!({
        "checktool": tool,
        "checkrule_real_name": rule,
        // As the issue list names a finding's rule.
        "checkrule_display_name": rule,
        "title": builtin_rule.map(|rule| rule.title),
        "category": builtin_rule.map(|rule| rule.category),
        "severity": severity,
        "state": state(enabled),
        "default_severity": default_severity,
        "default_state": state(default_enabled),
        "configured": setting.is_some(),
    })
}

/// What a rule change names: a tool this server knows and rules of it.
fn read_rules(
    fields: &mut crate::body::FieldReader<'_>,
    known_tools: &[String],
) -> (String, Vec<String>) {
    let tool = fields.required_str("checktool", 64);
    if !tool.is_empty() {
        if tool == "codecount" {
            fields.reject("checktool", "codecount counts lines and has no rules");
        } else if let Err(message) = crate::domain::scheme::check_tool(&tool, known_tools) {
            fields.reject("checktool", message);
        }
    }
    let names = match fields.optional_str_list("checkrules", rules::MAX_RULE_CHARS) {
        Some(names) if !names.is_empty() && names.len() <= 1000 => names,
        Some(names) if !names.is_empty() => {
            fields.reject(
                "checkrules",
                "Ensure this field has no more than 1000 elements.",
            );
            Vec::new()
        }
        Some(_) | None => {
            fields.reject("checkrules", "This field is required.");
            Vec::new()
        }
    };
    for name in &names {
        let known = tool != builtin::TOOL || builtin::rule(name).is_some();
        if !known {
            let ids: Vec<&str> = builtin::RULES.iter().map(|rule| rule.id).collect();
            fields.reject(
                "checkrules",
                format!(
                    "{name:?} is not a rule of codepup: it has {}",
                    ids.join(", ")
                ),
            );
        } else if let Err(message) = rules::check_rule_id(name) {
            fields.reject("checkrules", message);
        }
    }
    (tool, names)
}

/// The change a rule endpoint makes.
#[derive(Clone, Copy)]
enum RuleChange {
    State,
    Severity,
    Reset,
}

/// `checkprofile/rules/modifystate/` (`state` 1 on, 2 off), `.../modifyseverity/` (`severity`
/// 1 fatal to 4 info) and `.../delete/` (back to the default), for `checktool`'s `checkrules`.
async fn change_rules(
    state: web::Data<AppState>,
    caller: User,
    path: SchemePath,
    body: Body,
    change: RuleChange,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let known_tools = state.catalog.names();
    let changed = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (scheme, access) = scheme_scope(&tx, &caller, &path)?;
        require(access.can_admin_team())?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let (tool, names) = read_rules(&mut fields, &known_tools);
        let value = match change {
            RuleChange::State => required_int(&mut fields, &body, "state", 2),
            RuleChange::Severity => required_int(&mut fields, &body, "severity", 4),
            RuleChange::Reset => 0,
        };
        fields.finish()?;
        for name in &names {
            match change {
                RuleChange::State => {
                    let setting = Setting::Enabled(value == 1);
                    db::rules::set(&tx, scheme.id, &tool, name, setting)?
                }
                RuleChange::Severity => {
                    let severity = Severity::from_i64(value).unwrap_or(Severity::Info);
                    db::rules::set(&tx, scheme.id, &tool, name, Setting::Severity(severity))?
                }
                RuleChange::Reset => {
                    db::rules::reset(&tx, scheme.id, &tool, name)?;
                }
            }
        }
        tx.commit()?;
        Ok(names.len())
    })
    .await?;
    Ok(envelope::ok(
        json!({"detail": format!("{changed} rules changed")}),
    ))
}

/// An integer field from 1 to `max` that must be there (0 when it is missing or bad: the
/// reader then holds the problem).
fn required_int(
    fields: &mut crate::body::FieldReader<'_>,
    body: &Fields,
    field: &str,
    max: i64,
) -> i64 {
    if !body.has(field) {
        fields.reject(field, "This field is required.");
        return 0;
    }
    fields.optional_int(field, 1, max).unwrap_or(0)
}

pub async fn modify_rule_state(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_rules(state, caller, path, body, RuleChange::State).await
}

pub async fn modify_rule_severity(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_rules(state, caller, path, body, RuleChange::Severity).await
}

pub async fn reset_rules(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    change_rules(state, caller, path, body, RuleChange::Reset).await
}

fn scandir_view(dir: &ScanDir, scheme_id: SchemeId) -> Value {
    json!({
        "id": dir.id,
        "dir_path": dir.filter.dir_path,
        "path_type": dir.filter.path_type as i64,
        "scan_type": dir.filter.scan_type as i64,
        "scan_scheme": scheme_id,
    })
}

/// A path filter from a body: `dir_path`, `path_type` (default 1, wildcard), `scan_type`
/// (default 2, exclude).
fn read_scandir(body: &Fields) -> Result<NewScanDir, AppError> {
    let mut fields = body.reader();
    // Over-long paths get the domain's message; this bound only keeps the copy small.
    let dir_path = fields.required_str("dir_path", 64 * 1024);
    let path_type = fields.optional_int("path_type", 1, 2).unwrap_or(1);
    let scan_type = fields.optional_int("scan_type", 1, 2).unwrap_or(2);
    fields.finish()?;
    let path_type = PathType::from_i64(path_type).unwrap_or(PathType::Wildcard);
    let scan_type = ScanType::from_i64(scan_type).unwrap_or(ScanType::Exclude);
    NewScanDir::new(dir_path, path_type, scan_type)
        .map_err(|message| AppError::invalid("dir_path", message))
}

fn duplicate(dir_path: &str) -> AppError {
    AppError::invalid(
        "dir_path",
        format!("the scheme already has a path filter {dir_path:?}"),
    )
}

/// Refuses filters that compile one by one but not together with the scheme's others (the
/// expressions of a scan are matched as one set, within the same size limit). `replacing` is
/// the filter an update changes.
fn check_together(
    conn: &Connection,
    scheme_id: SchemeId,
    added: &[NewScanDir],
    replacing: Option<i64>,
) -> Result<(), AppError> {
    let mut dirs: Vec<ScanDir> = db::rules::scandirs(conn, scheme_id)?
        .into_iter()
        .filter(|dir| Some(dir.id) != replacing)
        .collect();
    dirs.extend(added.iter().map(|filter| ScanDir {
        id: 0,
        filter: filter.clone(),
    }));
    rules::PathFilter::new(&dirs)
        .map(|_| ())
        .map_err(|message| {
            AppError::invalid(
                "dir_path",
                format!("together with the scheme's other path filters: {message}"),
            )
        })
}

fn too_many() -> AppError {
    AppError::invalid(
        "dir_path",
        format!("a scheme has at most {MAX_SCANDIRS} path filters"),
    )
}

pub async fn list_scandirs(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    request: HttpRequest,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let query = Query::from_request(&request);
    let (scheme_id, dirs) = blocking::run(&state.pool, move |conn| {
        let (scheme, _) = scheme_scope(conn, &caller, &path)?;
        Ok((scheme.id, db::rules::scandirs(conn, scheme.id)?))
    })
    .await?;
    let items = dirs
        .iter()
        .map(|dir| scandir_view(dir, scheme_id))
        .collect();
    Ok(envelope::ok(paginate_all(&request, &query, items)?))
}

pub async fn create_scandir(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let (scheme_id, dir) = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (scheme, access) = scheme_scope(&tx, &caller, &path)?;
        require(access.can_admin_team())?;
        let filter = read_scandir(&body.fields()?)?;
        if db::rules::has_scandir(&tx, scheme.id, &filter.dir_path)? {
            return Err(duplicate(&filter.dir_path));
        }
        if db::rules::count_scandirs(&tx, scheme.id)? >= MAX_SCANDIRS {
            return Err(too_many());
        }
        check_together(&tx, scheme.id, std::slice::from_ref(&filter), None)?;
        let id = db::rules::insert_scandir(&tx, scheme.id, &filter)?;
        tx.commit()?;
        Ok((scheme.id, ScanDir { id, filter }))
    })
    .await?;
    Ok(envelope::created(scandir_view(&dir, scheme_id)))
}

/// `scandirs/bulkcreate/`: `{"scandirs": [...]}`; filters whose `dir_path` the scheme has
/// already are skipped, as TCA does. All are checked before any is stored.
pub async fn bulk_create_scandirs(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let detail = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (scheme, access) = scheme_scope(&tx, &caller, &path)?;
        require(access.can_admin_team())?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let items = fields.optional_object_list("scandirs", MAX_SCANDIRS);
        if items.is_none() && !body.has("scandirs") {
            fields.reject("scandirs", "This field is required.");
        }
        fields.finish()?;
        let mut filters = Vec::new();
        for (index, item) in items.unwrap_or_default().iter().enumerate() {
            let filter = read_scandir(item).map_err(|error| match error {
                AppError::InvalidInput(problems) => AppError::invalid(
                    "scandirs",
                    problems
                        .iter()
                        .map(|problem| {
                            format!("item {index}: {} {}", problem.field, problem.message)
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                other => other,
            })?;
            filters.push(filter);
        }
        check_together(&tx, scheme.id, &filters, None)?;
        let (mut added, mut skipped) = (0, 0);
        for filter in &filters {
            if db::rules::has_scandir(&tx, scheme.id, &filter.dir_path)? {
                skipped += 1;
                continue;
            }
            if db::rules::count_scandirs(&tx, scheme.id)? >= MAX_SCANDIRS {
                return Err(too_many());
            }
            db::rules::insert_scandir(&tx, scheme.id, filter)?;
            added += 1;
        }
        tx.commit()?;
        Ok(format!(
            "{added} path filters added, {skipped} skipped (already there)"
        ))
    })
    .await?;
    Ok(envelope::ok(json!({"detail": detail})))
}

pub async fn clear_scandirs(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: SchemePath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (scheme, access) = scheme_scope(&tx, &caller, &path)?;
        require(access.can_admin_team())?;
        db::rules::clear_scandirs(&tx, scheme.id)?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What `scandirs/<dir_id>/` does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DirAction {
    Get,
    Update,
    Delete,
}

async fn one_scandir(
    state: web::Data<AppState>,
    caller: User,
    path: web::Path<(String, String, i64, i64, i64)>,
    body: Option<Body>,
    action: DirAction,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, scheme_id, dir_id) = path.into_inner();
    let scheme_path = (org_sid, team_name, repo_id, scheme_id);
    let dir = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (scheme, access) = scheme_scope(&tx, &caller, &scheme_path)?;
        let dir = db::rules::get_scandir(&tx, scheme.id, dir_id)?
            .ok_or_else(|| AppError::not_found(format!("scandir {dir_id}")))?;
        if action != DirAction::Get {
            require(access.can_admin_team())?;
        }
        let dir = match (action, body) {
            (DirAction::Update, Some(body)) => {
                let filter = read_scandir(&body.fields()?)?;
                if filter.dir_path != dir.filter.dir_path
                    && db::rules::has_scandir(&tx, scheme.id, &filter.dir_path)?
                {
                    return Err(duplicate(&filter.dir_path));
                }
                check_together(&tx, scheme.id, std::slice::from_ref(&filter), Some(dir_id))?;
                db::rules::update_scandir(&tx, scheme.id, dir_id, &filter)?;
                Some(ScanDir { id: dir_id, filter })
            }
            (DirAction::Delete, _) => {
                db::rules::delete_scandir(&tx, scheme.id, dir_id)?;
                None
            }
            _ => Some(dir),
        };
        tx.commit()?;
        Ok(dir.map(|dir| scandir_view(&dir, scheme.id)))
    })
    .await?;
    Ok(match dir {
        Some(view) => envelope::ok(view),
        None => HttpResponse::NoContent().finish(),
    })
}

pub async fn get_scandir(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    one_scandir(state, caller, path, None, DirAction::Get).await
}

pub async fn update_scandir(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64)>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    one_scandir(state, caller, path, Some(body), DirAction::Update).await
}

pub async fn delete_scandir(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    one_scandir(state, caller, path, None, DirAction::Delete).await
}
