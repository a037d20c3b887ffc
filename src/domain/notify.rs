//! Notifications out (issue 10): the events a webhook may ask for, its formats, its URL, which
//! addresses it may reach, the payloads it is sent and the retry schedule.
//! Pure: knows nothing of actix, rusqlite, threads or the network.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::domain::ids::{JobId, OrgId, ProjectId, RepoId, TeamId};

/// What a notification webhook may be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Every job's close, whatever its result.
    JobClosed,
    /// A close with a result code of 100 or more.
    JobFailed,
    /// A close whose scan opened findings.
    FindingsNew,
}

impl Event {
    pub const ALL: [Event; 3] = [Event::JobClosed, Event::JobFailed, Event::FindingsNew];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::JobClosed => "job.closed",
            Event::JobFailed => "job.failed",
            Event::FindingsNew => "findings.new",
        }
    }

    pub fn parse(text: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|event| event.as_str() == text)
    }

    /// Whether a job with these facts raises this event.
    pub fn happened(self, facts: &JobFacts) -> bool {
        match self {
            Event::JobClosed => true,
            Event::JobFailed => facts.result_code >= 100,
            Event::FindingsNew => facts.findings_new > 0,
        }
    }
}

/// How a payload is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// codepup's own JSON payload.
    Json,
    /// An incoming-webhook message, `{"text": ...}` (Slack, Mattermost, Rocket.Chat).
    Slack,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        [Format::Json, Format::Slack]
            .into_iter()
            .find(|format| format.as_str() == text)
    }
}

/// Where a notification webhook hangs: an org, a team or a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Org(OrgId),
    Team(TeamId),
    Project(ProjectId),
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Org(_) => "org",
            Level::Team(_) => "team",
            Level::Project(_) => "project",
        }
    }
}

/// A webhook's target: an absolute http or https URL with a host and without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(String);

impl TargetUrl {
    pub fn parse(text: &str) -> Result<TargetUrl, String> {
        let text = text.trim();
        if text.len() > 2000 {
            return Err("Ensure this field has no more than 2000 characters.".to_string());
        }
        let url = url::Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "only http and https URLs are allowed, not {}",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the URL has no host".to_string());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL must not carry a user name or password".to_string());
        }
        if url.fragment().is_some() {
            return Err("the URL must not have a fragment".to_string());
        }
        Ok(TargetUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host's address when the URL names one literally (`http://10.0.0.5/`).
    pub fn literal_address(&self) -> Option<IpAddr> {
        match url::Url::parse(&self.0).ok()?.host()? {
            url::Host::Ipv4(address) => Some(IpAddr::V4(address)),
            url::Host::Ipv6(address) => Some(IpAddr::V6(address)),
            url::Host::Domain(_) => None,
        }
    }

    /// The URL with its path and query hidden, for readers who may not manage the webhook
    /// (chat webhooks carry their secret in the path).
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(url) => format!("{}/…", url.origin().ascii_serialization()),
            Err(_) => "…".to_string(),
        }
    }
}

/// Why an address may not be the target of a notification without `--webhook-allow-private`:
/// loopback, private, link-local and the other ranges that reach no public host.
pub fn non_public_reason(address: IpAddr) -> Option<&'static str> {
    match address.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || a == 0 || v4.is_broadcast() || v4.is_multicast() {
                Some("not a host address")
            } else if a >= 240 || v4.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a host address")
            } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
                Some("reserved")
            } else {
                None
            }
        }
    }
}

/// What a notification says about a closed job, read in the transaction that closed it.
#[derive(Debug, Clone, Default)]
pub struct JobFacts {
    pub job_id: JobId,
    pub project_id: ProjectId,
    pub repo_id: RepoId,
    pub org_sid: String,
    pub team_name: String,
    pub repo_name: String,
    pub scm_url: String,
    pub branch: String,
    pub revision: Option<String>,
    pub incr_scan: bool,
    pub created_from: Option<String>,
    pub creator: Option<String>,
    pub result_code: i64,
    pub result_msg: Option<String>,
    /// UTC, ISO-8601.
    pub create_time: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub waiting_seconds: Option<f64>,
    pub run_seconds: Option<f64>,
    pub total_seconds: Option<f64>,
    pub code_lines: Option<i64>,
    pub comment_lines: Option<i64>,
    pub blank_lines: Option<i64>,
    pub total_lines: Option<i64>,
    pub findings_new: i64,
    pub findings_fixed: i64,
    pub findings_open: i64,
    /// The quality gate's verdict, when the job has one.
    pub gate: Option<crate::domain::gate::GateVerdict>,
}

