//! Retention (issue 9): a housekeeping pass that deletes closed jobs past `--retain-days` (but
//! never what codepup still needs, see `db::retention::doomed_page`), logs past
//! `--retain-log-days`, result-cache rows no project uses, leftover workspaces, git caches of
//! deleted repositories and the temporary packs of killed fetches, then gives the free pages
//! back to the file system. Every write is a short transaction of its own (at most
//! `db::retention::ROWS_PER_TRANSACTION` rows or `TIME_PER_TRANSACTION` of work, checkpointed
//! after, outside it), so workers and requests wait a few milliseconds at most. The `housekeeping` thread runs a pass shortly after start and hourly; `codepup
//! prune` runs one now. Must not know about actix.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use rusqlite::Connection;
use time::OffsetDateTime;

use crate::background::StopSignal;
use crate::clock;
use crate::config::{Config, Retention};
use crate::db::{self, retention as sql, Pool};
use crate::domain::ids::JobId;
use crate::metrics::Metrics;
use crate::scan::checkout;

/// How often the thread runs a pass.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// Jobs (or cache rows) looked at per read.
const PAGE: usize = 500;

/// SQLite virtual-machine steps between two looks at the stop signal while a statement runs
/// (well under a millisecond of work).
const PROGRESS_STEPS: std::ffi::c_int = 10_000;

/// A write transaction longer than this is logged (the pass's target is ~50 ms).
const SLOW_WRITE: Duration = Duration::from_millis(50);

/// Pages `PRAGMA incremental_vacuum` gives back per step (each step is a write of its own).
const VACUUM_STEP_PAGES: i64 = 256;

/// A `tmp_pack_*` file older than this belongs to no running fetch: a fetch is killed after
/// `checkout::FETCH_TIMEOUT`, and its file is written to as it runs.
const STALE_TMP_PACK: Duration = Duration::from_secs(2 * 60 * 60);

/// How long a pass leaves the write lock alone after a write transaction that took `took`:
/// at least as long as the transaction, so a pass never has the lock more than half the time.
/// When another connection wrote since the pass's previous transaction (`others_wrote`), at
/// least 25 ms too: a writer that waited (SQLite's busy handler retries after 1, 2, 5, 10, 15,
/// 20, 25 ms, ...) gets in before the pass's next transaction instead of being starved by
/// transactions back to back. When nobody else writes, the backlog drains at full speed.
fn pause_after(took: Duration, others_wrote: bool) -> Duration {
    if others_wrote {
        took.max(Duration::from_millis(25))
    } else {
        took.max(Duration::from_millis(1))
    }
}

/// Where a pass finds the files it removes.
#[derive(Debug, Clone)]
pub struct Paths {
    pub db: PathBuf,
    pub logs: PathBuf,
    pub workspaces: PathBuf,
    pub git_caches: PathBuf,
}

impl Paths {
    pub fn of(config: &Config) -> Paths {
        Paths::in_data_dir(&config.data_dir)
    }

    pub fn in_data_dir(data_dir: &Path) -> Paths {
        Paths {
            db: crate::config::db_path_in(data_dir),
            logs: crate::config::logs_dir_in(data_dir),
            workspaces: data_dir.join("workspaces"),
            git_caches: data_dir.join("git"),
        }
    }
}

/// What one pass removed, or for a dry run would remove.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    pub rows: sql::Removed,
    /// Job log directories (a job's own log and its tasks').
    pub logs: u64,
    pub workspaces: u64,
    pub git_caches: u64,
    pub tmp_packs: u64,
    /// How much smaller the database file got.
    pub freed_bytes: u64,
    /// The longest any of the pass's write transactions held the write lock.
    pub longest_write: Duration,
    /// Whether a stop (the server shutting down) ended the pass before its end.
    pub stopped: bool,
}

impl Report {
    /// Each kind of thing a pass removes, with its count, in a fixed order: the CLI's lines,
    /// the log line and the metric's labels.
    pub fn counts(&self) -> [(&'static str, u64); 10] {
        let rows = &self.rows;
        [
            ("jobs", rows.jobs),
            ("tasks", rows.tasks),
            ("sightings", rows.sightings),
            ("line_counts", rows.line_counts),
            ("fixed_findings", rows.findings),
            ("result_cache", rows.result_cache),
            ("logs", self.logs),
            ("workspaces", self.workspaces),
            ("git_caches", self.git_caches),
            ("tmp_packs", self.tmp_packs),
        ]
    }
}

impl fmt::Display for Report {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let counts: Vec<String> = self
            .counts()
            .iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        write!(out, "retention {verb} {}", counts.join(", "))?;
        if !self.dry_run {
            write!(
                out,
                "; database {} smaller; longest write {} ms",
                crate::config::format_size(self.freed_bytes),
                self.longest_write.as_millis()
            )?;
        }
        if self.stopped {
            write!(out, "; stopped before its end (the next pass goes on)")?;
        }
        Ok(())
    }
}

