//! ruff as a lint tool: the argv that makes it print JSON, and a pure parser from that JSON to
//! findings. Nothing here runs a process or touches the file system; the scan engine does that.

use std::path::Path;

use serde::Deserialize;

use crate::domain::finding::{Finding, Severity};

/// The tool's name, as schemes list it and as findings carry it.
pub const NAME: &str = "ruff";

/// The argv that checks `files` (paths relative to the checkout, which is the working directory)
/// and writes ruff's JSON list of diagnostics to `report` (named on the command line, so a
/// repository's `output-file` setting cannot send it elsewhere). `--no-fix` overrides a
/// repository's `fix = true`: ruff reports every finding and changes no file. `--no-cache` keeps
/// ruff from writing `.ruff_cache` into the checkout, and `--exit-zero` makes a non-zero status
/// mean that ruff itself failed, not that it found something.
pub fn command(files: &[String], report: &Path) -> Vec<String> {
    super::argv_with_files(
        &[
            "ruff".to_string(),
            "check".to_string(),
            "--output-format=json".to_string(),
            format!("--output-file={}", report.display()),
            "--no-fix".to_string(),
            "--no-cache".to_string(),
            "--exit-zero".to_string(),
        ],
        files,
    )
}

/// One diagnostic of `--output-format=json`. Fields findings do not need (`end_location`, `fix`,
/// `url`, `noqa_row`, `cell`, `severity`) are ignored.
#[derive(Debug, Deserialize)]
struct Diagnostic {
    /// `null` (older ruff) or `invalid-syntax` (newer ruff) for a file that does not parse.
    code: Option<String>,
    message: String,
    /// The rule's name (`unused-import`); older ruff versions do not print it.
    #[serde(default)]
    name: Option<String>,
    /// Absolute: ruff resolves every path it checks.
    filename: String,
    location: Option<Location>,
}

#[derive(Debug, Deserialize)]
struct Location {
    /// 1-based, like a finding's line and column.
    row: Option<i64>,
    column: Option<i64>,
}

/// Reads ruff's JSON output, naming files relative to `root`, the directory ruff ran in as ruff
/// sees it: ruff prints canonical absolute paths, so pass a canonical root
/// (`Path::canonicalize`), or a path under a symlinked directory stays absolute. A file outside
/// `root` keeps the path ruff printed. Output that is not a JSON list of diagnostics is an error
/// naming ruff, never a panic.
pub fn parse(output: &str, root: &Path) -> Result<Vec<Finding>, String> {
    if output.trim().is_empty() {
        return Err("ruff printed nothing where its JSON report was expected".to_string());
    }
    let diagnostics: Vec<Diagnostic> = serde_json::from_str(output)
        .map_err(|error| format!("ruff output is not its JSON report: {error}"))?;
    Ok(diagnostics
        .into_iter()
        .map(|diagnostic| finding(diagnostic, root))
        .collect())
}

fn finding(diagnostic: Diagnostic, root: &Path) -> Finding {
    let code = diagnostic
        .code
        .filter(|code| !code.is_empty())
        .unwrap_or_else(|| SYNTAX_ERROR.to_string());
    let (line, column) = diagnostic.location.map_or((0, 0), |location| {
        (to_u32(location.row), to_u32(location.column))
    });
    let message = match diagnostic.name {
        Some(name) if !name.is_empty() && name != code => {
            format!("{} ({name})", diagnostic.message)
        }
        _ => diagnostic.message,
    };
    Finding {
        tool: NAME.to_string(),
        severity: severity(&code),
        category: category(&code).to_string(),
        rule: code,
        path: relative_path(&diagnostic.filename, root),
        line,
        column,
        message,
    }
}

/// The rule a file that does not parse gets: newer ruff prints this code itself, older ruff
/// prints `null`.
const SYNTAX_ERROR: &str = "invalid-syntax";

