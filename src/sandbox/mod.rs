//! Confinement of tool processes. Every process codepup starts for a tool (a linter, a
//! `tools.toml` command) runs under a supervisor: the codepup binary itself, re-executed as
//! `codepup sandbox-exec SPEC` (`supervisor.rs`). The supervisor drops to the tool user, puts
//! itself into new user, PID, IPC and network namespaces, sets resource limits, restricts itself
//! with Landlock, and only then starts the tool, so the tool inherits all of it.
//!
//! This module is the server's half: the server-wide `Confinement` (decided once at start), the
//! per-run `Spec` that the supervisor reads, the paths a tool may read, and the `Report` the
//! supervisor writes back. `cgroup.rs` gives each run a control group of its own, so the memory
//! and process limits hold for all of a run's processes together.

pub mod cgroup;
mod init;
pub use init::set_parent_death_signal;
pub mod paths;
pub mod supervisor;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// Exit status of a supervisor that could not set the sandbox up (its report says why).
pub const SETUP_FAILED: i32 = 125;

/// Resource limits of one tool run (rlimits). `None` leaves that limit as the server has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory, MiB: each process's address space (RLIMIT_AS) and, where the server has cgroups,
    /// the memory of all the run's processes together (its cgroup's limit).
    pub memory_mb: u64,
    /// CPU seconds (RLIMIT_CPU); the tool gets SIGXCPU there and SIGKILL 5 s later.
    pub cpu_seconds: u64,
    /// Processes and threads of one run (RLIMIT_NPROC, counted in the run's user namespace, and
    /// its cgroup's `pids.max` where there is one).
    pub processes: u64,
    /// Largest file the tool may write, MiB (RLIMIT_FSIZE).
    pub file_size_mb: u64,
    /// Open files (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Wall-clock seconds, enforced by the server (a `tools.toml` tool's own `timeout` wins).
    pub wall_seconds: u64,
}

impl Default for Limits {
    /// Sized for a 2-core, 24 GiB machine running two tools at once: 8 GiB of address space
    /// each leaves the server and the page cache room.
    fn default() -> Limits {
        Limits {
            memory_mb: 8 * 1024,
            cpu_seconds: 3600,
            processes: 512,
            file_size_mb: 1024,
            open_files: 4096,
            wall_seconds: 1800,
        }
    }
}

/// Partial limits, as `tools.toml` writes them: what is left out keeps its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsOverride {
    pub memory_mb: Option<u64>,
    pub cpu_seconds: Option<u64>,
    pub processes: Option<u64>,
    pub file_size_mb: Option<u64>,
    pub open_files: Option<u64>,
    pub wall_seconds: Option<u64>,
}

impl LimitsOverride {
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            memory_mb: self.memory_mb.unwrap_or(base.memory_mb),
            cpu_seconds: self.cpu_seconds.unwrap_or(base.cpu_seconds),
            processes: self.processes.unwrap_or(base.processes),
            file_size_mb: self.file_size_mb.unwrap_or(base.file_size_mb),
            open_files: self.open_files.unwrap_or(base.open_files),
            wall_seconds: self.wall_seconds.unwrap_or(base.wall_seconds),
        }
    }

    /// The first value that cannot work, as a message.
    pub fn check(&self) -> Result<(), String> {
        let fields = [
            ("memory_mb", self.memory_mb, 64),
            ("cpu_seconds", self.cpu_seconds, 1),
            ("processes", self.processes, 1),
            ("file_size_mb", self.file_size_mb, 1),
            ("open_files", self.open_files, 16),
            ("wall_seconds", self.wall_seconds, 1),
        ];
        for (name, value, least) in fields {
            if value.is_some_and(|value| value < least) {
                return Err(format!("{name} must be at least {least}"));
            }
        }
        Ok(())
    }
}

/// A user id and group id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// How this server confines tools, decided once at start.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The supervisor program: the codepup binary.
    pub helper: PathBuf,
    /// Whom tools run as, when the server runs as root; `None` keeps the server's user.
    pub tool_user: Option<Ids>,
    /// The kernel enforces Landlock.
    pub landlock: bool,
    /// The admin allowed tools to run without Landlock (`--unconfined-tools`).
    pub unconfined: bool,
    /// Paths no tool may read, even below a readable root: the data directory and the admin's
    /// `--tool-hidden-paths`.
    pub hidden: Vec<PathBuf>,
    /// The system roots a tool may read, with the hidden paths cut out: worked out once at
    /// start (cutting `/etc` reads its entries), the same for every run.
    pub system: Vec<PathBuf>,
    /// The `PATH` tools get (the server's own).
    pub path: OsString,
    /// Why the tool user cannot reach the workspaces, if it cannot.
    pub unreachable: Option<String>,
    /// The control groups runs get, if any (shared: the last holder removes the server's base).
    pub cgroups: Arc<cgroup::Cgroups>,
}

