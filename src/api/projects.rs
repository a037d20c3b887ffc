//! Projects: `.../repos/<repo_id>/projects/` and `.../projects/<project_id>/`.

use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::Value;
use time::UtcOffset;

use crate::api::blocking;
use crate::api::query::{paginated, Query};
use crate::api::repos::repo_view;
use crate::api::{
    may_change_project, project_allowing, project_at, repo_scope, views, ProjectPath,
};
use crate::auth::Caller;
use crate::body::{Body, FieldReader, Fields};
use crate::db;
use crate::db::projects::{NewProject, ProjectFilter};
use crate::domain::ids::{RepoId, SchemeId};
use crate::domain::org::Team;
use crate::domain::project::{self, BranchName, Project, ScanPath};
use crate::domain::repo::Repo;
use crate::domain::scheme::Scheme;
use crate::envelope;
use crate::error::{AppError, E_PROJECT_CREATE};
use crate::git::{self, GitError};
use crate::AppState;

/// Which scheme a new project uses.
enum SchemeChoice {
    /// One of the repository's schemes.
    Own(Scheme),
    /// A template, to be copied into the repository under `name` (unless already copied there).
    FromTemplate { template: Scheme, name: String },
}

/// A validated project request, before the branch has been checked against the repository.
struct ProjectRequest {
    branch: BranchName,
    scan_path: ScanPath,
    created_from: String,
    scheme: SchemeChoice,
}

/// Creates a project (any team member). The branch must exist in the repository. Posting the
/// same branch, scheme and path again answers 200 with the existing project.
pub async fn create_project(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let scope_caller = caller.clone();
    let (repo, team, request, existing) = blocking::run(&state.pool, move |conn| {
        // Any member of the team may make a project (repo_scope checks that).
        let (_, team, repo, _) =
            repo_scope(conn, &scope_caller, &org_sid, &team_name, RepoId(repo_id))?;
        let request = read_project_request(conn, repo.id, &body.fields()?)?;
        let existing = existing_project(conn, &repo, &request)?;
        Ok((repo, team, request, existing))
    })
    .await?;
    if let Some(project) = existing {
        let view = blocking::run(&state.pool, move |conn| {
            project_view(conn, &project, &repo, &team, tz)
        })
        .await?;
        return Ok(envelope::ok(view));
    }
    let revision = branch_head(&state, &repo, &request.branch).await?;
    let (view, is_new) = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (project, is_new) = insert_project(&tx, &repo, &request, (caller.id, &revision))?;
        let view = project_view(&tx, &project, &repo, &team, tz)?;
        tx.commit()?;
        Ok((view, is_new))
    })
    .await?;
    Ok(if is_new {
        envelope::created(view)
    } else {
        envelope::ok(view)
    })
}

/// The project the request names, when it already exists with one of the repository's own
/// schemes (a template's copy is looked for once the copy is made).
fn existing_project(
    conn: &Connection,
    repo: &Repo,
    request: &ProjectRequest,
) -> Result<Option<Project>, AppError> {
    Ok(match &request.scheme {
        SchemeChoice::Own(scheme) => {
            let key = project::project_key(repo.id, scheme.id, &request.branch, &request.scan_path);
            db::projects::get_by_key(conn, &key)?
        }
        SchemeChoice::FromTemplate { .. } => None,
    })
}

/// The head of `branch` in the repository (400 when the branch does not exist). git runs on
/// the blocking pool without holding a database connection.
async fn branch_head(
    state: &web::Data<AppState>,
    repo: &Repo,
    branch: &BranchName,
) -> Result<String, AppError> {
    let fetch_url = repo.fetch_url.clone();
    let asked = branch.clone();
    let local = repo.local_path().map(|path| path.to_path_buf());
    let roots = state.config.local_repo_roots.clone();
    let head = web::block(move || {
        // The directory may have changed since it was registered.
        if let Some(path) = local {
            git::check_local_repository(&path, &roots)?;
        }
        git::remote_branch_head(&fetch_url, &asked)
    })
    .await?;
    match head {
        Ok(Some(revision)) => Ok(revision),
        Ok(None) => Err(AppError::invalid(
            "branch",
            format!(
                "代码库分支不存在: {branch:?} does not exist in {}",
                repo.scm_url
            ),
        )),
        Err(error) => Err(git_failure(repo, error)),
    }
}