/// The code's letters (`F`, `E`, `PLE`, `SIM`) and its digits (`401`). A code of another shape
/// (`invalid-syntax`) has no digits.
fn split_code(code: &str) -> (&str, &str) {
    let digits_at = code
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(code.len());
    code.split_at(digits_at)
}

/// Errors are the classes that mean the code cannot run as written: syntax errors (E9xx, and
/// ruff's own `invalid-syntax`), invalid comparisons and syntax pyflakes rejects (F63x, F7xx) and
/// undefined names (F82x). Other pyflakes findings are likely bugs; everything else is advice.
fn severity(code: &str) -> Severity {
    let (letters, digits) = split_code(code);
    if code == SYNTAX_ERROR {
        return Severity::Error;
    }
    match letters {
        "E" if digits.starts_with('9') => Severity::Error,
        "F" if digits.starts_with("63") || digits.starts_with('7') || digits.starts_with("82") => {
            Severity::Error
        }
        "F" => Severity::Warning,
        _ => Severity::Info,
    }
}

/// By the linter a code comes from; the whole letter prefix counts, so `SIM` (flake8-simplify)
/// is not `S` (bandit) and `BLE` is not `B` (bugbear).
fn category(code: &str) -> &'static str {
    if code == SYNTAX_ERROR {
        return "correctness";
    }
    match split_code(code).0 {
        "F" | "B" => "correctness",
        "S" => "security",
        _ => "style",
    }
}

