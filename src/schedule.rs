//! Scheduled scans: the cron reading (5 fields, in the server's `--tz-offset`, by the `croner`
//! crate) and the `scan-scheduler` thread, which once a second starts the scans whose slot has
//! come. Each schedule keeps its next slot in the database, so a slot missed while the server
//! was down is due at start-up and runs once; the slot after it is counted from the present,
//! so a long downtime never makes a burst of runs. Must not know about actix.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use time::{OffsetDateTime, UtcOffset};

use crate::background::Ticker;
use crate::clock;
use crate::db::{self, Pool};
use crate::domain::ids::ProjectId;
use crate::domain::job::code;
use crate::hooks::{self, Requested, Trigger};
use crate::scan::ScanQueue;

/// How often the scheduler looks for due schedules.
const TICK: Duration = Duration::from_secs(1);

/// A schedule turns itself off when this many of its project's last scans all failed in git.
pub const GIT_FAILURES_TO_DISABLE: i64 = 10;

/// The scheduler's "now". Real time, unless a test made it adjustable and moved it on; hidden
/// from the settings, it exists so tests need not wait for real cron slots.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    skew_seconds: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// A clock tests can move forward with `advance`; clones share it.
    pub fn adjustable() -> Clock {
        Clock {
            skew_seconds: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Moves an adjustable clock on by `seconds` (a real clock ignores this).
    pub fn advance(&self, seconds: i64) {
        if let Some(skew) = &self.skew_seconds {
            skew.fetch_add(seconds, Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        let skew = self
            .skew_seconds
            .as_ref()
            .map_or(0, |skew| skew.load(Ordering::SeqCst));
        OffsetDateTime::now_utc() + time::Duration::seconds(skew)
    }
}

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week, with
/// ranges, lists, steps, names and croner's `L`, `W`, `#`); seconds and years are refused.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    let text = text.trim();
    if text.split_whitespace().count() != 5 {
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), got {:?}",
            text
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|error| format!("not a cron expression: {error}"))
}

/// The first slot of `cron` strictly after `after`, reading the expression in `tz`.
pub fn next_run(cron: &Cron, after: OffsetDateTime, tz: UtcOffset) -> Option<OffsetDateTime> {
    let offset = chrono::FixedOffset::east_opt(tz.whole_seconds())?;
    let start = chrono::DateTime::from_timestamp(after.unix_timestamp(), 0)?.with_timezone(&offset);
    let next = cron.find_next_occurrence(&start, false).ok()?;
    OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()
}

/// `next_run` from a stored expression, as stored text.
pub fn next_run_stored(cron: &str, after: OffsetDateTime, tz: UtcOffset) -> Option<String> {
    let cron = parse_cron(cron).ok()?;
    next_run(&cron, after, tz).map(clock::to_stored)
}

/// The running scheduler thread. Stop it with `shutdown` after the HTTP server stopped and
/// before the scan pool's shutdown, so no scan is queued into a stopping engine.
pub struct Scheduler {
    ticker: Ticker,
}

impl Scheduler {
    /// Starts the follow-up scans owed since the last run (a project whose job closed while no
    /// process could act on its push), then the `scan-scheduler` thread. Call after the scan
    /// pool re-queued interrupted jobs.
    pub fn start(
        pool: Pool,
        queue: ScanQueue,
        tz: UtcOffset,
        clock: Clock,
    ) -> anyhow::Result<Scheduler> {
        {
            let mut conn = pool.get()?;
            let started = hooks::resume_followups(&mut conn)?;
            if started > 0 {
                log::info!("started {started} follow-up scan(s) owed to pushes before the restart");
                queue.job_added();
            }
        }
        let ticker = Ticker::spawn("scan-scheduler", TICK, move |_| {
            if let Err(error) = run_due(&pool, &queue, tz, &clock) {
                log::warn!("running scheduled scans: {error:#}");
            }
        })
        .context("starting the scheduler")?;
        Ok(Scheduler { ticker })
    }

    /// Stops the thread and waits for it (at most the end of one pass).
    pub fn shutdown(self) {
        self.ticker.shutdown();
    }
}

/// One pass: every due schedule starts its scan (or is turned off, or skips a busy slot), and
/// gets its next slot counted from now.
fn run_due(pool: &Pool, queue: &ScanQueue, tz: UtcOffset, clock: &Clock) -> anyhow::Result<()> {
    let now = clock.now();
    let now_stored = clock::to_stored(now);
    let mut conn = pool.get()?;
    for project_id in db::schedules::due(&conn, &now_stored)? {
        let tx = db::begin(&mut conn)?;
        let started = run_one(&tx, project_id, now, tz)?;
        tx.commit()?;
        if started {
            queue.job_added();
        }
    }
    Ok(())
}

/// Runs one due schedule inside `tx`; returns whether a job was queued.
fn run_one(
    tx: &rusqlite::Transaction<'_>,
    project_id: ProjectId,
    now: OffsetDateTime,
    tz: UtcOffset,
) -> anyhow::Result<bool> {
    let now_stored = clock::to_stored(now);
    // Read again inside the transaction: a PUT may have changed it since `due`.
    let Some(schedule) = db::schedules::get(tx, project_id)? else {
        return Ok(false);
    };
    let is_due = schedule.is_enabled
        && schedule
            .next_run_time
            .as_deref()
            .is_some_and(|next| next <= now_stored.as_str());
    if !is_due {
        return Ok(false);
    }
    let next = next_run_stored(&schedule.cron, now, tz);
    if !db::hooks::is_project_active(tx, project_id)? {
        log::info!("project {project_id}: not active, scheduled scan skipped");
        db::schedules::set_ran(tx, project_id, &now_stored, None, next.as_deref())?;
        return Ok(false);
    }
    let codes = db::schedules::last_result_codes(tx, project_id, GIT_FAILURES_TO_DISABLE)?;
    let is_failing_in_git = codes.len() as i64 == GIT_FAILURES_TO_DISABLE
        && codes
            .iter()
            .all(|code| (code::E_SERVER_SCM..code::E_SERVER_SCM + 10).contains(code));
    if is_failing_in_git {
        let reason = format!(
            "turned off at {}: the project's last {GIT_FAILURES_TO_DISABLE} scans failed in git \
             (result codes 11x); fix the repository's access, then enable the schedule again",
            clock::display(&now_stored, tz).unwrap_or(now_stored.clone())
        );
        log::warn!("project {project_id}: schedule {reason}");
        db::schedules::disable(tx, project_id, &reason)?;
        return Ok(false);
    }
    let trigger = Trigger {
        created_from: "schedule".to_string(),
        creator: "schedule".to_string(),
        creator_id: schedule.creator_id,
        incr_scan: schedule.incr_scan,
    };
    let requested = hooks::request_scan(tx, project_id, &trigger, None)?;
    let started = match requested {
        Requested::Started(job_id) => {
            log::info!("project {project_id}: scheduled scan, job {job_id}");
            Some(job_id)
        }
        other => {
            log::info!(
                "project {project_id}: scheduled slot skipped, job {} is unfinished",
                other.job_id()
            );
            None
        }
    };
    db::schedules::set_ran(tx, project_id, &now_stored, started, next.as_deref())?;
    Ok(started.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn five_fields_only() {
        assert!(parse_cron("0 3 * * *").is_ok());
        assert!(parse_cron("*/15 9-17 * * mon-fri").is_ok());
        assert!(parse_cron("0 0 3 * * *").is_err());
        assert!(parse_cron("0 3 * *").is_err());
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("nonsense").is_err());
    }

    #[test]
    fn slots_are_read_in_the_servers_offset() {
        let cron = parse_cron("0 3 * * *").unwrap();
        // 03:00 at +08:00 is 19:00 UTC the day before.
        let next = next_run(&cron, datetime!(2026-11-30 12:00 UTC), offset!(+8)).unwrap();
        assert_eq!(next, datetime!(2026-11-30 19:00 UTC));
        let next = next_run(&cron, next, offset!(+8)).unwrap();
        assert_eq!(next, datetime!(2026-12-01 19:00 UTC));
    }
}
