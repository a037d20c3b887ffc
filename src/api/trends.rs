//! codepup's own `.../projects/<id>/trends/`: the status page's trend charts read a project's
//! last scans from it, in one query over what each job's close stored (`db::trends::series`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::api::query::Query;
use crate::api::{views, visible_project};
use crate::auth::Caller;
use crate::db;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// Scans in a series unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The project's last `limit` (default 100, at most 1000) scans that stored results, oldest
/// first: `{limit, results: [...]}`. A `limit` that is no positive whole number falls back to
/// the default, as the lists' `limit` does.
pub async fn get_trends(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<crate::api::ProjectPath>,
) -> Result<HttpResponse, AppError> {
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let trends = visible_project(&state, caller, path, move |conn, project, _| {
        let limit = series_limit(&query);
        let points = db::trends::series(conn, project.id, limit)?;
        let results: Vec<_> = points
            .iter()
            .map(|point| views::trend_point(point, tz))
            .collect();
        Ok(json!({"limit": limit, "results": results}))
    })
    .await?;
    Ok(envelope::ok(trends))
}

fn series_limit(query: &Query) -> i64 {
    match query.get("limit").map(str::parse::<i64>) {
        Some(Ok(limit)) if limit > 0 => limit.min(MAX_LIMIT),
        Some(Err(error)) if *error.kind() == std::num::IntErrorKind::PosOverflow => MAX_LIMIT,
        _ => DEFAULT_LIMIT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_defaults_to_100_and_is_capped_at_1000() {
        let limit = |text: &str| series_limit(&Query::parse(text));
        assert_eq!(limit(""), 100);
        assert_eq!(limit("limit=7"), 7);
        assert_eq!(limit("limit=0"), 100);
        assert_eq!(limit("limit=-3"), 100);
        assert_eq!(limit("limit=abc"), 100);
        assert_eq!(limit("limit=5000"), 1000);
        assert_eq!(limit("limit=99999999999999999999999"), 1000);
    }
}