impl Confinement {
    /// Decides how tools run on this machine: finds the tool user, asks the kernel for Landlock,
    /// and readies the data directory so the tool user can reach its own scratch space.
    pub fn build(config: &Config) -> anyhow::Result<Confinement> {
        let helper = match &config.tools.helper {
            Some(helper) => helper.clone(),
            None => std::env::current_exe().context("finding the codepup binary")?,
        };
        let tool_user = if nix::unistd::geteuid().is_root() {
            let name = &config.tools.user;
            let user = nix::unistd::User::from_name(name)
                .with_context(|| format!("looking up the tool user {name}"))?
                .with_context(|| format!("the tool user {name} does not exist (--tool-user)"))?;
            if user.uid.is_root() {
                log::warn!("tools run as root (--tool-user {name}): only Landlock confines them");
            }
            Some(Ids {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        } else {
            None
        };
        let mut hidden = config.tools.hidden_paths.clone();
        hidden.push(config.data_dir.clone());
        let system_roots: Vec<PathBuf> = paths::SYSTEM_ROOTS.iter().map(PathBuf::from).collect();
        let mut confinement = Confinement {
            helper,
            tool_user,
            landlock: landlock_works(),
            unconfined: config.tools.unconfined,
            system: paths::without_hidden(&system_roots, &hidden),
            hidden,
            path: config.tools.path.clone(),
            unreachable: None,
            cgroups: Arc::new(cgroup::Cgroups::detect()),
        };
        if !confinement.cgroups.per_run() {
            log::warn!(
                "tools' memory_mb holds per process, not per run: {}",
                confinement.cgroups.describe()
            );
        }
        if let Some(ids) = confinement.tool_user {
            prepare_data_dir(config)?;
            confinement.unreachable = unreachable_by(&config.data_dir, ids);
        }
        if let Some(refusal) = confinement.refusal() {
            log::error!("{refusal}");
        } else if !confinement.landlock {
            log::warn!("this kernel does not enforce Landlock: tools run unconfined");
        }
        log::info!("tool confinement: {}", confinement.describe());
        Ok(confinement)
    }

    /// The command that runs `spec` under a supervisor.
    pub fn command(&self, spec: &Spec) -> std::process::Command {
        let mut command = std::process::Command::new(&self.helper);
        command
            .arg("sandbox-exec")
            .arg(serde_json::to_string(spec).unwrap_or_default())
            .env_clear();
        command
    }

    /// What a tool run may read: the system (less what is hidden), the installation of
    /// `program` and the admin's `extra` paths, then the checkout. A program inside the data
    /// directory (a repository's script in the checkout) brings no installation: its `#!` line
    /// or a `pyvenv.cfg` beside it are the repository's to write, and must not widen anything.
    pub fn readable(&self, program: &Path, extra: &[PathBuf], checkout: &Path) -> Vec<PathBuf> {
        let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
        let in_data = self.hidden.iter().any(|secret| real.starts_with(secret));
        let installation = if in_data {
            Vec::new()
        } else {
            paths::installation_of(program, &self.path)
        };
        let roots: Vec<PathBuf> = installation
            .into_iter()
            .chain(extra.iter().cloned())
            .collect();
        let mut readable = self.system.clone();
        readable.extend(paths::without_hidden(&roots, &self.hidden));
        readable.push(checkout.to_path_buf());
        readable
    }

    /// Whether tools may run at all: with Landlock, or without it when the admin said so.
    pub fn refusal(&self) -> Option<String> {
        if let Some(why) = &self.unreachable {
            return Some(why.clone());
        }
        if self.landlock || self.unconfined {
            None
        } else {
            Some(
                "tools are refused: this kernel does not enforce Landlock, so a tool could read \
                 the server's data; start codepup with --unconfined-tools to run them anyway"
                    .to_string(),
            )
        }
    }

    /// One line for the logs and the status page.
    pub fn describe(&self) -> String {
        let files = if self.landlock {
            "Landlock on"
        } else if self.unconfined {
            "Landlock unavailable, tools unconfined (--unconfined-tools)"
        } else {
            "Landlock unavailable, tools refused"
        };
        let user = match self.tool_user {
            Some(ids) => format!("uid {} gid {}", ids.uid, ids.gid),
            None => "the server's user".to_string(),
        };
        format!("{files}; tools run as {user}; {}", self.cgroups.describe())
    }
}

/// Whether this kernel enforces Landlock (a ruleset can be made).
fn landlock_works() -> bool {
    use landlock::{Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, ABI};
    Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI::V1))
        .and_then(|ruleset| ruleset.create())
        .is_ok()
}

