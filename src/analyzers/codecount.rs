//! `codecount` (module `codemetric`): line counts with the tokei library, kept per file so an
//! incremental scan can recount only what changed and still describe the whole tree.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::domain::job::{LanguageCount, LineCounts};

/// One file's count, without its path (the caller knows it), in 16 bytes: a scan may hold one
/// per file of a large tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lines {
    pub language: tokei::LanguageType,
    pub code: u32,
    pub comment: u32,
    pub blank: u32,
}

impl Lines {
    fn new(language: tokei::LanguageType, code: usize, comment: usize, blank: usize) -> Lines {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Lines {
            language,
            code: narrow(code),
            comment: narrow(comment),
            blank: narrow(blank),
        }
    }
}

/// The language tokei calls `name`, if tokei knows it (counts read back from the database).
pub fn language_named(name: &str) -> Option<tokei::LanguageType> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static NAMES: OnceLock<HashMap<&'static str, tokei::LanguageType>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            tokei::LanguageType::list()
                .iter()
                .map(|(language, _)| (language.name(), *language))
                .collect()
        })
        .get(name)
        .copied()
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

/// Whether a file may hold countable code, judged by its name alone: tokei knows its name or
/// extension, or it has no extension (a script may say what it is in a shebang line). Files
/// that fail this (images, archives, ...) are never read.
pub fn may_count(path: &str) -> bool {
    Path::new(path).extension().is_none() || language_by_name(path).is_some()
}

/// The language tokei gives a path by its file name or extension. tokei would look for a shebang
/// in a file of that name when there is no extension; the path is put below a directory that
/// cannot exist, so it never reads a file of the server's own.
fn language_by_name(path: &str) -> Option<tokei::LanguageType> {
    let nowhere = Path::new("/proc/codepup-no-such-directory").join(path);
    tokei::LanguageType::from_path(nowhere, &config())
}

/// Counts one file from its bytes (a blob read from git), or `None` when tokei does not know its
/// language. A file without an extension is recognised by its shebang line, as tokei does.
pub fn count_blob(path: &str, bytes: &[u8]) -> Option<Lines> {
    count_as(blob_language(path, bytes)?, bytes)
}

/// Counts the same bytes held by several files (`paths`: one blob at several places in a
/// tree), parsing them once per language the paths give: the counts of each path, in order.
pub fn count_shared_blob(paths: &[&str], bytes: &[u8]) -> Vec<Option<Lines>> {
    let mut counted: Vec<(tokei::LanguageType, Option<Lines>)> = Vec::new();
    paths
        .iter()
        .map(|path| {
            let language = blob_language(path, bytes)?;
            if let Some((_, lines)) = counted.iter().find(|(seen, _)| *seen == language) {
                return *lines;
            }
            let lines = count_as(language, bytes);
            counted.push((language, lines));
            lines
        })
        .collect()
}

/// The language of the file `path` holding `bytes`. By name only: tokei would read a file of
/// that relative path on the server's disk for its shebang; the blob's own first line is looked
/// at instead.
fn blob_language(path: &str, bytes: &[u8]) -> Option<tokei::LanguageType> {
    language_by_name(path).or_else(|| shebang_language(path, bytes))
}

fn count_as(language: tokei::LanguageType, bytes: &[u8]) -> Option<Lines> {
    // Folds embedded languages (code blocks in Markdown, say) into the file's language.
    let stats = language.parse_from_slice(bytes, &config()).summarise();
    Some(Lines::new(
        language,
        stats.code,
        stats.comments,
        stats.blanks,
    ))
}

