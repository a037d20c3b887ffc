//! The store stage: the job's results and its CLOSED state in one transaction (through the
//! store facade), then the project's older unfinished jobs superseded; or, when the head has
//! not moved since the baseline, TCA's code 1 with the baseline's counts.

use std::collections::HashSet;
use std::time::Instant;

use crate::db::findings::{Coverage, ScanFindings};
use crate::db::metrics::{CcResults, DupResults};
use crate::domain::ids::JobId;
use crate::domain::job::code;
use crate::scan::job_store::{Closed, Results};
use crate::scan::lifecycle;
use crate::scan::run::source::{Files, Source};
use crate::scan::run::tasks::Outcome;
use crate::scan::run::{JobRun, Step, Stop};

/// Closes a job whose head equals its baseline's: nothing to scan, the counts still describe
/// the tree.
pub fn nothing_to_scan(
    run: &mut JobRun,
    source: &Source,
    base_job: JobId,
    task_num: usize,
) -> Step<()> {
    let revision = &source.revision;
    run.note(format_args!(
        "head {revision} equals the baseline: nothing to scan"
    ));
    if !run.store().nothing_to_scan(run.id(), base_job, task_num)? {
        return Err(Stop::Abandon);
    }
    log::info!("job {}: nothing to scan (code 1)", run.id());
    lifecycle::closed(run.shared, run.id(), code::INCR_IGNORE);
    Ok(())
}

/// Stores the job's results and closes it with 0.
pub fn close(run: &mut JobRun, source: &Source, files: &Files, outcome: Outcome) -> Step<()> {
    let job_id = run.id();
    let (left_out, covered) = lint_coverage(files, &outcome);
    let findings = (!outcome.lint_tools.is_empty()).then(|| ScanFindings {
        project_id: run.project.id,
        job_id,
        scan_id: run.job.scan_id,
        revision: &source.revision,
        tools: &outcome.lint_tools,
        coverage: match &covered {
            Some(files) => Coverage::Files(files),
            None if left_out.is_empty() => Coverage::Full,
            None => Coverage::AllBut(&left_out),
        },
        findings: &outcome.findings,
    });
    let results = Results {
        line_counts: outcome.counted.as_ref().map(|counted| &counted.count),
        caches: outcome
            .counted
            .as_ref()
            .map(|counted| &counted.update)
            .into_iter()
            .chain(outcome.checked.as_ref())
            .collect(),
        findings,
        config_hash: Some(&run.rules.identity),
        cc: outcome.cc.as_ref().map(|measured| CcResults {
            project_id: run.project.id,
            job_id,
            revision: &source.revision,
            threshold: measured.threshold,
            functions: &measured.functions,
            covered: measured.covered.as_ref(),
        }),
        dup: outcome.dup.as_ref().map(|report| DupResults {
            project_id: run.project.id,
            job_id,
            revision: &source.revision,
            report,
        }),
    };
    let store_started = Instant::now();
    let cpu_started = crate::clock::thread_cpu_micros();
    let closed = run.store().close(job_id, &results)?;
    let store_cpu_ms = (crate::clock::thread_cpu_micros() - cpu_started) / 1000;
    run.shared.metrics.phase("store", store_started.elapsed());
    let Some(closed) = closed else {
        return Err(Stop::Abandon);
    };
    // The log is complete before anyone waiting on the job hears that it closed.
    note_stored(run, &closed);
    // The CPU time too: on a loaded machine the wall time says more about the neighbours.
    let line = format!(
        "stored the results in {} ms ({store_cpu_ms} ms of CPU); closed with 0 after {} ms",
        store_started.elapsed().as_millis(),
        run.elapsed_ms()
    );
    run.note(line);
    lifecycle::closed(run.shared, job_id, code::OK);
    for older in closed.superseded {
        log::info!("job {older} superseded by job {job_id}");
        lifecycle::closed(run.shared, older, code::CLIENT_REDIRECT);
    }
    log::info!("job {job_id}: closed with 0");
    Ok(())
}

/// The files whose findings a lint close must leave as they are (left out of the scan, or
/// given up on by the checker), and the files it covered (`None`: the whole tree).
fn lint_coverage(files: &Files, outcome: &Outcome) -> (HashSet<String>, Option<HashSet<String>>) {
    let mut left_out: HashSet<&str> = files.left_out.iter().map(String::as_str).collect();
    left_out.extend(outcome.unchecked.iter().map(String::as_str));
    let left_out: HashSet<String> = left_out.into_iter().map(str::to_string).collect();
    let covered = files.covered.as_ref().map(|covered| {
        covered
            .iter()
            .filter(|path| !left_out.contains(*path))
            .cloned()
            .collect()
    });
    (left_out, covered)
}

/// What the close stored, in the job's log: findings, complexity and the gate's verdict.
fn note_stored(run: &mut JobRun, closed: &Closed) {
    if let Some(recorded) = closed.recorded {
        run.note(format_args!(
            "findings: {} seen, {} new, {} reopened, {} fixed",
            recorded.seen, recorded.opened, recorded.reopened, recorded.fixed
        ));
    }
    if let Some(cc) = &closed.cc {
        run.note(format_args!(
            "complexity: {} functions over the threshold, {} new or worse, {} no longer over it",
            cc.over, cc.new_or_worse, cc.fixed
        ));
    }
    if let Some(gate) = &closed.gate {
        run.note(format_args!(
            "quality gate: {}",
            if gate.passed {
                "passed".to_string()
            } else {
                format!("failed: {}", gate.reasons.join("; "))
            }
        ));
    }
}
