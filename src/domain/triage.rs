//! Triage of findings (TCA's codelint resolution, severity and author changes): the values a
//! team member may set, parsed from what a client sent, and the words a history entry uses.
//! TCA's numbers: state 1 open (未处理), 2 resolved (已处理), 3 closed; resolution 0 none,
//! 1 fixed, 2 won't fix (无需修复), 3 false positive (误报), 4 duplicate, 5 path filtered,
//! 6 rule removed; scope 1 project, 2 repository.

/// The resolutions a person may set. The rest (duplicate, path filtered, rule removed) are the
/// server's own: a scan sets them, a person does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Reopen: the finding is open again (state 1, resolution 0).
    Reopen = 0,
    /// Marked fixed by hand; a later scan that still sees it reopens it.
    Fixed = 1,
    /// 无需修复: real, but the team will not fix it. Stays resolved in later scans.
    WontFix = 2,
    /// 误报: the tool is wrong. Stays resolved in later scans.
    FalsePositive = 3,
}

impl Resolution {
    /// TCA's `ParseError` text for anything else (a number out of range, a string, null).
    pub fn parse(value: Option<i64>, shown: &str) -> Result<Resolution, String> {
        Ok(match value {
            Some(0) => Resolution::Reopen,
            Some(1) => Resolution::Fixed,
            Some(2) => Resolution::WontFix,
            Some(3) => Resolution::FalsePositive,
            _ => return Err(format!("参数异常，`Resolution` 值[{shown}]错误")),
        })
    }

    /// Whether later scans leave the finding as the person set it (an ignore, by fingerprint).
    pub fn is_ignore(self) -> bool {
        matches!(self, Resolution::WontFix | Resolution::FalsePositive)
    }

    /// The finding's state after this resolution.
    pub fn state(self) -> i64 {
        match self {
            Resolution::Reopen => 1,
            _ => 2,
        }
    }
}

/// How far an ignore reaches (TCA's `scope`; only read for won't fix and false positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This project's finding, in its later scans.
    Project = 1,
    /// The same fingerprint in every project of the repository, now and in later scans.
    Repository = 2,
}

impl Scope {
    /// Missing, null and 0 mean the project, as in TCA.
    pub fn parse(value: Option<i64>, shown: &str) -> Result<Scope, String> {
        match value {
            None | Some(0) | Some(1) => Ok(Scope::Project),
            Some(2) => Ok(Scope::Repository),
            Some(_) => Err(format!("参数异常，`Scope` 值[{shown}]错误")),
        }
    }
}

/// TCA's word for a state, as its history entries name them.
pub fn state_word(state: i64) -> &'static str {
    match state {
        1 => "未处理",
        2 => "已处理",
        _ => "关闭",
    }
}

/// TCA's word for a resolution (0 to 6).
pub fn resolution_word(resolution: i64) -> &'static str {
    match resolution {
        0 => "无",
        1 => "修复",
        2 => "无需修复",
        3 => "误报",
        4 => "重复单过滤",
        5 => "路径过滤",
        _ => "规则移除",
    }
}

/// TCA's word for a severity (1 to 4).
pub fn severity_word(severity: i64) -> &'static str {
    match severity {
        1 => "致命",
        2 => "错误",
        3 => "警告",
        _ => "提示",
    }
}

/// What a history entry says about a resolution change: the states and resolutions before and
/// after, the reason, and the scope when it is the repository.
pub fn resolution_message(
    before: (i64, i64),
    resolution: Resolution,
    reason: Option<&str>,
    scope: Scope,
) -> String {
    let mut message = format!(
        "state {} -> {}, resolution {} -> {}",
        state_word(before.0),
        state_word(resolution.state()),
        resolution_word(before.1),
        resolution_word(resolution as i64),
    );
    if let Some(reason) = reason.filter(|reason| !reason.is_empty()) {
        message.push_str(&format!(", reason: {reason}"));
    }
    if resolution.is_ignore() && scope == Scope::Repository {
        message.push_str(" [repository]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_resolutions_a_person_sets_parse_and_the_error_is_tcas() {
        assert_eq!(
            Resolution::parse(Some(3), "3"),
            Ok(Resolution::FalsePositive)
        );
        assert!(Resolution::parse(Some(2), "2").unwrap().is_ignore());
        assert!(!Resolution::parse(Some(1), "1").unwrap().is_ignore());
        assert_eq!(Resolution::Reopen.state(), 1);
        assert_eq!(Resolution::WontFix.state(), 2);
        for (value, shown) in [(Some(4), "4"), (Some(-1), "-1"), (None, "None")] {
            assert_eq!(
                Resolution::parse(value, shown),
                Err(format!("参数异常，`Resolution` 值[{shown}]错误"))
            );
        }
        assert_eq!(Scope::parse(None, "None"), Ok(Scope::Project));
        assert_eq!(Scope::parse(Some(0), "0"), Ok(Scope::Project));
        assert_eq!(Scope::parse(Some(2), "2"), Ok(Scope::Repository));
        assert_eq!(
            Scope::parse(Some(7), "7"),
            Err("参数异常，`Scope` 值[7]错误".to_string())
        );
    }

    #[test]
    fn a_history_entry_names_before_after_reason_and_a_repository_scope() {
        assert_eq!(
            resolution_message(
                (1, 0),
                Resolution::FalsePositive,
                Some("generated"),
                Scope::Repository
            ),
            "state 未处理 -> 已处理, resolution 无 -> 误报, reason: generated [repository]"
        );
        assert_eq!(
            resolution_message((2, 2), Resolution::Reopen, None, Scope::Repository),
            "state 已处理 -> 未处理, resolution 无需修复 -> 无"
        );
    }
}
