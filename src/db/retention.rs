//! SQL for retention (issue 9): which closed jobs a pass may delete, deleting them with what
//! hangs off them in small transactions, marking jobs whose logs went, and the result-cache rows
//! no project uses. Rows go with plain DELETE statements, so triggers on the tables (counters
//! kept by SQLite) see every deletion. Knows nothing of files: `crate::retention` removes logs,
//! workspaces and git caches.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::ids::{JobId, ProjectId};
use crate::domain::job::code;

/// What a pass keeps, as stored times.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Closed jobs that closed before this may go.
    pub job_cutoff: String,
    /// The last this many closed jobs of each project stay whatever their age.
    pub keep_last: u32,
    /// Closed jobs that closed before this lose their logs.
    pub log_cutoff: String,
}

/// Where a walk through the old closed jobs stands: the close time and id of the last job
/// looked at (jobs are walked by `jobs_end_time`, oldest close first).
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    end_time: String,
    id: i64,
}

/// A job a pass may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Doomed {
    pub job_id: i64,
    pub scan_id: Option<i64>,
}

/// The tables that refer to jobs besides those retention deletes from, without `ON DELETE
/// CASCADE` or `SET NULL`: a job one of their rows names is kept (another part of codepup still
/// needs it, and deleting it would break the foreign key). Found in the schema, so a table added
/// later is respected without retention knowing of it; a table that declared its rows go (or
/// let go) with their job is left to SQLite.
#[derive(Debug, Clone, Default)]
pub struct Referrers {
    tables: Vec<(String, String)>,
}

/// (table, column) pairs retention itself clears for a job it deletes.
const OWN_REFERRERS: [(&str, &str); 4] = [
    ("tasks", "job_id"),
    ("job_languages", "job_id"),
    ("job_issues", "job_id"),
    ("project_schedules", "last_job_id"),
];

pub fn referrers(conn: &Connection) -> rusqlite::Result<Referrers> {
    let mut stmt = conn.prepare(
        "SELECT m.name, f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
         WHERE m.type = 'table' AND f.\"table\" = 'jobs'
           AND f.on_delete NOT IN ('CASCADE', 'SET NULL', 'SET DEFAULT')
         ORDER BY m.name, f.\"from\"",
    )?;
    let found = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let mut tables = Vec::new();
    for pair in found {
        let (table, column): (String, String) = pair?;
        let own = OWN_REFERRERS
            .iter()
            .any(|(t, c)| *t == table && *c == column);
        if !own && table != "jobs" {
            tables.push((table, column));
        }
    }
    Ok(Referrers { tables })
}

impl Referrers {
    /// `OR EXISTS (...)` for each foreign table, against the job `j`.
    fn keeps_sql(&self) -> String {
        self.tables
            .iter()
            .map(|(table, column)| {
                let (table, column) = (table.replace('"', "\"\""), column.replace('"', "\"\""));
                format!(" OR EXISTS (SELECT 1 FROM \"{table}\" WHERE \"{column}\" = j.id)")
            })
            .collect()
    }
}

/// What keeps a project's jobs whatever their age, read once per project and pass (outside any
/// write): the id from which its last `keep_last` closed jobs start, the job its next incremental
/// scan compares with (`db::jobs::baseline`, the scan's own query), and its latest job with stored
/// results. Read early, they keep more, never less: a job closing later only adds newer ones.
#[derive(Debug, Clone, Copy, Default)]
struct ProjectKeeps {
    /// `None`: the project has no more than `keep_last` closed jobs (all are kept).
    last_from: Option<i64>,
    baseline: Option<i64>,
    last_results: Option<i64>,
}

impl ProjectKeeps {
    fn read(conn: &Connection, project_id: i64, keep_last: u32) -> rusqlite::Result<ProjectKeeps> {
        let last_from = if keep_last == 0 {
            Some(i64::MAX)
        } else {
            conn.prepare_cached(
                "SELECT id FROM jobs WHERE project_id = ?1 AND state = 2
                 ORDER BY id DESC LIMIT 1 OFFSET ?2 - 1",
            )?
            .query_row(params![project_id, keep_last], |row| row.get(0))
            .optional()?
        };
        let baseline =
            crate::db::jobs::baseline(conn, ProjectId(project_id), JobId(0))?.map(|(_, job)| job.0);
        let last_results = conn
            .prepare_cached(
                "SELECT id FROM jobs WHERE project_id = ?1 AND result_code = ?2 AND state = 2
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![project_id, code::OK], |row| row.get(0))
            .optional()?;
        Ok(ProjectKeeps {
            last_from,
            baseline,
            last_results,
        })
    }

