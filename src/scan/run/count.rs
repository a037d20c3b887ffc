//! The `codecount` task: line counts of the whole tree below the scan path, read from git's
//! objects, not from a checkout, through the result cache: a file whose path and blob the cache
//! knows keeps its counts (the same id means the same bytes), every other file is read and
//! counted, with tokei up to `--max-check-file-size`, line by line as a stream above it, and not
//! at all beyond `--max-count-file-size`. A full scan and an incremental one give the same
//! totals.

use std::path::Path;

use crate::analyzers::codecount::{self, Count, Lines};
use crate::config::format_size;
use crate::db::results::Scope;
use crate::scan::checkout::TreeEntry;
use crate::scan::per_file::{self, CacheUpdate, Fresh};
use crate::scan::run::notes::LeftOut;
use crate::scan::run::{git_stop, JobRun, Step};

/// The cache's name for this analyzer's results; bumped when counting changes.
pub const ANALYZER: &str = crate::db::cloc::COUNT_ANALYZER;

/// A finished count.
pub struct Counted<'t> {
    pub count: Count,
    pub update: CacheUpdate<'t>,
    pub left_out: LeftOut,
    /// Files whose counts came from the cache.
    pub reused: usize,
    /// How long the cache lookup and the reading took.
    pub timings: (std::time::Duration, std::time::Duration),
}

impl Counted<'_> {
    pub fn describe(&self) -> String {
        format!(
            "counted {} files, reused the counts of {} unchanged ones (cache lookup {} ms, reading and counting {} ms)",
            self.update.fresh.len(),
            self.reused,
            self.timings.0.as_millis(),
            self.timings.1.as_millis()
        )
    }
}

/// Counts the lines of `tree` at the job's revision.
pub fn count_lines<'t>(run: &JobRun, cache: &Path, tree: &'t [TreeEntry]) -> Step<Counted<'t>> {
    let limits = run.shared.limits;
    let scope = Scope {
        repo_id: run.repo.id,
        project_id: run.project.id,
        analyzer: ANALYZER,
    };
    let countable = |entry: &TreeEntry| codecount::may_count(&entry.path);
    let wanted = |entry: &TreeEntry| countable(entry) && entry.size <= limits.max_count_file_size;
    let mut lines: Vec<Lines> = Vec::new();
    let started = std::time::Instant::now();
    let lookup = per_file::lookup(run.store(), scope, tree, wanted, |_, text| {
        decode(text).map(|counted| lines.extend(counted)).is_some()
    })?;
    let looked_up = started.elapsed();
    let max_whole = limits.max_check_file_size;
    // Up to `max_whole` a blob is read whole and counted by tokei, above it counted as a stream.
    let whole = |entry: &TreeEntry| entry.size <= max_whole;
    // A blob at several paths (a vendored copy, an empty `__init__.py`) is read once.
    let twins = per_file::Twins::of(&lookup.misses, whole);
    let read = per_file::read_parallel(cache, &twins.unique, max_whole, |entry, blob| {
        // A read that failed is git's failure: `read_parallel` returns it.
        if !whole(entry) {
            let counted = codecount::count_stream(&entry.path, blob).ok()?;
            return Some(vec![(entry, counted)]);
        }
        let bytes = blob.read_all().ok()?;
        let entries = twins.with(entry);
        let paths: Vec<&str> = entries.iter().map(|entry| &*entry.path).collect();
        let counted = codecount::count_shared_blob(&paths, &bytes);
        Some(entries.into_iter().zip(counted).collect::<Vec<_>>())
    })
    .map_err(git_stop)?;
    let read: Vec<(&TreeEntry, Option<Lines>)> =
        read.into_iter().flat_map(|(_, counted)| counted).collect();
    let timings = (looked_up, started.elapsed() - looked_up);
    let count = codecount::summarise(
        lines
            .iter()
            .copied()
            .chain(read.iter().filter_map(|(_, counted)| *counted)),
    );
    let mut left_out = LeftOut::default();
    left_out.add(
        &format!(
            "counted {{}} over {} line by line (blank, line comments, code)",
            format_size(max_whole)
        ),
        read.iter()
            .filter(|(entry, counted)| counted.is_some() && !whole(entry))
            .map(|(entry, _)| entry.path.to_string())
            .collect(),
    );
    left_out.add(
        &format!(
            "skipped {{}} over {} (not read, not counted)",
            format_size(limits.max_count_file_size)
        ),
        tree.iter()
            .filter(|entry| countable(entry) && !wanted(entry))
            .map(|entry| entry.path.to_string())
            .collect(),
    );
    let mut update = lookup.update;
    update.fresh = read
        .into_iter()
        .map(|(entry, counted)| (entry, Fresh::Text(encode(counted))))
        .collect();
    Ok(Counted {
        count,
        update,
        left_out,
        reused: lookup.hits,
        timings,
    })
}

/// A file's counts as the cache keeps them: `language code comment blank`, or `-` for a file
/// tokei does not count.
fn encode(counted: Option<Lines>) -> String {
    match counted {
        Some(lines) => format!(
            "{}\t{}\t{}\t{}",
            lines.language.name(),
            lines.code,
            lines.comment,
            lines.blank
        ),
        None => "-".to_string(),
    }
}

/// The counts `encode` wrote (`Some(None)` for a file not counted); `None` when the text cannot
/// be read back, say a language tokei no longer knows.
fn decode(text: &str) -> Option<Option<Lines>> {
    if text == "-" {
        return Some(None);
    }
    let mut fields = text.split('\t');
    let language = codecount::language_named(fields.next()?)?;
    let mut number = || fields.next()?.parse::<u32>().ok();
    let (code, comment, blank) = (number()?, number()?, number()?);
    Some(Some(Lines {
        language,
        code,
        comment,
        blank,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_back_as_they_were_written() {
        let lines = Lines {
            language: tokei::LanguageType::Rust,
            code: 10,
            comment: 2,
            blank: 3,
        };
        assert_eq!(decode(&encode(Some(lines))), Some(Some(lines)));
        assert_eq!(decode(&encode(None)), Some(None));
        assert_eq!(decode("NoSuchLanguage\t1\t2\t3"), None);
        assert_eq!(decode("Rust\t1\t2"), None);
    }
}
