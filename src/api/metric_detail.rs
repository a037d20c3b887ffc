//! The detail and history views of TCA's `codemetric/` paths (`codemetric/api_urls/v3_pt.py`):
//! `ccfiles/<id>/`, `ccissues/<id>/`, `dupfiles/<id>/history/`, `dupfiles/<id>/blocks/<id>/`
//! and its `related/` blocks. Views: `codemetric/apis/v2.py` (`CCFileDetailView`,
//! `CCIssueDetailView`, `DupFileHistoryListView`, `DupBlockDetailView`,
//! `RelatedDupBlockListView`); serializers: `codemetric/serializers/cc.py`, `duplicate.py`.

use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::{json, Map, Value};

use crate::api::blocking;
use crate::api::codemetric::{
    metric_project, shape, shape_fields, MetricPath, CC_ISSUE_FIELDS, DUP_BLOCK_FIELDS,
};
use crate::api::query::{paginate_all, paginated, Query};
use crate::auth::Caller;
use crate::db;
use crate::db::metrics::{MetricFilter, MetricList};
use crate::domain::ids::{JobId, ProjectId, RepoId};
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// `DetailedCyclomaticComplexitySerializer`: every field of the model (the list's, less
/// `repo`, with the two hashes the list leaves out), `detail` after `id`.
fn cc_issue_detail_fields() -> Vec<&'static str> {
    let mut fields = vec!["id", "detail"];
    for &name in CC_ISSUE_FIELDS
        .iter()
        .filter(|name| !["id", "repo"].contains(name))
    {
        fields.push(name);
        match name {
            "cc_hash" => fields.push("unique_cc_hash"),
            "file_path" => fields.push("file_hash"),
            _ => {}
        }
    }
    fields
}

/// What a detail view hands the shaping: the rows found and the project's repository.
struct Found {
    repo_id: RepoId,
    row: Map<String, Value>,
}

/// Row `id` of `list` in the project, as stored, or 404 naming `what`.
fn find_row(
    conn: &Connection,
    list: MetricList,
    project_id: ProjectId,
    (id, what): (i64, &str),
    file_id: Option<i64>,
) -> Result<(JobId, Map<String, Value>), AppError> {
    let missing = || AppError::not_found(format!("{what} {id}"));
    let job_id = db::metrics::row_job(conn, list, project_id, id)?.ok_or_else(missing)?;
    let filter = MetricFilter {
        id: Some(id),
        file_id,
        ..MetricFilter::default()
    };
    let (_, rows) = db::metrics::list(conn, list, job_id, &filter, (1, 0))?;
    let row = rows.into_iter().next().ok_or_else(missing)?;
    Ok((job_id, row))
}

/// `ccfiles/<id>/` (`CyclomaticComplexityFileSerializer`) and `ccissues/<id>/`
/// (`DetailedCyclomaticComplexitySerializer`: `detail` holds the function's size and place).
pub async fn get_cc_row<const ISSUE: bool>(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let (list, id, what) = match (ISSUE, path.issue_id, path.file_id) {
        (true, Some(id), _) => (MetricList::CcIssues, id, "cc issue"),
        (_, _, id) => (MetricList::CcFiles, id.unwrap_or(0), "cc file"),
    };
    let found = blocking::run(&state.pool, move |conn| {
        let (repo, project) = metric_project(conn, &caller, &path)?;
        let (_, row) = find_row(conn, list, project.id, (id, what), None)?;
        Ok(Found {
            repo_id: repo.id,
            row,
        })
    })
    .await?;
    if list == MetricList::CcFiles {
        return Ok(envelope::ok(shape(list, found.row, found.repo_id, tz)));
    }
    let detail = json!({
        "token": found.row.get("token"),
        "line_num": found.row.get("line_num"),
        "code_line_num": found.row.get("code_line_num"),
        "start_line_no": found.row.get("start_line_no"),
        "end_line_no": found.row.get("end_line_no"),
        "scan_revision": found.row.get("revision"),
    });
    let mut item = shape_fields(&cc_issue_detail_fields(), found.row, found.repo_id, tz);
    if let Value::Object(object) = &mut item {
        object.insert("detail".into(), detail);
    }
    Ok(envelope::ok(item))
}

/// `dupfiles/<id>/history/`: the file's last ten measures, oldest first.
pub async fn list_dup_file_history(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let query = Query::from_request(&request);
    let (query, found) = blocking::run(&state.pool, move |conn| {
        let (repo, project) = metric_project(conn, &caller, &path)?;
        let file_id = path.file_id.unwrap_or(0);
        let rows = db::metrics::dup_file_history(conn, project.id, file_id)?;
        if rows.is_empty() {
            return Err(AppError::not_found(format!("duplicate file {file_id}")));
        }
        Ok((query, (repo.id, rows)))
    })
    .await?;
    let (repo_id, rows) = found;
    let items = rows
        .into_iter()
        .map(|row| shape(MetricList::DupFiles, row, repo_id, tz))
        .collect();
    Ok(envelope::ok(paginate_all(&request, &query, items)?))
}

/// A related block as `RelatedDuplicateBlockSerializer` shows it: every field, its file nested.
fn related_item(
    conn: &Connection,
    project_id: ProjectId,
    row: Map<String, Value>,
    (repo_id, tz): (RepoId, time::UtcOffset),
) -> Result<Value, AppError> {
    let mut fields = DUP_BLOCK_FIELDS.to_vec();
    fields.insert(3, "block_hash");
    let file_id = row
        .get("duplicate_file")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut item = shape_fields(&fields, row, repo_id, tz);
    let (_, file) = find_row(
        conn,
        MetricList::DupFiles,
        project_id,
        (file_id, "duplicate file"),
        None,
    )?;
    if let Value::Object(object) = &mut item {
        object.insert(
            "duplicate_file".into(),
            shape(MetricList::DupFiles, file, repo_id, tz),
        );
    }
    Ok(item)
}

/// `dupfiles/<id>/blocks/<id>/` (`DuplicateBlockDetailSerializer`: the block, its file, and up
/// to 100 blocks of the same text) and `.../related/` (those blocks, a page at a time).
pub async fn get_dup_block<const RELATED: bool>(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<MetricPath>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let query = Query::from_request(&request);
    let (query, page, count, answer) = blocking::run(&state.pool, move |conn| {
        let (repo, project) = metric_project(conn, &caller, &path)?;
        let (file_id, block_id) = (path.file_id.unwrap_or(0), path.block_id.unwrap_or(0));
        let (_, block) = find_row(
            conn,
            MetricList::DupBlocks,
            project.id,
            (block_id, "block"),
            Some(file_id),
        )?;
        let page = if RELATED {
            query.page()?
        } else {
            crate::api::query::Page {
                limit: 100,
                offset: 0,
            }
        };
        let (count, rows) = db::metrics::related_blocks(conn, block_id, (page.limit, page.offset))?;
        let related = rows
            .into_iter()
            .map(|row| related_item(conn, project.id, row, (repo.id, tz)))
            .collect::<Result<Vec<Value>, AppError>>()?;
        if RELATED {
            return Ok((query, page, count, Value::Array(related)));
        }
        let mut item = related_item(conn, project.id, block, (repo.id, tz))?;
        if let Value::Object(object) = &mut item {
            object.remove("block_hash");
            object.insert("related_blocks".into(), Value::Array(related));
        }
        Ok((query, page, count, item))
    })
    .await?;
    match answer {
        Value::Array(related) if RELATED => Ok(envelope::ok(paginated(
            &request, &query, page, count, related,
        ))),
        item => Ok(envelope::ok(item)),
    }
}
