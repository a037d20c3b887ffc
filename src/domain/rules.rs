//! A scheme's rule configuration and path filters (TCA's checkprofile rules and `scandirs`):
//! which rules of which tool report, at what severity, and which files a scan takes.
//! Pure values: the scan engine applies them, the API checks them, SQL stores them.

use std::collections::HashMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{RegexSet, RegexSetBuilder};
use sha2::{Digest, Sha256};

use crate::domain::finding::{Finding, Severity};

/// The longest `dir_path` (TCA's column is 512 characters).
pub const MAX_DIR_PATH_CHARS: usize = 512;
/// The most path filters a scheme may have: every file of every scan is matched against them.
pub const MAX_SCANDIRS: usize = 500;
/// The most compiled size of one regular expression, so a filter cannot make the matcher huge.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The longest rule id: tools' ids are short (`C0114`, `SC2086`, `trailing-whitespace`).
pub const MAX_RULE_CHARS: usize = 128;

/// One rule's configuration in a scheme; `None` keeps the tool's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetting {
    pub tool: String,
    pub rule: String,
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
}

/// A rule id as a tool reports it: letters, digits and `-_.:/` (ruff's `F401`, pylint's
/// `C0114`, shellcheck's `SC2086`, SARIF ids such as `js/sql-injection`).
pub fn check_rule_id(rule: &str) -> Result<(), String> {
    if !rule.starts_with(|c: char| c.is_ascii_alphanumeric())
        || rule.chars().count() > MAX_RULE_CHARS
        || !rule
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        return Err(format!(
            "{:?} is not a rule id (a letter or digit, then letters, digits and -_.:/, at most \
             {MAX_RULE_CHARS})",
            shorten(rule)
        ));
    }
    Ok(())
}

/// How a path filter's `dir_path` is read (TCA's `path_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathType {
    /// Shell wildcards, as `fnmatch`: `*` matches any characters, `/` included.
    Wildcard = 1,
    /// A regular expression matching the whole path.
    Regex = 2,
}

/// What a path filter does (TCA's `scan_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanType {
    /// Only files that match some include filter are scanned (when there is one).
    Include = 1,
    /// Files that match an exclude filter are not scanned.
    Exclude = 2,
}

impl PathType {
    pub fn from_i64(value: i64) -> Option<PathType> {
        match value {
            1 => Some(PathType::Wildcard),
            2 => Some(PathType::Regex),
            _ => None,
        }
    }
}

impl ScanType {
    pub fn from_i64(value: i64) -> Option<ScanType> {
        match value {
            1 => Some(ScanType::Include),
            2 => Some(ScanType::Exclude),
            _ => None,
        }
    }
}

/// A path filter as a client asked for it, checked: it compiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScanDir {
    pub dir_path: String,
    pub path_type: PathType,
    pub scan_type: ScanType,
}

/// A stored path filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanDir {
    pub id: i64,
    pub filter: NewScanDir,
}

impl NewScanDir {
    /// Checks `dir_path`: relative to the repository root, printable, at most 512 characters,
    /// and a wildcard or expression that compiles within its size limit.
    pub fn new(
        dir_path: String,
        path_type: PathType,
        scan_type: ScanType,
    ) -> Result<NewScanDir, String> {
        if dir_path.is_empty() {
            return Err("dir_path must not be empty".into());
        }
        if dir_path.chars().count() > MAX_DIR_PATH_CHARS {
            return Err(format!(
                "dir_path is longer than {MAX_DIR_PATH_CHARS} characters"
            ));
        }
        if dir_path.chars().any(char::is_control) {
            return Err("dir_path must not hold control characters".into());
        }
        if path_type == PathType::Wildcard && dir_path.starts_with('/') {
            return Err(format!(
                "dir_path {:?} starts with /: filters match paths relative to the repository \
                 root (src/vendor/*)",
                shorten(&dir_path)
            ));
        }
        let filter = NewScanDir {
            dir_path,
            path_type,
            scan_type,
        };
        Matcher::new(std::slice::from_ref(&&filter))?;
        Ok(filter)
    }
}

/// Files of one kind of filter, compiled.
#[derive(Debug, Clone)]
struct Matcher {
    globs: GlobSet,
    regexes: RegexSet,
}

