//! The SQLite store: opening it, the pragmas every connection gets, applying `schema.sql`, and
//! the SQL per resource. Knows nothing of actix or HTTP: handlers reach it through
//! `api::blocking::run`.

pub mod access;
pub mod findings;
pub mod hooks;
pub mod jobs;
pub mod metrics;
pub mod orgs;
pub mod projects;
pub mod repos;
pub mod results;
pub mod scans;
pub mod schedules;
pub mod schemes;
pub mod tasks;
pub mod teams;
pub mod users;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;

const SCHEMA: &str = include_str!("../../schema.sql");

/// The schema version this binary writes. Steps that `IF NOT EXISTS` cannot express are added to
/// `migrate` and bump this number.
pub const SCHEMA_VERSION: i64 = 9;

/// How long a connection waits for another writer before giving up with SQLITE_BUSY. The CLI and
/// the server may write the same file at once; their transactions are short.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 256;

/// Connections in the pool. Writes are serialised by SQLite anyway; a few readers suffice.
const POOL_SIZE: u32 = 8;

/// Opens (creating if needed) the database at `path`, applies the schema, and returns a pool.
pub fn open(path: &Path) -> anyhow::Result<Pool> {
    let mut conn = connect(path)?;
    prepare(&mut conn).with_context(|| format!("preparing database {}", path.display()))?;
    drop(conn);
    let manager = SqliteConnectionManager::file(path).with_init(|conn| configure(conn));
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        // An exhausted pool answers 503 quickly instead of hanging the request.
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .with_context(|| format!("opening database {}", path.display()))
}

/// One connection outside any pool, schema applied: for the CLI subcommands.
pub fn open_single(path: &Path) -> anyhow::Result<Connection> {
    let mut conn = connect(path)?;
    prepare(&mut conn).with_context(|| format!("preparing database {}", path.display()))?;
    Ok(conn)
}

fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn =
        Connection::open(path).with_context(|| format!("opening database {}", path.display()))?;
    configure(&conn)?;
    Ok(conn)
}

/// Runs on every new connection.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Room for every statement the API and the engine prepare with `prepare_cached` (rusqlite
    // keeps 16 by default, fewer than one request path and the job list's filters use).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
}

/// Switches on WAL once (it is a property of the file), applies the schema and any migrations.
fn prepare(conn: &mut Connection) -> anyhow::Result<()> {
    // WAL lets the status page and the job list read while a scan worker holds the write lock.
    // With synchronous=NORMAL a killed process loses no committed transaction; a power loss or
    // OS crash may lose the last ones, never corrupting the file (README, Settings).
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!("database journal mode is {mode}, not WAL");
    }
    let tx = begin(conn)?;
    tx.execute_batch(SCHEMA).context("applying schema.sql")?;
    migrate(&tx)?;
    tx.commit()?;
    Ok(())
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "the database was written by a newer codepup (schema {version}, this binary knows {SCHEMA_VERSION})"
        );
    }
    // Version 1 is schema.sql as first released; later numbered steps go here. schema.sql holds
    // the result, so a step adds only what a file made by an older schema lacks.
    if version < 2 {
        // Tasks record the codepup version that made and ran them.
        add_column_if_missing(conn, "tasks", "create_version", "TEXT")?;
        add_column_if_missing(conn, "tasks", "execute_version", "TEXT")?;
    }
    if version < 3 {
        // Per-project caches of line counts and checker results became the shared result
        // cache (`file_results`); the old rows are only a cache, so the next scan of each
        // project reads its files again.
        conn.execute_batch(
            "DROP TABLE IF EXISTS project_file_counts; DROP TABLE IF EXISTS project_checked_files;",
        )?;
    }
    if version < 9 {
        // Schemes carry their complexity threshold (issue 11); the metric tables are new and
        // made by schema.sql.
        add_column_if_missing(
            conn,
            "scan_schemes",
            "min_ccn",
            "INTEGER NOT NULL DEFAULT 20 CHECK (min_ccn > 0)",
        )?;
    }
    if version < SCHEMA_VERSION {
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    Ok(())
}

