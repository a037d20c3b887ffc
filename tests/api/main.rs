//! Integration tests: the real server on a loopback port, a real SQLite file in a temp dir, real
//! git repositories made with the git CLI. One test binary, linked once.

mod admin_jobs;
mod attack;
mod bad_input;
mod bombs;
mod branches_and_projects;
mod codemetric;
mod confinement;
mod findings;
mod git_cache;
mod helpers;
mod hostile_repos;
mod job_detail;
mod jobs_api;
mod jobs_list;
mod jobs_logs;
mod jobs_pagination;
mod jobs_permissions;
mod operations;
mod permissions;
mod records;
mod result_cache;
mod scan_history;
mod scans;
mod scans_create;
mod schedules;
mod startup;
mod status_page;
mod webhooks_in;
