//! Tool tasks: the linters codepup runs itself and the admin's `tools.toml` commands. Every one
//! runs confined (`sandbox`): under a supervisor, as the tool user, reading the system, its own
//! installation and the job's checkout, writing only the task's scratch directory, with no
//! network unless its definition allows it, and within resource limits.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::analyzers::{Linter, ToolDef};
use crate::domain::finding::{self, Finding};
use crate::domain::ids::{JobId, TaskId};
use crate::domain::job::{code, JobState};
use crate::sandbox::cgroup::RunGroup;
use crate::sandbox::{self, paths, Limits, OutputCaps, Report, Spec};
use crate::scan::checkout::Workspace;
use crate::scan::process::{self, Outcome};
use crate::scan::run::{set_progress, still, Step, Stop};
use crate::scan::Shared;

/// What every tool run of one task shares.
pub struct TaskScope<'a> {
    shared: &'a Shared,
    job_id: JobId,
    task_id: TaskId,
    workspace: &'a Workspace,
    log: &'a File,
}

impl<'a> TaskScope<'a> {
    pub fn new(
        shared: &'a Shared,
        job_id: JobId,
        task_id: TaskId,
        workspace: &'a Workspace,
        log: &'a File,
    ) -> TaskScope<'a> {
        TaskScope {
            shared,
            job_id,
            task_id,
            workspace,
            log,
        }
    }

    pub(super) fn shared(&self) -> &Shared {
        self.shared
    }

    pub(super) fn note(&self, line: &str) {
        let mut log = self.log;
        let _ = writeln!(log, "{line}");
    }
}

/// One tool process to run.
struct Run<'a> {
    /// The tool's name, for messages and its limits.
    name: &'a str,
    argv: Vec<String>,
    cwd: &'a Path,
    /// Where its stdout goes (the task log, or a capture file).
    stdout: &'a File,
    /// `stdout` is the task log.
    stdout_is_log: bool,
    timeout: Option<Duration>,
    network: bool,
    read_paths: &'a [PathBuf],
}

/// How many files one linter run is given.
const LINTER_BATCH: usize = 500;

/// Runs pylint, ruff or shellcheck on the files it wants among `files` (all files below the
/// scan path, or the changed ones), in the checkout, and reads its findings.
pub(super) fn run_linter(
    scope: &TaskScope,
    linter: Linter,
    files: &[String],
    enabled: &[String],
) -> Step<Vec<(Finding, String)>> {
    let dir = &scope.workspace.dir;
    let targets: Vec<String> = files
        .iter()
        .filter(|path| linter.wants(path) && dir.join(path).is_file())
        .cloned()
        .collect();
    if targets.is_empty() {
        scope.note(&format!("no files for {}", linter.name()));
        return Ok(Vec::new());
    }
    let report_path = task_scratch(scope)?
        .join("tmp")
        .join(format!("{}-report.json", linter.name()));
    // In batches, so a large tree never overflows the argument list (ARG_MAX).
    let mut found = Vec::new();
    for batch in targets.chunks(LINTER_BATCH) {
        let capture = Capture::new(scope)?;
        // Whatever an earlier batch left there is not this batch's report. Removed only from a
        // real directory: through a link the tool made, this would delete outside the job.
        if report_path
            .parent()
            .is_some_and(|dir| fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir()))
        {
            let _ = fs::remove_file(&report_path);
        }
        let run = Run {
            name: linter.name(),
            argv: linter.command(batch, &report_path, enabled),
            cwd: dir,
            stdout: &capture.file,
            stdout_is_log: false,
            timeout: None,
            network: false,
            read_paths: &[],
        };
        // Linters exit non-zero when they find something; what matters is whether their report reads.
        let report = run_confined(scope, run)?;
        let output = if linter.writes_report_file() {
            read_report(&report_path)?.unwrap_or_default()
        } else {
            capture.read()?
        };
        match linter.parse(&output, dir) {
            Ok(batch_found) => found.extend(batch_found),
            Err(error) => {
                still(scope.shared, scope.job_id, JobState::Running)?;
                return Err(Stop::Fail(
                    code::E_NODE_TASK_ANALYZE,
                    format!("{} failed ({}): {error}", linter.name(), describe(&report)),
                ));
            }
        }
    }
    Ok(fingerprinted(scope, dir, found))
}

