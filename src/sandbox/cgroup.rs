//! Control groups for tool runs: each confined run gets a cgroup of its own, so `memory_mb`
//! bounds all of its processes together (RLIMIT_AS counts one process) and `processes` its
//! tasks; the server stops a run that reached the limit and removes the group after it. Knows
//! nothing of jobs or the database; never moves the server itself nor touches a cgroup it did
//! not make (its own, named `codepup-<pid>-<n>`, below the server's cgroup).
//!
//! Written as plain files under cgroupfs rather than with a crate: a run needs a handful of
//! writes (a directory, three limits, `cgroup.procs`) and one read while it runs, and the crates
//! (`cgroups-rs`) bring a whole controller model, threads of no use here, and their own ideas of
//! where groups live.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::Limits;

const MIB: u64 = 1024 * 1024;

/// Which kernel interface holds the groups, with the server's base group in each controller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tree {
    /// cgroup v2: one base with the memory (and pids, when enabled) controller.
    V2 { base: PathBuf },
    /// cgroup v1: a base in the memory hierarchy and, when mounted, one in the pids hierarchy.
    V1 {
        memory: PathBuf,
        pids: Option<PathBuf>,
    },
}

/// The server's cgroups for tool runs, decided once at start. Removes its base groups when the
/// last holder drops it (the server stops).
#[derive(Debug)]
pub struct Cgroups {
    tree: Option<Tree>,
    /// Why runs get no cgroup, when they do not.
    why_not: Option<String>,
    runs: AtomicU64,
}

impl Cgroups {
    /// Finds a usable cgroup hierarchy (v2 with the memory controller, else v1's memory
    /// hierarchy), removes what servers that died left there, makes this server's base and
    /// tries one run's group. Never fails: without cgroups, runs keep RLIMIT_AS alone.
    pub fn detect() -> Cgroups {
        let found = read_proc().and_then(|(mountinfo, own)| find_tree(&mountinfo, &own));
        let cgroups = match found {
            Ok(tree) => {
                log::info!("tool runs get cgroups below {tree:?}");
                Cgroups {
                    tree: Some(tree),
                    why_not: None,
                    runs: AtomicU64::new(0),
                }
            }
            Err(why) => Cgroups::unavailable(&why),
        };
        // A failed probe drops `cgroups`, which removes its base.
        match cgroups.probe() {
            Ok(()) => cgroups,
            Err(error) => Cgroups::unavailable(&format!("cannot make a run's cgroup: {error}")),
        }
    }

    /// No cgroups: runs keep RLIMIT_AS alone, for `why`.
    pub fn unavailable(why: &str) -> Cgroups {
        Cgroups {
            tree: None,
            why_not: Some(why.to_string()),
            runs: AtomicU64::new(0),
        }
    }

    /// Which limit holds a tool's memory, in words, for the log and the status page.
    pub fn describe(&self) -> String {
        match (&self.tree, &self.why_not) {
            (Some(Tree::V2 { .. }), _) => "memory limited per run (cgroup v2)".to_string(),
            (Some(Tree::V1 { .. }), _) => "memory limited per run (cgroup v1)".to_string(),
            (None, why) => format!(
                "memory limited per process only (RLIMIT_AS; no cgroup: {})",
                why.as_deref().unwrap_or("not tried")
            ),
        }
    }

    /// Whether runs get a cgroup.
    pub fn per_run(&self) -> bool {
        self.tree.is_some()
    }

    /// A new group for one run with `limits`; `Ok(None)` when this server has no cgroups.
    pub fn run(&self, limits: &Limits) -> io::Result<Option<RunGroup>> {
        let Some(tree) = &self.tree else {
            return Ok(None);
        };
        let name = format!("run-{}", self.runs.fetch_add(1, Ordering::Relaxed));
        let mut group = RunGroup::make(tree, &name)?;
        group.set_limits(limits)?;
        Ok(Some(group))
    }