impl JobFacts {
    /// The job's path below an API root: `/orgs/<org>/teams/<team>/repos/<id>/projects/<id>/jobs/<id>/`.
    fn job_path(&self) -> String {
        format!(
            "/orgs/{}/teams/{}/repos/{}/projects/{}/jobs/{}/",
            encode(&self.org_sid),
            encode(&self.team_name),
            self.repo_id,
            self.project_id,
            self.job_id
        )
    }

    /// The job on the status page and in the API, below `base` (`scheme://host`) and `api_root`
    /// (`/server/main/api` or `/api`).
    pub fn links(&self, base: &str, api_root: &str) -> (String, String) {
        let page = format!(
            "{base}/#job={}/{}/{}/{}/{}",
            encode(&self.org_sid),
            encode(&self.team_name),
            self.repo_id,
            self.project_id,
            self.job_id
        );
        (page, format!("{base}{api_root}{}", self.job_path()))
    }
}

fn encode(part: &str) -> String {
    url::form_urlencoded::byte_serialize(part.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Where a webhook's links point: the origin and API root it was made through (or the admin's
/// `--public-url`).
#[derive(Debug, Clone)]
pub struct LinkBase {
    pub origin: String,
    pub api_root: String,
}

/// The body sent for `event` about `facts` in `format`.
pub fn payload(event: Event, facts: &JobFacts, format: Format, links: &LinkBase) -> String {
    let (page, api) = facts.links(&links.origin, &links.api_root);
    match format {
        Format::Json => json_payload(event, facts, &page, &api).to_string(),
        Format::Slack => json!({"text": slack_text(event, facts, &page)}).to_string(),
    }
}

fn json_payload(event: Event, facts: &JobFacts, page: &str, api: &str) -> Value {
    let state = if facts.result_code < 100 {
        "success"
    } else {
        "failure"
    };
    json!({
        "event": event.as_str(),
        "job": {
            "id": facts.job_id, "state": "CLOSED", "result": state,
            "result_code": facts.result_code, "result_msg": facts.result_msg,
            "incr_scan": facts.incr_scan, "created_from": facts.created_from,
            "creator": facts.creator,
            "create_time": facts.create_time, "start_time": facts.start_time,
            "end_time": facts.end_time, "waiting_seconds": facts.waiting_seconds,
            "run_seconds": facts.run_seconds, "total_seconds": facts.total_seconds,
        },
        "project": {"id": facts.project_id, "branch": facts.branch},
        "repository": {
            "id": facts.repo_id, "name": facts.repo_name, "scm_url": facts.scm_url,
            "org_sid": facts.org_sid, "team_name": facts.team_name,
        },
        "branch": facts.branch,
        "revision": facts.revision,
        "lines": {
            "code": facts.code_lines, "comment": facts.comment_lines,
            "blank": facts.blank_lines, "total": facts.total_lines,
        },
        "findings": {
            "new": facts.findings_new, "fixed": facts.findings_fixed, "open": facts.findings_open,
        },
        "gate": facts.gate,
        "links": {"status_page": page, "api": api},
    })
}

fn slack_text(event: Event, facts: &JobFacts, page: &str) -> String {
    let outcome = match event {
        Event::FindingsNew => format!("opened {} new finding(s)", facts.findings_new),
        _ if facts.result_code >= 100 => format!(
            "failed with {}: {}",
            facts.result_code,
            facts.result_msg.as_deref().unwrap_or("")
        ),
        _ => format!(
            "closed with {}: {}",
            facts.result_code,
            facts.result_msg.as_deref().unwrap_or("")
        ),
    };
    let revision: String = facts
        .revision
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(12)
        .collect();
    let gate = match &facts.gate {
        Some(gate) if gate.passed => "; quality gate passed".to_string(),
        Some(gate) => format!("; quality gate failed: {}", gate.reasons.join("; ")),
        None => String::new(),
    };
    format!(
        "codepup job <{page}|#{}> on {} {} {revision} {outcome} (findings: {} new, {} fixed, {} open){gate}",
        facts.job_id,
        facts.repo_name,
        facts.branch,
        facts.findings_new,
        facts.findings_fixed,
        facts.findings_open
    )
}

/// Seconds to wait after failed attempt number `attempts` (1 for the first): about 1 min,
/// 5 min, 30 min, 2 h, then doubling. A delivery is given up once its next try would fall more
/// than `GIVE_UP_AFTER_SECONDS` after it was made.
pub fn retry_delay_seconds(attempts: i64) -> i64 {
    match attempts {
        ..=1 => 60,
        2 => 5 * 60,
        3 => 30 * 60,
        4 => 2 * 3600,
        n => (2 * 3600_i64).saturating_mul(1 << (n - 4).min(20)),
    }
}

/// A delivery is given up when its next try would fall later than this after it was made.
pub const GIVE_UP_AFTER_SECONDS: i64 = 24 * 3600;

/// A notification webhook as stored.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: i64,
    pub level: Level,
    pub url: TargetUrl,
    pub events: Vec<Event>,
    pub secret: Option<String>,
    pub format: Format,
    pub links: LinkBase,
    pub created_time: String,
}

/// One delivery of the outbox, with its last attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub job_id: JobId,
    pub event: String,
    pub delivery_uuid: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_time: Option<String>,
    pub redelivery_of: Option<i64>,
    pub created_time: String,
    pub finished_time: Option<String>,
    pub last_attempt: Option<Attempt>,
}