/// Lets the tool user reach the workspaces (and nothing else) in the data directory: the data
/// directory and `workspaces/` can be passed through but not listed, what holds secrets is the
/// server's alone, and files the server writes for tools (checkouts) are readable by others.
fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let modes = [
        (config.data_dir.clone(), 0o711),
        (config.workspace_dir(), 0o711),
        (config.git_cache_dir(), 0o700),
        (config.logs_dir(), 0o700),
        (config.db_path(), 0o600),
        (config.data_dir.join("codepup.db-wal"), 0o600),
        (config.data_dir.join("codepup.db-shm"), 0o600),
    ];
    for (path, mode) in modes {
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error)
                    .with_context(|| format!("setting the mode of {}", path.display()))
            }
            _ => {}
        }
    }
    // Checkouts are written by git with the process umask: keep them readable by the tool user.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    Ok(())
}

/// Why `ids` cannot pass through the directories above the data directory, if it cannot: then
/// tools are refused (their tasks say this) rather than the whole server.
fn unreachable_by(data_dir: &Path, ids: Ids) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for dir in data_dir.ancestors().skip(1) {
        let meta = std::fs::metadata(dir).ok()?;
        let mode = meta.permissions().mode();
        let passes = if meta.uid() == ids.uid {
            mode & 0o100 != 0
        } else if meta.gid() == ids.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !passes {
            return Some(format!(
                "tools are refused: they run as uid {} (--tool-user), which cannot pass through \
                 {} (mode {:o}) to the job's files; give others search permission there \
                 (chmod o+x) or choose a --data-dir outside it",
                ids.uid,
                dir.display(),
                mode & 0o777
            ));
        }
    }
    None
}

/// A task's scratch directory, owned by the tool user, with `home`, `tmp` and `cache` inside:
/// `<job scratch>/<name>`. The job's scratch directory itself is the server's (mode 0711), so no
/// tool can reach into another task's space or leave anything beside it; tools that run later,
/// with other rights (the network), never load what an earlier one wrote. Made by the task's
/// first run; later runs of the same task (linter batches) find it as they left it. Nothing here
/// follows a link a tool may have put there (a `chown` through one would hand the tool user
/// whatever it points to).
pub fn make_scratch(
    job_scratch: &Path,
    name: &str,
    owner: Option<Ids>,
) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::symlink_metadata(job_scratch) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(not_a_directory(job_scratch)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().mode(0o711).create(job_scratch)?;
        }
        Err(error) => return Err(error),
    }
    let dir = job_scratch.join(name);
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => return Ok(dir),
        Ok(_) => return Err(not_a_directory(&dir)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    for sub in ["", "home", "tmp", "cache"] {
        let path = dir.join(sub);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        if let Some(ids) = owner {
            std::os::unix::fs::lchown(&path, Some(ids.uid), Some(ids.gid))?;
        }
    }
    Ok(dir)
}

fn not_a_directory(path: &Path) -> std::io::Error {
    std::io::Error::other(format!("{} is not a directory", path.display()))
}

/// The environment of every tool: nothing of the server's but `PATH`.
pub fn tool_env(scratch: &Path, path: &std::ffi::OsStr) -> Vec<(String, String)> {
    let at = |sub: &str| scratch.join(sub).to_string_lossy().into_owned();
    vec![
        ("PATH".to_string(), path.to_string_lossy().into_owned()),
        ("HOME".to_string(), at("home")),
        ("TMPDIR".to_string(), at("tmp")),
        ("XDG_CACHE_HOME".to_string(), at("cache")),
        ("XDG_CONFIG_HOME".to_string(), at("home")),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("LC_ALL".to_string(), "C.UTF-8".to_string()),
        ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
    ]
}

/// Everything the supervisor needs for one tool run. Sent as JSON on its command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// Absolute path of the program.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Working directory (the checkout, or the scan path inside it).
    pub cwd: PathBuf,
    /// The whole environment of the tool.
    pub env: Vec<(String, String)>,
    /// Paths the tool may read and execute below.
    pub read: Vec<PathBuf>,
    /// Paths the tool may read and write below (its scratch directory).
    pub write: Vec<PathBuf>,
    pub network: bool,
    pub limits: Limits,
    /// Switch to this user first (the server runs as root).
    pub user: Option<Ids>,
    /// Fail instead of running the tool when Landlock cannot be enforced.
    pub require_landlock: bool,
    /// Where the supervisor writes its `Report` (opened before anything is restricted).
    pub report: PathBuf,
    /// The `cgroup.procs` files of the run's control group, which the supervisor joins first
    /// (empty when the server has no cgroups).
    #[serde(default)]
    pub cgroup: Vec<PathBuf>,
    /// How much of the tool's output reaches the task's files.
    pub output: OutputCaps,
}

