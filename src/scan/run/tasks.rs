//! The tasks stage: each planned task in order, line counting and the built-in checker in
//! process, linters and `tools.toml` commands as confined processes (`scan::tools`). A task's
//! failure closes it with its code and fails the job.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::time::Instant;

use crate::analyzers::builtin;
use crate::config::format_size;
use crate::domain::finding::{Author, Finding};
use crate::domain::ids::TaskId;
use crate::domain::job::{code, JobState};
use crate::domain::metrics::DupReport;
use crate::scan::checkout::{self, TreeEntry};
use crate::scan::per_file::CacheUpdate;
use crate::scan::run::check::{self, Checked};
use crate::scan::run::count::{self, Counted};
use crate::scan::run::metrics::{self, CcMeasured};
use crate::scan::run::notes::{files_count, name_some};
use crate::scan::run::source::{Files, Source};
use crate::scan::run::{open_log, set_progress, JobRun, Planned, Step, Stop};
use crate::scan::tools::{self, TaskScope};

/// What the tasks produced, for the store stage.
#[derive(Default)]
pub struct Outcome<'t> {
    pub counted: Option<Counted<'t>>,
    pub checked: Option<CacheUpdate<'t>>,
    /// Each finding with its fingerprint and, when blame was asked for, its author.
    pub findings: Vec<(Finding, String, Option<Author>)>,
    /// The lint tools that ran: only their findings can be fixed by this job.
    pub lint_tools: Vec<String>,
    /// Files an analyzer gave up on: they keep their open findings.
    pub unchecked: Vec<String>,
    /// What lizard measured, when the scheme measures complexity.
    pub cc: Option<CcMeasured>,
    /// What jscpd found, when the scheme looks for duplicate code.
    pub dup: Option<DupReport>,
}

/// Runs every task of the job in order.
pub fn run_all<'t>(
    run: &mut JobRun,
    source: &Source,
    files: &'t Files,
    tasks: &[Planned],
    task_ids: &[TaskId],
) -> Step<Outcome<'t>> {
    let header = format!(
        "job {} revision {}{}\n{} files to scan\n",
        run.id(),
        source.revision,
        source
            .baseline
            .as_ref()
            .map_or(String::new(), |(base, _)| format!(" baseline {base}")),
        files.file_count
    );
    let mut outcome = Outcome::default();
    for (task, &task_id) in tasks.iter().zip(task_ids) {
        run.still(JobState::Running)?;
        let started = Instant::now();
        let mut task_log = open_log(&run.shared.task_log_path(run.id(), task_id))?;
        let _ = task_log.write_all(header.as_bytes());
        run.store().start_task(task_id)?;
        let mut one = OneTask {
            run,
            source,
            files,
            task_id,
            log: &mut task_log,
            note: None,
        };
        let result = one.run(task, &mut outcome);
        let (_, name) = task.module_and_name();
        run.note(format_args!(
            "task {name} took {} ms",
            started.elapsed().as_millis()
        ));
        run.shared.metrics.task(name, started.elapsed());
        finish(run, task_id, name, result, &mut task_log)?;
    }
    if run.scheme.blame_enabled && !outcome.findings.is_empty() {
        blame_findings(run, source, &files.listed.entries, &mut outcome.findings);
    }
    Ok(outcome)
}

/// Closes a task with its result; a failure fails the job.
fn finish(
    run: &JobRun,
    task_id: TaskId,
    name: &str,
    result: Step<Option<String>>,
    task_log: &mut File,
) -> Step<()> {
    match result {
        Ok(note) => {
            let message =
                note.map_or_else(|| "success".to_string(), |note| format!("success; {note}"));
            run.store()
                .close_task(run.id(), task_id, code::OK, &message)?;
            Ok(())
        }
        Err(Stop::Fail(result_code, message)) => {
            let _ = writeln!(task_log, "failed ({result_code}): {message}");
            run.store()
                .close_task(run.id(), task_id, result_code, &message)?;
            Err(Stop::Fail(result_code, format!("{name}: {message}")))
        }
        Err(Stop::Abandon) => Err(Stop::Abandon),
    }
}

/// A lint tool's name and its findings, each with its fingerprint.
type LintFound = (String, Vec<(Finding, String)>);

/// One task being run.
struct OneTask<'r, 's, 't> {
    run: &'r mut JobRun<'s>,
    source: &'r Source,
    files: &'t Files,
    task_id: TaskId,
    log: &'r mut File,
    /// What the task's message adds to "success".
    note: Option<String>,
}

