//! TCA's analysis API for lint findings (the issue list, one issue, the project overview) and
//! codepup's SARIF export of a job's findings. No SQL here: each handler makes one `blocking::run` call.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use std::collections::HashMap;

use rusqlite::Connection;

use crate::analyzers::sarif::{ExportOptions, LogWriter};
use crate::api::blocking;
use crate::api::query::{paginated, FilterReader, Query};
use crate::api::{job_scope, project_at, views, visible_project, JobScope};
use crate::auth::Caller;
use crate::db;
use crate::db::findings::{IssueFilter, ToolFindings};
use crate::domain::ids::JobId;
use crate::domain::job::ToolModule;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

type ProjectPath = web::Path<crate::api::ProjectPath>;
type IssuePath = web::Path<(String, String, i64, i64, i64)>;
type JobPath = web::Path<crate::api::JobPath>;

/// The project's findings, newest first, with the filters of codelint-issues-api.md (and
/// codepup's `job_id`: the findings one job saw) and pagination. `ci_time_gte`/`ci_time_lte` and `checkpackage` are accepted and ignored: codepup
/// keeps no commit times and has no rule packages.
pub async fn list_issues(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, project, _) = project_at(conn, &caller, &path)?;
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

/// The issue list's filters from the query string (also the per-scan list's, which names the
/// scan filters `scan_open_id` and `scan_fix_id` as TCA's document does).
pub(crate) fn read_issue_filter(query: &Query) -> Result<IssueFilter, AppError> {
    // No time filter here, so the reader's offset is never used.
    let mut reader = FilterReader::new(query, time::UtcOffset::UTC);
    let states = reader.choices("state", 1..=3);
    let severities = reader.choices("severity", 1..=4);
    let resolutions = reader.choices("resolution", 0..=6);
    let scan_open = reader
        .whole("scan_open")
        .or_else(|| reader.whole("scan_open_id"));
    let scan_fix = reader
        .whole("scan_fix")
        .or_else(|| reader.whole("scan_fix_id"));
    let job_id = reader.whole("job_id");
    reader.finish()?;
    Ok(IssueFilter {
        states,
        severities,
        resolutions,
        author: query.get("author").map(str::to_string),
        scan_open,
        scan_fix,
        file_path: query.get("file_path").map(str::to_string),
        rule: query.get("checkrule_display_name").map(str::to_string),
        job_id,
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
    let path = (org_sid, team_name, repo_id, project_id);
    let tz = state.config.tz_offset;
    let detail = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, project, _) = project_at(conn, &caller, &path)?;
        let issue = db::findings::get(conn, project.id, issue_id)?
            .ok_or_else(|| AppError::not_found(format!("issue {issue_id}")))?;
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
    let tz = state.config.tz_offset;
    let overview = visible_project(&state, caller, path, move |conn, project, _| {
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
        let mut overview = views::overview(&tally, latest.as_ref(), tz);
        let (cc, dup) = crate::api::codemetric::overview_metrics(conn, project.id)?;
        if let serde_json::Value::Object(object) = &mut overview {
            object.insert("cyclomaticcomplexityscan".to_string(), cc);
            object.insert("duplicatescan".to_string(), dup);
        }
        Ok(overview)
    })
    .await?;
    Ok(envelope::ok(overview))
}

/// The findings a job saw as a SARIF 2.1.0 log: one run per lint tool the job ran (a tool
/// with no findings still gets its run, so code scanning marks its old alerts fixed).
///
/// Streamed: the checks and the order of the job's findings (ids only) come first, in one
/// `db::run`; then each piece of the body is one more `db::run` that reads the next
/// `EXPORT_BATCH` findings and writes them. No connection is held between pieces or while the
/// client reads, and a client that goes away stops the export (actix drops the stream).
pub async fn get_job_sarif(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: JobPath,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let export = blocking::run(&state.pool, move |conn| {
        let JobScope {
            repo, project, job, ..
        } = job_scope(conn, &caller, &path)?;
        let tools: Vec<String> = db::tasks::list_for_job(conn, job.id)?
            .into_iter()
            .filter(|task| task.module == ToolModule::Codelint)
            .map(|task| task.task_name)
            .collect();
        // Read once: a small cache and no map (`db::in_bulk`), as each piece below.
        let order = db::in_bulk(conn, db::Bulk::Read, |conn| {
            db::findings::export_order(conn, job.id)
        })?;
        let revision = db::jobs::revision(conn, job.scan_id)?;
        Ok(SarifExport {
            job_id: job.id,
            runs: group_by_tool(&tools, order),
            repository_uri: repo.scm_url,
            revision,
            branch: project.branch.to_string(),
            writer: None,
            run: 0,
            next: 0,
            rule_index: HashMap::new(),
            done: false,
        })
    })
    .await?;
    let pool = state.pool.clone();
    let body = futures_util::stream::try_unfold(export, move |mut export| {
        let pool = pool.clone();
        async move {
            if export.done {
                return Ok(None);
            }
            blocking::run(&pool, move |conn| {
                let piece = db::in_bulk(conn, db::Bulk::Read, |conn| export.next_piece(conn))?;
                Ok(Some((web::Bytes::from(piece), export)))
            })
            .await
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/sarif+json"))
        .streaming(body))
}

/// How many findings one piece of a SARIF export reads and writes (about 350 KB of JSON).
const EXPORT_BATCH: usize = 1000;

/// Where a streamed SARIF export is: what it writes, and how far it got.
struct SarifExport {
    job_id: JobId,
    runs: Vec<ToolFindings>,
    repository_uri: String,
    revision: Option<String>,
    branch: String,
    /// `None` until the log's head is written.
    writer: Option<LogWriter>,
    /// The run being written, and its next finding.
    run: usize,
    next: usize,
    /// The current run's rules by id.
    rule_index: HashMap<String, usize>,
    done: bool,
}

impl SarifExport {
    /// The next piece of the log: up to `EXPORT_BATCH` results, with the heads and tails of the
    /// runs they belong to; the last piece ends the log.
    fn next_piece(&mut self, conn: &Connection) -> Result<Vec<u8>, AppError> {
        let options = ExportOptions {
            repository_uri: Some(&self.repository_uri),
            revision: self.revision.as_deref(),
            branch: Some(&self.branch),
        };
        let mut out = Vec::with_capacity(64 * 1024);
        let mut writer = match self.writer {
            Some(writer) => writer,
            None => LogWriter::start(&mut out).map_err(written)?,
        };
        let mut budget = EXPORT_BATCH;
        while budget > 0 && self.run < self.runs.len() {
            let run = &self.runs[self.run];
            if self.next == 0 {
                let rules = db::findings::job_findings(conn, self.job_id, &run.rule_ids)?;
                self.rule_index = rules
                    .iter()
                    .enumerate()
                    .map(|(index, (finding, _))| (finding.rule.clone(), index))
                    .collect();
                writer
                    .run(
                        &mut out,
                        &run.tool,
                        rules.iter().map(|(rule, _)| rule),
                        &options,
                    )
                    .map_err(written)?;
            }
            let end = run.ids.len().min(self.next + budget);
            for (finding, fingerprint) in
                db::findings::job_findings(conn, self.job_id, &run.ids[self.next..end])?
            {
                // A finding's rule never changes, so it is among the run's rules.
                let rule_index = self.rule_index.get(&finding.rule).copied().unwrap_or(0);
                writer
                    .result(&mut out, &finding, &fingerprint, rule_index)
                    .map_err(written)?;
            }
            budget -= end - self.next;
            self.next = end;
            if self.next == run.ids.len() {
                self.run += 1;
                self.next = 0;
            }
        }
        if self.run == self.runs.len() {
            writer.finish(&mut out).map_err(written)?;
            self.done = true;
        }
        self.writer = Some(writer);
        Ok(out)
    }
}

/// Writing JSON into memory fails only if serde_json cannot write a value: a bug.
fn written(error: std::io::Error) -> AppError {
    AppError::Internal(error.into())
}

/// One run per tool: the job's lint tools in task order, then any other tool that has findings
/// (in name order, as `order` is sorted by tool). A tool listed twice gets its findings once.
fn group_by_tool(tools: &[String], order: Vec<ToolFindings>) -> Vec<ToolFindings> {
    let mut order: Vec<Option<ToolFindings>> = order.into_iter().map(Some).collect();
    let mut runs: Vec<ToolFindings> = tools
        .iter()
        .map(|tool| {
            order
                .iter_mut()
                .find(|found| found.as_ref().is_some_and(|found| found.tool == *tool))
                .and_then(Option::take)
                .unwrap_or_else(|| ToolFindings {
                    tool: tool.clone(),
                    ..ToolFindings::default()
                })
        })
        .collect();
    runs.extend(order.into_iter().flatten());
    runs
}

/// A streamed export is the log `sarif::export` builds, across pieces and runs.
#[cfg(test)]
mod streamed {
    use super::*;
    use crate::analyzers::sarif;
    use crate::db::findings::{Coverage, ScanFindings};
    use crate::domain::finding::{Finding, Severity};
    use crate::domain::ids::{ProjectId, ScanId};

    #[test]
    fn a_streamed_export_is_byte_for_byte_the_built_log() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("e.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        let tools = vec![
            "ruff".to_string(),
            "codepup".to_string(),
            "pylint".to_string(),
        ];
        // More than a piece's worth, in an order the export changes; ruff finds nothing.
        let findings: Vec<(Finding, String, Option<crate::domain::finding::Author>)> = (0
            ..EXPORT_BATCH * 2 + 7)
            .map(|i| {
                let finding = Finding {
                    tool: if i % 3 == 0 { "pylint" } else { "codepup" }.to_string(),
                    rule: format!("R{}", i % 13),
                    path: format!("src/f{}.py", (i * 7) % 11),
                    line: ((i * 31) % 97) as u32,
                    column: (i % 3) as u32,
                    severity: Severity::from_i64((i % 4) as i64 + 1).unwrap(),
                    category: "style".to_string(),
                    message: format!("message {} \"quoted\"", i % 5),
                };
                (finding, format!("fp{i}"), None)
            })
            .collect();
        let recorded = crate::db::findings::record(
            &conn,
            &ScanFindings {
                project_id: ProjectId(1),
                job_id: JobId(1),
                scan_id: Some(ScanId(1)),
                revision: "r",
                tools: &tools,
                coverage: Coverage::Full,
                findings: &findings,
            },
        )
        .unwrap();
        assert_eq!(recorded.opened, findings.len());
        let mut export = SarifExport {
            job_id: JobId(1),
            runs: group_by_tool(&tools, db::findings::export_order(&conn, JobId(1)).unwrap()),
            repository_uri: "https://example.com/r.git".to_string(),
            revision: Some("abc".to_string()),
            branch: "main".to_string(),
            writer: None,
            run: 0,
            next: 0,
            rule_index: HashMap::new(),
            done: false,
        };
        let mut streamed = Vec::new();
        let mut pieces = 0;
        while !export.done {
            streamed.extend(export.next_piece(&conn).unwrap());
            pieces += 1;
        }
        assert!(pieces > 2);
        // What the export held in memory before: ordered by tool, path, line, column and id.
        type Seen = (Finding, String, Option<crate::domain::finding::Author>);
        let mut sorted: Vec<(usize, &Seen)> = findings.iter().enumerate().collect();
        sorted.sort_by(|(a_id, (a, _, _)), (b_id, (b, _, _))| {
            (&a.tool, &a.path, a.line, a.column, a_id)
                .cmp(&(&b.tool, &b.path, b.line, b.column, b_id))
        });
        let runs: Vec<(String, Vec<(Finding, String)>)> = tools
            .iter()
            .map(|tool| {
                let found = sorted
                    .iter()
                    .filter(|(_, (finding, _, _))| finding.tool == *tool)
                    .map(|(_, (finding, fingerprint, _))| (finding.clone(), fingerprint.clone()))
                    .collect();
                (tool.clone(), found)
            })
            .collect();
        let built = sarif::export(
            &runs,
            &ExportOptions {
                repository_uri: Some("https://example.com/r.git"),
                revision: Some("abc"),
                branch: Some("main"),
            },
        );
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            serde_json::to_string(&built).unwrap()
        );
    }
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
                "job_id",
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
