//! The SQLite store: opening it, the pragmas every connection gets, applying `schema.sql`, and
//! the SQL per resource. Knows nothing of actix or HTTP: handlers reach it through
//! `api::blocking::run`.

pub mod access;
pub mod cloc;
pub mod findings;
pub mod gate;
pub mod hooks;
pub mod issue_lists;
pub mod jobs;
pub mod lint_export;
pub mod metric_scans;
pub mod metric_triage;
pub mod metrics;
pub mod notify;
pub mod orgs;
pub mod projects;
pub mod repos;
pub mod results;
pub mod retention;
pub mod rules;
pub mod scans;
pub mod schedules;
pub mod schemes;
pub mod sessions;
pub mod tasks;
pub mod teams;
pub mod trends;
pub mod triage;
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
pub const SCHEMA_VERSION: i64 = 20;

/// How long a connection waits for another writer before giving up with SQLITE_BUSY. The CLI and
/// the server may write the same file at once; their transactions are short.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 256;

/// Connections in the pool. Writes are serialised by SQLite anyway; a few readers suffice.
const POOL_SIZE: u32 = 8;

/// How much memory each connection reads the database with (README, Settings: `--db-cache-size`,
/// `--db-mmap-size`). The map is shared by every connection (the kernel's page cache); the page
/// cache is each connection's own, so it stays modest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `PRAGMA cache_size`, in bytes, per connection.
    pub cache_bytes: u64,
    /// `PRAGMA mmap_size`, in bytes: how much of the file is read through a memory map.
    pub mmap_bytes: u64,
}

impl Memory {
    /// Sized for a machine with `physical` bytes of memory: a quarter of it mapped (at most
    /// 16 GiB), and a 64th of it as each connection's page cache (8 MiB to 64 MiB). Chosen for
    /// the lists, which read the same pages over and over (8 MiB made some rows 2-4 times
    /// slower at 1,000,000 jobs, BENCHMARKS.md, "Issue 14: peak memory"); the one-off bulk
    /// work runs on its own small settings (`in_bulk`), so these no longer set its peak.
    pub fn for_machine(physical: u64) -> Memory {
        const MIB: u64 = 1 << 20;
        Memory {
            cache_bytes: (physical / 64).clamp(8 * MIB, 64 * MIB),
            mmap_bytes: (physical / 4).min(16 * 1024 * MIB),
        }
    }

    /// Sized for this machine (`/proc/meminfo`; 4 GiB assumed where it cannot be read).
    pub fn for_this_machine() -> Memory {
        let physical = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                kib.checked_mul(1024)
            })
            .unwrap_or(4 << 30);
        Memory::for_machine(physical)
    }
}

/// Opens (creating if needed) the database at `path`, applies the schema, and returns a pool
/// whose connections read with `memory`.
pub fn open(path: &Path, memory: Memory) -> anyhow::Result<Pool> {
    let mut conn = connect(path)?;
    prepare(&mut conn).with_context(|| format!("preparing database {}", path.display()))?;
    drop(conn);
    let manager = SqliteConnectionManager::file(path).with_init(move |conn| {
        configure(conn)?;
        read_with(conn, memory)
    });
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
    conn.busy_handler(Some(busy_wait))?;
    // Room for every statement the API and the engine prepare with `prepare_cached` (rusqlite
    // keeps 16 by default, fewer than one request path and the job list's filters use).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Statement journals (a write that fires the tally triggers in schema.sql needs one) stay in
    // memory instead of a temporary file per statement.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
    )
}

/// Whether to try again after `tries` waits for a lock another connection holds, having slept
/// first. SQLite's own `busy_timeout` sleeps 1, 2, 5, 10 ... 100 ms between tries, while
/// codepup's write transactions mostly last well under a millisecond: a `scans/create` that meets
/// a scan worker's write would sleep many times longer than the lock is held. This tries again
/// after 20 µs, doubling up to 2.56 ms, until `BUSY_TIMEOUT` has passed.
fn busy_wait(tries: i32) -> bool {
    let (sleep, waited) = busy_backoff(tries);
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(sleep);
    true
}

/// The sleep before try `tries + 1`, and the time slept by the tries before it.
fn busy_backoff(tries: i32) -> (Duration, Duration) {
    const FIRST_MICROS: u64 = 20;
    const DOUBLINGS: u64 = 7;
    let tries = u64::try_from(tries).unwrap_or(0);
    let doubled = tries.min(DOUBLINGS);
    let slept =
        FIRST_MICROS * ((1 << doubled) - 1) + (tries - doubled) * (FIRST_MICROS << DOUBLINGS);
    (
        Duration::from_micros(FIRST_MICROS << doubled),
        Duration::from_micros(slept),
    )
}