/// One try of a delivery.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub attempt_time: String,
    /// The receiver's HTTP status; `None` when no answer came.
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
    /// The first `ANSWER_BYTES_KEPT` bytes of the answer's body.
    pub answer: Option<String>,
}

impl Attempt {
    /// A 2xx answer delivers; anything else is tried again later.
    pub fn is_success(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

/// How much of a receiver's answer is kept per attempt.
pub const ANSWER_BYTES_KEPT: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls_are_http_or_https_with_a_host_and_no_credentials() {
        assert!(TargetUrl::parse("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(TargetUrl::parse("http://127.0.0.1:8080/hook").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x/",
            "https://user:pw@example.com/",
            "not a url",
            "http://",
            "https://example.com/#frag",
        ] {
            assert!(TargetUrl::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn non_public_addresses_are_named_and_public_ones_pass() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
            "240.0.0.1",
        ] {
            let address: IpAddr = address.parse().unwrap();
            assert!(non_public_reason(address).is_some(), "{address} passed");
        }
        for address in ["1.1.1.1", "140.82.112.3", "2606:4700::1111"] {
            let address: IpAddr = address.parse().unwrap();
            assert_eq!(non_public_reason(address), None, "{address} refused");
        }
    }

    #[test]
    fn retries_back_off_and_stop_within_a_day() {
        let delays: Vec<i64> = (1..=5).map(retry_delay_seconds).collect();
        assert_eq!(delays, [60, 300, 1800, 7200, 14400]);
        let mut elapsed = 0;
        let mut attempts = 0;
        while elapsed + retry_delay_seconds(attempts + 1) <= GIVE_UP_AFTER_SECONDS {
            attempts += 1;
            elapsed += retry_delay_seconds(attempts);
        }
        assert!((5..=8).contains(&attempts), "{attempts} retries");
        assert!(retry_delay_seconds(i64::MAX) > 0);
    }

    #[test]
    fn both_formats_carry_the_gate_verdict() {
        let facts = JobFacts {
            gate: Some(crate::domain::gate::GateVerdict {
                passed: false,
                reasons: vec!["1 new secret (none allowed)".to_string()],
            }),
            ..JobFacts::default()
        };
        let links = LinkBase {
            origin: "http://codepup".to_string(),
            api_root: "/api".to_string(),
        };
        let json: Value =
            serde_json::from_str(&payload(Event::JobClosed, &facts, Format::Json, &links)).unwrap();
        assert_eq!(
            json["gate"],
            json!({"passed": false, "reasons": ["1 new secret (none allowed)"]})
        );
        let slack: Value =
            serde_json::from_str(&payload(Event::JobClosed, &facts, Format::Slack, &links))
                .unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.ends_with("; quality gate failed: 1 new secret (none allowed)"),
            "{text}"
        );
        let plain = JobFacts::default();
        let json: Value =
            serde_json::from_str(&payload(Event::JobClosed, &plain, Format::Json, &links)).unwrap();
        assert_eq!(json["gate"], Value::Null);
    }

    #[test]
    fn events_follow_the_result_code_and_the_new_findings() {
        let failed = JobFacts {
            result_code: 110,
            ..JobFacts::default()
        };
        let found = JobFacts {
            findings_new: 2,
            ..JobFacts::default()
        };
        assert!(Event::JobFailed.happened(&failed));
        assert!(!Event::JobFailed.happened(&found));
        assert!(Event::FindingsNew.happened(&found));
        assert!(!Event::FindingsNew.happened(&failed));
        assert!(Event::JobClosed.happened(&failed));
    }
}
