//! Orgs and their members: `orgs/`, `orgs/<org_sid>/`, `orgs/<org_sid>/memberconf/`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::api::blocking;
use crate::api::query::{paginate_all, Query};
use crate::api::{org_scope, require, views};
use crate::auth::Caller;
use crate::body::{Body, Fields};
use crate::db;
use crate::domain::org::{self, Role};
use crate::envelope;
use crate::error::{AppError, E_ORG_EXISTS};
use crate::AppState;

pub async fn create_org(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let body = body.fields()?;
    let mut fields = body.reader();
    let name = fields.required_str("name", 128);
    let org_sid = fields
        .optional_str("org_sid", 64)
        .filter(|sid| !sid.is_empty());
    if let Some(Err(message)) = org_sid.as_deref().map(org::check_org_sid) {
        fields.reject("org_sid", message);
    }
    let description = fields.optional_str("description", 512);
    fields.finish()?;
    let tz = state.config.tz_offset;
    let org = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let org_sid = org_sid.unwrap_or_else(org::new_org_sid);
        db::orgs::insert(&tx, &org_sid, &name, description.as_deref(), caller.id).map_err(
            |error| {
                if db::is_unique_violation(&error) {
                    AppError::business(E_ORG_EXISTS, format!("org_sid {org_sid} is already taken"))
                } else {
                    error.into()
                }
            },
        )?;
        let org = db::orgs::get_by_sid(&tx, &org_sid)?.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("org {org_sid} vanished after insert"))
        })?;
        tx.commit()?;
        Ok(org)
    })
    .await?;
    Ok(envelope::created(views::org(&org, tz)))
}

/// An org with the counts TCA's `OrganizationSerializer` adds (`server/projects/main/apps/
/// authen/serializers/base_org.py`): its UI opens an org's workspace when `repo_count` is not 0,
/// else its team list.
fn org_with_counts(
    conn: &rusqlite::Connection,
    org: &crate::domain::org::Org,
    tz: time::UtcOffset,
) -> Result<Value, AppError> {
    let (team_count, repo_count, user_count) = db::orgs::counts(conn, org.id)?;
    let mut view = views::org(org, tz);
    view["team_count"] = team_count.into();
    view["repo_count"] = repo_count.into();
    view["user_count"] = user_count.into();
    Ok(view)
}

/// The caller's orgs, paginated as TCA's `OrganizationListApiView` (a DRF `ListCreateAPIView`
/// with the default pagination) answers.
pub async fn list_orgs(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let tz = state.config.tz_offset;
    let orgs = blocking::run(&state.pool, move |conn| {
        db::orgs::list_for_user(conn, &caller)?
            .iter()
            .map(|org| org_with_counts(conn, org, tz))
            .collect::<Result<Vec<Value>, AppError>>()
    })
    .await?;
    Ok(envelope::ok(paginate_all(
        &request,
        &Query::from_request(&request),
        orgs,
    )?))
}

pub async fn get_org(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let tz = state.config.tz_offset;
    let org = blocking::run(&state.pool, move |conn| {
        let (org, access) = org_scope(conn, &caller, &org_sid)?;
        require(access.can_view_org())?;
        org_with_counts(conn, &org, tz)
    })
    .await?;
    Ok(envelope::ok(org))
}

pub async fn list_org_members(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let members = blocking::run(&state.pool, move |conn| {
        let (org, access) = org_scope(conn, &caller, &org_sid)?;
        require(access.can_view_org())?;
        Ok(db::orgs::members(conn, org.id)?)
    })
    .await?;
    Ok(envelope::ok(views::members(&members)))
}

/// `{users: [username, ...], role: 1 admin | 2 member}`: adds the users, or changes their role.
pub async fn add_org_members(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    let members = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (org, access) = org_scope(&tx, &caller, &org_sid)?;
        require(access.can_admin_org())?;
        let (usernames, role) = read_member_change(&body.fields()?)?;
        for user_id in resolve_usernames(&tx, &usernames)? {
            db::orgs::set_role(&tx, org.id, user_id, role)?;
        }
        let members = db::orgs::members(&tx, org.id)?;
        tx.commit()?;
        Ok(members)
    })
    .await?;
    Ok(envelope::ok(views::members(&members)))
}

/// Reads a `memberconf` body: a non-empty user list and a role.
pub(crate) fn read_member_change(body: &Fields) -> Result<(Vec<String>, Role), AppError> {
    let mut fields = body.reader();
    let usernames = fields.optional_str_list("users", 150);
    let role = fields.optional_int("role", 1, 2);
    let usernames = match usernames {
        Some(list) if list.is_empty() => {
            fields.reject("users", "This list may not be empty.");
            Vec::new()
        }
        Some(list) => list,
        None => {
            if !body.has("users") {
                fields.reject("users", "This field is required.");
            }
            Vec::new()
        }
    };
    if role.is_none() && !body.has("role") {
        fields.reject("role", "This field is required.");
    }
    fields.finish()?;
    let role = role.and_then(Role::from_i64).unwrap_or(Role::Member);
    Ok((usernames, role))
}

/// The ids of `usernames`, or one 400 naming every unknown user.
pub(crate) fn resolve_usernames(
    conn: &rusqlite::Connection,
    usernames: &[String],
) -> Result<Vec<crate::domain::ids::UserId>, AppError> {
    let mut ids = Vec::with_capacity(usernames.len());
    let mut unknown = Vec::new();
    for username in usernames {
        match db::users::get_by_username(conn, username)? {
            Some(user) => ids.push(user.id),
            None => unknown.push(username.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::invalid(
            "users",
            format!("unknown users: {}", unknown.join(", ")),
        ));
    }
    Ok(ids)
}
