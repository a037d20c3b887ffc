//! `codecount` (module `codemetric`): line counts with the tokei library, kept per file so an
//! incremental scan can recount only what changed and still describe the whole tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::domain::job::{LanguageCount, LineCounts};

/// One file's count. `path` is relative to the repository root, as git names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCount {
    pub path: String,
    pub language: String,
    pub code: i64,
    pub comment: i64,
    pub blank: i64,
}

/// Totals and the per-language breakdown (largest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Count {
    pub lines: LineCounts,
    pub languages: Vec<LanguageCount>,
}

fn config() -> tokei::Config {
    // Ignore files and hidden files hide nothing: a checkout holds exactly what the revision holds.
    tokei::Config {
        hidden: Some(true),
        no_ignore: Some(true),
        no_ignore_parent: Some(true),
        no_ignore_dot: Some(true),
        no_ignore_vcs: Some(true),
        ..tokei::Config::default()
    }
}

/// Counts every file tokei recognises below `dir`, naming files relative to `root`.
pub fn count_tree(root: &Path, dir: &Path) -> Vec<FileCount> {
    count_paths(root, &[dir.to_path_buf()])
}

/// Counts the given files (relative to `root`); files tokei does not recognise are skipped.
pub fn count_files(root: &Path, paths: &[String]) -> Vec<FileCount> {
    let paths: Vec<PathBuf> = paths
        .iter()
        .map(|path| root.join(path))
        .filter(|path| path.is_file())
        .collect();
    if paths.is_empty() {
        return Vec::new();
    }
    count_paths(root, &paths)
}

fn count_paths(root: &Path, paths: &[PathBuf]) -> Vec<FileCount> {
    let mut languages = tokei::Languages::new();
    languages.get_statistics(paths, &[], &config());
    let mut files = Vec::new();
    for (language_type, language) in languages.iter() {
        for report in &language.reports {
            // Folds embedded languages (code blocks in Markdown, say) into the file's language.
            let stats = report.stats.summarise();
            let path = report.name.strip_prefix(root).unwrap_or(&report.name);
            files.push(FileCount {
                path: path.to_string_lossy().into_owned(),
                language: language_type.name().to_string(),
                code: stats.code as i64,
                comment: stats.comments as i64,
                blank: stats.blanks as i64,
            });
        }
    }
    files
}

/// Adds up file counts into totals and a per-language breakdown.
pub fn summarise<'a>(files: impl IntoIterator<Item = &'a FileCount>) -> Count {
    let mut by_language: BTreeMap<&str, LanguageCount> = BTreeMap::new();
    for file in files {
        let entry = by_language
            .entry(&file.language)
            .or_insert_with(|| LanguageCount {
                name: file.language.clone(),
                files: 0,
                code: 0,
                comment: 0,
                blank: 0,
            });
        entry.files += 1;
        entry.code += file.code;
        entry.comment += file.comment;
        entry.blank += file.blank;
    }
    let mut languages: Vec<LanguageCount> = by_language.into_values().collect();
    languages.sort_by(|a, b| b.code.cmp(&a.code).then_with(|| a.name.cmp(&b.name)));
    let code = languages.iter().map(|l| l.code).sum::<i64>();
    let comment = languages.iter().map(|l| l.comment).sum::<i64>();
    let blank = languages.iter().map(|l| l.blank).sum::<i64>();
    Count {
        lines: LineCounts {
            code: Some(code),
            comment: Some(comment),
            blank: Some(blank),
            total: Some(code + comment + blank),
        },
        languages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_code_comments_and_blanks_per_language_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "# comment\nprint(1)\n\nprint(2)\n").unwrap();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        std::fs::write(dir.path().join(".hidden/b.rs"), "fn main() {}\n// c\n").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "*.rs\n").unwrap();
        let files = count_tree(dir.path(), dir.path());
        let count = summarise(&files);
        assert_eq!(count.lines.code, Some(3));
        assert_eq!(count.lines.comment, Some(2));
        assert_eq!(count.lines.blank, Some(1));
        assert_eq!(count.lines.total, Some(6));
        let names: Vec<&str> = count.languages.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Python", "Rust"]);
        let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(paths, [".hidden/b.rs", "a.py"]);

        let some = count_files(dir.path(), &["a.py".to_string(), "gone.py".to_string()]);
        assert_eq!(some.len(), 1);
        assert_eq!((some[0].path.as_str(), some[0].code), ("a.py", 2));
    }
}
