//! SQL for notifications out: the webhooks of orgs, teams and projects, the outbox of their
//! deliveries (written by `enqueue_for_job` inside the transaction that closes a job) and each
//! attempt to send one.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock;
use crate::db::parsed;
use crate::domain::ids::{JobId, OrgId, ProjectId, RepoId, TeamId, UserId};
use crate::domain::notify::{
    payload, Attempt, Delivery, Event, Format, JobFacts, Level, LinkBase, TargetUrl, Webhook,
};

const WEBHOOK_COLUMNS: &str = "w.id, w.org_id, w.team_id, w.project_id, w.url, w.events, w.secret,
     w.format, w.link_origin, w.link_api_root, w.created_time";

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let org: Option<i64> = row.get(1)?;
    let team: Option<i64> = row.get(2)?;
    let project: Option<i64> = row.get(3)?;
    let level = match (org, team, project) {
        (Some(id), _, _) => Level::Org(OrgId(id)),
        (_, Some(id), _) => Level::Team(TeamId(id)),
        (_, _, id) => Level::Project(ProjectId(id.unwrap_or_default())),
    };
    Ok(Webhook {
        id: row.get(0)?,
        level,
        url: parsed(row, 4, |text: &String| TargetUrl::parse(text).ok())?,
        events: parsed(row, 5, |text: &String| {
            text.split(',')
                .filter(|name| !name.is_empty())
                .map(Event::parse)
                .collect()
        })?,
        secret: row.get(6)?,
        format: parsed(row, 7, |text: &String| Format::parse(text))?,
        links: LinkBase {
            origin: row.get(8)?,
            api_root: row.get(9)?,
        },
        created_time: row.get(10)?,
    })
}

/// The column that ties a webhook to `level`, and the id it holds.
fn level_column(level: Level) -> (&'static str, i64) {
    match level {
        Level::Org(id) => ("org_id", id.0),
        Level::Team(id) => ("team_id", id.0),
        Level::Project(id) => ("project_id", id.0),
    }
}

/// What a new webhook is made of.
pub struct NewWebhook<'a> {
    pub level: Level,
    pub url: &'a TargetUrl,
    pub events: &'a [Event],
    pub secret: Option<&'a str>,
    pub format: Format,
    pub links: &'a LinkBase,
    pub creator_id: UserId,
}

pub fn insert(conn: &Connection, new: &NewWebhook<'_>) -> rusqlite::Result<Webhook> {
    let (column, owner) = level_column(new.level);
    let events: Vec<&str> = new.events.iter().map(|event| event.as_str()).collect();
    conn.execute(
        &format!(
            "INSERT INTO notify_webhooks ({column}, url, events, secret, format, link_origin,
                 link_api_root, creator_id, created_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            owner,
            new.url.as_str(),
            events.join(","),
            new.secret,
            new.format.as_str(),
            new.links.origin,
            new.links.api_root,
            new.creator_id.0,
            clock::now_stored(),
        ],
    )?;
    let id = conn.last_insert_rowid();
    get(conn, new.level, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// The webhooks of `level`, oldest first.
pub fn list(conn: &Connection, level: Level) -> rusqlite::Result<Vec<Webhook>> {
    let (column, owner) = level_column(level);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM notify_webhooks w WHERE w.{column} = ?1 ORDER BY w.id"
    ))?;
    let rows = stmt.query_map(params![owner], webhook_from_row)?;
    rows.collect()
}

/// Webhook `id` if it belongs to `level`.
pub fn get(conn: &Connection, level: Level, id: i64) -> rusqlite::Result<Option<Webhook>> {
    let (column, owner) = level_column(level);
    conn.query_row(
        &format!(
            "SELECT {WEBHOOK_COLUMNS} FROM notify_webhooks w WHERE w.id = ?1 AND w.{column} = ?2"
        ),
        params![id, owner],
        webhook_from_row,
    )
    .optional()
}

