//! jscpd, the copy/paste detector: the argv that makes it write its JSON report, and a pure
//! parser from that report to a `DupReport`. Nothing here runs a process.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::metrics::{DupCopy, DupFileStats, DupPair, DupReport};

/// The tool's name, as task names and messages carry it.
pub const NAME: &str = "jscpd";

/// How to install it where the tool user can run it, for the message of a task that finds no jscpd.
pub const INSTALL_HINT: &str = "install it with `npm install --prefix /opt/codepup-jscpd jscpd@4.0.5` and link /opt/codepup-jscpd/node_modules/.bin/jscpd onto PATH (codepup's .ci/run does)";

/// The name jscpd gives its JSON report in its output directory.
pub const REPORT_FILE: &str = "jscpd-report.json";

/// What one run looks at.
pub struct Options<'a> {
    /// The directory to scan (absolute: jscpd then reports absolute names).
    pub root: &'a str,
    /// Where it writes `REPORT_FILE`.
    pub output_dir: &'a str,
    /// A configuration file of codepup's: without one jscpd would read `.jscpd.json` from the
    /// scanned directory, which the repository's authors control.
    pub config: &'a str,
    /// jscpd formats, comma-separated (`python,javascript`).
    pub formats: &'a str,
}

/// The argv of one run: blocks of at least 50 tokens and 5 lines (jscpd's defaults, as TCA),
/// files of up to 20,000 lines and 1 MB (jscpd's own limits, 1,000 lines and 100 kB, would
/// leave out many real source files), no symlinks followed, a JSON report and nothing else.
pub fn command(options: &Options) -> Vec<String> {
    [
        "jscpd",
        "--silent",
        "--noSymlinks",
        "--absolute",
        "--config",
        options.config,
        "--reporters",
        "json",
        "--output",
        options.output_dir,
        "--format",
        options.formats,
        "--min-tokens",
        "50",
        "--min-lines",
        "5",
        "--max-lines",
        "20000",
        "--max-size",
        "1mb",
        options.root,
    ]
    .map(str::to_string)
    .to_vec()
}

#[derive(Deserialize)]
struct Report {
    statistics: Statistics,
    duplicates: Vec<Duplicate>,
}

#[derive(Deserialize)]
struct Statistics {
    formats: BTreeMap<String, Format>,
    total: Totals,
}

