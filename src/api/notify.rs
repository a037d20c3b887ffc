//! Notifications out: the webhooks of an org (`orgs/<org>/webhooks/`), a team
//! (`.../teams/<team>/webhooks/`) and a project (`.../projects/<id>/webhooks/`), their
//! deliveries and redelivery. The same handlers serve the three levels: the URL's names say
//! which. Members of the org (org level) or team (team and project level) may read; org admins
//! (org level) and team or org admins (team and project level, as for a repository's push
//! webhook) may manage. Readers who may not manage see the URL without its path.

use actix_web::{web, HttpRequest, HttpResponse};
use rusqlite::Connection;
use serde_json::{json, Value};
use time::UtcOffset;

use crate::api::query::{paginated, Query};
use crate::api::{blocking, org_scope, origin, project_scope, require, team_scope};
use crate::auth::Caller;
use crate::body::Body;
use crate::clock;
use crate::db;
use crate::domain::access::Access;
use crate::domain::ids::{ProjectId, RepoId};
use crate::domain::notify::{
    non_public_reason, Attempt, Delivery, Event, Format, Level, LinkBase, TargetUrl, Webhook,
};
use crate::domain::user::User;
use crate::envelope;
use crate::error::AppError;
use crate::AppState;

/// How many deliveries each webhook shows in the webhook list and its own record.
const SHOWN_DELIVERIES: i64 = 5;

/// The names in a webhook URL, read by name so one handler serves all three levels.
#[derive(Debug, Clone)]
struct LevelPath {
    org_sid: String,
    team_name: Option<String>,
    repo_id: Option<i64>,
    project_id: Option<i64>,
    webhook_id: Option<i64>,
    delivery_id: Option<i64>,
}

impl LevelPath {
    fn from_request(request: &HttpRequest) -> Result<LevelPath, AppError> {
        let info = request.match_info();
        // The routes allow digits only; too many of them is a 404, as for every other id.
        let number = |name: &str| -> Result<Option<i64>, AppError> {
            info.get(name)
                .map(|text| {
                    text.parse::<i64>()
                        .map_err(|_| AppError::not_found(format!("route {}", request.path())))
                })
                .transpose()
        };
        Ok(LevelPath {
            org_sid: info.get("org_sid").unwrap_or_default().to_string(),
            team_name: info.get("team_name").map(str::to_string),
            repo_id: number("repo_id")?,
            project_id: number("project_id")?,
            webhook_id: number("webhook_id")?,
            delivery_id: number("delivery_id")?,
        })
    }
}

/// The level the URL names (404 for what is missing, 403 for a caller who may not read it) and
/// whether the caller may manage its webhooks.
fn resolve(conn: &Connection, caller: &User, path: &LevelPath) -> Result<(Level, bool), AppError> {
    let (level, access): (Level, Access) = match (&path.team_name, path.repo_id, path.project_id) {
        (Some(team_name), Some(repo_id), Some(project_id)) => {
            let (_, _, _, project, access) = project_scope(
                conn,
                caller,
                &path.org_sid,
                team_name,
                RepoId(repo_id),
                ProjectId(project_id),
            )?;
            (Level::Project(project.id), access)
        }
        (Some(team_name), _, _) => {
            let (_, team, access) = team_scope(conn, caller, &path.org_sid, team_name)?;
            (Level::Team(team.id), access)
        }
        _ => {
            let (org, access) = org_scope(conn, caller, &path.org_sid)?;
            require(access.can_view_org())?;
            (Level::Org(org.id), access)
        }
    };
    let can_manage = match level {
        Level::Org(_) => access.can_admin_org(),
        Level::Team(_) | Level::Project(_) => access.can_admin_team(),
    };
    Ok((level, can_manage))
}

/// The webhook the URL names, below its level (404 when it is not there).
fn resolve_webhook(
    conn: &Connection,
    caller: &User,
    path: &LevelPath,
) -> Result<(Webhook, bool), AppError> {
    let (level, can_manage) = resolve(conn, caller, path)?;
    let webhook_id = path.webhook_id.unwrap_or_default();
    let webhook = db::notify::get(conn, level, webhook_id)?
        .ok_or_else(|| AppError::not_found(format!("webhook {webhook_id}")))?;
    Ok((webhook, can_manage))
}

