//! Line counts per file, directory and language for TCA's `codemetric/clocfiles/`, `clocs/` and
//! `cloclangs/`: the counts of the project's last line count, read from the result cache's
//! references (`project_file_results`, which hold each file's counts of the project's last
//! stored scan) and the job's per-language rows. Knows nothing of HTTP.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::ids::{JobId, ProjectId};

/// The result cache's name for line counts (`scan::run::count` writes under it); bumped when
/// counting changes.
pub const COUNT_ANALYZER: &str = "codecount@1";

/// One counted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLines {
    pub path: String,
    pub language: String,
    pub code: i64,
    pub comment: i64,
    pub blank: i64,
}

/// A file's counts as `scan::run::count` encodes them (`language code comment blank`); `None`
/// for a file it did not count (`-`) or text it did not write.
fn decode(path: &str, text: &str) -> Option<FileLines> {
    let mut fields = text.split('\t');
    let language = fields.next().filter(|name| *name != "-")?.to_string();
    let mut number = || fields.next()?.parse::<i64>().ok();
    let (code, comment, blank) = (number()?, number()?, number()?);
    Some(FileLines {
        path: path.to_string(),
        language,
        code,
        comment,
        blank,
    })
}

/// The project's job whose line counts are the latest (what the cache's references describe).
pub fn latest_counted_job(
    conn: &Connection,
    project_id: ProjectId,
) -> rusqlite::Result<Option<(JobId, Option<i64>)>> {
    conn.prepare_cached(
        "SELECT id, scan_id FROM jobs WHERE project_id = ?1 AND total_line_num IS NOT NULL
         ORDER BY id DESC LIMIT 1",
    )?
    .query_row([project_id.0], |row| Ok((JobId(row.get(0)?), row.get(1)?)))
    .optional()
}

/// One page of the project's counted files in path order whose path contains `path_part`, and
/// how many there are.
pub fn files(
    conn: &Connection,
    project_id: ProjectId,
    path_part: Option<&str>,
    (limit, offset): (i64, i64),
) -> rusqlite::Result<(i64, Vec<FileLines>)> {
    const WHERE: &str = "project_id = ?1 AND analyzer = ?2 AND result <> '-'
                         AND (?3 IS NULL OR instr(path, ?3) > 0)";
    let count = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM project_file_results WHERE {WHERE}"
        ))?
        .query_row(params![project_id.0, COUNT_ANALYZER, path_part], |row| {
            row.get(0)
        })?;
    let mut statement = conn.prepare_cached(&format!(
        "SELECT path, result FROM project_file_results WHERE {WHERE}
         ORDER BY path LIMIT ?4 OFFSET ?5"
    ))?;
    let rows = statement.query_map(
        params![project_id.0, COUNT_ANALYZER, path_part, limit, offset],
        |row| Ok(decode(row.get_ref(0)?.as_str()?, row.get_ref(1)?.as_str()?)),
    )?;
    let files = rows
        .filter_map(|row| row.transpose())
        .collect::<rusqlite::Result<_>>()?;
    Ok((count, files))
}

/// Calls `each` with every counted file of the project below directory `dir` ("" for all), in
/// path order, a row at a time.
pub fn for_each_file_below(
    conn: &Connection,
    project_id: ProjectId,
    dir: &str,
    mut each: impl FnMut(FileLines),
) -> rusqlite::Result<()> {
    // Paths below `dir/` sort from `dir/` up to `dir0` ('0' follows '/').
    let (low, high) = if dir.is_empty() {
        (String::new(), "\u{10FFFF}".to_string())
    } else {
        (format!("{dir}/"), format!("{dir}0"))
    };
    let mut statement = conn.prepare_cached(
        "SELECT path, result FROM project_file_results
         WHERE project_id = ?1 AND analyzer = ?2 AND path >= ?3 AND path < ?4 ORDER BY path",
    )?;
    let mut rows = statement.query(params![project_id.0, COUNT_ANALYZER, low, high])?;
    while let Some(row) = rows.next()? {
        if let Some(file) = decode(row.get_ref(0)?.as_str()?, row.get_ref(1)?.as_str()?) {
            each(file);
        }
    }
    Ok(())
}

/// One language of a job's line count, with its row's id.
#[derive(Debug, Clone)]
pub struct LanguageLines {
    pub id: i64,
    pub name: String,
    pub files: i64,
    pub code: i64,
    pub comment: i64,
    pub blank: i64,
}

/// A page of a job's languages, most code first, and how many there are.
pub fn languages(
    conn: &Connection,
    job_id: JobId,
    (limit, offset): (i64, i64),
) -> rusqlite::Result<(i64, Vec<LanguageLines>)> {
    let count = conn
        .prepare_cached("SELECT COUNT(*) FROM job_languages WHERE job_id = ?1")?
        .query_row([job_id.0], |row| row.get(0))?;
    let mut statement = conn.prepare_cached(
        "SELECT rowid, language, files, code, comment, blank FROM job_languages WHERE job_id = ?1
         ORDER BY code DESC, language LIMIT ?2 OFFSET ?3",
    )?;
    let rows = statement.query_map(params![job_id.0, limit, offset], |row| {
        Ok(LanguageLines {
            id: row.get(0)?,
            name: row.get(1)?,
            files: row.get(2)?,
            code: row.get(3)?,
            comment: row.get(4)?,
            blank: row.get(5)?,
        })
    })?;
    Ok((count, rows.collect::<rusqlite::Result<_>>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_counts_the_line_counter_writes() {
        let file = decode("src/a.rs", "Rust\t10\t2\t3").unwrap();
        assert_eq!((file.code, file.comment, file.blank), (10, 2, 3));
        assert_eq!(file.language, "Rust");
        assert_eq!(decode("a.bin", "-"), None);
        assert_eq!(decode("a.rs", "Rust\t1\t2"), None);
    }
}
