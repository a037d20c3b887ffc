//! The last steps of a confined run, after the supervisor has confined itself: it forks an
//! init, PID 1 of the tool's PID namespace, which starts the tool and reaps whatever the tool
//! leaves behind; the supervisor copies the tool's output into the task's files, each up to its
//! cap, and collects what init reports.
//!
//! Why an init of codepup's own: the kernel kills every process of a PID namespace when its PID 1
//! ends, and PID 1 here keeps its parent-death signal (a tool can clear its own, and can leave
//! its process group, but can neither signal nor change init). So when the supervisor dies (the
//! server killed it, or died itself), init dies, and with it everything the tool started. And
//! the tool writes to pipes, never to the task's files, so it can neither truncate what the
//! server wrote there nor write past its cap.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::Signal;
use nix::sys::time::TimeValLike;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult, Pid};

use super::{Report, Spec, SETUP_FAILED};

/// Pipes between the supervisor, init and the tool.
struct Pipes {
    stdout: (OwnedFd, OwnedFd),
    stderr: (OwnedFd, OwnedFd),
    ended: (OwnedFd, OwnedFd),
    /// Init sees this one close when the supervisor dies.
    alive: (OwnedFd, OwnedFd),
}

/// Runs the tool under an init of its own and returns the status to exit with: the tool's code,
/// or 128 + the signal that ended it.
pub fn run(spec: &Spec, report: &mut Report) -> i32 {
    let pipes = match make_pipes() {
        Ok(pipes) => pipes,
        Err(error) => {
            report.error = Some(format!("cannot make pipes: {error}"));
            return SETUP_FAILED;
        }
    };
    // SAFETY: the supervisor is single-threaded here (no thread is started before this point),
    // so the child may go on running ordinary Rust code until it exits.
    #[allow(unsafe_code)]
    let forked = unsafe { fork() };
    match forked {
        Ok(ForkResult::Child) => {
            let Pipes {
                stdout,
                stderr,
                ended,
                alive,
            } = pipes;
            drop((stdout.0, stderr.0, ended.0, alive.1));
            std::process::exit(init(spec, stdout.1, stderr.1, ended.1, alive.0))
        }
        Ok(ForkResult::Parent { child }) => supervise(spec, report, pipes, child),
        Err(error) => {
            report.error = Some(format!("cannot fork: {error}"));
            SETUP_FAILED
        }
    }
}

fn make_pipes() -> nix::Result<Pipes> {
    Ok(Pipes {
        stdout: pipe()?,
        stderr: pipe()?,
        ended: pipe()?,
        alive: pipe()?,
    })
}

/// The supervisor's side: copy the output, wait for init, read what it says.
fn supervise(spec: &Spec, report: &mut Report, pipes: Pipes, init: Pid) -> i32 {
    let Pipes {
        stdout,
        stderr,
        ended,
        alive,
    } = pipes;
    drop((stdout.1, stderr.1, ended.1, alive.0));
    let targets = [
        Copy::new(
            stdout.0,
            io::stdout().as_fd(),
            spec.output.stdout,
            spec.output.stdout_is_log,
        ),
        Copy::new(stderr.0, io::stderr().as_fd(), spec.output.stderr, true),
    ];
    copy_until_closed(targets.into_iter().flatten().collect());
    let status = loop {
        match waitpid(init, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other,
        }
    };
    drop(alive.1);
    let mut text = String::new();
    let _ = File::from(ended.0).read_to_string(&mut text);
    // What init says of the tool; its confinement adds to the supervisor's own.
    let ended: Report = serde_json::from_str(&text).unwrap_or_default();
    let confined_by = std::mem::take(&mut report.confined_by);
    *report = Report {
        confined_by: confined_by.into_iter().chain(ended.confined_by).collect(),
        ..ended
    };
    if report.error.is_some() {
        return SETUP_FAILED;
    }
    match status {
        Ok(WaitStatus::Exited(_, code)) => code,
        Ok(WaitStatus::Signaled(_, signal, _)) => 128 + signal as i32,
        _ => 1,
    }
}

/// One of the tool's outputs on its way to a task file: at most `cap` bytes are written, the
/// rest is read and dropped, so the tool never blocks on a full pipe. A log says where it was
/// cut.
struct Copy {
    from: File,
    to: File,
    cap: u64,
    written: u64,
    note_the_cut: bool,
    cut: bool,
}

impl Copy {
    fn new(
        from: OwnedFd,
        to: std::os::fd::BorrowedFd<'_>,
        cap: u64,
        note_the_cut: bool,
    ) -> Option<Copy> {
        let to = to.try_clone_to_owned().ok()?;
        Some(Copy {
            from: File::from(from),
            to: File::from(to),
            cap,
            written: 0,
            note_the_cut,
            cut: false,
        })
    }

    /// Moves what can be read now; false at the end of the output.
    fn pump(&mut self, buffer: &mut [u8]) -> bool {
        let read = match self.from.read(buffer) {
            Ok(0) => return false,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => return true,
            Err(_) => return false,
        };
        let room = usize::try_from(self.cap.saturating_sub(self.written)).unwrap_or(usize::MAX);
        let take = read.min(room);
        if take > 0 && self.to.write_all(&buffer[..take]).is_ok() {
            self.written += take as u64;
        }
        if take < read && !self.cut {
            self.cut = true;
            if self.note_the_cut {
                let _ = writeln!(
                    self.to,
                    "\n[codepup: the tool's output was cut here, at {} MiB]",
                    self.cap >> 20
                );
            }
        }
        true
    }
}