/// Gives the connection its page cache and memory map.
fn read_with(conn: &Connection, memory: Memory) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{}; PRAGMA mmap_size = {};",
        (memory.cache_bytes / 1024).max(1),
        memory.mmap_bytes
    ))
}

/// The page cache of a connection while it writes or reads much once (`in_bulk`), in KiB.
/// Measured (BENCHMARKS.md, "Issue 14: peak memory"): the statements that store 100,000 SARIF
/// findings took 1.74 s of CPU with 8 MiB, 1.59 s with 16 MiB, 1.51-1.53 s with 32 or 64 MiB;
/// 2 MiB cost about 0.35 s more than 64 MiB in the server.
const BULK_CACHE_KIB: u64 = 16 * 1024;

/// What a piece of work run `in_bulk` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bulk {
    /// Reads much once (a SARIF export).
    Read,
    /// Writes much in one transaction (a scan's results): its temporary tables (the staged
    /// findings, 25 MB for 100,000) and statement journals go to a temporary file, read
    /// through the temporary database's own small cache, instead of the server's memory.
    Write,
}

/// Runs `work` on `conn` with a small page cache and no memory map, then frees what the
/// connection cached and gives it back its own settings (`read_with`, `configure`). For the
/// one-off big reads and writes (a scan's results, a SARIF export): their pages are read or
/// written once, so a big cache or map would only hold them in the server's memory (the page
/// cache of the connection that stored 100,000 findings was 64 MiB of its peak), while the
/// lists, which read the same pages over and over, keep theirs. A write whose changed pages
/// outgrow the cache spills them to the WAL before its commit, as SQLite does with any cache.
/// Must run outside a transaction (SQLite refuses to move temporary storage inside one).
pub fn in_bulk<T, E: From<rusqlite::Error>>(
    conn: &mut Connection,
    bulk: Bulk,
    work: impl FnOnce(&mut Connection) -> Result<T, E>,
) -> Result<T, E> {
    let pragma = |conn: &Connection, name: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
    };
    let (cache, mmap, temp) = (
        pragma(conn, "cache_size")?,
        pragma(conn, "mmap_size")?,
        pragma(conn, "temp_store")?,
    );
    let temp_file = if bulk == Bulk::Write { 1 } else { temp };
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -{BULK_CACHE_KIB}; PRAGMA mmap_size = 0; PRAGMA temp_store = {temp_file};"
    ))?;
    let done = work(conn);
    // Given back whatever `work` did: the connection returns to the pool.
    let restored = conn.execute_batch(&format!(
        "PRAGMA shrink_memory; PRAGMA cache_size = {cache}; PRAGMA mmap_size = {mmap};
         PRAGMA temp_store = {temp};"
    ));
    let value = done?;
    restored?;
    Ok(value)
}

/// Rows `PRAGMA optimize` reads per index when it analyzes a table: enough for the planner's
/// statistics, and milliseconds even at 10,000,000 jobs.
const ANALYSIS_LIMIT: u32 = 1000;

/// `PRAGMA optimize`: refreshes the planner's statistics of tables that changed much since
/// (and, with `first`, of every table that has none yet: the server's start). The housekeeping
/// thread runs it hourly and when the server stops.
pub fn optimize(conn: &Connection, first: bool) -> rusqlite::Result<()> {
    let mask = if first { "= 0x10002" } else { "" };
    conn.execute_batch(&format!(
        "PRAGMA analysis_limit = {ANALYSIS_LIMIT}; PRAGMA optimize{mask};"
    ))
}

/// Switches on WAL once (it is a property of the file), applies the schema and any migrations.
fn prepare(conn: &mut Connection) -> anyhow::Result<()> {
    // WAL lets the status page and the job list read while a scan worker holds the write lock.
    // With synchronous=NORMAL a killed process loses no committed transaction; a power loss or
    // OS crash may lose the last ones, never corrupting the file (README, Settings).
    enable_incremental_vacuum(conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!("database journal mode is {mode}, not WAL");
    }
    let tx = begin(conn)?;
    tx.execute_batch(SCHEMA).context("applying schema.sql")?;
    migrate(&tx)?;
    tx.commit()?;
    optimize(conn, true).context("PRAGMA optimize")?;
    Ok(())
}

/// `auto_vacuum = INCREMENTAL`, so retention's `PRAGMA incremental_vacuum` can give the pages of
/// deleted rows back to the file system. A new file takes the setting before its first table; a
/// file made before schema 5 takes it only with a VACUUM, which rewrites the whole file and
/// cannot run inside a transaction, so it runs here, once (the mode is kept in the file).
fn enable_incremental_vacuum(conn: &Connection) -> anyhow::Result<()> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |row| row.get(0))?;
    if tables > 0 {
        log::info!("switching the database to incremental auto-vacuum (a one-time VACUUM)");
        conn.execute_batch("VACUUM")
            .context("VACUUM for incremental auto-vacuum")?;
    }
    Ok(())
}

