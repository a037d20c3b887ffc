//! Resolving the org and team named in a URL together with the caller's roles there, and the
//! projects a user may see across orgs (the status page's lists).

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use crate::db;
use crate::domain::access::Access;
use crate::domain::ids::{ProjectId, RepoId};
use crate::domain::org::{Org, Team};
use crate::domain::project::{BranchName, ProjectPlace};
use crate::domain::user::User;

/// The org `org_sid` and `user`'s roles in it; `None` when there is no such org.
pub fn for_org(
    conn: &Connection,
    user: &User,
    org_sid: &str,
) -> rusqlite::Result<Option<(Org, Access)>> {
    let Some((org, org_role)) = db::orgs::get_by_sid_with_role(conn, org_sid, user.id)? else {
        return Ok(None);
    };
    let access = Access {
        is_superuser: user.is_superuser,
        org_role,
        ..Access::default()
    };
    Ok(Some((org, access)))
}

/// The active team `team_name` of org `org_sid` and `user`'s roles around it; `None` when either
/// is missing (TCA answers 404 for both).
pub fn for_team(
    conn: &Connection,
    user: &User,
    org_sid: &str,
    team_name: &str,
) -> rusqlite::Result<Option<(Org, Team, Access)>> {
    let Some((org, access)) = for_org(conn, user, org_sid)? else {
        return Ok(None);
    };
    let Some((team, team_role)) = db::teams::get_with_role(conn, org.id, team_name, user.id)?
    else {
        return Ok(None);
    };
    let access = Access {
        team_role,
        ..access
    };
    Ok(Some((org, team, access)))
}

/// The joins that place a project `p` in its repository `r`, team `t` and org `o`.
pub const PLACE_JOINS: &str = "JOIN repos r ON r.id = p.repo_id
    JOIN teams t ON t.id = r.team_id JOIN orgs o ON o.id = t.org_id";

/// The columns `place_from_row` reads, over `PLACE_JOINS`. Its three `?` take the user's id.
pub const PLACE_COLUMNS: &str = "p.id, p.branch, r.id, r.name, r.scm_url, o.org_sid, t.name,
    (SELECT role FROM org_members WHERE org_id = o.id AND user_id = ?),
    (SELECT role FROM team_members WHERE team_id = t.id AND user_id = ?),
    r.creator_id IS NOT NULL AND r.creator_id = ?";

/// The values `PLACE_COLUMNS` takes, in order.
pub fn place_values(user: &User) -> Vec<Value> {
    vec![Value::Integer(user.id.0); 3]
}

/// A `ProjectPlace` from `PLACE_COLUMNS` starting at column `first`.
pub fn place_from_row(row: &Row<'_>, first: usize, user: &User) -> rusqlite::Result<ProjectPlace> {
    let role = |index: usize| db::role_at(row, first + index);
    Ok(ProjectPlace {
        project_id: ProjectId(row.get(first)?),
        branch: BranchName::from_stored(row.get(first + 1)?),
        repo_id: RepoId(row.get(first + 2)?),
        repo_name: row.get(first + 3)?,
        scm_url: row.get(first + 4)?,
        org_sid: row.get(first + 5)?,
        team_name: row.get(first + 6)?,
        access: Access {
            is_superuser: user.is_superuser,
            org_role: role(7)?,
            team_role: role(8)?,
            is_repo_creator: row.get(first + 9)?,
        },
    })
}

/// The projects `user` may see, as a condition over `PLACE_JOINS`, with its values: everything
/// for a superuser; otherwise the teams they belong to and every team of the orgs they
/// administer (`Access::can_view_team`). Deleted projects and repositories, disabled teams and
/// inactive orgs are left out, as the per-project endpoints answer 404 or 403 for them.
pub fn visible_projects(user: &User) -> (String, Vec<Value>) {
    let mut condition =
        "p.deleted_time IS NULL AND r.deleted_time IS NULL AND t.status = 1 AND o.status = 1"
            .to_string();
    if user.is_superuser {
        return (condition, Vec::new());
    }
    condition.push_str(
        " AND (t.id IN (SELECT team_id FROM team_members WHERE user_id = ?)
              OR o.id IN (SELECT org_id FROM org_members WHERE user_id = ? AND role = 1))",
    );
    (
        condition,
        vec![Value::Integer(user.id.0), Value::Integer(user.id.0)],
    )
}

/// Whether `user` may see the project (the rule of `visible_projects`).
pub fn can_see_project(
    conn: &Connection,
    user: &User,
    project_id: ProjectId,
) -> rusqlite::Result<bool> {
    let (visible, mut values) = visible_projects(user);
    values.insert(0, Value::Integer(project_id.0));
    conn.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM projects p {PLACE_JOINS} WHERE p.id = ? AND {visible})"
    ))?
    .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))
}

/// One page of the projects `user` may see, by org, team, repository and branch, and the count
/// of all of them.
pub fn list_visible_projects(
    conn: &Connection,
    user: &User,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<ProjectPlace>)> {
    let (visible, visible_values) = visible_projects(user);
    let count = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM projects p {PLACE_JOINS} WHERE {visible}"
        ))?
        .query_row(rusqlite::params_from_iter(visible_values.iter()), |row| {
            row.get(0)
        })?;
    let mut values = place_values(user);
    values.extend(visible_values);
    values.push(Value::Integer(limit));
    values.push(Value::Integer(offset));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PLACE_COLUMNS} FROM projects p {PLACE_JOINS} WHERE {visible}
         ORDER BY o.org_sid, t.name, r.name, r.id, p.branch, p.id LIMIT ? OFFSET ?"
    ))?;
    let places = stmt
        .query_map(rusqlite::params_from_iter(values.iter()), |row| {
            place_from_row(row, 0, user)
        })?
        .collect::<rusqlite::Result<Vec<ProjectPlace>>>()?;
    Ok((count, places))
}