/// Counts a file too large to hold whole from a stream of its bytes, line by line and in
/// bounded memory: blank lines, lines that start with one of the language's line-comment
/// markers (every non-blank line of a literate language, such as Markdown or plain text) as
/// comments, the rest as code. Block comments and embedded languages need tokei's parser, which
/// needs the whole file, so they count as code here. `None` when the language is unknown.
pub fn count_stream(path: &str, bytes: &mut impl Read) -> std::io::Result<Option<Lines>> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut filled = 0;
    // The first piece, for a shebang line.
    while filled < 256 {
        let n = bytes.read(&mut buffer[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let Some(language) =
        language_by_name(path).or_else(|| shebang_language(path, &buffer[..filled]))
    else {
        return Ok(None);
    };
    let mut lines = LineClassifier::new(language);
    lines.feed(&buffer[..filled]);
    loop {
        let n = bytes.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        lines.feed(&buffer[..n]);
    }
    let (code, comment, blank) = lines.finish();
    Ok(Some(Lines::new(language, code, comment, blank)))
}

/// Sorts lines into code, comments and blanks from a stream of bytes, keeping only the start of
/// the current line (enough to see a comment marker), however long the line is.
struct LineClassifier {
    literate: bool,
    markers: &'static [&'static str],
    /// The current line's first non-blank bytes.
    start: [u8; 16],
    len: usize,
    /// Whether the current line has any byte yet.
    open: bool,
    counts: (usize, usize, usize),
}

impl LineClassifier {
    fn new(language: tokei::LanguageType) -> LineClassifier {
        LineClassifier {
            literate: language.is_literate(),
            markers: language.line_comments(),
            start: [0; 16],
            len: 0,
            open: false,
            counts: (0, 0, 0),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                self.end_line();
                continue;
            }
            self.open = true;
            if self.len < self.start.len() && (self.len > 0 || !byte.is_ascii_whitespace()) {
                self.start[self.len] = byte;
                self.len += 1;
            }
        }
    }

    fn end_line(&mut self) {
        let start = &self.start[..self.len];
        if start.is_empty() {
            self.counts.2 += 1;
        } else if self.literate
            || self
                .markers
                .iter()
                .any(|marker| start.starts_with(marker.as_bytes()))
        {
            self.counts.1 += 1;
        } else {
            self.counts.0 += 1;
        }
        self.len = 0;
        self.open = false;
    }

    /// `(code, comment, blank)`, counting a last line without a newline.
    fn finish(mut self) -> (usize, usize, usize) {
        if self.open {
            self.end_line();
        }
        self.counts
    }
}

/// tokei reads a shebang from a file on disk; a blob has none, so its first line goes through a
/// small temporary file. Only extension-less files that start with `#!` get here.
fn shebang_language(path: &str, bytes: &[u8]) -> Option<tokei::LanguageType> {
    let name = Path::new(path).file_name()?.to_str()?;
    if name.contains('.') || !bytes.starts_with(b"#!") {
        return None;
    }
    let first_line = bytes.split(|b| *b == b'\n').next()?;
    let file = tempfile_with(first_line).ok()?;
    tokei::LanguageType::from_shebang(file.path())
}

