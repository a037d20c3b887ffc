//! Scans that start by themselves: a forge's push (`forge.rs` reads the delivery), and the
//! follow-up scan a busy project is owed. Jobs are made with `db::jobs::insert`, as
//! `scans/create` makes them; the scheduler (`crate::schedule`) uses `request_scan` too.
//!
//! Bursts: a push while the project has a WAITING job adds nothing (that job will fetch the new
//! head); a push while a job runs leaves a mark (`scan_followups`) that `after_job_closed`
//! turns into one more incremental scan when the project's unfinished jobs are done, unless the
//! job that closed already scanned the pushed head. The mark is in the database, so a restart
//! keeps it (`resume_followups`). Must not know about actix.

pub mod forge;

use rusqlite::{Connection, Transaction};

use crate::db::{self, Pool};
use crate::domain::hook::Followup;
use crate::domain::ids::{JobId, ProjectId, UserId};
use crate::domain::job::{stores_results, JobState};
use crate::scan::Shared;

/// Who or what starts a scan, as the job records it.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub created_from: String,
    pub creator: String,
    pub creator_id: UserId,
    pub incr_scan: bool,
}

/// What asking for a scan of one project did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A new WAITING job.
    Started(JobId),
    /// The project already had a WAITING job, which will scan the newest head.
    AlreadyWaiting(JobId),
    /// A job of the project runs; one more scan follows when it closes.
    FollowUp(JobId),
    /// A job of the project is unfinished and the caller wants no follow-up (schedules).
    Busy(JobId),
}

impl Requested {
    pub fn action(&self) -> &'static str {
        match self {
            Requested::Started(_) => "started",
            Requested::AlreadyWaiting(_) => "already_waiting",
            Requested::FollowUp(_) => "follow_up",
            Requested::Busy(_) => "busy",
        }
    }

    pub fn job_id(&self) -> JobId {
        match self {
            Requested::Started(id)
            | Requested::AlreadyWaiting(id)
            | Requested::FollowUp(id)
            | Requested::Busy(id) => *id,
        }
    }
}

/// Asks for a scan of `project_id` inside `tx`: a new job unless one is waiting; while one
/// runs, a follow-up mark when `head` is given (a push), else nothing (`Busy`). The caller
/// commits, then wakes the queue when a job `Started`.
pub fn request_scan(
    tx: &Transaction<'_>,
    project_id: ProjectId,
    trigger: &Trigger,
    head: Option<&str>,
) -> rusqlite::Result<Requested> {
    let unfinished = db::hooks::unfinished_states(tx, project_id)?;
    if let Some((job_id, _)) = unfinished
        .iter()
        .find(|(_, state)| *state == JobState::Waiting as i64)
    {
        return Ok(Requested::AlreadyWaiting(*job_id));
    }
    if let Some((job_id, _)) = unfinished.first() {
        let Some(head) = head else {
            return Ok(Requested::Busy(*job_id));
        };
        db::hooks::set_followup(
            tx,
            &Followup {
                project_id,
                head: Some(head.to_string()),
                created_from: trigger.created_from.clone(),
                creator: trigger.creator.clone(),
                creator_id: trigger.creator_id,
            },
        )?;
        return Ok(Requested::FollowUp(*job_id));
    }
    let new_job = db::jobs::NewJob {
        incr_scan: trigger.incr_scan,
        force_create: false,
        async_flag: true,
        created_from: &trigger.created_from,
        creator: &trigger.creator,
        creator_id: trigger.creator_id,
    };
    let (job_id, _) = db::jobs::insert(tx, project_id, &new_job)?;
    Ok(Requested::Started(job_id))
}