    fn keeps(&self, job_id: i64) -> bool {
        self.last_from.is_none_or(|from| job_id >= from)
            || self.baseline == Some(job_id)
            || self.last_results == Some(job_id)
    }
}

/// What a walk keeps besides each job's own rows: the tables that refer to jobs, and each
/// project's `ProjectKeeps`, read when the walk first meets one of its jobs.
#[derive(Debug, Default)]
pub struct Guard {
    referrers: Referrers,
    keep_last: u32,
    projects: HashMap<i64, ProjectKeeps>,
}

impl Guard {
    pub fn new(conn: &Connection, keep_last: u32) -> rusqlite::Result<Guard> {
        Ok(Guard {
            referrers: referrers(conn)?,
            keep_last,
            projects: HashMap::new(),
        })
    }

    fn keeps(&mut self, conn: &Connection, project_id: i64, job_id: i64) -> rusqlite::Result<bool> {
        let keeps = match self.projects.get(&project_id) {
            Some(keeps) => *keeps,
            None => {
                let keeps = ProjectKeeps::read(conn, project_id, self.keep_last)?;
                self.projects.insert(project_id, keeps);
                keeps
            }
        };
        Ok(keeps.keeps(job_id))
    }
}

/// Looks at up to `limit` closed jobs past `cursor` that closed before the cutoff and returns
/// those the policy lets go; `None` when no job is left to look at. Kept: what `ProjectKeeps`
/// keeps, the first or last sighting of an open finding, and a job another table refers to.
/// Each row costs a few index look-ups and one per sighting of the job (the last-sighting
/// check), so a page is a bounded read.
pub fn doomed_page(
    conn: &Connection,
    policy: &Policy,
    guard: &mut Guard,
    cursor: &mut Cursor,
    limit: usize,
) -> rusqlite::Result<Option<Vec<Doomed>>> {
    let sql = format!(
        "SELECT j.id, j.end_time, j.scan_id, j.project_id,
           {OPEN_FIRST_SIGHTING} {others} OR {OPEN_LAST_SIGHTING} AS is_kept
         FROM jobs j
         WHERE j.end_time >= ?1 AND (j.end_time > ?1 OR j.id > ?2) AND j.end_time < ?3
           AND +j.state = 2
         ORDER BY j.end_time, j.id LIMIT ?4",
        others = guard.referrers.keeps_sql(),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![
        cursor.end_time,
        cursor.id,
        policy.job_cutoff,
        limit as i64,
    ])?;
    let mut seen = false;
    let mut doomed = Vec::new();
    while let Some(row) = rows.next()? {
        seen = true;
        let job_id: i64 = row.get(0)?;
        cursor.end_time = row.get(1)?;
        cursor.id = job_id;
        let is_kept: bool = row.get(4)?;
        if !is_kept && !guard.keeps(conn, row.get(3)?, job_id)? {
            doomed.push(Doomed {
                job_id,
                scan_id: row.get(2)?,
            });
        }
    }
    Ok(seen.then_some(doomed))
}

/// Whether job `j` holds the last sighting of an open finding: one look-up per sighting of the
/// job (not per open finding of the store). Not checked again when deleting: a finding becomes
/// open again only through a new scan, whose job then holds its last sighting.
const OPEN_LAST_SIGHTING: &str = "EXISTS (SELECT 1 FROM job_issues ji JOIN issues i ON i.id = ji.issue_id
       WHERE ji.job_id = j.id AND i.state = 1
         AND NOT EXISTS (SELECT 1 FROM job_issues l WHERE l.issue_id = ji.issue_id AND l.job_id > j.id))";

/// Whether job `j` is the first sighting of an open finding (checked again in the deleting
/// transaction: a scan may reopen a fixed finding, whose first sighting stays what it was).
const OPEN_FIRST_SIGHTING: &str =
    "EXISTS (SELECT 1 FROM issues i WHERE i.scan_open = j.scan_id AND i.state = 1)";

/// Rows one pass removed (or, for a dry run, would remove).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub jobs: u64,
    pub tasks: u64,
    pub sightings: u64,
    pub line_counts: u64,
    pub findings: u64,
    pub result_cache: u64,
}

