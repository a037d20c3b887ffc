//! Repositories: `.../teams/<team_name>/repos/` and `.../repos/<repo_id>/`.

use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::{json, Value};
use time::UtcOffset;

use crate::api::blocking;
use crate::api::query::{paginated, Query};
use crate::api::{repo_scope, require, team_scope, views};
use crate::auth::Caller;
use crate::body::Body;
use crate::db;
use crate::db::repos::{NewRepo, RepoFilter};
use crate::domain::ids::RepoId;
use crate::domain::org::Team;
use crate::domain::repo::{Repo, RepoUrl};
use crate::envelope;
use crate::error::{AppError, E_REPO_EXISTS};
use crate::git;
use crate::AppState;

/// Registers a repository: team admin or org admin. The URL is checked and normalised; git never
/// sees a remote one here, and a local one only through `git::check_local_repository`.
pub async fn create_repo(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name) = path.into_inner();
    let config = state.config.clone();
    let repo = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, team, access) = team_scope(&tx, &caller, &org_sid, &team_name)?;
        require(access.can_admin_team())?;
        let request = read_repo_request(&body.fields()?, &config.local_repo_roots)?;
        let new_repo = NewRepo {
            url: &request.url,
            name: (request.name.as_deref()).unwrap_or(request.url.default_name()),
            ssh_url: request.ssh_url.as_deref(),
            created_from: (request.created_from.as_deref()).unwrap_or("codedog_web"),
            creator: caller.id,
        };
        let repo = insert_repo(&tx, &team, &new_repo)?;
        let view = repo_view(&tx, &repo, &team, config.tz_offset)?;
        tx.commit()?;
        Ok(view)
    })
    .await?;
    Ok(envelope::created(repo))
}

/// A new repository's body, checked.
struct RepoRequest {
    url: RepoUrl,
    name: Option<String>,
    ssh_url: Option<String>,
    created_from: Option<String>,
}

/// `scm_url` (required), `scm_type` (git only), `name`, `ssh_url` and `created_from`, every
/// bad field refused together.
fn read_repo_request(
    body: &crate::body::Fields,
    roots: &[std::path::PathBuf],
) -> Result<RepoRequest, AppError> {
    let mut fields = body.reader();
    let scm_url = fields.required_str("scm_url", 1024);
    let scm_type = fields
        .optional_str("scm_type", 16)
        .unwrap_or_else(|| "git".to_string());
    if scm_type != "git" {
        fields.reject(
            "scm_type",
            format!("\"{scm_type}\" is not supported: codepup scans git repositories only"),
        );
    }
    let name = fields.optional_str("name", 128).filter(|n| !n.is_empty());
    let ssh_url = fields
        .optional_str("ssh_url", 1024)
        .filter(|u| !u.is_empty());
    if ssh_url
        .as_deref()
        .is_some_and(|url| url.starts_with('-') || url.chars().any(char::is_whitespace))
    {
        fields.reject(
            "ssh_url",
            "an ssh URL may not start with '-' or contain spaces",
        );
    }
    let created_from = fields
        .optional_str("created_from", 32)
        .filter(|c| !c.is_empty());
    let url = if scm_url.is_empty() {
        None
    } else {
        check_repo_url(&scm_url, roots)
            .map_err(|message| fields.reject("scm_url", message))
            .ok()
    };
    fields.finish()?;
    let url = url.ok_or_else(|| AppError::invalid("scm_url", "This field is required."))?;
    Ok(RepoRequest {
        url,
        name,
        ssh_url,
        created_from,
    })
}

/// `scm_url` parsed; a local path is also checked with git (one quick `rev-parse`, run with
/// the registration's transaction open: registrations are rare, and what is checked is what
/// is stored).
fn check_repo_url(scm_url: &str, roots: &[std::path::PathBuf]) -> Result<RepoUrl, String> {
    let url = RepoUrl::parse(scm_url, roots)?;
    match url.local_path() {
        Some(path) => git::check_local_repository(path, roots)
            .map(|()| url)
            .map_err(|error| error.to_string()),
        None => Ok(url),
    }
}

