//! The task-management API as a client sees it (TCA_API.md §4-§6, §8.5): `scans/create` input,
//! the job list with its filters and pagination, job detail, cancel, permissions, task logs and
//! line counts by language.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::helpers::{git, make_git_repo, Body, Reply, TestApp, World, ADMIN_TOKEN};

/// How long a tiny scan may take before a test gives up (it takes well under a second).
const WAIT: Duration = Duration::from_secs(30);

/// TCA's message for a repeat incremental scan at the same head.
const NO_CHANGE_MSG: &str = "代码无变更，无需再次增量扫描。如有需要，请启动全量扫描。";

const ITEM_KEYS: [&str; 10] = [
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

const DETAIL_KEYS: [&str; 27] = [
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
];

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// A query string (with its `?`) whose values are form-encoded, so `+` travels as `%2B`.
fn query(pairs: &[(&str, &str)]) -> String {
    format!("?{}", serde_urlencoded::to_string(pairs).unwrap())
}

/// The `data` of a successful job list answer for `query` (`""` or `?...`).
#[track_caller]
fn list(app: &TestApp, project: &str, query: &str) -> Value {
    app.get(&format!("{project}/jobs/{query}"), ADMIN_TOKEN)
        .expect(200)
        .data()
        .clone()
}

/// The ids of a job list page, in the order given.
fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {page}"))
        .iter()
        .map(|job| job["id"].as_i64().unwrap())
        .collect()
}

/// The ids the job list answers for `query`; also checks that `count` agrees when all fit.
#[track_caller]
fn listed(app: &TestApp, project: &str, query: &str) -> Vec<i64> {
    let page = list(app, project, query);
    let found = ids(&page);
    assert_eq!(
        page["count"],
        json!(found.len()),
        "count for {query}: {page}"
    );
    found
}

fn job_count(app: &TestApp, project: &str) -> i64 {
    list(app, project, "")["count"].as_i64().unwrap()
}

fn detail(app: &TestApp, project: &str, job_id: i64) -> Value {
    app.get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
        .expect(200)
        .data()
        .clone()
}

fn scan_as(app: &TestApp, token: &str, project: &str, body: Value) -> Reply {
    app.post(&format!("{project}/scans/create/"), token, body)
}

/// A synchronous scan (`async_flag: false`); returns the closed job as the answer shows it.
#[track_caller]
fn scan_sync(app: &TestApp, token: &str, project: &str, mut body: Value) -> Value {
    body["async_flag"] = json!(false);
    let reply = scan_as(app, token, project, body).expect(200);
    let job = reply.data()["job"].clone();
    assert_eq!(job["state"], 2, "a sync scan answers once CLOSED: {job}");
    job
}

fn id_of(job: &Value) -> i64 {
    job["id"].as_i64().unwrap()
}

fn cancel(app: &TestApp, token: &str, project: &str, job_id: i64, remarks: &str) -> Reply {
    app.post(
        &format!("{project}/jobs/{job_id}/cancel/"),
        token,
        json!({"remarks": remarks}),
    )
}