/// How many rows one deleting transaction may touch at most (sightings, tasks, progress
/// steps), so it holds the write lock for a few milliseconds whatever the jobs hold. A job with
/// more is deleted over several transactions, its sightings first.
pub const ROWS_PER_TRANSACTION: usize = 1_000;

/// How long a deleting transaction goes on taking more jobs: rows are not all the work (the
/// tally triggers, the foreign-key look-ups, pages read from a cold disk), so a batch also ends
/// once it has run this long, measured as it goes.
pub const TIME_PER_TRANSACTION: Duration = Duration::from_millis(15);

/// Deletes what it can of `jobs` within one transaction's budget (`ROWS_PER_TRANSACTION`
/// rows, `TIME_PER_TRANSACTION` from `started`), front first: their sightings, progress steps,
/// tasks, line counts, the job rows and their scans, and fixed findings left with no sighting.
/// At least one job (or part of one) is done. Returns how many jobs from the front are done
/// (deleted, or found kept after all), what went, and the ids of the jobs deleted.
pub fn delete_some(
    tx: &Connection,
    jobs: &[Doomed],
    started: Instant,
) -> rusqlite::Result<(usize, Removed, Vec<i64>)> {
    let mut removed = Removed::default();
    let mut deleted = Vec::new();
    let mut budget = ROWS_PER_TRANSACTION;
    let mut issues = Vec::new();
    let mut done = 0;
    for job in jobs {
        // Half the time is kept for the end: a look-up and a delete for each fixed finding the
        // batch saw.
        if done > 0 && started.elapsed() * 2 >= TIME_PER_TRANSACTION {
            break;
        }
        let still_doomed: bool = tx
            .prepare_cached(&format!(
                "SELECT j.state = 2 AND NOT {OPEN_FIRST_SIGHTING} FROM jobs j WHERE j.id = ?1"
            ))?
            .query_row([job.job_id], |row| row.get(0))
            .optional()?
            .unwrap_or(false);
        if still_doomed {
            let finished = delete_one(tx, job, &mut budget, &mut removed, &mut issues)?;
            if !finished {
                break;
            }
            deleted.push(job.job_id);
        }
        done += 1;
        if budget == 0 {
            break;
        }
    }
    removed.findings = delete_unseen_fixed_findings(tx, &issues)?;
    Ok((done, removed, deleted))
}

/// Deletes one job's rows within `budget`; false when the budget ran out first (what was
/// deleted stays deleted, the rest waits for the next transaction).
fn delete_one(
    tx: &Connection,
    job: &Doomed,
    budget: &mut usize,
    removed: &mut Removed,
    issues: &mut Vec<i64>,
) -> rusqlite::Result<bool> {
    let before = issues.len();
    let mut stmt = tx.prepare_cached(
        "DELETE FROM job_issues WHERE job_id = ?1 AND issue_id IN (
             SELECT issue_id FROM job_issues WHERE job_id = ?1 LIMIT ?2)
         RETURNING issue_id",
    )?;
    let rows = stmt.query_map(params![job.job_id, *budget as i64], |row| row.get(0))?;
    for issue in rows {
        issues.push(issue?);
    }
    let sightings = issues.len() - before;
    removed.sightings += sightings as u64;
    *budget -= sightings;
    if *budget == 0 {
        return Ok(false);
    }
    let steps = tx
        .prepare_cached(
            "DELETE FROM task_progresses WHERE task_id IN (SELECT id FROM tasks WHERE job_id = ?1)",
        )?
        .execute([job.job_id])?;
    let tasks = tx
        .prepare_cached("DELETE FROM tasks WHERE job_id = ?1")?
        .execute([job.job_id])?;
    let counts = tx
        .prepare_cached("DELETE FROM job_languages WHERE job_id = ?1")?
        .execute([job.job_id])?;
    tx.prepare_cached("UPDATE project_schedules SET last_job_id = NULL WHERE last_job_id = ?1")?
        .execute([job.job_id])?;
    removed.jobs += tx
        .prepare_cached("DELETE FROM jobs WHERE id = ?1")?
        .execute([job.job_id])? as u64;
    removed.tasks += tasks as u64;
    removed.line_counts += counts as u64;
    *budget = budget.saturating_sub(steps + tasks + counts + 1);
    if let Some(scan_id) = job.scan_id {
        delete_unused_scan(tx, scan_id)?;
    }
    Ok(true)
}

