//! The worker loop: take the oldest waiting job, fetch its source, plan one task per tool, check
//! out the revision, run the tasks in order, and close the job. Never holds a database connection
//! while git or a tool runs.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use crate::analyzers::codecount::{self, FileCount};
use crate::analyzers::{builtin, Linter, ToolDef};
use crate::db;
use crate::domain::finding::{self, Finding};
use crate::domain::ids::{JobId, ProjectId, TaskId};
use crate::domain::job::{code, Job, JobState, INCR_IGNORE_MSG};
use crate::domain::project::Project;
use crate::domain::repo::Repo;
use crate::domain::scheme::Scheme;
use crate::git::GitError;
use crate::scan::checkout::{self, Workspace};
use crate::scan::tools::{self, TaskScope};
use crate::scan::{lifecycle, Shared};

/// Why a job stopped before closing normally.
pub(super) enum Stop {
    /// Close the job with this code and message.
    Fail(i64, String),
    /// Someone else closed the job (cancel, timeout, superseded) or the server is stopping:
    /// leave the row as it is.
    Abandon,
}

impl From<rusqlite::Error> for Stop {
    fn from(error: rusqlite::Error) -> Stop {
        Stop::Fail(code::E_SERVER, format!("database error: {error}"))
    }
}

impl From<r2d2::Error> for Stop {
    fn from(error: r2d2::Error) -> Stop {
        Stop::Fail(code::E_SERVER, format!("no database connection: {error}"))
    }
}

pub(super) type Step<T> = Result<T, Stop>;

/// The worker thread's body.
pub fn run(shared: &Shared) {
    while !shared.is_draining() {
        let claimed = shared
            .pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|conn| Ok(db::jobs::claim_next(&conn)?));
        match claimed {
            Ok(Some(job_id)) => {
                let _busy = shared.working();
                run_guarded(shared, job_id)
            }
            Ok(None) => shared.idle(),
            Err(error) => {
                log::error!("cannot take a job: {error:#}");
                shared.idle();
            }
        }
    }
}

/// Runs one job; a panic closes it with a server code instead of killing the worker.
fn run_guarded(shared: &Shared, job_id: JobId) {
    log::info!("job {job_id}: started");
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| run_job(shared, job_id)));
    shared.metrics.job_ran(started.elapsed());
    let stop = match result {
        Ok(Ok(())) => return,
        Ok(Err(stop)) => stop,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Stop::Fail(
                code::E_SERVER,
                format!("internal error while running the job: {what}"),
            )
        }
    };
    match stop {
        Stop::Abandon => {
            log::info!("job {job_id}: left as it is (closed elsewhere or server stopping)")
        }
        Stop::Fail(result_code, message) => {
            let revoked = shared
                .pool
                .get()
                .map_err(anyhow::Error::from)
                .and_then(|mut conn| {
                    Ok(lifecycle::revoke(
                        shared,
                        &mut conn,
                        job_id,
                        result_code,
                        &message,
                    )?)
                });
            if let Err(error) = revoked {
                log::error!(
                    "job {job_id}: could not record failure {result_code} ({message}): {error:#}"
                );
            }
        }
    }
}

/// What a job needs to know about its project.
struct Context {
    job: Job,
    project: Project,
    repo: Repo,
    scheme: Scheme,
}

fn load(shared: &Shared, job_id: JobId) -> Step<Context> {
    let conn = shared.pool.get()?;
    let job = db::jobs::get(&conn, job_id)?.ok_or(Stop::Abandon)?;
    let project = db::projects::get_by_id(&conn, job.project_id)?.ok_or_else(|| {
        Stop::Fail(
            code::E_SERVER,
            format!("project {} is gone", job.project_id),
        )
    })?;
    let repo = db::repos::get_by_id(&conn, project.repo_id)?.ok_or_else(|| {
        Stop::Fail(
            code::E_SERVER,
            format!("repository {} is gone", project.repo_id),
        )
    })?;
    let scheme = db::schemes::get(&conn, project.scheme_id)?.ok_or_else(|| {
        Stop::Fail(
            code::E_SERVER,
            format!("scheme {} is gone", project.scheme_id),
        )
    })?;
    Ok(Context {
        job,
        project,
        repo,
        scheme,
    })
}

/// One task to run.
enum Planned {
    Codecount,
    /// The built-in checker (`codepup`, module `codelint`).
    Builtin,
    /// A linter codepup knows how to run and read (pylint, ruff, shellcheck).
    Linter(Linter),
    Command(Box<ToolDef>),
}

