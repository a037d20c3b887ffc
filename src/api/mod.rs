//! The URL table of the JSON API, on one screen, and the lookups every handler shares.
//! Handlers hold no SQL: each makes one `blocking::run` call whose closure resolves the URL's objects,
//! checks permission and does the work.

pub mod blocking;
pub mod codemetric;
pub mod credential;
pub mod findings;
pub mod hooks;
pub mod jobs;
pub mod nodes;
pub mod notify;
pub mod ops;
pub mod orgs;
pub mod overview;
pub mod projects;
pub mod query;
pub mod repos;
pub mod rules;
pub mod scans;
pub mod schedules;
pub mod schemes;
pub mod tasks;
pub mod teams;
pub mod trends;
pub mod triage;
pub mod users;
pub mod views;

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse, Resource};
use rusqlite::Connection;

use crate::db;
use crate::domain::access::Access;
use crate::domain::ids::{JobId, ProjectId, RepoId};
use crate::domain::job::Job;
use crate::domain::org::{Org, Team};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::user::User;
use crate::error::AppError;
use crate::AppState;

/// Registers the API under its prefixes: `/server/main/api` as clients call it behind TCA's
/// proxy, `/main/api` behind TCA's stock nginx (which strips `/server/`), and `/api` for a proxy
/// that strips more. The analysis and credential services answer likewise with and without
/// `/server`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(ops::healthz)))
        .service(resource("/readyz").route(web::get().to(ops::readyz)));
    for prefix in ["/server/credential/api/v3", "/credential/api/v3"] {
        cfg.service(web::scope(prefix).configure(credential_routes));
    }
    for prefix in ["/server/main/api", "/main/api", "/api"] {
        cfg.service(
            web::scope(prefix)
                .service(
                    web::scope("/v2")
                        .service(resource("/jobs/").route(web::get().to(jobs::list_all_jobs)))
                        .service(
                            resource("/jobs/tasks/").route(web::get().to(tasks::list_all_tasks)),
                        )
                        .service(
                            resource("/jobs/{job_id:\\d+}/cancel/")
                                .route(web::post().to(jobs::cancel_any_job)),
                        ),
                )
                .service(
                    web::scope("/v3")
                        .service(resource("/users/").route(web::post().to(users::create_user)))
                        .service(
                            resource("/authen/userinfo/")
                                .route(web::get().to(users::get_userinfo))
                                .route(web::put().to(credential::update_userinfo)),
                        )
                        .service(
                            resource("/authen/userinfo/password/")
                                .route(web::put().to(credential::set_own_password)),
                        )
                        .service(
                            resource("/authen/userinfo/token/")
                                .route(web::put().to(users::rotate_token)),
                        )
                        .service(resource("/jobs/").route(web::get().to(jobs::list_recent_jobs)))
                        .service(
                            resource("/jobs/summary/")
                                .route(web::get().to(jobs::get_queue_summary)),
                        )
                        .service(
                            resource("/projects/")
                                .route(web::get().to(projects::list_visible_projects)),
                        )
                        .service(web::scope("/orgs").configure(org_routes)),
                )
                .service(web::scope("/orgs").configure(org_routes))
                // Forges deliver here, without a token: the signature is the credential.
                .service(
                    resource("/hooks/{hook_key}/").route(web::post().to(hooks::receive_delivery)),
                ),
        );
    }
    for prefix in ["/server/analysis/api", "/analysis/api"] {
        cfg.service(
            web::scope(prefix)
                .service(web::scope("/v3/orgs").configure(scan_routes))
                .service(
                    web::scope("/orgs")
                        .configure(analysis_routes)
                        .configure(scan_routes),
                ),
        );
    }
}

/// TCA's credential service, as its login page calls it.
fn credential_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/login/get_oapassword_info/").route(web::post().to(credential::sign_in)))
        .service(
            resource("/login/user/")
                .route(web::get().to(credential::get_signed_in_user))
                .route(web::put().to(credential::update_signed_in_user)),
        );
}