fn attempt_view(attempt: &Attempt, tz: UtcOffset) -> Value {
    json!({
        "attempt_time": clock::display(&attempt.attempt_time, tz),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "latency_ms": attempt.latency_ms,
        "answer": attempt.answer,
    })
}

fn delivery_view(delivery: &Delivery, tz: UtcOffset) -> Value {
    let time = |stored: &Option<String>| stored.as_ref().and_then(|s| clock::display(s, tz));
    json!({
        "id": delivery.id,
        "delivery_id": delivery.delivery_uuid,
        "event": delivery.event,
        "job_id": delivery.job_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_time": time(&delivery.next_attempt_time),
        "redelivery_of": delivery.redelivery_of,
        "created_time": clock::display(&delivery.created_time, tz),
        "finished_time": time(&delivery.finished_time),
        "last_attempt": delivery.last_attempt.as_ref().map(|attempt| attempt_view(attempt, tz)),
    })
}

fn webhook_view(webhook: &Webhook, can_manage: bool, recent: &[Delivery], tz: UtcOffset) -> Value {
    let url = if can_manage {
        webhook.url.as_str().to_string()
    } else {
        webhook.url.redacted()
    };
    let events: Vec<&str> = webhook.events.iter().map(|event| event.as_str()).collect();
    json!({
        "id": webhook.id,
        "level": webhook.level.name(),
        "url": url,
        "events": events,
        "format": webhook.format.as_str(),
        "has_secret": webhook.secret.is_some(),
        "created_time": clock::display(&webhook.created_time, tz),
        "can_manage": can_manage,
        "deliveries": recent.iter().map(|d| delivery_view(d, tz)).collect::<Vec<Value>>(),
    })
}

/// The level's webhooks, each with its last deliveries, and whether the caller may manage them.
pub async fn list_webhooks(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    let tz = state.config.tz_offset;
    let views = blocking::run(&state.pool, move |conn| {
        let (level, can_manage) = resolve(conn, &caller, &path)?;
        let mut views = Vec::new();
        for webhook in db::notify::list(conn, level)? {
            let (_, recent) = db::notify::deliveries(conn, webhook.id, SHOWN_DELIVERIES, 0)?;
            views.push(webhook_view(&webhook, can_manage, &recent, tz));
        }
        Ok(json!({"can_manage": can_manage, "results": views}))
    })
    .await?;
    Ok(envelope::ok(views))
}

/// What a new webhook is, read from the body; every bad field in one 400.
struct NewWebhookBody {
    url: TargetUrl,
    events: Vec<Event>,
    secret: Option<String>,
    format: Format,
}

fn read_new_webhook(body: Body, allow_private: bool) -> Result<NewWebhookBody, AppError> {
    let body = body.fields()?;
    let mut fields = body.reader();
    let url_text = fields.required_str("url", 2000);
    let event_names = fields.optional_str_list("events", 50);
    let secret = fields
        .optional_str("secret", 200)
        .filter(|secret| !secret.is_empty());
    let format_text = fields.optional_str("format", 20);
    let url = match TargetUrl::parse(&url_text) {
        Ok(url) => match url.literal_address().and_then(non_public_reason) {
            Some(reason) if !allow_private => {
                fields.reject("url", format!("a {reason} address; the server's admin must allow such targets (--webhook-allow-private)"));
                None
            }
            _ => Some(url),
        },
        Err(message) if !url_text.is_empty() => {
            fields.reject("url", message);
            None
        }
        Err(_) => None,
    };
    let mut events = Vec::new();
    for name in event_names.as_deref().unwrap_or_default() {
        match Event::parse(name.trim()) {
            Some(event) if !events.contains(&event) => events.push(event),
            Some(_) => {}
            None => fields.reject(
                "events",
                format!("\"{name}\" is not a valid choice (job.closed, job.failed, findings.new)."),
            ),
        }
    }
    if event_names.as_ref().is_some_and(Vec::is_empty) {
        fields.reject("events", "This list may not be empty.");
    }
    let format = match format_text.as_deref() {
        None | Some("") => Some(Format::Json),
        Some(text) => Format::parse(text).or_else(|| {
            fields.reject(
                "format",
                format!("\"{text}\" is not a valid choice (json, slack)."),
            );
            None
        }),
    };
    if event_names.is_none() {
        fields.reject("events", "This field is required.");
    }
    fields.finish()?;
    let url = url.ok_or_else(|| AppError::invalid("url", "This field is required."))?;
    let format = format.unwrap_or(Format::Json);
    Ok(NewWebhookBody {
        url,
        events,
        secret,
        format,
    })
}

