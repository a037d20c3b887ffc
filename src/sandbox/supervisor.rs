//! The supervisor: `codepup sandbox-exec SPEC`, one per tool run, started by the server with a
//! parent-death signal. It confines itself, then starts the tool, which inherits everything:
//!
//! 0. the run's control group (`spec.cgroup`, made by the server), joined first, so the
//!    supervisor, init and every process of the tool count against its memory and process
//!    limits together;
//! 1. the working directory, entered while the server's user can still reach it;
//! 2. the tool user (when the server runs as root);
//! 3. new user, PID, IPC and network namespaces: when the namespace's init ends (after the tool,
//!    or with the supervisor or server, by parent-death signals all the way down), the kernel
//!    kills every process the tool left behind;
//! 4. resource limits, then the parent-death signal again, which a change of user clears;
//! 5. (in init, `init.rs`) a `/proc` of the namespace's own, then Landlock: read below `spec.read`, write below `spec.write`, no TCP unless allowed, no
//!    signals or abstract sockets out of the sandbox; `no_new_privs`.
//!
//! Then `init.rs` starts the tool under an init of codepup's own, PID 1 of the namespace. The
//! supervisor writes a `Report` to a file it opened before any of that, and exits with the
//! tool's status.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, ABI,
};
use nix::sched::{unshare, CloneFlags};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::Signal;
use nix::unistd::{getegid, geteuid, getppid, setgroups, setresgid, setresuid, Gid, Uid};

use super::paths::DEVICES;
use super::{Ids, Limits, Report, Spec, SETUP_FAILED};

/// Runs one tool as `spec_json` says and exits with its status.
pub fn main(spec_json: &str) -> ExitCode {
    let spec: Spec = match serde_json::from_str(spec_json) {
        Ok(spec) => spec,
        Err(error) => {
            let _ = writeln!(io::stderr(), "codepup sandbox-exec: bad spec: {error}");
            return ExitCode::from(SETUP_FAILED as u8);
        }
    };
    let mut report_file = match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&spec.report)
    {
        Ok(file) => file,
        Err(error) => {
            let _ = writeln!(io::stderr(), "codepup sandbox-exec: report file: {error}");
            return ExitCode::from(SETUP_FAILED as u8);
        }
    };
    let mut report = Report::default();
    let status = match confine(&spec, &mut report) {
        Ok(()) => super::init::run(&spec, &mut report),
        Err(error) => {
            report.error = Some(error);
            SETUP_FAILED
        }
    };
    write_report(&mut report_file, &report);
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}

fn write_report(file: &mut File, report: &Report) {
    if let Ok(text) = serde_json::to_string(report) {
        let _ = file.write_all(text.as_bytes());
    }
}

/// Steps 1 to 5 of the module comment.
fn confine(spec: &Spec, report: &mut Report) -> Result<(), String> {
    let parent = getppid();
    join_cgroup(spec, report)?;
    // The working directory is entered while the server's user can still reach it.
    std::env::set_current_dir(&spec.cwd)
        .map_err(|e| format!("cannot enter {}: {e}", spec.cwd.display()))?;
    if let Some(ids) = spec.user {
        become_user(ids)?;
        report.confined_by.push("user".to_string());
    }
    leave_session_keyring()?;
    enter_namespaces(spec, report);
    set_limits(&spec.limits)?;
    // A change of user or user namespace clears the parent-death signal: set it again, and make
    // sure the server did not die in between.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| format!("parent-death signal: {e}"))?;
    if getppid() != parent {
        return Err("the server went away".to_string());
    }
    Ok(())
}

/// Writes the supervisor into the run's control group ("0" is the writer itself), while it still
/// has the server's rights over the group; what it starts later is born inside.
fn join_cgroup(spec: &Spec, report: &mut Report) -> Result<(), String> {
    for procs in &spec.cgroup {
        std::fs::write(procs, "0")
            .map_err(|e| format!("cannot join the run's cgroup {}: {e}", procs.display()))?;
    }
    if !spec.cgroup.is_empty() {
        report.confined_by.push("cgroup".to_string());
    }
    Ok(())
}

/// New user, PID, IPC and network namespaces, made by the tool user itself (root has already
/// become it). The user namespace maps the tool user's own ids, so files keep their owners, and
/// it is made before the limits are lowered, so the tool's process limit counts the processes of
/// this one run (the kernel counts per user namespace), not every process of the tool user on
/// the machine. Where the kernel refuses, the tool runs without them: the server still kills its
/// process group, and Landlock still denies TCP.
fn enter_namespaces(spec: &Spec, report: &mut Report) {
    let (uid, gid) = (geteuid(), getegid());
    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNS;
    if !spec.network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    match unshare(flags) {
        Ok(()) => {
            if let Err(error) = map_ids(uid, gid) {
                let _ = writeln!(io::stderr(), "codepup sandbox: user namespace: {error}");
            }
            report.confined_by.push("pid-namespace".to_string());
            if !spec.network {
                report.confined_by.push("network-namespace".to_string());
            }
        }
        Err(error) => {
            let _ = writeln!(
                io::stderr(),
                "codepup sandbox: no namespaces ({error}); the tool's process group is killed instead"
            );
            let _ = nix::sys::prctl::set_child_subreaper(true);
        }
    }
}