fn relative_path(filename: &str, root: &Path) -> String {
    let path = Path::new(filename);
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.to_string_lossy().replace('\\', "/")
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

    /// Captured from ruff 0.17.6 run in `/tmp/lintfx` as `ruff check --output-format=json
    /// --no-cache --exit-zero --select E,F,W,B,S,N bad.py syntax.py sec.py`, where `bad.py` has
    /// two unused imports, `x == None`, an undefined name, a variable `l` and a class `c`,
    /// `syntax.py` does not parse and `sec.py` has a mutable default and `shell=True`.
    const REPORT: &str = r#"[
  {
    "cell": null,
    "code": "F401",
    "end_location": {
      "column": 10,
      "row": 1
    },
    "filename": "/tmp/lintfx/bad.py",
    "fix": {
      "applicability": "safe",
      "edits": [
        {
          "content": "",
          "end_location": {
            "column": 1,
            "row": 2
          },
          "location": {
            "column": 1,
            "row": 1
          }
        }
      ],
      "message": "Remove unused import: `os`"
    },
    "location": {
      "column": 8,
      "row": 1
    },
    "message": "`os` imported but unused",
    "name": "unused-import",
    "noqa_row": 1,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/unused-import"
  },
  {
    "cell": null,
    "code": "F401",
    "end_location": {
      "column": 11,
      "row": 2
    },
    "filename": "/tmp/lintfx/bad.py",
    "fix": {
      "applicability": "safe",
      "edits": [
        {
          "content": "",
          "end_location": {
            "column": 1,
            "row": 3
          },
          "location": {
            "column": 1,
            "row": 2
          }
        }
      ],
      "message": "Remove unused import: `sys`"
    },
    "location": {
      "column": 8,
      "row": 2
    },
    "message": "`sys` imported but unused",
    "name": "unused-import",
    "noqa_row": 2,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/unused-import"
  },
  {
    "cell": null,
    "code": "E711",
    "end_location": {
      "column": 17,
      "row": 6
    },
    "filename": "/tmp/lintfx/bad.py",
    "fix": {
      "applicability": "unsafe",
      "edits": [
        {
          "content": "x is None",
          "end_location": {
            "column": 17,
            "row": 6
          },
          "location": {
            "column": 8,
            "row": 6
          }
        }
      ],
      "message": "Replace with `cond is None`"
    },
    "location": {
      "column": 13,
      "row": 6
    },
    "message": "Comparison to `None` should be `cond is None`",
    "name": "none-comparison",
    "noqa_row": 6,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/none-comparison"
  },
  {
    "cell": null,
    "code": "F821",
    "end_location": {
      "column": 30,
      "row": 7
    },
    "filename": "/tmp/lintfx/bad.py",
    "fix": null,
    "location": {
      "column": 16,
      "row": 7
    },
    "message": "Undefined name `undefined_name`",
    "name": "undefined-name",
    "noqa_row": 7,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/undefined-name"
  },
  {
    "cell": null,
    "code": "E741",
    "end_location": {
      "column": 6,
      "row": 8
    },
    "filename": "/tmp/lintfx/bad.py",
    "fix": null,
    "location": {
      "column": 5,
      "row": 8
    },
    "message": "Ambiguous variable name: `l`",
    "name": "ambiguous-variable-name",
    "noqa_row": 8,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/ambiguous-variable-name"
  },
  {
    "cell": null,
    "code": "N801",
    "end_location": {
      "column": 8,
      "row": 12
    },
    "filename": "/tmp/lintfx/bad.py",
    "fix": null,
    "location": {
      "column": 7,
      "row": 12
    },
    "message": "Class name `c` should use CapWords convention",
    "name": "invalid-class-name",
    "noqa_row": 12,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/invalid-class-name"
  },
  {
    "cell": null,
    "code": "B006",
    "end_location": {
      "column": 21,
      "row": 4
    },
    "filename": "/tmp/lintfx/sec.py",
    "fix": {
      "applicability": "unsafe",
      "edits": [
        {
          "content": "None",
          "end_location": {
            "column": 21,
            "row": 4
          },
          "location": {
            "column": 19,
            "row": 4
          }
        },
        {
          "content": "    if seen is None:\n        seen = []\n",
          "end_location": {
            "column": 1,
            "row": 5
          },
          "location": {
            "column": 1,
            "row": 5
          }
        }
      ],
      "message": "Replace with `None`; initialize within function"
    },
    "location": {
      "column": 19,
      "row": 4
    },
    "message": "Do not use mutable data structures for argument defaults",
    "name": "mutable-argument-default",
    "noqa_row": 4,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/mutable-argument-default"
  },
  {
    "cell": null,
    "code": "S602",
    "end_location": {
      "column": 27,
      "row": 6
    },
    "filename": "/tmp/lintfx/sec.py",
    "fix": null,
    "location": {
      "column": 12,
      "row": 6
    },
    "message": "`subprocess` call with `shell=True` identified, security issue",
    "name": "subprocess-popen-with-shell-equals-true",
    "noqa_row": 6,
    "severity": "error",
    "url": "https://docs.astral.sh/ruff/rules/subprocess-popen-with-shell-equals-true"
  },
  {
    "cell": null,
    "code": "invalid-syntax",
    "end_location": {
      "column": 13,
      "row": 1
    },
    "filename": "/tmp/lintfx/syntax.py",
    "fix": null,
    "location": {
      "column": 12,
      "row": 1
    },
    "message": "Expected a parameter or the end of the parameter list",
    "name": "invalid-syntax",
    "noqa_row": null,
    "severity": "error",
    "url": null
  },
  {
    "cell": null,
    "code": "invalid-syntax",
    "end_location": {
      "column": 1,
      "row": 2
    },
    "filename": "/tmp/lintfx/syntax.py",
    "fix": null,
    "location": {
      "column": 13,
      "row": 1
    },
    "message": "Expected `)`, found newline",
    "name": "invalid-syntax",
    "noqa_row": null,
    "severity": "error",
    "url": null
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
    fn the_command_asks_for_json_without_cache_or_failing_status() {
        assert_eq!(
            command(&["a.py".to_string()], Path::new("/s/r.json")),
            [
                "ruff",
                "check",
                "--output-format=json",
                "--output-file=/s/r.json",
                "--no-fix",
                "--no-cache",
                "--exit-zero",
                "--",
                "a.py"
            ]
        );
    }

    #[test]
    fn a_real_report_becomes_findings_relative_to_the_root() {
        let findings = parse(REPORT, Path::new("/tmp/lintfx")).unwrap();
        assert!(findings.iter().all(|f| f.tool == "ruff"));
        assert_eq!(
            summary(&findings),
            [
                "bad.py:1:8 F401 Warning correctness | `os` imported but unused (unused-import)",
                "bad.py:2:8 F401 Warning correctness | `sys` imported but unused (unused-import)",
                "bad.py:6:13 E711 Info style | Comparison to `None` should be `cond is None` (none-comparison)",
                "bad.py:7:16 F821 Error correctness | Undefined name `undefined_name` (undefined-name)",
                "bad.py:8:5 E741 Info style | Ambiguous variable name: `l` (ambiguous-variable-name)",
                "bad.py:12:7 N801 Info style | Class name `c` should use CapWords convention (invalid-class-name)",
                "sec.py:4:19 B006 Info correctness | Do not use mutable data structures for argument defaults (mutable-argument-default)",
                "sec.py:6:12 S602 Info security | `subprocess` call with `shell=True` identified, security issue (subprocess-popen-with-shell-equals-true)",
                "syntax.py:1:12 invalid-syntax Error correctness | Expected a parameter or the end of the parameter list",
                "syntax.py:1:13 invalid-syntax Error correctness | Expected `)`, found newline",
            ]
        );
    }

    #[test]
    fn a_path_outside_the_root_stays_as_ruff_printed_it() {
        let findings = parse(REPORT, Path::new("/elsewhere")).unwrap();
        assert_eq!(findings[0].path, "/tmp/lintfx/bad.py");
        assert_eq!(parse("[]", Path::new("/tmp")).unwrap(), []);
    }

    #[test]
    fn codes_are_sorted_by_their_whole_prefix() {
        for (code, expected_severity, expected_category) in [
            ("E999", Severity::Error, "style"),
            ("E501", Severity::Info, "style"),
            ("W291", Severity::Info, "style"),
            ("F632", Severity::Error, "correctness"),
            ("F706", Severity::Error, "correctness"),
            ("F822", Severity::Error, "correctness"),
            ("F811", Severity::Warning, "correctness"),
            ("F401", Severity::Warning, "correctness"),
            ("FBT001", Severity::Info, "style"),
            ("S105", Severity::Info, "security"),
            ("SIM108", Severity::Info, "style"),
            ("B904", Severity::Info, "correctness"),
            ("BLE001", Severity::Info, "style"),
            ("PLE0101", Severity::Info, "style"),
            ("invalid-syntax", Severity::Error, "correctness"),
        ] {
            assert_eq!(severity(code), expected_severity, "{code}");
            assert_eq!(category(code), expected_category, "{code}");
        }
    }

    #[test]
    fn a_syntax_error_from_an_older_ruff_has_a_null_code() {
        let report = r#"[{"code": null, "message": "SyntaxError: Unexpected token", "fix": null,
            "filename": "/r/a.py", "location": {"row": 3, "column": 1},
            "end_location": {"row": 3, "column": 2}, "noqa_row": null, "url": null}]"#;
        assert_eq!(
            summary(&parse(report, Path::new("/r")).unwrap()),
            ["a.py:3:1 invalid-syntax Error correctness | SyntaxError: Unexpected token"]
        );
    }

    #[test]
    fn malformed_output_is_an_error_naming_ruff() {
        for output in [
            "",
            "error: Failed to parse pyproject.toml",
            "{\"code\": \"F401\"}",
            "[{\"code\": \"F401\", \"message\": \"m\"}]",
            "[{\"code\": 401, \"message\": \"m\", \"filename\": \"/a.py\", \"location\": null}]",
        ] {
            let error = parse(output, Path::new("/")).unwrap_err();
            assert!(error.starts_with("ruff "), "{error}");
        }
    }
}