impl Matcher {
    fn new(filters: &[&NewScanDir]) -> Result<Matcher, String> {
        let mut globs = GlobSetBuilder::new();
        let mut regexes = Vec::new();
        for filter in filters {
            match filter.path_type {
                PathType::Wildcard => {
                    let glob = GlobBuilder::new(&filter.dir_path)
                        .literal_separator(false)
                        .backslash_escape(true)
                        .build()
                        .map_err(|error| {
                            format!(
                                "dir_path {:?} is not a valid wildcard: {}",
                                shorten(&filter.dir_path),
                                error.kind()
                            )
                        })?;
                    globs.add(glob);
                }
                PathType::Regex => regexes.push(format!("^(?:{})$", filter.dir_path)),
            }
        }
        let globs = globs
            .build()
            .map_err(|error| format!("the wildcards do not compile: {}", error.kind()))?;
        let regexes = RegexSetBuilder::new(&regexes)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|error| match error {
                regex::Error::CompiledTooBig(_) => {
                    "dir_path is a regular expression too large to match with".to_string()
                }
                _ => format!(
                    "dir_path is not a valid regular expression: {}",
                    first_line(&error.to_string())
                ),
            })?;
        Ok(Matcher { globs, regexes })
    }

    fn matches(&self, path: &str) -> bool {
        self.globs.is_match(path) || self.regexes.is_match(path)
    }
}

/// A scheme's path filters, compiled: which files a scan takes.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl PathFilter {
    /// Compiles `dirs` (each was checked when it was stored; a failure here means the database
    /// was changed by hand).
    pub fn new(dirs: &[ScanDir]) -> Result<PathFilter, String> {
        let of = |scan_type: ScanType| -> Result<Option<Matcher>, String> {
            let filters: Vec<&NewScanDir> = dirs
                .iter()
                .map(|dir| &dir.filter)
                .filter(|filter| filter.scan_type == scan_type)
                .collect();
            if filters.is_empty() {
                return Ok(None);
            }
            Matcher::new(&filters).map(Some)
        };
        Ok(PathFilter {
            include: of(ScanType::Include)?,
            exclude: of(ScanType::Exclude)?,
        })
    }

    /// Whether the filter lets every file through.
    pub fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    /// Whether a scan takes the file at `path` (relative to the repository root): it matches
    /// an include filter, if there is any, and no exclude filter.
    pub fn allows(&self, path: &str) -> bool {
        self.include
            .as_ref()
            .is_none_or(|include| include.matches(path))
            && !self
                .exclude
                .as_ref()
                .is_some_and(|exclude| exclude.matches(path))
    }
}

/// A scheme's rule configuration and path filters, as a scan uses them.
#[derive(Debug, Clone, Default)]
pub struct SchemeRules {
    pub settings: Vec<RuleSetting>,
    pub scandirs: Vec<ScanDir>,
}

impl SchemeRules {
    /// The rules of `tool` the scheme turned on, sorted.
    pub fn enabled_rules(&self, tool: &str) -> Vec<String> {
        let mut rules: Vec<String> = self
            .settings
            .iter()
            .filter(|setting| setting.tool == tool && setting.enabled == Some(true))
            .map(|setting| setting.rule.clone())
            .collect();
        rules.sort();
        rules
    }

    /// What the scheme says of `tool`'s `rule`.
    pub fn setting(&self, tool: &str, rule: &str) -> Option<&RuleSetting> {
        self.settings
            .iter()
            .find(|setting| setting.tool == tool && setting.rule == rule)
    }

    /// An identity of the configuration together with `defaults` (whatever else decides what a
    /// scan reports, such as the built-in checker's default rules): equal identities, equal
    /// findings for the same files. Independent of the order rows were stored in.
    pub fn identity(&self, defaults: &str) -> String {
        let mut settings: Vec<String> = self
            .settings
            .iter()
            .map(|s| {
                format!(
                    "{}\0{}\0{:?}\0{:?}",
                    s.tool,
                    s.rule,
                    s.enabled,
                    s.severity.map(|severity| severity as i64)
                )
            })
            .collect();
        settings.sort();
        let mut dirs: Vec<String> = self
            .scandirs
            .iter()
            .map(|dir| {
                let filter = &dir.filter;
                format!(
                    "{}\0{}\0{}",
                    filter.path_type as i64, filter.scan_type as i64, filter.dir_path
                )
            })
            .collect();
        dirs.sort();
        let text = format!(
            "{defaults}\u{1}{}\u{1}{}",
            settings.join("\u{2}"),
            dirs.join("\u{2}")
        );
        crate::domain::hex(&Sha256::digest(text.as_bytes())[..16])
    }

    /// The findings the scheme keeps, by tool and rule: a rule turned off loses its findings,
    /// a severity set replaces the tool's.
    pub fn overrides(&self) -> Overrides<'_> {
        Overrides {
            by_rule: self
                .settings
                .iter()
                .map(|s| ((s.tool.as_str(), s.rule.as_str()), s))
                .collect(),
        }
    }
}