/// A scan row goes when no job and no finding (first sighting, fix) names it.
fn delete_unused_scan(tx: &Connection, scan_id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "DELETE FROM scans WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM jobs WHERE scan_id = ?1)
           AND NOT EXISTS (SELECT 1 FROM issues WHERE scan_open = ?1)
           AND NOT EXISTS (SELECT 1 FROM issues WHERE scan_fix = ?1)",
    )?
    .execute([scan_id])?;
    Ok(())
}

/// Fixed findings (state 2) among `issues` with no sighting left go, and then the scans only
/// they named. Open findings never get here (their jobs are kept); a finding a user closed
/// (state 3) stays, so the decision holds when it comes back.
fn delete_unseen_fixed_findings(tx: &Connection, issues: &[i64]) -> rusqlite::Result<u64> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM issues WHERE id = ?1 AND state = 2
           AND NOT EXISTS (SELECT 1 FROM job_issues WHERE issue_id = ?1)
         RETURNING scan_open, scan_fix",
    )?;
    let mut deleted = 0;
    let mut scans = Vec::new();
    for issue in issues {
        let named: Option<(Option<i64>, Option<i64>)> = stmt
            .query_row([issue], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((open, fix)) = named {
            deleted += 1;
            scans.extend(open);
            scans.extend(fix);
        }
    }
    for scan in scans {
        delete_unused_scan(tx, scan)?;
    }
    Ok(deleted)
}

/// What deleting `jobs` would remove, counted without deleting (a dry run): the same rows
/// `delete_some` deletes when nothing changes in between.
pub fn count_doomed(conn: &Connection, jobs: &[Doomed]) -> rusqlite::Result<Removed> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS retention_doomed (id INTEGER PRIMARY KEY);
         DELETE FROM temp.retention_doomed;",
    )?;
    {
        let mut insert =
            conn.prepare_cached("INSERT INTO temp.retention_doomed (id) VALUES (?1)")?;
        for job in jobs {
            insert.execute([job.job_id])?;
        }
    }
    let count = |table: &str| -> rusqlite::Result<u64> {
        conn.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE job_id IN (SELECT id FROM temp.retention_doomed)"),
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|n| n as u64)
    };
    let findings: i64 = conn.query_row(
        "SELECT COUNT(*) FROM issues i
         WHERE i.state = 2
           AND i.id IN (SELECT issue_id FROM job_issues WHERE job_id IN (SELECT id FROM temp.retention_doomed))
           AND NOT EXISTS (SELECT 1 FROM job_issues o WHERE o.issue_id = i.id
                             AND o.job_id NOT IN (SELECT id FROM temp.retention_doomed))",
        [],
        |row| row.get(0),
    )?;
    let removed = Removed {
        jobs: jobs.len() as u64,
        tasks: count("tasks")?,
        sightings: count("job_issues")?,
        line_counts: count("job_languages")?,
        findings: findings as u64,
        result_cache: 0,
    };
    conn.execute_batch("DELETE FROM temp.retention_doomed")?;
    Ok(removed)
}

/// Up to `limit` closed jobs past `after` that closed before `cutoff` and still have their logs
/// on disk, oldest close first.
pub fn logs_due(
    conn: &Connection,
    cutoff: &str,
    after: &mut Cursor,
    limit: usize,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, end_time FROM jobs
         WHERE log_removed_time IS NULL AND end_time < ?1 AND +state = 2
           AND end_time >= ?2 AND (end_time > ?2 OR id > ?3)
         ORDER BY end_time, id LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![cutoff, after.end_time, after.id, limit as i64])?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        after.id = row.get(0)?;
        after.end_time = row.get(1)?;
        ids.push(after.id);
    }
    Ok(ids)
}

/// Records that the logs of `jobs` are gone from disk, front first, within one transaction's
/// budget (`ROWS_PER_TRANSACTION` rows, half of `TIME_PER_TRANSACTION` from `started`: an
/// update rewrites the job's row and its index entry, pages a cold disk may have to read);
/// returns how many from the front are marked (at least one).
pub fn mark_logs_removed(
    tx: &Connection,
    jobs: &[i64],
    now: &str,
    started: Instant,
) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached("UPDATE jobs SET log_removed_time = ?2 WHERE id = ?1")?;
    let mut done = 0;
    for job in jobs.iter().take(ROWS_PER_TRANSACTION) {
        if done > 0 && started.elapsed() * 2 >= TIME_PER_TRANSACTION {
            break;
        }
        stmt.execute(params![job, now])?;
        done += 1;
    }
    Ok(done)
}