/// Whether `text` has the shape of `pattern`, where `9` stands for any ASCII digit.
fn shaped(text: &str, pattern: &str) -> bool {
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
fn is_datetime(value: &Value, offset: &str) -> bool {
    value.as_str().is_some_and(|text| {
        shaped(text, &format!("9999-99-99T99:99:99{offset}"))
            || shaped(text, &format!("9999-99-99T99:99:99.999999{offset}"))
    })
}

/// A string of float seconds as Python's `str(float)` writes it: `1.0`, `-0.401359`, `1e-05`.
fn is_float_seconds(value: &Value) -> bool {
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

fn parse_time(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339)
        .unwrap_or_else(|e| panic!("{value} is not RFC 3339: {e}"))
}

/// A command tool `gate` that runs while a file exists: a job of a scheme with it stays
/// RUNNING, without any sleep in the test, until the gate opens or the job is cancelled.
struct Gate {
    dir: TempDir,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn hold_file(&self) -> PathBuf {
        self.dir.path().join("hold")
    }

    fn tools_toml(&self) -> String {
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
    fn close(&self) {
        std::fs::write(self.hold_file(), b"").unwrap();
    }

    fn open(&self) {
        let _ = std::fs::remove_file(self.hold_file());
    }
}

/// A server whose `tools.toml` defines the gate, with the world and a project on `main` whose
/// scheme counts lines and then passes the gate. The app is dropped first (fields drop in order),
/// which kills any tool still waiting at the gate.
struct Gated {
    app: TestApp,
    path: String,
    gate: Gate,
}

fn gated() -> Gated {
    let gate = Gate::new();
    let app = TestApp::spawn_with_tools(&gate.tools_toml());
    let world = World::build(&app);
    let path = world.project_with_scheme(&app, "main", json!({"name": "gated", "tools": ["gate"]}));
    Gated { app, path, gate }
}

impl Gated {
    /// Starts a full scan with the gate closed and waits until the job is RUNNING at the gate.
    fn held_job(&self, body: Value) -> i64 {
        self.gate.close();
        let (job_id, _) = self.app.start_scan(&self.path, body);
        self.app
            .wait_for_detail(&self.path, job_id, WAIT, |d| d["state"] == 1);
        job_id
    }
}

/// Adds `username` to org acme with `org_role`, and to team `team` with `team_role` if given.
fn add_member(app: &TestApp, username: &str, org_role: i64, team: Option<(&str, i64)>) {
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
struct Jobs {
    gated: Gated,
    full: i64,
    incr: i64,
    by_alice: i64,
    /// `create_time` of full, incr, by_alice, as the detail shows them.
    created: [Value; 3],
}

fn three_closed_jobs() -> Jobs {
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
fn four_jobs() -> (Jobs, i64) {
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

// --- The job list -------------------------------------------------------------------------------

#[test]
fn the_job_list_shows_the_newest_job_first_with_tcas_item_keys_in_order() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let full = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let again = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": true}),
    ));

    let page = list(&app, &path, "");
    assert_eq!(ids(&page), [again, incr, full]);
    assert_eq!(page["count"], 3);
    for item in page["results"].as_array().unwrap() {
        assert_eq!(keys(item), ITEM_KEYS, "{item}");
        assert_eq!(item["state"], 2);
        assert_eq!(item["efficient_comment_line_num"], Value::Null);
        assert_eq!(item["filtered_efficient_comment_line_num"], Value::Null);
        // The world's repository is one line of Python; a no-change scan describes the same tree.
        assert_eq!(item["code_line_num"], 1, "{item}");
        assert_eq!(item["comment_line_num"], 0, "{item}");
        assert_eq!(item["blank_line_num"], 0, "{item}");
        assert_eq!(item["total_line_num"], 1, "{item}");
    }
    let results = &page["results"];
    assert_eq!(results[2]["result_code"], 0);
    assert_eq!(results[2]["result_msg"], "success");
    assert_eq!(results[1]["result_code"], 1);
    assert_eq!(results[1]["result_msg"], NO_CHANGE_MSG);
    assert_eq!(results[0]["result_code"], 1);
}

#[test]
fn time_filters_take_offsets_and_read_naive_times_and_dates_in_the_servers_offset() {
    let jobs = three_closed_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    let all = vec![by_alice, incr, full];
    let middle = jobs.created[1].as_str().unwrap();
    assert!(middle.ends_with("+08:00"), "{middle}");

    // With the offset, `+` sent as %2B.
    let gte = |value: &str| listed(app, path, &query(&[("create_time_gte", value)]));
    let lte = |value: &str| listed(app, path, &query(&[("create_time_lte", value)]));
    assert_eq!(gte(middle), [by_alice, incr], "gte is inclusive");
    assert_eq!(lte(middle), [incr, full], "lte is inclusive");
    let both = query(&[("create_time_gte", middle), ("create_time_lte", middle)]);
    assert_eq!(listed(app, path, &both), [incr]);

    // The same moment in UTC selects the same jobs.
    let utc = parse_time(&jobs.created[1])
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap();
    assert!(utc.ends_with('Z'), "{utc}");
    assert_eq!(gte(&utc), [by_alice, incr], "{utc}");

    // Without an offset the time is read as +08:00; read as UTC it would be 8 hours later.
    let naive = &middle[..middle.len() - "+08:00".len()];
    assert_eq!(gte(naive), [by_alice, incr], "{naive}");
    assert_eq!(lte(naive), [incr, full], "{naive}");

    // A date alone is that day's midnight in +08:00.
    let date = &middle[..10];
    let midnight = OffsetDateTime::parse(&format!("{date}T00:00:00+08:00"), &Rfc3339).unwrap();
    let next_midnight = midnight + time::Duration::days(1);
    let times: Vec<(i64, OffsetDateTime)> = [full, incr, by_alice]
        .into_iter()
        .zip(jobs.created.iter().map(parse_time))
        .collect();
    let expect = |keep: &dyn Fn(OffsetDateTime) -> bool| -> Vec<i64> {
        let mut kept: Vec<i64> = times
            .iter()
            .filter(|(_, t)| keep(*t))
            .map(|(id, _)| *id)
            .collect();
        kept.reverse();
        kept
    };
    assert_eq!(gte(date), expect(&|t| t >= midnight), "gte {date}");
    assert_eq!(lte(date), expect(&|t| t <= midnight), "lte {date}");
    let next_date = next_midnight.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap());
    let next_date = format!(
        "{:04}-{:02}-{:02}",
        next_date.year(),
        u8::from(next_date.month()),
        next_date.day()
    );
    assert_eq!(
        lte(&next_date),
        expect(&|t| t <= next_midnight),
        "lte {next_date}"
    );

    // Far bounds.
    assert_eq!(gte("2999-12-31T23:59:59+08:00"), Vec::<i64>::new());
    assert_eq!(lte("2999-12-31T23:59:59+08:00"), all);
    assert_eq!(gte("2000-01-01T00:00:00+08:00"), all);
    assert_eq!(lte("2000-01-01T00:00:00+08:00"), Vec::<i64>::new());
    assert_eq!(gte("2000-01-01"), all);
    assert_eq!(lte("2000-01-01"), Vec::<i64>::new());
}

#[test]
fn result_code_filters_are_inclusive_and_accept_decimals_and_exponents() {
    let (jobs, cancelled) = four_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    assert_eq!(
        detail(app, path, cancelled)["result_code"],
        301,
        "the fixture's cancelled job"
    );
    let cases: [(&str, Vec<i64>); 10] = [
        ("?result_code_gte=0.5", vec![cancelled, by_alice, incr]),
        ("?result_code_lte=0.5", vec![full]),
        ("?result_code_gte=1e2", vec![cancelled]),
        ("?result_code_lte=1e2", vec![by_alice, incr, full]),
        ("?result_code_gte=1&result_code_lte=1", vec![by_alice, incr]),
        (
            "?result_code_gte=301&result_code_lte=301.0",
            vec![cancelled],
        ),
        ("?result_code_gte=0", vec![cancelled, by_alice, incr, full]),
        (
            "?result_code_gte=-1.5",
            vec![cancelled, by_alice, incr, full],
        ),
        ("?result_code_lte=-0.5", vec![]),
        ("?result_code_gte=301.5", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(app, path, query), expected, "{query}");
    }
}

#[test]
fn result_msg_created_from_and_creator_filters_are_case_insensitive_substrings() {
    let (jobs, cancelled) = four_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    let cancelled_detail = detail(app, path, cancelled);
    assert_eq!(cancelled_detail["created_from"], "tca_web");
    assert_eq!(detail(app, path, by_alice)["creator"], "alice-nick");
    let cases: Vec<(&str, &str, Vec<i64>)> = vec![
        ("result_msg", "SUCCESS", vec![full]),
        ("result_msg", "Succ", vec![full]),
        ("result_msg", "无需再次增量", vec![by_alice, incr]),
        ("result_msg", "canceled", vec![cancelled]),
        ("result_msg", "CANCELED: NOT NEEDED", vec![cancelled]),
        // `%` and `_` are literal characters, not LIKE wildcards.
        ("result_msg", "su%s", vec![]),
        ("result_msg", "succ_ss", vec![]),
        ("result_msg", "nothing like this", vec![]),
        ("created_from", "CLIENT", vec![by_alice, incr]),
        ("created_from", "web", vec![cancelled, full]),
        ("created_from", "b_u", vec![full]),
        ("created_from", "tca_web", vec![cancelled]),
        ("created_from", "tc__web", vec![]),
        ("created_from", "x_y", vec![]),
        ("creator", "ALICE", vec![by_alice]),
        ("creator", "Nick", vec![by_alice]),
        ("creator", "dmi", vec![cancelled, incr, full]),
        ("creator", "bob", vec![]),
    ];
    for (field, value, expected) in cases {
        assert_eq!(
            listed(app, path, &query(&[(field, value)])),
            expected,
            "{field}={value}"
        );
    }
    // Filters combine.
    let combined = query(&[("created_from", "client"), ("creator", "admin")]);
    assert_eq!(listed(app, path, &combined), [incr]);
}

#[test]
fn the_state_filter_takes_a_comma_separated_list_of_states() {
    let jobs = three_closed_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    let running = jobs.gated.held_job(json!({"incr_scan": false}));

    let cases: [(&str, Vec<i64>); 7] = [
        ("?state=1", vec![running]),
        ("?state=2", vec![by_alice, incr, full]),
        ("?state=0,2", vec![by_alice, incr, full]),
        ("?state=%201,%202", vec![running, by_alice, incr, full]),
        ("?state=2,1", vec![running, by_alice, incr, full]),
        ("?state=0", vec![]),
        ("?state=0,3,4,5", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(app, path, query), expected, "{query}");
    }
    cancel(app, ADMIN_TOKEN, path, running, "").expect(200);
    assert_eq!(listed(app, path, "?state=1"), Vec::<i64>::new());
    assert_eq!(
        listed(app, path, "?state=2"),
        [running, by_alice, incr, full]
    );
}

#[test]
fn bad_filter_values_are_400_naming_each_bad_field_never_500() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let cases = [
        ("?result_code_gte=abc", "result_code_gte"),
        ("?result_code_lte=1.2.3", "result_code_lte"),
        ("?result_code_gte=NaN", "result_code_gte"),
        ("?create_time_gte=2020/01/01", "create_time_gte"),
        ("?create_time_lte=2020-01-01%2010", "create_time_lte"),
        ("?create_time_lte=1577836800", "create_time_lte"),
        ("?state=abc", "state"),
        ("?state=1,,2", "state"),
        ("?state=1,", "state"),
        ("?state=,1", "state"),
        ("?state=1.5", "state"),
        // An unencoded `+08:00` arrives as a space, and is refused.
        (
            "?create_time_gte=2020-01-01T00:00:00+08:00",
            "create_time_gte",
        ),
    ];
    for (query, field) in cases {
        let reply = app.get(&format!("{path}/jobs/{query}"), ADMIN_TOKEN);
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.invalid_fields(), [field], "{query}: {}", reply.body);
        assert!(
            reply.body["msg"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field} ")),
            "{query}: {}",
            reply.body
        );
    }
    let number = app
        .get(&format!("{path}/jobs/?result_code_gte=abc"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(number.body["msg"], "result_code_gte Enter a number.");
    assert_eq!(
        number.body["invalid_fields"],
        json!([{"field": "result_code_gte", "message": ["Enter a number."]}])
    );
    let date = app
        .get(
            &format!("{path}/jobs/?create_time_gte=2020/01/01"),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(date.body["msg"], "create_time_gte Enter a valid date/time.");

    // Several bad values at once are all named.
    let several = app
        .get(
            &format!(
                "{path}/jobs/?state=x&result_code_gte=abc&create_time_lte=2020/01/01&result_code_lte=&create_time_gte=2020-01-01"
            ),
            ADMIN_TOKEN,
        )
        .expect(400);
    let mut named = several.invalid_fields();
    named.sort();
    assert_eq!(
        named,
        ["create_time_lte", "result_code_gte", "state"],
        "{}",
        several.body
    );
}

#[test]
fn datetimes_out_of_range_after_their_offset_or_with_multibyte_zones_are_400_never_500() {
    // Issue 8, hole 4: both crashed the handler (a time past year 9999 once moved to UTC, and a
    // string slice inside `é`). TCA answers an HTML 500 for them.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project_jobs = format!("{}/jobs/", world.project_path());
    let cases = [
        "create_time_gte=9999-12-31T23:59:59-23:00",
        "create_time_lte=9999-12-31T23:59:59-00:01",
        "create_time_gte=0001-01-01T00:00:00%2B00:01",
        "create_time_gte=2020-01-01T10:00%2Ba%C3%A9b",
        "create_time_lte=2020-01-01T10:00-%C3%A9%C3%A9",
        "create_time_gte=2020-01-01T10:00:00.%C3%A9",
        "create_time_gte=%C3%A9%C3%A9%C3%A9%C3%A9-01-01",
        "create_time_gte=01/02/%C3%A9%C3%A9",
    ];
    for list in [project_jobs.as_str(), "/server/main/api/v3/jobs/"] {
        for query in cases {
            let field = query.split('=').next().unwrap();
            let reply = app.get(&format!("{list}?{query}"), ADMIN_TOKEN);
            assert_eq!(reply.status, 400, "{list}?{query}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), [field], "{query}: {}", reply.body);
            assert_eq!(
                reply.body["msg"],
                format!("{field} Enter a valid date/time."),
                "{query}"
            );
        }
        // The last moments that fit still filter.
        for query in [
            "create_time_lte=9999-12-31T23:59:59.999999Z",
            "create_time_lte=9999-12-31T23:59:59%2B23:00",
            "create_time_gte=0001-01-01T00:00:00-23:00",
        ] {
            app.get(&format!("{list}?{query}"), ADMIN_TOKEN).expect(200);
        }
    }
}

#[test]
fn empty_filter_values_mean_no_filter() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let full = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let everything = "?state=&result_code_gte=&result_code_lte=&create_time_gte=&create_time_lte=&result_msg=&created_from=&creator=";
    assert_eq!(listed(&app, &path, everything), [incr, full]);
    assert_eq!(listed(&app, &path, "?state=%20"), [incr, full]);
    // Unknown parameters are ignored; a repeated parameter takes its last value.
    assert_eq!(
        listed(&app, &path, "?ordering=id&page=3&nothing=x"),
        [incr, full]
    );
    assert_eq!(listed(&app, &path, "?state=abc&state=2"), [incr, full]);
    assert_eq!(
        listed(&app, &path, "?result_code_gte=1&result_code_gte="),
        [incr, full]
    );
}

/// TCA's `JobFilterSetV3` (apps/job/api_filters/v3.py) filters by `project`, a NumberFilter.
#[test]
fn the_project_filter_keeps_that_projects_jobs_and_a_non_number_is_400() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let other = world.project_with_scheme(&app, "main", json!({"name": "other"}));
    let job = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let other_job = id_of(&scan_sync(&app, ADMIN_TOKEN, &other, json!({})));
    let own = world.project_id;
    let other_id: i64 = other.rsplit('/').next().unwrap().parse().unwrap();

    assert_eq!(listed(&app, &path, &format!("?project={own}")), [job]);
    assert_eq!(listed(&app, &path, &format!("?project={own}.0")), [job]);
    assert!(listed(&app, &path, &format!("?project={other_id}")).is_empty());
    assert!(listed(&app, &path, &format!("?project={own}.5")).is_empty());
    assert_eq!(listed(&app, &path, "?project="), [job]);
    // The cross-project list takes it too.
    let recent = app
        .get(
            &format!("/server/main/api/v3/jobs/?project={other_id}"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(ids(recent.data()), [other_job]);

    let bad = app
        .get(&format!("{path}/jobs/?project=abc&state=x"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.body["msg"], "project Enter a number.");
    assert_eq!(bad.invalid_fields(), ["project", "state"]);
}

#[test]
fn query_values_are_checked_only_after_401_404_and_403() {
    // ARCHITECTURE.md: "Order of checks on a request: 401, then 404 for anything named in the
    // URL, then 403, then 400" (TCA's permission classes run before its filters too).
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let outsider = app.create_user("outsider");
    let other = app.create_user("other_member");
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    add_member(&app, "other_member", 2, Some(("other", 2)));
    let missing = format!("{}/projects/999", world.repo_path());

    let cases: Vec<(String, Option<&str>, u16)> = vec![
        (format!("{path}/jobs/?state=abc"), None, 401),
        (
            format!("{path}/jobs/?state=abc"),
            Some(outsider.as_str()),
            403,
        ),
        (format!("{path}/jobs/?state=abc"), Some(other.as_str()), 403),
        (
            format!("{path}/jobs/?result_code_gte=x&create_time_gte=y"),
            Some(outsider.as_str()),
            403,
        ),
        (format!("{missing}/jobs/?state=abc"), Some(ADMIN_TOKEN), 404),
        (
            format!("{path}/jobs/?offset=9223372036854775808"),
            Some(outsider.as_str()),
            403,
        ),
        (
            format!("{missing}/jobs/?offset=9223372036854775808"),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            format!("{missing}/jobs/?state=abc"),
            Some(outsider.as_str()),
            404,
        ),
        (
            format!("{path}/jobs/{job}/tasks/{task}/log/?offset=abc"),
            Some(outsider.as_str()),
            403,
        ),
        (
            format!("{path}/jobs/{job}/tasks/999/log/?offset=-1"),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            format!("{path}/jobs/{job}/log/?offset=abc"),
            Some(other.as_str()),
            403,
        ),
    ];
    let mut failures = Vec::new();
    for (url, token, expected) in cases {
        let reply = app.call("GET", &url, token, Body::None);
        if reply.status != expected {
            failures.push(format!(
                "GET {url} as {}: expected {expected}, got {} {}",
                match token {
                    None => "nobody",
                    Some(t) if t == ADMIN_TOKEN => "superuser",
                    Some(t) if t == outsider => "outsider",
                    Some(_) => "other-team member",
                },
                reply.status,
                reply.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "wrong order of checks:\n{}",
        failures.join("\n")
    );
}

#[test]
fn an_unreadable_scans_create_body_is_checked_only_after_404_and_403() {
    // The same order for bodies: TCA's DRF parses `request.data` in the view, after the
    // permission classes, so a caller who may not scan gets 403 whatever the body holds.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let outsider = app.create_user("outsider");
    let member = app.create_user("member");
    add_member(&app, "member", 2, Some(("web", 2)));
    let missing = format!("{}/projects/999", world.repo_path());
    let malformed = || Body::Raw("application/json", b"{\"incr_scan\": ".to_vec());
    let cases: Vec<(String, &str, Body, u16)> = vec![
        (path.clone(), "outsider", malformed(), 403),
        (path.clone(), "member", malformed(), 403),
        (
            path.clone(),
            "outsider",
            Body::Raw("text/plain", b"x".to_vec()),
            403,
        ),
        (
            path.clone(),
            "outsider",
            Body::Json(json!({"incr_scan": "maybe"})),
            403,
        ),
        (missing.clone(), "superuser", malformed(), 404),
    ];
    let mut failures = Vec::new();
    for (project, who, body, expected) in cases {
        let token = match who {
            "outsider" => outsider.as_str(),
            "member" => member.as_str(),
            _ => ADMIN_TOKEN,
        };
        let reply = app.call(
            "POST",
            &format!("{project}/scans/create/"),
            Some(token),
            body,
        );
        if reply.status != expected {
            failures.push(format!(
                "POST {project}/scans/create/ as {who}: expected {expected}, got {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert_eq!(job_count(&app, &path), 0);
    assert!(
        failures.is_empty(),
        "wrong order of checks:\n{}",
        failures.join("\n")
    );
}

// --- Pagination ---------------------------------------------------------------------------------

/// Queues `count` jobs on the gated project (gate closed: two wait at the gate, the rest stay
/// WAITING); every `other_every`-th has created_from `other`, the rest `pager`. Returns the
/// `pager` jobs newest first.
fn queue_jobs(gated: &Gated, count: usize, other_every: usize) -> Vec<i64> {
    gated.gate.close();
    let mut pager = Vec::new();
    for i in 0..count {
        let from = if other_every > 0 && i % other_every == other_every - 1 {
            "other"
        } else {
            "pager"
        };
        let (job, _) = gated.app.start_scan(
            &gated.path,
            json!({"force_create": true, "created_from": from}),
        );
        if from == "pager" {
            pager.push(job);
        }
    }
    pager.reverse();
    pager
}

/// The path part of an absolute link of this server.
#[track_caller]
fn below_base<'a>(app: &TestApp, link: &'a str, prefix: &str) -> &'a str {
    let path = link
        .strip_prefix(&app.base)
        .unwrap_or_else(|| panic!("{link} is not below {}", app.base));
    assert!(path.starts_with(prefix), "{link} does not keep {prefix}");
    path
}

#[test]
fn the_job_list_pages_with_a_default_limit_of_10_and_links_that_keep_the_filters() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let pager = queue_jobs(&gated, 25, 5);
    assert_eq!(pager.len(), 20);

    let first = list(app, path, "?created_from=pager");
    assert_eq!(first["count"], 20);
    assert_eq!(ids(&first), pager[..10]);
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(
        first["next"],
        format!(
            "{}{path}/jobs/?created_from=pager&limit=10&offset=10",
            app.base
        )
    );
    let unfiltered = list(app, path, "");
    assert_eq!(unfiltered["count"], 25);
    assert_eq!(unfiltered["results"].as_array().unwrap().len(), 10);

    let window = list(app, path, "?created_from=pager&limit=4&offset=6");
    assert_eq!(ids(&window), pager[6..10]);
    assert_eq!(
        window["previous"],
        format!(
            "{}{path}/jobs/?created_from=pager&limit=4&offset=2",
            app.base
        )
    );
    // Going back to the start drops `offset`, as Django does.
    let near_start = list(app, path, "?created_from=pager&limit=4&offset=3");
    assert_eq!(
        near_start["previous"],
        format!("{}{path}/jobs/?created_from=pager&limit=4", app.base)
    );
    // Beyond the end: nothing, and a way back.
    let beyond = list(app, path, "?created_from=pager&limit=3&offset=100");
    assert_eq!(beyond["count"], 20);
    assert_eq!(ids(&beyond), Vec::<i64>::new());
    assert_eq!(beyond["next"], Value::Null);
    assert_eq!(
        beyond["previous"],
        format!(
            "{}{path}/jobs/?created_from=pager&limit=3&offset=97",
            app.base
        )
    );
    // A bad limit or offset falls back to the defaults.
    let fallback = list(app, path, "?created_from=pager&limit=0&offset=-4");
    assert_eq!(ids(&fallback), pager[..10]);
    let fallback = list(app, path, "?created_from=pager&limit=abc&offset=x");
    assert_eq!(ids(&fallback), pager[..10]);
}

#[test]
fn following_next_to_the_end_and_previous_back_sees_every_job_once_newest_first() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let pager = queue_jobs(&gated, 23, 4);
    assert_eq!(pager.len(), 18);
    let prefix = "/server/main/api/";

    let mut pages = vec![list(app, path, "?created_from=PAGER&limit=4")];
    loop {
        let page = pages.last().unwrap();
        assert_eq!(page["count"], 18, "{page}");
        let Some(next) = page["next"].as_str() else {
            break;
        };
        assert!(
            next.contains("created_from=PAGER") && next.contains("limit=4"),
            "{next}"
        );
        let next = below_base(app, next, prefix).to_string();
        pages.push(app.get(&next, ADMIN_TOKEN).expect(200).data().clone());
        assert!(pages.len() <= 10, "next never ends");
    }
    assert_eq!(pages.len(), 5);
    let forward: Vec<i64> = pages.iter().flat_map(ids).collect();
    assert_eq!(forward, pager, "forward through next");

    let mut back = vec![pages.last().unwrap().clone()];
    loop {
        let page = back.last().unwrap();
        let Some(previous) = page["previous"].as_str() else {
            break;
        };
        assert!(
            previous.contains("created_from=PAGER") && previous.contains("limit=4"),
            "{previous}"
        );
        let previous = below_base(app, previous, prefix).to_string();
        back.push(app.get(&previous, ADMIN_TOKEN).expect(200).data().clone());
        assert!(back.len() <= 10, "previous never ends");
    }
    assert_eq!(back.len(), 5);
    let backward: Vec<i64> = back.iter().rev().flat_map(ids).collect();
    assert_eq!(backward, pager, "back through previous");
    assert_eq!(back.last().unwrap()["previous"], Value::Null);
}

#[test]
fn the_job_list_answers_under_the_bare_api_prefix_with_links_that_keep_it() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let pager = queue_jobs(&gated, 5, 0);
    let bare = path.replacen("/server/main/api/", "/api/", 1);
    assert_ne!(bare, path);
    let v3 = path.replacen("/server/main/api/orgs/", "/server/main/api/v3/orgs/", 1);

    let first = list(app, &bare, "?limit=2&created_from=pager");
    assert_eq!(first["count"], 5);
    assert_eq!(ids(&first), pager[..2]);
    let next = first["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "{}{bare}/jobs/?created_from=pager&limit=2&offset=2",
            app.base
        )
    );
    let second = app
        .get(below_base(app, next, "/api/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(ids(second.data()), pager[2..4]);
    let previous = second.data()["previous"].as_str().unwrap();
    assert_eq!(
        previous,
        format!("{}{bare}/jobs/?created_from=pager&limit=2", app.base)
    );

    let under_v3 = list(app, &v3, "?limit=2");
    assert_eq!(ids(&under_v3), pager[..2]);
    assert!(under_v3["next"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}{v3}/jobs/?", app.base)));
}

#[test]
fn an_offset_at_the_end_of_i64_gives_an_empty_last_page_and_a_bigger_one_is_400() {
    // Issue 8, hole 5: `offset + limit` wrapped, and `next` pointed at a negative offset.
    let app = TestApp::spawn();
    let world = World::build(&app);
    id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &world.project_path(),
        json!({"incr_scan": false}),
    ));
    let project_jobs = format!("{}/jobs/", world.project_path());
    for list in [project_jobs.as_str(), "/server/main/api/v3/jobs/"] {
        for (query, previous) in [
            (
                "offset=9223372036854775807",
                "limit=10&offset=9223372036854775797",
            ),
            (
                "limit=1000&offset=9223372036854775000",
                "limit=1000&offset=9223372036854774000",
            ),
            (
                "limit=7&offset=%2B9223372036854775807",
                "limit=7&offset=9223372036854775800",
            ),
        ] {
            let page = app.get(&format!("{list}?{query}"), ADMIN_TOKEN).expect(200);
            let page = page.data();
            assert_eq!(page["count"], 1, "{query}: {page}");
            assert_eq!(page["results"], json!([]), "{query}: {page}");
            assert_eq!(page["next"], Value::Null, "{query}: {page}");
            assert_eq!(
                page["previous"],
                format!("{}{list}?{previous}", app.base),
                "{query}"
            );
        }
        for offset in ["9223372036854775808", "99999999999999999999999999"] {
            let reply = app.get(&format!("{list}?offset={offset}"), ADMIN_TOKEN);
            assert_eq!(reply.status, 400, "{offset}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), ["offset"], "{}", reply.body);
            assert_eq!(
                reply.body["msg"],
                "offset Ensure this value is less than or equal to 9223372036854775807."
            );
        }
        // A limit too big for i64 is capped like any limit over 1000.
        let page = app
            .get(&format!("{list}?limit=99999999999999999999"), ADMIN_TOKEN)
            .expect(200);
        assert_eq!(page.data()["results"].as_array().unwrap().len(), 1);
        let page = app
            .get(
                &format!("{list}?limit=99999999999999999999&offset=1"),
                ADMIN_TOKEN,
            )
            .expect(200);
        assert_eq!(
            page.data()["previous"],
            format!("{}{list}?limit=1000", app.base)
        );
    }
}

#[test]
fn a_limit_over_1000_gives_1000_jobs_and_a_next_link_with_limit_1000() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let all = queue_jobs(&gated, 1001, 0);
    let page = list(app, path, "?limit=5000");
    assert_eq!(page["count"], 1001);
    assert_eq!(ids(&page), all[..1000]);
    assert_eq!(
        page["next"],
        format!("{}{path}/jobs/?limit=1000&offset=1000", app.base)
    );
    let rest = app
        .get(
            below_base(app, page["next"].as_str().unwrap(), "/server/main/api/"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(ids(rest.data()), all[1000..]);
    assert_eq!(
        rest.data()["previous"],
        format!("{}{path}/jobs/?limit=1000", app.base)
    );
}

// --- Job detail ---------------------------------------------------------------------------------

#[test]
fn job_detail_has_every_key_in_order_with_iso_times_and_float_second_durations() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let created = scan_as(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false})).expect(200);
    let full = created.data()["job"]["id"].as_i64().unwrap();
    let scan_id = created.data()["scan"]["id"].clone();
    app.wait_for_job(&path, full, WAIT);
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));

    let done = detail(&app, &path, full);
    let skipped = detail(&app, &path, incr);
    let repo = app
        .get(&format!("{}/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    for job in [&done, &skipped] {
        assert_eq!(keys(job), DETAIL_KEYS, "{job}");
        assert_eq!(
            keys(&job["project"]),
            [
                "id",
                "branch",
                "repo_id",
                "scan_scheme",
                "repo_scm_url",
                "organization",
                "project_team"
            ]
        );
        assert_eq!(
            keys(&job["project"]["organization"]),
            ["org_sid", "name", "certificated", "status", "level"]
        );
        assert_eq!(
            keys(&job["project"]["project_team"]),
            ["name", "display_name", "status", "org_sid"]
        );
        for field in ["create_time", "start_time", "end_time"] {
            assert!(
                is_datetime(&job[field], "+08:00"),
                "{field}: {}",
                job[field]
            );
        }
        for field in ["waiting_time", "execute_time", "save_time"] {
            assert!(is_float_seconds(&job[field]), "{field}: {}", job[field]);
        }
        assert_eq!(job["co_jobs"], json!([]));
        assert_eq!(job["state"], 2);
        assert_eq!(job["remarks"], Value::Null);
        assert_eq!(job["remarked_by"], Value::Null);
        assert_eq!(job["created_from"], "tca_web");
        assert_eq!(job["creator"], "admin");
        assert!(parse_time(&job["create_time"]) <= parse_time(&job["start_time"]));
        assert!(parse_time(&job["start_time"]) <= parse_time(&job["end_time"]));
        let project = &job["project"];
        assert_eq!(project["id"], world.project_id);
        assert_eq!(project["branch"], "main");
        assert_eq!(project["repo_id"], world.repo_id);
        assert_eq!(project["scan_scheme"], world.scheme_id);
        assert_eq!(project["repo_scm_url"], repo.data()["scm_url"]);
        assert_eq!(project["organization"]["org_sid"], "acme");
        assert_eq!(project["organization"]["name"], "Acme");
        assert_eq!(project["organization"]["status"], 1);
        assert_eq!(project["project_team"]["name"], "web");
        assert_eq!(project["project_team"]["org_sid"], "acme");
        assert_eq!(project["project_team"]["status"], 1);
    }

    assert_eq!(done["id"], full);
    assert_eq!(done["scan_id"], scan_id);
    assert_eq!(done["result_code"], 0);
    assert_eq!(done["result_code_msg"], "成功");
    assert_eq!(done["result_msg"], "success");
    assert_eq!(done["expire_time"], Value::Null);
    // The default template runs codecount and the built-in checker.
    assert_eq!(done["task_num"], 2);
    assert_eq!(done["task_done"], 2);
    assert_eq!(
        [
            &done["code_line_num"],
            &done["comment_line_num"],
            &done["blank_line_num"],
            &done["total_line_num"]
        ],
        [&json!(1), &json!(0), &json!(0), &json!(1)]
    );
    let tasks = done["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{done}");
    assert_eq!(tasks[1]["task_name"], "codepup");
    let task = &tasks[0];
    assert_eq!(
        keys(task),
        [
            "id",
            "module",
            "task_name",
            "progress_rate",
            "state",
            "result_code",
            "result_msg",
            "result_path"
        ]
    );
    assert_eq!(task["module"], "codemetric");
    assert_eq!(task["task_name"], "codecount");
    assert_eq!(task["progress_rate"], 100);
    assert_eq!(task["state"], 2);
    assert_eq!(task["result_code"], 0);

    assert_eq!(skipped["result_code"], 1);
    assert_eq!(skipped["result_code_msg"], "无需扫描");
    assert_eq!(skipped["result_msg"], NO_CHANGE_MSG);
    assert!(
        is_datetime(&skipped["expire_time"], "+08:00"),
        "{}",
        skipped["expire_time"]
    );
    assert_eq!(skipped["code_line_num"], 1);
    assert!(skipped["scan_id"].as_i64().unwrap() > scan_id.as_i64().unwrap());
}

#[test]
fn a_cancelled_job_closes_with_301_and_records_the_remark_and_who() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let job = gated.held_job(json!({"incr_scan": false}));
    let running = detail(app, path, job);
    assert_eq!(running["state"], 1);
    assert_eq!(running["result_code"], Value::Null);
    assert_eq!(running["result_code_msg"], Value::Null);
    assert_eq!(running["end_time"], Value::Null);
    assert!(is_float_seconds(&running["execute_time"]), "{running}");

    let reply = cancel(app, ADMIN_TOKEN, path, job, "not needed").expect(200);
    assert_eq!(
        reply.body,
        json!({"data": {"msg": "取消成功"}, "code": 0, "msg": "取消成功", "status_code": 200})
    );
    let cancelled = detail(app, path, job);
    assert_eq!(cancelled["state"], 2);
    assert_eq!(cancelled["result_code"], 301);
    assert_eq!(cancelled["result_code_msg"], "用户取消");
    assert_eq!(
        cancelled["result_msg"],
        "User( admin ) Canceled: not needed . "
    );
    assert_eq!(cancelled["remarks"], "not needed");
    assert!(cancelled["remarked_by"].is_i64(), "{cancelled}");
    for field in ["create_time", "start_time", "end_time", "expire_time"] {
        assert!(
            is_datetime(&cancelled[field], "+08:00"),
            "{field}: {}",
            cancelled[field]
        );
    }
    for field in ["waiting_time", "execute_time", "save_time"] {
        assert!(
            is_float_seconds(&cancelled[field]),
            "{field}: {}",
            cancelled[field]
        );
    }
    // The gate task was stopped with the job.
    let tasks = cancelled["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{cancelled}");
    assert!(tasks.iter().all(|task| task["state"] == 2), "{cancelled}");
    assert_eq!(tasks[1]["task_name"], "gate");
    assert_eq!(tasks[1]["result_code"], 301);
    // Cancelling again changes nothing.
    cancel(app, ADMIN_TOKEN, path, job, "again").expect(200);
    assert_eq!(detail(app, path, job)["remarks"], "not needed");
}

#[test]
fn a_job_of_another_project_a_missing_job_and_a_non_numeric_job_id_are_404() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let other = world.project_with_scheme(&app, "main", json!({"name": "other"}));
    let other_job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &other,
        json!({"incr_scan": false}),
    ));
    detail(&app, &other, other_job);

    for url in [
        format!("{other}/jobs/{job}/detail/"),
        format!("{path}/jobs/{other_job}/detail/"),
        format!("{path}/jobs/999999/detail/"),
        format!("{other}/jobs/{job}/codecount/"),
        format!("{path}/jobs/abc/detail/"),
        format!("{path}/jobs/1x/detail/"),
        format!("{path}/jobs/99999999999999999999999/detail/"),
    ] {
        let reply = app.get(&url, ADMIN_TOKEN);
        assert_eq!(reply.status, 404, "{url}: {}", reply.body);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{url}: {}",
            reply.content_type
        );
        assert_eq!(reply.body["msg"], "未找到。", "{url}");
    }
    cancel(&app, ADMIN_TOKEN, &other, job, "").expect(404);
    assert_eq!(detail(&app, &path, job)["result_code"], 0);
}

