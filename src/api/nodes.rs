//! `orgs/<org>/nodes/` and `nodes/tags/`: TCA's analysis nodes. codepup runs its scans on its
//! own worker threads, so the one node there is is this server itself; it has no tags.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::api::query::{paginate_all, Query};
use crate::api::{blocking, org_scope, require};
use crate::auth::Caller;
use crate::clock;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// TCA's `Node.EnabledEnum`: 1 active, 2 offline; `Node.StateEnum`: 0 free, 1 busy.
const ACTIVE: i64 = 1;
const OFFLINE: i64 = 2;

/// Checks that the caller may see the org, then answers its nodes' page.
async fn org_visible(
    state: &web::Data<AppState>,
    caller: crate::domain::user::User,
    org_sid: String,
) -> Result<(), AppError> {
    blocking::run(&state.pool, move |conn| {
        let (_, access) = org_scope(conn, &caller, &org_sid)?;
        require(access.can_view_org())
    })
    .await
}

/// This server as TCA's node list shows a node: active while every scan worker runs, busy
/// while any runs a job, seen now.
pub async fn list_nodes(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let org_sid = path.into_inner();
    org_visible(&state, caller, org_sid.clone()).await?;
    let (alive, wanted) = state.queue.workers_alive();
    let busy = state.queue.workers_busy();
    let node = json!({
        "id": 1,
        "name": "codepup",
        "addr": state.config.bind,
        "uuid": null,
        "enabled": if alive == wanted { ACTIVE } else { OFFLINE },
        "state": i64::from(busy > 0),
        "last_beat_time": clock::display(&clock::now_stored(), state.config.tz_offset),
        "manager": null,
        "related_managers": [],
        "exec_tags": [],
        "tag": null,
        "org_sid": org_sid,
        "scan_workers": wanted,
        "scan_workers_alive": alive,
        "scan_workers_busy": busy,
    });
    Ok(envelope::ok(paginate_all(
        &request,
        &Query::from_request(&request),
        vec![node],
    )?))
}

/// The org's node tags: codepup's one node takes every job, so there are none.
pub async fn list_node_tags(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    org_visible(&state, caller, path.into_inner()).await?;
    Ok(envelope::ok(paginate_all(
        &request,
        &Query::from_request(&request),
        Vec::new(),
    )?))
}