/// The scan history and the branch overview's cards, on TCA's analysis paths under both
/// `orgs/` and `v3/orgs/` (the UI calls v3).
fn scan_routes(cfg: &mut web::ServiceConfig) {
    const PROJECT: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}";
    for nothing_yet in [
        "overview/lintscans/",
        "overview/cycscans/",
        "overview/dupscans/",
        "overview/clocscans/",
        "codemetric/ccissues/",
    ] {
        cfg.service(
            resource(&format!("{PROJECT}/{nothing_yet}"))
                .route(web::get().to(overview::list_nothing_yet)),
        );
    }
    cfg.service(
        resource(&format!("{PROJECT}/overview/lintscans/latest/"))
            .route(web::get().to(overview::get_latest_lint_overview)),
    )
    .service(
        resource(&format!("{PROJECT}/overview/mine/"))
            .route(web::get().to(overview::get_my_overview)),
    )
    .service(resource(&format!("{PROJECT}/scans/")).route(web::get().to(scans::list_scans)))
    .service(
        resource(&format!("{PROJECT}/scans/{{scan_id:\\d+}}/"))
            .route(web::get().to(scans::get_scan)),
    );
}

/// TCA's analysis API (lint findings and the project overview), below `orgs/`.
fn analysis_routes(cfg: &mut web::ServiceConfig) {
    const PROJECT: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}";
    cfg.service(
        resource(&format!("{PROJECT}/codelint/issues/"))
            .route(web::get().to(findings::list_issues)),
    )
    .service(
        resource(&format!("{PROJECT}/codelint/issues/{{issue_id:\\d+}}/"))
            .route(web::get().to(findings::get_issue)),
    )
    .service(resource(&format!("{PROJECT}/overview/")).route(web::get().to(findings::get_overview)))
    .configure(triage_routes)
    .configure(codemetric_routes);
}

/// Triage (issue 11): TCA's codelint endpoints that change findings, their history, and the
/// per-scan finding list. TCA's views answer PUT; its documents say POST: both are served.
fn triage_routes(cfg: &mut web::ServiceConfig) {
    const ISSUES: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codelint/issues";
    const ISSUE: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codelint/issues/{issue_id:\\d+}";
    cfg.service(
        resource(&format!("{ISSUES}/resolution/"))
            .route(web::put().to(triage::bulk_update_resolution)),
    )
    .service(resource(&format!("{ISSUES}/author/")).route(web::put().to(triage::bulk_update_author)))
    .service(
        resource(&format!("{ISSUES}/authors/")).route(web::get().to(triage::list_issue_authors)),
    )
    .service(
        resource(&format!("{ISSUE}/resolution/"))
            .route(web::put().to(triage::update_issue_resolution))
            .route(web::post().to(triage::update_issue_resolution)),
    )
    .service(
        resource(&format!("{ISSUE}/severity/"))
            .route(web::put().to(triage::update_issue_severity))
            .route(web::post().to(triage::update_issue_severity)),
    )
    .service(
        resource(&format!("{ISSUE}/author/"))
            .route(web::put().to(triage::update_issue_author))
            .route(web::post().to(triage::update_issue_author)),
    )
    .service(
        resource(&format!("{ISSUE}/comments/"))
            .route(web::get().to(triage::list_issue_comments))
            .route(web::post().to(triage::create_issue_comment)),
    )
    .service(
        resource("/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codelint/scans/{scan_id:\\d+}/issues/")
            .route(web::get().to(triage::list_scan_issues)),
    );
}

/// TCA's code-metrics paths (`codemetric/api_urls/v1_pt.py`), for the latest measure and per scan.
fn codemetric_routes(cfg: &mut web::ServiceConfig) {
    const METRIC: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/codemetric";
    for scope in ["", "/scans/{scan_id:\\d+}"] {
        let base = format!("{METRIC}{scope}");
        cfg.service(
            resource(&format!("{base}/ccissues/"))
                .route(web::get().to(codemetric::list::<{ codemetric::CC_ISSUES }>)),
        )
        .service(
            resource(&format!("{base}/ccfiles/"))
                .route(web::get().to(codemetric::list::<{ codemetric::CC_FILES }>)),
        )
        .service(
            resource(&format!("{base}/ccfiles/{{file_id:\\d+}}/ccissues/"))
                .route(web::get().to(codemetric::list::<{ codemetric::CC_ISSUES }>)),
        )
        .service(
            resource(&format!("{base}/dupfiles/"))
                .route(web::get().to(codemetric::list::<{ codemetric::DUP_FILES }>)),
        );
    }
    cfg.service(
        resource(&format!("{METRIC}/dupfiles/{{file_id:\\d+}}/"))
            .route(web::get().to(codemetric::get_dup_file)),
    )
    .service(
        resource(&format!("{METRIC}/dupfiles/{{file_id:\\d+}}/blocks/"))
            .route(web::get().to(codemetric::list::<{ codemetric::DUP_BLOCKS }>)),
    );
}