/// Columns added after version 1, as (the version that added it, table, column, definition):
/// 2, tasks record the codepup version that made and ran them; 5, retention marks the jobs
/// whose logs it removed (issue 9); 8, users may have a password (issue 13); 9, schemes carry
/// their complexity threshold (issue 11); 13, the quality gate: schemes carry its thresholds,
/// jobs their verdict (issue 11).
const ADDED_COLUMNS: &[(i64, &str, &str, &str)] = &[
    (2, "tasks", "create_version", "TEXT"),
    (2, "tasks", "execute_version", "TEXT"),
    (5, "jobs", "log_removed_time", "TEXT"),
    (8, "users", "password_hash", "TEXT"),
    (
        9,
        "scan_schemes",
        "min_ccn",
        "INTEGER NOT NULL DEFAULT 20 CHECK (min_ccn > 0)",
    ),
    (
        13,
        "scan_schemes",
        "gate_max_new_errors",
        "INTEGER CHECK (gate_max_new_errors >= 0)",
    ),
    (
        13,
        "scan_schemes",
        "gate_no_new_secrets",
        "INTEGER NOT NULL DEFAULT 0 CHECK (gate_no_new_secrets IN (0, 1))",
    ),
    (
        13,
        "scan_schemes",
        "gate_max_new_complex",
        "INTEGER CHECK (gate_max_new_complex >= 0)",
    ),
    (
        13,
        "scan_schemes",
        "gate_max_dup_rate",
        "REAL CHECK (gate_max_dup_rate BETWEEN 0 AND 100)",
    ),
    (13, "jobs", "gate", "TEXT"),
];

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "the database was written by a newer codepup (schema {version}, this binary knows {SCHEMA_VERSION})"
        );
    }
    // Version 1 is schema.sql as first released; later numbered steps go here. schema.sql holds
    // the result, so a step adds only what a file made by an older schema lacks. Steps that
    // only add tables or indexes (6: notifications out, 10: triage, 11: retention's indexes)
    // need none: schema.sql makes them IF NOT EXISTS; their number tells an older binary to
    // refuse the file.
    for &(step, table, column, kind) in ADDED_COLUMNS {
        if version < step {
            add_column_if_missing(conn, table, column, kind)?;
        }
    }
    migrate_rows(conn, version)?;
    if version < SCHEMA_VERSION {
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    Ok(())
}

/// The steps that change rows, tables or indexes, after `ADDED_COLUMNS`.
fn migrate_rows(conn: &Connection, version: i64) -> anyhow::Result<()> {
    if version < 3 {
        // Per-project caches of line counts and checker results became the shared result
        // cache (`file_results`); the old rows are only a cache, so the next scan of each
        // project reads its files again.
        conn.execute_batch(
            "DROP TABLE IF EXISTS project_file_counts; DROP TABLE IF EXISTS project_checked_files;",
        )?;
    }
    if version < 4 {
        // The job and finding tallies and the job day bounds (issue 9): schema.sql made them
        // and their triggers, which count from now on; the rows already there are counted
        // once, here.
        jobs::rebuild_tallies(conn)?;
        findings::rebuild_tallies(conn)?;
    }
    if version < 5 {
        // Free pages go back to the file system through incremental auto-vacuum, which
        // `prepare` switches on outside this transaction (it needs a VACUUM).
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS jobs_logs_kept ON jobs (end_time)
             WHERE log_removed_time IS NULL",
        )?;
    }
    if version < 12 {
        // Version 4 indexed findings by (project, scan_open) and (project, scan_fix), and
        // version 5 by scan_open and scan_fix alone; a scan belongs to one project, so the
        // single-column indexes serve the list filters too, and every stored finding paid for
        // both pairs.
        conn.execute_batch(
            "DROP INDEX IF EXISTS issues_project_scan_open;
             DROP INDEX IF EXISTS issues_project_scan_fix;",
        )?;
    }
    if version < 14 {
        // Complexity findings take a status and an author (issue 11: `ccissues/status/`,
        // `ccissues/<id>/author/`) in `cc_issue_marks`, and files with copies become
        // duplicate-code issues (`dup_issues`), which schema.sql makes. The files of the runs
        // already stored get theirs here.
        conn.execute_batch(
            "INSERT OR IGNORE INTO dup_issues (project_id, file_path)
             SELECT DISTINCT project_id, file_path FROM dup_files",
        )?;
    }
    if version < 15 {
        // The findings list's key filters (issue 9): per path, per scan and per job's sightings
        // tallies, made by schema.sql with their triggers, count the findings already there once.
        findings::rebuild_key_tallies(conn)?;
    }
    if version < 16 {
        // The job lists at 10,000,000 jobs (issue 9): `job_sums` (the job tallies less their
        // messages, per project and for the whole store), made by schema.sql with its
        // triggers, counts the jobs already there once, from `job_tallies`; the (project,
        // create_time) index gave way to one that covers the filtered columns.
        jobs::rebuild_sums(conn)?;
        conn.execute_batch("DROP INDEX IF EXISTS jobs_project_create_time;")?;
    }
    if version < 20 {
        // A message filter across projects (issue 9): the distinct messages, their trigram
        // index and the store's sums by message, made by schema.sql with their triggers, count
        // the jobs already there once, from `job_tallies`.
        jobs::rebuild_messages(conn)?;
    }
    remake_from_schema(conn, version)
}

