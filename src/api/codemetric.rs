//! TCA's code-metrics paths (`codemetric/`): functions over the complexity threshold and the
//! files that hold them, files with duplicate code and their blocks, for the project's latest
//! measure or one scan's. No SQL here: each handler makes one `blocking::run` call.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::blocking;
use crate::api::project_allowing;
use crate::api::query::{paginated, Query};
use crate::auth::Caller;
use crate::db;
use crate::db::metrics::{Metric, MetricFilter, MetricList};
use crate::domain::ids::{JobId, ProjectId, RepoId, ScanId};
use crate::envelope;
use crate::error::{AppError, FieldError};
use crate::AppState;

/// The path of every metric view: the project, and maybe a scan, a file, a function or a
/// block.
#[derive(Deserialize)]
pub struct MetricPath {
    org_sid: String,
    team_name: String,
    repo_id: i64,
    project_id: i64,
    pub(crate) scan_id: Option<i64>,
    pub(crate) file_id: Option<i64>,
    pub(crate) issue_id: Option<i64>,
    pub(crate) block_id: Option<i64>,
}

/// Fields of TCA's serializers, in their order, for each list
/// (`tca-src/server/projects/analysis/apps/codemetric/serializers/cc.py`:
/// `CyclomaticComplexitySerializer`, `CyclomaticComplexityFileSerializer`;
/// `serializers/duplicate.py`: `DuplicateFileSerializer`, `DuplicateBlock` fields).
pub(crate) const CC_ISSUE_FIELDS: &[&str] = &[
    "id",
    "repo",
    "created_time",
    "creator",
    "modified_time",
    "modifier",
    "deleted_time",
    "deleter",
    "ccn",
    "g_cc_hash",
    "cc_hash",
    "file_path",
    "func_name",
    "func_param_num",
    "long_name",
    "change_type",
    "status",
    "last_modifier",
    "author",
    "related_modifiers",
    "most_weight_modifier",
    "most_weight_modifier_email",
    "weight_modifiers",
    "is_tapdbug",
    "ignore_time",
    "is_latest",
    "language",
    "revision",
    "ci_time",
    "diff_ccn",
    "token",
    "line_num",
    "code_line_num",
    "start_line_no",
    "end_line_no",
    "scan_revision",
    "project",
    "scan_open",
    "scan_close",
];
const CC_FILE_FIELDS: &[&str] = &[
    "id",
    "repo",
    "created_time",
    "creator",
    "modified_time",
    "modifier",
    "deleted_time",
    "deleter",
    "over_func_cc",
    "over_cc_sum",
    "over_cc_avg",
    "over_cc_func_count",
    "diff_over_func_cc",
    "diff_over_cc_sum",
    "diff_over_cc_avg",
    "diff_over_cc_func_count",
    "worse",
    "file_path",
    "state",
    "change_type",
    "last_modifier",
    "last_modifier_email",
    "related_modifiers",
    "author",
    "most_weight_modifier",
    "most_weight_modifier_email",
    "weight_modifiers",
    "file_owners",
    "language",
    "tapd_ws_id",
    "tapd_bug_id",
    "revision",
    "ci_time",
    "project",
    "scan_open",
    "scan_close",
];
const DUP_FILE_FIELDS: &[&str] = &[
    "id",
    "repo",
    "issue",
    "created_time",
    "creator",
    "modified_time",
    "modifier",
    "deleted_time",
    "deleter",
    "dir_path",
    "file_name",
    "file_path",
    "duplicate_rate",
    "total_line_count",
    "total_duplicate_line_count",
    "distinct_hash_num",
    "block_num",
    "last_modifier",
    "change_type",
    "scm_revision",
    "is_latest",
    "project",
    "scan",
];
/// `DuplicateBlockSerializer`: the model's fields less `block_hash`.
pub(crate) const DUP_BLOCK_FIELDS: &[&str] = &[
    "id",
    "project_id",
    "scan_id",
    "token_num",
    "duplicate_times",
    "duplicate_rate",
    "start_line_num",
    "end_line_num",
    "duplicate_line_count",
    "last_modifier",
    "change_type",
    "related_modifiers",
    "duplicate_file",
];