/// A scheme's rule configuration and path filters (issue 11), on TCA's paths.
fn rules_routes(cfg: &mut web::ServiceConfig) {
    const SCHEME: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/schemes/{scheme_id:\\d+}";
    cfg.service(resource(&format!("{SCHEME}/checkrules/")).route(web::get().to(rules::list_rules)))
        .service(
            resource(&format!("{SCHEME}/checkprofile/rules/modifystate/"))
                .route(web::put().to(rules::modify_rule_state)),
        )
        .service(
            resource(&format!("{SCHEME}/checkprofile/rules/modifyseverity/"))
                .route(web::put().to(rules::modify_rule_severity)),
        )
        .service(
            resource(&format!("{SCHEME}/checkprofile/rules/delete/"))
                .route(web::delete().to(rules::reset_rules)),
        )
        .service(
            resource(&format!("{SCHEME}/scandirs/"))
                .route(web::get().to(rules::list_scandirs))
                .route(web::post().to(rules::create_scandir)),
        )
        .service(
            resource(&format!("{SCHEME}/scandirs/bulkcreate/"))
                .route(web::post().to(rules::bulk_create_scandirs)),
        )
        .service(
            resource(&format!("{SCHEME}/scandirs/clear/"))
                .route(web::delete().to(rules::clear_scandirs)),
        )
        .service(
            resource(&format!("{SCHEME}/scandirs/{{dir_id:\\d+}}/"))
                .route(web::get().to(rules::get_scandir))
                .route(web::put().to(rules::update_scandir))
                .route(web::delete().to(rules::delete_scandir)),
        );
}

