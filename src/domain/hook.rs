//! Push webhooks in and scheduled scans: the rows the database keeps for them.

use crate::domain::ids::{JobId, ProjectId, RepoId, UserId};

/// A repository's push webhook. `hook_key` is the random id in its URL.
#[derive(Debug, Clone)]
pub struct RepoHook {
    pub id: i64,
    pub repo_id: RepoId,
    pub hook_key: String,
    pub secret: String,
    pub creator_id: UserId,
    pub created_time: String,
}

/// A delivery a hook accepted, with the answer it got.
#[derive(Debug, Clone)]
pub struct HookDelivery {
    pub delivery_id: String,
    pub forge: String,
    pub event: String,
    pub summary: String,
    pub received_time: String,
}

/// One more incremental scan a project is owed once its unfinished jobs are done.
#[derive(Debug, Clone)]
pub struct Followup {
    pub project_id: ProjectId,
    pub head: Option<String>,
    pub created_from: String,
    pub creator: String,
    pub creator_id: UserId,
}

/// A project's scheduled scan.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub project_id: ProjectId,
    pub cron: String,
    pub incr_scan: bool,
    pub is_enabled: bool,
    pub disabled_reason: Option<String>,
    pub next_run_time: Option<String>,
    pub last_run_time: Option<String>,
    pub last_job_id: Option<JobId>,
    pub creator_id: UserId,
    pub modified_time: String,
}
