//! SQL for teams and their members.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::{OrgId, TeamId, UserId};
use crate::domain::org::{Members, Role, Team};
use crate::domain::user::User;

const COLUMNS: &str =
    "t.id, o.org_sid, t.name, t.display_name, t.description, t.status, t.created_time";
const FROM: &str = "FROM teams t JOIN orgs o ON o.id = t.org_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        id: TeamId(row.get(0)?),
        org_sid: row.get(1)?,
        name: row.get(2)?,
        display_name: row.get(3)?,
        description: row.get(4)?,
        status: row.get(5)?,
        created_time: row.get(6)?,
    })
}

/// Inserts a team; its creator becomes its admin. A taken name is a UNIQUE violation.
pub fn insert(
    conn: &Connection,
    org_id: OrgId,
    name: &str,
    display_name: &str,
    description: Option<&str>,
    creator: UserId,
) -> rusqlite::Result<TeamId> {
    conn.execute(
        "INSERT INTO teams (org_id, name, display_name, description, creator_id, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            org_id.0,
            name,
            display_name,
            description,
            creator.0,
            clock::now_stored()
        ],
    )?;
    let team_id = TeamId(conn.last_insert_rowid());
    set_role(conn, team_id, creator, Role::Admin)?;
    Ok(team_id)
}

/// An active team of an org, by name.
pub fn get(conn: &Connection, org_id: OrgId, name: &str) -> rusqlite::Result<Option<Team>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} {FROM} WHERE t.org_id = ?1 AND t.name = ?2 AND t.status = 1"),
        params![org_id.0, name],
        from_row,
    )
    .optional()
}

/// An active team of an org, by name, with `user_id`'s role in it, in one statement.
pub fn get_with_role(
    conn: &Connection,
    org_id: OrgId,
    name: &str,
    user_id: UserId,
) -> rusqlite::Result<Option<(Team, Option<Role>)>> {
    db::query_row(
        conn,
        &format!(
            "SELECT {COLUMNS}, (SELECT role FROM team_members WHERE team_id = t.id AND user_id = ?3)
             {FROM} WHERE t.org_id = ?1 AND t.name = ?2 AND t.status = 1"
        ),
        params![org_id.0, name, user_id.0],
        |row| Ok((from_row(row)?, db::role_at(row, 7)?)),
    )
    .optional()
}

pub fn get_by_id(conn: &Connection, team_id: TeamId) -> rusqlite::Result<Option<Team>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} {FROM} WHERE t.id = ?1"),
        params![team_id.0],
        from_row,
    )
    .optional()
}

/// The org's active teams `user` may see: all of them for `sees_all`, else those `user` is in.
pub fn list(
    conn: &Connection,
    org_id: OrgId,
    user: &User,
    sees_all: bool,
) -> rusqlite::Result<Vec<Team>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} {FROM} WHERE t.org_id = ?1 AND t.status = 1
           AND (?3 OR t.id IN (SELECT team_id FROM team_members WHERE user_id = ?2))
         ORDER BY t.id"
    ))?;
    let teams = stmt
        .query_map(params![org_id.0, user.id.0, sees_all], from_row)?
        .collect();
    teams
}

pub fn set_role(
    conn: &Connection,
    team_id: TeamId,
    user_id: UserId,
    role: Role,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES (?1, ?2, ?3)
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
        params![team_id.0, user_id.0, role as i64],
    )?;
    Ok(())
}

pub fn members(conn: &Connection, team_id: TeamId) -> rusqlite::Result<Members> {
    crate::db::orgs::members_of(conn, "team_members", "team_id", team_id.0)
}