/// Everything below `orgs/`, served under both `orgs/` (TCA's v1 open API) and `v3/orgs/`.
fn org_routes(cfg: &mut web::ServiceConfig) {
    const TEAM: &str = "/{org_sid}/teams/{team_name}";
    const REPO: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}";
    const PROJECT: &str =
        "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}";
    const JOB: &str = "/{org_sid}/teams/{team_name}/repos/{repo_id:\\d+}/projects/{project_id:\\d+}/jobs/{job_id:\\d+}";
    // First: clients start scans in bulk, and actix tries the resources in order, each a regex
    // match of the path (the access log matches the path once more for its route label). The
    // patterns never match the same path, so order changes nothing else.
    cfg.service(
        resource(&format!("{PROJECT}/scans/create/")).route(web::post().to(jobs::create_scan)),
    )
    // TCA's UI starts scans here (`createJob`); the same handler as `scans/create/`.
    .service(resource(&format!("{PROJECT}/scans/")).route(web::post().to(jobs::create_scan)))
    .service(
        resource("/")
            .route(web::get().to(orgs::list_orgs))
            .route(web::post().to(orgs::create_org)),
    )
    .service(resource("/{org_sid}/").route(web::get().to(orgs::get_org)))
    .service(
        resource("/{org_sid}/memberconf/")
            .route(web::get().to(orgs::list_org_members))
            .route(web::post().to(orgs::add_org_members)),
    )
    .service(resource("/{org_sid}/schemes/").route(web::get().to(schemes::list_templates)))
    .service(resource("/{org_sid}/repos/").route(web::get().to(repos::list_org_repos)))
    .service(resource("/{org_sid}/nodes/").route(web::get().to(nodes::list_nodes)))
    .service(resource("/{org_sid}/nodes/tags/").route(web::get().to(nodes::list_node_tags)))
    .service(
        resource("/{org_sid}/teams/")
            .route(web::get().to(teams::list_teams))
            .route(web::post().to(teams::create_team)),
    )
    .service(resource(&format!("{TEAM}/")).route(web::get().to(teams::get_team)))
    .service(
        resource(&format!("{TEAM}/memberconf/"))
            .route(web::get().to(teams::list_team_members))
            .route(web::post().to(teams::add_team_members)),
    )
    .service(
        resource(&format!("{TEAM}/repos/"))
            .route(web::get().to(repos::list_repos))
            .route(web::post().to(repos::create_repo)),
    )
    .service(resource(&format!("{REPO}/")).route(web::get().to(repos::get_repo)))
    .service(resource(&format!("{REPO}/memberconf/")).route(web::get().to(repos::get_repo_members)))
    .service(resource(&format!("{REPO}/initscheme/")).route(web::post().to(schemes::create_scheme)))
    .service(resource(&format!("{REPO}/schemes/")).route(web::get().to(schemes::list_schemes)))
    .service(
        resource(&format!("{REPO}/schemes/{{scheme_id:\\d+}}/"))
            .route(web::get().to(schemes::get_scheme)),
    )
    .configure(rules_routes)
    .service(
        resource(&format!("{REPO}/schemes/{{scheme_id:\\d+}}/lintconf/"))
            .route(web::get().to(schemes::get_lint_conf)),
    )
    .service(
        resource(&format!("{REPO}/schemes/{{scheme_id:\\d+}}/metricconf/"))
            .route(web::get().to(schemes::get_metric_conf)),
    )
    .service(
        resource(&format!("{REPO}/projects/"))
            .route(web::get().to(projects::list_projects))
            .route(web::post().to(projects::create_project)),
    )
    .service(
        resource(&format!("{REPO}/projects/{{project_id:\\d+}}/"))
            .route(web::get().to(projects::get_project))
            .route(web::put().to(projects::update_project))
            .route(web::patch().to(projects::update_project))
            .route(web::delete().to(projects::delete_project)),
    )
    .service(
        resource(&format!("{REPO}/branchnames/")).route(web::get().to(repos::list_branch_names)),
    )
    .service(resource(&format!("{REPO}/branches/")).route(web::get().to(repos::list_branches)))
    .service(
        resource(&format!("{REPO}/branch/projects/"))
            .route(web::get().to(repos::list_branch_projects)),
    )
    .service(resource(&format!("{PROJECT}/jobs/")).route(web::get().to(jobs::list_jobs)))
    // The status page's trend charts (codepup's own, issue 11).
    .service(resource(&format!("{PROJECT}/trends/")).route(web::get().to(trends::get_trends)))
    .service(resource(&format!("{JOB}/")).route(web::get().to(jobs::get_project_job)))
    .service(resource(&format!("{JOB}/detail/")).route(web::get().to(jobs::get_job_detail)))
    .service(resource(&format!("{JOB}/cancel/")).route(web::post().to(jobs::cancel_job)))
    .service(resource(&format!("{JOB}/codecount/")).route(web::get().to(jobs::get_job_codecount)))
    .service(resource(&format!("{JOB}/log/")).route(web::get().to(jobs::get_job_log)))
    .service(
        resource(&format!("{JOB}/tasks/{{task_id:\\d+}}/")).route(web::get().to(tasks::get_task)),
    )
    .service(
        resource(&format!("{JOB}/tasks/{{task_id:\\d+}}/log/"))
            .route(web::get().to(jobs::get_task_log)),
    )
    .service(resource(&format!("{JOB}/sarif/")).route(web::get().to(findings::get_job_sarif)))
    // Push webhooks in and scheduled scans (issue 10).
    .service(
        resource(&format!("{REPO}/webhook/"))
            .route(web::get().to(hooks::get_repo_hook))
            .route(web::post().to(hooks::create_repo_hook))
            .route(web::delete().to(hooks::delete_repo_hook)),
    )
    .service(
        resource(&format!("{PROJECT}/schedule/"))
            .route(web::get().to(schedules::get_schedule))
            .route(web::put().to(schedules::put_schedule)),
    );
    // Notifications out (issue 10): the same resources at org, team and project level.
    for level in ["/{org_sid}", TEAM, PROJECT] {
        notify_routes(cfg, level);
    }
}

/// A level's notification webhooks, their deliveries and redelivery.
fn notify_routes(cfg: &mut web::ServiceConfig, level: &str) {
    let webhook = format!("{level}/webhooks/{{webhook_id:\\d+}}");
    let delivery = format!("{webhook}/deliveries/{{delivery_id:\\d+}}");
    cfg.service(
        resource(&format!("{level}/webhooks/"))
            .route(web::get().to(notify::list_webhooks))
            .route(web::post().to(notify::create_webhook)),
    )
    .service(
        resource(&format!("{webhook}/"))
            .route(web::get().to(notify::get_webhook))
            .route(web::delete().to(notify::delete_webhook)),
    )
    .service(
        resource(&format!("{webhook}/deliveries/")).route(web::get().to(notify::list_deliveries)),
    )
    .service(resource(&format!("{delivery}/")).route(web::get().to(notify::get_delivery)))
    .service(resource(&format!("{delivery}/redeliver/")).route(web::post().to(notify::redeliver)));
}