/// Stores the new repository in the team (TCA's 代码库已接入 when its URL is there already).
fn insert_repo(tx: &Connection, team: &Team, new_repo: &NewRepo<'_>) -> Result<Repo, AppError> {
    let repo_id = db::repos::insert(tx, team.id, new_repo).map_err(|error| {
        if db::is_unique_violation(&error) {
            AppError::business(
                E_REPO_EXISTS,
                format!(
                    "代码库已接入: {} is already registered in this team",
                    new_repo.url.scm_url()
                ),
            )
        } else {
            error.into()
        }
    })?;
    db::repos::get(tx, team.id, repo_id)?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("repo {repo_id} vanished after insert")))
}

/// The team's repositories, newest first; filters `scm_url_or_name` (substring) and `scm_url`
/// (exact after normalisation); paginated.
pub async fn list_repos(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name) = path.into_inner();
    let query = Query::from_request(&request);
    // Refused only after the 404 and 403 checks, below.
    let page = query.page();
    let roots = state.config.local_repo_roots.clone();
    let filter = RepoFilter {
        scm_url_or_name: query.get("scm_url_or_name").map(str::to_string),
        scm_url: query.get("scm_url").map(|text| {
            RepoUrl::parse(text, &roots)
                .map_or_else(|_| text.to_string(), |url| url.scm_url().to_string())
        }),
    };
    let tz = state.config.tz_offset;
    let (page, count, repos) = blocking::run(&state.pool, move |conn| {
        let (_, team, _) = team_scope(conn, &caller, &org_sid, &team_name)?;
        let page = page?;
        let (count, repos) = db::repos::list(conn, team.id, &filter, page.limit, page.offset)?;
        let views = repos
            .iter()
            .map(|repo| repo_view(conn, repo, &team, tz))
            .collect::<Result<Vec<Value>, AppError>>()?;
        Ok((page, count, views))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, repos,
    )))
}

/// `v3/orgs/<org>/repos/`: the repositories of every team of the org the caller may see,
/// newest first, each with its `project_team` (the org's workspace page in TCA's UI, whose
/// list is TCA's `OrgRepositoryListApiView`); `scm_url_or_name` filters as for a team.
pub async fn list_org_repos(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let query = Query::from_request(&request);
    let filter = RepoFilter {
        scm_url_or_name: query.get("scm_url_or_name").map(str::to_string),
        scm_url: None,
    };
    let tz = state.config.tz_offset;
    let page = query.page();
    let (page, count, repos) = blocking::run(&state.pool, move |conn| {
        let (org, access) = crate::api::org_scope(conn, &caller, &org_sid)?;
        require(access.can_view_org())?;
        let page = page?;
        let mut found: Vec<(Repo, Team)> = Vec::new();
        for team in db::teams::list(conn, org.id, &caller, access.can_admin_org())? {
            let (_, repos) = db::repos::list(conn, team.id, &filter, i64::MAX, 0)?;
            found.extend(repos.into_iter().map(|repo| (repo, team.clone())));
        }
        found.sort_by_key(|(repo, _)| std::cmp::Reverse(repo.id));
        let count = i64::try_from(found.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let views = found
            .iter()
            .skip(skip)
            .take(take)
            .map(|(repo, team)| repo_view(conn, repo, team, tz))
            .collect::<Result<Vec<Value>, AppError>>()?;
        Ok((page, count, views))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, repos,
    )))
}

pub async fn get_repo(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let repo = blocking::run(&state.pool, move |conn| {
        let (_, team, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        repo_view(conn, &repo, &team, tz)
    })
    .await?;
    Ok(envelope::ok(repo))
}

/// `repos/<id>/memberconf/`: the repository's admins, as TCA's `RepositoryMemberConfApiView`
/// answers (`{admins: [...]}`; its plain members are the team's). codepup's one repository
/// admin is whoever registered it.
pub async fn get_repo_members(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let creator = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        Ok(match repo.creator_id {
            Some(user_id) => db::users::summary(conn, user_id)?,
            None => None,
        })
    })
    .await?;
    Ok(envelope::ok(json!({
        "admins": creator.iter().map(views::user_brief).collect::<Vec<Value>>(),
    })))
}