/// The lists `list::<LIST>` serves, by number (a const generic cannot be an enum).
pub const CC_ISSUES: u8 = 0;
pub const CC_FILES: u8 = 1;
pub const DUP_FILES: u8 = 2;
pub const DUP_BLOCKS: u8 = 3;
/// `ccissues/history/?scan_id=<id>`: one scan's functions, the scan named in the query.
pub const CC_HISTORY: u8 = 4;

/// A metric list: `ccissues/`, `ccfiles/`, `dupfiles/`, `dupfiles/<id>/blocks/`, with or without
/// a scan and a file.
pub async fn list<const LIST: u8>(
    request: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MetricPath>,
) -> Result<HttpResponse, AppError> {
    let list = match LIST {
        CC_ISSUES => MetricList::CcIssues,
        CC_FILES => MetricList::CcFiles,
        DUP_FILES => MetricList::DupFiles,
        CC_HISTORY => MetricList::CcIssues,
        _ => MetricList::DupBlocks,
    };
    let history = LIST == CC_HISTORY;
    serve_list(request, state, caller, (path.into_inner(), history), list).await
}

/// `scan_id` of `ccissues/history/`: required, a whole number (TCA's `ParseError` text).
fn history_scan(query: &Query) -> Result<i64, AppError> {
    query
        .get("scan_id")
        .and_then(|text| text.parse::<i64>().ok())
        .filter(|scan_id| *scan_id != 0)
        .ok_or_else(|| AppError::business(crate::error::E_SERVER_BASE, "请指定扫描任务编号"))
}

/// The project the path names, once the caller may see its team.
pub(crate) fn metric_project(
    conn: &rusqlite::Connection,
    caller: &crate::domain::user::User,
    path: &MetricPath,
) -> Result<(crate::domain::repo::Repo, crate::domain::project::Project), AppError> {
    metric_project_allowing(conn, caller, path, |_| true)
}

/// [`metric_project`], then 403 unless `may` allows the caller's access (triage, for one).
pub(crate) fn metric_project_allowing(
    conn: &rusqlite::Connection,
    caller: &crate::domain::user::User,
    path: &MetricPath,
    may: impl FnOnce(&crate::domain::access::Access) -> bool,
) -> Result<(crate::domain::repo::Repo, crate::domain::project::Project), AppError> {
    let project_path = (
        path.org_sid.clone(),
        path.team_name.clone(),
        path.repo_id,
        path.project_id,
    );
    let (_, _, repo, project, _) =
        project_allowing(conn, caller, &project_path, |access, _| may(access))?;
    Ok((repo, project))
}

/// One duplicate file (`dupfiles/<id>/`), with its blocks in `blocks`.
pub async fn get_dup_file(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let detail = blocking::run(&state.pool, move |conn| {
        let (repo, project) = metric_project(conn, &caller, &path)?;
        let file_id = path.file_id.unwrap_or(0);
        let job_id = db::metrics::file_job(conn, MetricList::DupFiles, project.id, file_id)?
            .ok_or_else(|| AppError::not_found(format!("duplicate file {file_id}")))?;
        let filter = MetricFilter {
            file_id: Some(file_id),
            ..MetricFilter::default()
        };
        let (_, files) = db::metrics::list(conn, MetricList::DupFiles, job_id, &filter, (1, 0))?;
        let (_, blocks) =
            db::metrics::list(conn, MetricList::DupBlocks, job_id, &filter, (1000, 0))?;
        let mut file = shape(
            MetricList::DupFiles,
            files.into_iter().next().unwrap_or_default(),
            repo.id,
            tz,
        );
        let blocks: Vec<Value> = blocks
            .into_iter()
            .map(|block| shape(MetricList::DupBlocks, block, repo.id, tz))
            .collect();
        if let Value::Object(object) = &mut file {
            object.insert("blocks".to_string(), Value::Array(blocks));
        }
        Ok(file)
    })
    .await?;
    Ok(envelope::ok(detail))
}

