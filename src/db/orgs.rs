//! SQL for orgs and their members.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::{Members, Org, Role};
use crate::domain::user::User;

const COLUMNS: &str = "o.id, o.org_sid, o.name, o.description, o.status, o.level, o.certificated, u.username, o.created_time";
const FROM: &str = "FROM orgs o LEFT JOIN users u ON u.id = o.owner_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: OrgId(row.get(0)?),
        org_sid: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        status: row.get(4)?,
        level: row.get(5)?,
        certificated: row.get(6)?,
        owner: row.get(7)?,
        created_time: row.get(8)?,
    })
}

/// Inserts an org; its owner becomes its admin. Fails with a UNIQUE violation on a taken `org_sid`.
pub fn insert(
    conn: &Connection,
    org_sid: &str,
    name: &str,
    description: Option<&str>,
    owner: UserId,
) -> rusqlite::Result<OrgId> {
    conn.execute(
        "INSERT INTO orgs (org_sid, name, description, owner_id, created_time) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![org_sid, name, description, owner.0, clock::now_stored()],
    )?;
    let org_id = OrgId(conn.last_insert_rowid());
    set_role(conn, org_id, owner, Role::Admin)?;
    Ok(org_id)
}

pub fn get_by_sid(conn: &Connection, org_sid: &str) -> rusqlite::Result<Option<Org>> {
    db::query_row(
        conn,
        &format!("SELECT {COLUMNS} {FROM} WHERE o.org_sid = ?1"),
        params![org_sid],
        from_row,
    )
    .optional()
}

/// The org `org_sid` with `user_id`'s role in it, in one statement (every team-scoped request
/// resolves its org this way).
pub fn get_by_sid_with_role(
    conn: &Connection,
    org_sid: &str,
    user_id: UserId,
) -> rusqlite::Result<Option<(Org, Option<Role>)>> {
    db::query_row(
        conn,
        &format!(
            "SELECT {COLUMNS}, (SELECT role FROM org_members WHERE org_id = o.id AND user_id = ?2)
             {FROM} WHERE o.org_sid = ?1"
        ),
        params![org_sid, user_id.0],
        |row| Ok((from_row(row)?, db::role_at(row, 9)?)),
    )
    .optional()
}

/// The orgs `user` belongs to (every org for a superuser), oldest first.
pub fn list_for_user(conn: &Connection, user: &User) -> rusqlite::Result<Vec<Org>> {
    let sql = if user.is_superuser {
        format!("SELECT {COLUMNS} {FROM} WHERE ?1 = ?1 ORDER BY o.id")
    } else {
        format!(
            "SELECT {COLUMNS} {FROM} WHERE o.id IN (SELECT org_id FROM org_members WHERE user_id = ?1) ORDER BY o.id"
        )
    };
    let mut stmt = conn.prepare(&sql)?;
    let orgs = stmt.query_map(params![user.id.0], from_row)?.collect();
    orgs
}

pub fn role(conn: &Connection, org_id: OrgId, user_id: UserId) -> rusqlite::Result<Option<Role>> {
    let role = db::query_row(
        conn,
        "SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?2",
        params![org_id.0, user_id.0],
        |row| db::role_at(row, 0),
    )
    .optional()?;
    Ok(role.flatten())
}

/// Gives `user_id` the role `role` in the org, replacing any role it had.
pub fn set_role(
    conn: &Connection,
    org_id: OrgId,
    user_id: UserId,
    role: Role,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO org_members (org_id, user_id, role) VALUES (?1, ?2, ?3)
         ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        params![org_id.0, user_id.0, role as i64],
    )?;
    Ok(())
}

pub fn members(conn: &Connection, org_id: OrgId) -> rusqlite::Result<Members> {
    members_of(conn, "org_members", "org_id", org_id.0)
}

/// Members of an org or a team, split by role, in username order.
pub(crate) fn members_of(
    conn: &Connection,
    table: &str,
    key: &str,
    id: i64,
) -> rusqlite::Result<Members> {
    let mut stmt = conn.prepare(&format!(
        "SELECT m.role, u.id, u.username, u.nickname, u.is_superuser, u.is_active
         FROM {table} m JOIN users u ON u.id = m.user_id WHERE m.{key} = ?1 ORDER BY u.username"
    ))?;
    let mut members = Members::default();
    let mut rows = stmt.query(params![id])?;
    while let Some(row) = rows.next()? {
        let user = User {
            id: UserId(row.get(1)?),
            username: row.get(2)?,
            nickname: row.get(3)?,
            is_superuser: row.get(4)?,
            is_active: row.get(5)?,
        };
        match Role::from_i64(row.get(0)?) {
            Some(Role::Admin) => members.admins.push(user),
            _ => members.users.push(user),
        }
    }
    Ok(members)
}

/// What TCA's org record counts: active teams, the repositories of active teams, members.
pub fn counts(conn: &Connection, org_id: OrgId) -> rusqlite::Result<(i64, i64, i64)> {
    conn.prepare_cached(
        "SELECT (SELECT COUNT(*) FROM teams WHERE org_id = ?1 AND status = 1),
                (SELECT COUNT(*) FROM repos r JOIN teams t ON t.id = r.team_id
                 WHERE t.org_id = ?1 AND t.status = 1),
                (SELECT COUNT(*) FROM org_members WHERE org_id = ?1)",
    )?
    .query_row(params![org_id.0], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    })
}
