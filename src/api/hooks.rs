//! Push webhooks in: a repository's hook (`.../repos/<id>/webhook/`: make, show, delete) and
//! the endpoint forges deliver to (`hooks/<hook_key>/`). The delivery's signature is checked
//! over the raw body before anything else is read or written.

use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::api::blocking;
use crate::api::{repo_scope, require, Links};
use crate::auth::Caller;
use crate::body::MAX_BODY_BYTES;
use crate::clock;
use crate::db;
use crate::domain::hook::{HookDelivery, RepoHook};
use crate::domain::ids::RepoId;
use crate::envelope;
use crate::error::{AppError, AuthFailure};
use crate::hooks::forge::{self, Event, Push};
use crate::hooks::{self, Requested};
use crate::AppState;

/// How many deliveries `GET .../webhook/` shows.
const SHOWN_DELIVERIES: i64 = 20;

type RepoPath = web::Path<(String, String, i64)>;

/// Makes the repository's push webhook (replacing any earlier one, whose URL and secret stop
/// working) and answers its URL and secret. The secret is shown only here.
pub async fn create_repo_hook(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: RepoPath,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let links = Links::new(&request);
    let hook = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, repo, access) = repo_scope(&tx, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        require(access.can_admin_team())?;
        let hook_key = crate::domain::user::new_token();
        let secret = crate::domain::user::new_token();
        let hook = db::hooks::replace(&tx, repo.id, &hook_key, &secret, caller.id)?;
        tx.commit()?;
        Ok(hook)
    })
    .await?;
    let tz = state.config.tz_offset;
    Ok(envelope::created(json!({
        "url": links.hook(&hook.hook_key),
        "secret": hook.secret,
        "content_type": "application/json",
        "created_time": clock::display(&hook.created_time, tz),
    })))
}