#[test]
fn a_server_configured_for_minus_0530_shows_every_job_time_in_minus_0530() {
    let app = TestApp::spawn_with(|config| {
        config.tz_offset = codepup::config::parse_offset("-05:30").unwrap();
    });
    let world = World::build(&app);
    let path = world.project_path();
    let full = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let full_detail = detail(&app, &path, full);
    let incr_detail = detail(&app, &path, incr);
    for (job, fields) in [
        (&full_detail, &["create_time", "start_time", "end_time"][..]),
        (
            &incr_detail,
            &["create_time", "start_time", "end_time", "expire_time"][..],
        ),
    ] {
        for field in fields {
            assert!(
                is_datetime(&job[*field], "-05:30"),
                "{field}: {}",
                job[*field]
            );
        }
    }
    // Naive filter times are read in -05:30 too.
    let created = incr_detail["create_time"].as_str().unwrap();
    let naive = &created[..created.len() - "-05:30".len()];
    assert_eq!(
        listed(&app, &path, &query(&[("create_time_gte", naive)])),
        [incr]
    );
    assert_eq!(
        listed(&app, &path, &query(&[("create_time_lte", naive)])),
        [incr, full]
    );
    assert_eq!(
        listed(&app, &path, &query(&[("create_time_gte", created)])),
        [incr]
    );
}

