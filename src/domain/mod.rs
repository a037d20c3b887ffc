//! Validated values: once you hold one, it is valid. Knows nothing of actix, rusqlite or threads.

pub mod access;
pub mod finding;
pub mod gate;
pub mod hook;
pub mod ids;
pub mod job;
pub mod metrics;
pub mod notify;
pub mod org;
pub mod project;
pub mod repo;
pub mod rules;
pub mod scheme;
pub mod triage;
pub mod user;