/// Makes a webhook at the level the URL names.
pub async fn create_webhook(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    let tz = state.config.tz_offset;
    let allow_private = state.config.webhook_allow_private;
    let links = LinkBase {
        origin: origin(&request),
        api_root: crate::api::API_ROOT.to_string(),
    };
    let webhook = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (level, can_manage) = resolve(&tx, &caller, &path)?;
        require(can_manage)?;
        let new = read_new_webhook(body, allow_private)?;
        let webhook = db::notify::insert(
            &tx,
            &db::notify::NewWebhook {
                level,
                url: &new.url,
                events: &new.events,
                secret: new.secret.as_deref(),
                format: new.format,
                links: &links,
                creator_id: caller.id,
            },
        )?;
        tx.commit()?;
        Ok(webhook)
    })
    .await?;
    Ok(envelope::created(webhook_view(&webhook, true, &[], tz)))
}

/// One webhook with its last deliveries.
pub async fn get_webhook(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    let tz = state.config.tz_offset;
    let view = blocking::run(&state.pool, move |conn| {
        let (webhook, can_manage) = resolve_webhook(conn, &caller, &path)?;
        let (_, recent) = db::notify::deliveries(conn, webhook.id, SHOWN_DELIVERIES, 0)?;
        Ok(webhook_view(&webhook, can_manage, &recent, tz))
    })
    .await?;
    Ok(envelope::ok(view))
}

/// Deletes a webhook; its deliveries, pending ones too, go with it.
pub async fn delete_webhook(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (webhook, can_manage) = resolve_webhook(&tx, &caller, &path)?;
        require(can_manage)?;
        db::notify::delete(&tx, webhook.level, webhook.id)?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The webhook's deliveries, newest first, paginated, each with its last attempt.
pub async fn list_deliveries(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    let query = Query::from_request(&request);
    let tz = state.config.tz_offset;
    let (query, page, count, results) = blocking::run(&state.pool, move |conn| {
        let (webhook, _) = resolve_webhook(conn, &caller, &path)?;
        let page = query.page()?;
        let (count, deliveries) =
            db::notify::deliveries(conn, webhook.id, page.limit, page.offset)?;
        let results = deliveries.iter().map(|d| delivery_view(d, tz)).collect();
        Ok((query, page, count, results))
    })
    .await?;
    Ok(envelope::ok(paginated(
        &request, &query, page, count, results,
    )))
}

/// The delivery the URL names (404 when it is not the webhook's).
fn resolve_delivery(
    conn: &Connection,
    caller: &User,
    path: &LevelPath,
) -> Result<(Delivery, bool), AppError> {
    let (webhook, can_manage) = resolve_webhook(conn, caller, path)?;
    let delivery_id = path.delivery_id.unwrap_or_default();
    let delivery = db::notify::get_delivery(conn, webhook.id, delivery_id)?
        .ok_or_else(|| AppError::not_found(format!("delivery {delivery_id}")))?;
    Ok((delivery, can_manage))
}

/// One delivery with every attempt (`attempts_made`, oldest first).
pub async fn get_delivery(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    let tz = state.config.tz_offset;
    let view = blocking::run(&state.pool, move |conn| {
        let (delivery, _) = resolve_delivery(conn, &caller, &path)?;
        let attempts = db::notify::attempts(conn, delivery.id)?;
        let mut view = delivery_view(&delivery, tz);
        view["attempts_made"] = attempts.iter().map(|a| attempt_view(a, tz)).collect();
        Ok(view)
    })
    .await?;
    Ok(envelope::ok(view))
}

/// Sends a delivery again, as a new delivery (new delivery id) of the same body, due now.
pub async fn redeliver(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, AppError> {
    let path = LevelPath::from_request(&request)?;
    let tz = state.config.tz_offset;
    let delivery = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (original, can_manage) = resolve_delivery(&tx, &caller, &path)?;
        require(can_manage)?;
        let delivery = db::notify::redeliver(&tx, &original)?
            .ok_or_else(|| AppError::not_found(format!("delivery {}", original.id)))?;
        tx.commit()?;
        Ok(delivery)
    })
    .await?;
    Ok(envelope::created(delivery_view(&delivery, tz)))
}