/// The project the request names (with the template copied first when it names one): the
/// existing one, or a new one at `revision` (then `true`).
fn insert_project(
    tx: &Connection,
    repo: &Repo,
    request: &ProjectRequest,
    (creator, revision): (crate::domain::ids::UserId, &str),
) -> Result<(Project, bool), AppError> {
    let scheme_id = match &request.scheme {
        SchemeChoice::Own(scheme) => scheme.id,
        SchemeChoice::FromTemplate { template, name } => {
            copy_template(tx, repo, template, name, creator)?
        }
    };
    let key = project::project_key(repo.id, scheme_id, &request.branch, &request.scan_path);
    if let Some(project) = db::projects::get_by_key(tx, &key)? {
        return Ok((project, false));
    }
    let new_project = NewProject {
        branch: &request.branch,
        scheme_id,
        scan_path: &request.scan_path,
        project_key: &key,
        created_from: &request.created_from,
        creator,
        scm_initial_revision: Some(revision),
    };
    let project_id = db::projects::insert(tx, repo.id, &new_project)?;
    let project = db::projects::get(tx, repo.id, project_id)?.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "project {project_id} vanished after insert"
        ))
    })?;
    Ok((project, true))
}

/// The body of a new project: `branch`, `scan_path`, `created_from` and the scheme, every bad
/// field refused together.
fn read_project_request(
    conn: &Connection,
    repo_id: RepoId,
    body: &Fields,
) -> Result<ProjectRequest, AppError> {
    let mut fields = body.reader();
    let branch_text = fields.required_str("branch", 200);
    let branch = if branch_text.is_empty() {
        None
    } else {
        BranchName::parse(branch_text)
            .map_err(|message| fields.reject("branch", message))
            .ok()
    };
    let asked = SchemeAsked {
        scan_scheme_id: fields.optional_int("scan_scheme_id", 1, i64::MAX),
        global_scheme_id: fields.optional_int("global_scheme_id", 1, i64::MAX),
        custom_scheme_name: fields
            .optional_str("custom_scheme_name", 128)
            .filter(|n| !n.is_empty()),
    };
    let scan_path = match fields
        .optional_str("scan_path", 1024)
        .filter(|p| !p.is_empty())
    {
        None => Some(ScanPath::root()),
        Some(path) => ScanPath::parse(&path)
            .map_err(|message| fields.reject("scan_path", message))
            .ok(),
    };
    let created_from = fields
        .optional_str("created_from", 32)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "codedog_web".to_string());
    let scheme = choose_scheme(conn, repo_id, body, &mut fields, asked)?;
    fields.finish()?;
    let scheme = scheme.ok_or_else(|| AppError::invalid("scan_scheme_id", "no scheme chosen"))?;
    // `finish` refused every bad field, so both are parsed here.
    let (Some(branch), Some(scan_path)) = (branch, scan_path) else {
        return Err(AppError::invalid("branch", "This field may not be blank."));
    };
    Ok(ProjectRequest {
        branch,
        scan_path,
        created_from,
        scheme,
    })
}

/// The scheme fields of a new project's body, as read.
struct SchemeAsked {
    scan_scheme_id: Option<i64>,
    global_scheme_id: Option<i64>,
    custom_scheme_name: Option<String>,
}