/// A resource whose unlisted methods answer 405 with the envelope.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(request: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::MethodNotAllowed(request.method().to_string()))
}

/// Any path no route matched. A GET without its trailing slash is redirected to the slashed
/// path, as Django's APPEND_SLASH does for TCA; everything else is a 404 envelope.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, AppError> {
    let path = request.path();
    let is_api = ["/api/", "/server/", "/main/", "/analysis/", "/credential/"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    if is_api && !path.ends_with('/') && matches!(*request.method(), Method::GET | Method::HEAD) {
        let query = request.query_string();
        let location = if query.is_empty() {
            format!("{path}/")
        } else {
            format!("{path}/?{query}")
        };
        return Ok(HttpResponse::MovedPermanently()
            .insert_header((header::LOCATION, location))
            .finish());
    }
    Err(AppError::not_found(format!("route {path}")))
}

/// The org and the caller's roles in it, or 404; 403 when the org is not active.
pub(crate) fn org_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
) -> Result<(Org, Access), AppError> {
    let (org, access) = db::access::for_org(conn, user, org_sid)?
        .ok_or_else(|| AppError::not_found(format!("org {org_sid}")))?;
    if org.status != 1 {
        return Err(AppError::Forbidden);
    }
    Ok((org, access))
}

/// The team and the caller's roles around it, or 404 (unknown org or team); 403 for an inactive
/// org, and 403 when the caller may not see the team. Every scope below a team goes through here,
/// so nothing below it (repository, project, job, task, scan, finding) is looked up for a caller
/// outside the team: an id that exists and one that does not get the same 403, as TCA's job views
/// answer (their permission class checks the team before the view looks up the job).
pub(crate) fn team_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
) -> Result<(Org, Team, Access), AppError> {
    let (org, team, access) = db::access::for_team(conn, user, org_sid, team_name)?
        .ok_or_else(|| AppError::not_found(format!("team {org_sid}/{team_name}")))?;
    if org.status != 1 {
        return Err(AppError::Forbidden);
    }
    require(access.can_view_team())?;
    Ok((org, team, access))
}

/// The team's repository `repo_id` (404 when missing or in another team) with the caller's
/// roles, including whether they registered it.
pub(crate) fn repo_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
    repo_id: RepoId,
) -> Result<(Org, Team, Repo, Access), AppError> {
    let (org, team, access) = team_scope(conn, user, org_sid, team_name)?;
    let repo = db::repos::get(conn, team.id, repo_id)?
        .ok_or_else(|| AppError::not_found(format!("repo {repo_id}")))?;
    let access = Access {
        is_repo_creator: repo.creator_id == Some(user.id),
        ..access
    };
    Ok((org, team, repo, access))
}

/// The repository's project `project_id` (404 when missing or in another repository) with the
/// caller's roles.
pub(crate) fn project_scope(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
    repo_id: RepoId,
    project_id: ProjectId,
) -> Result<(Org, Team, Repo, Project, Access), AppError> {
    let (org, team, repo, access) = repo_scope(conn, user, org_sid, team_name, repo_id)?;
    let project = db::projects::get(conn, repo.id, project_id)?
        .ok_or_else(|| AppError::not_found(format!("project {project_id}")))?;
    Ok((org, team, repo, project, access))
}

/// The job a URL names, with everything around it (403 for a caller outside the team, then 404
/// when any of it is missing). The caller still checks any permission beyond seeing the team
/// with `access`.
pub(crate) struct JobScope {
    pub org: Org,
    pub team: Team,
    pub repo: Repo,
    pub project: Project,
    pub job: Job,
    pub access: Access,
}

pub(crate) fn job_scope(
    conn: &Connection,
    caller: &User,
    org_sid: &str,
    team_name: &str,
    repo_id: i64,
    project_id: i64,
    job_id: i64,
) -> Result<JobScope, AppError> {
    let (org, team, repo, project, access) = project_scope(
        conn,
        caller,
        org_sid,
        team_name,
        RepoId(repo_id),
        ProjectId(project_id),
    )?;
    let job = db::jobs::get_in_project(conn, project.id, JobId(job_id))?
        .ok_or_else(|| AppError::not_found(format!("job {job_id}")))?;
    Ok(JobScope {
        org,
        team,
        repo,
        project,
        job,
        access,
    })
}

