//! SQL for the result cache: per-file results of the in-process analyzers (`file_results`),
//! shared by the projects of a repository, and the references each project's last stored scan
//! holds on them (`project_file_results`). A result no project refers to is deleted with the
//! last reference, so the cache never outgrows what the projects' latest scans describe.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::ids::{ProjectId, RepoId};

/// Which cache rows a call is about: one analyzer (`name@version`) of one project.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub repo_id: RepoId,
    pub project_id: ProjectId,
    pub analyzer: &'a str,
}

/// The project's references, a row at a time: path, blob id and result.
pub fn for_each_of_project(
    conn: &Connection,
    scope: Scope<'_>,
    mut each: impl FnMut(&str, &str, &str),
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, blob, result FROM project_file_results WHERE project_id = ?1 AND analyzer = ?2",
    )?;
    let mut rows = stmt.query(params![scope.project_id.0, scope.analyzer])?;
    while let Some(row) = rows.next()? {
        each(
            row.get_ref(0)?.as_str()?,
            row.get_ref(1)?.as_str()?,
            row.get_ref(2)?.as_str()?,
        );
    }
    Ok(())
}

/// Whether the repository's cache holds any result of the analyzer (a repository nobody scanned
/// with it yet needs no lookups).
pub fn any(conn: &Connection, scope: Scope<'_>) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM file_results WHERE repo_id = ?1 AND analyzer = ?2)",
    )?
    .query_row(params![scope.repo_id.0, scope.analyzer], |row| row.get(0))
}

/// What the repository's cache holds for `path` at `blob`, whichever project stored it.
pub fn lookup(
    conn: &Connection,
    scope: Scope<'_>,
    path: &str,
    blob: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT result FROM file_results
         WHERE repo_id = ?1 AND analyzer = ?2 AND path = ?3 AND blob = ?4",
    )?
    .query_row(
        params![scope.repo_id.0, scope.analyzer, path, blob],
        |row| row.get(0),
    )
    .optional()
}

/// Drops the project's references to `paths`, and each result no project refers to any more.
pub fn forget<'p>(
    conn: &Connection,
    scope: Scope<'_>,
    paths: impl IntoIterator<Item = &'p str>,
) -> rusqlite::Result<()> {
    let mut drop_reference = conn.prepare_cached(
        "DELETE FROM project_file_results WHERE project_id = ?1 AND analyzer = ?2 AND path = ?3
         RETURNING blob",
    )?;
    let mut prune = conn.prepare_cached(
        "DELETE FROM file_results
         WHERE repo_id = ?1 AND analyzer = ?2 AND path = ?3 AND blob = ?4
           AND NOT EXISTS (
             SELECT 1 FROM project_file_results r JOIN projects p ON p.id = r.project_id
             WHERE r.analyzer = ?2 AND r.path = ?3 AND r.blob = ?4 AND p.repo_id = ?1)",
    )?;
    for path in paths {
        let blob: Option<String> = drop_reference
            .query_row(params![scope.project_id.0, scope.analyzer, path], |row| {
                row.get(0)
            })
            .optional()?;
        if let Some(blob) = blob {
            prune.execute(params![scope.repo_id.0, scope.analyzer, path, blob])?;
        }
    }
    Ok(())
}

/// Makes the project refer to `path` at `blob` with `result`, also storing it in the
/// repository's cache when `fresh` (in place of one the cache holds but the analyzer could not
/// read back).
pub fn refer(
    conn: &Connection,
    scope: Scope<'_>,
    path: &str,
    blob: &str,
    result: &str,
    fresh: bool,
) -> rusqlite::Result<()> {
    if fresh {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO file_results (repo_id, analyzer, path, blob, result)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![scope.repo_id.0, scope.analyzer, path, blob, result])?;
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO project_file_results (project_id, analyzer, path, blob, result)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        scope.project_id.0,
        scope.analyzer,
        path,
        blob,
        result
    ])?;
    Ok(())
}

/// What separates an analyzer's name and version from a variant of its settings
/// (`codepup@2+0007`: the checker with some of its rules).
pub const VARIANT: char = '+';

/// Deletes the results and references of analyzers (or versions of them) not in `current`, in
/// any variant: a new checker version never reads an older one's results. Returns the rows
/// deleted.
pub fn prune_other_analyzers(conn: &Connection, current: &[&str]) -> rusqlite::Result<usize> {
    let list = serde_json::to_string(current).unwrap_or_else(|_| "[]".to_string());
    let mut deleted = 0;
    for table in ["file_results", "project_file_results"] {
        deleted += conn.execute(
            &format!(
                "DELETE FROM {table} WHERE (CASE WHEN instr(analyzer, ?2) > 0
                     THEN substr(analyzer, 1, instr(analyzer, ?2) - 1) ELSE analyzer END)
                 NOT IN (SELECT value FROM json_each(?1))"
            ),
            params![list, VARIANT.to_string()],
        )?;
    }
    Ok(deleted)
}

