//! The branch overview's metric trend lists on TCA's paths: `overview/cycscans/`,
//! `overview/dupscans/` and `overview/clocscans/`, one row per job that measured, newest first,
//! filtered by `scan_time_after`/`scan_time_before`. TCA's views:
//! `tca-src/server/projects/analysis/apps/codeproj/apis/v2.py` (`ProjectOverviewCycScanListView`,
//! `...DupScanListView`, `...ClocScanListView`); serializers: `codemetric/serializers/cc.py`
//! (`CyclomaticComplexityScanSerializer`), `duplicate.py` (`DuplicateScanSerializer`),
//! `codecount.py` (`ClocScanSerializer`). A row's `id` is its job's id.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::api::query::FilterReader;
use crate::api::query::{paginated, Query};
use crate::api::visible_project;
use crate::auth::Caller;
use crate::db;
use crate::db::metric_scans::{ScanSummary, ScanTimes};
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// The lists `list_scan_summaries::<KIND>` serves, by number (a const generic cannot be an enum).
pub const CYC_SCANS: u8 = 0;
pub const DUP_SCANS: u8 = 1;
pub const CLOC_SCANS: u8 = 2;

/// TCA's duplicate-rate risk bands of `DuplicateScan.default_summary`: name, and the range of a
/// file's duplicate rate as a fraction (codepup stores percent).
const RISKS: [(&str, f64, f64); 4] = [
    ("exhi_risk", 0.2, 1.0),
    ("high_risk", 0.11, 0.2),
    ("midd_risk", 0.05, 0.11),
    ("low_risk", 0.0, 0.05),
];

/// `overview/cycscans/`, `dupscans/` or `clocscans/`.
pub async fn list_scan_summaries<const KIND: u8>(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let kind = match KIND {
        CYC_SCANS => ScanSummary::Cc,
        DUP_SCANS => ScanSummary::Dup,
        _ => ScanSummary::Cloc,
    };
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, rows) =
        visible_project(&state, caller, path, move |conn, project, _| {
            let mut reader = FilterReader::new(&query, tz);
            let times = ScanTimes {
                after: reader.time("scan_time_after"),
                before: reader.time("scan_time_before"),
            };
            reader.finish()?;
            let page = query.page()?;
            let (count, rows) =
                db::metric_scans::list(conn, kind, project.id, &times, (page.limit, page.offset))?;
            Ok((query, page, count, rows))
        })
        .await?;
    let results = rows.into_iter().map(|row| shape(kind, row, tz)).collect();
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// A row as TCA's serializer of `kind` shows it, in its field order.
fn shape(kind: ScanSummary, row: Map<String, Value>, tz: time::UtcOffset) -> Value {
    let get = |name: &str| row.get(name).cloned().unwrap_or(Value::Null);
    let time = |name: &str| {
        row.get(name)
            .and_then(Value::as_str)
            .and_then(|stored| crate::clock::display(stored, tz))
            .map_or(Value::Null, Value::String)
    };
    let mut out = Map::new();
    out.insert("id".into(), get("job_id"));
    out.insert("scan_revision".into(), get("scan_revision"));
    out.insert("scan_time".into(), time("scan_time"));
    let fields: Vec<(&str, Value)> = match kind {
        ScanSummary::Cc => cc_fields(&row, &get, time("created_time")),
        ScanSummary::Dup => dup_fields(&row, &get),
        ScanSummary::Cloc => cloc_fields(&get),
    };
    for (name, value) in fields {
        out.insert(name.to_string(), value);
    }
    out.insert("scan".into(), get("scan"));
    Value::Object(out)
}

fn number(row: &Map<String, Value>, name: &str) -> f64 {
    row.get(name).and_then(Value::as_f64).unwrap_or(0.0)
}