/// Maps the tool user's own ids into its new user namespace. A change of user made the process
/// non-dumpable, which leaves its `/proc/self` files to root: dumpable again while writing.
fn map_ids(uid: Uid, gid: Gid) -> io::Result<()> {
    nix::sys::prctl::set_dumpable(true).map_err(io::Error::from)?;
    let written = (|| {
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
    })();
    let _ = nix::sys::prctl::set_dumpable(false);
    written
}

fn set_limits(limits: &Limits) -> Result<(), String> {
    const MIB: u64 = 1024 * 1024;
    let table = [
        (
            Resource::RLIMIT_AS,
            limits.memory_mb * MIB,
            limits.memory_mb * MIB,
        ),
        (
            Resource::RLIMIT_CPU,
            limits.cpu_seconds,
            limits.cpu_seconds + 5,
        ),
        (Resource::RLIMIT_NPROC, limits.processes, limits.processes),
        (
            Resource::RLIMIT_FSIZE,
            limits.file_size_mb * MIB,
            limits.file_size_mb * MIB,
        ),
        (
            Resource::RLIMIT_NOFILE,
            limits.open_files,
            limits.open_files,
        ),
        (Resource::RLIMIT_CORE, 0, 0),
    ];
    for (resource, soft, hard) in table {
        setrlimit(resource, soft, hard).map_err(|e| format!("limit {resource:?}: {e}"))?;
    }
    Ok(())
}

fn become_user(ids: Ids) -> Result<(), String> {
    let (uid, gid) = (Uid::from_raw(ids.uid), Gid::from_raw(ids.gid));
    setgroups(&[gid]).map_err(|e| format!("setgroups: {e}"))?;
    setresgid(gid, gid, gid).map_err(|e| format!("setresgid {gid}: {e}"))?;
    setresuid(uid, uid, uid).map_err(|e| format!("setresuid {uid}: {e}"))?;
    Ok(())
}

/// Joins a new, empty session keyring: the one inherited from the server may hold keys (a login
/// session's, a Kerberos cache's) that a process of the session possesses, and Landlock does not
/// cover keyctl(2).
#[allow(unsafe_code)]
fn leave_session_keyring() -> Result<(), String> {
    const KEYCTL_JOIN_SESSION_KEYRING: nix::libc::c_long = 1;
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) takes no buffer: a null name asks for a
    // new anonymous keyring.
    let joined = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<nix::libc::c_char>(),
        )
    };
    if joined < 0 {
        let error = io::Error::last_os_error();
        // A kernel without keyrings has none to leak.
        if error.raw_os_error() != Some(nix::libc::ENOSYS) {
            return Err(format!("cannot leave the session keyring: {error}"));
        }
    }
    Ok(())
}

/// Landlock, as strict as this kernel allows (best effort from the newest ABI the crate knows).
/// Returns whether Landlock is in force. Run by init, after it mounted its own `/proc` (a
/// Landlock domain may mount nothing).
pub(super) fn restrict(spec: &Spec) -> Result<bool, String> {
    let abi = ABI::V10;
    let fail = |e: landlock::RulesetError| format!("landlock: {e}");
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(fail)?
        .scope(Scope::from_all(abi))
        .map_err(fail)?;
    if !spec.network {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(fail)?;
    }
    let status = ruleset
        .create()
        .map_err(fail)?
        .add_rules(path_beneath_rules(&spec.read, AccessFs::from_read(abi)))
        .map_err(fail)?
        .add_rules(path_beneath_rules(&spec.write, AccessFs::from_all(abi)))
        .map_err(fail)?
        .add_rules(path_beneath_rules(DEVICES, AccessFs::from_file(abi)))
        .map_err(fail)?
        .restrict_self()
        .map_err(fail)?;
    let enforced = status.ruleset != RulesetStatus::NotEnforced;
    if !enforced && spec.require_landlock {
        return Err("this kernel does not enforce Landlock".to_string());
    }
    if !status.no_new_privs {
        nix::sys::prctl::set_no_new_privs().map_err(|e| format!("no_new_privs: {e}"))?;
    }
    Ok(enforced)
}
