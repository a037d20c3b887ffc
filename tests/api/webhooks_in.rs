//! Push webhooks in: GitHub, GitLab and Gitea/Forgejo deliveries with payloads shaped as each
//! forge documents them, signed and unsigned, and what they start.

use std::time::Duration;

use codepup::hooks::forge::sign;
use serde_json::{json, Value};

use crate::helpers::{eventually, git, process_running, tools, Body, TestApp, World, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(60);

/// A repository's hook: the URL to deliver to and its secret.
pub struct Hook {
    pub url: String,
    pub secret: String,
}

pub fn make_hook(app: &TestApp, world: &World) -> Hook {
    let reply = app
        .post(
            &format!("{}/webhook/", world.repo_path()),
            ADMIN_TOKEN,
            json!({}),
        )
        .expect(201);
    Hook {
        url: reply.data()["url"].as_str().unwrap().to_string(),
        secret: reply.data()["secret"].as_str().unwrap().to_string(),
    }
}

/// Posts `body` with `headers` to the hook and checks the envelope; (status, envelope).
pub fn deliver(url: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
    let mut request = ureq::post(url).set("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_bytes(body) {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("delivery failed: {error}"),
    };
    let status = response.status();
    let envelope: Value = response.into_json().expect("a JSON envelope");
    assert_eq!(envelope["status_code"], json!(status), "{envelope}");
    (status, envelope)
}

/// A GitHub push event (docs.github.com, "Webhook events and payloads", `push`).
pub fn github_push(git_ref: &str, after: &str, pusher: &str) -> Value {
    json!({
        "ref": git_ref,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": after,
        "repository": {"id": 186853002, "name": "demo", "full_name": "acme/demo",
                       "clone_url": "https://github.com/acme/demo.git", "default_branch": "main"},
        "pusher": {"name": pusher, "email": format!("{pusher}@example.com")},
        "sender": {"login": pusher, "id": 21031067, "type": "User"},
        "created": false,
        "deleted": after.bytes().all(|b| b == b'0'),
        "forced": false,
        "base_ref": null,
        "compare": "https://github.com/acme/demo/compare/6113728f27ae...0d1a26e67d8f",
        "commits": [{"id": after, "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
                     "distinct": true, "message": "Update main.py",
                     "timestamp": "2026-01-01T00:00:00Z",
                     "author": {"name": "Alice", "email": "alice@example.com", "username": pusher},
                     "added": [], "removed": [], "modified": ["src/main.py"]}],
        "head_commit": null,
    })
}

fn github_headers(
    event: &str,
    delivery: &str,
    signature: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("X-GitHub-Event", event.to_string()),
        ("X-GitHub-Delivery", delivery.to_string()),
        ("X-GitHub-Hook-ID", "292430182".to_string()),
        ("User-Agent", "GitHub-Hookshot/044aadd".to_string()),
    ];
    if let Some(signature) = signature {
        headers.push(("X-Hub-Signature-256", signature));
    }
    headers
}

/// Delivers a GitHub event signed with `secret`.
pub fn github(hook: &Hook, event: &str, delivery: &str, payload: &Value) -> (u16, Value) {
    let body = payload.to_string();
    let signature = format!("sha256={}", sign(&hook.secret, body.as_bytes()));
    deliver(
        &hook.url,
        &github_headers(event, delivery, Some(signature)),
        body.as_bytes(),
    )
}

fn job_list(app: &TestApp, project_path: &str) -> Vec<Value> {
    app.get(&format!("{project_path}/jobs/"), ADMIN_TOKEN)
        .expect(200)
        .data()["results"]
        .as_array()
        .unwrap()
        .clone()
}

fn head(world: &World) -> String {
    git(&world.repo_dir, &["rev-parse", "HEAD"])
}

