//! Notifications out: webhooks of orgs, teams and projects, delivered to a real HTTP receiver
//! on loopback (with `--webhook-allow-private`), signed, retried across a restart, refused for
//! private addresses without the flag, redelivered, and who may manage them.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{
    call_process, eventually, git, make_git_repo, team_member, Body, TestApp, World, ADMIN_TOKEN,
};
use crate::scans::read_listen_address;

const WAIT: Duration = Duration::from_secs(60);

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A real HTTP server on loopback that records every request and answers with the next status
/// of its script (200 once the script is used up).
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                log.lock().unwrap().push(request);
                let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                let body = if status == 200 { "ok" } else { "try later" };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Receiver { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests came, and returns them.
    #[track_caller]
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        assert!(
            eventually(WAIT, || self.received.lock().unwrap().len() >= n),
            "the receiver got {:?}",
            self.received()
        );
        self.received()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// The HMAC-SHA256 of `body` under `secret`, as `sha256=<hex>`.
fn expected_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn allowing_private() -> TestApp {
    TestApp::spawn_with(|config| config.webhook_allow_private = true)
}

fn add_webhook(app: &TestApp, level_path: &str, body: Value) -> i64 {
    let reply = app
        .post(&format!("{level_path}/webhooks/"), ADMIN_TOKEN, body)
        .expect(201);
    reply.data()["id"].as_i64().unwrap()
}

/// The webhook's deliveries, newest first.
fn deliveries(app: &TestApp, level_path: &str, webhook_id: i64) -> Vec<Value> {
    let reply = app
        .get(
            &format!("{level_path}/webhooks/{webhook_id}/deliveries/"),
            ADMIN_TOKEN,
        )
        .expect(200);
    reply.data()["results"].as_array().unwrap().clone()
}

fn scan_and_wait(app: &TestApp, world: &World) -> Value {
    let (job_id, _) = app.start_scan(&world.project_path(), json!({"incr_scan": false}));
    app.wait_for_job(&world.project_path(), job_id, WAIT)
}

/// A server that may reach loopback, the world, a receiver answering `script`, and a project
/// webhook to it made of `body` (with the receiver's URL); (app, world, receiver, project path,
/// webhook id).
fn project_webhook(script: &[u16], mut body: Value) -> (TestApp, World, Receiver, String, i64) {
    let app = allowing_private();
    let world = World::build(&app);
    let receiver = Receiver::start(script);
    let project = world.project_path();
    body["url"] = json!(receiver.url);
    let webhook_id = add_webhook(&app, &project, body);
    (app, world, receiver, project, webhook_id)
}

#[test]
fn a_closed_job_is_notified_in_json_signed_with_the_webhooks_secret() {
    let (app, world, receiver, project, webhook_id) = project_webhook(
        &[],
        json!({"events": ["job.closed"], "secret": "s3cret", "format": "json"}),
    );
    let job = scan_and_wait(&app, &world);
    let got = receiver.wait_for(1);
    let request = &got[0];
    assert_eq!(request.header("X-Codepup-Event"), Some("job.closed"));
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        request.header("X-Codepup-Signature-256"),
        Some(expected_signature("s3cret", &request.body).as_str())
    );
    let delivery_id = request.header("X-Codepup-Delivery").unwrap();
    assert_eq!(delivery_id.len(), 36, "{delivery_id}");
    let payload = request.json();
    assert_eq!(payload["event"], "job.closed");
    assert_eq!(payload["job"]["id"], job["id"]);
    assert_eq!(payload["job"]["result_code"], 0);
    assert_eq!(payload["job"]["result"], "success");
    assert!(
        payload["job"]["run_seconds"].as_f64().is_some(),
        "{payload}"
    );
    assert!(payload["job"]["end_time"].as_str().is_some(), "{payload}");
    assert_eq!(payload["project"]["id"], world.project_id);
    assert_eq!(payload["repository"]["id"], world.repo_id);
    assert_eq!(payload["branch"], "main");
    let head = git(&world.repo_dir, &["rev-parse", "HEAD"]);
    assert_eq!(payload["revision"], head.trim());
    assert_eq!(payload["lines"]["total"], 1, "{payload}");
    assert_eq!(payload["findings"]["new"], 0);
    let page = payload["links"]["status_page"].as_str().unwrap();
    assert!(
        page.ends_with(&format!(
            "/#job=acme/web/{}/{}/{}",
            world.repo_id, world.project_id, job["id"]
        )),
        "{page}"
    );
    // The API link answers with the job.
    let api = payload["links"]["api"].as_str().unwrap();
    let api_path = &api[api.find("/server/").unwrap()..];
    let linked = app.get(api_path, ADMIN_TOKEN).expect(200);
    assert_eq!(linked.data()["id"], job["id"]);
    // The attempt is recorded.
    let recorded = deliveries(&app, &project, webhook_id);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["delivery_id"], delivery_id);
    assert!(eventually(WAIT, || {
        deliveries(&app, &project, webhook_id)[0]["state"] == "delivered"
    }));
    let recorded = &deliveries(&app, &project, webhook_id)[0];
    assert_eq!(recorded["attempts"], 1);
    assert_eq!(recorded["last_attempt"]["status_code"], 200);
    assert_eq!(recorded["last_attempt"]["answer"], "ok");
}