/// A repository with its counts and creator, as every repository answer shows it.
pub(crate) fn repo_view(
    conn: &Connection,
    repo: &Repo,
    team: &Team,
    tz: UtcOffset,
) -> Result<Value, AppError> {
    let stats = db::repos::stats(conn, repo.id)?;
    let creator = match repo.creator_id {
        Some(user_id) => db::users::summary(conn, user_id)?,
        None => None,
    };
    Ok(views::repo(repo, &stats, creator.as_ref(), team, tz))
}

/// The branches of the repository's projects, by name (TCA's `branchnames/`,
/// `ScanBranchNameListApiView`: `{branch}` per branch, `branch` filter a substring); paginated.
pub async fn list_branch_names(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let query = Query::from_request(&request);
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let page = query.page()?;
        let (count, branches) = db::projects::branch_names(
            conn,
            repo.id,
            query.get("branch"),
            page.limit,
            page.offset,
        )?;
        let results = branches
            .into_iter()
            .map(|branch| json!({"branch": branch}))
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// The branches of the repository's projects, each with its projects' schemes (TCA's v1
/// `branches/`, `RepoBranchListApiView` and `ScanBranchSerializer`); `scheme_status` keeps the
/// branches with a project whose scheme has that status (a value that is not a number is
/// ignored, as in TCA); paginated.
pub async fn list_branches(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let query = Query::from_request(&request);
    let scheme_status = query
        .get("scheme_status")
        .and_then(|text| text.parse::<i64>().ok());
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let page = query.page()?;
        let (_, all) = db::projects::branch_names(conn, repo.id, None, i64::MAX, 0)?;
        let projects = db::projects::on_branches(conn, repo.id, &all)?;
        // TCA filters the branches by scheme status but lists every project of a branch.
        let branches: Vec<&String> = all
            .iter()
            .filter(|branch| {
                scheme_status.is_none_or(|status| {
                    projects
                        .iter()
                        .any(|p| &&p.branch == branch && p.scheme_status == status)
                })
            })
            .collect();
        let count = branches.len() as i64;
        let results = branches
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
            .map(|branch| {
                let schemes: Vec<Value> = projects
                    .iter()
                    .filter(|p| &p.branch == branch)
                    .map(|p| {
                        json!({
                            "project_id": p.project_id,
                            "scan_scheme_id": p.scheme_id,
                            "scan_scheme_name": p.scheme_name,
                        })
                    })
                    .collect();
                json!({"branch": branch, "schemes": schemes})
            })
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// The projects on one branch whose scheme has `scheme_status` (default 1, active): TCA's
/// `branch/projects/` (`ScanBranchProjectListApiView`), a plain list of `{id, branch,
/// scan_scheme__name}`. `branch` is required.
pub async fn list_branch_projects(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let query = Query::from_request(&request);
    let projects = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) =
            repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let branch = query
            .get("branch")
            .ok_or_else(|| AppError::invalid("branch", "分支名称筛选项必填"))?
            .to_string();
        let scheme_status = match query.get("scheme_status") {
            None => 1,
            Some(text) => text.parse::<i64>().map_err(|_| {
                AppError::invalid("scheme_status", "A valid integer is required.")
            })?,
        };
        let projects = db::projects::on_branches(conn, repo.id, &[branch])?;
        Ok(projects
            .into_iter()
            .filter(|p| p.scheme_status == scheme_status)
            .map(|p| json!({"id": p.project_id, "branch": p.branch, "scan_scheme__name": p.scheme_name}))
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(envelope::ok(Value::Array(projects)))
}
