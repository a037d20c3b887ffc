//! The code-metrics tasks: lizard's cyclomatic complexity and jscpd's duplicate code, each run
//! confined on the job's checkout like the linters (`scan::tools`), over the scheme's languages.
//! A missing tool closes its task with 204 and says how to install it.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::analyzers::{jscpd, lizard};
use crate::domain::job::code;
use crate::domain::metrics::{
    language_of, measured_languages, CcFunction, DupReport, MetricLanguage,
};
use crate::sandbox::paths;
use crate::scan::run::source::{Files, Source};
use crate::scan::run::{JobRun, Step, Stop};
use crate::scan::tools::{self, ReportRun, TaskScope};

/// What the lizard task measured, for the store stage.
pub struct CcMeasured {
    pub functions: Vec<CcFunction>,
    /// The files an incremental measure covered; `None` when it measured the whole tree.
    pub covered: Option<HashSet<String>>,
    pub threshold: i64,
}

/// Measures the functions of the scheme's languages: of the changed files when the baseline's
/// job measured them too (the project's other files keep that measure), else of every file.
pub fn measure_cc(
    scope: &TaskScope,
    run: &JobRun,
    source: &Source,
    files: &Files,
) -> Step<CcMeasured> {
    let (incremental, candidates) = cc_candidates(run, source, files)?;
    let languages = measured_languages(&run.scheme.languages);
    let dir = &files.workspace.dir;
    let targets: Vec<&String> = candidates
        .iter()
        .filter(|path| {
            language_of(&languages, path).is_some()
                && lizard::can_name(path)
                && dir.join(path).is_file()
        })
        .collect();
    let measured = CcMeasured {
        functions: Vec::new(),
        covered: incremental.then(|| files.covered.clone().unwrap_or_default()),
        threshold: run.scheme.min_ccn,
    };
    scope.note(&format!(
        "{} {} files of {}",
        if incremental {
            "incremental: measuring the"
        } else {
            "measuring"
        },
        targets.len(),
        describe_languages(&languages)
    ));
    if targets.is_empty() {
        return Ok(measured);
    }
    let list = tools::task_scratch(scope)?.join("lizard-files.txt");
    let text: String = targets.iter().map(|path| format!("{path}\n")).collect();
    fs::write(&list, text).map_err(|e| {
        Stop::Fail(
            code::E_SERVER,
            format!("cannot write lizard's file list: {e}"),
        )
    })?;
    let (report, output) = tools::run_for_report(
        scope,
        ReportRun {
            name: lizard::NAME,
            argv: lizard::command(&list.to_string_lossy()),
            cwd: dir,
            read_paths: &[],
            report: None,
        },
    )
    .map_err(|stop| with_install_hint(stop, lizard::NAME, lizard::INSTALL_HINT))?;
    let wanted: HashSet<&str> = targets.iter().map(|path| path.as_str()).collect();
    let mut functions = lizard::parse(&output.unwrap_or_default()).map_err(|error| {
        Stop::Fail(
            code::E_NODE_TASK_ANALYZE,
            format!("lizard failed ({}): {error}", tools::describe(&report)),
        )
    })?;
    // lizard names only the files it was given; anything else is not this scan's.
    functions.retain(|function| wanted.contains(function.file_path.as_str()));
    for function in &mut functions {
        function.language = language_of(&languages, &function.file_path).map(str::to_string);
    }
    scope.note(&format!("{} functions measured", functions.len()));
    Ok(CcMeasured {
        functions,
        ..measured
    })
}

/// Whether lizard measures only the changed files (the baseline's job measured complexity, so
/// the project's other files keep that measure), and the files it may be given.
fn cc_candidates(run: &JobRun, source: &Source, files: &Files) -> Step<(bool, Vec<String>)> {
    let incremental = match &source.baseline {
        Some((_, base_job)) => run.store().measured_cc(*base_job)?,
        None => false,
    };
    let candidates = if incremental {
        files.files.clone()
    } else {
        files
            .listed
            .entries
            .iter()
            .map(|entry| entry.path.to_string())
            .collect()
    };
    Ok((incremental, candidates))
}

