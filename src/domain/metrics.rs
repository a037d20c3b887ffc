//! Code metrics a scan measures: functions' cyclomatic complexity (lizard) and duplicate code
//! blocks (jscpd). Plain values; the analyzers make them and `db::metrics` stores them.

use std::collections::{HashMap, VecDeque};

/// The complexity over which a function becomes a cc finding when the scheme does not say
/// (TCA's default).
pub const DEFAULT_CC_THRESHOLD: i64 = 20;

/// The languages whose functions and copies codepup measures: the names a scheme's `languages`
/// may use for them (TCA's first), the file name extensions that hold them, and jscpd's format.
pub const LANGUAGES: &[MetricLanguage] = &[
    MetricLanguage::new("python", &["py"], &["py", "pyi"], "python"),
    MetricLanguage::new("cpp", &["c", "c++", "cxx"], &CPP, "c,cpp"),
    MetricLanguage::new("java", &[], &["java"], "java"),
    MetricLanguage::new(
        "js",
        &["javascript"],
        &["js", "jsx", "mjs", "cjs"],
        "javascript",
    ),
    MetricLanguage::new("ts", &["typescript"], &["ts", "tsx"], "typescript"),
    MetricLanguage::new("go", &["golang"], &["go"], "go"),
    MetricLanguage::new("cs", &["csharp", "c#"], &["cs"], "csharp"),
    MetricLanguage::new(
        "oc",
        &["objectivec", "objective-c"],
        &["m", "mm"],
        "objectivec",
    ),
    MetricLanguage::new("php", &[], &["php"], "php"),
    MetricLanguage::new("ruby", &["rb"], &["rb"], "ruby"),
    MetricLanguage::new("swift", &[], &["swift"], "swift"),
    MetricLanguage::new("scala", &[], &["scala"], "scala"),
    MetricLanguage::new("lua", &[], &["lua"], "lua"),
    MetricLanguage::new("rust", &["rs"], &["rs"], "rust"),
    MetricLanguage::new("kotlin", &["kt"], &["kt", "kts"], "kotlin"),
];

const CPP: [&str; 9] = ["c", "h", "cc", "cpp", "cxx", "hh", "hpp", "hxx", "c++"];

/// One language the metrics tools measure.
#[derive(Debug)]
pub struct MetricLanguage {
    pub name: &'static str,
    aliases: &'static [&'static str],
    extensions: &'static [&'static str],
    pub jscpd_format: &'static str,
}

impl MetricLanguage {
    const fn new(
        name: &'static str,
        aliases: &'static [&'static str],
        extensions: &'static [&'static str],
        jscpd_format: &'static str,
    ) -> MetricLanguage {
        MetricLanguage {
            name,
            aliases,
            extensions,
            jscpd_format,
        }
    }

    fn is_called(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// The languages of a scheme's `languages` that codepup measures; every one when the scheme
/// names none.
pub fn measured_languages(scheme_languages: &[String]) -> Vec<&'static MetricLanguage> {
    LANGUAGES
        .iter()
        .filter(|language| {
            scheme_languages.is_empty()
                || scheme_languages.iter().any(|name| language.is_called(name))
        })
        .collect()
}

/// The language among `languages` that `path` is written in, by its extension.
pub fn language_of(languages: &[&'static MetricLanguage], path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next()?;
    let (_, extension) = name.rsplit_once('.')?;
    let extension = extension.to_ascii_lowercase();
    languages
        .iter()
        .find(|language| language.extensions.contains(&extension.as_str()))
        .map(|language| language.name)
}

/// One function as lizard measured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcFunction {
    pub file_path: String,
    pub func_name: String,
    /// The name with its parameters, as lizard spells it: what tells overloads apart.
    pub long_name: String,
    pub func_param_num: i64,
    pub ccn: i64,
    /// Lines of code (lizard's NLOC).
    pub code_line_num: i64,
    pub token: i64,
    /// Lines from the first to the last, blank and comment lines included.
    pub line_num: i64,
    pub start_line_no: i64,
    pub end_line_no: i64,
    pub language: Option<String>,
}

/// TCA's `change_type` of a cc finding: what happened to the function since the project's
/// last measure of it.
pub mod change_type {
    /// Measured before with the same complexity.
    pub const UNCHANGED: i64 = 0;
    /// Not measured before: a new function, or one in a file the project had not measured.
    pub const ADDED: i64 = 1;
    /// Measured before with another complexity (`diff_ccn` says by how much).
    pub const MODIFIED: i64 = 3;
}

/// One copy of a duplicated block, in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupCopy {
    pub file_path: String,
    pub start_line: i64,
    pub end_line: i64,
}

/// A block of code found in two places (jscpd reports each pair of copies once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupPair {
    pub tokens: i64,
    pub lines: i64,
    pub first: DupCopy,
    pub second: DupCopy,
    /// The same for every pair of copies of one text: what groups the copies of a block.
    pub block_hash: String,
}