/// One pass over one connection.
struct Pass<'a> {
    conn: &'a mut Connection,
    paths: &'a Paths,
    policy: sql::Policy,
    report: Report,
    stop: Option<Arc<StopSignal>>,
    /// Whether another connection committed during the pause after the pass's previous write
    /// (`PRAGMA data_version` changed): writers are about, the next pause is a long one.
    others_wrote: bool,
}

/// Runs one pass at `now` (or counts what it would remove, with `dry_run`).
pub fn run_pass(
    conn: &mut Connection,
    paths: &Paths,
    retention: &Retention,
    now: OffsetDateTime,
    dry_run: bool,
) -> anyhow::Result<Report> {
    Pass::new(conn, paths, retention, now, dry_run).run()
}

impl<'a> Pass<'a> {
    fn new(
        conn: &'a mut Connection,
        paths: &'a Paths,
        retention: &Retention,
        now: OffsetDateTime,
        dry_run: bool,
    ) -> Pass<'a> {
        let days = |n: u32| clock::to_stored(now - time::Duration::days(i64::from(n)));
        Pass {
            conn,
            paths,
            policy: sql::Policy {
                job_cutoff: days(retention.days),
                keep_last: retention.jobs,
                log_cutoff: days(retention.log_days),
            },
            report: Report {
                dry_run,
                ..Report::default()
            },
            stop: None,
            others_wrote: true,
        }
    }

    /// Runs the pass with the connection's automatic checkpoint off (see `wrote`) and, when it
    /// can be stopped, a progress handler that interrupts whatever statement runs once a stop
    /// is asked (a long read, a write transaction, which then rolls back); sets both back
    /// after, whatever happened: the connection may go back to a pool.
    fn run(mut self) -> anyhow::Result<Report> {
        let automatic: i64 = self
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))?;
        self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        if let Some(stop) = self.stop.clone() {
            self.conn
                .progress_handler(PROGRESS_STEPS, Some(move || stop.is_stopping()))?;
        }
        log::info!("retention pass started");
        let done = self.steps();
        let removed = self.conn.progress_handler(0, None::<fn() -> bool>);
        self.conn
            .execute_batch(&format!("PRAGMA wal_autocheckpoint = {automatic}"))?;
        removed?;
        match done {
            Err(error) if self.is_stopping() && was_interrupted(&error) => {
                self.report.stopped = true;
                Ok(self.report)
            }
            done => done.map(|()| {
                self.report.stopped = self.is_stopping();
                self.report
            }),
        }
    }

    fn steps(&mut self) -> anyhow::Result<()> {
        let size_before = file_size(&self.paths.db);
        let doomed = self
            .phase("jobs", Pass::jobs)
            .context("deleting old jobs")?;
        self.phase("logs", |pass| pass.logs(&doomed))
            .context("removing old logs")?;
        self.phase("result cache", Pass::results)
            .context("deleting unused cached results")?;
        self.phase("files", Pass::files)
            .context("removing leftover files")?;
        if !self.report.dry_run && !self.is_stopping() {
            self.phase("vacuum", Pass::vacuum)
                .context("giving free pages back")?;
            self.report.freed_bytes = size_before.saturating_sub(file_size(&self.paths.db));
        }
        Ok(())
    }

    /// Runs one phase of the pass, logging how long it took and what the pass had removed by
    /// its end.
    fn phase<T>(
        &mut self,
        name: &str,
        work: impl FnOnce(&mut Self) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let done = work(self);
        log::info!(
            "retention phase {name}: {:.1} s{}; {} jobs, {} logs, {} result cache rows so far",
            started.elapsed().as_secs_f64(),
            if self.is_stopping() { " (stopped)" } else { "" },
            self.report.rows.jobs,
            self.report.logs,
            self.report.rows.result_cache,
        );
        done
    }

    fn is_stopping(&self) -> bool {
        self.stop.as_deref().is_some_and(StopSignal::is_stopping)
    }

    /// Runs `work` in a write transaction of its own, timing how long it holds the lock (and
    /// the CPU time it used meanwhile), then lets the lock go for a while (see `pause_after`).
    fn write<T>(
        &mut self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let tx = db::begin(self.conn)?;
        let started = Instant::now();
        let cpu_started = clock::thread_cpu_micros();
        let value = work(&tx)?;
        tx.commit()?;
        let cpu = clock::thread_cpu_micros() - cpu_started;
        self.wrote(started.elapsed(), cpu)?;
        Ok(value)
    }

    /// After a write transaction (`took` is how long it held the write lock, `cpu_micros` the
    /// CPU time it used): copies the write-ahead log into the database file, then pauses. The
    /// connection's own automatic checkpoint is off during a pass, so the copy (and its fsync,
    /// slow on a busy disk) runs here, outside the transaction and its timing: a PASSIVE
    /// checkpoint holds no lock a writer waits for, and copies only what no reader still needs.
    fn wrote(&mut self, took: Duration, cpu_micros: i64) -> rusqlite::Result<()> {
        self.report.longest_write = self.report.longest_write.max(took);
        if took > SLOW_WRITE {
            // Far more time than CPU: the thread waited (for the CPU on a busy machine, or for
            // pages from the disk) while it held the lock.
            log::info!(
                "retention: a write transaction held the write lock {} ms ({} ms of CPU)",
                took.as_millis(),
                cpu_micros / 1000
            );
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        let data_version = |conn: &Connection| -> rusqlite::Result<i64> {
            conn.query_row("PRAGMA data_version", [], |row| row.get(0))
        };
        let before = data_version(self.conn)?;
        thread::sleep(pause_after(took, self.others_wrote));
        self.others_wrote = data_version(self.conn)? != before;
        Ok(())
    }

    /// Deletes (or counts) the jobs the policy lets go; returns the ids of those a dry run
    /// would delete, so its log count does not count them twice.
    fn jobs(&mut self) -> anyhow::Result<HashSet<i64>> {
        let mut guard = sql::Guard::new(self.conn, self.policy.keep_last)?;
        let mut cursor = sql::Cursor::default();
        let mut all = Vec::new();
        while let Some(page) =
            sql::doomed_page(self.conn, &self.policy, &mut guard, &mut cursor, PAGE)?
        {
            if self.is_stopping() {
                break;
            }
            if self.report.dry_run {
                all.extend(page);
            } else {
                self.delete_jobs(&page)?;
            }
        }
        if self.report.dry_run {
            self.report.rows = sql::count_doomed(self.conn, &all)?;
            self.report.logs += all
                .iter()
                .filter(|job| self.logs_dir(job.job_id).exists())
                .count() as u64;
        }
        Ok(all.iter().map(|job| job.job_id).collect())
    }

    /// Deletes `page`'s jobs a transaction at a time, then their logs and workspaces.
    fn delete_jobs(&mut self, mut page: &[sql::Doomed]) -> anyhow::Result<()> {
        while !page.is_empty() {
            let (done, removed, deleted) =
                self.write(|tx| sql::delete_some(tx, page, Instant::now()))?;
            add(&mut self.report.rows, &removed);
            for job_id in deleted {
                self.report.logs += u64::from(remove_dir(&self.logs_dir(job_id)));
            }
            page = &page[done..];
        }
        Ok(())
    }

    fn logs_dir(&self, job_id: i64) -> PathBuf {
        crate::scan::job_logs_dir(&self.paths.logs, JobId(job_id))
    }

    /// Removes the logs of jobs that closed before the log cutoff, then marks them.
    fn logs(&mut self, doomed: &HashSet<i64>) -> anyhow::Result<()> {
        let mut cursor = sql::Cursor::default();
        let now = clock::now_stored();
        loop {
            let due = sql::logs_due(self.conn, &self.policy.log_cutoff, &mut cursor, PAGE)?;
            if due.is_empty() || self.is_stopping() {
                return Ok(());
            }
            for &job_id in due.iter().filter(|job_id| !doomed.contains(job_id)) {
                let dir = self.logs_dir(job_id);
                self.report.logs += u64::from(if self.report.dry_run {
                    dir.exists()
                } else {
                    remove_dir(&dir)
                });
            }
            if !self.report.dry_run {
                // Marked after the files went: a crash in between leaves them unmarked, and
                // the next pass marks them (the files are gone already).
                let mut left = &due[..];
                while !left.is_empty() && !self.is_stopping() {
                    let done =
                        self.write(|tx| sql::mark_logs_removed(tx, left, &now, Instant::now()))?;
                    left = &left[done..];
                }
            }
        }
    }

    /// Deletes the result-cache rows no project uses: references of deleted projects, then
    /// results nobody refers to.
    fn results(&mut self) -> anyhow::Result<()> {
        if self.report.dry_run {
            self.report.rows.result_cache += sql::count_unused_references(self.conn)?;
        } else {
            loop {
                let keys = sql::unused_references(self.conn, sql::ROWS_PER_TRANSACTION)?;
                if keys.is_empty() || self.is_stopping() {
                    break;
                }
                self.report.rows.result_cache +=
                    self.write(|tx| sql::delete_references(tx, &keys))?;
            }
        }
        let mut cursor = (i64::MIN, String::new(), String::new(), String::new());
        while let Some(keys) = sql::unused_results(self.conn, &mut cursor, PAGE)? {
            if self.is_stopping() {
                break;
            }
            self.report.rows.result_cache += if self.report.dry_run {
                keys.len() as u64
            } else {
                self.write(|tx| sql::delete_results(tx, &keys))?
            };
        }
        Ok(())
    }

    /// Workspaces of jobs no longer running, git caches of deleted repositories, and the
    /// temporary packs killed fetches left in the others.
    fn files(&mut self) -> anyhow::Result<()> {
        let dry_run = self.report.dry_run;
        let mut workspaces = HashSet::new();
        for (path, job_id) in numbered_entries(&self.paths.workspaces, "job-") {
            if self.is_stopping() {
                return Ok(());
            }
            if !sql::is_unfinished(self.conn, job_id)? {
                workspaces.insert(job_id);
                if !dry_run {
                    remove_entry(&path);
                }
            }
        }
        self.report.workspaces = workspaces.len() as u64;
        for (path, repo_id) in numbered_entries(&self.paths.git_caches, "repo-") {
            let is_cache =
                path.file_name() == checkout::cache_dir(Path::new(""), repo_id).file_name();
            if !is_cache {
                continue;
            }
            if sql::is_repo_in_use(self.conn, repo_id)? {
                self.report.tmp_packs += remove_stale_packs(&path, dry_run);
            } else {
                self.report.git_caches += 1;
                if !dry_run {
                    checkout::remove_tree(&path);
                }
            }
        }
        Ok(())
    }

    /// Gives the free pages back a step at a time, then checkpoints without waiting for anyone,
    /// so the file shrinks.
    fn vacuum(&mut self) -> anyhow::Result<()> {
        let mut last_free = i64::MAX;
        loop {
            let free: i64 = self
                .conn
                .query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
            // A step that freed nothing (another writer keeps making free pages) ends it too.
            if free == 0 || free >= last_free || self.is_stopping() {
                break;
            }
            last_free = free;
            let started = Instant::now();
            let cpu_started = clock::thread_cpu_micros();
            sql::vacuum_step(self.conn, VACUUM_STEP_PAGES)?;
            self.wrote(started.elapsed(), clock::thread_cpu_micros() - cpu_started)?;
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

fn add(total: &mut sql::Removed, more: &sql::Removed) {
    total.jobs += more.jobs;
    total.tasks += more.tasks;
    total.sightings += more.sightings;
    total.line_counts += more.line_counts;
    total.findings += more.findings;
    total.result_cache += more.result_cache;
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

/// Removes a directory tree; whether there was one.
fn remove_dir(dir: &Path) -> bool {
    let existed = dir.exists();
    if existed {
        checkout::remove_tree(dir);
    }
    existed
}

fn remove_entry(path: &Path) {
    if path.is_dir() {
        checkout::remove_tree(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

/// The entries of `dir` named `<prefix><number>` or `<prefix><number>.<anything>`, with the
/// number.
fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(PathBuf, i64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.strip_prefix(prefix)?;
            let number = rest.split('.').next()?.parse().ok()?;
            Some((entry.path(), number))
        })
        .collect()
}

/// Removes (or counts) the `tmp_pack_*` and `tmp_idx_*` files a killed fetch left in a cache's
/// pack directory; a file written to recently may belong to a running fetch and stays.
fn remove_stale_packs(cache: &Path, dry_run: bool) -> u64 {
    let Ok(entries) = std::fs::read_dir(cache.join("objects").join("pack")) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_temporary = name.starts_with("tmp_pack_") || name.starts_with("tmp_idx_");
        let age = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok());
        if is_temporary && age.is_some_and(|age| age > STALE_TMP_PACK) {
            removed += 1;
            if !dry_run {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    removed
}

/// The running `housekeeping` thread. Stop it with `shutdown`; a pass in progress ends after
/// its current transaction.
pub struct Housekeeper {
    stop: Arc<StopSignal>,
    thread: JoinHandle<()>,
}

impl Housekeeper {
    /// Starts the thread: a pass `retention.first_pass_after` from now, then one an hour, each
    /// followed by `PRAGMA optimize` (and one more when it stops).
    pub fn start(
        pool: Pool,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Housekeeper> {
        let stop = Arc::new(StopSignal::default());
        let thread_stop = stop.clone();
        let (paths, retention) = (Paths::of(config), config.retention);
        let thread = thread::Builder::new()
            .name("housekeeping".into())
            .spawn(move || {
                let mut wait = retention.first_pass_after;
                while !thread_stop.sleep(wait) {
                    match one_pass(&pool, &paths, &retention, &thread_stop) {
                        Ok(report) => {
                            log::info!("{report}");
                            metrics.retention_pass(&report.counts(), report.longest_write);
                        }
                        Err(error) => log::warn!("retention pass failed: {error:#}"),
                    }
                    if !thread_stop.is_stopping() {
                        optimize(&pool);
                    }
                    wait = EVERY;
                }
                // The pool's last word: statistics for the next start (SQLite's advice for
                // long-lived connections is to optimize before closing them).
                optimize(&pool);
            })
            .context("starting the housekeeping thread")?;
        Ok(Housekeeper { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub fn shutdown(self) {
        self.stop.stop();
        let _ = self.thread.join();
    }
}

/// `PRAGMA optimize` on a pooled connection; a failure is logged, never fatal.
fn optimize(pool: &Pool) {
    let result = pool
        .get()
        .map_err(anyhow::Error::from)
        .and_then(|conn| db::optimize(&conn, false).map_err(anyhow::Error::from));
    if let Err(error) = result {
        log::warn!("PRAGMA optimize failed: {error:#}");
    }
}

fn one_pass(
    pool: &Pool,
    paths: &Paths,
    retention: &Retention,
    stop: &Arc<StopSignal>,
) -> anyhow::Result<Report> {
    let mut conn = pool.get()?;
    let mut pass = Pass::new(
        &mut conn,
        paths,
        retention,
        OffsetDateTime::now_utc(),
        false,
    );
    pass.stop = Some(stop.clone());
    pass.run()
}

/// Whether a statement of the pass was interrupted by its progress handler (a stop).
fn was_interrupted(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(failure, _))
                if failure.code == rusqlite::ErrorCode::OperationInterrupted
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pause after a write: as long as the write at least; 25 ms at least while other
    /// connections write, so a writer in SQLite's busy handler gets its turn.
    #[test]
    fn the_pause_is_as_long_as_the_write_and_long_enough_for_waiting_writers_only_when_they_write()
    {
        let ms = Duration::from_millis;
        assert_eq!(pause_after(ms(10), true), ms(25));
        assert_eq!(pause_after(ms(40), true), ms(40));
        assert_eq!(pause_after(ms(10), false), ms(10));
        assert_eq!(pause_after(Duration::ZERO, false), ms(1));
    }

    /// A pass asked to stop ends at once, as a stopped pass and not as a failure, deleting
    /// nothing more; the connection it leaves behind (a pooled one, in the server) has no
    /// progress handler left to interrupt its next user.
    #[test]
    fn a_stopped_pass_ends_without_deleting_and_leaves_the_connection_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_data_dir(dir.path());
        let mut conn = db::open_single(&paths.db).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO jobs (id, project_id, state, create_time, end_time, result_code)
             SELECT i, 1, 2, '2000', '2000', 301 FROM n;",
        )
        .unwrap();
        let stop = Arc::new(StopSignal::default());
        stop.stop();
        let retention = Retention::default();
        let mut pass = Pass::new(
            &mut conn,
            &paths,
            &retention,
            OffsetDateTime::now_utc(),
            false,
        );
        pass.stop = Some(stop);
        let report = pass.run().unwrap();
        assert!(report.stopped);
        assert_eq!(report.rows.jobs, 0);
        let (jobs, steps): (i64, i64) = conn
            .query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                 SELECT (SELECT COUNT(*) FROM jobs), COUNT(*) FROM n",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((jobs, steps), (3000, 100_000));
    }
}