/// Looks for duplicate code among the files of the scheme's languages below the scan path,
/// always in the whole tree (a copy needs its original).
pub fn find_duplicates(scope: &TaskScope, run: &JobRun, files: &Files) -> Step<DupReport> {
    let languages = measured_languages(&run.scheme.languages);
    let formats: Vec<&str> = languages
        .iter()
        .map(|language| language.jscpd_format)
        .collect();
    scope.note(&format!(
        "looking for copies in {}",
        describe_languages(&languages)
    ));
    if formats.is_empty() {
        return Ok(DupReport::default());
    }
    let scratch = tools::task_scratch(scope)?;
    let config = scratch.join("jscpd.json");
    let output_dir = scratch.join("jscpd-report");
    fs::write(&config, "{}\n").map_err(|e| {
        Stop::Fail(
            code::E_SERVER,
            format!("cannot write jscpd's configuration: {e}"),
        )
    })?;
    let root = files.workspace.dir.to_string_lossy().into_owned();
    let scan_root = files.scan_root.to_string_lossy().into_owned();
    let argv = jscpd::command(&jscpd::Options {
        root: &scan_root,
        output_dir: &output_dir.to_string_lossy(),
        config: &config.to_string_lossy(),
        formats: &formats.join(","),
    });
    let installation: Vec<PathBuf> = node_modules_of(scope, "jscpd").into_iter().collect();
    let report_path = output_dir.join(jscpd::REPORT_FILE);
    // In the scratch directory, not the checkout: jscpd would read a `.jscpd.json` or
    // `package.json` it finds where it runs.
    let (report, output) = tools::run_for_report(
        scope,
        ReportRun {
            name: jscpd::NAME,
            argv,
            cwd: &scratch,
            read_paths: &installation,
            report: Some(&report_path),
        },
    )
    .map_err(|stop| with_install_hint(stop, jscpd::NAME, jscpd::INSTALL_HINT))?;
    let Some(output) = output else {
        if report.code == Some(0) {
            // jscpd ends well without a report when no file had enough tokens to compare.
            scope.note("nothing for jscpd to compare: no copies");
            return Ok(DupReport::default());
        }
        return Err(Stop::Fail(
            code::E_NODE_TASK_ANALYZE,
            format!("jscpd wrote no report ({})", tools::describe(&report)),
        ));
    };
    let found = jscpd::parse(&output, &root).map_err(|error| {
        Stop::Fail(
            code::E_NODE_TASK_ANALYZE,
            format!("jscpd failed ({}): {error}", tools::describe(&report)),
        )
    })?;
    scope.note(&format!(
        "{} copies in {} files; {} of {} lines duplicated ({}%)",
        found.pairs.len(),
        found.files.len(),
        found.duplicate_line_count,
        found.total_line_count,
        found.duplicate_rate()
    ));
    Ok(found)
}

/// The `node_modules` directory a Node.js tool on PATH is installed in: the tool reads its
/// modules from there (the sandbox lets a program read only its own directory otherwise).
fn node_modules_of(scope: &TaskScope, program: &str) -> Option<PathBuf> {
    let confinement = &scope.shared().confinement;
    let found = paths::find_program(
        program,
        &confinement.path,
        Path::new("/"),
        confinement.tool_user,
    )?;
    let real = fs::canonicalize(found).ok()?;
    real.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "node_modules"))
        .map(Path::to_path_buf)
}

/// A tool that is not installed fails its task with 204 and a message saying how to install it.
fn with_install_hint(stop: Stop, name: &str, hint: &str) -> Stop {
    match stop {
        Stop::Fail(code::E_NODE_TASK_CONFIG, message) if message.contains("not found on PATH") => {
            Stop::Fail(
                code::E_NODE_TASK_CONFIG,
                format!("{message}: {name} is not installed on this server; {hint}"),
            )
        }
        other => other,
    }
}

fn describe_languages(languages: &[&MetricLanguage]) -> String {
    let names: Vec<&str> = languages.iter().map(|language| language.name).collect();
    if names.is_empty() {
        "no language codepup measures (see the scheme's languages)".to_string()
    } else {
        names.join(", ")
    }
}