/// One file's share of duplicate code.
#[derive(Debug, Clone, PartialEq)]
pub struct DupFileStats {
    pub file_path: String,
    pub language: String,
    pub total_line_count: i64,
    pub duplicate_line_count: i64,
}

/// What a duplicate-code run found over the scanned files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DupReport {
    pub pairs: Vec<DupPair>,
    /// Every file that has a copy in it.
    pub files: Vec<DupFileStats>,
    /// Lines of every file measured, and how many of them are copies.
    pub total_line_count: i64,
    pub duplicate_line_count: i64,
}

impl DupReport {
    /// The duplicate rate in percent, as TCA's overview gives it.
    pub fn duplicate_rate(&self) -> f64 {
        rate(self.duplicate_line_count, self.total_line_count)
    }
}

/// `part` of `whole` in percent, two decimals; 0 for an empty whole.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 * 10000.0 / whole as f64).round() / 100.0
}

/// For each of `current`, the index in `previous` of the same function: the same file and long
/// name, the n-th of a name in a file matched to its n-th (Python methods of two classes in one
/// file share a long name).
pub fn match_previous(previous: &[CcFunction], current: &[CcFunction]) -> Vec<Option<usize>> {
    let mut by_name: HashMap<(&str, &str), VecDeque<usize>> = HashMap::new();
    for (index, function) in previous.iter().enumerate() {
        by_name
            .entry((&function.file_path, &function.long_name))
            .or_default()
            .push_back(index);
    }
    current
        .iter()
        .map(|function| {
            by_name
                .get_mut(&(function.file_path.as_str(), function.long_name.as_str()))?
                .pop_front()
        })
        .collect()
}

/// A file's functions over the threshold, as TCA's CyclomaticComplexityFile sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CcFileSummary {
    /// The complexity of its functions over the threshold, added up.
    pub over_func_cc: i64,
    /// By how much they pass the threshold, added up.
    pub over_cc_sum: i64,
    pub over_cc_avg: i64,
    pub over_cc_func_count: i64,
}

impl CcFileSummary {
    /// The summary of a file whose functions over `threshold` have these complexities.
    pub fn of(over_ccns: impl Iterator<Item = i64>, threshold: i64) -> CcFileSummary {
        let mut summary = CcFileSummary::default();
        for ccn in over_ccns {
            summary.over_func_cc += ccn;
            summary.over_cc_sum += ccn - threshold;
            summary.over_cc_func_count += 1;
        }
        if summary.over_cc_func_count > 0 {
            summary.over_cc_avg = summary.over_func_cc / summary.over_cc_func_count;
        }
        summary
    }

    /// Field by field, `self` less `before`.
    pub fn minus(&self, before: &CcFileSummary) -> CcFileSummary {
        CcFileSummary {
            over_func_cc: self.over_func_cc - before.over_func_cc,
            over_cc_sum: self.over_cc_sum - before.over_cc_sum,
            over_cc_avg: self.over_cc_avg - before.over_cc_avg,
            over_cc_func_count: self.over_cc_func_count - before.over_cc_func_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheme_names_the_languages_measured_and_files_are_told_by_extension() {
        let all = measured_languages(&[]);
        assert_eq!(all.len(), LANGUAGES.len());
        let python = measured_languages(&["python".to_string(), "c++".to_string()]);
        let names: Vec<&str> = python.iter().map(|language| language.name).collect();
        assert_eq!(names, ["python", "cpp"]);
        assert_eq!(language_of(&python, "src/a.PY"), Some("python"));
        assert_eq!(language_of(&python, "src/a.h"), Some("cpp"));
        assert_eq!(language_of(&python, "src/a.java"), None);
        assert_eq!(language_of(&python, "py"), None);
        assert_eq!(rate(1, 3), 33.33);
        assert_eq!(rate(5, 0), 0.0);
    }

    fn function(path: &str, long_name: &str, ccn: i64) -> CcFunction {
        CcFunction {
            file_path: path.to_string(),
            func_name: long_name.to_string(),
            long_name: long_name.to_string(),
            func_param_num: 0,
            ccn,
            code_line_num: 1,
            token: 1,
            line_num: 1,
            start_line_no: 1,
            end_line_no: 1,
            language: None,
        }
    }

    #[test]
    fn functions_match_by_file_and_name_in_order() {
        let previous = [
            function("a.py", "__init__( self )", 3),
            function("a.py", "__init__( self )", 4),
            function("b.py", "f( )", 30),
        ];
        let current = [
            function("a.py", "__init__( self )", 3),
            function("a.py", "__init__( self )", 9),
            function("a.py", "__init__( self )", 1),
            function("c.py", "f( )", 30),
        ];
        assert_eq!(
            match_previous(&previous, &current),
            [Some(0), Some(1), None, None]
        );
        let summary = CcFileSummary::of([25, 30].into_iter(), 20);
        assert_eq!(
            (
                summary.over_func_cc,
                summary.over_cc_sum,
                summary.over_cc_avg,
                summary.over_cc_func_count
            ),
            (55, 15, 27, 2)
        );
        assert_eq!(summary.minus(&summary), CcFileSummary::default());
    }
}
