//! A problem a lint tool found in one place of one file, in the shape every analyzer returns and
//! the store keeps (TCA's codelint issue, simplified).

use serde::Serialize;

/// TCA's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    Fatal = 1,
    Error = 2,
    Warning = 3,
    Info = 4,
}

impl Severity {
    pub fn from_i64(value: i64) -> Option<Severity> {
        Some(match value {
            1 => Severity::Fatal,
            2 => Severity::Error,
            3 => Severity::Warning,
            4 => Severity::Info,
            _ => return None,
        })
    }
}

/// One finding. `path` is relative to the repository root, with `/` separators; `line` and
/// `column` are 1-based, 0 when the tool gives none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The tool's name, as a scheme lists it (`codepup`, `pylint`, `ruff`, `shellcheck`, ...).
    pub tool: String,
    /// The rule's stable id within the tool (`conflict-marker`, `W0611`, `F401`, `SC2086`).
    pub rule: String,
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    /// A short category, e.g. `correctness`, `security`, `style`, `convention`, `performance`.
    pub category: String,
    /// What is wrong and what to do about it.
    pub message: String,
}