// --- scans/create input -------------------------------------------------------------------------

#[test]
fn an_async_scan_answers_exactly_the_job_and_scan_ids() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false})).expect(200);
    let job = reply.data()["job"]["id"].as_i64().unwrap();
    let scan = reply.data()["scan"]["id"].as_i64().unwrap();
    assert_eq!(
        reply.body.to_string(),
        json!({"data": {"job": {"id": job}, "scan": {"id": scan}}, "code": 0, "msg": "请求成功", "status_code": 200})
            .to_string(),
        "keys and order"
    );
    let closed = app.wait_for_job(&path, job, WAIT);
    assert_eq!(closed["result_code"], 0);
    assert_eq!(closed["scan_id"], scan);
}

#[test]
fn a_sync_scan_answers_once_the_job_is_closed_with_its_state_and_result() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let reply = scan_as(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false, "async_flag": false}),
    )
    .expect(200);
    let job = reply.data()["job"]["id"].as_i64().unwrap();
    let scan = reply.data()["scan"]["id"].as_i64().unwrap();
    assert_eq!(
        reply.body.to_string(),
        json!({
            "data": {
                "job": {"id": job, "state": 2, "result_code": 0, "result_msg": "success"},
                "scan": {"id": scan}
            },
            "code": 0, "msg": "请求成功", "status_code": 200
        })
        .to_string()
    );
    assert_eq!(detail(&app, &path, job)["state"], 2);
    let again = scan_sync(&app, ADMIN_TOKEN, &path, json!({}));
    assert_eq!(again["result_code"], 1);
    assert_eq!(again["result_msg"], NO_CHANGE_MSG);
}

