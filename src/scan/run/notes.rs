//! What the job and task logs say about files: counts, a few names, and the files an in-process
//! analyzer did not read whole.

use std::fs::File;
use std::io::Write;

use crate::scan::checkout;

/// Files an in-process analyzer did not read whole, or at all, and why: for the task log, the
/// job log and the task's message.
#[derive(Default)]
pub struct LeftOut {
    /// `(what happened to them, paths)`, e.g. `("skipped 1 file over 64 MiB", ["big.txt"])`.
    groups: Vec<(String, Vec<String>)>,
}

impl LeftOut {
    /// Adds a group, `what` being a verb phrase around the count: `skipped {} over 64 MiB`.
    pub fn add(&mut self, what: &str, paths: Vec<String>) {
        if !paths.is_empty() {
            let what = what.replace("{}", &files_count(paths.len()));
            self.groups.push((what, paths));
        }
    }

    /// Writes every group to the task log (up to 100 paths each) and the job log (up to 5),
    /// prefixed with `tool` there; returns the note for the task's message.
    pub fn note(&self, task_log: &mut File, job_log: &mut File, tool: &str) -> Option<String> {
        if self.groups.is_empty() {
            return None;
        }
        for (what, paths) in &self.groups {
            let _ = writeln!(task_log, "{what}: {}", name_some(paths, 100));
            let _ = writeln!(job_log, "{tool}: {what}: {}", name_some(paths, 5));
        }
        Some(
            self.groups
                .iter()
                .map(|(what, _)| what.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// `1 file`, `3 files`.
pub fn files_count(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

/// The first `most` of `paths` (shortened when very long), then how many more there are.
pub fn name_some(paths: &[String], most: usize) -> String {
    let mut named: Vec<String> = paths
        .iter()
        .take(most)
        .map(|path| checkout::shorten(path))
        .collect();
    if paths.len() > most {
        named.push(format!("and {} more", paths.len() - most));
    }
    named.join(", ")
}

/// The first few of `paths`, for a log line.
pub fn some_of(paths: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = paths
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}