/// Bytes of a tool's stdout and stderr the supervisor copies into the files it was given (the
/// rest is read and dropped, so the tool never blocks).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct OutputCaps {
    pub stdout: u64,
    pub stderr: u64,
    /// stdout goes to the task log (not a report), so a cut is noted there.
    pub stdout_is_log: bool,
}

/// How a confined run ended, as the supervisor saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The tool's exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Why the tool never ran (the sandbox could not be set up, or the program not started).
    pub error: Option<String>,
    /// The program does not exist.
    pub not_found: bool,
    /// CPU time of the tool and the children it waited for, milliseconds.
    pub cpu_ms: u64,
    /// Largest resident set among them, KiB.
    pub max_rss_kb: u64,
    /// What was in force: "landlock", "pid-namespace", "network-namespace", "user".
    pub confined_by: Vec<String>,
}

impl Report {
    /// Reads what a supervisor wrote; `None` when it wrote nothing (killed before the end).
    pub fn read(path: &Path) -> Option<Report> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Which limit, if any, ended the run, in words. A shell that ran the tool passes its
    /// child's death on as `128 + signal`, which counts too.
    pub fn limit_hit(&self, limits: &Limits) -> Option<String> {
        const SIGKILL: i32 = 9;
        const SIGXCPU: i32 = 24;
        const SIGXFSZ: i32 = 25;
        let signal = self
            .signal
            .or_else(|| self.code.filter(|code| *code > 128).map(|code| code - 128));
        let cpu_spent = self.cpu_ms / 1000 >= limits.cpu_seconds;
        match signal {
            Some(SIGXCPU) => Some(format!("its CPU-time limit of {} s", limits.cpu_seconds)),
            Some(SIGKILL) if cpu_spent => {
                Some(format!("its CPU-time limit of {} s", limits.cpu_seconds))
            }
            Some(SIGXFSZ) => Some(format!(
                "its file-size limit of {} MiB",
                limits.file_size_mb
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_left_out_keep_their_defaults() {
        let base = Limits::default();
        let changed = LimitsOverride {
            cpu_seconds: Some(5),
            ..LimitsOverride::default()
        }
        .apply(base);
        assert_eq!(changed.cpu_seconds, 5);
        assert_eq!(changed.memory_mb, base.memory_mb);
        assert!(LimitsOverride {
            memory_mb: Some(1),
            ..LimitsOverride::default()
        }
        .check()
        .unwrap_err()
        .contains("memory_mb"));
    }

    fn confinement(landlock: bool, unconfined: bool) -> Confinement {
        Confinement {
            helper: PathBuf::from("/bin/codepup"),
            tool_user: None,
            landlock,
            unconfined,
            hidden: Vec::new(),
            system: Vec::new(),
            path: OsString::from("/usr/bin"),
            unreachable: None,
            cgroups: Arc::new(cgroup::Cgroups::unavailable("a unit test")),
        }
    }

    #[test]
    fn without_landlock_tools_are_refused_unless_the_admin_says_unconfined() {
        assert_eq!(confinement(true, false).refusal(), None);
        assert!(confinement(false, false)
            .refusal()
            .unwrap()
            .contains("--unconfined-tools"));
        assert_eq!(confinement(false, true).refusal(), None);
        assert!(confinement(false, true).describe().contains("unconfined"));
        assert!(confinement(true, false).describe().contains("Landlock on"));
        let mut blocked = confinement(true, false);
        blocked.unreachable = Some("tools are refused: /root".to_string());
        assert!(blocked.refusal().unwrap().contains("/root"));
    }

    #[test]
    fn signals_name_the_limit_that_ended_a_run() {
        let limits = Limits {
            cpu_seconds: 2,
            ..Limits::default()
        };
        let report = |signal, cpu_ms| Report {
            signal: Some(signal),
            cpu_ms,
            ..Report::default()
        };
        assert!(report(24, 0).limit_hit(&limits).unwrap().contains("CPU"));
        assert!(report(9, 2100).limit_hit(&limits).unwrap().contains("CPU"));
        assert_eq!(report(9, 100).limit_hit(&limits), None);
        assert!(report(25, 0)
            .limit_hit(&limits)
            .unwrap()
            .contains("file-size"));
    }
}
