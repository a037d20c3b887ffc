//! Resolving the org and team named in a URL together with the caller's roles there.

use rusqlite::Connection;

use crate::db;
use crate::domain::access::Access;
use crate::domain::org::{Org, Team};
use crate::domain::user::User;

/// The org `org_sid` and `user`'s roles in it; `None` when there is no such org.
pub fn for_org(
    conn: &Connection,
    user: &User,
    org_sid: &str,
) -> rusqlite::Result<Option<(Org, Access)>> {
    let Some(org) = db::orgs::get_by_sid(conn, org_sid)? else {
        return Ok(None);
    };
    let access = Access {
        is_superuser: user.is_superuser,
        org_role: db::orgs::role(conn, org.id, user.id)?,
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
    let Some(team) = db::teams::get(conn, org.id, team_name)? else {
        return Ok(None);
    };
    let access = Access {
        team_role: db::teams::role(conn, team.id, user.id)?,
        ..access
    };
    Ok(Some((org, team, access)))
}