#[test]
fn a_webhook_is_made_by_a_team_admin_shows_its_secret_once_and_can_be_turned_off() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = format!("{}/webhook/", world.repo_path());
    let none = app.get(&path, ADMIN_TOKEN).expect(200);
    assert_eq!(none.data()["is_set"], false);

    // A plain member of the team may look but not make one.
    let bob = app.create_user("bob");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["bob"], "role": 2}),
    )
    .expect(200);
    app.post(
        &format!("{}/memberconf/", world.team_path()),
        ADMIN_TOKEN,
        json!({"users": ["bob"], "role": 2}),
    )
    .expect(200);
    app.post(&path, &bob, json!({})).expect(403);
    app.get(&path, &bob).expect(200);

    let hook = make_hook(&app, &world);
    assert!(hook.url.starts_with(&app.base), "{}", hook.url);
    assert!(hook.url.contains("/server/main/api/hooks/"), "{}", hook.url);
    assert_eq!(hook.secret.len(), 40);
    let shown = app.get(&path, &bob).expect(200);
    assert_eq!(shown.data()["is_set"], true);
    assert_eq!(shown.data()["url"], json!(hook.url));
    assert!(
        !shown.body.to_string().contains(&hook.secret),
        "{}",
        shown.body
    );

    let (status, _) = github(
        &hook,
        "ping",
        "p-1",
        &json!({"zen": "Design for failure.", "hook_id": 1}),
    );
    assert_eq!(status, 200);
    let shown = app.get(&path, ADMIN_TOKEN).expect(200);
    assert_eq!(shown.data()["deliveries"][0]["delivery_id"], "p-1");
    assert_eq!(shown.data()["deliveries"][0]["event"], "ping");

    app.call("DELETE", &path, Some(ADMIN_TOKEN), Body::None)
        .expect(204);
    assert_eq!(
        app.get(&path, ADMIN_TOKEN).expect(200).data()["is_set"],
        false
    );
    let (status, _) = github(&hook, "ping", "p-2", &json!({"zen": "z"}));
    assert_eq!(status, 404);
}

#[test]
fn a_github_push_starts_an_incremental_scan_only_with_a_good_signature() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let hook = make_hook(&app, &world);
    let project = world.project_path();
    let payload = github_push("refs/heads/main", &head(&world), "stranger");
    let body = payload.to_string();

    // Missing, wrong and other-secret signatures: 401, nothing started, nothing recorded.
    let (status, envelope) = deliver(
        &hook.url,
        &github_headers("push", "d-0", None),
        body.as_bytes(),
    );
    assert_eq!(status, 401, "{envelope}");
    let wrong = Some(format!(
        "sha256={}",
        sign("not-the-secret", body.as_bytes())
    ));
    assert_eq!(
        deliver(
            &hook.url,
            &github_headers("push", "d-0", wrong),
            body.as_bytes()
        )
        .0,
        401
    );
    let tampered = Some(format!("sha256={}", sign(&hook.secret, b"{}")));
    assert_eq!(
        deliver(
            &hook.url,
            &github_headers("push", "d-0", tampered),
            body.as_bytes()
        )
        .0,
        401
    );
    let (status, _) = deliver(
        &hook.url,
        &[("Content-Type", "application/json".into())],
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    assert!(job_list(&app, &project).is_empty());

    let (status, envelope) = github(&hook, "push", "d-1", &payload);
    assert_eq!(status, 200, "{envelope}");
    let data = &envelope["data"];
    assert_eq!(data["forge"], "github");
    assert_eq!(data["branch"], "main");
    assert_eq!(data["projects"][0]["project_id"], world.project_id);
    assert_eq!(data["projects"][0]["action"], "started");
    let job_id = data["projects"][0]["job_id"].as_i64().unwrap();
    let detail = app.wait_for_job(&project, job_id, WAIT);
    assert_eq!(detail["created_from"], "webhook");
    assert_eq!(
        detail["creator"], "webhook",
        "an unknown pusher: the hook is the creator"
    );
    assert_eq!(detail["result_code"], 0, "{detail}");

    // A known user name becomes the creator.
    app.create_user("alice");
    std::fs::write(world.repo_dir.join("src/main.py"), "print('changed')\n").unwrap();
    git(&world.repo_dir, &["commit", "-qam", "change"]);
    let (_, envelope) = github(
        &hook,
        "push",
        "d-2",
        &github_push("refs/heads/main", &head(&world), "alice"),
    );
    let job_id = envelope["data"]["projects"][0]["job_id"].as_i64().unwrap();
    let detail = app.wait_for_job(&project, job_id, WAIT);
    assert_eq!(detail["creator"], "alice-nick");
    assert_eq!(detail["result_code"], 0, "{detail}");
}