/// Deletes webhook `id` of `level` with its deliveries; whether there was one.
pub fn delete(conn: &Connection, level: Level, id: i64) -> rusqlite::Result<bool> {
    let (column, owner) = level_column(level);
    let deleted = conn.execute(
        &format!("DELETE FROM notify_webhooks WHERE id = ?1 AND {column} = ?2"),
        params![id, owner],
    )?;
    Ok(deleted == 1)
}

/// The webhooks a job's close concerns: its project's, its team's and its org's.
fn webhooks_for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<Vec<Webhook>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS}
         FROM jobs j JOIN projects p ON p.id = j.project_id JOIN repos r ON r.id = p.repo_id
              JOIN teams t ON t.id = r.team_id
              JOIN notify_webhooks w ON w.project_id = p.id OR w.team_id = t.id OR w.org_id = t.org_id
         WHERE j.id = ?1 ORDER BY w.id"
    ))?;
    let rows = stmt.query_map(params![job_id.0], webhook_from_row)?;
    rows.collect()
}

/// Writes the outbox rows for a job that was just closed, inside the transaction that closed
/// it: one per webhook of its project, team or org and per event the webhook asked for that
/// the close raised. Returns how many. Almost every close concerns no webhook: then only one
/// indexed read happens.
pub fn enqueue_for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<usize> {
    let webhooks = webhooks_for_job(conn, job_id)?;
    if webhooks.is_empty() {
        return Ok(0);
    }
    let Some(facts) = job_facts(conn, job_id)? else {
        return Ok(0);
    };
    let now = clock::now_stored();
    let mut written = 0;
    for webhook in &webhooks {
        for event in webhook.events.iter().filter(|event| event.happened(&facts)) {
            let body = payload(*event, &facts, webhook.format, &webhook.links);
            insert_delivery(conn, webhook.id, job_id, event.as_str(), &body, &now, None)?;
            written += 1;
        }
    }
    Ok(written)
}

