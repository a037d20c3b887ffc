//! shellcheck as a lint tool: the argv that makes it print json1, and a pure parser from that
//! JSON to findings. Nothing here runs a process or touches the file system; the scan engine does.

use serde::Deserialize;

use crate::domain::finding::{Finding, Severity};

/// The tool's name, as schemes list it and as findings carry it.
pub const NAME: &str = "shellcheck";

/// The argv that checks `files` (paths relative to the checkout, which is the working directory)
/// and prints shellcheck's json1 report. shellcheck exits 1 when it found something, so the
/// status alone does not mean it failed: a report that parses is the test.
pub fn command(files: &[String]) -> Vec<String> {
    super::argv_with_files(
        &["shellcheck".to_string(), "--format=json1".to_string()],
        files,
    )
}

#[derive(Debug, Deserialize)]
struct Report {
    comments: Vec<Comment>,
}

/// One comment of json1. Fields findings do not need (`endLine`, `endColumn`, `fix`) are ignored.
#[derive(Debug, Deserialize)]
struct Comment {
    file: String,
    line: Option<i64>,
    /// 1-based; shellcheck counts a tab as up to 8 columns, as an editor would show it.
    column: Option<i64>,
    level: String,
    code: i64,
    message: String,
}

/// Reads shellcheck's json1 output. Output that is not a json1 report is an error naming
/// shellcheck, never a panic.
pub fn parse(output: &str) -> Result<Vec<Finding>, String> {
    if output.trim().is_empty() {
        return Err("shellcheck printed nothing where its json1 report was expected".to_string());
    }
    let report: Report = serde_json::from_str(output)
        .map_err(|error| format!("shellcheck output is not its json1 report: {error}"))?;
    Ok(report.comments.into_iter().map(finding).collect())
}

fn finding(comment: Comment) -> Finding {
    let (severity, category) = match comment.level.as_str() {
        "error" => (Severity::Error, "correctness"),
        "warning" => (Severity::Warning, "correctness"),
        // `info`, `style`, and any level a later shellcheck might add.
        _ => (Severity::Info, "style"),
    };
    let path = comment.file.replace('\\', "/");
    Finding {
        tool: NAME.to_string(),
        rule: format!("SC{}", comment.code),
        path: path.strip_prefix("./").unwrap_or(&path).to_string(),
        line: to_u32(comment.line),
        column: to_u32(comment.column),
        severity,
        category: category.to_string(),
        message: comment.message,
    }
}

