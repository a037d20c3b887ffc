//! A project's scheduled scan: `GET`/`PUT .../projects/<id>/schedule/` `{cron, incr_scan,
//! enabled}`. The cron is read in the server's `--tz-offset`; the `scan-scheduler` thread
//! (`crate::schedule`) starts the scans.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use time::UtcOffset;

use crate::api::{blocking, project_allowing, visible_project};
use crate::auth::Caller;
use crate::body::Body;
use crate::clock;
use crate::db;
use crate::domain::hook::Schedule;
use crate::envelope;
use crate::error::AppError;
use crate::schedule;
use crate::AppState;

type ProjectPath = web::Path<crate::api::ProjectPath>;

/// A schedule as the API shows it (also inside the project's own record); `null` fields when
/// the project has none.
pub(crate) fn schedule_view(schedule: Option<&Schedule>, tz: UtcOffset) -> Value {
    let time = |stored: Option<&String>| stored.and_then(|stored| clock::display(stored, tz));
    match schedule {
        None => json!({
            "cron": null, "incr_scan": null, "enabled": false, "disabled_reason": null,
            "next_run_time": null, "last_run_time": null, "last_job_id": null,
            "tz_offset": offset_text(tz),
        }),
        Some(schedule) => json!({
            "cron": schedule.cron,
            "incr_scan": schedule.incr_scan,
            "enabled": schedule.is_enabled,
            "disabled_reason": schedule.disabled_reason,
            "next_run_time": time(schedule.next_run_time.as_ref()),
            "last_run_time": time(schedule.last_run_time.as_ref()),
            "last_job_id": schedule.last_job_id,
            "tz_offset": offset_text(tz),
        }),
    }
}

fn offset_text(tz: UtcOffset) -> String {
    let (hours, minutes, _) = tz.as_hms();
    let sign = if tz.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", hours.abs(), minutes.abs())
}

pub async fn get_schedule(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
) -> Result<HttpResponse, AppError> {
    let tz = state.config.tz_offset;
    let schedule = visible_project(&state, caller, path, |conn, project, _| {
        Ok(db::schedules::get(conn, project.id)?)
    })
    .await?;
    Ok(envelope::ok(schedule_view(schedule.as_ref(), tz)))
}

/// Sets the project's schedule (whoever may start its scans). `enabled: true` also clears a
/// reason the scheduler turned it off for.
pub async fn put_schedule(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: ProjectPath,
    body: Body,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let tz = state.config.tz_offset;
    let now = state.config.schedule_clock.now();
    let schedule = blocking::run(&state.pool, move |conn| {
        let tx = db::begin(conn)?;
        let (_, _, _, project, _) =
            project_allowing(&tx, &caller, &path, |access, _| access.can_start_scan())?;
        let body = body.fields()?;
        let mut fields = body.reader();
        let cron_text = fields.required_str("cron", 200);
        let incr_scan = fields.optional_bool("incr_scan").unwrap_or(true);
        let is_enabled = fields.optional_bool("enabled").unwrap_or(true);
        let cron = match schedule::parse_cron(&cron_text) {
            // An expression no date matches (`0 0 30 2 *`) would never run.
            Ok(cron) if schedule::next_run(&cron, now, tz).is_none() => {
                fields.reject("cron", "the expression matches no date");
                None
            }
            Ok(cron) => Some(cron),
            Err(message) if !cron_text.is_empty() => {
                fields.reject("cron", message);
                None
            }
            Err(_) => None,
        };
        fields.finish()?;
        let cron = cron.ok_or_else(|| AppError::invalid("cron", "This field is required."))?;
        let next = if is_enabled {
            schedule::next_run(&cron, now, tz).map(clock::to_stored)
        } else {
            None
        };
        db::schedules::put(
            &tx,
            project.id,
            &db::schedules::NewSchedule {
                cron: cron_text.trim(),
                incr_scan,
                is_enabled,
                next_run_time: next.as_deref(),
                creator_id: caller.id,
            },
        )?;
        let schedule = db::schedules::get(&tx, project.id)?;
        tx.commit()?;
        Ok(schedule)
    })
    .await?;
    Ok(envelope::ok(schedule_view(schedule.as_ref(), tz)))
}