#[test]
fn failures_and_new_findings_reach_team_and_org_webhooks_in_each_format() {
    let app = allowing_private();
    let world = World::build(&app);
    let slack = Receiver::start(&[]);
    let json_hook = Receiver::start(&[]);
    let team = world.team_path();
    let org = "/server/main/api/v3/orgs/acme";
    add_webhook(
        &app,
        &team,
        json!({"url": slack.url, "events": ["job.failed", "findings.new"], "format": "slack"}),
    );
    add_webhook(
        &app,
        org,
        json!({"url": json_hook.url, "events": ["findings.new", "job.failed"]}),
    );
    // A commit with a merge-conflict marker (a rule on by default): the built-in checker opens
    // a finding.
    let marker = "<".repeat(7);
    std::fs::write(
        world.repo_dir.join("notes.txt"),
        format!("a\n{marker} HEAD\nb\n"),
    )
    .unwrap();
    git(&world.repo_dir, &["add", "."]);
    git(&world.repo_dir, &["commit", "-q", "-m", "notes"]);
    let job = scan_and_wait(&app, &world);
    assert_eq!(job["result_code"], 0, "{job}");
    let text = slack.wait_for(1)[0].json();
    let text = text["text"].as_str().unwrap();
    assert!(text.contains("opened 1 new finding"), "{text}");
    assert!(text.contains(&format!("#{}", job["id"])), "{text}");
    let found = &json_hook.wait_for(1)[0];
    assert_eq!(found.header("X-Codepup-Event"), Some("findings.new"));
    assert_eq!(found.header("X-Codepup-Signature-256"), None);
    assert_eq!(found.json()["findings"]["new"], 1);
    assert_eq!(found.json()["findings"]["open"], 1);
    // The repository disappears: the next scan fails in git, and only job.failed goes out.
    std::fs::remove_dir_all(&world.repo_dir).unwrap();
    let failed = scan_and_wait(&app, &world);
    assert!(failed["result_code"].as_i64().unwrap() >= 100, "{failed}");
    let failure = &json_hook.wait_for(2)[1];
    assert_eq!(failure.header("X-Codepup-Event"), Some("job.failed"));
    assert_eq!(failure.json()["job"]["result"], "failure");
    assert_eq!(failure.json()["job"]["result_code"], failed["result_code"]);
    let text = slack.wait_for(2)[1].json();
    assert!(
        text["text"].as_str().unwrap().contains("failed with 11"),
        "{text}"
    );
}

#[test]
fn a_receiver_that_fails_is_tried_again_after_a_restart_until_it_answers() {
    let (mut app, world, receiver, project, webhook_id) =
        project_webhook(&[500], json!({"events": ["job.closed"]}));
    scan_and_wait(&app, &world);
    let first = receiver.wait_for(1)[0].clone();
    assert!(eventually(WAIT, || {
        deliveries(&app, &project, webhook_id)[0]["attempts"] == 1
    }));
    let pending = &deliveries(&app, &project, webhook_id)[0];
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["last_attempt"]["status_code"], 500);
    assert_eq!(pending["last_attempt"]["answer"], "try later");
    assert!(pending["next_attempt_time"].as_str().is_some(), "{pending}");

    app.restart();
    // About a minute later (the server's clock, moved on), the delivery is tried again.
    app.config.notify_clock.advance(61);
    let second = receiver.wait_for(2)[1].clone();
    assert_eq!(
        second.header("X-Codepup-Delivery"),
        first.header("X-Codepup-Delivery")
    );
    assert_eq!(second.body, first.body);
    assert!(eventually(WAIT, || {
        deliveries(&app, &project, webhook_id)[0]["state"] == "delivered"
    }));
    let id = deliveries(&app, &project, webhook_id)[0]["id"].clone();
    let detail = app
        .get(
            &format!("{project}/webhooks/{webhook_id}/deliveries/{id}/"),
            ADMIN_TOKEN,
        )
        .expect(200);
    let statuses: Vec<&Value> = detail.data()["attempts_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| &attempt["status_code"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(200)]);
}