/// Runs an admin-defined command tool in the checkout; its output goes to the task log, or, for
/// `format = "sarif"`, its stdout is read as a SARIF log and its results become findings.
pub(super) fn run_command(
    scope: &TaskScope,
    tool: &ToolDef,
    scan_root: &Path,
) -> Step<Option<Vec<(Finding, String)>>> {
    let argv: Vec<String> = tool
        .command
        .iter()
        .map(|arg| {
            arg.replace("{checkout}", &scan_root.to_string_lossy())
                .replace("{files0}", &scope.workspace.file_list0.to_string_lossy())
                .replace("{files}", &scope.workspace.file_list.to_string_lossy())
        })
        .collect();
    let is_sarif = tool.format.as_deref() == Some("sarif");
    let capture = if is_sarif {
        Some(Capture::new(scope)?)
    } else {
        None
    };
    let run = Run {
        name: &tool.name,
        argv,
        cwd: scan_root,
        stdout: capture.as_ref().map_or(scope.log, |capture| &capture.file),
        stdout_is_log: capture.is_none(),
        timeout: tool.timeout.map(Duration::from_secs),
        network: tool.network,
        read_paths: &tool.read_paths,
    };
    let report = run_confined(scope, run)?;
    let dir = &scope.workspace.dir;
    if let Some(capture) = capture {
        // SARIF tools often exit 1 when they find something: the report decides.
        // Read as a stream, twice from the start (see `parse_report`): a large report never
        // sits in memory whole.
        let file = capture.open()?;
        let reopen = || {
            let mut start = &file;
            std::io::Seek::rewind(&mut start)?;
            Ok(std::io::Read::take(&file, MAX_REPORT_BYTES))
        };
        return match crate::analyzers::sarif::parse_report(Some(&tool.name), reopen, dir) {
            Ok(found) => Ok(Some(fingerprinted(scope, dir, found))),
            Err(error) => {
                still(scope.shared, scope.job_id, JobState::Running)?;
                Err(Stop::Fail(
                    code::E_NODE_TASK_ANALYZE,
                    format!("{} failed ({}): {error}", tool.name, describe(&report)),
                ))
            }
        };
    }
    if report.code == Some(0) {
        return Ok(None);
    }
    // A tool killed because its job was revoked is not a tool failure.
    still(scope.shared, scope.job_id, JobState::Running)?;
    Err(Stop::Fail(
        code::E_NODE_TASK_ANALYZE,
        format!("{} {}", tool.name, describe(&report)),
    ))
}

/// A metrics tool's run (lizard, jscpd): its argv, where it runs, what else it may read, and
/// the file its report goes to (`None`: its stdout is the report).
pub(super) struct ReportRun<'a> {
    pub name: &'a str,
    pub argv: Vec<String>,
    pub cwd: &'a Path,
    pub read_paths: &'a [PathBuf],
    pub report: Option<&'a Path>,
}

/// Runs a metrics tool confined and hands back how it ended and its report (`None` when it
/// wrote none).
pub(super) fn run_for_report(scope: &TaskScope, run: ReportRun) -> Step<(Report, Option<String>)> {
    let capture = Capture::new(scope)?;
    let confined = Run {
        name: run.name,
        argv: run.argv,
        cwd: run.cwd,
        stdout: &capture.file,
        stdout_is_log: false,
        timeout: None,
        network: false,
        read_paths: run.read_paths,
    };
    let report = run_confined(scope, confined)?;
    let output = match run.report {
        Some(path) => read_report(path)?,
        None => Some(capture.read()?),
    };
    Ok((report, output))
}