/// Whether a job exists and is not closed: its workspace may be in use.
pub fn is_unfinished(conn: &Connection, job_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND state != 2)")?
        .query_row([job_id], |row| row.get(0))
}

/// Whether a repository's git cache is still wanted: the repository exists and is not deleted,
/// or a job of one of its projects is unfinished.
pub fn is_repo_in_use(conn: &Connection, repo_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM repos WHERE id = ?1 AND deleted_time IS NULL)
             OR EXISTS (SELECT 1 FROM jobs j JOIN projects p ON p.id = j.project_id
                        WHERE p.repo_id = ?1 AND j.state != 2)",
    )?
    .query_row([repo_id], |row| row.get(0))
}

/// A result-cache key: (repo, analyzer, path, blob), or for a reference (project, analyzer,
/// path, "").
pub type CacheKey = (i64, String, String, String);

/// Result-cache references held by deleted projects.
const UNUSED_REFERENCES: &str = "FROM project_file_results r
     WHERE r.project_id IN (SELECT id FROM projects WHERE deleted_time IS NOT NULL)";

/// Results no live project of their repository refers to.
const UNUSED_RESULT: &str = "NOT EXISTS (
         SELECT 1 FROM project_file_results r JOIN projects p ON p.id = r.project_id
         WHERE r.analyzer = f.analyzer AND r.path = f.path AND r.blob = f.blob
           AND p.repo_id = f.repo_id AND p.deleted_time IS NULL)";

/// Up to `limit` references held by deleted projects (few: a project's last scan's files).
pub fn unused_references(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<CacheKey>> {
    conn.prepare_cached(&format!(
        "SELECT r.project_id, r.analyzer, r.path, '' {UNUSED_REFERENCES} LIMIT ?1"
    ))?
    .query_map([limit as i64], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    })?
    .collect()
}

/// How many references held by deleted projects there are (a dry run).
pub fn count_unused_references(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(&format!("SELECT COUNT(*) {UNUSED_REFERENCES}"), [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n as u64)
}

/// Deletes references of deleted projects; returns how many went.
pub fn delete_references(tx: &Connection, keys: &[CacheKey]) -> rusqlite::Result<u64> {
    let mut stmt = tx.prepare_cached(
        "DELETE FROM project_file_results WHERE project_id = ?1 AND analyzer = ?2 AND path = ?3
           AND project_id IN (SELECT id FROM projects WHERE deleted_time IS NOT NULL)",
    )?;
    let mut deleted = 0;
    for (project, analyzer, path, _) in keys {
        deleted += stmt.execute(params![project, analyzer, path])? as u64;
    }
    Ok(deleted)
}

/// Walks the result cache in key order past `after` (a read, outside any write): up to
/// `limit` rows looked at, returning those no live project uses (a deleted project's
/// reference does not keep a result); `None` when none is left.
pub fn unused_results(
    conn: &Connection,
    after: &mut CacheKey,
    limit: usize,
) -> rusqlite::Result<Option<Vec<CacheKey>>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT f.repo_id, f.analyzer, f.path, f.blob, {UNUSED_RESULT} FROM file_results f
         WHERE (f.repo_id, f.analyzer, f.path, f.blob) > (?1, ?2, ?3, ?4)
         ORDER BY f.repo_id, f.analyzer, f.path, f.blob LIMIT ?5"
    ))?;
    let mut rows = stmt.query(params![after.0, after.1, after.2, after.3, limit as i64])?;
    let mut seen = false;
    let mut unused = Vec::new();
    while let Some(row) = rows.next()? {
        seen = true;
        *after = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        if row.get::<_, bool>(4)? {
            unused.push(after.clone());
        }
    }
    Ok(seen.then_some(unused))
}

/// Deletes results, each only if still unused when the transaction looks; returns how many.
pub fn delete_results(tx: &Connection, keys: &[CacheKey]) -> rusqlite::Result<u64> {
    let mut stmt = tx.prepare_cached(&format!(
        "DELETE FROM file_results AS f
         WHERE f.repo_id = ?1 AND f.analyzer = ?2 AND f.path = ?3 AND f.blob = ?4 AND {UNUSED_RESULT}"
    ))?;
    let mut deleted = 0;
    for (repo, analyzer, path, blob) in keys {
        deleted += stmt.execute(params![repo, analyzer, path, blob])? as u64;
    }
    Ok(deleted)
}

