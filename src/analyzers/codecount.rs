//! `codecount` (module `codemetric`): line counts of a whole tree with the tokei library.

use std::path::Path;

use crate::domain::job::{LanguageCount, LineCounts};

/// What a count found: totals and the per-language breakdown (largest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Count {
    pub lines: LineCounts,
    pub languages: Vec<LanguageCount>,
}

/// Counts every file below `root` that tokei recognises. Ignore files and hidden files do not
/// hide anything: the tree is a checkout of exactly what the revision holds.
pub fn count(root: &Path) -> Count {
    let config = tokei::Config {
        hidden: Some(true),
        no_ignore: Some(true),
        no_ignore_parent: Some(true),
        no_ignore_dot: Some(true),
        no_ignore_vcs: Some(true),
        ..tokei::Config::default()
    };
    let mut languages = tokei::Languages::new();
    languages.get_statistics(&[root], &[], &config);
    let mut counts: Vec<LanguageCount> = languages
        .iter()
        .map(|(language_type, language)| {
            // Folds embedded languages (code blocks in Markdown, say) into their file's language.
            let summary = language.summarise();
            LanguageCount {
                name: language_type.name().to_string(),
                files: summary.reports.len() as i64,
                code: summary.code as i64,
                comment: summary.comments as i64,
                blank: summary.blanks as i64,
            }
        })
        .filter(|language| language.files > 0)
        .collect();
    counts.sort_by(|a, b| b.code.cmp(&a.code).then_with(|| a.name.cmp(&b.name)));
    let code = counts.iter().map(|l| l.code).sum::<i64>();
    let comment = counts.iter().map(|l| l.comment).sum::<i64>();
    let blank = counts.iter().map(|l| l.blank).sum::<i64>();
    Count {
        lines: LineCounts {
            code: Some(code),
            comment: Some(comment),
            blank: Some(blank),
            total: Some(code + comment + blank),
        },
        languages: counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_code_comments_and_blanks_per_language() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "# comment\nprint(1)\n\nprint(2)\n").unwrap();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        std::fs::write(dir.path().join(".hidden/b.rs"), "fn main() {}\n// c\n").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "*.rs\n").unwrap();
        let count = count(dir.path());
        assert_eq!(count.lines.code, Some(3));
        assert_eq!(count.lines.comment, Some(2));
        assert_eq!(count.lines.blank, Some(1));
        assert_eq!(count.lines.total, Some(6));
        let names: Vec<&str> = count.languages.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Python", "Rust"]);
    }
}