#[test]
fn tag_pushes_branch_deletions_other_branches_and_other_events_are_ignored() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let hook = make_hook(&app, &world);
    let (status, tag) = github(
        &hook,
        "push",
        "t-1",
        &github_push("refs/tags/v1.0", &head(&world), "x"),
    );
    assert_eq!(status, 200);
    assert!(
        tag["data"]["ignored"].as_str().unwrap().contains("tag"),
        "{tag}"
    );
    let zeros = "0".repeat(40);
    let (status, deleted) = github(
        &hook,
        "push",
        "t-2",
        &github_push("refs/heads/main", &zeros, "x"),
    );
    assert_eq!(status, 200);
    assert!(
        deleted["data"]["ignored"]
            .as_str()
            .unwrap()
            .contains("deleted"),
        "{deleted}"
    );
    let (_, other) = github(
        &hook,
        "push",
        "t-3",
        &github_push("refs/heads/feature", &head(&world), "x"),
    );
    assert!(
        other["data"]["ignored"]
            .as_str()
            .unwrap()
            .contains("no active project"),
        "{other}"
    );
    let (_, issue) = github(&hook, "issues", "t-4", &json!({"action": "opened"}));
    assert!(
        issue["data"]["ignored"]
            .as_str()
            .unwrap()
            .contains("issues"),
        "{issue}"
    );
    // An inactive project is not scanned either.
    app.call(
        "PUT",
        &format!("{}/", world.project_path()),
        Some(ADMIN_TOKEN),
        Body::Json(json!({"status": 2})),
    )
    .expect(200);
    let (_, inactive) = github(
        &hook,
        "push",
        "t-5",
        &github_push("refs/heads/main", &head(&world), "x"),
    );
    assert!(inactive["data"]["ignored"].as_str().is_some(), "{inactive}");
    assert!(job_list(&app, &world.project_path()).is_empty());
}

#[test]
fn gitlab_pushes_are_checked_by_their_token() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let hook = make_hook(&app, &world);
    // GitLab's documented push event (docs.gitlab.com, "Webhook events", push events).
    let push = |git_ref: &str, kind: &str| {
        json!({
            "object_kind": kind, "event_name": kind, "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
            "after": head(&world), "ref": git_ref, "ref_protected": true, "checkout_sha": head(&world),
            "user_id": 4, "user_name": "John Smith", "user_username": "jsmith",
            "user_email": "john@example.com", "user_avatar": "https://s.gravatar.com/avatar/d4c7",
            "project_id": 15,
            "project": {"id": 15, "name": "Diaspora", "web_url": "http://example.com/mike/diaspora",
                        "git_http_url": "http://example.com/mike/diaspora.git",
                        "path_with_namespace": "mike/diaspora", "default_branch": "main"},
            "commits": [{"id": head(&world), "message": "Update main.py", "title": "Update main.py",
                         "timestamp": "2026-01-01T00:00:00+00:00",
                         "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
                         "added": [], "modified": ["src/main.py"], "removed": []}],
            "total_commits_count": 1,
            "repository": {"name": "Diaspora", "url": "git@example.com:mike/diaspora.git"}
        })
    };
    let headers = |event: &str, token: &str, uuid: &str| {
        vec![
            ("X-Gitlab-Event", event.to_string()),
            ("X-Gitlab-Token", token.to_string()),
            (
                "X-Gitlab-Instance",
                "https://gitlab.example.com".to_string(),
            ),
            ("X-Gitlab-Webhook-UUID", uuid.to_string()),
            ("X-Gitlab-Event-UUID", uuid.to_string()),
            ("User-Agent", "GitLab/17.0.0".to_string()),
        ]
    };
    let body = push("refs/heads/main", "push").to_string();
    let (status, _) = deliver(
        &hook.url,
        &headers("Push Hook", "wrong", "u-1"),
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    let mut no_token = headers("Push Hook", "", "u-1");
    no_token.retain(|(name, _)| *name != "X-Gitlab-Token");
    assert_eq!(deliver(&hook.url, &no_token, body.as_bytes()).0, 401);
    assert!(job_list(&app, &world.project_path()).is_empty());

    let (status, envelope) = deliver(
        &hook.url,
        &headers("Push Hook", &hook.secret, "u-2"),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["data"]["forge"], "gitlab");
    assert_eq!(envelope["data"]["projects"][0]["action"], "started");
    let tag = push("refs/tags/v1.0.0", "tag_push").to_string();
    let (status, envelope) = deliver(
        &hook.url,
        &headers("Tag Push Hook", &hook.secret, "u-3"),
        tag.as_bytes(),
    );
    assert_eq!(status, 200);
    assert!(
        envelope["data"]["ignored"]
            .as_str()
            .unwrap()
            .contains("tag"),
        "{envelope}"
    );
    assert_eq!(job_list(&app, &world.project_path()).len(), 1);
}