#[test]
fn a_delivery_pending_when_the_server_is_killed_with_sigkill_goes_out_after_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let repo = make_git_repo(&repos.join("k"), &[("a.py", "print(1)\n")]);
    let data = dir.path().join("data");
    let receiver = Receiver::start(&[500]);
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_codepup"))
        .args(["serve", "--bind", "127.0.0.1:0", "--webhook-allow-private"])
        .args(["--data-dir", data.to_str().unwrap()])
        .args(["--allow-local-repos", repos.to_str().unwrap()])
        .env("CODEPUP_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = read_listen_address(&mut server);
    let call = |method: &str, path: &str, body: Value| call_process(&base, method, path, body);
    call("POST", "v3/orgs/", json!({"name": "k", "org_sid": "k"}));
    call("POST", "v3/orgs/k/teams/", json!({"name": "t"}));
    let repo_path = "orgs/k/teams/t/repos/1";
    call(
        "POST",
        "orgs/k/teams/t/repos/",
        json!({"scm_url": repo.to_str().unwrap()}),
    );
    call(
        "POST",
        &format!("{repo_path}/projects/"),
        json!({"branch": "main", "global_scheme_id": 1}),
    );
    let project = format!("{repo_path}/projects/1");
    let made = call(
        "POST",
        &format!("{project}/webhooks/"),
        json!({"url": receiver.url, "events": ["job.closed"]}),
    );
    assert_eq!(made["code"], 0, "{made}");
    let scanned = call(
        "POST",
        &format!("{project}/scans/create/"),
        json!({"async_flag": false}),
    );
    assert_eq!(scanned["data"]["job"]["result_code"], 0, "{scanned}");
    let first = receiver.wait_for(1)[0].clone();
    let deliveries = format!("{project}/webhooks/1/deliveries/");
    assert!(eventually(WAIT, || call("GET", &deliveries, Value::Null)
        ["data"]["results"][0]["attempts"]
        == 1));

    server.kill().unwrap();
    server.wait().unwrap();
    // The next start, on the same data: the delivery is still owed and goes out a minute on.
    let app = TestApp::spawn_with(|config| {
        config.data_dir = data.clone();
        config.webhook_allow_private = true;
    });
    app.config.notify_clock.advance(61);
    let second = receiver.wait_for(2)[1].clone();
    assert_eq!(
        second.header("X-Codepup-Delivery"),
        first.header("X-Codepup-Delivery")
    );
    let path = format!("/server/main/api/{deliveries}");
    assert!(eventually(WAIT, || {
        app.get(&path, ADMIN_TOKEN).expect(200).data()["results"][0]["state"] == "delivered"
    }));
}

#[test]
fn private_addresses_are_refused_without_the_admins_flag() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let receiver = Receiver::start(&[]);
    let project = world.project_path();
    let path = format!("{project}/webhooks/");
    for url in [
        receiver.url.clone(),
        "http://10.0.0.1/hook".to_string(),
        "http://[::1]:9/hook".to_string(),
        "http://169.254.169.254/latest/".to_string(),
        "ftp://example.com/hook".to_string(),
        "file:///etc/passwd".to_string(),
    ] {
        let refused = app
            .post(
                &path,
                ADMIN_TOKEN,
                json!({"url": url, "events": ["job.closed"]}),
            )
            .expect(400);
        assert_eq!(refused.invalid_fields(), ["url"], "{url}");
    }
    // A name is checked when it resolves, at delivery time: localhost is loopback.
    let named = receiver.url.replace("127.0.0.1", "localhost");
    let webhook_id = add_webhook(
        &app,
        &project,
        json!({"url": named, "events": ["job.closed"]}),
    );
    scan_and_wait(&app, &world);
    assert!(eventually(WAIT, || {
        deliveries(&app, &project, webhook_id)[0]["attempts"] == 1
    }));
    let refused = &deliveries(&app, &project, webhook_id)[0];
    assert_eq!(refused["last_attempt"]["status_code"], Value::Null);
    let error = refused["last_attempt"]["error"].as_str().unwrap();
    assert!(error.contains("loopback address"), "{error}");
    assert_eq!(refused["state"], "pending");
    assert!(receiver.received().is_empty());
    // A day on, the next failure gives the delivery up.
    app.config.notify_clock.advance(25 * 3600);
    assert!(eventually(WAIT, || {
        deliveries(&app, &project, webhook_id)[0]["state"] == "failed"
    }));
    let given_up = &deliveries(&app, &project, webhook_id)[0];
    assert_eq!(given_up["attempts"], 2);
    assert_eq!(given_up["next_attempt_time"], Value::Null);
    assert!(receiver.received().is_empty());
}