/// "exited with 1", "was killed by signal 9", with what it used.
pub(super) fn describe(report: &Report) -> String {
    let ended = match (report.code, report.signal) {
        (Some(code), _) => format!("exited with {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended without a status".to_string(),
    };
    format!(
        "{ended}; it used {:.1} s of CPU and at most {} MiB of memory",
        report.cpu_ms as f64 / 1000.0,
        report.max_rss_kb / 1024
    )
}

/// Runs one tool process confined, stdout to `run.stdout` and stderr to the task log. Killed on
/// its timeout, on the job's close (checked at most every half second, which keeps a cancel
/// well inside 2 seconds), on shutdown, or when its cgroup (`sandbox::cgroup::RunGroup`, made
/// here and removed when the run ends) reaches the memory limit. Returns how it ended when it
/// ran to its end; a missing program, a sandbox that cannot be set up or a limit reached fail
/// the task.
fn run_confined(scope: &TaskScope, run: Run) -> Step<Report> {
    let shared = scope.shared;
    let confinement = &shared.confinement;
    if let Some(refusal) = confinement.refusal() {
        return Err(Stop::Fail(code::E_NODE_TASK_CONFIG, refusal));
    }
    let program = paths::find_program(
        &run.argv[0],
        &confinement.path,
        run.cwd,
        confinement.tool_user,
    )
    .ok_or_else(|| {
        Stop::Fail(
            code::E_NODE_TASK_CONFIG,
            format!("{} not found on PATH", run.argv[0]),
        )
    })?;
    let limits = shared.catalog.limits_for(run.name);
    let timeout = run
        .timeout
        .unwrap_or(Duration::from_secs(limits.wall_seconds));
    let group = run_group(scope, &limits);
    let mut spec = spec_for(scope, &run, program, limits)?;
    spec.cgroup = group.as_ref().map(RunGroup::procs).unwrap_or_default();
    scope.note(&format!("$ {}", run.argv.join(" ")));
    set_progress(shared, scope.task_id, 10)?;
    let job_closed = stop_check(shared, scope.job_id);
    // A run that reached its cgroup's memory limit is stopped whole, like a closed job's.
    let at_limit = || group.as_ref().is_some_and(RunGroup::reached_limit);
    let outcome = process::run(
        &shared.processes,
        scope.job_id,
        confinement.command(&spec),
        (run.stdout, scope.log),
        Some(timeout),
        &|| at_limit() || job_closed(),
    );
    set_progress(shared, scope.task_id, 90)?;
    let report = Report::read(&spec.report);
    let _ = fs::remove_file(&spec.report);
    let label = match at_limit() {
        true => "limit",
        false => outcome_name(&outcome, report.as_ref(), &limits),
    };
    shared.metrics.tool_run(run.name, label);
    if let Some(group) = group.filter(RunGroup::reached_limit) {
        return Err(memory_reached(scope, &run, &group));
    }
    match outcome {
        Outcome::Exited(status) => ended(scope, &run, &limits, status, report),
        Outcome::Stopped => Err(Stop::Abandon),
        Outcome::TimedOut => Err(Stop::Fail(
            code::E_NODE_TASK_EXPIRED,
            format!(
                "{} ran longer than its timeout of {} seconds and was killed",
                run.name,
                timeout.as_secs()
            ),
        )),
        Outcome::SpawnFailed(error) => Err(Stop::Fail(
            code::E_SERVER,
            format!(
                "cannot start the tool supervisor {}: {error}",
                confinement.helper.display()
            ),
        )),
    }
}

/// The run's own control group, when the server has cgroups; a group that cannot be made leaves
/// the run to its per-process limits, and the task log says so.
fn run_group(scope: &TaskScope, limits: &Limits) -> Option<RunGroup> {
    match scope.shared.confinement.cgroups.run(limits) {
        Ok(group) => group,
        Err(error) => {
            log::warn!("a tool run gets no cgroup: {error}");
            scope.note(&format!(
                "no cgroup for this run ({error}): memory_mb holds per process only"
            ));
            None
        }
    }
}

/// The failure of a run stopped at its memory limit (unless its job closed meanwhile).
fn memory_reached(scope: &TaskScope, run: &Run, group: &RunGroup) -> Stop {
    if let Err(stop) = still(scope.shared, scope.job_id, JobState::Running) {
        return stop;
    }
    let peak = group
        .peak_mb()
        .map(|mb| format!(", at most {mb} MiB in use"))
        .unwrap_or_default();
    let message = format!(
        "{} reached its memory limit of {} MiB (all its processes together{peak}) and was stopped",
        run.name,
        group.limit_mb()
    );
    scope.note(&message);
    Stop::Fail(code::E_NODE_TASK, message)
}

/// The `outcome` label of the tool-run metric.
fn outcome_name(outcome: &Outcome, report: Option<&Report>, limits: &Limits) -> &'static str {
    match (outcome, report) {
        (Outcome::TimedOut, _) => "timed_out",
        (Outcome::Stopped, _) => "stopped",
        (Outcome::SpawnFailed(_), _) => "supervisor_failed",
        (Outcome::Exited(_), None) => "killed",
        (Outcome::Exited(_), Some(report)) if report.error.is_some() => "not_started",
        (Outcome::Exited(_), Some(report)) if report.limit_hit(limits).is_some() => "limit",
        (Outcome::Exited(_), Some(report)) if report.code == Some(0) => "exit_0",
        (Outcome::Exited(_), Some(_)) => "exit_nonzero",
    }
}