/// `SchemeRules::overrides`: the settings by tool and rule.
pub struct Overrides<'a> {
    by_rule: HashMap<(&'a str, &'a str), &'a RuleSetting>,
}

impl Overrides<'_> {
    fn of(&self, finding: &Finding) -> Option<&RuleSetting> {
        self.by_rule
            .get(&(finding.tool.as_str(), finding.rule.as_str()))
            .copied()
    }

    /// Whether the finding is kept, after setting its severity as the scheme says.
    pub fn keep(&self, finding: &mut Finding) -> bool {
        if self
            .of(finding)
            .is_some_and(|setting| setting.enabled == Some(false))
        {
            return false;
        }
        self.set_severity(finding);
        true
    }

    /// Gives the finding the severity the scheme sets for its rule, if any.
    pub fn set_severity(&self, finding: &mut Finding) {
        if let Some(severity) = self.of(finding).and_then(|setting| setting.severity) {
            finding.severity = severity;
        }
    }
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .rfind(|line| line.starts_with("error:"))
        .unwrap_or_else(|| text.lines().next().unwrap_or(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &str, path_type: PathType, scan_type: ScanType) -> ScanDir {
        ScanDir {
            id: 0,
            filter: NewScanDir::new(path.to_string(), path_type, scan_type).unwrap(),
        }
    }

    #[test]
    fn wildcards_match_across_directories_as_fnmatch_does() {
        let filter = PathFilter::new(&[
            dir("vendor/*", PathType::Wildcard, ScanType::Exclude),
            dir("*_test.py", PathType::Wildcard, ScanType::Exclude),
        ])
        .unwrap();
        assert!(!filter.allows("vendor/a/b.c"));
        assert!(!filter.allows("src/deep/x_test.py"));
        assert!(filter.allows("src/vendor.c"));
        assert!(filter.allows("src/x.py"));
    }

    #[test]
    fn includes_narrow_and_excludes_cut_out() {
        let filter = PathFilter::new(&[
            dir("src/.*", PathType::Regex, ScanType::Include),
            dir("src/gen/.*", PathType::Regex, ScanType::Exclude),
        ])
        .unwrap();
        assert!(filter.allows("src/a.rs"));
        assert!(!filter.allows("src/gen/a.rs"));
        assert!(!filter.allows("docs/a.md"));
        // A regular expression matches the whole path.
        assert!(!filter.allows("x/src/a.rs"));
        assert!(PathFilter::default().allows("anything"));
    }

    #[test]
    fn hostile_filters_are_refused_with_the_reason() {
        let refused = |path: &str, path_type| {
            NewScanDir::new(path.to_string(), path_type, ScanType::Exclude).unwrap_err()
        };
        assert!(refused("", PathType::Wildcard).contains("empty"));
        assert!(refused("a[", PathType::Wildcard).contains("wildcard"));
        assert!(refused("(", PathType::Regex).contains("regular expression"));
        assert!(refused(&"a".repeat(513), PathType::Wildcard).contains("512"));
        assert!(refused("a\0b", PathType::Wildcard).contains("control"));
        assert!(refused("/etc/*", PathType::Wildcard).contains("relative"));
        assert!(refused("(a{1,100}){1,100}(b{1,100}){1,100}", PathType::Regex).contains("large"));
    }

    #[test]
    fn filters_that_compile_alone_can_be_too_large_together() {
        let filters: Vec<ScanDir> = (0..200)
            .map(|n| {
                dir(
                    &format!("\\w{{1,8}}/{n}/\\w{{1,8}}"),
                    PathType::Regex,
                    ScanType::Exclude,
                )
            })
            .collect();
        let error = PathFilter::new(&filters).unwrap_err();
        assert!(error.contains("too large"), "{error}");
    }

    #[test]
    fn the_identity_ignores_order_and_follows_every_setting() {
        let setting = |rule: &str, enabled| RuleSetting {
            tool: "pylint".into(),
            rule: rule.into(),
            enabled: Some(enabled),
            severity: None,
        };
        let one = SchemeRules {
            settings: vec![setting("C0114", false), setting("W0611", true)],
            scandirs: vec![],
        };
        let two = SchemeRules {
            settings: vec![setting("W0611", true), setting("C0114", false)],
            scandirs: vec![],
        };
        assert_eq!(one.identity("d"), two.identity("d"));
        assert_ne!(one.identity("d"), one.identity("e"));
        let three = SchemeRules {
            settings: vec![setting("W0611", true), setting("C0114", true)],
            scandirs: vec![],
        };
        assert_ne!(one.identity("d"), three.identity("d"));
    }
}