#[test]
fn a_redelivery_sends_the_same_body_under_a_new_delivery_id() {
    let (app, world, receiver, project, webhook_id) =
        project_webhook(&[], json!({"events": ["job.closed"], "secret": "k"}));
    scan_and_wait(&app, &world);
    let first = receiver.wait_for(1)[0].clone();
    let original = deliveries(&app, &project, webhook_id)[0]["id"].clone();
    let path = format!("{project}/webhooks/{webhook_id}/deliveries/{original}/redeliver/");
    let member = team_member(&app, "member", "web");
    app.post(&path, &member, json!({})).expect(403);
    let again = app.post(&path, ADMIN_TOKEN, json!({})).expect(201);
    assert_eq!(again.data()["redelivery_of"], original);
    let second = receiver.wait_for(2)[1].clone();
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.header("X-Codepup-Delivery"),
        again.data()["delivery_id"].as_str()
    );
    assert_ne!(
        second.header("X-Codepup-Delivery"),
        first.header("X-Codepup-Delivery")
    );
    assert_eq!(
        second.header("X-Codepup-Signature-256"),
        first.header("X-Codepup-Signature-256")
    );
    app.post(
        &format!("{project}/webhooks/{webhook_id}/deliveries/999/redeliver/"),
        ADMIN_TOKEN,
        json!({}),
    )
    .expect(404);
}

#[test]
fn admins_manage_webhooks_members_read_them_without_the_url_path_and_outsiders_see_nothing() {
    let app = allowing_private();
    let world = World::build(&app);
    let (team_admin, member, outsider) = (
        app.create_user("team_admin2"),
        app.create_user("member2"),
        app.create_user("outsider"),
    );
    let org_members = "/server/main/api/v3/orgs/acme/memberconf/";
    app.post(
        org_members,
        ADMIN_TOKEN,
        json!({"users": ["team_admin2", "member2"], "role": 2}),
    )
    .expect(200);
    let team_members = format!("{}/memberconf/", world.team_path());
    app.post(
        &team_members,
        ADMIN_TOKEN,
        json!({"users": ["team_admin2"], "role": 1}),
    )
    .expect(200);
    app.post(
        &team_members,
        ADMIN_TOKEN,
        json!({"users": ["member2"], "role": 2}),
    )
    .expect(200);
    let body = json!({"url": "https://hooks.example.com/services/T0/B0/secretpath", "events": ["job.failed"], "format": "slack"});
    let org = "/server/main/api/v3/orgs/acme";
    let project = world.project_path();
    // Team admins manage team and project webhooks; org webhooks are the org admins'.
    app.post(&format!("{org}/webhooks/"), &team_admin, body.clone())
        .expect(403);
    let made = app
        .post(&format!("{project}/webhooks/"), &team_admin, body.clone())
        .expect(201);
    app.post(
        &format!("{}/webhooks/", world.team_path()),
        &member,
        body.clone(),
    )
    .expect(403);
    app.post(&format!("{project}/webhooks/"), &outsider, body.clone())
        .expect(403);
    app.get(&format!("{project}/webhooks/"), &outsider)
        .expect(403);
    // A member reads the list, without the URL's secret path.
    let listed = app
        .get(&format!("{project}/webhooks/"), &member)
        .expect(200);
    assert_eq!(listed.data()["can_manage"], false);
    let url = listed.data()["results"][0]["url"].as_str().unwrap();
    assert_eq!(url, "https://hooks.example.com/…");
    let as_admin = app
        .get(&format!("{project}/webhooks/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        as_admin.data()["results"][0]["url"],
        "https://hooks.example.com/services/T0/B0/secretpath"
    );
    assert_eq!(
        app.get(&format!("{org}/webhooks/"), &member)
            .expect(200)
            .data()["can_manage"],
        false
    );
    let one = format!("{project}/webhooks/{}/", made.data()["id"]);
    app.call("DELETE", &one, Some(&member), Body::None)
        .expect(403);
    app.call("DELETE", &one, Some(&team_admin), Body::None)
        .expect(204);
    app.get(&one, ADMIN_TOKEN).expect(404);
    // Bad bodies: every bad field at once.
    let refused = app
        .post(
            &format!("{project}/webhooks/"),
            ADMIN_TOKEN,
            json!({"url": "https://x.example/", "events": ["job.exploded"], "format": "teams"}),
        )
        .expect(400);
    assert_eq!(refused.invalid_fields(), ["events", "format"]);
    let refused = app
        .post(&format!("{project}/webhooks/"), ADMIN_TOKEN, json!({}))
        .expect(400);
    assert_eq!(refused.invalid_fields(), ["url", "events"]);
    // A form takes the events as a comma-separated value.
    let form = app
        .post_form(
            &format!("{project}/webhooks/"),
            ADMIN_TOKEN,
            &[
                ("url", "https://x.example/h"),
                ("events", "job.closed,findings.new"),
            ],
        )
        .expect(201);
    assert_eq!(form.data()["events"], json!(["job.closed", "findings.new"]));
    // An id too long for a number is a 404 envelope, as everywhere.
    app.get(
        &format!("{project}/webhooks/99999999999999999999999/deliveries/"),
        ADMIN_TOKEN,
    )
    .expect(404);
}