    /// Makes and removes one run's group, so a hierarchy that cannot take one is found at start.
    fn probe(&self) -> io::Result<()> {
        match self.run(&Limits::default())? {
            Some(_group) => Ok(()),
            None => Err(io::Error::other("no hierarchy")),
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        if let Some(tree) = &self.tree {
            remove_base(tree);
        }
    }
}

/// The group of one tool run. Dropping it kills whatever is still in it and removes it.
#[derive(Debug)]
pub struct RunGroup {
    /// The run's directory in each hierarchy; the first is the memory controller's.
    dirs: Vec<PathBuf>,
    v2: bool,
    limit_mb: u64,
    at_limit: AtomicBool,
}

impl RunGroup {
    fn make(tree: &Tree, name: &str) -> io::Result<RunGroup> {
        let (v2, bases) = match tree {
            Tree::V2 { base } => (true, vec![base.clone()]),
            Tree::V1 { memory, pids } => (
                false,
                std::iter::once(memory.clone())
                    .chain(pids.clone())
                    .collect(),
            ),
        };
        let mut group = RunGroup {
            dirs: Vec::new(),
            v2,
            limit_mb: 0,
            at_limit: AtomicBool::new(false),
        };
        for base in bases {
            let dir = base.join(name);
            fs::create_dir(&dir).map_err(|e| with_path(e, &dir))?;
            // Pushed at once, so a failure below still removes what was made.
            group.dirs.push(dir);
        }
        Ok(group)
    }

