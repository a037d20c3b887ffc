//! The plan stage: the job with its project, repository and scheme, its log, and one task per
//! tool the scheme enables.

use std::time::Instant;

use crate::analyzers::{builtin, jscpd, lizard, Linter, ToolDef};
use crate::domain::ids::{JobId, TaskId};
use crate::domain::job::{code, JobState, ToolModule};
use crate::domain::rules::{PathFilter, SchemeRules};
use crate::domain::scheme::Scheme;
use crate::scan::run::{open_log, JobRun, Step, Stop};
use crate::scan::Shared;

/// One task to run.
pub enum Planned {
    Codecount,
    /// The built-in checker (`codepup`, module `codelint`).
    Builtin,
    /// A linter codepup knows how to run and read (pylint, ruff, shellcheck).
    Linter(Linter),
    Command(Box<ToolDef>),
    /// Cyclomatic complexity (`cc_scan_enabled`).
    Lizard,
    /// Duplicate code (`dup_scan_enabled`).
    Jscpd,
}

impl Planned {
    pub fn module_and_name(&self) -> (ToolModule, &str) {
        match self {
            Planned::Codecount => (ToolModule::Codemetric, "codecount"),
            Planned::Builtin => (ToolModule::Codelint, builtin::TOOL),
            Planned::Linter(linter) => (ToolModule::Codelint, linter.name()),
            Planned::Command(tool) => (tool.module, tool.name.as_str()),
            Planned::Lizard => (ToolModule::Codemetric, lizard::NAME),
            Planned::Jscpd => (ToolModule::Codemetric, jscpd::NAME),
        }
    }

    /// Whether the task runs as a process on files of a checkout.
    pub fn needs_checkout(&self) -> bool {
        !matches!(self, Planned::Codecount | Planned::Builtin)
    }

    /// Whether an incremental scan gives the task only the changed files.
    pub fn changed_files_only(&self) -> bool {
        match self {
            Planned::Codecount | Planned::Builtin => true,
            Planned::Linter(linter) => linter.changed_files_only(),
            Planned::Command(tool) => tool.changed_files_only,
            // A copy needs its original; lizard measures every file when the baseline's job
            // did not measure complexity.
            Planned::Lizard | Planned::Jscpd => false,
        }
    }

    fn is_lint(&self) -> bool {
        self.module_and_name().0 == ToolModule::Codelint
    }
}

/// The scheme's rule configuration and path filters, as this job applies them.
pub struct JobRules {
    pub scheme: SchemeRules,
    /// The built-in checker's rules that run.
    pub checker: builtin::RuleSet,
    /// Which files the scan takes.
    pub paths: PathFilter,
    /// The identity of all of it (`SchemeRules::identity`), stored with the job's results.
    pub identity: String,
}

impl JobRules {
    fn new(scheme: SchemeRules) -> Step<JobRules> {
        let checker = builtin::rule_set(&scheme.settings);
        let paths = PathFilter::new(&scheme.scandirs).map_err(|error| {
            Stop::Fail(
                code::E_NODE_TASK_CONFIG,
                format!("the scheme's path filters do not compile: {error}"),
            )
        })?;
        let identity = scheme.identity(&format!("{}+{:04x}", builtin::TOOL, checker.bits()));
        Ok(JobRules {
            scheme,
            checker,
            paths,
            identity,
        })
    }
}

/// Loads job `job_id` (claimed by this worker), opens its log, and plans its tasks.
pub fn plan(shared: &Shared, job_id: JobId) -> Step<(JobRun<'_>, Vec<Planned>)> {
    let started = Instant::now();
    let loaded = shared
        .store
        .load(job_id)
        .map_err(|error| Stop::Fail(code::E_SERVER, format!("{error:#}")))?
        .ok_or(Stop::Abandon)?;
    let log = open_log(&shared.job_log_path(job_id))?;
    let rules = JobRules::new(loaded.rules)?;
    let mut run = JobRun {
        shared,
        job: loaded.job,
        project: loaded.project,
        repo: loaded.repo,
        scheme: loaded.scheme,
        rules,
        log,
        started,
    };
    let line = format!(
        "job {job_id}: {} branch {} scheme {}",
        run.repo.scm_url, run.project.branch, run.scheme.name
    );
    run.note(line);
    let tasks = tasks(shared, &run.scheme)?;
    Ok((run, tasks))
}

/// One task per enabled tool, in a stable order: line counting first, then the scheme's tools.
fn tasks(shared: &Shared, scheme: &Scheme) -> Step<Vec<Planned>> {
    let mut tasks = Vec::new();
    if scheme.cloc_scan_enabled {
        tasks.push(Planned::Codecount);
    }
    for name in &scheme.tools {
        let task = match name.as_str() {
            "codecount" if scheme.cloc_scan_enabled => continue,
            "codecount" => Planned::Codecount,
            builtin::TOOL => Planned::Builtin,
            _ => match Linter::from_name(name) {
                Some(linter) => Planned::Linter(linter),
                None => Planned::Command(Box::new(shared.catalog.get(name).cloned().ok_or_else(
                    || {
                        Stop::Fail(
                            code::E_NODE_TASK_CONFIG,
                            format!("tool {name} is not defined in this server's tools.toml"),
                        )
                    },
                )?)),
            },
        };
        tasks.push(task);
    }
    if scheme.cc_scan_enabled {
        tasks.push(Planned::Lizard);
    }
    if scheme.dup_scan_enabled {
        tasks.push(Planned::Jscpd);
    }
    check_lint_config(scheme, &tasks)?;
    if tasks.is_empty() {
        return Err(Stop::Fail(
            code::E_USER_CONFIG_NO_LINT_OR_METRIC,
            "配置错误，请在设置中启用代码检查或代码度量功能 (the scheme runs no tool)".into(),
        ));
    }
    Ok(tasks)
}

/// A scheme that enables lint must name languages (unless the built-in checker, which looks at
/// every text file, is its only lint tool) and list a lint tool.
fn check_lint_config(scheme: &Scheme, tasks: &[Planned]) -> Step<()> {
    if !scheme.lint_enabled {
        return Ok(());
    }
    let only_builtin_lint = tasks.iter().any(|task| matches!(task, Planned::Builtin))
        && !tasks
            .iter()
            .any(|task| task.is_lint() && !matches!(task, Planned::Builtin));
    if scheme.languages.is_empty() && !only_builtin_lint {
        return Err(Stop::Fail(
            code::E_USER_CONFIG_LANG_ERROR,
            "配置错误，请在项目配置中设置项目语言。 (the scheme enables lint but names no languages)"
                .into(),
        ));
    }
    if !tasks.iter().any(Planned::is_lint) {
        return Err(Stop::Fail(
            code::E_USER_CONFIG_CODELINT_PKG_ERROR,
            "未配置扫描规则，请在\"扫描方案-代码扫描\"中添加 (the scheme enables lint but lists no codelint tool)".into(),
        ));
    }
    Ok(())
}

/// The job's task rows, then INITED.
pub fn create_tasks(run: &JobRun, tasks: &[Planned]) -> Step<Vec<TaskId>> {
    let names: Vec<(ToolModule, &str)> = tasks.iter().map(Planned::module_and_name).collect();
    let ids = run.store().create_tasks(run.id(), &names)?;
    run.advance(JobState::Initing, JobState::Inited)?;
    Ok(ids)
}