impl Planned {
    fn module_and_name(&self) -> (&str, &str) {
        match self {
            Planned::Codecount => ("codemetric", "codecount"),
            Planned::Builtin => (builtin::MODULE, builtin::TOOL),
            Planned::Linter(linter) => ("codelint", linter.name()),
            Planned::Command(tool) => (tool.module.as_str(), tool.name.as_str()),
        }
    }
}

/// One task per enabled tool, in a stable order: line counting first, then the scheme's tools.
fn plan(shared: &Shared, scheme: &Scheme, log: &mut File) -> Step<Vec<Planned>> {
    let mut tasks = Vec::new();
    if scheme.cloc_scan_enabled {
        tasks.push(Planned::Codecount);
    }
    for name in &scheme.tools {
        if name == "codecount" {
            if !scheme.cloc_scan_enabled {
                tasks.push(Planned::Codecount);
            }
            continue;
        }
        if name == builtin::TOOL {
            tasks.push(Planned::Builtin);
            continue;
        }
        if let Some(linter) = Linter::from_name(name) {
            tasks.push(Planned::Linter(linter));
            continue;
        }
        let tool = shared.catalog.get(name).ok_or_else(|| {
            Stop::Fail(
                code::E_NODE_TASK_CONFIG,
                format!("tool {name} is not defined in this server's tools.toml"),
            )
        })?;
        tasks.push(Planned::Command(Box::new(tool.clone())));
    }
    // The built-in checker looks at every text file, so it needs no languages.
    let only_builtin_lint = tasks.iter().any(|task| matches!(task, Planned::Builtin))
        && !tasks.iter().any(|task| {
            matches!(task, Planned::Linter(_))
                || matches!(task, Planned::Command(tool) if tool.module == "codelint")
        });
    if scheme.lint_enabled {
        if scheme.languages.is_empty() && !only_builtin_lint {
            return Err(Stop::Fail(
                code::E_USER_CONFIG_LANG_ERROR,
                "配置错误，请在项目配置中设置项目语言。 (the scheme enables lint but names no languages)".into(),
            ));
        }
        if !tasks
            .iter()
            .any(|task| task.module_and_name().0 == "codelint")
        {
            return Err(Stop::Fail(
                code::E_USER_CONFIG_CODELINT_PKG_ERROR,
                "未配置扫描规则，请在\"扫描方案-代码扫描\"中添加 (the scheme enables lint but lists no codelint tool)".into(),
            ));
        }
    }
    for (enabled, what) in [
        (scheme.cc_scan_enabled, "cc_scan_enabled (complexity)"),
        (scheme.dup_scan_enabled, "dup_scan_enabled (duplication)"),
    ] {
        if enabled {
            let _ = writeln!(
                log,
                "note: {what} is on, but this server has no such tool yet; skipped"
            );
        }
    }
    if tasks.is_empty() {
        return Err(Stop::Fail(
            code::E_USER_CONFIG_NO_LINT_OR_METRIC,
            "配置错误，请在设置中启用代码检查或代码度量功能 (the scheme runs no tool)".into(),
        ));
    }
    Ok(tasks)
}

fn open_log(path: &Path) -> Step<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| {
            Stop::Fail(
                code::E_SERVER,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            Stop::Fail(
                code::E_SERVER,
                format!("cannot open {}: {e}", path.display()),
            )
        })
}

fn git_stop(error: GitError) -> Stop {
    let result_code = match &error {
        GitError::Auth(_) => code::E_SERVER_SCM_AUTH_ERROR,
        GitError::NotFound(_) => code::E_SERVER_SCM_NOT_FOUND,
        GitError::Forbidden(_) => code::E_SERVER_SCM_FORBIDDEN_ACCESS,
        GitError::Timeout(_) | GitError::Other(_) => code::E_SERVER_SCM,
    };
    Stop::Fail(result_code, error.to_string())
}

/// Stops unless the job is still in `expected` and the server is not stopping.
pub(super) fn still(shared: &Shared, job_id: JobId, expected: JobState) -> Step<()> {
    if shared.is_stopping() {
        return Err(Stop::Abandon);
    }
    let conn = shared.pool.get()?;
    match db::jobs::state(&conn, job_id)? {
        Some(state) if state == expected => Ok(()),
        _ => Err(Stop::Abandon),
    }
}

