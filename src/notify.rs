//! Notifications out: the `notify-delivery` thread sends the outbox (`notify_deliveries`, written
//! in the transactions that close jobs) to the webhooks' receivers, one delivery at a time, with
//! a short timeout, and records each attempt; a failed one is tried again with exponential
//! backoff (`domain::notify::retry_delay_seconds`) until a day has passed. The outbox is in the
//! database, so a restart loses nothing: pending deliveries are simply due. A delivery sent but
//! not yet recorded when the process dies is sent again (at least once).
//!
//! Addresses: the client's resolver is codepup's own (`checked_addresses`): it resolves the
//! host, refuses loopback, private and link-local addresses unless the admin allowed them, and
//! hands the client only the addresses it checked, so the connection goes to a checked address
//! (no second lookup a DNS rebinding could answer differently). Redirects are not followed.
//! Must not know about actix.

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::background::Ticker;
use crate::clock;
use crate::db::{self, Pool};
use crate::domain::notify::{
    non_public_reason, retry_delay_seconds, Attempt, ANSWER_BYTES_KEPT, GIVE_UP_AFTER_SECONDS,
};
use crate::hooks::forge;
use crate::schedule::Clock;

/// How often the thread looks for due deliveries: a close is heard within this (one indexed
/// read of the outbox per look).
const TICK: Duration = Duration::from_millis(250);
/// How long one attempt may take: connecting, and all of it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries read per look; the rest wait for the next.
const BATCH: i64 = 20;

/// The running delivery thread. Stop it with `shutdown`; deliveries still pending stay in the
/// outbox for the next start.
pub struct Notifier {
    ticker: Ticker,
}

impl Notifier {
    /// Starts `notify-delivery`. `allow_private` is `--webhook-allow-private`; `clock` is real
    /// time except in tests, which move it on instead of waiting out the backoff.
    pub fn start(pool: Pool, allow_private: bool, clock: Clock) -> anyhow::Result<Notifier> {
        let sender = Sender::new(allow_private);
        let ticker = Ticker::spawn("notify-delivery", TICK, move |is_stopping| {
            if let Err(error) = deliver_due(&pool, &sender, &clock, is_stopping) {
                log::warn!("sending notifications: {error:#}");
            }
        })?;
        Ok(Notifier { ticker })
    }

    /// Wakes the thread, lets the attempt in flight finish and joins it.
    pub fn shutdown(self) {
        self.ticker.shutdown();
    }
}

/// Sends the deliveries whose time has come, a batch at a time until none is left (a backlog
/// does not wait a tick per batch). No connection is held while a receiver answers.
fn deliver_due(
    pool: &Pool,
    sender: &Sender,
    clock: &Clock,
    is_stopping: &dyn Fn() -> bool,
) -> anyhow::Result<()> {
    loop {
        let due = db::notify::due(&*pool.get()?, &clock::to_stored(clock.now()), BATCH)?;
        let is_full = due.len() as i64 == BATCH;
        for delivery in due {
            if is_stopping() {
                return Ok(());
            }
            deliver(pool, sender, clock, &delivery)?;
        }
        if !is_full {
            return Ok(());
        }
    }
}

/// One attempt at one delivery, recorded with what follows it.
fn deliver(
    pool: &Pool,
    sender: &Sender,
    clock: &Clock,
    delivery: &db::notify::Due,
) -> anyhow::Result<()> {
    let attempt = sender.send(delivery);
    let next = if attempt.is_success() {
        None
    } else {
        next_try(delivery, clock.now())
    };
    db::notify::record_attempt(&*pool.get()?, delivery.id, &attempt, next.as_deref())?;
    let outcome = match (&attempt.status_code, &attempt.error) {
        (Some(status), _) => format!("answered {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_string(),
    };
    if attempt.is_success() {
        log::debug!("notification {} delivered", delivery.delivery_uuid);
    } else {
        log::info!(
            "notification {} ({}, delivery {}): {outcome}; {}",
            delivery.delivery_uuid,
            delivery.event,
            delivery.id,
            next.as_deref()
                .map_or("given up".to_string(), |next| format!("next try at {next}"))
        );
    }
    Ok(())
}

/// When a delivery that failed is tried again (stored form), or `None` once that would fall
/// more than a day after it was made.
fn next_try(delivery: &db::notify::Due, now: OffsetDateTime) -> Option<String> {
    let made = clock::from_stored(&delivery.created_time)?;
    let next = now + time::Duration::seconds(retry_delay_seconds(delivery.attempts + 1));
    (next - made <= time::Duration::seconds(GIVE_UP_AFTER_SECONDS)).then(|| clock::to_stored(next))
}

/// `X-Codepup-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the body under the secret,
/// GitHub's scheme (the forges' signing, `forge::sign`).
fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", forge::sign(secret, body))
}