#[test]
fn tcas_boolean_spellings_work_for_incr_scan_and_async_flag() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    // (body, expected result code); each is synchronous through another spelling of false.
    let cases = [
        (json!({"incr_scan": "off", "async_flag": "0"}), 0),
        (json!({"incr_scan": "yes", "async_flag": "off"}), 1),
        (json!({"incr_scan": 1, "async_flag": false}), 1),
        (json!({"incr_scan": "T", "async_flag": "F"}), 1),
        (json!({"incr_scan": "0", "async_flag": 0}), 0),
        (json!({"incr_scan": "on", "async_flag": "no"}), 1),
        (json!({"incr_scan": "False", "async_flag": "N"}), 0),
        (json!({"incr_scan": 0.0, "async_flag": "0.0"}), 0),
    ];
    for (body, expected) in cases {
        let reply = scan_as(&app, ADMIN_TOKEN, &path, body.clone()).expect(200);
        let job = &reply.data()["job"];
        assert_eq!(job["state"], 2, "{body} answers synchronously: {job}");
        assert_eq!(job["result_code"], expected, "{body}: {job}");
    }
    // True spellings of async_flag answer at once, with the ids only.
    for spelling in [json!("yes"), json!("T"), json!(1), json!("on"), json!(true)] {
        let reply = scan_as(
            &app,
            ADMIN_TOKEN,
            &path,
            json!({"async_flag": spelling.clone()}),
        )
        .expect(200);
        assert_eq!(keys(&reply.data()["job"]), ["id"], "{spelling}");
        let job = reply.data()["job"]["id"].as_i64().unwrap();
        assert_eq!(app.wait_for_job(&path, job, WAIT)["result_code"], 1);
    }
    // Forms spell them the same way.
    let form = app
        .post_form(
            &format!("{path}/scans/create/"),
            ADMIN_TOKEN,
            &[("incr_scan", "Y"), ("async_flag", "f")],
        )
        .expect(200);
    assert_eq!(form.data()["job"]["result_code"], 1, "{}", form.body);
}

