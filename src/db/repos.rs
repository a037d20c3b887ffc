//! SQL for repositories.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::{RepoId, TeamId, UserId};
use crate::domain::repo::{RecentActive, Repo, RepoStats, RepoUrl};

const COLUMNS: &str =
    "id, team_id, name, scm_url, fetch_url, ssh_url, scm_type, created_from, creator_id, created_time";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Repo> {
    Ok(Repo {
        id: RepoId(row.get(0)?),
        team_id: TeamId(row.get(1)?),
        name: row.get(2)?,
        scm_url: row.get(3)?,
        fetch_url: row.get(4)?,
        ssh_url: row.get(5)?,
        scm_type: row.get(6)?,
        created_from: row.get(7)?,
        creator_id: row.get::<_, Option<i64>>(8)?.map(UserId),
        created_time: row.get(9)?,
    })
}

/// What a client registers.
pub struct NewRepo<'a> {
    pub url: &'a RepoUrl,
    pub name: &'a str,
    pub ssh_url: Option<&'a str>,
    pub created_from: &'a str,
    pub creator: UserId,
}

/// Inserts a repository. A URL already registered in the team is a UNIQUE violation.
pub fn insert(
    conn: &Connection,
    team_id: TeamId,
    new_repo: &NewRepo<'_>,
) -> rusqlite::Result<RepoId> {
    conn.execute(
        "INSERT INTO repos (team_id, name, scm_url, fetch_url, ssh_url, created_from, creator_id, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            team_id.0,
            new_repo.name,
            new_repo.url.scm_url(),
            new_repo.url.fetch_url(),
            new_repo.ssh_url,
            new_repo.created_from,
            new_repo.creator.0,
            clock::now_stored()
        ],
    )?;
    Ok(RepoId(conn.last_insert_rowid()))
}

/// A repository of the team that is not deleted.
pub fn get(conn: &Connection, team_id: TeamId, repo_id: RepoId) -> rusqlite::Result<Option<Repo>> {
    db::query_row(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM repos WHERE id = ?1 AND team_id = ?2 AND deleted_time IS NULL"
        ),
        params![repo_id.0, team_id.0],
        from_row,
    )
    .optional()
}

/// Filters of the repository list.
#[derive(Debug, Default)]
pub struct RepoFilter {
    /// Case-insensitive substring of the name or the URL.
    pub scm_url_or_name: Option<String>,
    /// Exact normalised URL.
    pub scm_url: Option<String>,
}

/// One page of the team's repositories, newest first, and the count of all that match.
pub fn list(
    conn: &Connection,
    team_id: TeamId,
    filter: &RepoFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Repo>)> {
    const WHERE: &str = "WHERE team_id = ?1 AND deleted_time IS NULL
        AND (?2 IS NULL OR instr(lower(name), lower(?2)) > 0 OR instr(lower(scm_url), lower(?2)) > 0)
        AND (?3 IS NULL OR scm_url = ?3)";
    let count = db::query_row(
        conn,
        &format!("SELECT COUNT(*) FROM repos {WHERE}"),
        params![team_id.0, filter.scm_url_or_name, filter.scm_url],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM repos {WHERE} ORDER BY id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let repos = stmt
        .query_map(
            params![
                team_id.0,
                filter.scm_url_or_name,
                filter.scm_url,
                limit,
                offset
            ],
            from_row,
        )?
        .collect::<rusqlite::Result<Vec<Repo>>>()?;
    Ok((count, repos))
}

/// Branch, active scheme and job counts, and the job that started last, of one repository (as
/// TCA's repository serializer counts them).
pub fn stats(conn: &Connection, repo_id: RepoId) -> rusqlite::Result<RepoStats> {
    let (branch_count, scheme_count, job_count) = db::query_row(
        conn,
        "SELECT
            (SELECT COUNT(DISTINCT branch) FROM projects WHERE repo_id = ?1 AND deleted_time IS NULL),
            (SELECT COUNT(*) FROM scan_schemes WHERE repo_id = ?1 AND status = 1),
            (SELECT COUNT(*) FROM jobs j JOIN projects p ON p.id = j.project_id WHERE p.repo_id = ?1)",
        params![repo_id.0],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    let recent_active = conn
        .query_row(
            "SELECT p.id, p.branch, j.start_time, j.total_line_num, j.code_line_num
             FROM jobs j JOIN projects p ON p.id = j.project_id
             WHERE p.repo_id = ?1
             ORDER BY j.start_time IS NULL, j.start_time DESC, j.id DESC LIMIT 1",
            params![repo_id.0],
            |row| {
                Ok(RecentActive {
                    project_id: row.get(0)?,
                    branch_name: row.get(1)?,
                    active_time: row.get(2)?,
                    total_line_num: row.get(3)?,
                    code_line_num: row.get(4)?,
                })
            },
        )
        .optional()?;
    Ok(RepoStats {
        branch_count,
        scheme_count,
        job_count,
        recent_active,
    })
}

/// A repository by id alone (the scan engine already knows it exists).
pub fn get_by_id(conn: &Connection, repo_id: RepoId) -> rusqlite::Result<Option<Repo>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} FROM repos WHERE id = ?1"),
        params![repo_id.0],
        from_row,
    )
    .optional()
}
