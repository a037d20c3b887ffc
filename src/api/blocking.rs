//! `run`, the one way handlers reach the database: the closure runs on actix's blocking pool
//! with a pooled connection, so the event loop never waits on SQLite. It lives in `api/`, not
//! `db/`, because it is where actix and HTTP errors meet SQL: `db/` knows neither.

use rusqlite::Connection;

use crate::db::Pool;
use crate::error::AppError;

/// Runs `work` with a pooled connection on actix's blocking thread pool, so the event loop never
/// waits on SQLite, and turns every failure into an `AppError`.
pub async fn run<T, F>(pool: &Pool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}