/// The HTTP client, with codepup's resolver.
struct Sender {
    agent: ureq::Agent,
}

impl Sender {
    fn new(allow_private: bool) -> Sender {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .redirects(0)
            .user_agent(concat!("codepup/", env!("CARGO_PKG_VERSION")))
            .resolver(move |netloc: &str| checked_addresses(netloc, allow_private))
            .build();
        Sender { agent }
    }

    /// One attempt; whatever happens becomes the `Attempt` recorded.
    fn send(&self, delivery: &db::notify::Due) -> Attempt {
        let mut request = self
            .agent
            .post(&delivery.url)
            .set("Content-Type", "application/json")
            .set("X-Codepup-Event", &delivery.event)
            .set("X-Codepup-Delivery", &delivery.delivery_uuid);
        if let Some(secret) = &delivery.secret {
            request = request.set(
                "X-Codepup-Signature-256",
                &signature(secret, delivery.body.as_bytes()),
            );
        }
        let attempt_time = clock::now_stored();
        let started = Instant::now();
        let answered = match request.send_string(&delivery.body) {
            Ok(response) => Ok(response),
            Err(ureq::Error::Status(_, response)) => Ok(response),
            Err(ureq::Error::Transport(transport)) => Err(transport.to_string()),
        };
        let (status_code, answer, error) = match answered {
            Ok(response) => {
                let status = i64::from(response.status());
                let mut kept = Vec::new();
                let read = response
                    .into_reader()
                    .take(ANSWER_BYTES_KEPT as u64)
                    .read_to_end(&mut kept);
                let error = read
                    .err()
                    .map(|error| format!("reading the answer: {error}"));
                let answer = String::from_utf8_lossy(&kept).into_owned();
                (Some(status), Some(answer), error)
            }
            Err(error) => (None, None, Some(error)),
        };
        Attempt {
            attempt_time,
            status_code,
            error,
            latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            answer,
        }
    }
}

/// The resolver the client connects through: the host's addresses, or an error naming the
/// first address refused when none may be reached (without `allow_private`, loopback, private,
/// link-local and reserved addresses are refused).
fn checked_addresses(netloc: &str, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    let resolved: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    if allow_private {
        return Ok(resolved);
    }
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = resolved
        .into_iter()
        .partition(|address| non_public_reason(address.ip()).is_none());
    if allowed.is_empty() {
        let why = refused.first().map_or_else(
            || format!("{netloc} has no address"),
            |address| {
                format!(
                    "{} is a {} address; refused without --webhook-allow-private",
                    address.ip(),
                    non_public_reason(address.ip()).unwrap_or("private")
                )
            },
        );
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            why,
        ));
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_githubs_hmac_sha256_in_hex() {
        // The example of GitHub's "Validating webhook deliveries".
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn loopback_is_refused_unless_allowed() {
        let refused = checked_addresses("127.0.0.1:80", false).unwrap_err();
        assert!(refused.to_string().contains("loopback"), "{refused}");
        assert!(checked_addresses("localhost:80", false).is_err());
        let allowed = checked_addresses("127.0.0.1:80", true).unwrap();
        assert_eq!(allowed, vec!["127.0.0.1:80".parse().unwrap()]);
    }

    #[test]
    fn a_failed_delivery_is_retried_later_and_given_up_after_a_day() {
        let made = OffsetDateTime::now_utc();
        let mut delivery = db::notify::Due {
            id: 1,
            delivery_uuid: String::new(),
            event: "job.closed".to_string(),
            body: String::new(),
            url: String::new(),
            secret: None,
            attempts: 0,
            created_time: clock::to_stored(made),
        };
        let next = next_try(&delivery, made).unwrap();
        assert_eq!(next, clock::to_stored(made + time::Duration::minutes(1)));
        delivery.attempts = 4;
        assert!(next_try(&delivery, made + time::Duration::hours(19)).is_some());
        assert!(next_try(&delivery, made + time::Duration::hours(23)).is_none());
    }
}
