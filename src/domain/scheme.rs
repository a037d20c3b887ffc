//! Scan schemes: which tools a project's scans run, and for how long they may run.

use crate::domain::gate::GateThresholds;
use crate::domain::job::ToolModule;

/// Tools built into codepup: `(module, task_name)`. Line counting is switched on by
/// `cloc_scan_enabled` rather than listed in `tools`.
pub const BUILTIN_TOOLS: &[(ToolModule, &str)] = &[
    (ToolModule::Codemetric, "codecount"),
    (ToolModule::Codelint, "codepup"),
    (ToolModule::Codelint, "pylint"),
    (ToolModule::Codelint, "ruff"),
    (ToolModule::Codelint, "shellcheck"),
];

/// Minutes a job may run when the scheme does not say (TCA's `JOB_RUNTIME_LIMIT`).
pub const DEFAULT_JOB_RUNTIME_LIMIT: i64 = 600;
/// One week: a longer limit is almost certainly a typo.
pub const MAX_JOB_RUNTIME_LIMIT: i64 = 7 * 24 * 60;

/// A scheme as a client asked for it, already checked.
#[derive(Debug, Clone)]
pub struct NewScheme {
    pub name: String,
    pub description: Option<String>,
    pub languages: Vec<String>,
    pub tools: Vec<String>,
    pub lint_enabled: bool,
    pub cc_scan_enabled: bool,
    pub dup_scan_enabled: bool,
    pub cloc_scan_enabled: bool,
    pub job_runtime_limit: i64,
    /// Findings get their author from `git blame` of the flagged line.
    pub blame_enabled: bool,
    /// Functions of a higher cyclomatic complexity become cc findings (TCA's `min_ccn`).
    pub min_ccn: i64,
    /// The quality gate's thresholds (none set: no gate).
    pub gate: GateThresholds,
}

/// Language names are lowercase identifiers (`python`, `c++`, `objective-c`).
pub fn check_language(name: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    if lower.is_empty()
        || lower.len() > 32
        || !lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+#-_.".contains(c))
    {
        return Err(format!("{name:?} is not a language name"));
    }
    Ok(lower)
}

/// A tool name must be one this server knows, so that a worker never meets an unknown one.
pub fn check_tool(name: &str, known_tools: &[String]) -> Result<(), String> {
    if known_tools.iter().any(|known| known == name) {
        return Ok(());
    }
    Err(format!(
        "unknown tool {name:?}: this server knows {}",
        known_tools.join(", ")
    ))
}

/// The names schemes may list in `tools` today.
pub fn known_tools() -> Vec<String> {
    BUILTIN_TOOLS
        .iter()
        .map(|(_, name)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_lowercased_and_checked() {
        assert_eq!(check_language("Python").as_deref(), Ok("python"));
        assert_eq!(check_language("C++").as_deref(), Ok("c++"));
        assert!(check_language("py thon").is_err());
    }

    #[test]
    fn unknown_tools_are_named_with_the_known_ones() {
        let known = vec!["codecount".to_string()];
        assert!(check_tool("codecount", &known).is_ok());
        let error = check_tool("rm", &known).unwrap_err();
        assert!(error.contains("codecount"), "{error}");
    }
}

/// A stored scan scheme: a global template (`repo_id` None) or one of a repository's.
#[derive(Debug, Clone)]
pub struct Scheme {
    pub id: crate::domain::ids::SchemeId,
    pub repo_id: Option<crate::domain::ids::RepoId>,
    pub name: String,
    pub description: Option<String>,
    pub refer_scheme_id: Option<i64>,
    pub languages: Vec<String>,
    pub tools: Vec<String>,
    pub lint_enabled: bool,
    pub cc_scan_enabled: bool,
    pub dup_scan_enabled: bool,
    pub cloc_scan_enabled: bool,
    pub job_runtime_limit: i64,
    pub default_flag: bool,
    pub status: i64,
    pub created_from: String,
    pub created_time: String,
    pub blame_enabled: bool,
    pub min_ccn: i64,
    pub gate: GateThresholds,
}

impl Scheme {
    /// The same settings under another name, for copying a template into a repository.
    pub fn to_new(&self, name: String) -> NewScheme {
        NewScheme {
            name,
            description: self.description.clone(),
            languages: self.languages.clone(),
            tools: self.tools.clone(),
            lint_enabled: self.lint_enabled,
            cc_scan_enabled: self.cc_scan_enabled,
            dup_scan_enabled: self.dup_scan_enabled,
            cloc_scan_enabled: self.cloc_scan_enabled,
            job_runtime_limit: self.job_runtime_limit,
            blame_enabled: self.blame_enabled,
            min_ccn: self.min_ccn,
            gate: self.gate,
        }
    }
}