async fn serve_list(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    (mut path, history): (MetricPath, bool),
    list: MetricList,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (repo, project) = metric_project(conn, &caller, &path)?;
        if history {
            path.scan_id = Some(history_scan(&query)?);
        }
        let mut filter = read_filter(&query, list)?;
        let page = query.page()?;
        let job_id = match (path.scan_id, path.file_id) {
            (_, Some(file_id)) => {
                filter.file_id = Some(file_id);
                let job = db::metrics::file_job(conn, list, project.id, file_id)?
                    .ok_or_else(|| AppError::not_found(format!("file {file_id}")))?;
                if let Some(scan_id) = path.scan_id {
                    scan_job(conn, project.id, scan_id)?
                        .filter(|scan_job| *scan_job == job)
                        .ok_or_else(|| AppError::not_found(format!("file {file_id}")))?;
                }
                Some(job)
            }
            (Some(scan_id), None) => scan_job(conn, project.id, scan_id)?,
            (None, None) => db::metrics::latest_job(conn, metric_of(list), project.id)?,
        };
        let (count, rows) = match job_id {
            Some(job_id) => {
                db::metrics::list(conn, list, job_id, &filter, (page.limit, page.offset))?
            }
            None => (0, Vec::new()),
        };
        let results = rows
            .into_iter()
            .map(|row| shape(list, row, repo.id, tz))
            .collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// The job of scan `scan_id` of the project (404 when the project has no such scan).
fn scan_job(
    conn: &rusqlite::Connection,
    project_id: ProjectId,
    scan_id: i64,
) -> Result<Option<JobId>, AppError> {
    let scan = db::scans::get(conn, project_id, ScanId(scan_id))?
        .ok_or_else(|| AppError::not_found(format!("scan {scan_id}")))?;
    Ok(Some(scan.job.id))
}

fn metric_of(list: MetricList) -> Metric {
    match list {
        MetricList::CcIssues | MetricList::CcFiles => Metric::Cc,
        MetricList::DupFiles | MetricList::DupBlocks => Metric::Dup,
    }
}

/// A row in the field order of TCA's serializer of `list`.
pub(crate) fn shape(
    list: MetricList,
    row: Map<String, Value>,
    repo_id: RepoId,
    tz: time::UtcOffset,
) -> Value {
    let fields = match list {
        MetricList::CcIssues => CC_ISSUE_FIELDS,
        MetricList::CcFiles => CC_FILE_FIELDS,
        MetricList::DupFiles => DUP_FILE_FIELDS,
        MetricList::DupBlocks => DUP_BLOCK_FIELDS,
    };
    shape_fields(fields, row, repo_id, tz)
}

/// A row with `fields`, in their order, with what codepup does not keep as TCA's defaults (no
/// authors, nothing deleted, every row of a measure the latest of its scan).
pub(crate) fn shape_fields(
    fields: &[&str],
    row: Map<String, Value>,
    repo_id: RepoId,
    tz: time::UtcOffset,
) -> Value {
    let created = row
        .get("created_time")
        .and_then(Value::as_str)
        .and_then(|stored| crate::clock::display(stored, tz))
        .map_or(Value::Null, Value::String);
    let file_path = row
        .get("file_path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (dir_path, file_name) = file_path.rsplit_once('/').unwrap_or(("", &file_path));
    let known = |name: &str| -> Value {
        match name {
            "repo" => json!(repo_id.0),
            "created_time" => created.clone(),
            "status" => row.get("status").cloned().unwrap_or(json!(1)),
            "state" => json!(1),
            "issue" => row
                .get("issue")
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null),
            "modified_time" => row
                .get("marked_time")
                .and_then(Value::as_str)
                .and_then(|stored| crate::clock::display(stored, tz))
                .map_or_else(|| created.clone(), Value::String),
            "is_tapdbug" => json!(false),
            "is_latest" => json!(true),
            "worse" => json!(row.get("worse").and_then(Value::as_i64).unwrap_or(0) != 0),
            "scan_revision" => row.get("revision").cloned().unwrap_or(Value::Null),
            "dir_path" => json!(dir_path),
            "file_name" => json!(file_name),
            _ => row.get(name).cloned().unwrap_or(Value::Null),
        }
    };
    Value::Object(
        fields
            .iter()
            .map(|name| (name.to_string(), known(name)))
            .collect(),
    )
}

/// TCA's filters of the metric lists: `file_path`, `change_type` (a comma list), `ccn_gte`/`_lte`,
/// `worse`, `duplicate_rate_gte`/`_lte`.
fn read_filter(query: &Query, list: MetricList) -> Result<MetricFilter, AppError> {
    let mut errors = Vec::new();
    let mut number = |field: &str| -> Option<f64> {
        let text = query.get(field)?;
        match text.trim().parse::<f64>() {
            Ok(value) if value.is_finite() => Some(value),
            _ => {
                errors.push(FieldError {
                    field: field.to_string(),
                    message: "Enter a number.".to_string(),
                });
                None
            }
        }
    };
    let ccn_gte = number("ccn_gte").map(|value| value.ceil() as i64);
    let ccn_lte = number("ccn_lte").map(|value| value.floor() as i64);
    let rate_gte = number("duplicate_rate_gte");
    let rate_lte = number("duplicate_rate_lte");
    let statuses = comma_numbers(query, "status", &mut errors);
    let dup_states = comma_numbers(query, "issue__state", &mut errors);
    let worse = match query.get("worse") {
        None => None,
        Some("true" | "True" | "1") => Some(true),
        Some("false" | "False" | "0") => Some(false),
        Some(_) => {
            errors.push(FieldError {
                field: "worse".to_string(),
                message: "Must be a valid boolean.".to_string(),
            });
            None
        }
    };
    if !errors.is_empty() {
        return Err(AppError::InvalidInput(errors));
    }
    let _ = list;
    Ok(MetricFilter {
        file_path: query.get("file_path").map(str::to_string),
        change_types: query.get("change_type").map(|text| {
            text.split(',')
                .map(|piece| piece.trim().to_string())
                .collect()
        }),
        file_id: None,
        id: None,
        statuses,
        author: query.get("author").map(str::to_string),
        dup_states,
        dup_owner: query.get("issue__owner").map(str::to_string),
        ccn_gte,
        ccn_lte,
        worse,
        rate_gte,
        rate_lte,
    })
}

/// A comma-separated list of whole numbers (`status=1,2`), or an error naming `field`.
fn comma_numbers(query: &Query, field: &str, errors: &mut Vec<FieldError>) -> Option<Vec<i64>> {
    let parsed = query.get(field).map(|text| {
        text.split(',')
            .map(|piece| piece.trim().parse::<i64>().ok())
            .collect::<Option<Vec<i64>>>()
    })?;
    if parsed.is_none() {
        errors.push(FieldError {
            field: field.to_string(),
            message: "Enter whole numbers separated by commas, e.g. 1,2.".to_string(),
        });
    }
    parsed
}

/// The overview's `cyclomaticcomplexityscan` and `duplicatescan`: the project's latest measures.
pub fn overview_metrics(
    conn: &rusqlite::Connection,
    project_id: ProjectId,
) -> Result<(Value, Value), AppError> {
    let mut summaries = Vec::new();
    for metric in [Metric::Cc, Metric::Dup] {
        let summary = match db::metrics::latest_job(conn, metric, project_id)? {
            Some(job_id) => db::metrics::summary(conn, metric, job_id)?.map(|mut summary| {
                let scan_id = db::jobs::get(conn, job_id)
                    .ok()
                    .flatten()
                    .and_then(|job| job.scan_id);
                if let Value::Object(object) = &mut summary {
                    object.insert("scan".to_string(), json!(scan_id));
                    object.insert("job_id".to_string(), json!(job_id.0));
                }
                summary
            }),
            None => None,
        };
        summaries.push(summary.unwrap_or(Value::Null));
    }
    let dup = summaries.pop().unwrap_or(Value::Null);
    let cc = summaries.pop().unwrap_or(Value::Null);
    Ok((cc, dup))
}