/// Where the links codepup hands out point: the scheme and host the request came in on (read
/// as the pagination links read them) and the API root it used, `/api` when a proxy stripped
/// `/server/main`, else `/server/main/api`. Made from the request before a `blocking::run`, which
/// cannot take the request itself.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    root: String,
}

impl Links {
    pub(crate) fn new(request: &HttpRequest) -> Links {
        Links {
            root: format!("{}{}", origin(request), api_root(request)),
        }
    }

    /// The URL a forge delivers a repository's pushes to.
    pub(crate) fn hook(&self, hook_key: &str) -> String {
        format!("{}/hooks/{hook_key}/", self.root)
    }

    /// The URL of a task's plain-text log (`.../jobs/<id>/tasks/<id>/log/`), which TCA's
    /// clients know as the task's `log_url`.
    pub(crate) fn task_log(
        &self,
        org_sid: &str,
        team_name: &str,
        repo_id: RepoId,
        project_id: ProjectId,
        task: &crate::domain::job::Task,
    ) -> String {
        format!(
            "{}/orgs/{org_sid}/teams/{team_name}/repos/{repo_id}/projects/{project_id}/jobs/{}/tasks/{}/log/",
            self.root, task.job_id, task.id
        )
    }
}

/// The API root the request used: `/api` when a proxy stripped `/server/main`, `/main/api` when
/// one stripped `/server` (TCA's ingress), else `/server/main/api`.
pub(crate) fn api_root(request: &HttpRequest) -> &'static str {
    let path = request.path();
    if path.starts_with("/api/") {
        "/api"
    } else if path.starts_with("/main/api/") {
        "/main/api"
    } else {
        "/server/main/api"
    }
}

/// `scheme://host` as the client reached codepup, for absolute links (`Links`, the pagination
/// links). The forwarding headers (`Forwarded`, `X-Forwarded-Host`, `X-Forwarded-Proto`) are
/// read only when the peer is a proxy the admin trusts (`--trusted-proxy`); from anyone else
/// they would let a request choose the host its links, and a webhook's URL, point to.
pub(crate) fn origin(request: &HttpRequest) -> String {
    if is_from_trusted_proxy(request) {
        let info = request.connection_info();
        return format!("{}://{}", info.scheme(), info.host());
    }
    // What actix's `ConnectionInfo` falls back to without forwarding headers.
    let config = request.app_config();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
        .unwrap_or_else(|| config.host());
    let scheme =
        request
            .uri()
            .scheme_str()
            .unwrap_or(if config.secure() { "https" } else { "http" });
    format!("{scheme}://{host}")
}

/// Whether the peer is a proxy the admin trusts (`--trusted-proxy`) to say who the client is.
fn is_from_trusted_proxy(request: &HttpRequest) -> bool {
    request
        .app_data::<web::Data<AppState>>()
        .zip(request.peer_addr())
        .is_some_and(|(state, peer)| {
            state
                .config
                .trusted_proxies
                .iter()
                .any(|range| range.contains(peer.ip()))
        })
}

/// The client's address, for counting failed sign-ins: the one a trusted proxy names in its
/// forwarding headers, else the peer's.
pub(crate) fn client_address(request: &HttpRequest) -> Option<String> {
    if is_from_trusted_proxy(request) {
        if let Some(address) = request.connection_info().realip_remote_addr() {
            return Some(address.to_string());
        }
    }
    request.peer_addr().map(|peer| peer.ip().to_string())
}

/// Fails with 403 unless `allowed`.
pub(crate) fn require(allowed: bool) -> Result<(), AppError> {
    if allowed {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The project the URL names, once the caller may see its team.
pub(crate) async fn visible_project<T: Send + 'static>(
    state: &web::Data<crate::AppState>,
    caller: crate::domain::user::User,
    path: web::Path<(String, String, i64, i64)>,
    then: impl FnOnce(
            &rusqlite::Connection,
            &crate::domain::project::Project,
            &crate::domain::user::User,
        ) -> Result<T, AppError>
        + Send
        + 'static,
) -> Result<T, AppError> {
    let (org_sid, team_name, repo_id, project_id) = path.into_inner();
    blocking::run(&state.pool, move |conn| {
        let (_, _, _, project, access) = project_scope(
            conn,
            &caller,
            &org_sid,
            &team_name,
            crate::domain::ids::RepoId(repo_id),
            crate::domain::ids::ProjectId(project_id),
        )?;
        require(access.can_view_team())?;
        then(conn, &project, &caller)
    })
    .await
}