/// The steps that replace triggers or indexes schema.sql defines: each drops the old ones, then
/// schema.sql (idempotent) makes them anew, in step order.
const REMADE_FROM_SCHEMA: &[(i64, &str)] = &[
    // The insert triggers of `issues` leave a bulk insert's counts to `db::findings::record`
    // while it holds a row of `tally_deferrals`.
    (
        17,
        "DROP TRIGGER IF EXISTS issues_tally_insert; DROP TRIGGER IF EXISTS issues_keys_insert;",
    ),
    // A job's delete leaves `job_sums` through two triggers (its project's, the store's)
    // instead of one that did both at three times the cost.
    (18, "DROP TRIGGER IF EXISTS jobs_sums_delete;"),
    // Storing a scan's findings (issue 14): `issues_project_state` (project, state, severity)
    // was a prefix of `issues_tally_path`, which serves the same lookups, and every stored
    // finding paid for both; the sightings' insert trigger leaves a bulk insert's counts to
    // `db::findings::record` too.
    (
        19,
        "DROP INDEX IF EXISTS issues_project_state; DROP TRIGGER IF EXISTS job_issues_tally_insert;",
    ),
    // An update of a closed job leaves `job_sums` through two triggers (its project's, the
    // store's), as a delete does, instead of one with `project_id IN (old.project_id, 0)`.
    (20, "DROP TRIGGER IF EXISTS jobs_sums_update_old;"),
];