#[test]
fn a_new_scan_while_a_job_is_unfinished_is_refused_with_code_300_unless_forced() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let project_id = path.rsplit('/').next().unwrap();
    let first = gated.held_job(json!({"incr_scan": false}));
    let first_scan = detail(app, path, first)["scan_id"].as_i64().unwrap();

    for body in [
        json!({}),
        json!({"force_create": false}),
        json!({"force_create": "off"}),
        json!({"force_create": "0"}),
        json!({"force_create": 0}),
    ] {
        let refused = scan_as(app, ADMIN_TOKEN, path, body.clone()).expect(400);
        assert_eq!(
            refused.body,
            json!({
                "status_code": 400,
                "code": 300,
                "msg": format!("当前项目分支[{project_id}]main还有未完成任务，编号为: [{first_scan}]")
            }),
            "{body}"
        );
    }
    assert_eq!(job_count(app, path), 1);

    let mut scans = vec![first_scan];
    for spelling in [json!("yes"), json!(1), json!("T"), json!("on"), json!(true)] {
        let reply = scan_as(
            app,
            ADMIN_TOKEN,
            path,
            json!({"force_create": spelling.clone()}),
        )
        .expect(200);
        scans.push(reply.data()["scan"]["id"].as_i64().unwrap());
    }
    let form = app
        .post_form(
            &format!("{path}/scans/create/"),
            ADMIN_TOKEN,
            &[("force_create", "1")],
        )
        .expect(200);
    scans.push(form.data()["scan"]["id"].as_i64().unwrap());
    assert_eq!(job_count(app, path), 7);
    let refused = scan_as(app, ADMIN_TOKEN, path, json!({})).expect(400);
    let listed_scans: Vec<String> = scans.iter().map(i64::to_string).collect();
    assert_eq!(
        refused.body["msg"],
        format!(
            "当前项目分支[{project_id}]main还有未完成任务，编号为: [{}]",
            listed_scans.join(", ")
        )
    );
}