/// Gives up to `pages` free pages back to the file system, in one write. The pragma frees a
/// page per step (it returns a row for each), so it is stepped to its end: `execute_batch`
/// steps once and would free one page.
pub fn vacuum_step(conn: &Connection, pages: i64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table retention does not know keeps the jobs it names, unless it declared that its
    /// rows go with their job.
    #[test]
    fn a_job_named_by_an_unknown_table_is_kept_unless_that_table_cascades() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("r.db")).unwrap();
        // Foreign keys are not the point here: three old closed jobs of a project.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO jobs (id, project_id, state, create_time, end_time, result_code)
             VALUES (1, 1, 2, '2000', '2000', 301), (2, 1, 2, '2000', '2000', 301),
                    (3, 1, 2, '2000', '2000', 301);
             CREATE TABLE keeper (job_id INTEGER REFERENCES jobs (id));
             CREATE TABLE follower (job_id INTEGER REFERENCES jobs (id) ON DELETE CASCADE);
             INSERT INTO keeper VALUES (1);
             INSERT INTO follower VALUES (2);",
        )
        .unwrap();
        let policy = Policy {
            job_cutoff: "2100".to_string(),
            keep_last: 0,
            log_cutoff: "2100".to_string(),
        };
        let mut guard = Guard::new(&conn, 0).unwrap();
        let mut cursor = Cursor::default();
        let doomed = doomed_page(&conn, &policy, &mut guard, &mut cursor, 10)
            .unwrap()
            .unwrap();
        let ids: Vec<i64> = doomed.iter().map(|job| job.job_id).collect();
        assert_eq!(ids, [2, 3]);
        assert_eq!(
            doomed_page(&conn, &policy, &mut guard, &mut cursor, 10).unwrap(),
            None,
            "the walk ends"
        );
    }

    /// Deleting a row makes SQLite look up the rows that refer to it (the foreign-key check,
    /// ON DELETE CASCADE), once per deleted row; without an index on the referring column
    /// that reads the whole table, and retention's short transactions grow with every table.
    /// Every column referring to a table retention deletes from, or to one whose rows go with
    /// them, leads an index.
    #[test]
    fn every_column_referring_to_what_retention_deletes_is_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("r.db")).unwrap();
        let mut deleted: Vec<String> = ["jobs", "scans", "issues", "job_issues", "tasks"]
            .map(String::from)
            .to_vec();
        deleted.extend(["task_progresses", "job_languages"].map(String::from));
        let mut unindexed = Vec::new();
        let mut at = 0;
        while at < deleted.len() {
            let parent = deleted[at].clone();
            at += 1;
            let mut stmt = conn
                .prepare(
                    "SELECT m.name, f.\"from\", f.on_delete FROM sqlite_master m,
                       pragma_foreign_key_list(m.name) f
                     WHERE m.type = 'table' AND f.\"table\" = ?1",
                )
                .unwrap();
            let children: Vec<(String, String, String)> = stmt
                .query_map([&parent], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for (table, column, on_delete) in children {
                let leads: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) l,
                           pragma_index_info(l.name) i WHERE i.seqno = 0 AND i.name = ?2)
                         OR EXISTS (SELECT 1 FROM pragma_table_info(?1)
                           WHERE pk = 1 AND name = ?2 AND type = 'INTEGER')",
                        [&table, &column],
                        |row| row.get(0),
                    )
                    .unwrap();
                if !leads {
                    unindexed.push(format!("{table}.{column}"));
                }
                if on_delete == "CASCADE" && !deleted.contains(&table) {
                    deleted.push(table);
                }
            }
        }
        assert_eq!(unindexed, Vec::<String>::new());
    }

    /// One vacuum step gives back as many pages as it is asked for, not one.
    #[test]
    fn a_vacuum_step_frees_all_the_pages_it_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("r.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE filler (x BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
             INSERT INTO filler SELECT zeroblob(8000) FROM n;
             DELETE FROM filler;",
        )
        .unwrap();
        let free = |conn: &Connection| -> i64 {
            conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))
                .unwrap()
        };
        let before = free(&conn);
        assert!(before > 100, "{before} free pages");
        vacuum_step(&conn, 50).unwrap();
        assert_eq!(free(&conn), before - 50);
    }
}