/// The scheme a new project asks for: one of the repository's (`scan_scheme_id`) or a
/// template (`global_scheme_id`, copied as `custom_scheme_name`), exactly one of them; `None`
/// once `fields` holds the refusal.
fn choose_scheme(
    conn: &Connection,
    repo_id: RepoId,
    body: &Fields,
    fields: &mut FieldReader<'_>,
    asked: SchemeAsked,
) -> Result<Option<SchemeChoice>, AppError> {
    let SchemeAsked {
        scan_scheme_id,
        global_scheme_id,
        custom_scheme_name,
    } = asked;
    let (field, message) = match (scan_scheme_id, global_scheme_id) {
        (Some(_), Some(_)) => (
            "scan_scheme_id",
            "give scan_scheme_id or global_scheme_id, not both".to_string(),
        ),
        (Some(id), None) => match db::schemes::get_for_repo(conn, repo_id, SchemeId(id))? {
            Some(scheme) => return Ok(Some(SchemeChoice::Own(scheme))),
            None => (
                "scan_scheme_id",
                format!("scheme {id} is not a scheme of this repository"),
            ),
        },
        (None, Some(id)) => match db::schemes::get_template(conn, SchemeId(id))? {
            Some(template) => {
                let name = custom_scheme_name.unwrap_or_else(|| template.name.clone());
                return Ok(Some(SchemeChoice::FromTemplate { template, name }));
            }
            None => (
                "global_scheme_id",
                format!("there is no scheme template {id}"),
            ),
        },
        // A bad value was refused when read.
        (None, None) if body.has("scan_scheme_id") || body.has("global_scheme_id") => {
            return Ok(None)
        }
        (None, None) => (
            "scan_scheme_id",
            "give scan_scheme_id (a scheme of this repository) or global_scheme_id (a template)"
                .to_string(),
        ),
    };
    fields.reject(field, message);
    Ok(None)
}

/// The repository's copy of `template` named `name`: an earlier copy is reused, so re-posting a
/// project with `global_scheme_id` is idempotent; a different scheme of that name is a clash.
fn copy_template(
    conn: &Connection,
    repo: &Repo,
    template: &Scheme,
    name: &str,
    creator: crate::domain::ids::UserId,
) -> Result<SchemeId, AppError> {
    if let Some(scheme) = db::schemes::list_for_repo(conn, repo.id)?
        .into_iter()
        .find(|s| s.name == name)
    {
        if scheme.refer_scheme_id == Some(template.id.0) {
            return Ok(scheme.id);
        }
        return Err(AppError::invalid(
            "custom_scheme_name",
            format!("the repository already has a scheme named {name:?}; choose another custom_scheme_name"),
        ));
    }
    Ok(db::schemes::insert(
        conn,
        repo.id,
        &template.to_new(name.to_string()),
        Some(template.id),
        creator,
    )?)
}

fn git_failure(repo: &Repo, error: GitError) -> AppError {
    AppError::business(
        E_PROJECT_CREATE,
        format!("cannot read the branches of {}: {error}", repo.scm_url),
    )
}

/// The repository's projects, newest first; filters `branch`, `scan_scheme`, `status`; paginated.
pub async fn list_projects(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, projects) = blocking::run(&state.pool, move |conn| {
        let (_, team, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let filter = read_project_filter(&query)?;
        let page = query.page()?;
        let (count, projects) =
            db::projects::list(conn, repo.id, &filter, page.limit, page.offset)?;
        let views = projects
            .iter()
            .map(|project| project_view(conn, project, &repo, &team, tz))
            .collect::<Result<Vec<Value>, AppError>>()?;
        Ok((query, page, count, views))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, projects,
    )))
}

fn read_project_filter(query: &Query) -> Result<ProjectFilter, AppError> {
    let mut errors = Vec::new();
    let mut number = |key: &str| -> Option<i64> {
        let text = query.get(key)?;
        text.parse().map_err(|_| errors.push(key.to_string())).ok()
    };
    let filter = ProjectFilter {
        branch: query.get("branch").map(str::to_string),
        scan_scheme: number("scan_scheme"),
        status: number("status"),
    };
    if errors.is_empty() {
        return Ok(filter);
    }
    Err(AppError::InvalidInput(
        errors
            .into_iter()
            .map(|field| crate::error::FieldError {
                field,
                message: "Enter a number.".to_string(),
            })
            .collect(),
    ))
}

pub async fn get_project(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<ProjectPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let view = blocking::run(&state.pool, move |conn| {
        let (_, team, repo, project, _) = project_at(conn, &caller, &path)?;
        project_view(conn, &project, &repo, &team, tz)
    })
    .await?;
    Ok(envelope::ok(view))
}

