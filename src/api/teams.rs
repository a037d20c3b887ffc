//! Teams and their members: `orgs/<org_sid>/teams/`, `.../teams/<team_name>/` and its `memberconf/`.

use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::api::blocking;
use crate::api::orgs::{read_member_change, resolve_usernames};
use crate::api::{org_scope, require, team_scope, views};
use crate::auth::Caller;
use crate::body::Body;
use crate::db;
use crate::domain::org;
use crate::envelope;
use crate::error::{AppError, E_TEAM_EXISTS};
use crate::AppState;

pub async fn create_team(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let tz = state.config.tz_offset;
    let team = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (org, access) = org_scope(&tx, &caller, &org_sid)?;
        require(access.can_view_org())?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let name = fields.required_str("name", 64);
        if !name.is_empty() {
            if let Err(message) = org::check_team_name(&name) {
                fields.reject("name", message);
            }
        }
        let display_name = fields
            .optional_str("display_name", 128)
            .filter(|n| !n.is_empty());
        let description = fields.optional_str("description", 512);
        fields.finish()?;
        let display_name = display_name.unwrap_or_else(|| name.clone());
        let team_id = db::teams::insert(
            &tx,
            org.id,
            &name,
            &display_name,
            description.as_deref(),
            caller.id,
        )
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                AppError::business(
                    E_TEAM_EXISTS,
                    format!("项目已存在: team {name} already exists in org {org_sid}"),
                )
            } else {
                error.into()
            }
        })?;
        let team = db::teams::get_by_id(&tx, team_id)?.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("team {team_id} vanished after insert"))
        })?;
        tx.commit()?;
        Ok(team)
    })
    .await?;
    Ok(envelope::created(views::team(&team, tz)))
}

/// The org's teams the caller can see (all of them for org admins), unpaginated as in TCA.
pub async fn list_teams(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let tz = state.config.tz_offset;
    let teams = blocking::run(&state.pool, move |conn| {
        let (org, access) = org_scope(conn, &caller, &org_sid)?;
        require(access.can_view_org())?;
        Ok(db::teams::list(
            conn,
            org.id,
            &caller,
            access.can_admin_org(),
        )?)
    })
    .await?;
    Ok(envelope::ok(
        teams
            .iter()
            .map(|team| views::team(team, tz))
            .collect::<Vec<Value>>(),
    ))
}

pub async fn get_team(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name) = path.into_inner();
    let tz = state.config.tz_offset;
    let team = blocking::run(&state.pool, move |conn| {
        let (_, team, _) = team_scope(conn, &caller, &org_sid, &team_name)?;
        Ok(team)
    })
    .await?;
    Ok(envelope::ok(views::team(&team, tz)))
}

pub async fn list_team_members(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name) = path.into_inner();
    let members = blocking::run(&state.pool, move |conn| {
        let (_, team, _) = team_scope(conn, &caller, &org_sid, &team_name)?;
        Ok(db::teams::members(conn, team.id)?)
    })
    .await?;
    Ok(envelope::ok(views::members(&members)))
}

/// Adds org members to the team (or changes their role); users outside the org are refused.
pub async fn add_team_members(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(String, String)>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name) = path.into_inner();
    let members = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (org, team, access) = team_scope(&tx, &caller, &org_sid, &team_name)?;
        require(access.can_admin_team())?;
        let (usernames, role) = read_member_change(&body.fields()?)?;
        let user_ids = resolve_usernames(&tx, &usernames)?;
        let mut outsiders = Vec::new();
        for (username, user_id) in usernames.iter().zip(&user_ids) {
            if db::orgs::role(&tx, org.id, *user_id)?.is_none() {
                outsiders.push(username.as_str());
            }
        }
        if !outsiders.is_empty() {
            return Err(AppError::invalid(
                "users",
                format!(
                    "not members of org {org_sid}: {}; add them to the org first",
                    outsiders.join(", ")
                ),
            ));
        }
        for user_id in user_ids {
            db::teams::set_role(&tx, team.id, user_id, role)?;
        }
        let members = db::teams::members(&tx, team.id)?;
        tx.commit()?;
        Ok(members)
    })
    .await?;
    Ok(envelope::ok(views::members(&members)))
}
