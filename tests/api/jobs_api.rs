//! Helpers of the task-management API tests (TCA_API.md §4-§6, §8.5), which are split by
//! subject: `jobs_list`, `jobs_pagination`, `job_detail`, `scans_create`, `jobs_permissions`,
//! `jobs_logs`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::helpers::{Reply, TestApp, World, ADMIN_TOKEN};

/// How long a tiny scan may take before a test gives up (it takes well under a second).
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// TCA's message for a repeat incremental scan at the same head.
pub(crate) const NO_CHANGE_MSG: &str = "代码无变更，无需再次增量扫描。如有需要，请启动全量扫描。";

pub(crate) const ITEM_KEYS: [&str; 10] = [
    "id",
    "state",
    "result_code",
    "result_msg",
    "code_line_num",
    "comment_line_num",
    "blank_line_num",
    "total_line_num",
    "efficient_comment_line_num",
    "filtered_efficient_comment_line_num",
];

pub(crate) const DETAIL_KEYS: [&str; 28] = [
    "id",
    "scan_id",
    "create_time",
    "waiting_time",
    "start_time",
    "execute_time",
    "save_time",
    "project",
    "end_time",
    "expire_time",
    "task_num",
    "task_done",
    "tasks",
    "co_jobs",
    "state",
    "result_code",
    "result_code_msg",
    "result_msg",
    "result_path",
    "remarks",
    "remarked_by",
    "code_line_num",
    "comment_line_num",
    "blank_line_num",
    "total_line_num",
    "created_from",
    "creator",
    "gate",
];

pub(crate) fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// A query string (with its `?`) whose values are form-encoded, so `+` travels as `%2B`.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    format!("?{}", serde_urlencoded::to_string(pairs).unwrap())
}

/// The `data` of a successful job list answer for `query` (`""` or `?...`).
#[track_caller]
pub(crate) fn list(app: &TestApp, project: &str, query: &str) -> Value {
    app.get(&format!("{project}/jobs/{query}"), ADMIN_TOKEN)
        .expect(200)
        .data()
        .clone()
}

/// The ids of a job list page, in the order given.
pub(crate) fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {page}"))
        .iter()
        .map(|job| job["id"].as_i64().unwrap())
        .collect()
}

/// The ids the job list answers for `query`; also checks that `count` agrees when all fit.
#[track_caller]
pub(crate) fn listed(app: &TestApp, project: &str, query: &str) -> Vec<i64> {
    let page = list(app, project, query);
    let found = ids(&page);
    assert_eq!(
        page["count"],
        json!(found.len()),
        "count for {query}: {page}"
    );
    found
}

pub(crate) fn job_count(app: &TestApp, project: &str) -> i64 {
    list(app, project, "")["count"].as_i64().unwrap()
}

pub(crate) fn detail(app: &TestApp, project: &str, job_id: i64) -> Value {
    app.get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
        .expect(200)
        .data()
        .clone()
}

pub(crate) fn scan_as(app: &TestApp, token: &str, project: &str, body: Value) -> Reply {
    app.post(&format!("{project}/scans/create/"), token, body)
}

/// A synchronous scan (`async_flag: false`); returns the closed job as the answer shows it.
#[track_caller]
pub(crate) fn scan_sync(app: &TestApp, token: &str, project: &str, mut body: Value) -> Value {
    body["async_flag"] = json!(false);
    let reply = scan_as(app, token, project, body).expect(200);
    let job = reply.data()["job"].clone();
    assert_eq!(job["state"], 2, "a sync scan answers once CLOSED: {job}");
    job
}

pub(crate) fn id_of(job: &Value) -> i64 {
    job["id"].as_i64().unwrap()
}

pub(crate) fn cancel(
    app: &TestApp,
    token: &str,
    project: &str,
    job_id: i64,
    remarks: &str,
) -> Reply {
    app.post(
        &format!("{project}/jobs/{job_id}/cancel/"),
        token,
        json!({"remarks": remarks}),
    )
}

/// Whether `text` has the shape of `pattern`, where `9` stands for any ASCII digit.
pub(crate) fn shaped(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| {
            if p == b'9' {
                t.is_ascii_digit()
            } else {
                t == p
            }
        })
}

/// `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?<offset>$`
pub(crate) fn is_datetime(value: &Value, offset: &str) -> bool {
    value.as_str().is_some_and(|text| {
        shaped(text, &format!("9999-99-99T99:99:99{offset}"))
            || shaped(text, &format!("9999-99-99T99:99:99.999999{offset}"))
    })
}

/// A string of float seconds as Python's `str(float)` writes it: `1.0`, `-0.401359`, `1e-05`.
pub(crate) fn is_float_seconds(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let body = text.strip_prefix('-').unwrap_or(text);
    if let Some((mantissa, exponent)) = body.split_once('e') {
        let mantissa_ok = match mantissa.split_once('.') {
            Some((whole, fraction)) => whole.len() == 1 && digits(whole) && digits(fraction),
            None => mantissa.len() == 1 && digits(mantissa),
        };
        let exponent_ok = exponent.len() == 3
            && (exponent.starts_with('+') || exponent.starts_with('-'))
            && digits(&exponent[1..]);
        return mantissa_ok && exponent_ok;
    }
    matches!(body.split_once('.'), Some((whole, fraction)) if digits(whole) && digits(fraction))
}