fn advance(shared: &Shared, job_id: JobId, from: JobState, to: JobState) -> Step<()> {
    let conn = shared.pool.get()?;
    if db::jobs::transition(&conn, job_id, from, to)? {
        Ok(())
    } else {
        Err(Stop::Abandon)
    }
}

fn run_job(shared: &Shared, job_id: JobId) -> Step<()> {
    let started = Instant::now();
    let context = load(shared, job_id)?;
    let mut job_log = open_log(&shared.job_log_path(job_id))?;
    let _ = writeln!(
        job_log,
        "job {job_id}: {} branch {} scheme {}",
        context.repo.scm_url, context.project.branch, context.scheme.name
    );

    // Source: bring the cached clone up to date and resolve the branch head.
    let (cache, revision) = {
        let lock = shared.repo_lock(context.repo.id);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        // A local repository may have changed since it was registered: a `.git` file, or a
        // symlink, could now lead git out of the allowed roots.
        if let Some(path) = context.repo.local_path() {
            crate::git::check_local_repository(path, &shared.local_repo_roots).map_err(git_stop)?;
        }
        let cache = checkout::update_cache(
            &shared.git_cache_dir,
            context.repo.id.0,
            &context.repo.fetch_url,
            &mut job_log,
        )
        .map_err(git_stop)?;
        let revision = checkout::resolve_branch(&cache, &context.project.branch)
            .map_err(git_stop)?
            .ok_or_else(|| {
                Stop::Fail(
                    code::E_SERVER_SCM_NOT_FOUND,
                    format!(
                        "branch {} does not exist in {}",
                        context.project.branch, context.repo.scm_url
                    ),
                )
            })?;
        (cache, revision)
    };
    let _ = writeln!(
        job_log,
        "revision {revision} (source ready after {} ms)",
        started.elapsed().as_millis()
    );
    shared.metrics.phase("source", started.elapsed());
    still(shared, job_id, JobState::Initing)?;

    // The baseline of an incremental scan: the revision of the last job whose results were stored.
    let baseline = if context.job.incr_scan {
        let conn = shared.pool.get()?;
        match db::jobs::baseline(&conn, context.project.id, job_id)? {
            Some((base, base_job)) if checkout::has_commit(&cache, &base) => Some((base, base_job)),
            Some((base, _)) => {
                let _ = writeln!(
                    job_log,
                    "baseline {base} is no longer in the repository: full scan"
                );
                None
            }
            None => None,
        }
    } else {
        None
    };
    let tasks = plan(shared, &context.scheme, &mut job_log)?;
    {
        let conn = shared.pool.get()?;
        if let Some(scan_id) = context.job.scan_id {
            db::jobs::set_revisions(
                &conn,
                scan_id,
                &revision,
                baseline.as_ref().map(|(base, _)| base.as_str()),
            )?;
        }
    }

    // Same head as the baseline: nothing to scan (TCA's code 1). The counts still describe the tree.
    if let Some((base, base_job)) = &baseline {
        if *base == revision {
            let _ = writeln!(
                job_log,
                "head {revision} equals the baseline: nothing to scan"
            );
            let mut conn = shared.pool.get()?;
            db::jobs::copy_line_counts(&conn, *base_job, job_id)?;
            db::jobs::set_task_num(&conn, job_id, tasks.len() as i64)?;
            conn.execute(
                "UPDATE jobs SET task_done = task_num WHERE id = ?1",
                [job_id.0],
            )?;
            if !db::jobs::transition(&conn, job_id, JobState::Initing, JobState::Running)? {
                return Err(Stop::Abandon);
            }
            lifecycle::revoke(
                shared,
                &mut conn,
                job_id,
                code::INCR_IGNORE,
                INCR_IGNORE_MSG,
            )?;
            return Ok(());
        }
    }

    // Tasks, then INITED.
    let task_ids = {
        let mut conn = shared.pool.get()?;
        let tx = db::begin(&mut conn)?;
        let mut ids = Vec::with_capacity(tasks.len());
        for task in &tasks {
            let (module, name) = task.module_and_name();
            ids.push(db::tasks::insert(&tx, job_id, module, name)?);
        }
        db::jobs::set_task_num(&tx, job_id, tasks.len() as i64)?;
        tx.commit()?;
        ids
    };
    advance(shared, job_id, JobState::Initing, JobState::Inited)?;

    // The files the tools should look at: the changed ones against a baseline, else all of them.
    let scan_path = context.project.scan_path.as_str();
    // The revision's files below the scan path, listed once for the file list, codecount and
    // the built-in checker.
    let prefix = scan_path.trim_start_matches('/');
    let dir = format!("{prefix}/");
    let tree: Vec<checkout::TreeEntry> = checkout::tree_entries(&cache, &revision)
        .map_err(git_stop)?
        .into_iter()
        .filter(|entry| prefix.is_empty() || entry.path.starts_with(&dir))
        .collect();
    let (mut files, changed) = match &baseline {
        Some((base, _)) => {
            let changed = checkout::changed_files(&cache, base, &revision).map_err(git_stop)?;
            let changed = checkout::within_scan_path(changed, scan_path);
            // Tools get regular files only, as in a full scan: a symlink may point anywhere.
            let (regular, left_out) = checkout::regular_files(changed.clone(), &tree);
            let _ = writeln!(
                job_log,
                "incremental scan against {base}: {} changed files",
                regular.len()
            );
            if !left_out.is_empty() {
                let _ = writeln!(
                    job_log,
                    "left out {} changed symlinks or submodules: {}",
                    left_out.len(),
                    some_of(&left_out)
                );
            }
            (regular, Some(changed))
        }
        None => {
            let all: Vec<String> = tree.iter().map(|entry| entry.path.clone()).collect();
            let _ = writeln!(job_log, "full scan: {} files", all.len());
            (all, None)
        }
    };
    // Only command tools need files on disk (codecount reads blobs from git), and a job whose
    // tools all read just the changed files gets just those.
    let needs_tree = tasks
        .iter()
        .any(|task| matches!(task, Planned::Command(_) | Planned::Linter(_)));
    // Files the scan covered, for deciding which open findings it fixed: every file, or the
    // changed (a file that became a symlink too) and deleted ones of an incremental scan.
    let covered: Option<HashSet<String>> = match (&baseline, changed) {
        (Some((base, _)), Some(changed)) => {
            let deleted = checkout::deleted_files(&cache, base, &revision).map_err(git_stop)?;
            Some(changed.into_iter().chain(deleted).collect())
        }
        _ => None,
    };
    let only_changed = baseline.is_some()
        && tasks.iter().all(|task| match task {
            Planned::Codecount | Planned::Builtin => true,
            Planned::Linter(linter) => linter.changed_files_only(),
            Planned::Command(tool) => tool.changed_files_only,
        });
    let workspace = Workspace::new(&shared.workspace_dir, job_id.0);
    let scan_root = workspace.dir.join(scan_path.trim_start_matches('/'));
    // Tools run in the scan path: it must be a real directory of the scanned tree, never a
    // symlink (to `/etc`, say) that a later commit put in its place.
    let not_a_directory = || {
        Stop::Fail(
            code::E_CLIENT,
            format!(
                "scan_path {scan_path} is not a directory at revision {revision} (missing, or a file, symlink or submodule)"
            ),
        )
    };
    if !checkout::is_directory(&cache, &revision, prefix).map_err(git_stop)? {
        return Err(not_a_directory());
    }
    if baseline.is_none() && scan_path != "/" && files.is_empty() {
        return Err(Stop::Fail(
            code::E_CLIENT,
            format!("scan_path {scan_path} holds no files at revision {revision}"),
        ));
    }
    if needs_tree {
        let only = only_changed.then_some(files.as_slice());
        checkout::checkout(&cache, &revision, &workspace.dir, &workspace.index, only)
            .map_err(git_stop)?;
        fs::create_dir_all(&scan_root).map_err(|e| {
            Stop::Fail(
                code::E_SERVER,
                format!("cannot create the scan directory: {e}"),
            )
        })?;
        if !checkout::is_real_directory(&workspace.dir, Path::new(prefix)) {
            return Err(not_a_directory());
        }
        // Nothing handed to a tool may lead out of the checkout, whatever git wrote.
        let (confined, left_out) = checkout::confined_files(&workspace.dir, files);
        if !left_out.is_empty() {
            let _ = writeln!(
                job_log,
                "left out {} paths that are not regular files inside the checkout: {}",
                left_out.len(),
                some_of(&left_out)
            );
        }
        files = confined;
        let what = if only_changed {
            "the changed files"
        } else {
            "the whole tree"
        };
        let _ = writeln!(
            job_log,
            "checked out {what} after {} ms",
            started.elapsed().as_millis()
        );
    } else {
        fs::create_dir_all(&shared.workspace_dir)
            .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot create the workspace: {e}")))?;
        let _ = writeln!(job_log, "no tool needs a checkout");
    }
    let mut list = String::with_capacity(files.len() * 32);
    for file in &files {
        list.push_str(file);
        list.push('\n');
    }
    fs::write(&workspace.file_list, list)
        .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot write the file list: {e}")))?;

    advance(shared, job_id, JobState::Inited, JobState::Running)?;
    let header = format!(
        "job {job_id} revision {revision}{}\n{} files to scan\n",
        baseline
            .as_ref()
            .map_or(String::new(), |(base, _)| format!(" baseline {base}")),
        files.len()
    );

    let mut counted = None;
    let mut findings: Vec<(Finding, String, Option<String>)> = Vec::new();
    let mut checked: Option<CheckedUpdate> = None;
    let mut lint_tools: Vec<String> = Vec::new();
    for (task, task_id) in tasks.iter().zip(task_ids) {
        still(shared, job_id, JobState::Running)?;
        let task_started = Instant::now();
        let mut task_log = open_log(&shared.task_log_path(job_id, task_id))?;
        let _ = task_log.write_all(header.as_bytes());
        {
            let conn = shared.pool.get()?;
            db::tasks::start(&conn, task_id)?;
        }
        let result = match task {
            Planned::Codecount => {
                set_progress(shared, task_id, 10)?;
                let (count, update) = count_lines(shared, &context, &cache, &tree)?;
                let _ = writeln!(
                    task_log,
                    "{}; {} languages: code {} comment {} blank {} total {}",
                    update.describe(),
                    count.languages.len(),
                    count.lines.code.unwrap_or(0),
                    count.lines.comment.unwrap_or(0),
                    count.lines.blank.unwrap_or(0),
                    count.lines.total.unwrap_or(0)
                );
                counted = Some((count, update));
                Ok(None)
            }
            // A failing tool must not leave the loop with `?`: the match below closes its task
            // with its code first.
            Planned::Builtin => {
                let only = baseline.as_ref().map(|_| files.as_slice());
                set_progress(shared, task_id, 10)
                    .and_then(|()| run_builtin(shared, context.project.id, &cache, &tree, only))
                    .map(|(found, update)| {
                        checked = Some(update);
                        Some((builtin::TOOL.to_string(), found))
                    })
            }
            Planned::Linter(linter) => {
                let scope = TaskScope::new(shared, job_id, task_id, &workspace, &task_log);
                tools::run_linter(&scope, *linter, &files)
                    .map(|found| Some((linter.name().to_string(), found)))
            }
            Planned::Command(tool) => {
                let scope = TaskScope::new(shared, job_id, task_id, &workspace, &task_log);
                tools::run_command(&scope, tool, &scan_root)
                    .map(|found| found.map(|found| (tool.name.clone(), found)))
            }
        };
        let (_, name) = task.module_and_name();
        let _ = writeln!(
            job_log,
            "task {name} took {} ms",
            task_started.elapsed().as_millis()
        );
        shared.metrics.task(name, task_started.elapsed());
        match result {
            Ok(lint) => {
                if let Some((tool, found)) = lint {
                    let _ = writeln!(task_log, "{}", describe_findings(&found));
                    lint_tools.push(tool);
                    findings.extend(
                        found
                            .into_iter()
                            .map(|(finding, fingerprint)| (finding, fingerprint, None)),
                    );
                }
                let conn = shared.pool.get()?;
                db::tasks::close(&conn, task_id, code::OK, "success", 100)?;
                db::jobs::increment_task_done(&conn, job_id)?;
            }
            Err(Stop::Fail(result_code, message)) => {
                let _ = writeln!(task_log, "failed ({result_code}): {message}");
                let conn = shared.pool.get()?;
                db::tasks::close(&conn, task_id, result_code, &message, 100)?;
                db::jobs::increment_task_done(&conn, job_id)?;
                return Err(Stop::Fail(result_code, format!("{name}: {message}")));
            }
            Err(Stop::Abandon) => return Err(Stop::Abandon),
        }
    }

    let mut conn = shared.pool.get()?;
    let project_id = context.project.id;
    if context.scheme.blame_enabled && !findings.is_empty() {
        blame_findings(&cache, &revision, &mut findings, &mut job_log);
    }
    let scan_findings = db::findings::ScanFindings {
        project_id,
        job_id,
        scan_id: context.job.scan_id,
        revision: &revision,
        tools: &lint_tools,
        coverage: covered
            .as_ref()
            .map_or(db::findings::Coverage::Full, db::findings::Coverage::Files),
        findings: &findings,
    };
    let mut recorded = None;
    let store_started = Instant::now();
    let closed = lifecycle::close_ok(shared, &mut conn, job_id, |tx| {
        if let Some((count, update)) = &counted {
            db::jobs::set_line_counts(tx, job_id, &count.lines, &count.languages)?;
            update.store(tx, project_id)?;
        }
        if !lint_tools.is_empty() {
            recorded = Some(db::findings::record(tx, &scan_findings)?);
        }
        if let Some(update) = &checked {
            db::findings::apply_checked(tx, project_id, &update.removed, &update.added)?;
        }
        Ok(())
    })?;
    shared.metrics.phase("store", store_started.elapsed());
    if let Some(recorded) = recorded {
        let _ = writeln!(
            job_log,
            "findings: {} seen, {} new, {} reopened, {} fixed",
            recorded.seen, recorded.opened, recorded.reopened, recorded.fixed
        );
    }
    if !closed {
        return Err(Stop::Abandon);
    }
    let _ = writeln!(
        job_log,
        "closed with 0 after {} ms",
        started.elapsed().as_millis()
    );
    log::info!("job {job_id}: closed with 0");
    drop(workspace);
    Ok(())
}

