//! Tool processes: each runs in its own process group, dies with its worker thread (parent-death
//! signal), and is registered under its job so a cancel or timeout can kill the whole group.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::domain::ids::JobId;

/// Process groups of running tools, by job. Shared by the workers (who register) and whoever
/// revokes a job (who kills).
#[derive(Debug, Default)]
pub struct Processes {
    groups: Mutex<HashMap<JobId, HashSet<i32>>>,
}

impl Processes {
    fn register(&self, job_id: JobId, pgid: i32) {
        self.lock().entry(job_id).or_default().insert(pgid);
    }

    fn unregister(&self, job_id: JobId, pgid: i32) {
        let mut groups = self.lock();
        if let Some(set) = groups.get_mut(&job_id) {
            set.remove(&pgid);
            if set.is_empty() {
                groups.remove(&job_id);
            }
        }
    }

    /// Sends SIGKILL to every process group of the job. Returns how many groups were signalled.
    pub fn kill_job(&self, job_id: JobId) -> usize {
        let groups: Vec<i32> = self
            .lock()
            .get(&job_id)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        for pgid in &groups {
            kill_group(*pgid);
        }
        groups.len()
    }

    /// Kills every registered group (server shutdown).
    pub fn kill_all(&self) {
        let groups: Vec<i32> = self.lock().values().flatten().copied().collect();
        for pgid in groups {
            kill_group(pgid);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, HashSet<i32>>> {
        // A panic while holding this lock leaves only a set of integers behind: still usable.
        self.groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn kill_group(pgid: i32) {
    if let Err(error) = killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
        if error != nix::errno::Errno::ESRCH {
            log::warn!("could not kill process group {pgid}: {error}");
        }
    }
}

/// How a tool run ended.
#[derive(Debug)]
pub enum Outcome {
    Exited(ExitStatus),
    /// Its own time limit ran out and it was killed.
    TimedOut,
    /// `should_stop` said so (job revoked, server stopping) and it was killed.
    Stopped,
    /// It could not be started (for example, not on PATH).
    SpawnFailed(io::Error),
}

/// Runs `command` with its stdout written to `stdout` and its stderr to `stderr` (often the
/// same file, the task log), in a new process group registered under `job_id`. Polls
/// `should_stop` while it runs; kills the group on `timeout` or stop.
pub fn run(
    processes: &Processes,
    job_id: JobId,
    mut command: Command,
    (stdout, stderr): (&File, &File),
    timeout: Option<Duration>,
    should_stop: &dyn Fn() -> bool,
) -> Outcome {
    let (stdout, stderr) = match (stdout.try_clone(), stderr.try_clone()) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(error), _) | (_, Err(error)) => return Outcome::SpawnFailed(error),
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(0);
    crate::sandbox::set_parent_death_signal(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return Outcome::SpawnFailed(error),
    };
    let pgid = child.id() as i32;
    processes.register(job_id, pgid);
    let started = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Outcome::Exited(status),
            Ok(None) => {}
            Err(error) => break Outcome::SpawnFailed(error),
        }
        if timeout.is_some_and(|limit| started.elapsed() >= limit) {
            kill_group(pgid);
            let _ = child.wait();
            break Outcome::TimedOut;
        }
        if should_stop() {
            kill_group(pgid);
            let _ = child.wait();
            break Outcome::Stopped;
        }
        thread::sleep(Duration::from_millis(50));
    };
    // The leader is gone; anything it left in its group goes with it.
    kill_group(pgid);
    processes.unregister(job_id, pgid);
    outcome
}