pub(crate) fn parse_time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339)
        .unwrap_or_else(|e| panic!("{value} is not RFC 3339: {e}"))
}

/// A command tool `gate` that runs while a file exists: a job of a scheme with it stays
/// RUNNING, without any sleep in the test, until the gate opens or the job is cancelled.
pub(crate) struct Gate {
    pub(crate) dir: TempDir,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn hold_file(&self) -> PathBuf {
        self.dir.path().join("hold")
    }

    pub(crate) fn tools_toml(&self) -> String {
        let script = format!(
            "while [ -e '{}' ]; do sleep 0.05; done",
            self.hold_file().display()
        );
        let quoted = format!("\"{}\"", script.replace('\\', "\\\\").replace('"', "\\\""));
        format!(
            "[[tool]]\nname = \"gate\"\nmodule = \"codemetric\"\ncommand = [\"sh\", \"-c\", {quoted}]\n"
        )
    }

    /// Jobs that reach the gate wait there.
    pub(crate) fn close(&self) {
        std::fs::write(self.hold_file(), b"").unwrap();
    }

    pub(crate) fn open(&self) {
        let _ = std::fs::remove_file(self.hold_file());
    }
}

/// A server whose `tools.toml` defines the gate, with the world and a project on `main` whose
/// scheme counts lines and then passes the gate. The app is dropped first (fields drop in order),
/// which kills any tool still waiting at the gate.
pub(crate) struct Gated {
    pub(crate) app: TestApp,
    pub(crate) path: String,
    pub(crate) gate: Gate,
}

pub(crate) fn gated() -> Gated {
    let gate = Gate::new();
    let app = TestApp::spawn_with_tools(&gate.tools_toml());
    let world = World::build(&app);
    let path = world.project_with_scheme(&app, "main", json!({"name": "gated", "tools": ["gate"]}));
    Gated { app, path, gate }
}

impl Gated {
    /// Starts a full scan with the gate closed and waits until the job is RUNNING at the gate.
    pub(crate) fn held_job(&self, body: Value) -> i64 {
        self.gate.close();
        let (job_id, _) = self.app.start_scan(&self.path, body);
        self.app
            .wait_for_detail(&self.path, job_id, WAIT, |d| d["state"] == 1);
        job_id
    }
}

/// Adds `username` to org acme with `org_role`, and to team `team` with `team_role` if given.
pub(crate) fn add_member(app: &TestApp, username: &str, org_role: i64, team: Option<(&str, i64)>) {
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": [username], "role": org_role}),
    )
    .expect(200);
    if let Some((team, role)) = team {
        app.post(
            &format!("/server/main/api/v3/orgs/acme/teams/{team}/memberconf/"),
            ADMIN_TOKEN,
            json!({"users": [username], "role": role}),
        )
        .expect(200);
    }
}

/// Jobs with known outcomes on the gated project:
/// `full` (admin, `Web_UI`, 0 success), `incr` (admin, `api_Client`, 1 no change),
/// `by_alice` (team admin alice, nickname `alice-nick`, `codedog_client`, 1 no change).
pub(crate) struct Jobs {
    pub(crate) gated: Gated,
    pub(crate) full: i64,
    pub(crate) incr: i64,
    pub(crate) by_alice: i64,
    /// `create_time` of full, incr, by_alice, as the detail shows them.
    pub(crate) created: [Value; 3],
}

pub(crate) fn three_closed_jobs() -> Jobs {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let alice = app.create_user("alice");
    add_member(app, "alice", 2, Some(("web", 1)));
    let full = scan_sync(
        app,
        ADMIN_TOKEN,
        path,
        json!({"incr_scan": false, "created_from": "Web_UI"}),
    );
    assert_eq!(full["result_code"], 0, "{full}");
    let incr = scan_sync(
        app,
        ADMIN_TOKEN,
        path,
        json!({"created_from": "api_Client"}),
    );
    assert_eq!(incr["result_code"], 1, "{incr}");
    let by_alice = scan_sync(app, &alice, path, json!({"created_from": "codedog_client"}));
    assert_eq!(by_alice["result_code"], 1, "{by_alice}");
    let (full, incr, by_alice) = (id_of(&full), id_of(&incr), id_of(&by_alice));
    let created = [full, incr, by_alice].map(|id| detail(app, path, id)["create_time"].clone());
    Jobs {
        gated,
        full,
        incr,
        by_alice,
        created,
    }
}

/// The three closed jobs and a fourth, `cancelled` (admin, `tca_web`, 301).
pub(crate) fn four_jobs() -> (Jobs, i64) {
    let jobs = three_closed_jobs();
    let cancelled = jobs.gated.held_job(json!({"incr_scan": false}));
    cancel(
        &jobs.gated.app,
        ADMIN_TOKEN,
        &jobs.gated.path,
        cancelled,
        "not needed",
    )
    .expect(200);
    jobs.gated.gate.open();
    (jobs, cancelled)
}
