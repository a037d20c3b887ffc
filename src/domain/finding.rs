//! A problem a lint tool found in one place of one file, in the shape every analyzer returns and
//! the store keeps (TCA's codelint issue, simplified).

use serde::{Deserialize, Serialize};

/// TCA's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Who last changed a flagged line, as `git blame` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

/// A finding's identity across scans: the tool, the rule, the file, the text of the flagged line
/// with its whitespace normalised, and which occurrence of that same text it is in the file. The
/// line number is left out, so inserting lines above a finding does not change it.
pub fn fingerprints(
    findings: &[Finding],
    line_text: impl Fn(&str, u32) -> Option<String>,
) -> Vec<String> {
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;
    // Occurrences are counted in line order, whatever order the tool reported them in.
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| (&findings[i].path, findings[i].line, findings[i].column));
    let mut seen: HashMap<(String, String, String, String), u32> = HashMap::new();
    let mut result = vec![String::new(); findings.len()];
    for i in order {
        let finding = &findings[i];
        let text = line_text(&finding.path, finding.line)
            .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let key = (
            finding.tool.clone(),
            finding.rule.clone(),
            finding.path.clone(),
            text,
        );
        let occurrence = seen.entry(key.clone()).or_insert(0);
        *occurrence += 1;
        let digest = Sha256::digest(
            format!("{}\0{}\0{}\0{}\0{}", key.0, key.1, key.2, key.3, occurrence).as_bytes(),
        );
        result[i] = crate::domain::hex(&digest[..16]);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(path: &str, line: u32) -> Finding {
        Finding {
            tool: "codepup".into(),
            rule: "trailing-whitespace".into(),
            path: path.into(),
            line,
            column: 1,
            severity: Severity::Info,
            category: "style".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn fingerprints_survive_lines_moving_and_tell_repeats_apart() {
        static BEFORE: [&str; 4] = ["a", "x = 1 ", "b", "x = 1 "];
        static AFTER: [&str; 6] = ["new", "new", "a", "x  =  1 ", "b", "x = 1 "];
        let (before, after) = (&BEFORE[..], &AFTER[..]);
        let text = |lines: &'static [&'static str]| {
            move |_: &str, line: u32| lines.get(line as usize - 1).map(|l| l.to_string())
        };
        let old = fingerprints(&[finding("f.py", 2), finding("f.py", 4)], text(before));
        let new = fingerprints(&[finding("f.py", 6), finding("f.py", 4)], text(after));
        assert_ne!(old[0], old[1], "two occurrences of one text differ");
        assert_eq!(old[0], new[1]);
        assert_eq!(old[1], new[0]);
        let other_file = fingerprints(&[finding("g.py", 2)], text(before));
        assert_ne!(other_file[0], old[0]);
    }
}