/// Drops the project's references to other variants of the scope's analyzer (the checker with
/// the rules the project's scheme ran before), and each result no project refers to any more.
pub fn forget_other_variants(conn: &Connection, scope: Scope<'_>) -> rusqlite::Result<()> {
    let Some((base, _)) = scope.analyzer.split_once(VARIANT) else {
        return Ok(());
    };
    // Every variant sorts between `base+` and `base,` (the next character): a range the
    // primary keys serve.
    let (low, high) = (format!("{base}{VARIANT}"), format!("{base},"));
    conn.prepare_cached(
        "DELETE FROM project_file_results
         WHERE project_id = ?1 AND analyzer >= ?2 AND analyzer < ?4 AND analyzer <> ?3",
    )?
    .execute(params![scope.project_id.0, low, scope.analyzer, high])?;
    conn.prepare_cached(
        "DELETE FROM file_results
         WHERE repo_id = ?1 AND analyzer >= ?2 AND analyzer < ?4 AND analyzer <> ?3
           AND NOT EXISTS (
             SELECT 1 FROM project_file_results r JOIN projects p ON p.id = r.project_id
             WHERE r.analyzer = file_results.analyzer AND r.path = file_results.path
               AND r.blob = file_results.blob AND p.repo_id = ?1)",
    )?
    .execute(params![scope.repo_id.0, low, scope.analyzer, high])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_other_analyzer_versions_are_deleted_with_their_references() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("r.db")).unwrap();
        // Foreign keys are not the point here: rows of a repository and project that exist.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for analyzer in ["codecount@1", "codecount@0", "gone@3"] {
            let scope = Scope {
                repo_id: RepoId(1),
                project_id: ProjectId(1),
                analyzer,
            };
            refer(&conn, scope, "a.rs", "abc", "x", true).unwrap();
        }
        assert_eq!(prune_other_analyzers(&conn, &["codecount@1"]).unwrap(), 4);
        let left: Vec<String> = conn
            .prepare("SELECT analyzer FROM file_results UNION ALL SELECT analyzer FROM project_file_results")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(left, ["codecount@1", "codecount@1"]);
    }

    fn analyzers(conn: &Connection, table: &str) -> Vec<String> {
        conn.prepare(&format!("SELECT analyzer FROM {table} ORDER BY analyzer"))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn variants_are_kept_with_their_analyzer_and_a_project_keeps_only_the_one_it_used_last() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open_single(&dir.path().join("r.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        // The projects of repository 1: a result stays while one of them refers to it.
        for project in [1, 2] {
            conn.execute(
                "INSERT INTO projects (id, repo_id, branch, scan_scheme_id, project_key, created_time)
                 VALUES (?1, 1, 'main', 1, ?1, 'now')",
                [project],
            )
            .unwrap();
        }
        let scope = |analyzer| Scope {
            repo_id: RepoId(1),
            project_id: ProjectId(1),
            analyzer,
        };
        for analyzer in [
            "codepup@2+0007",
            "codepup@2+01ff",
            "codepup@1+0007",
            "codepup@2-x",
        ] {
            refer(&conn, scope(analyzer), "a.rs", "abc", "x", true).unwrap();
        }
        // Another project still uses one of the variants.
        let other = Scope {
            project_id: ProjectId(2),
            ..scope("codepup@2+01ff")
        };
        refer(&conn, other, "a.rs", "abc", "x", false).unwrap();
        assert_eq!(prune_other_analyzers(&conn, &["codepup@2"]).unwrap(), 4);
        forget_other_variants(&conn, scope("codepup@2+0007")).unwrap();
        assert_eq!(
            analyzers(&conn, "project_file_results"),
            ["codepup@2+0007", "codepup@2+01ff"]
        );
        assert_eq!(
            analyzers(&conn, "file_results"),
            ["codepup@2+0007", "codepup@2+01ff"]
        );
        forget_other_variants(
            &conn,
            Scope {
                project_id: ProjectId(2),
                ..scope("codepup@2+0007")
            },
        )
        .unwrap();
        assert_eq!(analyzers(&conn, "file_results"), ["codepup@2+0007"]);
    }
}