impl<'t> OneTask<'_, '_, 't> {
    /// Runs the task, adding what it produced to `outcome`; returns the note its message adds
    /// to "success" (files it skipped, say). A failing tool must not leave with `?` before its
    /// task is closed: `finish` closes it with its code.
    fn run(&mut self, task: &Planned, outcome: &mut Outcome<'t>) -> Step<Option<String>> {
        let lint = match task {
            Planned::Codecount => return self.count(outcome),
            Planned::Builtin => self.check(outcome)?,
            Planned::Linter(linter) => {
                let enabled = self.run.rules.scheme.enabled_rules(linter.name());
                let scope = self.scope();
                let found = tools::run_linter(&scope, *linter, &self.files.files, &enabled)?;
                Some((linter.name().to_string(), found))
            }
            Planned::Command(tool) => {
                let scope = self.scope();
                tools::run_command(&scope, tool, &self.files.scan_root)?
                    .map(|found| (tool.name.clone(), found))
            }
            Planned::Lizard => {
                let scope = self.scope();
                let measured = metrics::measure_cc(&scope, self.run, self.source, self.files)?;
                outcome.cc = Some(measured);
                None
            }
            Planned::Jscpd => {
                let scope = self.scope();
                outcome.dup = Some(metrics::find_duplicates(&scope, self.run, self.files)?);
                None
            }
        };
        if let Some((tool, mut found)) = lint {
            self.configure(task, &mut found);
            let _ = writeln!(self.log, "{}", describe_findings(&found));
            outcome.lint_tools.push(tool);
            outcome.findings.reserve(found.len());
            let found = found.into_iter();
            outcome
                .findings
                .extend(found.map(|(finding, fingerprint)| (finding, fingerprint, None)));
        }
        Ok(self.note.take())
    }

    /// The scheme's rule configuration over a tool's findings: a rule turned off loses its
    /// findings, a severity set replaces the tool's, and a finding in a file the path filters
    /// leave out goes (a tool that walks the checkout itself sees every file). The built-in
    /// checker never looked for the rules it has off nor read the files filtered out, and its
    /// findings keep their places (the result cache points at them).
    fn configure(&mut self, task: &Planned, found: &mut Vec<(Finding, String)>) {
        let rules = &self.run.rules;
        let overrides = rules.scheme.overrides();
        if matches!(task, Planned::Builtin) {
            for (finding, _) in found.iter_mut() {
                overrides.set_severity(finding);
            }
            return;
        }
        let before = found.len();
        found.retain_mut(|(finding, _)| {
            rules.paths.allows(&finding.path) && overrides.keep(finding)
        });
        if found.len() < before {
            let _ = writeln!(
                self.log,
                "{} findings of rules the scheme turned off, or in files its path filters leave \
                 out, left out",
                before - found.len()
            );
        }
    }

    fn scope(&self) -> TaskScope<'_> {
        TaskScope::new(
            self.run.shared,
            self.run.id(),
            self.task_id,
            &self.files.workspace,
            self.log,
        )
    }

    fn count(&mut self, outcome: &mut Outcome<'t>) -> Step<Option<String>> {
        set_progress(self.run.shared, self.task_id, 10)?;
        let counted = count::count_lines(self.run, &self.source.cache, &self.files.listed.entries)?;
        let lines = &counted.count.lines;
        let _ = writeln!(
            self.log,
            "{}; {} languages: code {} comment {} blank {} total {}",
            counted.describe(),
            counted.count.languages.len(),
            lines.code.unwrap_or(0),
            lines.comment.unwrap_or(0),
            lines.blank.unwrap_or(0),
            lines.total.unwrap_or(0)
        );
        let note = counted
            .left_out
            .note(self.log, &mut self.run.log, "codecount");
        outcome.counted = Some(counted);
        Ok(note)
    }
}

impl<'t> OneTask<'_, '_, 't> {
    /// The built-in checker: the changed files of an incremental scan, else the whole tree.
    fn check(&mut self, outcome: &mut Outcome<'t>) -> Step<Option<LintFound>> {
        set_progress(self.run.shared, self.task_id, 10)?;
        let only = self
            .source
            .baseline
            .as_ref()
            .map(|_| self.files.files.as_slice());
        let Checked {
            found,
            mut update,
            unchecked,
            left_out,
        } = check::check(
            self.run,
            &self.source.cache,
            &self.files.listed.entries,
            only,
            self.run.rules.checker,
        )?;
        // `run` adds the findings to the job's list next.
        update.shift(outcome.findings.len());
        self.note = left_out.note(self.log, &mut self.run.log, builtin::TOOL);
        outcome.unchecked.extend(unchecked);
        outcome.checked = Some(update);
        Ok(Some((builtin::TOOL.to_string(), found)))
    }
}

/// Sets each finding's author (name and e-mail) from `git blame` of its line. Files over
/// `--max-check-file-size` are not blamed (nor files the tree does not hold); neither is a file
/// git cannot blame. Each reason goes to the job log. Runs git: no connection is held.
fn blame_findings(
    run: &mut JobRun,
    source: &Source,
    tree: &[TreeEntry],
    findings: &mut [(Finding, String, Option<Author>)],
) {
    let max_size = run.shared.limits.max_check_file_size;
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
        match checkout::blame(&source.cache, &source.revision, &entry.path, wanted) {
            Ok(found) => {
                authors.insert(entry.path.to_string(), found);
            }
            Err(error) => run.note(format_args!(
                "cannot blame {}: {error}",
                checkout::shorten(&entry.path)
            )),
        }
    }
    if !too_large.is_empty() {
        run.note(format_args!(
            "blame: skipped {} over {}: {}",
            files_count(too_large.len()),
            format_size(max_size),
            name_some(&too_large, 5)
        ));
    }
    for (finding, _, author) in findings.iter_mut() {
        *author = authors
            .get(&finding.path)
            .and_then(|lines| lines.get(&finding.line))
            .map(|(name, email)| Author {
                name: name.clone(),
                email: email.clone(),
            });
    }
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