#[derive(Deserialize)]
struct Format {
    sources: BTreeMap<String, Totals>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    lines: i64,
    duplicated_lines: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Duplicate {
    lines: i64,
    #[serde(default)]
    tokens: i64,
    #[serde(default)]
    fragment: String,
    first_file: Place,
    second_file: Place,
}

#[derive(Deserialize)]
struct Place {
    name: String,
    start: i64,
    end: i64,
}

/// Reads jscpd's JSON report. Names are made relative to `root` (jscpd ran with `--absolute`);
/// a name outside it is dropped with its pair. A report that does not read is an error naming
/// jscpd, never a panic.
pub fn parse(report: &str, root: &str) -> Result<DupReport, String> {
    let report: Report =
        serde_json::from_str(report).map_err(|e| format!("jscpd's report does not read: {e}"))?;
    let relative = |name: &str| -> Option<String> {
        let inside = name.strip_prefix(root)?.trim_start_matches('/');
        (!inside.is_empty()).then(|| inside.to_string())
    };
    let copy = |place: &Place| -> Option<DupCopy> {
        Some(DupCopy {
            file_path: relative(&place.name)?,
            start_line: place.start,
            end_line: place.end,
        })
    };
    let pairs = report
        .duplicates
        .iter()
        .filter_map(|duplicate| {
            Some(DupPair {
                tokens: duplicate.tokens,
                lines: duplicate.lines,
                first: copy(&duplicate.first_file)?,
                second: copy(&duplicate.second_file)?,
                block_hash: crate::domain::hex(&Sha256::digest(duplicate.fragment.as_bytes())),
            })
        })
        .collect();
    let mut files = Vec::new();
    for (format, stats) in &report.statistics.formats {
        for (name, totals) in &stats.sources {
            let Some(file_path) = relative(name) else {
                continue;
            };
            if totals.duplicated_lines > 0 {
                files.push(DupFileStats {
                    file_path,
                    language: format.clone(),
                    total_line_count: totals.lines,
                    duplicate_line_count: totals.duplicated_lines,
                });
            }
        }
    }
    files.sort_by(|a, b| a.file_path.cmp(&b.file_path));
    Ok(DupReport {
        pairs,
        files,
        total_line_count: report.statistics.total.lines,
        duplicate_line_count: report.statistics.total.duplicated_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from jscpd 4.0.5 (`--reporters json --absolute`), trimmed.
    const REPORT: &str = r#"{"statistics":{"detectionDate":"2026-11-30T11:24:52.241Z",
      "formats":{"python":{"sources":{
        "/w/job-1/src/two.py":{"lines":36,"tokens":695,"sources":1,"clones":1,"duplicatedLines":36,"duplicatedTokens":692,"percentage":100,"percentageTokens":99.57,"newDuplicatedLines":0,"newClones":0},
        "/w/job-1/src/one.py":{"lines":36,"tokens":695,"sources":1,"clones":1,"duplicatedLines":36,"duplicatedTokens":692,"percentage":100,"percentageTokens":99.57,"newDuplicatedLines":0,"newClones":0},
        "/w/job-1/src/clean.py":{"lines":10,"tokens":60,"sources":1,"clones":0,"duplicatedLines":0,"duplicatedTokens":0,"percentage":0,"percentageTokens":0,"newDuplicatedLines":0,"newClones":0}},
        "total":{"lines":82,"tokens":1450,"sources":3,"clones":1,"duplicatedLines":36,"duplicatedTokens":692,"percentage":43.9,"percentageTokens":47.7,"newDuplicatedLines":0,"newClones":0}}},
      "total":{"lines":82,"tokens":1450,"sources":3,"clones":1,"duplicatedLines":36,"duplicatedTokens":692,"percentage":43.9,"percentageTokens":47.7,"newDuplicatedLines":0,"newClones":0}},
      "duplicates":[{"format":"python","lines":37,"fragment":"def work():\n    pass","tokens":0,
        "firstFile":{"name":"/w/job-1/src/one.py","start":1,"end":37,"startLoc":{"line":1,"column":11,"position":3},"endLoc":{"line":37,"column":6,"position":695}},
        "secondFile":{"name":"/w/job-1/src/two.py","start":1,"end":37,"startLoc":{"line":1,"column":11,"position":3},"endLoc":{"line":37,"column":6,"position":695}}},
        {"format":"python","lines":6,"fragment":"x","tokens":0,
        "firstFile":{"name":"/elsewhere/a.py","start":1,"end":6},"secondFile":{"name":"/w/job-1/src/two.py","start":1,"end":6}}]}"#;

    #[test]
    fn reads_pairs_files_and_totals_relative_to_the_root() {
        let report = parse(REPORT, "/w/job-1").unwrap();
        assert_eq!(
            report.pairs.len(),
            1,
            "the pair with a copy outside the root is dropped"
        );
        let pair = &report.pairs[0];
        assert_eq!(pair.first.file_path, "src/one.py");
        assert_eq!(
            (pair.second.start_line, pair.second.end_line, pair.lines),
            (1, 37, 37)
        );
        assert_eq!(pair.block_hash.len(), 64);
        let names: Vec<&str> = report.files.iter().map(|f| f.file_path.as_str()).collect();
        assert_eq!(names, ["src/one.py", "src/two.py"]);
        assert_eq!(
            (report.total_line_count, report.duplicate_line_count),
            (82, 36)
        );
        assert_eq!(report.duplicate_rate(), 43.9);
    }

    #[test]
    fn a_report_that_is_not_jscpds_is_an_error() {
        for bad in ["", "{}", "[1]", r#"{"statistics":{}}"#] {
            let error = parse(bad, "/w").unwrap_err();
            assert!(error.contains("jscpd"), "{error}");
        }
    }
}