/// Changes a project (TCA's `PUT .../projects/<id>/`, `ProjectUpdatetSerializer`): `status`
/// (1 to 5; an archived project cannot become active again), and codepup's `scan_scheme_id`, a
/// scheme of the same repository. The branch and scan path stay. Answers the project as `GET`
/// does.
pub async fn update_project(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<ProjectPath>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let view = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, team, repo, project, _) =
            project_allowing(&tx, &caller, &path, may_change_project(&caller))?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let status = fields.optional_int("status", i64::MIN, i64::MAX);
        if let Some(status) = status {
            if let Err(message) = project::check_status(status) {
                fields.reject("status", message);
            } else if let Err(message) = project::check_status_change(project.status, status) {
                fields.reject("cd_error", message);
            }
        }
        let scheme_id = fields.optional_int("scan_scheme_id", 1, i64::MAX);
        let scheme = match scheme_id {
            Some(id) => match db::schemes::get_for_repo(&tx, repo.id, SchemeId(id))? {
                Some(scheme) => Some(scheme),
                None => {
                    fields.reject(
                        "scan_scheme_id",
                        format!("scheme {id} is not a scheme of this repository"),
                    );
                    None
                }
            },
            None => None,
        };
        for fixed in ["branch", "scan_path"] {
            if body.has(fixed) {
                fields.reject(
                    fixed,
                    format!("{fixed} cannot be changed; make another project instead"),
                );
            }
        }
        fields.finish()?;
        let status = status.unwrap_or(project.status);
        let scheme_id = scheme.map_or(project.scheme_id, |scheme| scheme.id);
        let key = project::project_key(repo.id, scheme_id, &project.branch, &project.scan_path);
        if let Some(other) = db::projects::get_by_key(&tx, &key)? {
            if other.id != project.id {
                return Err(AppError::invalid(
                    "scan_scheme_id",
                    format!(
                        "project {} already scans branch {} with scheme {scheme_id}",
                        other.id, project.branch
                    ),
                ));
            }
        }
        db::projects::update(&tx, project.id, status, scheme_id, &key)?;
        let project = db::projects::get(&tx, repo.id, project.id)?.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "project {} vanished in an update",
                project.id
            ))
        })?;
        let view = project_view(&tx, &project, &repo, &team, tz)?;
        tx.commit()?;
        Ok(view)
    })
    .await?;
    Ok(envelope::ok(view))
}

/// Deletes a project (TCA's `DELETE .../projects/<id>/`): a soft delete, after which the project
/// answers 404 and its branch, scheme and path may be made a project again. Its unfinished jobs
/// are cancelled (301) and their tools stopped. Answers 204 without a body, as TCA does.
pub async fn delete_project(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<ProjectPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let queue = state.queue.clone();
    blocking::run(&state.pool, move |conn| {
        let (_, _, _, project, _) =
            project_allowing(conn, &caller, &path, may_change_project(&caller))?;
        // Deleted first: from here on no scan of it can start, so the cancels below catch
        // every job it will ever have.
        db::projects::delete(conn, project.id)?;
        for job_id in db::jobs::unfinished(conn, project.id)? {
            queue.cancel(conn, job_id, &caller.nickname, caller.id, "project deleted")?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A project with its repository and scheme nested.
fn project_view(
    conn: &Connection,
    project: &Project,
    repo: &Repo,
    team: &Team,
    tz: UtcOffset,
) -> Result<Value, AppError> {
    let scheme = db::schemes::get(conn, project.scheme_id)?.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "project {} has no scheme {}",
            project.id,
            project.scheme_id
        ))
    })?;
    let repo_json = repo_view(conn, repo, team, tz)?;
    let creator = match project.creator_id {
        Some(user_id) => db::users::summary(conn, user_id)?,
        None => None,
    };
    let nested = views::ProjectNested {
        repo: &repo_json,
        scheme: &views::scheme(&scheme, tz),
        creator: creator.as_ref(),
    };
    let mut view = views::project(project, nested, tz);
    // The schedule, and why the scheduler turned it off if it did (issue 10).
    let schedule = db::schedules::get(conn, project.id)?;
    view["scan_schedule"] = crate::api::schedules::schedule_view(schedule.as_ref(), tz);
    Ok(view)
}

/// The projects the caller may see, across orgs and teams, each with whether the caller may
/// start a scan of it (the status page's "scan now" list); paginated like every list.
pub async fn list_visible_projects(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let page = query.page()?;
    let (count, places) = blocking::run(&state.pool, move |conn| {
        Ok(db::access::list_visible_projects(
            conn,
            &caller,
            page.limit,
            page.offset,
        )?)
    })
    .await?;
    let results = places.iter().map(views::project_place).collect();
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}