/// `CyclomaticComplexityScanSerializer` after `id`, `scan_revision`, `scan_time`.
fn cc_fields(
    row: &Map<String, Value>,
    get: &dyn Fn(&str) -> Value,
    created: Value,
) -> Vec<(&'static str, Value)> {
    let over = number(row, "cc_open_num");
    let functions = number(row, "func_num");
    let over_cc_sum = number(row, "over_cc_sum");
    let lines = row.get("code_line_num").and_then(Value::as_f64);
    let per_lines = lines
        .filter(|lines| *lines > 0.0)
        .map_or(Value::Null, |lines| json!(over_cc_sum * 1000.0 / lines));
    let average = |sum: f64, count: f64| if count > 0.0 { sum / count } else { 0.0 };
    let diff_over = match row.get("prev_open").and_then(Value::as_f64) {
        Some(before) => json!(over - before),
        None => json!(over),
    };
    let summary = json!({
        "min_ccn": get("threshold"),
        "over_cc_func_count": over,
        "under_cc_func_count": functions - over,
        "diff_over_cc_func_count": diff_over,
        "over_cc_func_average": average(number(row, "over_ccn_sum"), over),
        "cc_func_average": average(number(row, "ccn_sum"), functions),
        "over_cc_sum": over_cc_sum,
        "cc_average_of_lines": per_lines,
    });
    vec![
        ("default_summary", summary),
        ("custom_summary", Value::Null),
        ("url", json!("")),
        ("ccfile_url", json!("")),
        ("created_time", created.clone()),
        ("creator", Value::Null),
        ("modified_time", created),
        ("modifier", Value::Null),
        ("deleted_time", Value::Null),
        ("deleter", Value::Null),
        ("last_revision", get("last_revision")),
        ("diff_cc_num", get("diff_cc_num")),
        ("cc_open_num", get("cc_open_num")),
        ("cc_average_of_lines", per_lines),
        ("cc_fix_num", get("cc_fix_num")),
        ("worse_cc_file_num", get("worse_cc_file_num")),
        ("min_ccn", get("threshold")),
        ("code_line_num", get("code_line_num")),
    ]
}

/// `DuplicateScanSerializer` after `id`, `scan_revision`, `scan_time`.
fn dup_fields(row: &Map<String, Value>, get: &dyn Fn(&str) -> Value) -> Vec<(&'static str, Value)> {
    let rates = |name: &str| -> Option<Vec<f64>> {
        let text = row.get(name)?.as_str()?;
        serde_json::from_str(text).ok()
    };
    let now = rates("file_rates").unwrap_or_default();
    let before = row
        .get("prev_job")
        .filter(|job| !job.is_null())
        .and_then(|_| rates("prev_file_rates"));
    let mut summary = Map::new();
    for (name, low, high) in RISKS {
        let in_band = |rates: &[f64]| {
            rates
                .iter()
                .filter(|rate| {
                    let fraction = *rate / 100.0;
                    fraction >= low && (fraction < high || high >= 1.0)
                })
                .count() as i64
        };
        let count = in_band(&now);
        let diff = before
            .as_deref()
            .map_or(count, |before| count - in_band(before));
        summary.insert(
            name.to_string(),
            json!({"range": [low, high], "file_count": count, "diff": {"diff_file_count": diff}}),
        );
    }
    let diff = |now: &str, before: &str| match row.get(before).and_then(Value::as_i64) {
        Some(before) => json!(row.get(now).and_then(Value::as_i64).unwrap_or(0) - before),
        None => Value::Null,
    };
    vec![
        ("default_summary", Value::Object(summary)),
        ("custom_summary", Value::Null),
        ("url", json!("")),
        ("last_revision", get("last_revision")),
        ("duplicate_file_count", get("duplicate_file_count")),
        ("duplicate_block_count", get("duplicate_block_count")),
        ("duplicate_line_count", get("duplicate_line_count")),
        (
            "diff_duplicate_block_count",
            diff("duplicate_block_count", "prev_blocks"),
        ),
        (
            "diff_duplicate_line_count",
            diff("duplicate_line_count", "prev_lines"),
        ),
        ("close_issue_count", Value::Null),
        ("new_issue_count", Value::Null),
        ("reopen_issue_count", Value::Null),
        ("ignored_issue_count", Value::Null),
        ("duplicate_rate", get("duplicate_rate")),
        ("unique_duplicate_line_count", get("duplicate_line_count")),
        ("total_duplicate_line_count", get("duplicate_line_count")),
        ("total_line_count", get("total_line_count")),
    ]
}

/// `ClocScanSerializer` after `id`, `scan_revision`, `scan_time`: the job's line counts; the
/// added, modified and deleted lines are not counted (null).
fn cloc_fields(get: &dyn Fn(&str) -> Value) -> Vec<(&'static str, Value)> {
    let mut fields = vec![
        ("url", json!("")),
        ("last_revision", get("last_revision")),
        ("code_line_num", get("code_line_num")),
        ("comment_line_num", get("comment_line_num")),
        ("blank_line_num", get("blank_line_num")),
        ("total_line_num", get("total_line_num")),
    ];
    for name in crate::api::cloc::CHANGED_LINE_FIELDS {
        fields.push((name, Value::Null));
    }
    fields
}