#[test]
fn gitea_and_forgejo_pushes_are_checked_by_their_signature() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let hook = make_hook(&app, &world);
    // Gitea's push payload (docs.gitea.com, "Webhooks", event information).
    let payload = json!({
        "ref": "refs/heads/main", "before": "28e1879d029cb852e4844d9c718537df08844e03",
        "after": head(&world), "compare_url": "http://localhost:3000/gitea/demo/compare/28e1879d02...bffeb74224",
        "commits": [{"id": head(&world), "message": "Update main.py\n",
                     "url": "http://localhost:3000/gitea/demo/commit/bffeb74224",
                     "author": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
                     "committer": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
                     "timestamp": "2026-01-01T00:00:00Z"}],
        "total_commits": 1,
        "repository": {"id": 140, "owner": {"id": 1, "login": "gitea", "username": "gitea"},
                       "name": "demo", "full_name": "gitea/demo", "private": false,
                       "clone_url": "http://localhost:3000/gitea/demo.git", "default_branch": "main"},
        "pusher": {"id": 1, "login": "gitea", "full_name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
        "sender": {"id": 1, "login": "gitea", "full_name": "Gitea", "email": "someone@gitea.io", "username": "gitea"}
    });
    let body = payload.to_string();
    // Gitea sends its own headers and GitHub's and Gogs' besides.
    let headers = |signature: String, delivery: &str| {
        vec![
            ("X-Gitea-Event", "push".to_string()),
            ("X-Gitea-Event-Type", "push".to_string()),
            ("X-Gitea-Delivery", delivery.to_string()),
            ("X-Gitea-Signature", signature.clone()),
            ("X-GitHub-Event", "push".to_string()),
            ("X-GitHub-Delivery", delivery.to_string()),
            ("X-Gogs-Event", "push".to_string()),
            ("X-Hub-Signature-256", format!("sha256={signature}")),
        ]
    };
    let (status, _) = deliver(
        &hook.url,
        &headers(sign("nope", body.as_bytes()), "g-1"),
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    assert!(job_list(&app, &world.project_path()).is_empty());
    let (status, envelope) = deliver(
        &hook.url,
        &headers(sign(&hook.secret, body.as_bytes()), "g-2"),
        body.as_bytes(),
    );
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["data"]["forge"], "gitea");
    assert_eq!(envelope["data"]["projects"][0]["action"], "started");

    // Forgejo's own header names.
    let forgejo = vec![
        ("X-Forgejo-Event", "push".to_string()),
        ("X-Forgejo-Delivery", "f-1".to_string()),
        ("X-Forgejo-Signature", sign(&hook.secret, body.as_bytes())),
    ];
    let (status, envelope) = deliver(&hook.url, &forgejo, body.as_bytes());
    assert_eq!(status, 200, "{envelope}");
    assert_eq!(envelope["data"]["forge"], "gitea");
    // The first push's job may be waiting, running or done by now.
    let action = envelope["data"]["projects"][0]["action"].as_str().unwrap();
    assert!(
        ["already_waiting", "follow_up", "started"].contains(&action),
        "{envelope}"
    );
}

