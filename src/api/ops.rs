//! What an operator uses rather than a TCA client: `/healthz` and `/readyz` (no token), the
//! Prometheus scrape (`/metrics`, on `--metrics-bind` only), and the middleware that gives every
//! request an id, an access-log line and its HTTP metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::api::blocking;
use crate::db;
use crate::envelope;
use crate::error::AppError;
use crate::metrics::{HttpLabels, Snapshot};
use crate::AppState;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The process answers.
pub async fn healthz() -> HttpResponse {
    envelope::ok(json!({"status": "ok"}))
}

/// The database takes a write and every scan worker is alive; otherwise 503 saying which not.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let database = blocking::run(&state.pool, |conn| {
        db::begin(conn)?.commit()?;
        Ok(())
    })
    .await;
    let (alive, wanted) = state.queue.workers_alive();
    let mut problems = Vec::new();
    if let Err(error) = &database {
        problems.push(format!("the database takes no write: {error}"));
    }
    if alive < wanted {
        problems.push(format!("{alive} of {wanted} scan workers are alive"));
    }
    if !problems.is_empty() {
        return Err(AppError::Unavailable(problems.join("; ")));
    }
    Ok(envelope::ok(
        json!({"status": "ready", "database": "ok", "scan_workers": alive}),
    ))
}

/// The Prometheus scrape.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let snapshot =
        blocking::run(&state.pool, |conn| Ok(db::jobs::open_job_snapshot(conn)?)).await?;
    let snapshot = Snapshot {
        open_jobs: snapshot.by_state,
        oldest_waiting_seconds: snapshot.oldest_waiting_seconds,
    };
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render(&snapshot)))
}

/// Gives the request an id (the client's `X-Request-Id` when it is short and plain, else a new
/// one), sends it back, writes the access-log line and counts the request.
pub async fn access(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_plain_id(value))
        .map_or_else(new_request_id, str::to_string);
    let method = request.method().to_string();
    let metrics = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let mut response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    let took = started.elapsed();
    log::info!(
        target: "codepup::access",
        "{method} {route} {status} {:.1} ms id={id}",
        took.as_secs_f64() * 1000.0
    );
    if let Some(metrics) = metrics {
        metrics.http_request(
            HttpLabels {
                method,
                route,
                status,
            },
            took,
        );
    }
    Ok(response)
}

fn is_plain_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A new request id: a random base taken once per process plus a counter, multiplied by an odd
/// constant (a bijection, so ids never repeat within a process), instead of a `getrandom` call
/// on every request. Ids only tie log lines together; they guard nothing.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // A clock-based base when randomness fails.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            return nanos as u64;
        }
        u64::from_le_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:016x}",
        base.wrapping_add(n).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(is_plain_id("abc-123_x.y"));
        assert!(!is_plain_id(""));
        assert!(!is_plain_id("a b"));
        assert!(!is_plain_id(&"a".repeat(65)));
        assert!(!is_plain_id("id\u{e9}"));
        assert_eq!(new_request_id().len(), 16);
    }
}