/// What the supervisor is told for `run`.
fn spec_for(scope: &TaskScope, run: &Run, program: PathBuf, limits: Limits) -> Step<Spec> {
    let confinement = &scope.shared.confinement;
    let workspace = scope.workspace;
    let scratch = task_scratch(scope)?;
    let mut read = confinement.readable(&program, run.read_paths, &workspace.dir);
    read.push(workspace.file_list.clone());
    read.push(workspace.file_list0.clone());
    Ok(Spec {
        env: sandbox::tool_env(&scratch, &confinement.path),
        args: run.argv[1..].to_vec(),
        program,
        cwd: run.cwd.to_path_buf(),
        read,
        write: vec![scratch],
        network: run.network,
        limits,
        user: confinement.tool_user,
        require_landlock: !confinement.unconfined,
        report: scope.shared.workspace_dir.join(format!(
            "job-{}-task-{}.report",
            scope.job_id, scope.task_id
        )),
        output: output_caps(scope, run),
        cgroup: Vec::new(),
    })
}

/// How much of a task's log its tools may write, over all its runs.
const TASK_LOG_BYTES: u64 = 16 * 1024 * 1024;

/// What is left of the task log's room, for stderr and (when it goes there) stdout; a report on
/// stdout may be as large as codepup reads, and one byte more, so an oversized one is seen.
fn output_caps(scope: &TaskScope, run: &Run) -> OutputCaps {
    let used = scope.log.metadata().map_or(0, |meta| meta.len());
    let room = TASK_LOG_BYTES.saturating_sub(used);
    OutputCaps {
        stdout: if run.stdout_is_log {
            room
        } else {
            MAX_REPORT_BYTES + 1
        },
        stderr: room,
        stdout_is_log: run.stdout_is_log,
    }
}

/// The task's own scratch directory, made on its first run.
pub(super) fn task_scratch(scope: &TaskScope) -> Step<PathBuf> {
    sandbox::make_scratch(
        &scope.workspace.scratch,
        &format!("task-{}", scope.task_id),
        scope.shared.confinement.tool_user,
    )
    .map_err(|e| {
        Stop::Fail(
            code::E_SERVER,
            format!("cannot make the tool's scratch directory: {e}"),
        )
    })
}

/// Reads how a supervised run ended: the tool's own status, or why it could not run.
fn ended(
    scope: &TaskScope,
    run: &Run,
    limits: &Limits,
    status: std::process::ExitStatus,
    report: Option<Report>,
) -> Step<Report> {
    let Some(report) = report else {
        // The supervisor died before writing (the tool killed it, or it was killed).
        still(scope.shared, scope.job_id, JobState::Running)?;
        return Ok(Report {
            code: None,
            signal: std::os::unix::process::ExitStatusExt::signal(&status),
            ..Report::default()
        });
    };
    scope.note(&format!(
        "confined by: {}",
        if report.confined_by.is_empty() {
            "nothing".to_string()
        } else {
            report.confined_by.join(", ")
        }
    ));
    if report.not_found {
        return Err(Stop::Fail(
            code::E_NODE_TASK_CONFIG,
            format!("{} not found on PATH", run.argv[0]),
        ));
    }
    if let Some(error) = &report.error {
        return Err(Stop::Fail(
            code::E_NODE_TASK_CONFIG,
            format!("cannot run {} confined: {error}", run.name),
        ));
    }
    if let Some(limit) = report.limit_hit(limits) {
        still(scope.shared, scope.job_id, JobState::Running)?;
        let result_code = if limit.contains("CPU") {
            code::E_NODE_TASK_EXPIRED
        } else {
            code::E_NODE_TASK
        };
        return Err(Stop::Fail(
            result_code,
            format!("{} reached {limit} and was stopped", run.name),
        ));
    }
    Ok(report)
}