    /// Memory (and no swap beyond it) for all processes together, the process count, and on v2
    /// the whole group killed at once when it runs out; on v1 the kernel pauses the run there
    /// instead of killing one process (`oom_kill_disable`), and the server stops it whole.
    fn set_limits(&mut self, limits: &Limits) -> io::Result<()> {
        self.limit_mb = limits.memory_mb;
        let bytes = (limits.memory_mb * MIB).to_string();
        // The supervisor and codepup's init run in the group beside the tool's processes.
        let tasks = (limits.processes + 2).to_string();
        let memory = &self.dirs[0];
        let mut writes: Vec<(PathBuf, &str, bool)> = if self.v2 {
            vec![
                (memory.join("memory.max"), bytes.as_str(), true),
                (memory.join("memory.swap.max"), "0", false),
                (memory.join("memory.oom.group"), "1", true),
                (memory.join("pids.max"), tasks.as_str(), false),
            ]
        } else {
            vec![
                (memory.join("memory.limit_in_bytes"), bytes.as_str(), true),
                (
                    memory.join("memory.memsw.limit_in_bytes"),
                    bytes.as_str(),
                    false,
                ),
                (memory.join("memory.oom_control"), "1", true),
            ]
        };
        if let (false, Some(pids)) = (self.v2, self.dirs.get(1)) {
            writes.push((pids.join("pids.max"), tasks.as_str(), true));
        }
        for (file, value, required) in writes {
            match fs::write(&file, value) {
                Ok(()) => {}
                Err(error) if !required && error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(with_path(error, &file)),
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files the supervisor writes itself into, before anything else.
    pub fn procs(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// The memory limit of the run, MiB.
    pub fn limit_mb(&self) -> u64 {
        self.limit_mb
    }

    /// Whether the run reached its memory limit: on v1 it is paused there (`under_oom 1`), on
    /// v2 the kernel killed it (`oom_kill` in `memory.events`). Remembered once seen.
    pub fn reached_limit(&self) -> bool {
        if self.at_limit.load(Ordering::Relaxed) {
            return true;
        }
        let (file, keys) = if self.v2 {
            ("memory.events", ["oom_kill", "oom_group_kill"])
        } else {
            ("memory.oom_control", ["under_oom", "oom_kill"])
        };
        let text = fs::read_to_string(self.dirs[0].join(file)).unwrap_or_default();
        let reached = keys.iter().any(|key| counter(&text, key) > 0);
        if reached {
            self.at_limit.store(true, Ordering::Relaxed);
        }
        reached
    }

    /// Peak memory of the run's processes together, MiB, where the kernel keeps it.
    pub fn peak_mb(&self) -> Option<u64> {
        let file = if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        let text = fs::read_to_string(self.dirs[0].join(file)).ok()?;
        text.trim().parse::<u64>().ok().map(|bytes| bytes / MIB)
    }
}

impl Drop for RunGroup {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            if let Err(error) = empty_and_remove(dir) {
                log::warn!(
                    "cannot remove the tool run's cgroup {}: {error}",
                    dir.display()
                );
            }
        }
    }
}

/// A `key value` line's value in a cgroup file, 0 when absent.
fn counter(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

fn with_path(error: io::Error, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Kills what is left in a group (the run's init normally took it all along) and removes it;
/// a process that takes a moment to exit is waited for, up to two seconds.
fn empty_and_remove(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let _ = fs::write(dir.join("cgroup.kill"), "1");
    let mut tries = 0;
    loop {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .lines()
            .filter_map(|line| line.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) if tries >= 200 => return Err(error),
            Err(_) => {}
        }
        tries += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes a base's run groups, then the base, in each hierarchy.
fn remove_base(tree: &Tree) {
    let bases: Vec<&PathBuf> = match tree {
        Tree::V2 { base } => vec![base],
        Tree::V1 { memory, pids } => std::iter::once(memory).chain(pids.as_ref()).collect(),
    };
    for base in bases {
        remove_tree(base);
    }
}

fn remove_tree(base: &Path) {
    let runs = fs::read_dir(base).into_iter().flatten().flatten();
    for run in runs.filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir())) {
        if let Err(error) = empty_and_remove(&run.path()) {
            log::warn!("cannot remove the cgroup {}: {error}", run.path().display());
        }
    }
    if let Err(error) = empty_and_remove(base) {
        log::warn!("cannot remove the cgroup {}: {error}", base.display());
    }
}

/// `/proc/self/mountinfo` and `/proc/self/cgroup`.
fn read_proc() -> Result<(String, String), String> {
    let read = |path: &str| fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"));
    Ok((read("/proc/self/mountinfo")?, read("/proc/self/cgroup")?))
}

/// The base groups below the server's own cgroups, made ready; v2 when it has the memory
/// controller, else v1.
fn find_tree(mountinfo: &str, own: &str) -> Result<Tree, String> {
    let v2 = match own_dir(mountinfo, own, None) {
        Some(dir) if controllers(&dir).contains(&"memory".to_string()) => Some(dir),
        _ => None,
    };
    if let Some(dir) = v2 {
        return v2_tree(&dir);
    }
    let Some(memory) = own_dir(mountinfo, own, Some("memory")) else {
        return Err(
            "neither a cgroup v2 hierarchy with the memory controller nor cgroup v1's \
                    memory hierarchy is mounted"
                .to_string(),
        );
    };
    let memory = make_base(&memory)?;
    let pids = own_dir(mountinfo, own, Some("pids")).and_then(|dir| match make_base(&dir) {
        Ok(base) => Some(base),
        Err(error) => {
            log::warn!("tool runs get no process limit of their own (cgroup v1 pids): {error}");
            None
        }
    });
    Ok(Tree::V1 { memory, pids })
}

/// The v2 base: the server's cgroup must pass the memory controller on to its children, which
/// the kernel allows only where no process sits beside them (a delegated cgroup's root).
fn v2_tree(own: &Path) -> Result<Tree, String> {
    let enabled = |dir: &Path| {
        fs::read_to_string(dir.join("cgroup.subtree_control"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let wanted = ["memory", "pids"];
    for controller in wanted {
        if !enabled(own).iter().any(|c| c == controller) {
            let _ = fs::write(own.join("cgroup.subtree_control"), format!("+{controller}"));
        }
    }
    if !enabled(own).iter().any(|c| c == "memory") {
        return Err(format!(
            "cgroup v2: {} cannot pass the memory controller to its children (a cgroup with \
             processes of its own cannot; see the README)",
            own.display()
        ));
    }
    let base = make_base(own)?;
    let pids = enabled(own).iter().any(|c| c == "pids");
    let control: Vec<String> = wanted
        .iter()
        .filter(|c| **c == "memory" || pids)
        .map(|c| format!("+{c}"))
        .collect();
    if let Err(error) = fs::write(base.join("cgroup.subtree_control"), control.join(" ")) {
        let _ = fs::remove_dir(&base);
        return Err(format!("cgroup v2: {}: {error}", base.display()));
    }
    Ok(Tree::V2 { base })
}

fn controllers(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Numbers the bases of the servers of this process (the tests run many).
static BASES: AtomicU64 = AtomicU64::new(0);

/// This server's base `codepup-<pid>-<n>` below `parent`, after removing the bases of servers
/// that are no longer running (killed, so they could not remove theirs).
fn make_base(parent: &Path) -> Result<PathBuf, String> {
    remove_stale_bases(parent);
    let name = format!(
        "codepup-{}-{}",
        std::process::id(),
        BASES.fetch_add(1, Ordering::Relaxed)
    );
    let base = parent.join(name);
    fs::create_dir(&base).map_err(|e| format!("cannot make {}: {e}", base.display()))?;
    Ok(base)
}

fn remove_stale_bases(parent: &Path) {
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if base_owner(&name).is_some_and(|pid| !running(pid)) {
            log::info!("removing the cgroup a stopped server left: {name}");
            remove_tree(&entry.path());
        }
    }
}

/// The server pid in a base's name `codepup-<pid>-<n>`.
fn base_owner(name: &str) -> Option<i32> {
    let (pid, number) = name.strip_prefix("codepup-")?.split_once('-')?;
    number.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn running(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) != Err(nix::errno::Errno::ESRCH)
}

/// The directory of this process's cgroup: in v2 (`controller` None) or in the v1 hierarchy
/// holding `controller`, from `/proc/self/mountinfo` and `/proc/self/cgroup`.
fn own_dir(mountinfo: &str, own: &str, controller: Option<&str>) -> Option<PathBuf> {
    let path = own.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, names, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = match controller {
            None => id == "0" && names.is_empty(),
            Some(wanted) => names.split(',').any(|name| name == wanted),
        };
        matches.then(|| path.to_string())
    })?;
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mut fs = fs.split(' ');
        let (kind, options) = (fs.next()?, fs.nth(1)?);
        let wanted = match controller {
            None => kind == "cgroup2",
            Some(name) => kind == "cgroup" && options.split(',').any(|o| o == name),
        };
        let mut fields = mount.split(' ');
        let (root, point) = (fields.nth(3)?, fields.next()?);
        let below = Path::new(&path).strip_prefix(root).ok()?;
        wanted.then(|| Path::new(point).join(below))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
24 1 0:22 / /sys rw,nosuid - sysfs sysfs rw
30 24 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
35 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
37 30 0:33 /lxc/c1 /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct";

    const OWN: &str = "\
8:pids:/
4:memory:/process_api/abc
1:cpu,cpuacct:/lxc/c1/x
0::/user.slice";

    #[test]
    fn own_cgroups_are_found_in_each_hierarchy() {
        let dir = |controller| own_dir(MOUNTINFO, OWN, controller);
        assert_eq!(
            dir(Some("memory")),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"))
        );
        assert_eq!(
            dir(Some("pids")),
            Some(PathBuf::from("/sys/fs/cgroup/pids/"))
        );
        assert_eq!(
            dir(Some("cpu")),
            Some(PathBuf::from("/sys/fs/cgroup/cpu/x"))
        );
        assert_eq!(
            dir(None),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice"))
        );
        assert_eq!(dir(Some("blkio")), None);
        assert_eq!(own_dir("", OWN, Some("memory")), None);
    }

    #[test]
    fn only_bases_named_by_a_server_belong_to_one() {
        assert_eq!(base_owner("codepup-4242-0"), Some(4242));
        assert_eq!(base_owner("codepup-4242-x"), None);
        assert_eq!(base_owner("codepup-4242"), None);
        assert_eq!(base_owner("process_api"), None);
        assert!(running(std::process::id() as i32));
    }

    #[test]
    fn oom_counters_are_read_by_name() {
        let text = "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n";
        assert_eq!(counter(text, "under_oom"), 1);
        assert_eq!(counter(text, "oom_kill"), 0);
        assert_eq!(counter(text, "oom_group_kill"), 0);
    }

    #[test]
    fn without_cgroups_the_description_says_why() {
        let cgroups = Cgroups::unavailable("read-only");
        assert!(!cgroups.per_run());
        assert!(cgroups.describe().contains("RLIMIT_AS"));
        assert!(cgroups.describe().contains("read-only"));
        assert!(cgroups.run(&Limits::default()).unwrap().is_none());
    }
}