/// Copies every output until all are closed (the tool and everything it started are gone). One
/// thread: a process that has left its PID namespace behind may start no other.
fn copy_until_closed(mut copies: Vec<Copy>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut buffer = vec![0u8; 64 * 1024];
    while !copies.is_empty() {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = copies
                .iter()
                .map(|copy| PollFd::new(copy.from.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
                Ok(_) => fds
                    .iter()
                    .map(|fd| fd.revents().is_some_and(|events| !events.is_empty()))
                    .collect(),
            }
        };
        let mut index = 0;
        copies.retain_mut(|copy| {
            let keep = !ready[index] || copy.pump(&mut buffer);
            index += 1;
            keep
        });
    }
}

/// Init: PID 1 of the tool's namespace. Starts the tool, reaps every process until the tool
/// ends, tells the supervisor how it ended, and exits, which ends the namespace.
fn init(spec: &Spec, stdout: OwnedFd, stderr: OwnedFd, ended: OwnedFd, alive: OwnedFd) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if supervisor_gone(&alive) {
        return SETUP_FAILED;
    }
    let mut result = Report::default();
    if mount_own_proc() {
        result.confined_by.push("private-proc".to_string());
    }
    hide_shared_directories(spec);
    let exit = match super::supervisor::restrict(spec) {
        Ok(landlocked) => {
            if landlocked {
                result.confined_by.push("landlock".to_string());
            }
            run_tool(spec, stdout, stderr, &mut result)
        }
        Err(error) => {
            result.error = Some(error);
            SETUP_FAILED
        }
    };
    let _ = File::from(ended).write_all(
        serde_json::to_string(&result)
            .unwrap_or_default()
            .as_bytes(),
    );
    exit
}

/// Starts the tool, reaps until it ends and records how it ended in `result`; returns the
/// status to exit with: its code, or 128 + the signal that ended it.
fn run_tool(spec: &Spec, stdout: OwnedFd, stderr: OwnedFd, result: &mut Report) -> i32 {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    set_parent_death_signal(&mut command);
    let tool = match command.spawn() {
        Ok(child) => Pid::from_raw(child.id() as i32),
        Err(error) => {
            result.not_found = error.kind() == io::ErrorKind::NotFound;
            result.error = Some(format!("cannot start {}: {error}", spec.program.display()));
            return SETUP_FAILED;
        }
    };
    drop(command);
    let status = reap_until(tool);
    if let Ok(usage) = getrusage(UsageWho::RUSAGE_CHILDREN) {
        let cpu = usage.user_time() + usage.system_time();
        result.cpu_ms = u64::try_from(cpu.num_milliseconds()).unwrap_or(0);
        result.max_rss_kb = u64::try_from(usage.max_rss()).unwrap_or(0);
    }
    match status {
        Some(status) => {
            result.code = status.code();
            result.signal = status.signal();
            status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(1)
        }
        None => {
            result.error = Some("lost track of the tool".to_string());
            1
        }
    }
}

/// Mounts a `/proc` of the namespace's own over the host's, so the tool sees only its own
/// processes (not, say, the command lines of the server's git runs). Where the kernel refuses
/// (a container that masks parts of the host's `/proc`), the host's stays.
fn mount_own_proc() -> bool {
    use nix::mount::{mount, MsFlags};
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .is_ok()
}

/// Lays an empty, read-only tmpfs over the directories where a machine keeps the pathname Unix
/// sockets and shared files of its services (`/tmp`, `/run`, `/dev/shm`, `/var/tmp`), so a tool
/// reaches no D-Bus, resolver or database socket there, on kernels whose Landlock cannot refuse
/// the connect itself. Only in the tool's own mount namespace; a directory that holds what the
/// tool works on (a data directory under `/tmp`), that is missing, or that the kernel will not
/// cover, stays as it is.
fn hide_shared_directories(spec: &Spec) {
    use nix::mount::{mount, MsFlags};
    let needed = |dir: &str| {
        spec.read
            .iter()
            .chain(&spec.write)
            .chain(std::iter::once(&spec.cwd))
            .any(|path| path.starts_with(dir))
    };
    for dir in ["/tmp", "/run", "/dev/shm", "/var/tmp"] {
        if needed(dir) {
            continue;
        }
        let _ = mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
            Some("size=4k,mode=0555"),
        );
    }
}

/// Whether the supervisor died before init could ask to die with it.
fn supervisor_gone(alive: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(alive.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) => false,
        _ => fds[0]
            .revents()
            .is_some_and(|events| events.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)),
    }
}

/// Reaps children until `tool` ends; returns its status.
fn reap_until(tool: Pid) -> Option<std::process::ExitStatus> {
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == tool => {
                return Some(std::process::ExitStatus::from_raw((code & 0xff) << 8))
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == tool => {
                return Some(std::process::ExitStatus::from_raw(signal as i32))
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Asks the kernel to SIGKILL the child of `command` when the thread that starts it dies: the
/// tool dies with init, and a supervisor with the server's worker thread.
#[allow(unsafe_code)]
pub fn set_parent_death_signal(command: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec. It only calls prctl(2), which
    // is async-signal-safe, and allocates nothing.
    unsafe {
        command
            .pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
    }
}