fn remake_from_schema(conn: &Connection, version: i64) -> anyhow::Result<()> {
    for (step, drops) in REMADE_FROM_SCHEMA {
        if version < *step {
            conn.execute_batch(drops)?;
            conn.execute_batch(SCHEMA)?;
        }
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

/// A member's role in column `index` (NULL or an unknown number: no role).
pub fn role_at(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<crate::domain::org::Role>> {
    Ok(row
        .get::<_, Option<i64>>(index)?
        .and_then(crate::domain::org::Role::from_i64))
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

    /// The page cache, map and temporary storage a connection reads with.
    fn settings(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
        let pragma = |name: &str| conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0));
        Ok((
            pragma("cache_size")?,
            pragma("mmap_size")?,
            pragma("temp_store")?,
        ))
    }

    #[test]
    fn bulk_work_runs_small_and_gives_the_connection_its_settings_back_even_when_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory {
            cache_bytes: 64 << 20,
            mmap_bytes: 1 << 30,
        };
        let pool = open(&dir.path().join("bulk.db"), memory).unwrap();
        let mut conn = pool.get().unwrap();
        let own = (-(64 << 10), 1 << 30, 2);
        assert_eq!(settings(&conn).unwrap(), own);
        let small = -(BULK_CACHE_KIB as i64);
        let during = in_bulk(&mut conn, Bulk::Write, |conn| settings(conn)).unwrap();
        assert_eq!(during, (small, 0, 1));
        assert_eq!(settings(&conn).unwrap(), own);
        let during = in_bulk(&mut conn, Bulk::Read, |conn| settings(conn)).unwrap();
        assert_eq!(during, (small, 0, 2));
        let failed: rusqlite::Result<()> = in_bulk(&mut conn, Bulk::Write, |conn| {
            conn.execute_batch("CREATE TEMP TABLE t (x); INSERT INTO t VALUES (1);")?;
            conn.execute_batch("SELECT no_such_function()")
        });
        assert!(failed.is_err());
        assert_eq!(settings(&conn).unwrap(), own);
    }

    #[test]
    fn a_busy_connection_waits_in_short_steps_for_the_whole_timeout() {
        let sleeps: Vec<Duration> = (0..)
            .map_while(|tries| {
                let (sleep, waited) = busy_backoff(tries);
                (waited < BUSY_TIMEOUT).then_some(sleep)
            })
            .collect();
        assert_eq!(sleeps[0], Duration::from_micros(20));
        assert_eq!(sleeps[1], Duration::from_micros(40));
        assert!(sleeps
            .iter()
            .all(|sleep| *sleep <= Duration::from_micros(2560)));
        let total: Duration = sleeps.iter().sum();
        assert!(
            total >= BUSY_TIMEOUT && total < BUSY_TIMEOUT + Duration::from_millis(3),
            "{total:?}"
        );
    }

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

    /// The SQL of trigger `name`, if there is one.
    fn trigger(conn: &Connection, name: &str) -> Option<String> {
        use rusqlite::OptionalExtension;
        conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .unwrap()
    }

    /// A file of schema `version` whose `project` and `store` triggers were one trigger with
    /// both sums in `IN (old.project_id, 0)`: opened, it has the two again, each with one.
    fn splits_the_sums_trigger(
        path: &std::path::Path,
        version: i64,
        project: &str,
        store: &str,
    ) -> Connection {
        {
            let conn = open_single(path).unwrap();
            let split = trigger(&conn, project).unwrap();
            let old = split.replace(
                "project_id = old.project_id",
                "project_id IN (old.project_id, 0)",
            );
            conn.execute_batch(&format!(
                "DROP TRIGGER {project}; DROP TRIGGER {store}; {old};
                 PRAGMA user_version = {version};"
            ))
            .unwrap();
        }
        let conn = open_single(path).unwrap();
        let sql = trigger(&conn, project).unwrap();
        assert!(sql.contains("project_id = old.project_id"), "{sql}");
        assert!(!sql.contains("IN (old.project_id, 0)"), "{sql}");
        let sql = trigger(&conn, store).unwrap();
        assert!(sql.contains("project_id = 0"), "{sql}");
        conn
    }

    #[test]
    fn a_version_17_file_gets_the_job_sums_delete_triggers_split_and_sums_stay_exact() {
        use rusqlite::params;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v17.db");
        // Schema 17 had one delete trigger for both sums.
        let conn = splits_the_sums_trigger(&path, 17, "jobs_sums_delete", "jobs_sums_delete_store");
        // Three closed jobs of two projects; one deleted: both sums count the other two.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO jobs (project_id, state, result_code, create_time, creator)
             VALUES (1, 2, 0, '2026-11-30T10:00:00.000000Z', 'a'),
                    (1, 2, 0, '2026-11-30T11:00:00.000000Z', 'a'),
                    (2, 2, 0, '2026-11-29T10:00:00.000000Z', 'a');
             DELETE FROM jobs WHERE id = (SELECT MIN(id) FROM jobs);",
        )
        .unwrap();
        let sum = |project: i64, period: &str| -> i64 {
            conn.query_row(
                "SELECT COALESCE(SUM(n), 0) FROM job_sums WHERE project_id = ?1 AND period = ?2",
                params![project, period],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert_eq!(sum(1, "A"), 1);
        assert_eq!(sum(0, "A"), 2);
        assert_eq!(sum(1, "D2026-11-30"), 1);
        assert_eq!(sum(0, "D2026-11-30"), 1);
        assert_eq!(sum(0, "D2026-11-29"), 1);
    }

    #[test]
    fn a_version_19_file_gets_the_job_sums_update_trigger_split() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v19.db");
        // Schema 19 had one update trigger (the old row's side) for both sums.
        let conn = splits_the_sums_trigger(
            &path,
            19,
            "jobs_sums_update_old",
            "jobs_sums_update_old_store",
        );
        // A closed job moved to another project and day: both sums follow it.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO jobs (project_id, state, result_code, create_time, creator)
             VALUES (1, 2, 0, '2026-11-30T10:00:00.000000Z', 'a');
             UPDATE jobs SET project_id = 2, create_time = '2026-11-29T10:00:00.000000Z';",
        )
        .unwrap();
        let rows: Vec<(i64, String, i64)> = conn
            .prepare("SELECT project_id, period, n FROM job_sums WHERE period LIKE 'D%' ORDER BY 1")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let day = "D2026-11-29".to_string();
        assert_eq!(rows, [(0, day.clone(), 1), (2, day, 1)]);
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

    #[test]
    fn a_file_from_before_schema_5_gets_incremental_vacuum_and_the_log_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            // A jobs table as schema 3 had it (the columns its indexes name), with one job.
            conn.execute_batch(
                "CREATE TABLE jobs (
                     id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, scan_id INTEGER,
                     state INTEGER NOT NULL DEFAULT 0, create_time TEXT NOT NULL,
                     end_time TEXT, result_code INTEGER, result_msg TEXT, creator TEXT,
                     created_from TEXT);
                 INSERT INTO jobs (project_id, create_time) VALUES (1, 'x');
                 PRAGMA user_version = 3;",
            )
            .unwrap();
            let mode: i64 = conn
                .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
                .unwrap();
            assert_eq!(mode, 0, "made without auto-vacuum");
        }
        let conn = open_single(&path).unwrap();
        let mode: i64 = conn
            .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 2, "incremental");
        let marked: Option<String> = conn
            .query_row("SELECT log_removed_time FROM jobs", [], |row| row.get(0))
            .unwrap();
        assert_eq!(marked, None);
        let index: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs_logs_kept'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(index, 1);
        let fresh = open_single(&dir.path().join("new.db")).unwrap();
        let mode: i64 = fresh
            .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 2, "a new file is incremental from the start");
    }

    /// A small deterministic generator: `next(n)` is below `n`.
    fn generator(mut seed: u64) -> impl FnMut(u64) -> u64 {
        move |below| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % below
        }
    }

    /// `rounds` writes of jobs and of findings each: inserts, updates of every counted column
    /// (NULLs, empty texts and -1 among the values) and deletes, of rows picked by position, and
    /// sightings upserted and deleted (before their job or finding, as retention does).
    fn write_jobs_and_findings(conn: &Connection, rounds: usize) {
        let mut next = generator(11);
        for round in 0..rounds {
            let (p, s, t, v, k) = (1 + next(2), next(6), next(4), next(3), next(60));
            let code = ["NULL", "0", "211", "-1"][next(4) as usize];
            let text = ["NULL", "'a'", "''", "'Exits'"][t as usize];
            let time = format!("'2026-0{}-1{}T00:00:00.000000Z'", 1 + next(3), next(10));
            let pick =
                |table: &str| format!("(SELECT id FROM {table} ORDER BY id LIMIT 1 OFFSET {k})");
            let job = match next(10) {
                0..=4 => format!(
                    "INSERT INTO jobs (project_id, state, result_code, creator, created_from, result_msg,
                         create_time) VALUES ({p}, {s}, {code}, {text}, {text}, {text}, {time})"
                ),
                5..=7 => format!(
                    "UPDATE jobs SET project_id = {p}, state = {s}, result_code = {code}, creator = {text},
                         created_from = {text}, result_msg = {text}, create_time = {time} WHERE id = {}",
                    pick("jobs")
                ),
                _ => format!(
                    "DELETE FROM job_issues WHERE job_id = {0}; DELETE FROM jobs WHERE id = {0}",
                    pick("jobs")
                ),
            };
            conn.execute_batch(&job)
                .unwrap_or_else(|error| panic!("{job}: {error}"));
            let (severity, state) = (1 + v, 1 + s % 3);
            let path = ["'a.py'", "'b/c.py'", "''"][next(3) as usize];
            let scan = ["NULL", "1", "2"][next(3) as usize];
            let scan_fix = ["NULL", "2", "3"][next(3) as usize];
            let issue = match next(8) {
                0 => format!(
                    "INSERT INTO issues (project_id, fingerprint, tool, rule, path, line, column_no,
                         severity, category, message, state, resolution, author, created_time,
                         modified_time)
                     VALUES ({p}, 'f{round}', 't', 'r{v}', {path}, 1, 1, {severity}, 'c', 'm', {state},
                             {v}, {text}, 't', 't')"
                ),
                1 => format!(
                    "UPDATE issues SET state = {state}, author = {text}, severity = {severity},
                         project_id = {p}, path = {path} WHERE id = {}",
                    pick("issues")
                ),
                2 => format!(
                    "UPDATE issues SET scan_open = {scan}, scan_fix = {scan_fix} WHERE id = {}",
                    pick("issues")
                ),
                3 => format!(
                    "INSERT INTO job_issues (job_id, issue_id, line, column_no)
                     SELECT job, issue, 1, 1 FROM (SELECT {} AS job, {} AS issue)
                     WHERE job IS NOT NULL AND issue IS NOT NULL
                     ON CONFLICT DO UPDATE SET line = line + 1",
                    pick("jobs"),
                    pick("issues")
                ),
                4 => format!("DELETE FROM job_issues WHERE issue_id = {}", pick("issues")),
                // As retention: a finding's sightings go before it.
                _ => format!(
                    "DELETE FROM job_issues WHERE issue_id = {0}; DELETE FROM issues WHERE id = {0}",
                    pick("issues")
                ),
            };
            conn.execute_batch(&issue)
                .unwrap_or_else(|error| panic!("{issue}: {error}"));
        }
    }

    /// The rows of `sql`, each as text, sorted.
    fn sorted_rows(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let mut rows: Vec<String> = stmt
            .query_map([], |row| {
                Ok((0..row.as_ref().column_count())
                    .map(|i| format!("{:?}", row.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        rows
    }

    /// `job_messages` holds the closed jobs per distinct message, its trigram index those
    /// messages, and `rebuild_messages` gives the rows the triggers kept.
    fn check_messages(conn: &Connection) {
        let messages = "SELECT text, n FROM job_messages";
        assert_eq!(
            sorted_rows(
                conn,
                "SELECT IFNULL(result_msg, ''), COUNT(*) FROM jobs WHERE state = 2 GROUP BY 1"
            ),
            sorted_rows(conn, messages),
        );
        let trigram = "SELECT rowid, text FROM job_messages_trigram WHERE text LIKE '%xit%'";
        let found = sorted_rows(conn, trigram);
        assert_eq!(
            found,
            sorted_rows(
                conn,
                "SELECT id, text FROM job_messages WHERE text LIKE '%xit%'"
            ),
            "the trigram index holds the messages there are"
        );
        let kept_messages = sorted_rows(
            conn,
            "SELECT text, period, state, code_set, result_code, creator, created_from, s.n
             FROM job_message_sums s JOIN job_messages m ON m.id = s.message_id",
        );
        jobs::rebuild_messages(conn).unwrap();
        assert_eq!(
            kept_messages,
            sorted_rows(
                conn,
                "SELECT text, period, state, code_set, result_code, creator, created_from, s.n
             FROM job_message_sums s JOIN job_messages m ON m.id = s.message_id"
            ),
            "rebuilt from the tallies"
        );
        assert_eq!(found.len(), sorted_rows(conn, trigram).len());
        conn.execute_batch(
            "INSERT INTO job_messages_trigram (job_messages_trigram) VALUES ('integrity-check');",
        )
        .unwrap();
    }

    /// The tallies the triggers keep equal a GROUP BY of the (closed) rows after any mix of inserts,
    /// updates of every counted column and deletes (issue 9: retention deletes with plain SQL),
    /// and every job lies within its day's id bounds.
    #[test]
    fn the_tallies_equal_a_count_of_the_rows_whatever_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_single(&dir.path().join("tally.db")).unwrap();
        conn.execute_batch(
            "INSERT INTO orgs (id, org_sid, name, created_time) VALUES (1, 'o', 'o', 't');
             INSERT INTO teams (id, org_id, name, display_name, created_time) VALUES (1, 1, 't', 't', 't');
             INSERT INTO repos (id, team_id, name, scm_url, fetch_url, created_time) VALUES (1, 1, 'r', 'u', 'u', 't');
             INSERT INTO projects (id, repo_id, branch, scan_scheme_id, project_key, created_time)
                 VALUES (1, 1, 'm', 1, 'a', 't'), (2, 1, 'm', 1, 'b', 't');
             INSERT INTO scans (id, project_id, scan_type, create_time)
                 VALUES (1, 1, 2, 't'), (2, 1, 2, 't'), (3, 2, 2, 't');",
        )
        .unwrap();
        write_jobs_and_findings(&conn, 3000);
        let jobs: i64 = conn
            .query_row("SELECT COUNT(*) FROM jobs", [], |row| row.get(0))
            .unwrap();
        assert!(jobs > 100, "the writes leave jobs to count: {jobs}");
        for (prefix, period) in [
            ("A", "'A'"),
            ("M", "'M' || substr(create_time, 1, 7)"),
            ("D", "'D' || substr(create_time, 1, 10)"),
        ] {
            assert_eq!(
                sorted_rows(&conn, &format!(
                    "SELECT project_id, {period}, state, result_code IS NOT NULL, IFNULL(result_code, -1),
                            IFNULL(creator, ''), IFNULL(created_from, ''), IFNULL(result_msg, ''), COUNT(*)
                     FROM jobs WHERE state = 2 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
                )),
                sorted_rows(&conn, &format!("SELECT * FROM job_tallies WHERE substr(period, 1, 1) = '{prefix}'")),
                "period {prefix}"
            );
            // `job_sums`: per project, and for the whole store as project 0.
            assert_eq!(
                sorted_rows(&conn, &format!(
                    "SELECT project_id, {period}, state, result_code IS NOT NULL, IFNULL(result_code, -1),
                            IFNULL(creator, ''), IFNULL(created_from, ''), COUNT(*)
                     FROM (SELECT project_id, state, result_code, creator, created_from, create_time
                           FROM jobs WHERE state = 2
                           UNION ALL SELECT 0, state, result_code, creator, created_from, create_time
                           FROM jobs WHERE state = 2)
                     GROUP BY 1, 2, 3, 4, 5, 6, 7"
                )),
                sorted_rows(&conn, &format!("SELECT * FROM job_sums WHERE substr(period, 1, 1) = '{prefix}'")),
                "sums of period {prefix}"
            );
            // The store's sums by message.
            assert_eq!(
                sorted_rows(&conn, &format!(
                    "SELECT IFNULL(result_msg, ''), {period}, state, result_code IS NOT NULL,
                            IFNULL(result_code, -1), IFNULL(creator, ''), IFNULL(created_from, ''), COUNT(*)
                     FROM jobs WHERE state = 2 GROUP BY 1, 2, 3, 4, 5, 6, 7"
                )),
                sorted_rows(&conn, &format!(
                    "SELECT m.text, s.period, s.state, s.code_set, s.result_code, s.creator,
                            s.created_from, s.n
                     FROM job_message_sums s JOIN job_messages m ON m.id = s.message_id
                     WHERE substr(s.period, 1, 1) = '{prefix}'"
                )),
                "message sums of period {prefix}"
            );
        }
        check_messages(&conn);
        let kept = sorted_rows(&conn, "SELECT * FROM job_sums");
        jobs::rebuild_sums(&conn).unwrap();
        assert_eq!(
            kept,
            sorted_rows(&conn, "SELECT * FROM job_sums"),
            "rebuilt from the tallies"
        );
        assert_eq!(
            sorted_rows(
                &conn,
                "SELECT project_id, state, severity, resolution, IFNULL(author, ''), rule, COUNT(*)
                 FROM issues GROUP BY 1, 2, 3, 4, 5, 6"
            ),
            sorted_rows(&conn, "SELECT * FROM issue_tallies"),
        );
        let key_tallies = [
            (
                "SELECT project_id, path, COUNT(*) FROM issues GROUP BY 1, 2",
                "SELECT project_id, path, n FROM issue_paths",
            ),
            (
                "SELECT scan_id, fixed, project_id, COUNT(*) FROM (
                     SELECT scan_open AS scan_id, 0 AS fixed, project_id FROM issues WHERE scan_open IS NOT NULL
                     UNION ALL SELECT scan_fix, 1, project_id FROM issues WHERE scan_fix IS NOT NULL)
                 GROUP BY 1, 2, 3",
                "SELECT scan_id, fixed, project_id, n FROM issue_scan_tallies",
            ),
            (
                "SELECT ji.job_id, i.project_id, COUNT(*) FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
                 GROUP BY 1, 2",
                "SELECT job_id, project_id, n FROM job_issue_tallies",
            ),
        ];
        for (counted, kept) in key_tallies {
            let expected = sorted_rows(&conn, counted);
            assert!(
                expected.len() > 2,
                "the writes leave rows to count: {counted}"
            );
            assert_eq!(expected, sorted_rows(&conn, kept), "{kept}");
        }
        let outside: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM job_days d
                     WHERE d.project_id = j.project_id AND d.day = substr(j.create_time, 1, 10)
                       AND j.id BETWEEN d.min_id AND d.max_id)",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(outside, 0, "every job lies within its day's bounds");
    }

    #[test]
    fn a_version_12_file_gets_the_gate_columns_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = open_single(&path).unwrap();
            // The columns as schema 12 had them: none of the gate's.
            conn.execute_batch(
                "ALTER TABLE scan_schemes DROP COLUMN gate_max_new_errors;
                 ALTER TABLE scan_schemes DROP COLUMN gate_no_new_secrets;
                 ALTER TABLE scan_schemes DROP COLUMN gate_max_new_complex;
                 ALTER TABLE scan_schemes DROP COLUMN gate_max_dup_rate;
                 ALTER TABLE jobs DROP COLUMN gate;
                 PRAGMA user_version = 12;",
            )
            .unwrap();
        }
        let conn = open_single(&path).unwrap();
        let template = schemes::get(&conn, crate::domain::ids::SchemeId(1))
            .unwrap()
            .unwrap();
        assert!(template.gate.is_empty(), "{:?}", template.gate);
        let gate_column: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('jobs') WHERE name = 'gate')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(gate_column);
    }

    #[test]
    fn a_version_3_file_keeps_its_users_and_they_get_no_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            // The users table as schema version 3 made it, with one user.
            conn.execute_batch(
                "CREATE TABLE users (
                     id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, nickname TEXT NOT NULL,
                     is_superuser INTEGER NOT NULL DEFAULT 0, is_active INTEGER NOT NULL DEFAULT 1,
                     token_prefix TEXT NOT NULL, token_hash BLOB NOT NULL,
                     token_created_time TEXT NOT NULL, created_time TEXT NOT NULL);
                 INSERT INTO users (username, nickname, token_prefix, token_hash,
                                    token_created_time, created_time)
                 VALUES ('old', 'Old', 'abcdefgh', x'00', 't', 't');
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        }
        let conn = open_single(&path).unwrap();
        let found = users::get_with_password(&conn, "old").unwrap().unwrap();
        assert_eq!((found.0.nickname.as_str(), found.1), ("Old", None));
        let sessions: i64 = conn
            .query_row("SELECT COUNT(*) FROM sessions", [], |row| row.get(0))
            .unwrap();
        assert_eq!(sessions, 0);
    }
}