#[test]
fn a_retried_delivery_is_answered_as_the_first_and_starts_nothing_more() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let hook = make_hook(&app, &world);
    let payload = github_push("refs/heads/main", &head(&world), "x");
    let (_, first) = github(&hook, "push", "same-id", &payload);
    let job_id = first["data"]["projects"][0]["job_id"].as_i64().unwrap();
    app.wait_for_job(&world.project_path(), job_id, WAIT);
    let (status, again) = github(&hook, "push", "same-id", &payload);
    assert_eq!(status, 200);
    assert_eq!(again["data"], first["data"]);
    assert_eq!(job_list(&app, &world.project_path()).len(), 1);
    // The retry must be signed too.
    let body = payload.to_string();
    let (status, _) = deliver(
        &hook.url,
        &github_headers("push", "same-id", Some("sha256=00".into())),
        body.as_bytes(),
    );
    assert_eq!(status, 401);
}

/// A project on `main` whose scans run `sleep 651` until cancelled; the world's own project
/// is set inactive so pushes scan only this one.
fn slow_world(app: &TestApp) -> (World, String, i64) {
    let world = World::build(app);
    app.call(
        "PUT",
        &format!("{}/", world.project_path()),
        Some(ADMIN_TOKEN),
        Body::Json(json!({"status": 2})),
    )
    .expect(200);
    let project =
        world.project_with_scheme(app, "main", json!({"name": "slow", "tools": ["sleeper"]}));
    let project_id: i64 = project.rsplit('/').next().unwrap().parse().unwrap();
    (world, project, project_id)
}

fn cancel(app: &TestApp, project: &str, job_id: i64) {
    app.post(
        &format!("{project}/jobs/{job_id}/cancel/"),
        ADMIN_TOKEN,
        json!({}),
    )
    .expect(200);
}

