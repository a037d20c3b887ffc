//! TCA's analysis API for lint findings (the issue list, one issue, the project overview) and
//! codepup's SARIF export of a job's findings. No SQL here: each handler makes one `blocking::run` call.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::analyzers::sarif::{self, ExportOptions};
use crate::api::blocking;
use crate::api::query::{paginated, Query};
use crate::api::{job_scope, project_scope, require, views, JobScope};
use crate::auth::Caller;
use crate::db;
use crate::db::findings::IssueFilter;
use crate::domain::finding::Finding;
use crate::domain::ids::{ProjectId, RepoId};
use crate::domain::job::ToolModule;
use crate::envelope;
use crate::error::{AppError, FieldError};
use crate::AppState;

type ProjectPath = web::Path<(String, String, i64, i64)>;
type IssuePath = web::Path<(String, String, i64, i64, i64)>;
type JobPath = web::Path<(String, String, i64, i64, i64)>;

/// The project's findings, newest first, with the filters of codelint-issues-api.md and
/// pagination. `ci_time_gte`/`ci_time_lte` and `checkpackage` are accepted and ignored: codepup
/// keeps no commit times and has no rule packages.
pub async fn list_issues(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
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
        let filter = read_issue_filter(&query)?;
        let page = query.page()?;
        let (count, issues) =
            db::findings::list(conn, project.id, &filter, page.limit, page.offset)?;
        let results = issues
            .iter()
            .map(|issue| views::issue_item(issue, &repo, tz))
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

fn read_issue_filter(query: &Query) -> Result<IssueFilter, AppError> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_string(),
            message,
        })
    };
    let mut choices = |field: &str, allowed: std::ops::RangeInclusive<i64>| {
        let text = query.get(field)?;
        let mut values = Vec::new();
        for piece in text.split(',') {
            match piece.trim().parse::<i64>() {
                Ok(value) if allowed.contains(&value) => values.push(value),
                _ => {
                    fail(
                        field,
                        format!(
                            "Select a valid choice. {} is not one of the available choices.",
                            piece.trim()
                        ),
                    );
                    return None;
                }
            }
        }
        Some(values)
    };
    let states = choices("state", 1..=3);
    let severities = choices("severity", 1..=4);
    let resolutions = choices("resolution", 0..=6);
    let mut number = |field: &str| {
        let text = query.get(field)?;
        match text.parse::<i64>() {
            Ok(value) => Some(value),
            Err(_) => {
                fail(field, "Enter a whole number.".to_string());
                None
            }
        }
    };
    let scan_open = number("scan_open");
    let scan_fix = number("scan_fix");
    if !errors.is_empty() {
        return Err(AppError::InvalidInput(errors));
    }
    Ok(IssueFilter {
        states,
        severities,
        resolutions,
        author: query.get("author").map(str::to_string),
        scan_open,
        scan_fix,
        file_path: query.get("file_path").map(str::to_string),
        rule: query.get("checkrule_display_name").map(str::to_string),
    })
}

/// One finding of the project with its latest sighting as `issue_details` (404 for a finding
/// of another project).
pub async fn get_issue(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: IssuePath,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id, issue_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let detail = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, project, access) = project_scope(
            conn,
            &caller,
            &org_sid,
            &team_name,
            RepoId(repo_id),
            ProjectId(project_id),
        )?;
        let issue = db::findings::get(conn, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("issue {issue_id}")))?;
        require(access.can_view_team())?;
        let sighting = db::findings::latest_sighting(conn, issue.id)?;
        Ok(views::issue_detail(&issue, sighting.as_ref(), &repo, tz))
    })
    .await?;
    Ok(envelope::ok(detail))
}

/// The project's lint overview (overview-api.md's first endpoint, the parts codepup has):
/// open and fixed counts by state, severity, category and tool, and the latest job.
pub async fn get_overview(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id) = path.into_inner();
    let tz = state.config.tz_offset;
    let overview = blocking::run(&state.pool, move |conn| {
        let (_, _, _, project, access) = project_scope(
            conn,
            &caller,
            &org_sid,
            &team_name,
            RepoId(repo_id),
            ProjectId(project_id),
        )?;
        require(access.can_view_team())?;
        let tally = db::findings::tally(conn, project.id)?;
        let latest = match db::findings::latest_job_id(conn, project.id)? {
            Some(job_id) => db::jobs::get(conn, job_id)?,
            None => None,
        };
        let latest = match latest {
            Some(job) => {
                let revision = db::jobs::revision(conn, job.scan_id)?;
                let n_findings = db::findings::count_for_job(conn, job.id)?;
                Some((job, revision, n_findings))
            }
            None => None,
        };
        Ok(views::overview(&tally, latest.as_ref(), tz))
    })
    .await?;
    Ok(envelope::ok(overview))
}

/// The findings a job saw as a SARIF 2.1.0 log: one run per lint tool the job ran (a tool
/// with no findings still gets its run, so code scanning marks its old alerts fixed).
pub async fn get_job_sarif(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id, project_id, job_id) = path.into_inner();
    let log = blocking::run(&state.pool, move |conn| {
        let JobScope {
            repo,
            project,
            job,
            access,
            ..
        } = job_scope(
            conn, &caller, &org_sid, &team_name, repo_id, project_id, job_id,
        )?;
        require(access.can_view_team())?;
        let tools: Vec<String> = db::tasks::list_for_job(conn, job.id)?
            .into_iter()
            .filter(|task| task.module == ToolModule::Codelint)
            .map(|task| task.task_name)
            .collect();
        let findings = db::findings::for_job(conn, job.id)?;
        let revision = db::jobs::revision(conn, job.scan_id)?;
        let options = ExportOptions {
            repository_uri: Some(&repo.scm_url),
            revision: revision.as_deref(),
            branch: Some(&project.branch),
        };
        Ok(sarif::export(&group_by_tool(&tools, findings), &options))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/sarif+json"))
        .json(log))
}

/// One group per tool: the job's lint tools in task order, then any other tool that has
/// findings (in name order, as `findings` is sorted by tool).
fn group_by_tool(
    tools: &[String],
    findings: Vec<(Finding, String)>,
) -> Vec<(String, Vec<(Finding, String)>)> {
    let mut groups: Vec<(String, Vec<(Finding, String)>)> = tools
        .iter()
        .map(|tool| (tool.clone(), Vec::new()))
        .collect();
    for (finding, fingerprint) in findings {
        match groups.iter_mut().find(|(tool, _)| *tool == finding.tool) {
            Some((_, group)) => group.push((finding, fingerprint)),
            None => groups.push((finding.tool.clone(), vec![(finding, fingerprint)])),
        }
    }
    groups
}

/// The issue list's filters never panic on any query string, and refuse only the field sent.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        // A failure becomes a named unit test, not a seed file in the repository.
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn no_query_string_makes_the_issue_filter_panic(
            key in prop::sample::select(vec![
                "state",
                "severity",
                "resolution",
                "scan_open",
                "scan_fix",
                "author",
            ]),
            value in prop_oneof![any::<String>(), "[-+0-9, é]{0,24}"],
        ) {
            let encoded = serde_urlencoded::to_string([(key, &value)]).expect("strings encode");
            match read_issue_filter(&Query::parse(&encoded)) {
                Ok(_) => {}
                Err(AppError::InvalidInput(errors)) => {
                    prop_assert_eq!(errors.len(), 1);
                    prop_assert_eq!(errors[0].field.as_str(), key);
                }
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }
    }
}