/// Settles a project's follow-up mark, if it has one: nothing while a job of it runs; dropped
/// when a job waits (it will fetch the newest head), when the project is no longer active, or
/// when `scanned_head` (the head a job just stored results for) is the pushed one; otherwise
/// turned into a new incremental job. Returns the new job.
fn settle(
    tx: &Transaction<'_>,
    project_id: ProjectId,
    scanned_head: Option<&str>,
) -> rusqlite::Result<Option<JobId>> {
    let Some(followup) = db::hooks::followup(tx, project_id)? else {
        return Ok(None);
    };
    let unfinished = db::hooks::unfinished_states(tx, project_id)?;
    let is_waiting = unfinished
        .iter()
        .any(|(_, state)| *state == JobState::Waiting as i64);
    if !unfinished.is_empty() && !is_waiting {
        return Ok(None);
    }
    db::hooks::delete_followup(tx, project_id)?;
    let is_scanned = scanned_head.is_some() && scanned_head == followup.head.as_deref();
    if is_waiting || is_scanned || !db::hooks::is_project_active(tx, project_id)? {
        return Ok(None);
    }
    let new_job = db::jobs::NewJob {
        incr_scan: true,
        force_create: false,
        async_flag: true,
        created_from: &followup.created_from,
        creator: &followup.creator,
        creator_id: followup.creator_id,
    };
    let (job_id, _) = db::jobs::insert(tx, project_id, &new_job)?;
    Ok(Some(job_id))
}

/// Called by `scan::lifecycle::closed` for every close this process won: starts the follow-up
/// scan the job's project is owed, if any. Errors are logged; the close itself has happened.
pub fn after_job_closed(shared: &Shared, job_id: JobId) {
    match settle_after_close(&shared.pool, job_id) {
        Ok(Some((project_id, new_job))) => {
            log::info!("project {project_id}: job {job_id} closed; follow-up scan {new_job} for a push that came while it ran");
            shared.wake();
        }
        Ok(None) => {}
        Err(error) => log::warn!("job {job_id}: settling a follow-up scan: {error:#}"),
    }
}

fn settle_after_close(pool: &Pool, job_id: JobId) -> anyhow::Result<Option<(ProjectId, JobId)>> {
    let mut conn = pool.get()?;
    // Almost every close owes nothing: no write transaction for those.
    if !db::hooks::followup_owed_after(&conn, job_id)? {
        return Ok(None);
    }
    let tx = db::begin(&mut conn)?;
    let Some(job) = db::jobs::get(&tx, job_id)? else {
        return Ok(None);
    };
    let scanned_head = match job.result_code {
        Some(result_code) if stores_results(result_code) => db::jobs::revision(&tx, job.scan_id)?,
        _ => None,
    };
    let started = settle(&tx, job.project_id, scanned_head.as_deref())?;
    tx.commit()?;
    Ok(started.map(|new_job| (job.project_id, new_job)))
}

/// At start-up, after interrupted jobs were re-queued: a marked project with no unfinished job
/// gets its follow-up scan now (its job closed while no process could act on it). Returns how
/// many scans started.
pub fn resume_followups(conn: &mut Connection) -> rusqlite::Result<usize> {
    let tx = db::begin(conn)?;
    let mut started = 0;
    for project_id in db::hooks::followup_projects(&tx)? {
        // A job re-queued by this start is the one the mark waits for, whether a worker took
        // it already or not: its close settles the mark.
        if !db::hooks::unfinished_states(&tx, project_id)?.is_empty() {
            continue;
        }
        if settle(&tx, project_id, None)?.is_some() {
            started += 1;
        }
    }
    tx.commit()?;
    Ok(started)
}

/// The job's creator for a push: the pusher when codepup knows an active user of that name,
/// else the webhook itself (recorded under whoever made the hook).
pub fn push_trigger(
    conn: &Connection,
    pusher: Option<&str>,
    hook_creator_id: UserId,
) -> rusqlite::Result<Trigger> {
    let user = match pusher {
        Some(name) => db::users::get_by_username(conn, name)?.filter(|user| user.is_active),
        None => None,
    };
    Ok(match user {
        Some(user) => Trigger {
            created_from: "webhook".to_string(),
            creator: user.nickname,
            creator_id: user.id,
            incr_scan: true,
        },
        None => Trigger {
            created_from: "webhook".to_string(),
            creator: "webhook".to_string(),
            creator_id: hook_creator_id,
            incr_scan: true,
        },
    })
}