#[test]
fn pushes_while_a_job_waits_add_nothing_and_while_it_runs_leave_one_follow_up() {
    let app = TestApp::spawn_with(|config| {
        config.scan_workers = 1;
        let path = config.data_dir.parent().unwrap().join("tools.toml");
        std::fs::write(&path, tools(&[("sleeper", r#"["sleep", "651"]"#, "")])).unwrap();
        config.tools_file = Some(path);
    });
    let (world, project, project_id) = slow_world(&app);
    // Keep the only worker busy with another project, so the push's job waits.
    git(&world.repo_dir, &["branch", "busy"]);
    let busy =
        world.project_with_scheme(&app, "busy", json!({"name": "busy", "tools": ["sleeper"]}));
    let (busy_job, _) = app.start_scan(&busy, json!({}));
    app.wait_for_detail(&busy, busy_job, WAIT, |detail| detail["state"] == 1);

    let hook = make_hook(&app, &world);
    let push = |delivery: &str, after: &str| {
        let (status, envelope) = github(
            &hook,
            "push",
            delivery,
            &github_push("refs/heads/main", after, "x"),
        );
        assert_eq!(status, 200, "{envelope}");
        let projects = envelope["data"]["projects"].as_array().unwrap().clone();
        assert_eq!(projects.len(), 1, "{envelope}");
        assert_eq!(projects[0]["project_id"], project_id);
        (
            projects[0]["action"].as_str().unwrap().to_string(),
            projects[0]["job_id"].as_i64().unwrap(),
        )
    };
    let (action, first) = push("b-1", &head(&world));
    assert_eq!(action, "started");
    assert_eq!(
        push("b-2", &"1".repeat(40)),
        ("already_waiting".to_string(), first)
    );
    assert_eq!(
        push("b-3", &"2".repeat(40)),
        ("already_waiting".to_string(), first)
    );
    assert_eq!(job_list(&app, &project).len(), 1);

    // Free the worker: the push's job runs.
    cancel(&app, &busy, busy_job);
    app.wait_for_detail(&project, first, WAIT, |detail| detail["state"] == 1);
    assert_eq!(
        push("b-4", &"3".repeat(40)),
        ("follow_up".to_string(), first)
    );
    assert_eq!(
        push("b-5", &"4".repeat(40)),
        ("follow_up".to_string(), first)
    );
    assert_eq!(
        job_list(&app, &project).len(),
        1,
        "nothing new while it runs"
    );

    // Its close starts exactly one more incremental scan.
    cancel(&app, &project, first);
    assert!(
        eventually(WAIT, || job_list(&app, &project).len() == 2),
        "no follow-up scan"
    );
    std::thread::sleep(Duration::from_millis(500));
    let jobs = job_list(&app, &project);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let follow_up = jobs[0]["id"].as_i64().unwrap();
    let detail = app.wait_for_detail(&project, follow_up, WAIT, |detail| detail["state"] != 0);
    assert_eq!(detail["created_from"], "webhook");
    let scans = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let scans = app.get(&format!("{scans}/scans/"), ADMIN_TOKEN).expect(200);
    assert_eq!(
        scans.data()["results"][0]["job_gid"],
        follow_up,
        "{}",
        scans.body
    );
    assert_eq!(
        scans.data()["results"][0]["type"],
        1,
        "incremental: {}",
        scans.body
    );
    assert!(eventually(WAIT, || process_running("sleep 651")));
}

#[test]
fn a_follow_up_owed_when_the_server_stopped_starts_at_the_next_start() {
    let app_tools = tools(&[("sleeper", r#"["sleep", "652"]"#, "")]);
    let mut app = TestApp::spawn_with_tools(&app_tools);
    let (world, project, _) = slow_world(&app);
    let hook = make_hook(&app, &world);
    let (_, first) = github(
        &hook,
        "push",
        "r-1",
        &github_push("refs/heads/main", &head(&world), "x"),
    );
    let first = first["data"]["projects"][0]["job_id"].as_i64().unwrap();
    app.wait_for_detail(&project, first, WAIT, |detail| detail["state"] == 1);
    let (_, second) = github(
        &hook,
        "push",
        "r-2",
        &github_push("refs/heads/main", &"5".repeat(40), "x"),
    );
    assert_eq!(second["data"]["projects"][0]["action"], "follow_up");

    // Stopped while the job runs: it is re-queued at the next start and the mark waits for it.
    app.restart();
    app.wait_for_detail(&project, first, WAIT, |detail| detail["state"] == 1);
    assert_eq!(job_list(&app, &project).len(), 1);
    cancel(&app, &project, first);
    assert!(
        eventually(WAIT, || job_list(&app, &project).len() == 2),
        "the follow-up survived the restart"
    );
}

#[test]
fn a_follow_up_left_without_an_unfinished_job_starts_at_start_up() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    // As if the server died between a job's close and its follow-up: the mark alone is left.
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    conn.execute(
        "INSERT INTO scan_followups (project_id, head, created_from, creator, creator_id, requested_time)
         VALUES (?1, 'abc', 'webhook', 'webhook', 1, '2026-01-01T00:00:00.000000Z')",
        [world.project_id],
    )
    .unwrap();
    drop(conn);
    assert!(job_list(&app, &world.project_path()).is_empty());
    app.restart();
    assert!(
        eventually(WAIT, || job_list(&app, &world.project_path()).len() == 1),
        "no scan for the mark left behind"
    );
    let job_id = job_list(&app, &world.project_path())[0]["id"]
        .as_i64()
        .unwrap();
    let detail = app.wait_for_job(&world.project_path(), job_id, WAIT);
    assert_eq!(detail["created_from"], "webhook");
    // Settled once: another restart starts nothing more.
    app.restart();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(job_list(&app, &world.project_path()).len(), 1);
}

#[test]
fn a_push_of_the_head_a_running_job_then_scans_starts_no_second_scan() {
    let app = TestApp::spawn_with_tools(&tools(&[("sleeper", r#"["sleep", "3"]"#, "")]));
    let (world, project, _) = slow_world(&app);
    let hook = make_hook(&app, &world);
    let payload = github_push("refs/heads/main", &head(&world), "x");
    let (_, first) = github(&hook, "push", "h-1", &payload);
    let first = first["data"]["projects"][0]["job_id"].as_i64().unwrap();
    app.wait_for_detail(&project, first, WAIT, |detail| detail["state"] == 1);
    // The forge sends the same head again (say, a second hook event): owed, but already scanned
    // once the running job stores its results at that head.
    let (_, again) = github(&hook, "push", "h-2", &payload);
    assert_eq!(again["data"]["projects"][0]["action"], "follow_up");
    let detail = app.wait_for_job(&project, first, WAIT);
    assert_eq!(detail["result_code"], 0, "{detail}");
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        job_list(&app, &project).len(),
        1,
        "the same head was scanned twice"
    );
}