fn insert_delivery(
    conn: &Connection,
    webhook_id: i64,
    job_id: JobId,
    event: &str,
    body: &str,
    now: &str,
    redelivery_of: Option<i64>,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO notify_deliveries (webhook_id, job_id, event, delivery_uuid, body,
             next_attempt_time, redelivery_of, created_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)",
        params![
            webhook_id,
            job_id.0,
            event,
            new_delivery_uuid(),
            body,
            now,
            redelivery_of
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A random version-4 UUID, the shape receivers know from GitHub's `X-GitHub-Delivery`.
fn new_delivery_uuid() -> String {
    let hex = crate::domain::user::new_token();
    let variant = ["8", "9", "a", "b"][usize::from(hex.as_bytes()[16] % 4)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// What a notification says about a closed job, read from the rows the close just wrote.
fn job_facts(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<JobFacts>> {
    let facts = conn
        .query_row(
            "SELECT j.id, p.id, r.id, o.org_sid, t.name, r.name, r.scm_url, p.branch,
                    s.scm_revision, j.incr_scan, j.created_from, j.creator, j.result_code,
                    j.result_msg, j.create_time, COALESCE(j.start_time, j.claim_time), j.end_time,
                    j.code_line_num, j.comment_line_num, j.blank_line_num, j.total_line_num,
                    j.scan_id, j.gate
             FROM jobs j JOIN projects p ON p.id = j.project_id JOIN repos r ON r.id = p.repo_id
                  JOIN teams t ON t.id = r.team_id JOIN orgs o ON o.id = t.org_id
                  LEFT JOIN scans s ON s.id = j.scan_id
             WHERE j.id = ?1",
            params![job_id.0],
            |row| Ok((facts_from_row(row)?, row.get::<_, Option<i64>>(21)?)),
        )
        .optional()?;
    let Some((mut facts, scan_id)) = facts else {
        return Ok(None);
    };
    let project_id = facts.project_id.0;
    let count = |sql: &str, id: i64| -> rusqlite::Result<i64> {
        conn.query_row(sql, params![project_id, id], |row| row.get(0))
    };
    if let Some(scan_id) = scan_id {
        facts.findings_new = count(
            "SELECT COUNT(*) FROM issues WHERE project_id = ?1 AND scan_open = ?2",
            scan_id,
        )?;
        facts.findings_fixed = count(
            "SELECT COUNT(*) FROM issues WHERE project_id = ?1 AND scan_fix = ?2",
            scan_id,
        )?;
    }
    facts.findings_open = count(
        "SELECT COUNT(*) FROM issues WHERE project_id = ?1 AND state = ?2",
        1,
    )?;
    Ok(Some(facts))
}

fn facts_from_row(row: &Row<'_>) -> rusqlite::Result<JobFacts> {
    let utc = |stored: Option<String>| {
        stored.and_then(|stored| clock::display(&stored, time::UtcOffset::UTC))
    };
    let seconds = |from: &Option<String>, to: &Option<String>| match (from, to) {
        (Some(from), Some(to)) => clock::micros_between(from, to).map(|micros| micros as f64 / 1e6),
        _ => None,
    };
    let create_time: Option<String> = row.get(14)?;
    let start_time: Option<String> = row.get(15)?;
    let end_time: Option<String> = row.get(16)?;
    let waited_until = start_time.as_ref().or(end_time.as_ref()).cloned();
    Ok(JobFacts {
        job_id: JobId(row.get(0)?),
        project_id: ProjectId(row.get(1)?),
        repo_id: RepoId(row.get(2)?),
        org_sid: row.get(3)?,
        team_name: row.get(4)?,
        repo_name: row.get(5)?,
        scm_url: row.get(6)?,
        branch: row.get(7)?,
        revision: row.get(8)?,
        incr_scan: row.get(9)?,
        created_from: row.get(10)?,
        creator: row.get(11)?,
        result_code: row.get::<_, Option<i64>>(12)?.unwrap_or_default(),
        result_msg: row.get(13)?,
        waiting_seconds: seconds(&create_time, &waited_until),
        run_seconds: seconds(&start_time, &end_time),
        total_seconds: seconds(&create_time, &end_time),
        create_time: utc(create_time),
        start_time: utc(start_time),
        end_time: utc(end_time),
        code_lines: row.get(17)?,
        comment_lines: row.get(18)?,
        blank_lines: row.get(19)?,
        total_lines: row.get(20)?,
        gate: row
            .get::<_, Option<String>>(22)?
            .and_then(|text| serde_json::from_str(&text).ok()),
        ..JobFacts::default()
    })
}

/// A delivery whose time has come, with what sending it needs.
pub struct Due {
    pub id: i64,
    pub delivery_uuid: String,
    pub event: String,
    pub body: String,
    pub url: String,
    pub secret: Option<String>,
    pub attempts: i64,
    pub created_time: String,
}

/// Pending deliveries whose next attempt is at or before `now` (stored form), oldest first.
pub fn due(conn: &Connection, now: &str, limit: i64) -> rusqlite::Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.delivery_uuid, d.event, d.body, w.url, w.secret, d.attempts, d.created_time
         FROM notify_deliveries d JOIN notify_webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_attempt_time <= ?1
         ORDER BY d.next_attempt_time, d.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |row| {
        Ok(Due {
            id: row.get(0)?,
            delivery_uuid: row.get(1)?,
            event: row.get(2)?,
            body: row.get(3)?,
            url: row.get(4)?,
            secret: row.get(5)?,
            attempts: row.get(6)?,
            created_time: row.get(7)?,
        })
    })?;
    rows.collect()
}

/// Records an attempt and what follows it: delivered on success, else tried again at `next`
/// (stored form), or given up without one.
pub fn record_attempt(
    conn: &Connection,
    delivery_id: i64,
    attempt: &Attempt,
    next: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO notify_attempts (delivery_id, attempt_time, status_code, error, latency_ms, answer)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            delivery_id,
            attempt.attempt_time,
            attempt.status_code,
            attempt.error,
            attempt.latency_ms,
            attempt.answer
        ],
    )?;
    let state = match (attempt.is_success(), next) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    conn.execute(
        "UPDATE notify_deliveries SET attempts = attempts + 1, state = ?2,
             next_attempt_time = CASE WHEN ?2 = 'pending' THEN ?3 END,
             finished_time = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?4 END
         WHERE id = ?1",
        params![delivery_id, state, next, attempt.attempt_time],
    )?;
    Ok(())
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.job_id, d.event, d.delivery_uuid, d.state,
     d.attempts, d.next_attempt_time, d.redelivery_of, d.created_time, d.finished_time,
     a.attempt_time, a.status_code, a.error, a.latency_ms, a.answer";

/// The delivery with its last attempt (`a`, joined by the caller's query).
fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let attempt_time: Option<String> = row.get(11)?;
    let last_attempt = match attempt_time {
        Some(attempt_time) => Some(Attempt {
            attempt_time,
            status_code: row.get(12)?,
            error: row.get(13)?,
            latency_ms: row.get(14)?,
            answer: row.get(15)?,
        }),
        None => None,
    };
    Ok(Delivery {
        id: row.get(0)?,
        webhook_id: row.get(1)?,
        job_id: JobId(row.get(2)?),
        event: row.get(3)?,
        delivery_uuid: row.get(4)?,
        state: row.get(5)?,
        attempts: row.get(6)?,
        next_attempt_time: row.get(7)?,
        redelivery_of: row.get(8)?,
        created_time: row.get(9)?,
        finished_time: row.get(10)?,
        last_attempt,
    })
}

const LAST_ATTEMPT_JOIN: &str = "LEFT JOIN notify_attempts a ON a.id =
     (SELECT MAX(id) FROM notify_attempts WHERE delivery_id = d.id)";

/// A page of the webhook's deliveries, newest first, and how many it has.
pub fn deliveries(
    conn: &Connection,
    webhook_id: i64,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(i64, Vec<Delivery>)> {
    let count = conn.query_row(
        "SELECT COUNT(*) FROM notify_deliveries WHERE webhook_id = ?1",
        params![webhook_id],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM notify_deliveries d {LAST_ATTEMPT_JOIN}
         WHERE d.webhook_id = ?1 ORDER BY d.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![webhook_id, limit, offset], delivery_from_row)?;
    Ok((count, rows.collect::<rusqlite::Result<_>>()?))
}

pub fn get_delivery(
    conn: &Connection,
    webhook_id: i64,
    delivery_id: i64,
) -> rusqlite::Result<Option<Delivery>> {
    conn.query_row(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM notify_deliveries d {LAST_ATTEMPT_JOIN}
             WHERE d.webhook_id = ?1 AND d.id = ?2"
        ),
        params![webhook_id, delivery_id],
        delivery_from_row,
    )
    .optional()
}

/// Every attempt of a delivery, oldest first.
pub fn attempts(conn: &Connection, delivery_id: i64) -> rusqlite::Result<Vec<Attempt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempt_time, status_code, error, latency_ms, answer FROM notify_attempts
         WHERE delivery_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![delivery_id], |row| {
        Ok(Attempt {
            attempt_time: row.get(0)?,
            status_code: row.get(1)?,
            error: row.get(2)?,
            latency_ms: row.get(3)?,
            answer: row.get(4)?,
        })
    })?;
    rows.collect()
}

/// Sends a delivery again: a new pending delivery of the same body with a new delivery id,
/// due now. Returns it.
pub fn redeliver(conn: &Connection, original: &Delivery) -> rusqlite::Result<Option<Delivery>> {
    let body: String = conn.query_row(
        "SELECT body FROM notify_deliveries WHERE id = ?1",
        params![original.id],
        |row| row.get(0),
    )?;
    let id = insert_delivery(
        conn,
        original.webhook_id,
        original.job_id,
        &original.event,
        &body,
        &clock::now_stored(),
        Some(original.id),
    )?;
    get_delivery(conn, original.webhook_id, id)
}