/// `ALTER TABLE table ADD COLUMN column kind`, unless schema.sql already made the column (a
/// new file gets every column from its CREATE TABLE).
fn add_column_if_missing(
    conn: &Connection,
    table: &str,
    column: &str,
    kind: &str,
) -> anyhow::Result<()> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        rusqlite::params![table, column],
        |row| row.get(0),
    )?;
    if !exists {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
    }
    Ok(())
}

/// `Connection::query_row` through the connection's statement cache: request paths run the same
/// few queries over and over, and parsing and planning them anew each time was a large share of
/// a `scans/create`'s database time.
pub fn query_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Column `index` read through a domain parser (`JobState::from_i64`, `ToolModule::parse`, ...):
/// a stored value the parser refuses is a conversion error, which the schema's CHECKs and the
/// writers' own types keep from happening.
pub fn parsed<V: rusqlite::types::FromSql, T>(
    row: &rusqlite::Row<'_>,
    index: usize,
    parse: impl FnOnce(&V) -> Option<T>,
) -> rusqlite::Result<T> {
    let value: V = row.get(index)?;
    parse(&value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            row.get_ref(index)
                .map_or(rusqlite::types::Type::Null, |v| v.data_type()),
            format!("column {index} holds a value codepup does not know").into(),
        )
    })
}

/// Whether `error` is a UNIQUE or PRIMARY KEY violation (a duplicate the caller can name).
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Reads a JSON array of strings stored in a TEXT column; damaged text reads as empty.
pub fn string_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A `LIKE ... ESCAPE '\'` pattern matching `text` anywhere, with `text`'s own `%`, `_` and `\`
/// escaped so they match literally (Django's icontains; LIKE ignores ASCII case).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Starts a write transaction. IMMEDIATE takes the write lock at once: a deferred transaction that
/// reads and then writes fails with SQLITE_BUSY at once (busy_timeout cannot help) when another
/// connection committed in between, which under load turned cancels into 503s.
pub fn begin(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ARCHITECTURE.md's invariant, checked on the source: `db/` knows nothing of actix or of
    /// HTTP (`AppError` carries status codes) nor of analyzers, and `domain/` nothing of actix or rusqlite.
    #[test]
    fn db_and_domain_stay_inside_their_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        // Spelled in pieces, so this test does not find itself.
        let web_framework = concat!("act", "ix");
        let http = [concat!("crate::", "error"), concat!("App", "Error")];
        let layers = [
            (
                "db",
                vec![
                    web_framework,
                    http[0],
                    http[1],
                    concat!("crate::", "api"),
                    concat!("crate::", "analyzers"),
                ],
            ),
            (
                "domain",
                vec![
                    web_framework,
                    concat!("rus", "qlite"),
                    concat!("crate::", "db"),
                ],
            ),
        ];
        for (layer, forbidden) in layers {
            let mut files = vec![src.join(layer)];
            while let Some(path) = files.pop() {
                if path.is_dir() {
                    files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    for word in &forbidden {
                        assert!(
                            !line.contains(word),
                            "{} mentions {word}: {line}",
                            path.display()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn applying_the_schema_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twice.db");
        let first = open_single(&path).unwrap();
        let dump = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare("SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY name")
                .unwrap();
            stmt.query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let before = dump(&first);
        drop(first);
        let second = open_single(&path).unwrap();
        assert_eq!(before, dump(&second));
        let templates: i64 = second
            .query_row(
                "SELECT COUNT(*) FROM scan_schemes WHERE repo_id IS NULL",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(templates, 3, "default, python and full, each once");
        let version: i64 = second
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_file_gets_the_task_version_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            // The tasks table as schema version 1 made it, with one task.
            conn.execute_batch(
                "CREATE TABLE tasks (
                     id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, module TEXT NOT NULL,
                     task_name TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,
                     progress_rate INTEGER NOT NULL DEFAULT 0, result_code INTEGER,
                     result_msg TEXT, result_path TEXT, create_time TEXT NOT NULL,
                     start_time TEXT, end_time TEXT, UNIQUE (job_id, task_name));
                 INSERT INTO tasks (job_id, module, task_name, create_time) VALUES (1, 'm', 't', 'x');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let conn = open_single(&path).unwrap();
        let versions: (Option<String>, Option<String>) = conn
            .query_row(
                "SELECT create_version, execute_version FROM tasks",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(versions, (None, None));
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