/// A line or column that is missing, negative or absurd is 0, "not given".
fn to_u32(value: Option<i64>) -> u32 {
    value
        .and_then(|value| u32::try_from(value).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from ShellCheck 0.9.0 run as `shellcheck --format=json1 bad.sh`, where `bad.sh`
    /// echoes `$1` unquoted, runs `cd` unchecked, tests an unset `$x`, uses backticks and
    /// returns 300.
    const REPORT: &str = r#"{"comments":[{"file":"bad.sh","line":2,"endLine":2,"column":6,"endColumn":8,"level":"info","code":2086,"message":"Double quote to prevent globbing and word splitting.","fix":{"replacements":[{"column":6,"endColumn":6,"endLine":2,"insertionPoint":"afterEnd","line":2,"precedence":7,"replacement":"\""},{"column":8,"endColumn":8,"endLine":2,"insertionPoint":"beforeStart","line":2,"precedence":7,"replacement":"\""}]}},{"file":"bad.sh","line":3,"endLine":3,"column":1,"endColumn":8,"level":"warning","code":2164,"message":"Use 'cd ... || exit' or 'cd ... || return' in case cd fails.","fix":{"replacements":[{"column":8,"endColumn":8,"endLine":3,"insertionPoint":"beforeStart","line":3,"precedence":5,"replacement":" || exit"}]}},{"file":"bad.sh","line":4,"endLine":4,"column":6,"endColumn":8,"level":"warning","code":2154,"message":"x is referenced but not assigned.","fix":null},{"file":"bad.sh","line":4,"endLine":4,"column":6,"endColumn":8,"level":"info","code":2086,"message":"Double quote to prevent globbing and word splitting.","fix":{"replacements":[{"column":6,"endColumn":6,"endLine":4,"insertionPoint":"afterEnd","line":4,"precedence":11,"replacement":"\""},{"column":8,"endColumn":8,"endLine":4,"insertionPoint":"beforeStart","line":4,"precedence":11,"replacement":"\""}]}},{"file":"bad.sh","line":5,"endLine":5,"column":8,"endColumn":14,"level":"warning","code":2046,"message":"Quote this to prevent word splitting.","fix":null},{"file":"bad.sh","line":5,"endLine":5,"column":8,"endColumn":14,"level":"style","code":2005,"message":"Useless echo? Instead of 'echo $(cmd)', just use 'cmd'.","fix":null},{"file":"bad.sh","line":5,"endLine":5,"column":8,"endColumn":14,"level":"style","code":2006,"message":"Use $(...) notation instead of legacy backticks `...`.","fix":{"replacements":[{"column":8,"endColumn":9,"endLine":5,"insertionPoint":"afterEnd","line":5,"precedence":10,"replacement":"$("},{"column":13,"endColumn":14,"endLine":5,"insertionPoint":"beforeStart","line":5,"precedence":10,"replacement":")"}]}},{"file":"bad.sh","line":7,"endLine":7,"column":14,"endColumn":17,"level":"error","code":2152,"message":"Can only return 0-255. Other data should be written to stdout.","fix":null}]}"#;

    fn summary(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{} {} {:?} {} | {}",
                    f.path, f.line, f.column, f.rule, f.severity, f.category, f.message
                )
            })
            .collect()
    }

    #[test]
    fn the_command_asks_for_json1() {
        assert_eq!(
            command(&["bin/run.sh".to_string()]),
            ["shellcheck", "--format=json1", "--", "bin/run.sh"]
        );
    }

    #[test]
    fn a_real_report_becomes_findings_by_level() {
        let findings = parse(REPORT).unwrap();
        assert!(findings.iter().all(|f| f.tool == "shellcheck"));
        assert_eq!(
            summary(&findings),
            [
                "bad.sh:2:6 SC2086 Info style | Double quote to prevent globbing and word splitting.",
                "bad.sh:3:1 SC2164 Warning correctness | Use 'cd ... || exit' or 'cd ... || return' in case cd fails.",
                "bad.sh:4:6 SC2154 Warning correctness | x is referenced but not assigned.",
                "bad.sh:4:6 SC2086 Info style | Double quote to prevent globbing and word splitting.",
                "bad.sh:5:8 SC2046 Warning correctness | Quote this to prevent word splitting.",
                "bad.sh:5:8 SC2005 Info style | Useless echo? Instead of 'echo $(cmd)', just use 'cmd'.",
                "bad.sh:5:8 SC2006 Info style | Use $(...) notation instead of legacy backticks `...`.",
                "bad.sh:7:14 SC2152 Error correctness | Can only return 0-255. Other data should be written to stdout.",
            ]
        );
    }

    #[test]
    fn a_clean_script_has_no_findings() {
        // Captured from `shellcheck --format=json1 ok.sh` on a script with nothing to say.
        assert_eq!(parse("{\"comments\":[]}\n").unwrap(), []);
    }

    #[test]
    fn malformed_output_is_an_error_naming_shellcheck() {
        for output in [
            "",
            "bad.sh:1:1: note: this is gcc format",
            "[]",
            "{\"comments\": [{\"file\": \"a.sh\", \"level\": \"error\"}]}",
            "{\"comments\": [{\"file\": \"a.sh\", \"line\": 1, \"column\": 1, \"level\": \"error\", \"code\": \"SC1\", \"message\": \"m\"}]}",
        ] {
            let error = parse(output).unwrap_err();
            assert!(error.starts_with("shellcheck "), "{error}");
        }
    }
}