/// Whether the repository has a push webhook, its URL and its last deliveries (never the
/// secret).
pub async fn get_repo_hook(
    request: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: RepoPath,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    let links = Links::new(&request);
    let tz = state.config.tz_offset;
    let found = blocking::run(&state.pool, move |conn| {
        let (_, _, repo, _) = repo_scope(conn, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        let Some(hook) = db::hooks::get_for_repo(conn, repo.id)? else {
            return Ok(None);
        };
        let deliveries = db::hooks::recent_deliveries(conn, hook.id, SHOWN_DELIVERIES)?;
        Ok(Some((hook, deliveries)))
    })
    .await?;
    let Some((hook, deliveries)) = found else {
        return Ok(envelope::ok(
            json!({"is_set": false, "url": null, "created_time": null, "deliveries": []}),
        ));
    };
    let deliveries: Vec<Value> = deliveries
        .iter()
        .map(|delivery| {
            json!({
                "delivery_id": delivery.delivery_id,
                "forge": delivery.forge,
                "event": delivery.event,
                "summary": delivery.summary,
                "received_time": clock::display(&delivery.received_time, tz),
            })
        })
        .collect();
    Ok(envelope::ok(json!({
        "is_set": true,
        "url": links.hook(&hook.hook_key),
        "created_time": clock::display(&hook.created_time, tz),
        "deliveries": deliveries,
    })))
}

/// Turns the repository's push webhook off: its URL answers 404 from then on.
pub async fn delete_repo_hook(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: RepoPath,
) -> Result<HttpResponse, AppError> {
    let (org_sid, team_name, repo_id) = path.into_inner();
    blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, repo, access) = repo_scope(&tx, &caller, &org_sid, &team_name, RepoId(repo_id))?;
        require(access.can_admin_team())?;
        if !db::hooks::delete(&tx, repo.id)? {
            return Err(AppError::not_found(format!("webhook of repo {repo_id}")));
        }
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A forge's delivery. Order: the hook (404), the forge and its signature over the raw body
/// (401: nothing is read from the body, nothing is written), then a retried delivery id gets
/// the first answer again, then the event is acted on and the answer recorded, in one
/// transaction.
/// The raw body, within the API's body limit (signatures are computed over the bytes as sent).
async fn read_body(payload: &mut web::Payload) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| AppError::invalid("body", error.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Asks for a scan of every active project of the hook's repository on the pushed branch, and
/// adds what became of each to `answer`. Returns the delivery's summary and whether a job
/// started.
fn answer_push(
    tx: &rusqlite::Transaction<'_>,
    hook: &RepoHook,
    push: &Push,
    answer: &mut Value,
) -> Result<(String, bool), AppError> {
    let trigger = hooks::push_trigger(tx, push.pusher.as_deref(), hook.creator_id)?;
    let mut projects = Vec::new();
    let mut said = Vec::new();
    let mut has_started = false;
    for project_id in db::hooks::active_projects_on_branch(tx, hook.repo_id, &push.branch)? {
        let requested = hooks::request_scan(tx, project_id, &trigger, Some(&push.after))?;
        has_started |= matches!(requested, Requested::Started(_));
        said.push(format!(
            "project {project_id} {} (job {})",
            requested.action(),
            requested.job_id()
        ));
        projects.push(json!({
            "project_id": project_id,
            "action": requested.action(),
            "job_id": requested.job_id(),
        }));
    }
    answer["branch"] = json!(push.branch);
    answer["head"] = json!(push.after);
    answer["creator"] = json!(trigger.creator);
    let head: String = push.after.chars().take(12).collect();
    let summary = if projects.is_empty() {
        let why = format!("no active project on branch {}", push.branch);
        answer["ignored"] = json!(why);
        format!("push {} {head}: {why}", push.branch)
    } else {
        answer["projects"] = Value::Array(projects);
        format!("push {} {head}: {}", push.branch, said.join(", "))
    };
    Ok((summary, has_started))
}

/// Reads a signed delivery that is not a retry, acts on it, and records it with its answer.
/// Returns the answer and whether a job started.
fn answer_delivery(
    tx: &rusqlite::Transaction<'_>,
    hook: &RepoHook,
    delivery: &forge::Delivery,
    content_type: &str,
    body: &[u8],
) -> Result<(Value, bool), AppError> {
    let event = forge::parse(delivery, content_type, body)
        .map_err(|message| AppError::invalid("body", message))?;
    let mut answer = json!({
        "forge": delivery.forge.name(),
        "event": delivery.event,
        "delivery_id": delivery.delivery_id,
        "ignored": null,
        "projects": [],
    });
    let mut has_started = false;
    let summary = match event {
        Event::Ping => {
            answer["pong"] = json!(true);
            "ping: the hook works".to_string()
        }
        Event::Ignored(why) => {
            answer["ignored"] = json!(why);
            format!("ignored: {why}")
        }
        Event::Push(push) => {
            let (summary, started) = answer_push(tx, hook, &push, &mut answer)?;
            has_started = started;
            summary
        }
    };
    let record = HookDelivery {
        // Without an id from the forge, a random one: such a delivery cannot be matched
        // with a retry.
        delivery_id: delivery
            .delivery_id
            .clone()
            .unwrap_or_else(|| format!("codepup-{}", crate::domain::user::new_token())),
        forge: delivery.forge.name().to_string(),
        event: delivery.event.clone(),
        summary,
        received_time: clock::now_stored(),
    };
    db::hooks::insert_delivery(tx, hook.id, &record, &answer.to_string())?;
    Ok((answer, has_started))
}

pub async fn receive_delivery(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let hook_key = path.into_inner();
    let body = read_body(&mut payload).await?;
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let header = move |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    let content_type = header("Content-Type").unwrap_or_default();
    let delivery = forge::identify(&header);
    let (answer, has_started) = blocking::run(&state.pool, move |conn| {
        let hook = db::hooks::get_by_key(conn, &hook_key)?
            .ok_or_else(|| AppError::not_found(format!("hook {hook_key}")))?;
        let delivery = delivery.ok_or(AppError::Unauthenticated(AuthFailure::BadSignature))?;
        if !forge::verify(delivery.forge, &header, &body, &hook.secret) {
            log::warn!(
                "hook of repo {}: a {} delivery with a missing or wrong signature was refused",
                hook.repo_id,
                delivery.forge.name()
            );
            return Err(AppError::Unauthenticated(AuthFailure::BadSignature));
        }
        let tx = db::begin(conn)?;
        if let Some(delivery_id) = &delivery.delivery_id {
            if let Some(answer) = db::hooks::delivery_answer(&tx, hook.id, delivery_id)? {
                let answer: Value = serde_json::from_str(&answer)
                    .map_err(|error| AppError::Internal(error.into()))?;
                return Ok((answer, false));
            }
        }
        let (answer, has_started) = answer_delivery(&tx, &hook, &delivery, &content_type, &body)?;
        tx.commit()?;
        Ok((answer, has_started))
    })
    .await?;
    if has_started {
        state.queue.job_added();
    }
    Ok(envelope::ok(answer))
}