fn tempfile_with(bytes: &[u8]) -> std::io::Result<TempFile> {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "codepup-shebang-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = std::fs::File::create(&path)?;
    file.write_all(bytes)?;
    Ok(TempFile(path))
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Adds up file counts into totals and a per-language breakdown.
pub fn summarise(files: impl IntoIterator<Item = Lines>) -> Count {
    let mut by_language: BTreeMap<&str, LanguageCount> = BTreeMap::new();
    for file in files {
        let name = file.language.name();
        let entry = by_language.entry(name).or_insert_with(|| LanguageCount {
            name: name.to_string(),
            files: 0,
            code: 0,
            comment: 0,
            blank: 0,
        });
        entry.files += 1;
        entry.code += i64::from(file.code);
        entry.comment += i64::from(file.comment);
        entry.blank += i64::from(file.blank);
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

    /// One file's count with its path, as the reference below gives it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct PathCount {
        path: String,
        language: String,
        code: i64,
        comment: i64,
        blank: i64,
    }

    impl PathCount {
        fn new(path: &str, lines: Lines) -> PathCount {
            PathCount {
                path: path.to_string(),
                language: lines.language.name().to_string(),
                code: lines.code.into(),
                comment: lines.comment.into(),
                blank: lines.blank.into(),
            }
        }

        fn lines(&self) -> Lines {
            Lines {
                language: language_named(&self.language).unwrap(),
                code: self.code as u32,
                comment: self.comment as u32,
                blank: self.blank as u32,
            }
        }
    }

    /// Counts every file tokei recognises below `dir` the way the tokei command counts a
    /// checkout, naming files relative to `dir`: the reference `count_blob` must agree with.
    fn count_tree(dir: &Path) -> Vec<PathCount> {
        let root = dir;
        let mut languages = tokei::Languages::new();
        languages.get_statistics(&[dir.to_path_buf()], &[], &config());
        let mut files = Vec::new();
        for (language_type, language) in languages.iter() {
            for report in &language.reports {
                // Folds embedded languages (code blocks in Markdown, say) into the file's language.
                let stats = report.stats.summarise();
                let path = report.name.strip_prefix(root).unwrap_or(&report.name);
                files.push(PathCount {
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

    #[test]
    fn counts_code_comments_and_blanks_per_language_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "# comment\nprint(1)\n\nprint(2)\n").unwrap();
        std::fs::create_dir(dir.path().join(".hidden")).unwrap();
        std::fs::write(dir.path().join(".hidden/b.rs"), "fn main() {}\n// c\n").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "*.rs\n").unwrap();
        let files = count_tree(dir.path());
        let count = summarise(files.iter().map(PathCount::lines));
        assert_eq!(count.lines.code, Some(3));
        assert_eq!(count.lines.comment, Some(2));
        assert_eq!(count.lines.blank, Some(1));
        assert_eq!(count.lines.total, Some(6));
        let names: Vec<&str> = count.languages.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Python", "Rust"]);
        let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(paths, [".hidden/b.rs", "a.py"]);
    }

    #[test]
    fn blobs_count_like_the_files_they_come_from() {
        let dir = tempfile::tempdir().unwrap();
        let python = b"# comment\nprint(1)\n\nprint(2)\n";
        std::fs::write(dir.path().join("a.py"), python).unwrap();
        let script = b"#!/usr/bin/env bash\n# c\necho hi\n";
        std::fs::write(dir.path().join("run"), script).unwrap();
        let mut from_files = count_tree(dir.path());
        from_files.sort_by(|a, b| a.path.cmp(&b.path));
        let from_blobs: Vec<PathCount> = [("a.py", &python[..]), ("run", &script[..])]
            .iter()
            .filter_map(|(path, bytes)| Some(PathCount::new(path, count_blob(path, bytes)?)))
            .collect();
        assert_eq!(language_named("Python"), Some(tokei::LanguageType::Python));
        assert_eq!(language_named("Klingon"), None);
        assert_eq!(from_blobs, from_files);
        assert_eq!(count_blob("notes.unknownext", b"x"), None);
        // One blob at several paths counts at each as it would alone.
        let paths = ["a.py", "copy/a.py", "run", "notes.unknownext", "a.rs"];
        let alone: Vec<Option<Lines>> = paths.iter().map(|p| count_blob(p, script)).collect();
        assert_eq!(count_shared_blob(&paths, script), alone);
        assert_eq!(alone[0], alone[1]);
        assert_ne!(alone[0], alone[2]);
    }

    #[test]
    fn streamed_files_count_blanks_line_comments_and_code_like_tokei_on_simple_files() {
        let python = b"# comment\nprint(1)\n\n   \n  # indented comment\nprint(2)";
        let streamed = |path: &str, bytes: &[u8]| count_stream(path, &mut &bytes[..]).unwrap();
        assert_eq!(streamed("a.py", python), count_blob("a.py", python));
        let text = b"one\n\ntwo\n";
        assert_eq!(streamed("notes.txt", text), count_blob("notes.txt", text));
        let script = b"#!/bin/sh\necho hi\n";
        assert_eq!(streamed("run", script), count_blob("run", script));
        assert_eq!(streamed("data.unknownext", b"x\n"), None);
        // Lines far longer than any buffer, and a file of nothing but newlines.
        let long = format!("{}\n# c\n", "x".repeat(200_000));
        let counted = streamed("long.py", long.as_bytes()).unwrap();
        assert_eq!((counted.code, counted.comment, counted.blank), (1, 1, 0));
        let newlines = vec![b'\n'; 300_000];
        let counted = streamed("empty.py", &newlines).unwrap();
        assert_eq!(
            (counted.code, counted.comment, counted.blank),
            (0, 0, 300_000)
        );
    }
}
