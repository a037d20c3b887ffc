//! TCA's project-level finding reports on the analysis paths: `codelint/issues/download/` (the
//! findings, with the issue list's filters, as a file to download) and
//! `codelint/issues/checkrules/` (findings counted by rule). TCA's views:
//! `codelint/apis/v2.py` (`ProjectIssueDownloadView`, `ProjectIssueCheckRuleNumView`); the
//! download's columns are `codelint/resources.py`'s `IssueResource`. TCA answers an Excel
//! workbook unless `export=csv`; codepup always answers CSV.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::{json, Value};

use crate::api::findings::read_issue_filter;
use crate::api::query::Query;
use crate::api::{blocking, origin, visible_project};
use crate::auth::Caller;
use crate::db;
use crate::db::findings::StoredIssue;
use crate::db::lint_export::FindingsExport;
use crate::domain::triage::{resolution_word, severity_word, state_word};
use crate::error::AppError;
use crate::AppState;

type ProjectPath = web::Path<crate::api::ProjectPath>;

/// `IssueResource.get_export_headers`, in its order.
const HEADERS: [&str; 15] = [
    "问题ID",
    "文件",
    "规则名",
    "规则realname",
    "出错信息",
    "状态",
    "处理方法",
    "负责人",
    "严重级别",
    "版本号",
    "项目ID",
    "发现版本时间",
    "扫描ID",
    "是否提单",
    "链接",
];

/// How many findings one piece of the download reads and writes.
const BATCH: i64 = 1000;

/// `issues/checkrules/`: `[{checkrule_display_name, num, active_num}]`, every rule with
/// findings in the project, most findings first.
pub async fn list_rule_counts(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let counts = visible_project(&state, caller, path, |conn, project, _| {
        Ok(db::lint_export::rule_counts(conn, project.id)?)
    })
    .await?;
    let items: Vec<Value> = counts
        .into_iter()
        .map(|(rule, num, active)| {
            json!({"checkrule_display_name": rule, "num": num, "active_num": active})
        })
        .collect();
    Ok(crate::envelope::ok(items))
}

/// Where a streamed download is.
struct Download {
    findings: FindingsExport,
    /// The findings' own URLs start with this (`.../codelint/issues/`).
    url_base: String,
    has_headers: bool,
}

impl Download {
    /// The next piece of the file: the header row first, then up to `BATCH` findings, newest
    /// first as the issue list orders them, each after the last one the piece before gave.
    fn next_piece(&mut self, conn: &Connection) -> Result<Vec<u8>, AppError> {
        let mut writer = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
        if !self.has_headers {
            writer.write_record(HEADERS).map_err(written)?;
            self.has_headers = true;
        }
        for issue in &self.findings.next_piece(conn, BATCH)? {
            writer.write_record(self.record(issue)).map_err(written)?;
        }
        writer
            .into_inner()
            .map_err(|error| written(error.into_error().into()))
    }

    /// A finding's row, as `IssueResource` exports it (codepup keeps no commit times or TAPD
    /// bugs: `发现版本时间` is empty, `是否提单` always 未提单).
    fn record(&self, issue: &StoredIssue) -> [String; 15] {
        let finding = &issue.finding;
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let number = |value: Option<i64>| value.map(|n| n.to_string()).unwrap_or_default();
        [
            issue.id.to_string(),
            finding.path.clone(),
            finding.rule.clone(),
            finding.rule.clone(),
            finding.message.clone(),
            state_word(issue.state).to_string(),
            resolution_word(issue.resolution).to_string(),
            text(&issue.author),
            severity_word(finding.severity as i64).to_string(),
            text(&issue.revision),
            issue.project_id.0.to_string(),
            String::new(),
            number(issue.scan_open),
            "未提单".to_string(),
            format!("{}{}/", self.url_base, issue.id),
        ]
    }
}

fn written(error: csv::Error) -> AppError {
    AppError::Internal(anyhow::Error::new(error).context("writing the findings download"))
}

/// `issues/download/`: the project's findings that pass the issue list's filters, as CSV
/// (`Project_<id>_issue_data.csv`), streamed a thousand findings a piece; no connection is
/// held between pieces or while the client reads. The filter is counted once; each piece
/// starts below the last finding the one before it wrote (`FindingsExport`), so a finding is
/// written at most once and findings stored during the download are not in it.
pub async fn download_issues(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let url_base = format!(
        "{}{}",
        origin(&request),
        request.path().trim_end_matches("download/")
    );
    let filename = format!("Project_{}_issue_data.csv", path.3);
    let download = visible_project(&state, caller, path, move |conn, project, _| {
        let filter = read_issue_filter(&query)?;
        Ok(Download {
            findings: FindingsExport::start(conn, project.id, filter)?,
            url_base,
            has_headers: false,
        })
    })
    .await?;
    let pool = state.pool.clone();
    let body = futures_util::stream::try_unfold(download, move |mut download| {
        let pool = pool.clone();
        async move {
            if download.has_headers && download.findings.is_done() {
                return Ok(None);
            }
            blocking::run(&pool, move |conn| {
                let piece = download.next_piece(conn)?;
                Ok(Some((web::Bytes::from(piece), download)))
            })
            .await
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename={filename}"),
        ))
        .streaming(body))
}