/// Whether a running tool should be stopped: the server stops, or the job closed.
fn stop_check(shared: &Shared, job_id: JobId) -> impl Fn() -> bool + '_ {
    let last_check = std::cell::Cell::new(Instant::now());
    move || {
        if shared.is_stopping() {
            return true;
        }
        if last_check.get().elapsed() < Duration::from_millis(500) {
            return false;
        }
        last_check.set(Instant::now());
        shared
            .store
            .state(job_id)
            .ok()
            .flatten()
            .is_some_and(|state| state == JobState::Closed)
    }
}

/// A file in the workspaces directory that holds a tool's stdout, removed when dropped.
struct Capture {
    path: PathBuf,
    file: File,
}

impl Capture {
    fn new(scope: &TaskScope) -> Step<Capture> {
        let path = scope
            .shared
            .workspace_dir
            .join(format!("job-{}-task-{}.out", scope.job_id, scope.task_id));
        let file = File::create(&path)
            .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot capture tool output: {e}")))?;
        Ok(Capture { path, file })
    }

    fn read(&self) -> Step<String> {
        read_report(&self.path)?
            .ok_or_else(|| Stop::Fail(code::E_SERVER, "the tool's output is gone".to_string()))
    }

    /// The output as a file to read, with the checks of `open_report`.
    fn open(&self) -> Step<File> {
        open_report(&self.path)?
            .ok_or_else(|| Stop::Fail(code::E_SERVER, "the tool's output is gone".to_string()))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The largest report a tool may hand back; a bigger one fails its task rather than the server's
/// memory.
const MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;

/// A tool's report as text, `None` when it wrote none; too large a report fails the task. See
/// `open_report`.
fn read_report(path: &Path) -> Step<Option<String>> {
    use std::io::Read;
    let Some(file) = open_report(path)? else {
        return Ok(None);
    };
    let length = file.metadata().map_or(0, |meta| meta.len());
    let mut bytes = Vec::with_capacity(length.min(MAX_REPORT_BYTES) as usize);
    file.take(MAX_REPORT_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot read tool output: {e}")))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// A tool's report opened for reading, `None` when it wrote none; too large a report fails the
/// task. The report may sit in the tool's scratch directory, where the tool could have left a
/// link to a file of the server's: a link, or a file that is not regular, is no report. Read
/// it through `take(MAX_REPORT_BYTES)`.
fn open_report(path: &Path) -> Step<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let parent_is_real = path
        .parent()
        .is_some_and(|dir| fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir()));
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path);
    let file = match opened {
        Ok(file) if parent_is_real => file,
        _ => return Ok(None),
    };
    let meta = file
        .metadata()
        .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot read tool output: {e}")))?;
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > MAX_REPORT_BYTES {
        return Err(Stop::Fail(
            code::E_NODE_TASK_ANALYZE,
            format!(
                "the tool's report is {} MiB, over the {} MiB codepup reads",
                meta.len() >> 20,
                MAX_REPORT_BYTES >> 20
            ),
        ));
    }
    Ok(Some(file))
}

/// Files larger than this are not read for fingerprints (their findings get none from lines).
const FINGERPRINT_READ_LIMIT: u64 = 64 * 1024 * 1024;

/// The most findings one tool run may report; the rest are dropped (and the task log says so).
const MAX_FINDINGS_PER_RUN: usize = crate::analyzers::sarif::MAX_FINDINGS;

/// The most of a flagged line a fingerprint reads.
const MAX_LINE_BYTES: usize = 4096;

/// Findings with fingerprints computed from the checked-out files' own lines. A tool names the
/// paths, so a finding is kept only for no path at all or a plain relative path (spelt one way:
/// `a//b/` is `a/b`) to a regular file inside `root`, at most `MAX_FINDINGS_PER_RUN` of them, and of each
/// file only the flagged lines are read.
fn fingerprinted(scope: &TaskScope, root: &Path, found: Vec<Finding>) -> Vec<(Finding, String)> {
    let reported = found.len();
    let kept = on_checkout_files(root, found);
    if kept.len() < reported {
        scope.note(&format!(
            "kept {} of {reported} findings: the rest name no file of the checkout, or pass the {MAX_FINDINGS_PER_RUN} a run may report",
            kept.len()
        ));
    }
    let mut wanted: HashMap<&str, HashSet<u32>> = HashMap::new();
    for finding in &kept {
        wanted
            .entry(&finding.path)
            .or_default()
            .insert(finding.line);
    }
    let lines: HashMap<&str, HashMap<u32, String>> = wanted
        .into_iter()
        .map(|(path, numbers)| (path, flagged_lines(&root.join(path), &numbers)))
        .collect();
    let fingerprints =
        finding::fingerprints(&kept, |path, line| lines.get(path)?.get(&line).cloned());
    kept.into_iter().zip(fingerprints).collect()
}

/// The findings that name no file at all, or a plain relative path (respelt as `plain_path`) to
/// a regular file of the checkout (`checkout::confined_files`, which tools' file lists pass
/// through too); at most `MAX_FINDINGS_PER_RUN` of them.
fn on_checkout_files(root: &Path, found: Vec<Finding>) -> Vec<Finding> {
    let paths: Vec<Option<String>> = found
        .iter()
        .map(|finding| plain_path(&finding.path))
        .collect();
    let distinct: HashSet<&String> = paths.iter().flatten().collect();
    let (inside, _) =
        crate::scan::checkout::confined_files(root, distinct.into_iter().cloned().collect());
    let inside: HashSet<String> = inside.into_iter().collect();
    found
        .into_iter()
        .zip(paths)
        .filter_map(|(mut finding, path)| {
            // A finding about no file in particular (a SARIF result without a location) stays.
            if finding.path.is_empty() {
                return Some(finding);
            }
            finding.path = path.filter(|path| inside.contains(path))?;
            Some(finding)
        })
        .take(MAX_FINDINGS_PER_RUN)
        .collect()
}

/// `path` as a plain relative path, one spelling of it: `None` for an absolute path, one with
/// `..` or `.`, an empty one, or one longer than any path a scan takes.
fn plain_path(path: &str) -> Option<String> {
    use std::path::Component;
    if path.len() >= crate::scan::checkout::MAX_PATH_BYTES {
        return None;
    }
    let mut parts = Vec::new();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(name) => parts.push(name.to_str()?),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The lines numbered `numbers` (from 1) of `file`, each at most `MAX_LINE_BYTES`, read as a
/// stream; none from a file over `FINGERPRINT_READ_LIMIT`.
fn flagged_lines(file: &Path, numbers: &HashSet<u32>) -> HashMap<u32, String> {
    use std::io::{BufRead, BufReader};
    let mut found = HashMap::new();
    let Ok(handle) = fs::File::open(file) else {
        return found;
    };
    if handle
        .metadata()
        .map_or(true, |meta| meta.len() > FINGERPRINT_READ_LIMIT)
    {
        return found;
    }
    let last = numbers.iter().copied().max().unwrap_or(0);
    let mut reader = BufReader::new(handle);
    let mut line = Vec::new();
    for number in 1..=last {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if numbers.contains(&number) {
            let text = &line[..line.len().min(MAX_LINE_BYTES)];
            let text = String::from_utf8_lossy(text);
            found.insert(number, text.trim_end_matches(['\n', '\r']).to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_name_only_regular_files_inside_the_checkout_spelt_one_way() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("checkout");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/a.py"), "one\ntwo\n").unwrap();
        fs::write(dir.path().join("secret"), "s\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        assert_eq!(plain_path("sub//a.py/").as_deref(), Some("sub/a.py"));
        for hostile in ["../secret", "/etc/passwd", "sub/../../secret", "./a", ""] {
            assert_eq!(plain_path(hostile), None, "{hostile}");
        }
        let finding = |path: &str| Finding {
            tool: "t".to_string(),
            rule: "r".to_string(),
            path: path.to_string(),
            line: 1,
            column: 0,
            severity: crate::domain::finding::Severity::Info,
            category: String::new(),
            message: String::new(),
        };
        let kept: Vec<String> = on_checkout_files(
            &root,
            ["sub/a.py", "link", "up/secret", "sub", "sub//a.py/", ""]
                .map(finding)
                .into(),
        )
        .into_iter()
        .map(|finding| finding.path)
        .collect();
        assert_eq!(kept, ["sub/a.py", "sub/a.py", ""]);
        let lines = flagged_lines(&root.join("sub/a.py"), &HashSet::from([2, 9]));
        assert_eq!(lines, HashMap::from([(2, "two".to_string())]));
    }
}
