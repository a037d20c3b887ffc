//! pylint as a lint tool: the argv that makes it print JSON, and a pure parser from that JSON to
//! findings. Nothing here runs a process or touches the file system; the scan engine does that.

use std::path::Path;

use serde::Deserialize;

use crate::domain::finding::{Finding, Severity};

/// The tool's name, as schemes list it and as findings carry it.
pub const NAME: &str = "pylint";

/// The argv that checks `files` (paths relative to the checkout, which is the working directory)
/// and prints pylint's JSON list of messages. `--score=n` keeps the score report out of stdout and
/// `--persistent=n` keeps pylint from writing its statistics cache into the home directory.
/// pylint's exit status is a bit mask of the message types it printed, so it says nothing about
/// whether the run worked: read the output instead.
///
/// The report goes to `report`, named on the command line, so a repository's `output = ...` in
/// its pylintrc cannot send it elsewhere; `--jobs=1` keeps one process per run whatever the
/// repository's `jobs` says. The repository's configuration is otherwise honoured: its
/// `init-hook` and `load-plugins` run Python, which is why pylint runs confined.
pub fn command(files: &[String], report: &Path) -> Vec<String> {
    super::argv_with_files(
        &[
            "pylint".to_string(),
            "--output-format=json".to_string(),
            format!("--output={}", report.display()),
            "--score=n".to_string(),
            "--persistent=n".to_string(),
            "--jobs=1".to_string(),
        ],
        files,
    )
}

/// One message of `--output-format=json`. Fields pylint prints that findings do not need
/// (`module`, `obj`, `endLine`, `endColumn`) are ignored.
#[derive(Debug, Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    line: Option<i64>,
    /// 0-based, unlike the 1-based column of a `Finding`.
    column: Option<i64>,
    path: String,
    symbol: String,
    message: String,
    #[serde(rename = "message-id")]
    message_id: String,
}

/// Reads pylint's JSON output. Output that is not a JSON list of messages (pylint crashed, or
/// printed a traceback instead) is an error naming pylint, never a panic.
pub fn parse(output: &str) -> Result<Vec<Finding>, String> {
    if output.trim().is_empty() {
        return Err("pylint printed nothing where its JSON report was expected".to_string());
    }
    let messages: Vec<Message> = serde_json::from_str(output)
        .map_err(|error| format!("pylint output is not its JSON report: {error}"))?;
    Ok(messages.into_iter().map(finding).collect())
}

fn finding(message: Message) -> Finding {
    Finding {
        tool: NAME.to_string(),
        severity: severity(&message.kind),
        rule: message.message_id,
        path: relative_path(&message.path),
        line: to_u32(message.line),
        column: message
            .column
            .map_or(0, |column| to_u32(Some(column.saturating_add(1)))),
        message: format!("{} ({})", message.message, message.symbol),
        category: message.kind,
    }
}