#[test]
fn bad_booleans_in_scans_create_are_400_naming_the_field_and_create_no_job() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    scan_sync(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false}));
    let before = job_count(&app, &path);
    for field in ["incr_scan", "async_flag", "force_create"] {
        for bad in [
            json!("maybe"),
            json!(null),
            json!([]),
            json!(2),
            json!({}),
            json!(""),
        ] {
            let body = json!({ field: bad });
            let reply = scan_as(&app, ADMIN_TOKEN, &path, body.clone());
            assert_eq!(reply.status, 400, "{body}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), [field], "{body}: {}", reply.body);
            let msg = reply.body["msg"].as_str().unwrap();
            assert!(msg.starts_with(&format!("{field} ")), "{body}: {msg}");
            if !bad.is_null() {
                assert_eq!(msg, format!("{field} Must be a valid boolean."), "{body}");
            }
        }
        let form = app
            .post_form(
                &format!("{path}/scans/create/"),
                ADMIN_TOKEN,
                &[(field, "maybe")],
            )
            .expect(400);
        assert_eq!(form.invalid_fields(), [field]);
    }
    let several = scan_as(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": "maybe", "async_flag": [], "force_create": 2, "created_from": "ok"}),
    )
    .expect(400);
    let mut named = several.invalid_fields();
    named.sort();
    assert_eq!(named, ["async_flag", "force_create", "incr_scan"]);
    assert_eq!(job_count(&app, &path), before, "no job for a bad body");
}

#[test]
fn a_null_boolean_in_scans_create_gets_tcas_not_null_message() {
    // TCA_API.md §2.3 and §4.1: `null` -> 400 `incr_scan 该字段不能为 null。`.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let mut wrong = Vec::new();
    for field in ["incr_scan", "force_create", "async_flag"] {
        let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({ field: null })).expect(400);
        let expected = format!("{field} 该字段不能为 null。");
        if reply.body["msg"] != expected.as_str() {
            wrong.push(format!("expected {expected:?}, got {}", reply.body["msg"]));
        }
    }
    assert_eq!(job_count(&app, &path), 0);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_long_created_from_or_an_unreadable_body_is_400_and_creates_no_job() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let create = format!("{path}/scans/create/");
    let long = "c".repeat(33);
    let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({"created_from": long})).expect(400);
    assert_eq!(reply.invalid_fields(), ["created_from"]);
    let form = app
        .post_form(&create, ADMIN_TOKEN, &[("created_from", long.as_str())])
        .expect(400);
    assert_eq!(form.invalid_fields(), ["created_from"]);
    let malformed = app
        .call(
            "POST",
            &create,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", b"{\"incr_scan\": ".to_vec()),
        )
        .expect(400);
    assert!(
        malformed.body["msg"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error"),
        "{}",
        malformed.body
    );
    let list_body = app
        .call(
            "POST",
            &create,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", b"[1]".to_vec()),
        )
        .expect(400);
    assert_eq!(list_body.invalid_fields(), ["non_field_errors"]);
    let wrong_type = app.call(
        "POST",
        &create,
        Some(ADMIN_TOKEN),
        Body::Raw("text/plain", b"incr_scan=false".to_vec()),
    );
    assert_eq!(wrong_type.status, 415, "{}", wrong_type.body);
    assert_eq!(job_count(&app, &path), 0, "no job for a bad body");

    // Exactly 32 characters is fine, and stored as sent.
    let fits = "d".repeat(32);
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"created_from": fits}),
    ));
    assert_eq!(detail(&app, &path, job)["created_from"], fits.as_str());
    assert_eq!(job_count(&app, &path), 1);
}

#[test]
fn an_empty_form_is_a_full_scan_while_an_empty_json_body_or_no_body_is_incremental() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let create = format!("{path}/scans/create/");
    let first = scan_sync(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false}));
    assert_eq!(first["result_code"], 0);

    // `{}`: incr_scan missing from JSON means incremental; same head, so nothing to scan.
    let (json_job, _) = app.start_scan(&path, json!({}));
    assert_eq!(app.wait_for_job(&path, json_job, WAIT)["result_code"], 1);
    // No body at all: the same.
    let no_body = app
        .call("POST", &create, Some(ADMIN_TOKEN), Body::None)
        .expect(200);
    let no_body = no_body.data()["job"]["id"].as_i64().unwrap();
    assert_eq!(app.wait_for_job(&path, no_body, WAIT)["result_code"], 1);
    let blank_json = app
        .call(
            "POST",
            &create,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", Vec::new()),
        )
        .expect(200);
    let blank_json = blank_json.data()["job"]["id"].as_i64().unwrap();
    assert_eq!(app.wait_for_job(&path, blank_json, WAIT)["result_code"], 1);

    // An empty form: a missing boolean is false (the HTML checkbox rule), so a full scan.
    let form = app.post_form(&create, ADMIN_TOKEN, &[]).expect(200);
    assert_eq!(
        keys(&form.data()["job"]),
        ["id"],
        "a form without async_flag stays asynchronous"
    );
    let form_job = form.data()["job"]["id"].as_i64().unwrap();
    let closed = app.wait_for_job(&path, form_job, WAIT);
    assert_eq!(closed["result_code"], 0, "{closed}");
    assert_eq!(closed["result_msg"], "success");
    // A form that says incremental is incremental.
    let incr_form = app
        .post_form(
            &create,
            ADMIN_TOKEN,
            &[("incr_scan", "true"), ("async_flag", "false")],
        )
        .expect(200);
    assert_eq!(incr_form.data()["job"]["result_code"], 1);
    assert_eq!(
        listed(&app, &path, "?result_code_lte=0"),
        [form_job, id_of(&first)]
    );
}

// --- Permissions --------------------------------------------------------------------------------

