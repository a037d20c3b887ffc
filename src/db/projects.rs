//! SQL for projects.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::{ProjectId, RepoId, SchemeId, UserId};
use crate::domain::project::{BranchName, Project, ScanPath};

const COLUMNS: &str =
    "p.id, p.repo_id, p.branch, p.scan_scheme_id, p.scan_path, p.status, p.created_from,
    u.nickname, p.scm_initial_revision, p.created_time, p.creator_id";
const FROM: &str = "FROM projects p LEFT JOIN users u ON u.id = p.creator_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: ProjectId(row.get(0)?),
        repo_id: RepoId(row.get(1)?),
        branch: BranchName::from_stored(row.get(2)?),
        scheme_id: SchemeId(row.get(3)?),
        scan_path: ScanPath::from_stored(row.get(4)?),
        status: row.get(5)?,
        created_from: row.get(6)?,
        creator: row.get(7)?,
        scm_initial_revision: row.get(8)?,
        created_time: row.get(9)?,
        creator_id: row.get::<_, Option<i64>>(10)?.map(UserId),
    })
}

/// What a client asks for, already checked.
pub struct NewProject<'a> {
    pub branch: &'a BranchName,
    pub scheme_id: SchemeId,
    pub scan_path: &'a ScanPath,
    pub project_key: &'a str,
    pub created_from: &'a str,
    pub creator: UserId,
    pub scm_initial_revision: Option<&'a str>,
}

pub fn insert(
    conn: &Connection,
    repo_id: RepoId,
    new_project: &NewProject<'_>,
) -> rusqlite::Result<ProjectId> {
    conn.execute(
        "INSERT INTO projects (repo_id, branch, scan_scheme_id, scan_path, project_key, created_from, creator_id,
             scm_initial_revision, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            repo_id.0,
            new_project.branch.as_str(),
            new_project.scheme_id.0,
            new_project.scan_path.as_str(),
            new_project.project_key,
            new_project.created_from,
            new_project.creator.0,
            new_project.scm_initial_revision,
            clock::now_stored()
        ],
    )?;
    Ok(ProjectId(conn.last_insert_rowid()))
}

/// The project with this key, deleted or not (keys stay unique).
pub fn get_by_key(conn: &Connection, project_key: &str) -> rusqlite::Result<Option<Project>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} {FROM} WHERE p.project_key = ?1 AND p.deleted_time IS NULL"),
        params![project_key],
        from_row,
    )
    .optional()
}

/// A project of `repo_id` that is not deleted.
pub fn get(
    conn: &Connection,
    repo_id: RepoId,
    project_id: ProjectId,
) -> rusqlite::Result<Option<Project>> {
    db::query_row(
        conn,
        &format!(
            "SELECT {COLUMNS} {FROM} WHERE p.id = ?1 AND p.repo_id = ?2 AND p.deleted_time IS NULL"
        ),
        params![project_id.0, repo_id.0],
        from_row,
    )
    .optional()
}

/// Filters of the project list (all exact).
#[derive(Debug, Default)]
pub struct ProjectFilter {
    pub branch: Option<String>,
    pub scan_scheme: Option<i64>,
    pub status: Option<i64>,
}

/// One page of the repository's projects, newest first, and the count of all that match.
pub fn list(
    conn: &Connection,
    repo_id: RepoId,
    filter: &ProjectFilter,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Project>)> {
    const WHERE: &str = "WHERE p.repo_id = ?1 AND p.deleted_time IS NULL
        AND (?2 IS NULL OR p.branch = ?2) AND (?3 IS NULL OR p.scan_scheme_id = ?3) AND (?4 IS NULL OR p.status = ?4)";
    let count = db::query_row(
        conn,
        &format!("SELECT COUNT(*) {FROM} {WHERE}"),
        params![repo_id.0, filter.branch, filter.scan_scheme, filter.status],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} {FROM} {WHERE} ORDER BY p.id DESC LIMIT ?5 OFFSET ?6"
    ))?;
    let projects = stmt
        .query_map(
            params![
                repo_id.0,
                filter.branch,
                filter.scan_scheme,
                filter.status,
                limit,
                offset
            ],
            from_row,
        )?
        .collect::<rusqlite::Result<Vec<Project>>>()?;
    Ok((count, projects))
}

/// A project by id alone (the scan engine already knows it exists).
pub fn get_by_id(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<Option<Project>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} {FROM} WHERE p.id = ?1"),
        params![project_id.0],
        from_row,
    )
    .optional()
}

/// Changes a project's status and scheme (and so its key).
pub fn update(
    conn: &Connection,
    project_id: ProjectId,
    status: i64,
    scheme_id: SchemeId,
    project_key: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE projects SET status = ?2, scan_scheme_id = ?3, project_key = ?4 WHERE id = ?1",
        params![project_id.0, status, scheme_id.0, project_key],
    )?;
    Ok(())
}

/// Soft-deletes a project: it becomes inactive and leaves its key free, so the same branch,
/// scheme and path can be made a project again (TCA clears the key).
pub fn delete(conn: &Connection, project_id: ProjectId) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE projects SET deleted_time = ?2, status = 2, project_key = 'deleted#' || id || '#' || project_key
         WHERE id = ?1 AND deleted_time IS NULL",
        params![project_id.0, clock::now_stored()],
    )?;
    Ok(changed == 1)
}

/// The branches of the repository's projects, by name, with an optional substring filter (any
/// case); one page and the count of all.
pub fn branch_names(
    conn: &Connection,
    repo_id: RepoId,
    contains: Option<&str>,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<String>)> {
    const WHERE: &str = "WHERE repo_id = ?1 AND deleted_time IS NULL
        AND (?2 IS NULL OR branch LIKE ?2 ESCAPE '\\')";
    let pattern = contains.map(crate::db::contains_pattern);
    let count = db::query_row(
        conn,
        &format!("SELECT COUNT(DISTINCT branch) FROM projects {WHERE}"),
        params![repo_id.0, pattern],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT branch FROM projects {WHERE} ORDER BY branch LIMIT ?3 OFFSET ?4"
    ))?;
    let branches = stmt
        .query_map(params![repo_id.0, pattern, limit, offset], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok((count, branches))
}

/// The repository's projects on `branches` with their scheme's name and status, by branch then
/// id: what TCA's branch lists show of each project.
pub fn on_branches(
    conn: &Connection,
    repo_id: RepoId,
    branches: &[String],
) -> rusqlite::Result<Vec<BranchProject>> {
    if branches.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; branches.len()].join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT p.id, p.branch, s.id, s.name, s.status FROM projects p
         JOIN scan_schemes s ON s.id = p.scan_scheme_id
         WHERE p.repo_id = ? AND p.deleted_time IS NULL AND p.branch IN ({marks})
         ORDER BY p.branch, p.id"
    ))?;
    let mut values = vec![rusqlite::types::Value::Integer(repo_id.0)];
    values.extend(
        branches
            .iter()
            .map(|branch| rusqlite::types::Value::Text(branch.clone())),
    );
    let projects = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            Ok(BranchProject {
                project_id: ProjectId(row.get(0)?),
                branch: row.get(1)?,
                scheme_id: SchemeId(row.get(2)?),
                scheme_name: row.get(3)?,
                scheme_status: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<BranchProject>>>()?;
    Ok(projects)
}

/// A project as the branch lists show it.
#[derive(Debug, Clone)]
pub struct BranchProject {
    pub project_id: ProjectId,
    pub branch: String,
    pub scheme_id: SchemeId,
    pub scheme_name: String,
    pub scheme_status: i64,
}
