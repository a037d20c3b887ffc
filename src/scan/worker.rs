//! The worker loop: take the oldest waiting job, fetch its source, plan one task per tool, check
//! out the revision, run the tasks in order, and close the job. Never holds a database connection
//! while git or a tool runs.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use crate::analyzers::codecount;
use crate::analyzers::{builtin, Linter, ToolDef};
use crate::config::format_size;
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

    // Source: the branch head, fetched into the repository's cache unless already there.
    let (cache, revision) = {
        let lock = shared.repo_lock(context.repo.id);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        // A local repository may have changed since it was registered: a `.git` file, or a
        // symlink, could now lead git out of the allowed roots.
        if let Some(path) = context.repo.local_path() {
            crate::git::check_local_repository(path, &shared.local_repo_roots).map_err(git_stop)?;
        }
        checkout::fetch_branch(
            &shared.git_cache_dir,
            context.repo.id.0,
            &context.repo.fetch_url,
            &context.project.branch,
            &mut job_log,
        )
        .map_err(git_stop)?
        .ok_or_else(|| {
            Stop::Fail(
                code::E_SERVER_SCM_NOT_FOUND,
                format!(
                    "branch {} does not exist in {}",
                    context.project.branch, context.repo.scm_url
                ),
            )
        })?
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
    let listed = list_tree(shared, &cache, &revision, scan_path, &mut job_log)?;
    let tree = listed.entries;
    // Files the scan left out (too large for its byte budget): neither scanned nor fixed.
    let mut left_out: HashSet<String> = listed
        .over_budget
        .into_iter()
        .map(|entry| entry.path.into())
        .collect();
    // Only command tools need files on disk (codecount reads blobs from git), and a job whose
    // tools all read just the changed files gets just those.
    let needs_tree = tasks
        .iter()
        .any(|task| matches!(task, Planned::Command(_) | Planned::Linter(_)));
    // The files the tools are given: the changed ones, or all of them. Only tools that run as
    // processes need the whole list; the in-process analyzers read the tree itself.
    let (mut files, file_count, changed) = match &baseline {
        Some((base, _)) => {
            let mut changed = checkout::changed_files(&cache, base, &revision).map_err(git_stop)?;
            changed.retain(|path| !left_out.contains(path));
            let changed = checkout::within_scan_path(changed, scan_path);
            // Tools get regular files only, as in a full scan: a symlink may point anywhere.
            let (regular, links) = checkout::regular_files(changed.clone(), &tree);
            let _ = writeln!(
                job_log,
                "incremental scan against {base}: {} changed files",
                regular.len()
            );
            if !links.is_empty() {
                let _ = writeln!(
                    job_log,
                    "left out {} changed symlinks or submodules: {}",
                    links.len(),
                    some_of(&links)
                );
            }
            let count = regular.len();
            (regular, count, Some(changed))
        }
        None => {
            let _ = writeln!(job_log, "full scan: {} files", tree.len());
            let all: Vec<String> = if needs_tree {
                tree.iter().map(|entry| entry.path.to_string()).collect()
            } else {
                Vec::new()
            };
            (all, tree.len(), None)
        }
    };
    // Files the scan covered, for deciding which open findings it fixed: every file, or the
    // changed (a file that became a symlink too) and deleted ones of an incremental scan.
    let mut covered: Option<HashSet<String>> = match (&baseline, changed) {
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
    let prefix = scan_path.trim_start_matches('/');
    let scan_root = workspace.dir.join(prefix);
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
    if baseline.is_none() && scan_path != "/" && tree.is_empty() {
        return Err(Stop::Fail(
            code::E_CLIENT,
            format!("scan_path {scan_path} holds no files at revision {revision}"),
        ));
    }
    if needs_tree {
        // A tree with files left out is checked out file by file, so they never reach the disk.
        let partial = listed.long_paths > 0 || !left_out.is_empty();
        let only = (only_changed || partial).then_some(files.as_slice());
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
        let (confined, outside) = checkout::confined_files(&workspace.dir, files);
        if !outside.is_empty() {
            let _ = writeln!(
                job_log,
                "left out {} paths that are not regular files inside the checkout: {}",
                outside.len(),
                some_of(&outside)
            );
        }
        files = confined;
        let what = if only_changed {
            "the changed files"
        } else if partial {
            "the files the scan takes"
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
    let with_newlines = write_file_lists(&workspace, &files)
        .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot write the file list: {e}")))?;
    if with_newlines > 0 {
        let _ = writeln!(
            job_log,
            "left {with_newlines} names with a newline out of {{files}} (one path a line); {{files0}} has them"
        );
    }

    advance(shared, job_id, JobState::Inited, JobState::Running)?;
    let header = format!(
        "job {job_id} revision {revision}{}\n{} files to scan\n",
        baseline
            .as_ref()
            .map_or(String::new(), |(base, _)| format!(" baseline {base}")),
        file_count
    );

    let mut counted = None;
    let mut findings: Vec<(Finding, String, Option<String>)> = Vec::new();
    let mut checked: Option<CheckedUpdate> = None;
    let mut lint_tools: Vec<String> = Vec::new();
    for (task, task_id) in tasks.iter().zip(task_ids) {
        still(shared, job_id, JobState::Running)?;
        let task_started = Instant::now();
        // What the task's message adds to "success" (files it skipped, say).
        let mut note: Option<String> = None;
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
                note = update
                    .left_out
                    .note(&mut task_log, &mut job_log, "codecount");
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
                        note = update
                            .left_out
                            .note(&mut task_log, &mut job_log, builtin::TOOL);
                        left_out.extend(update.unchecked.iter().cloned());
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
                let message =
                    note.map_or_else(|| "success".to_string(), |note| format!("success; {note}"));
                let conn = shared.pool.get()?;
                db::tasks::close(&conn, task_id, code::OK, &message, 100)?;
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

    // Blame runs git: no connection is held meanwhile.
    if context.scheme.blame_enabled && !findings.is_empty() {
        let max_size = shared.limits.max_check_file_size;
        blame_findings(
            &cache,
            &revision,
            &tree,
            max_size,
            &mut findings,
            &mut job_log,
        );
    }
    let mut conn = shared.pool.get()?;
    let project_id = context.project.id;
    // Files left out of a full scan, or given up on by the checker, keep their findings open.
    if !left_out.is_empty() {
        if let Some(covered) = covered.as_mut() {
            covered.retain(|path| !left_out.contains(path));
        }
    }
    let scan_findings = db::findings::ScanFindings {
        project_id,
        job_id,
        scan_id: context.job.scan_id,
        revision: &revision,
        tools: &lint_tools,
        coverage: match &covered {
            Some(files) => db::findings::Coverage::Files(files),
            None if left_out.is_empty() => db::findings::Coverage::Full,
            None => db::findings::Coverage::AllBut(&left_out),
        },
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
            update.store(tx, project_id)?;
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
/// It borrows the files it counted from the job's tree, so a large tree is never copied.
struct SnapshotUpdate<'t> {
    /// Paths whose rows go: gone from the tree, changed, or now too large to count.
    removed: Vec<String>,
    /// Files counted anew.
    added: Vec<(&'t checkout::TreeEntry, codecount::Lines)>,
    reused: usize,
    /// Files counted line by line, or not counted, for their size.
    left_out: LeftOut,
}

impl SnapshotUpdate<'_> {
    fn describe(&self) -> String {
        format!(
            "counted {} files, reused the counts of {} unchanged ones",
            self.added.len(),
            self.reused
        )
    }

    fn store(&self, tx: &rusqlite::Transaction<'_>, project_id: ProjectId) -> rusqlite::Result<()> {
        let added = self
            .added
            .iter()
            .map(|(entry, lines)| (&*entry.path, entry.blob.to_string(), *lines));
        db::counts::apply(tx, project_id, &self.removed, added)
    }
}

/// Files an in-process analyzer did not read whole, or at all, and why: for the task log, the
/// job log and the task's message.
#[derive(Default)]
struct LeftOut {
    /// `(what happened to them, paths)`, e.g. `("skipped 1 file over 64 MiB", ["big.txt"])`.
    groups: Vec<(String, Vec<String>)>,
}

impl LeftOut {
    /// Adds a group, `what` being a verb phrase around the count: `skipped {} over 64 MiB`.
    fn add(&mut self, what: &str, paths: Vec<String>) {
        if !paths.is_empty() {
            let what = what.replace("{}", &files_count(paths.len()));
            self.groups.push((what, paths));
        }
    }

    /// Writes every group to the task log (up to 100 paths each) and the job log (up to 5),
    /// prefixed with `tool` there; returns the note for the task's message.
    fn note(&self, task_log: &mut File, job_log: &mut File, tool: &str) -> Option<String> {
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
fn files_count(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

/// The first `most` of `paths` (shortened when very long), then how many more there are.
fn name_some(paths: &[String], most: usize) -> String {
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

/// The revision's files below the scan path that the scan takes, within the server's limits
/// (`checkout::scan_tree`). What it leaves out goes to the job log; a revision with more files
/// than a scan takes fails the job.
fn list_tree(
    shared: &Shared,
    cache: &Path,
    revision: &str,
    scan_path: &str,
    log: &mut File,
) -> Step<checkout::Tree> {
    let limits = shared.limits;
    let prefix = scan_path.trim_start_matches('/');
    let tree = checkout::scan_tree(
        cache,
        revision,
        prefix,
        limits.max_scan_files,
        limits.max_scan_bytes,
    )
    .map_err(|error| match error {
        checkout::TreeError::Git(error) => git_stop(error),
        checkout::TreeError::TooManyFiles { limit } => Stop::Fail(
            code::E_CLIENT,
            format!(
                "the revision holds more than {limit} files below {scan_path}, more than one \
                 scan takes on this server (--max-scan-files): scan a directory of it \
                 (scan_path), or ask the admin to raise the limit"
            ),
        ),
        checkout::TreeError::PathsTooLong => Stop::Fail(
            code::E_CLIENT,
            format!(
                "the paths of the revision's files below {scan_path} add up to more than {}, \
                 more than one scan takes: scan a directory of it (scan_path)",
                format_size(checkout::MAX_PATH_LIST_BYTES)
            ),
        ),
    })?;
    if tree.long_paths > 0 {
        let mut named = tree.long_path_examples.join(", ");
        if tree.long_paths > tree.long_path_examples.len() {
            named.push_str(&format!(
                " and {} more",
                tree.long_paths - tree.long_path_examples.len()
            ));
        }
        let _ = writeln!(
            log,
            "left out {} whose path is {} bytes or longer: {named}",
            files_count(tree.long_paths),
            checkout::MAX_PATH_BYTES
        );
    }
    if tree.escaped_names > 0 {
        let _ = writeln!(
            log,
            "{} with a name that is not UTF-8: counted and checked under the escaped name (U+FFFD and the byte in hex); tools get the name as it is",
            files_count(tree.escaped_names)
        );
    }
    if !tree.over_budget.is_empty() {
        let named: Vec<String> = tree
            .over_budget
            .iter()
            .map(|entry| format!("{} ({})", entry.path, format_size(entry.size)))
            .collect();
        let _ = writeln!(
            log,
            "left out {} to keep the scan within {} of files (--max-scan-bytes), largest \
             first: {}",
            files_count(named.len()),
            format_size(limits.max_scan_bytes),
            name_some(&named, 5)
        );
    }
    Ok(tree)
}

/// Writes the file list command tools read (`{files}`), a line per path.
/// Writes the tools' file lists: `{files}`, one path a line, without the names that hold a
/// newline (they would read as two paths), and `{files0}`, NUL-separated, with every name.
/// Returns how many names the first list left out.
fn write_file_lists(workspace: &Workspace, files: &[String]) -> std::io::Result<usize> {
    let mut lines = std::io::BufWriter::new(File::create(&workspace.file_list)?);
    let mut nul = std::io::BufWriter::new(File::create(&workspace.file_list0)?);
    let mut left_out = 0;
    for file in files {
        // The names as they are on disk (a name that is not UTF-8 is escaped in the scan).
        let name = checkout::raw_name(file);
        nul.write_all(&name)?;
        nul.write_all(b"\0")?;
        if name.contains(&b'\n') {
            left_out += 1;
            continue;
        }
        lines.write_all(&name)?;
        lines.write_all(b"\n")?;
    }
    lines.flush()?;
    nul.flush()?;
    Ok(left_out)
}

/// Line counts of the whole tree below the project's `scan_path` at `revision`, read from git's
/// objects, not from a checkout. A file whose blob id matches the project's snapshot (the last
/// stored count) keeps its counts, since the same id means the same bytes; every other file is
/// read and counted: with tokei when it is at most `max_check_file_size`, line by line as a
/// stream when it is larger, and not at all beyond `max_count_file_size`. A full scan and an
/// incremental one give the same totals.
fn count_lines<'t>(
    shared: &Shared,
    context: &Context,
    cache: &Path,
    tree: &'t [checkout::TreeEntry],
) -> Step<(codecount::Count, SnapshotUpdate<'t>)> {
    let limits = shared.limits;
    // The snapshot, read a row at a time against the tree (sorted by path, as git lists it):
    // only the counts of unchanged files are kept, by their place in the tree. A language name
    // tokei no longer knows is counted again.
    let mut reuse: Vec<Option<codecount::Lines>> = Vec::new();
    let mut removed = Vec::new();
    {
        let conn = shared.pool.get()?;
        db::counts::for_each(&conn, context.project.id, |path, blob, language, counts| {
            let narrow = |n: i64| u32::try_from(n).ok();
            let unchanged = tree_position(tree, &path)
                .filter(|&at| tree[at].blob.is(blob))
                .zip(codecount::language_named(language))
                .zip(
                    narrow(counts[0])
                        .zip(narrow(counts[1]))
                        .zip(narrow(counts[2])),
                );
            match unchanged {
                Some(((at, language), ((code, comment), blank))) => {
                    if reuse.is_empty() {
                        reuse.resize(tree.len(), None);
                    }
                    reuse[at] = Some(codecount::Lines {
                        language,
                        code,
                        comment,
                        blank,
                    });
                }
                // Gone from the tree, changed, or of a language no longer known.
                None => removed.push(path),
            }
        })?;
    }
    let mut to_read = Vec::new();
    let mut too_large = Vec::new();
    let mut reused = 0;
    for (at, entry) in tree.iter().enumerate() {
        if reuse.get(at).is_some_and(Option::is_some) {
            reused += 1;
        } else if !codecount::may_count(&entry.path) {
            continue;
        } else if entry.size > limits.max_count_file_size {
            too_large.push(entry.path.to_string());
        } else {
            to_read.push(entry);
        }
    }
    let mut added = Vec::with_capacity(to_read.len());
    let mut streamed = Vec::new();
    checkout::read_blobs(cache, &to_read, |entry, blob| {
        let counted = if blob.size() <= limits.max_check_file_size {
            blob.read_all()
                .map(|bytes| codecount::count_blob(&entry.path, &bytes))
        } else {
            codecount::count_stream(&entry.path, blob)
        };
        // A read that failed is git's failure: `read_blobs` returns it.
        if let Ok(Some(lines)) = counted {
            if blob.size() > limits.max_check_file_size {
                streamed.push(entry.path.to_string());
            }
            added.push((entry, lines));
        }
    })
    .map_err(git_stop)?;
    let count = codecount::summarise(
        reuse
            .iter()
            .flatten()
            .chain(added.iter().map(|(_, lines)| lines))
            .copied(),
    );
    let mut left_out = LeftOut::default();
    left_out.add(
        &format!(
            "counted {{}} over {} line by line (blank, line comments, code)",
            format_size(limits.max_check_file_size)
        ),
        streamed,
    );
    left_out.add(
        &format!(
            "skipped {{}} over {} (not read, not counted)",
            format_size(limits.max_count_file_size)
        ),
        too_large,
    );
    Ok((
        count,
        SnapshotUpdate {
            removed,
            added,
            reused,
            left_out,
        },
    ))
}

/// Where `path` is in `tree`, which is sorted by path bytes (git lists a tree in that order).
fn tree_position(tree: &[checkout::TreeEntry], path: &str) -> Option<usize> {
    tree.binary_search_by(|entry| (*entry.path).cmp(path)).ok()
}

/// Sets each finding's author from `git blame` of its line. Files over `max_size` bytes are not
/// blamed (nor files the tree does not hold); neither is a file git cannot blame. Each reason
/// goes to the job log.
fn blame_findings(
    cache: &Path,
    revision: &str,
    tree: &[checkout::TreeEntry],
    max_size: u64,
    findings: &mut [(Finding, String, Option<String>)],
    log: &mut File,
) {
    let mut lines: HashMap<&str, Vec<u32>> = HashMap::new();
    for (finding, _, _) in findings.iter() {
        if finding.line > 0 {
            lines.entry(&finding.path).or_default().push(finding.line);
        }
    }
    let mut too_large = Vec::new();
    let mut authors = HashMap::new();
    for entry in tree {
        let Some(wanted) = lines.get(&*entry.path) else {
            continue;
        };
        if entry.size > max_size {
            too_large.push(entry.path.to_string());
            continue;
        }
        match checkout::blame(cache, revision, &entry.path, wanted) {
            Ok(found) => {
                authors.insert(entry.path.to_string(), found);
            }
            Err(error) => {
                let _ = writeln!(
                    log,
                    "cannot blame {}: {error}",
                    checkout::shorten(&entry.path)
                );
            }
        }
    }
    if !too_large.is_empty() {
        let _ = writeln!(
            log,
            "blame: skipped {} over {}: {}",
            files_count(too_large.len()),
            format_size(max_size),
            name_some(&too_large, 5)
        );
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

/// The most findings the built-in checker keeps in one scan. Past it, the findings of further
/// files are dropped and those files are left out of the scan's coverage (their open findings
/// stay open), so a repository made to hold millions of flaws costs a bounded amount of memory.
const MAX_CHECKER_FINDINGS: usize = 50_000;

/// What a run of the built-in checker changes in the project's per-file results. It borrows
/// the files it read from the job's tree.
#[derive(Default)]
struct CheckedUpdate<'t> {
    removed: Vec<String>,
    /// Files read anew that had no findings.
    clean: Vec<&'t checkout::TreeEntry>,
    /// Files read anew, with their findings as JSON.
    added: Vec<(&'t checkout::TreeEntry, String)>,
    /// Files whose findings the checker did not all report (skipped, or past a findings
    /// limit): the scan does not count as having looked at them.
    unchecked: Vec<String>,
    left_out: LeftOut,
}

impl CheckedUpdate<'_> {
    fn store(&self, tx: &rusqlite::Transaction<'_>, project_id: ProjectId) -> rusqlite::Result<()> {
        let clean = self.clean.iter().map(|entry| (*entry, "[]"));
        let added = self
            .added
            .iter()
            .map(|(entry, json)| (*entry, json.as_str()))
            .chain(clean)
            .map(|(entry, json)| (&*entry.path, checker_key(&entry.blob), json));
        db::findings::apply_checked(tx, project_id, &self.removed, added)
    }
}

/// What the project's last check says of one file of the tree, in one byte (a scan may hold one
/// per file of a large tree); the findings themselves are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cached {
    /// Nothing.
    None,
    /// Results of another blob or checker version.
    Stale,
    /// Results of this blob: no findings.
    Clean,
    /// Results of this blob, with findings.
    Found,
}

/// The key the checker's cached results of a blob are stored under: the blob and the checker's
/// version.
fn checker_key(blob: &checkout::Oid) -> String {
    format!("{blob}@{CHECKER_VERSION}")
}

/// Runs the built-in checker over the revision's files below `scan_path` (or only `only`, the
/// changed files of an incremental scan), reading them from git. A file whose blob the project's
/// last check already saw keeps that result; only other files are read: whole up to the
/// checker's own `file-too-large` limit, only their first bytes (to tell binary from text) up
/// to `max_check_file_size`, and not at all beyond, where the size alone makes the
/// `file-too-large` finding. Returns each finding with its fingerprint, computed from the
/// file's own lines.
fn run_builtin<'t>(
    shared: &Shared,
    project_id: ProjectId,
    cache: &Path,
    tree: &'t [checkout::TreeEntry],
    only: Option<&[String]>,
) -> Step<(Vec<(Finding, String)>, CheckedUpdate<'t>)> {
    use std::io::Read;
    let max_read = shared.limits.max_check_file_size;
    let only: Option<HashSet<&str>> = only.map(|files| files.iter().map(String::as_str).collect());
    let entries = tree
        .iter()
        .enumerate()
        .filter(|(_, entry)| only.as_ref().is_none_or(|only| only.contains(&*entry.path)));
    let mut update = CheckedUpdate::default();
    // The last results, read a row at a time against the tree (sorted by path, as git lists
    // it) and kept by place in the tree; results of another blob or checker version are stale.
    let mut cached: Vec<Cached> = Vec::new();
    let mut gone = Vec::new();
    // Held while the earlier results are read, and let go before git runs.
    let conn = shared.pool.get()?;
    {
        db::findings::for_each_checked(&conn, project_id, |path, key, json| {
            let Some(at) = tree_position(tree, &path) else {
                gone.push(path);
                return;
            };
            if cached.is_empty() {
                cached.resize(tree.len(), Cached::None);
            }
            cached[at] = if key != checker_key(&tree[at].blob) {
                Cached::Stale
            } else if json == "[]" {
                Cached::Clean
            } else {
                Cached::Found
            };
        })?;
    }
    let config = builtin::Config::default();
    let mut found: Vec<(Finding, String)> = Vec::new();
    let mut to_read = Vec::new();
    let (mut unread, mut skipped, mut capped, mut unreported) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (at, entry) in entries {
        let last = cached.get(at).copied().unwrap_or(Cached::None);
        match last {
            Cached::Clean | Cached::Found => {
                // Findings are read back one file at a time, and only while there is room.
                let json = if last == Cached::Found && found.len() < MAX_CHECKER_FINDINGS {
                    db::findings::checked_findings(&conn, project_id, &entry.path)?
                } else {
                    None
                };
                let file_found = json
                    .map(|json| {
                        serde_json::from_str::<Vec<(Finding, String)>>(&json).unwrap_or_default()
                    })
                    .unwrap_or_default();
                // No room for its findings (or they would not read back): not reported.
                let no_room = last == Cached::Found && file_found.is_empty();
                if no_room || found.len() + file_found.len() > MAX_CHECKER_FINDINGS {
                    unreported.push(entry.path.to_string());
                } else {
                    if file_found.len() >= config.max_findings_per_file {
                        capped.push(entry.path.to_string());
                    }
                    found.extend(file_found);
                }
            }
            // Too large to read: its size alone decides, and nothing is cached.
            _ if entry.size > max_read => {
                if last == Cached::Stale {
                    update.removed.push(entry.path.to_string());
                }
                if entry.size <= config.max_file_bytes {
                    skipped.push(entry.path.to_string());
                } else if found.len() >= MAX_CHECKER_FINDINGS {
                    unreported.push(entry.path.to_string());
                } else {
                    let finding = builtin::too_large(&entry.path, entry.size, &config);
                    let fingerprint =
                        finding::fingerprints(std::slice::from_ref(&finding), |_, _| None);
                    found.extend(std::iter::once(finding).zip(fingerprint));
                    unread.push(entry.path.to_string());
                }
            }
            _ => to_read.push(entry),
        }
    }
    drop(cached);
    drop(conn);
    checkout::read_blobs(cache, &to_read, |entry, blob| {
        let size = blob.size();
        let file = if size <= config.max_file_bytes {
            let Ok(bytes) = blob.read_all() else {
                return;
            };
            let file = builtin::check_bounded(&entry.path, &bytes, &config);
            let fingerprints = fingerprints_from(&file.findings, &bytes);
            (
                file.findings.into_iter().zip(fingerprints).collect(),
                file.dropped,
            )
        } else {
            // Only `file-too-large` or nothing: the first bytes tell which.
            let mut head = Vec::with_capacity(builtin::SNIFF_BYTES);
            if (&mut *blob)
                .take(builtin::SNIFF_BYTES as u64)
                .read_to_end(&mut head)
                .is_err()
            {
                return;
            }
            let findings: Vec<Finding> = if builtin::is_binary(&head) {
                Vec::new()
            } else {
                vec![builtin::too_large(&entry.path, size, &config)]
            };
            let fingerprints = finding::fingerprints(&findings, |_, _| None);
            (findings.into_iter().zip(fingerprints).collect(), 0)
        };
        let (file_found, dropped): (Vec<(Finding, String)>, usize) = file;
        if found.len() + file_found.len() > MAX_CHECKER_FINDINGS {
            // Not cached either: a later scan with room for them reads the file again.
            unreported.push(entry.path.to_string());
            return;
        }
        if dropped > 0 {
            capped.push(entry.path.to_string());
        }
        if file_found.is_empty() {
            update.clean.push(entry);
        } else {
            let json = serde_json::to_string(&file_found).unwrap_or_else(|_| "[]".to_string());
            update.added.push((entry, json));
        }
        found.extend(file_found);
    })
    .map_err(git_stop)?;
    // A full scan saw the whole tree: old results of paths not in it go.
    if only.is_none() {
        update.removed.extend(gone);
    }
    let read_limit = format_size(max_read);
    update.left_out.add(
        &format!("did not read {{}} over {read_limit} (file-too-large from the size alone)"),
        unread,
    );
    update.left_out.add(
        &format!("skipped {{}} over {read_limit} (not checked)"),
        skipped.clone(),
    );
    update.left_out.add(
        &format!(
            "kept the first {} findings of {{}} with more",
            config.max_findings_per_file
        ),
        capped.clone(),
    );
    update.left_out.add(
        &format!("reported nothing for {{}} past the scan's {MAX_CHECKER_FINDINGS} findings"),
        unreported.clone(),
    );
    update.unchecked = skipped
        .into_iter()
        .chain(capped)
        .chain(unreported)
        .collect();
    Ok((found, update))
}

/// The fingerprints of one file's findings, from the file's bytes. Only the flagged lines are
/// turned into text.
fn fingerprints_from(findings: &[Finding], bytes: &[u8]) -> Vec<String> {
    let wanted: HashSet<u32> = findings.iter().map(|finding| finding.line).collect();
    let mut lines: HashMap<u32, String> = HashMap::new();
    if wanted.iter().any(|line| *line > 0) {
        for (index, text) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            if wanted.contains(&line) {
                lines.insert(line, String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    finding::fingerprints(findings, |_, line| lines.get(&line).cloned())
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