#[test]
fn each_kind_of_caller_gets_the_status_tca_gives_on_the_job_endpoints() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let org_admin = app.create_user("org_admin");
    let team_admin = app.create_user("team_admin");
    let member = app.create_user("member");
    let other_member = app.create_user("other_member");
    let outsider = app.create_user("outsider");
    add_member(&app, "org_admin", 1, None);
    add_member(&app, "team_admin", 2, Some(("web", 1)));
    add_member(&app, "member", 2, Some(("web", 2)));
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    add_member(&app, "other_member", 2, Some(("other", 2)));

    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let callers: [(&str, Option<&str>); 7] = [
        ("superuser", Some(ADMIN_TOKEN)),
        ("org admin", Some(org_admin.as_str())),
        ("team admin", Some(team_admin.as_str())),
        ("member", Some(member.as_str())),
        ("other team member", Some(other_member.as_str())),
        ("outsider", Some(outsider.as_str())),
        ("nobody", None),
    ];
    // (name, method, path, expected status per caller, in the order above)
    let cases: [(&str, &str, String, [u16; 7]); 6] = [
        (
            "scans/create",
            "POST",
            format!("{path}/scans/create/"),
            [200, 200, 200, 403, 403, 403, 401],
        ),
        (
            "job list",
            "GET",
            format!("{path}/jobs/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "job detail",
            "GET",
            format!("{path}/jobs/{job}/detail/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "cancel",
            "POST",
            format!("{path}/jobs/{job}/cancel/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "codecount",
            "GET",
            format!("{path}/jobs/{job}/codecount/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "task log",
            "GET",
            format!("{path}/jobs/{job}/tasks/{task}/log/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
    ];
    let mut failures = Vec::new();
    let mut scans = 0;
    for (name, method, url, expected) in &cases {
        for ((who, token), expected) in callers.iter().zip(expected) {
            let body = match (*method, *name) {
                // Synchronous, so the next caller's scan finds no unfinished job.
                ("POST", "scans/create") => Body::Json(json!({"async_flag": false})),
                ("POST", _) => Body::Json(json!({"remarks": "r"})),
                _ => Body::None,
            };
            let reply = app.call(method, url, *token, body);
            if reply.status != *expected {
                failures.push(format!(
                    "{name} as {who}: expected {expected}, got {} {}",
                    reply.status, reply.body
                ));
            }
            match reply.status {
                403 => assert_eq!(reply.body["msg"], "您没有执行该操作的权限。"),
                401 => assert_eq!(reply.header("www-authenticate"), Some("Token")),
                200 if *name == "scans/create" => scans += 1,
                _ => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission mismatches:\n{}",
        failures.join("\n")
    );
    assert_eq!(job_count(&app, &path), 1 + scans);
}

#[test]
fn a_plain_team_member_may_cancel_a_running_job_but_not_start_one() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let member = app.create_user("member");
    add_member(app, "member", 2, Some(("web", 2)));
    let job = gated.held_job(json!({"incr_scan": false}));
    scan_as(app, &member, path, json!({"force_create": true})).expect(403);
    cancel(app, &member, path, job, "mine now").expect(200);
    let cancelled = detail(app, path, job);
    assert_eq!(cancelled["result_code"], 301);
    assert_eq!(
        cancelled["result_msg"],
        "User( member-nick ) Canceled: mine now . "
    );
    assert_eq!(cancelled["remarks"], "mine now");
    assert!(cancelled["remarked_by"].is_i64());
    assert_eq!(job_count(app, path), 1);
}

#[test]
fn a_repo_creator_who_is_only_a_team_member_may_start_scans_on_that_repo_only() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let carol = app.create_user("carol");
    add_member(&app, "carol", 2, Some(("web", 1)));
    let second = make_git_repo(&app.repos_dir().join("second"), &[("lib/a.py", "x = 1\n")]);
    let repo = app
        .post(
            &format!("{}/repos/", world.team_path()),
            &carol,
            json!({"scm_url": second.to_str().unwrap()}),
        )
        .expect(201);
    let repo_id = repo.data()["id"].as_i64().unwrap();
    // Demoted to a plain member of the team.
    add_member(&app, "carol", 2, Some(("web", 2)));
    app.post(
        &format!("{}/repos/", world.team_path()),
        &carol,
        json!({"scm_url": "http://git.example/x/y"}),
    )
    .expect(403);
    let repo_path = format!("{}/repos/{repo_id}", world.team_path());
    let project = app
        .post(
            &format!("{repo_path}/projects/"),
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 1}),
        )
        .expect(201);
    let own = format!("{repo_path}/projects/{}", project.data()["id"]);

    let job = scan_sync(&app, &carol, &own, json!({"incr_scan": false}));
    assert_eq!(job["result_code"], 0, "{job}");
    assert_eq!(detail(&app, &own, id_of(&job))["creator"], "carol-nick");
    scan_as(&app, &carol, &world.project_path(), json!({})).expect(403);
    assert_eq!(job_count(&app, &world.project_path()), 0);
    // Reading the world's project is still allowed: she is a team member.
    app.get(&format!("{}/jobs/", world.project_path()), &carol)
        .expect(200);
}

// --- Logs and line counts -----------------------------------------------------------------------

#[test]
fn a_task_log_is_plain_text_and_an_offset_returns_only_the_bytes_after_it() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let log = format!("{path}/jobs/{job}/tasks/{task}/log/");

    let whole = app.get(&log, ADMIN_TOKEN).expect(200);
    assert!(
        whole.content_type.starts_with("text/plain"),
        "{}",
        whole.content_type
    );
    let text = whole.body.as_str().unwrap().to_string();
    assert!(text.contains(&format!("job {job}")), "{text}");
    let size = text.len();
    assert_eq!(whole.header("X-Log-Size"), Some(size.to_string().as_str()));

    let mut offsets = vec![0, 1, size / 2, size - 1, size, size + 100];
    offsets.retain(|&n| n >= size || text.is_char_boundary(n));
    for offset in offsets {
        let part = app
            .get(&format!("{log}?offset={offset}"), ADMIN_TOKEN)
            .expect(200);
        assert!(part.content_type.starts_with("text/plain"));
        let expected = if offset >= size { "" } else { &text[offset..] };
        assert_eq!(part.body.as_str().unwrap(), expected, "offset {offset}");
        assert_eq!(
            part.header("X-Log-Size"),
            Some(size.to_string().as_str()),
            "offset {offset}"
        );
    }

    for bad in ["-1", "abc", "1.5"] {
        let reply = app
            .get(&format!("{log}?offset={bad}"), ADMIN_TOKEN)
            .expect(400);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{bad}: {}",
            reply.content_type
        );
        assert_eq!(reply.invalid_fields(), ["offset"], "{bad}: {}", reply.body);
    }
    app.get(&format!("{path}/jobs/{job}/tasks/999999/log/"), ADMIN_TOKEN)
        .expect(404);
}

#[test]
fn codecount_lists_each_language_with_the_lines_of_the_scanned_tree() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    std::fs::create_dir_all(world.repo_dir.join("lib")).unwrap();
    std::fs::write(
        world.repo_dir.join("lib/f.py"),
        "def f():\n    # c\n    return 1\n\n",
    )
    .unwrap();
    std::fs::write(world.repo_dir.join("src/a.rs"), "fn main() {}\n// x\n\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "more"]);

    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let counts = app
        .get(&format!("{path}/jobs/{job}/codecount/"), ADMIN_TOKEN)
        .expect(200);
    // Python: `print('hi')` (1 code) and f.py (2 code, 1 comment, 1 blank); Rust: 1, 1, 1.
    let expected_languages = json!([
        {"name": "Python", "files": 2, "code_line_num": 3, "comment_line_num": 1, "blank_line_num": 1, "total_line_num": 5},
        {"name": "Rust", "files": 1, "code_line_num": 1, "comment_line_num": 1, "blank_line_num": 1, "total_line_num": 3},
    ]);
    assert_eq!(
        counts.data()["languages"],
        expected_languages,
        "{}",
        counts.body
    );
    for language in counts.data()["languages"].as_array().unwrap() {
        assert_eq!(
            keys(language),
            [
                "name",
                "files",
                "code_line_num",
                "comment_line_num",
                "blank_line_num",
                "total_line_num"
            ]
        );
    }
    assert_eq!(counts.data()["job_id"], job);
    let totals = [
        ("code_line_num", 4),
        ("comment_line_num", 2),
        ("blank_line_num", 2),
        ("total_line_num", 8),
    ];
    let job_detail = detail(&app, &path, job);
    let item = list(&app, &path, "")["results"][0].clone();
    for (field, value) in totals {
        assert_eq!(counts.data()[field], value, "codecount {field}");
        assert_eq!(job_detail[field], value, "detail {field}");
        assert_eq!(item[field], value, "list {field}");
    }

    // A no-change scan of the same head describes the same tree.
    let same = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let same_counts = app
        .get(&format!("{path}/jobs/{same}/codecount/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(same_counts.data()["languages"], expected_languages);
    assert_eq!(same_counts.data()["total_line_num"], 8);

    // An incremental scan of a changed head still describes the whole tree at that head.
    std::fs::write(
        world.repo_dir.join("lib/f.py"),
        "def f():\n    # c\n    return 1\n\nx = 2\n",
    )
    .unwrap();
    std::fs::remove_file(world.repo_dir.join("src/a.rs")).unwrap();
    std::fs::write(world.repo_dir.join("lib/g.rs"), "// only a comment\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "change"]);
    let changed = scan_sync(&app, ADMIN_TOKEN, &path, json!({"incr_scan": true}));
    assert_eq!(changed["result_code"], 0, "{changed}");
    let changed_counts = app
        .get(
            &format!("{path}/jobs/{}/codecount/", id_of(&changed)),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(
        changed_counts.data()["languages"],
        json!([
            {"name": "Python", "files": 2, "code_line_num": 4, "comment_line_num": 1, "blank_line_num": 1, "total_line_num": 6},
            {"name": "Rust", "files": 1, "code_line_num": 0, "comment_line_num": 1, "blank_line_num": 0, "total_line_num": 1},
        ]),
        "{}",
        changed_counts.body
    );
    assert_eq!(changed_counts.data()["total_line_num"], 7);
}
