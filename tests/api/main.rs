//! Integration tests: the real server on a loopback port, a real SQLite file in a temp dir, real
//! git repositories made with the git CLI. One test binary, linked once.

mod bad_input;
mod bombs;
mod findings;
mod helpers;
mod jobs_api;
mod permissions;
mod records;
mod scans;
mod startup;
mod status_page;