/// pylint's message types. A type a later pylint might add counts as information rather than
/// failing the whole report.
fn severity(kind: &str) -> Severity {
    match kind {
        "fatal" => Severity::Fatal,
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

/// pylint echoes paths the way they were given; findings use `/` and no leading `./`.
fn relative_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    path.strip_prefix("./").unwrap_or(&path).to_string()
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

    /// Captured from pylint 4.1.4 (astroid 4.3.4, Python 3.11.7) run as
    /// `pylint --output-format=json --score=n --persistent=n bad.py syntax.py`, where `bad.py` has
    /// two unused imports, `x == None`, an undefined name and a class named `c`, and `syntax.py`
    /// does not parse.
    const REPORT: &str = r#"[
    {
        "type": "error",
        "module": "syntax",
        "obj": "",
        "line": 1,
        "column": 12,
        "endLine": null,
        "endColumn": null,
        "path": "syntax.py",
        "symbol": "syntax-error",
        "message": "Parsing failed: 'invalid syntax (syntax, line 1)'",
        "message-id": "E0001"
    },
    {
        "type": "convention",
        "module": "bad",
        "obj": "",
        "line": 1,
        "column": 0,
        "endLine": null,
        "endColumn": null,
        "path": "bad.py",
        "symbol": "missing-module-docstring",
        "message": "Missing module docstring",
        "message-id": "C0114"
    },
    {
        "type": "convention",
        "module": "bad",
        "obj": "f",
        "line": 5,
        "column": 0,
        "endLine": 5,
        "endColumn": 5,
        "path": "bad.py",
        "symbol": "missing-function-docstring",
        "message": "Missing function or method docstring",
        "message-id": "C0116"
    },
    {
        "type": "convention",
        "module": "bad",
        "obj": "f",
        "line": 6,
        "column": 7,
        "endLine": 6,
        "endColumn": 16,
        "path": "bad.py",
        "symbol": "singleton-comparison",
        "message": "Comparison 'x == None' should be 'x is None'",
        "message-id": "C0121"
    },
    {
        "type": "error",
        "module": "bad",
        "obj": "f",
        "line": 7,
        "column": 15,
        "endLine": 7,
        "endColumn": 29,
        "path": "bad.py",
        "symbol": "undefined-variable",
        "message": "Undefined variable 'undefined_name'",
        "message-id": "E0602"
    },
    {
        "type": "convention",
        "module": "bad",
        "obj": "c",
        "line": 12,
        "column": 0,
        "endLine": 12,
        "endColumn": 7,
        "path": "bad.py",
        "symbol": "missing-class-docstring",
        "message": "Missing class docstring",
        "message-id": "C0115"
    },
    {
        "type": "convention",
        "module": "bad",
        "obj": "c",
        "line": 12,
        "column": 0,
        "endLine": 12,
        "endColumn": 7,
        "path": "bad.py",
        "symbol": "invalid-name",
        "message": "Class name \"c\" doesn't conform to PascalCase naming style",
        "message-id": "C0103"
    },
    {
        "type": "refactor",
        "module": "bad",
        "obj": "c",
        "line": 12,
        "column": 0,
        "endLine": 12,
        "endColumn": 7,
        "path": "bad.py",
        "symbol": "too-few-public-methods",
        "message": "Too few public methods (0/2)",
        "message-id": "R0903"
    },
    {
        "type": "warning",
        "module": "bad",
        "obj": "",
        "line": 1,
        "column": 0,
        "endLine": 1,
        "endColumn": 9,
        "path": "bad.py",
        "symbol": "unused-import",
        "message": "Unused import os",
        "message-id": "W0611"
    },
    {
        "type": "warning",
        "module": "bad",
        "obj": "",
        "line": 2,
        "column": 0,
        "endLine": 2,
        "endColumn": 10,
        "path": "bad.py",
        "symbol": "unused-import",
        "message": "Unused import sys",
        "message-id": "W0611"
    }
]"#;

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
    fn the_command_asks_for_json_without_score_or_cache() {
        assert_eq!(
            command(
                &["a.py".to_string(), "pkg/b.py".to_string()],
                Path::new("/s/r.json")
            ),
            [
                "pylint",
                "--output-format=json",
                "--output=/s/r.json",
                "--score=n",
                "--persistent=n",
                "--jobs=1",
                "--",
                "a.py",
                "pkg/b.py"
            ]
        );
    }

    #[test]
    fn a_real_report_becomes_findings_with_pylint_severities() {
        let findings = parse(REPORT).unwrap();
        assert!(findings.iter().all(|f| f.tool == "pylint"));
        assert_eq!(
            summary(&findings),
            [
                "syntax.py:1:13 E0001 Error error | Parsing failed: 'invalid syntax (syntax, line 1)' (syntax-error)",
                "bad.py:1:1 C0114 Info convention | Missing module docstring (missing-module-docstring)",
                "bad.py:5:1 C0116 Info convention | Missing function or method docstring (missing-function-docstring)",
                "bad.py:6:8 C0121 Info convention | Comparison 'x == None' should be 'x is None' (singleton-comparison)",
                "bad.py:7:16 E0602 Error error | Undefined variable 'undefined_name' (undefined-variable)",
                "bad.py:12:1 C0115 Info convention | Missing class docstring (missing-class-docstring)",
                "bad.py:12:1 C0103 Info convention | Class name \"c\" doesn't conform to PascalCase naming style (invalid-name)",
                "bad.py:12:1 R0903 Info refactor | Too few public methods (0/2) (too-few-public-methods)",
                "bad.py:1:1 W0611 Warning warning | Unused import os (unused-import)",
                "bad.py:2:1 W0611 Warning warning | Unused import sys (unused-import)",
            ]
        );
    }

    #[test]
    fn a_fatal_message_is_fatal_and_a_clean_run_has_no_findings() {
        // Captured from `pylint ... missing.py` on a file that does not exist.
        let report = r#"[
    {
        "type": "fatal",
        "module": "missing.py",
        "obj": "",
        "line": 1,
        "column": 0,
        "endLine": null,
        "endColumn": null,
        "path": "missing.py",
        "symbol": "fatal",
        "message": "No module named missing.py",
        "message-id": "F0001"
    }
]"#;
        assert_eq!(
            summary(&parse(report).unwrap()),
            ["missing.py:1:1 F0001 Fatal fatal | No module named missing.py (fatal)"]
        );
        assert_eq!(parse("[]\n").unwrap(), []);
    }

    #[test]
    fn malformed_output_is_an_error_naming_pylint() {
        for output in [
            "",
            "Traceback (most recent call last):\n  File ...",
            "{\"type\": \"error\"}",
            "[{\"type\": \"error\", \"line\": 1}]",
            "[{\"type\": \"error\", \"line\": \"one\", \"column\": 0, \"path\": \"a.py\", \"symbol\": \"s\", \"message\": \"m\", \"message-id\": \"E1\"}]",
            "[",
        ] {
            let error = parse(output).unwrap_err();
            assert!(error.starts_with("pylint "), "{error}");
        }
    }

    #[test]
    fn odd_numbers_and_unknown_types_do_not_fail_the_report() {
        let report = r#"[{"type": "novel", "line": null, "column": -3, "path": "./a.py",
            "symbol": "s", "message": "m", "message-id": "X1"}]"#;
        assert_eq!(
            summary(&parse(report).unwrap()),
            ["a.py:0:0 X1 Info novel | m (s)"]
        );
    }
}