/// The first few of `paths`, for a log line.
fn some_of(paths: &[String]) -> String {
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

/// How a job's line count changes the project's per-file snapshot when its results are stored.
struct SnapshotUpdate {
    /// Paths whose rows go: gone from the tree, or changed.
    removed: Vec<String>,
    /// Files counted anew, with their blob ids.
    added: Vec<(String, FileCount)>,
    reused: usize,
}

impl SnapshotUpdate {
    fn describe(&self) -> String {
        format!(
            "counted {} files, reused the counts of {} unchanged ones",
            self.added.len(),
            self.reused
        )
    }

    fn store(&self, tx: &rusqlite::Transaction<'_>, project_id: ProjectId) -> rusqlite::Result<()> {
        db::counts::apply(tx, project_id, &self.removed, &self.added)
    }
}

/// Line counts of the whole tree below the project's `scan_path` at `revision`, read from git's
/// objects, not from a checkout. A file whose blob id matches the project's snapshot (the last
/// stored count) keeps its counts, since the same id means the same bytes; every other file is
/// read and counted. A full scan and an incremental one give the same totals.
fn count_lines(
    shared: &Shared,
    context: &Context,
    cache: &Path,
    tree: &[checkout::TreeEntry],
) -> Step<(codecount::Count, SnapshotUpdate)> {
    let entries = tree
        .iter()
        .filter(|entry| codecount::may_count(&entry.path))
        .cloned();
    let mut snapshot: HashMap<String, (String, FileCount)> = {
        let conn = shared.pool.get()?;
        db::counts::load(&conn, context.project.id)?
            .into_iter()
            .map(|(blob, file)| (file.path.clone(), (blob, file)))
            .collect()
    };
    let mut files = Vec::with_capacity(tree.len());
    let mut to_read = Vec::new();
    for entry in entries {
        match snapshot.remove(&entry.path) {
            Some((blob, file)) if blob == entry.blob => files.push(file),
            _ => to_read.push(entry),
        }
    }
    let reused = files.len();
    let mut added = Vec::with_capacity(to_read.len());
    checkout::read_blobs(cache, &to_read, |entry, bytes| {
        if let Some(file) = codecount::count_blob(&entry.path, bytes) {
            added.push((entry.blob.clone(), file));
        }
    })
    .map_err(git_stop)?;
    files.extend(added.iter().map(|(_, file)| file.clone()));
    // What is left of the snapshot is gone from the tree; changed paths are replaced.
    let removed = snapshot
        .into_keys()
        .chain(to_read.into_iter().map(|entry| entry.path))
        .collect();
    Ok((
        codecount::summarise(&files),
        SnapshotUpdate {
            removed,
            added,
            reused,
        },
    ))
}

/// Sets each finding's author from `git blame` of its line. A file git cannot blame (it is
/// gone, say) leaves its findings without one; the reason goes to the job log.
fn blame_findings(
    cache: &Path,
    revision: &str,
    findings: &mut [(Finding, String, Option<String>)],
    log: &mut File,
) {
    let paths: HashSet<String> = findings
        .iter()
        .filter(|(f, _, _)| f.line > 0)
        .map(|(f, _, _)| f.path.clone())
        .collect();
    let mut authors = HashMap::new();
    for path in paths {
        match checkout::blame(cache, revision, &path) {
            Ok(lines) => {
                authors.insert(path, lines);
            }
            Err(error) => {
                let _ = writeln!(log, "cannot blame {path}: {error}");
            }
        }
    }
    for (finding, _, author) in findings.iter_mut() {
        *author = authors
            .get(&finding.path)
            .and_then(|lines| lines.get(&finding.line))
            .map(|(name, _)| name.clone());
    }
}

/// Bumped whenever the built-in checker's rules or settings change, so cached results of an
/// older checker are never reused.
const CHECKER_VERSION: &str = "1";

/// What a run of the built-in checker changes in the project's per-file results.
#[derive(Default)]
struct CheckedUpdate {
    removed: Vec<String>,
    added: Vec<(String, String, String)>,
}

/// Runs the built-in checker over the revision's files below `scan_path` (or only `only`, the
/// changed files of an incremental scan), reading them from git. A file whose blob the project's
/// last check already saw keeps that result; only other files are read. Returns each finding
/// with its fingerprint, computed from the file's own lines.
fn run_builtin(
    shared: &Shared,
    project_id: ProjectId,
    cache: &Path,
    tree: &[checkout::TreeEntry],
    only: Option<&[String]>,
) -> Step<(Vec<(Finding, String)>, CheckedUpdate)> {
    let only: Option<HashSet<&str>> = only.map(|files| files.iter().map(String::as_str).collect());
    let entries = tree
        .iter()
        .filter(|entry| {
            only.as_ref()
                .is_none_or(|only| only.contains(entry.path.as_str()))
        })
        .cloned();
    let mut checked = {
        let conn = shared.pool.get()?;
        db::findings::load_checked(&conn, project_id)?
    };
    let key = |blob: &str| format!("{blob}@{CHECKER_VERSION}");
    let mut found: Vec<(Finding, String)> = Vec::new();
    let mut to_read = Vec::new();
    for entry in entries {
        match checked.remove(&entry.path) {
            Some((blob, json)) if blob == key(&entry.blob) => {
                found.extend(
                    serde_json::from_str::<Vec<(Finding, String)>>(&json).unwrap_or_default(),
                );
            }
            _ => to_read.push(entry),
        }
    }
    let config = builtin::Config::default();
    let mut update = CheckedUpdate::default();
    checkout::read_blobs(cache, &to_read, |entry, bytes| {
        let file_findings = builtin::check_file(&entry.path, bytes, &config);
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let fingerprints = finding::fingerprints(&file_findings, |_, line| {
            let index = usize::try_from(line).ok()?.checked_sub(1)?;
            lines
                .get(index)
                .map(|text| String::from_utf8_lossy(text).into_owned())
        });
        let file_found: Vec<(Finding, String)> =
            file_findings.into_iter().zip(fingerprints).collect();
        let json = serde_json::to_string(&file_found).unwrap_or_else(|_| "[]".to_string());
        update
            .added
            .push((entry.path.clone(), key(&entry.blob), json));
        found.extend(file_found);
    })
    .map_err(git_stop)?;
    // A full scan saw the whole tree: what is left of the old results is gone from it.
    if only.is_none() {
        update.removed.extend(checked.into_keys());
    }
    Ok((found, update))
}

fn describe_findings(found: &[(Finding, String)]) -> String {
    let mut by_severity = [0usize; 5];
    for (finding, _) in found {
        by_severity[finding.severity as usize] += 1;
    }
    format!(
        "{} findings: {} fatal, {} error, {} warning, {} info",
        found.len(),
        by_severity[1],
        by_severity[2],
        by_severity[3],
        by_severity[4]
    )
}

pub(super) fn set_progress(shared: &Shared, task_id: TaskId, progress_rate: i64) -> Step<()> {
    let conn = shared.pool.get()?;
    db::tasks::set_progress(&conn, task_id, progress_rate)?;
    Ok(())
}
