//! Triage (issue 11): TCA's codelint endpoints that change findings, on findings the built-in
//! checker makes from conflict markers planted in a real repository, across real rescans. The
//! shapes are pinned against TCA's views and serializers
//! (`../shared/tca-src/server/projects/analysis/apps/codelint/apis/v2.py`,
//! `serializers/issue.py`, `models/issue.py`'s `IssueComment`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{git, Body, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(30);

fn analysis(project: &str) -> String {
    project.replacen("/server/main/api/", "/server/analysis/api/", 1)
}

/// Writes `files` into the world's repository and commits them.
fn commit(world: &World, files: &[(&str, &str)], message: &str) {
    for (path, content) in files {
        let file = world.repo_dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", message]);
}

/// A file holding one conflict marker (a finding the checker reports by default), made unique
/// by `tag` so that each file's finding has its own fingerprint.
fn marked(tag: &str) -> String {
    format!("{tag}\n{} HEAD\n", "<".repeat(7))
}

/// A full scan of `project`, waited for; returns `(job_id, scan_id)`.
fn scan(app: &TestApp, project: &str) -> (i64, i64) {
    let (job_id, scan_id) = app.start_scan(project, json!({"incr_scan": false}));
    let detail = app.wait_for_job(project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    (job_id, scan_id)
}

/// A lint project on `branch` (with its own scheme, named after the branch and `name`).
fn lint_project(app: &TestApp, world: &World, branch: &str, name: &str) -> String {
    world.project_with_scheme(
        app,
        branch,
        json!({"name": name, "lint_enabled": true, "tools": ["codepup"], "blame_enabled": true}),
    )
}

/// The project's findings by file: `path -> (id, state, resolution)`.
fn by_path(app: &TestApp, project: &str) -> Vec<(String, i64, i64, i64)> {
    let list = app
        .get(
            &format!("{}/codelint/issues/?limit=100", analysis(project)),
            ADMIN_TOKEN,
        )
        .expect(200);
    let mut rows: Vec<(String, i64, i64, i64)> = list.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["file_path"].as_str().unwrap().to_string(),
                item["id"].as_i64().unwrap(),
                item["state"].as_i64().unwrap(),
                item["resolution"].as_i64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn id_of(rows: &[(String, i64, i64, i64)], path: &str) -> i64 {
    rows.iter()
        .find(|row| row.0 == path)
        .unwrap_or_else(|| panic!("no finding in {path}: {rows:?}"))
        .1
}

fn state_of(rows: &[(String, i64, i64, i64)], path: &str) -> (i64, i64) {
    let row = rows.iter().find(|row| row.0 == path).unwrap();
    (row.2, row.3)
}

fn put(app: &TestApp, path: &str, token: &str, body: Value) -> crate::helpers::Reply {
    app.call("PUT", path, Some(token), Body::Json(body))
}

/// Keys of TCA's `DetailedIssueSerializer` (the model's fields but the hashes, with
/// `issue_details`, `is_external` and `repo`) that a changed finding is answered with.
const DETAIL_KEYS: [&str; 12] = [
    "id",
    "issue_details",
    "is_external",
    "repo",
    "author",
    "checkrule_display_name",
    "state",
    "resolution",
    "severity",
    "fixed_time",
    "scan_open",
    "scan_fix",
];

#[test]
fn a_false_positive_stays_resolved_across_rescans_and_a_reopened_one_is_open_again() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[("a.txt", &marked("a")), ("b.txt", &marked("b"))],
        "plant",
    );
    let project = lint_project(&app, &world, "main", "lint");
    let issues = format!("{}/codelint/issues", analysis(&project));
    scan(&app, &project);
    let rows = by_path(&app, &project);
    let (a, b) = (id_of(&rows, "a.txt"), id_of(&rows, "b.txt"));
    let overview = app
        .get(&format!("{}/overview/", analysis(&project)), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        overview.data()["lintscan"]["total"]["state_detail"]["active"],
        2
    );

    let marked_a = put(
        &app,
        &format!("{issues}/{a}/resolution/"),
        ADMIN_TOKEN,
        json!({"resolution": 3, "ignore_reason": "generated file"}),
    )
    .expect(200);
    for key in DETAIL_KEYS {
        assert!(
            marked_a.data().get(key).is_some(),
            "{key}: {}",
            marked_a.body
        );
    }
    assert_eq!(
        marked_a.data()["state"],
        2,
        "误报 resolves it: {}",
        marked_a.body
    );
    assert_eq!(marked_a.data()["resolution"], 3);
    assert!(marked_a.data()["fixed_time"].is_string());
    // TCA's UI sends POST: the same change.
    let fixed_b = app
        .post(
            &format!("{issues}/{b}/resolution/"),
            ADMIN_TOKEN,
            json!({"resolution": 1}),
        )
        .expect(200);
    assert_eq!(
        (
            fixed_b.data()["state"].clone(),
            fixed_b.data()["resolution"].clone()
        ),
        (json!(2), json!(1))
    );
    let overview = app
        .get(&format!("{}/overview/", analysis(&project)), ADMIN_TOKEN)
        .expect(200);
    let states = &overview.data()["lintscan"]["total"]["state_detail"];
    assert_eq!(
        (states["active"].clone(), states["resolved"].clone()),
        (json!(null), json!(2)),
        "{states}"
    );
    assert_eq!(overview.data()["lintscan"]["issue_open_num"], 0);

    // The next scan still sees both: the false positive stays resolved, the one marked fixed
    // by hand was not fixed and opens again.
    commit(&world, &[("c.py", "x = 1\n")], "unrelated");
    scan(&app, &project);
    let rows = by_path(&app, &project);
    assert_eq!(state_of(&rows, "a.txt"), (2, 3), "{rows:?}");
    assert_eq!(state_of(&rows, "b.txt"), (1, 0), "{rows:?}");

    // Reopened, it is open, and the next scan leaves it open.
    let reopened = put(
        &app,
        &format!("{issues}/{a}/resolution/"),
        ADMIN_TOKEN,
        json!({"resolution": 0}),
    )
    .expect(200);
    assert_eq!(
        (
            reopened.data()["state"].clone(),
            reopened.data()["fixed_time"].clone()
        ),
        (json!(1), json!(null))
    );
    commit(&world, &[("d.py", "y = 2\n")], "unrelated again");
    scan(&app, &project);
    assert_eq!(state_of(&by_path(&app, &project), "a.txt"), (1, 0));

    // The history names who did what, newest first, in TCA's IssueComment shape.
    let comments = app
        .get(&format!("{issues}/{a}/comments/"), ADMIN_TOKEN)
        .expect(200);
    let results = comments.data()["results"].as_array().unwrap();
    assert_eq!(comments.data()["count"], 2, "{}", comments.body);
    let keys: Vec<&str> = results[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "action",
            "created_time",
            "creator",
            "id",
            "issue_hash",
            "issue_id",
            "message",
            "project_id"
        ]
    );
    assert_eq!(results[0]["creator"], "admin");
    assert_eq!(results[0]["action"], "处理");
    assert!(
        results[0]["message"]
            .as_str()
            .unwrap()
            .contains("误报 -> 无"),
        "{}",
        comments.body
    );
    assert!(
        results[1]["message"]
            .as_str()
            .unwrap()
            .contains("reason: generated file"),
        "{}",
        comments.body
    );
    assert_eq!(results[1]["issue_id"], a);
}

#[test]
fn a_repository_scope_ignore_covers_the_fingerprint_in_other_projects_now_and_later() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[("a.txt", &marked("a")), ("b.txt", &marked("b"))],
        "plant",
    );
    git(&world.repo_dir, &["branch", "dev"]);
    let main = lint_project(&app, &world, "main", "main-lint");
    let dev = lint_project(&app, &world, "dev", "dev-lint");
    scan(&app, &main);
    scan(&app, &dev);
    let main_rows = by_path(&app, &main);
    let a = id_of(&main_rows, "a.txt");
    let b = id_of(&main_rows, "b.txt");
    let bulk = put(
        &app,
        &format!("{}/codelint/issues/resolution/", analysis(&main)),
        ADMIN_TOKEN,
        json!({"issue_ids": [a], "resolution": 2, "scope": 2, "ignore_reason": "vendored"}),
    )
    .expect(200);
    assert_eq!(bulk.data()["msg"], "success", "TCA's answer: {}", bulk.body);
    assert_eq!(bulk.data()["count"], 1);
    let dev_rows = by_path(&app, &dev);
    assert_eq!(
        state_of(&dev_rows, "a.txt"),
        (2, 2),
        "the other project's finding: {dev_rows:?}"
    );
    assert_eq!(state_of(&dev_rows, "b.txt"), (1, 0));
    // A project made later opens the finding already resolved, with the reason in its history.
    let later = lint_project(&app, &world, "main", "later-lint");
    scan(&app, &later);
    let later_rows = by_path(&app, &later);
    assert_eq!(state_of(&later_rows, "a.txt"), (2, 2), "{later_rows:?}");
    assert_eq!(state_of(&later_rows, "b.txt"), (1, 0));
    let history = app
        .get(
            &format!(
                "{}/codelint/issues/{}/comments/",
                analysis(&later),
                id_of(&later_rows, "a.txt")
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    let entry = &history.data()["results"][0];
    assert_eq!(entry["creator"], "codepup", "{}", history.body);
    assert!(
        entry["message"].as_str().unwrap().contains("vendored"),
        "{}",
        history.body
    );
    // A project-scope ignore stays in its project.
    put(
        &app,
        &format!("{}/codelint/issues/{b}/resolution/", analysis(&main)),
        ADMIN_TOKEN,
        json!({"resolution": 2, "scope": 1}),
    )
    .expect(200);
    scan(&app, &dev);
    assert_eq!(state_of(&by_path(&app, &dev), "b.txt"), (1, 0));
    assert_eq!(state_of(&by_path(&app, &main), "b.txt"), (2, 2));
}

#[test]
fn severity_and_author_changes_are_kept_by_later_scans_and_recorded() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[("a.txt", &marked("a")), ("b.txt", &marked("b"))],
        "plant",
    );
    let project = lint_project(&app, &world, "main", "lint");
    let issues = format!("{}/codelint/issues", analysis(&project));
    let (_, first_scan) = scan(&app, &project);
    let rows = by_path(&app, &project);
    let (a, b) = (id_of(&rows, "a.txt"), id_of(&rows, "b.txt"));
    // Blame knows the author's e-mail too.
    let listed = app
        .get(&format!("{issues}/?limit=100"), ADMIN_TOKEN)
        .expect(200);
    for item in listed.data()["results"].as_array().unwrap() {
        assert_eq!(item["author"], "Test Author");
        assert_eq!(item["author_email"], "author@example.com", "{item}");
    }
    let authors = app
        .get(&format!("{issues}/authors/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(authors.data(), &json!(["Test Author"]));

    let rated = put(
        &app,
        &format!("{issues}/{a}/severity/"),
        ADMIN_TOKEN,
        json!({"severity": 4}),
    )
    .expect(200);
    assert_eq!(rated.data()["severity"], 4);
    let same = put(
        &app,
        &format!("{issues}/{a}/author/"),
        ADMIN_TOKEN,
        json!({"author": "Test Author"}),
    )
    .expect(400);
    assert_eq!(same.body["msg"], "参数异常，新责任人不可以与原责任人相同");
    // `all`: every open finding of the same author moves with it.
    let moved = put(
        &app,
        &format!("{issues}/{a}/author/"),
        ADMIN_TOKEN,
        json!({"author": "carol", "all": true}),
    )
    .expect(200);
    assert_eq!(moved.data()["author"], "carol");
    let authors = app
        .get(&format!("{issues}/authors/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(authors.data(), &json!(["carol"]));
    let bulk = put(
        &app,
        &format!("{issues}/author/"),
        ADMIN_TOKEN,
        json!({"issue_ids": [b], "author": "dave"}),
    )
    .expect(200);
    assert_eq!(bulk.data()["count"], 1);

    commit(&world, &[("c.py", "x = 1\n")], "unrelated");
    let (_, second_scan) = scan(&app, &project);
    let detail = app.get(&format!("{issues}/{a}/"), ADMIN_TOKEN).expect(200);
    assert_eq!(
        detail.data()["severity"],
        4,
        "the scan kept the severity set: {}",
        detail.body
    );
    assert_eq!(detail.data()["author"], "carol");
    let history = app
        .get(&format!("{issues}/{a}/comments/"), ADMIN_TOKEN)
        .expect(200);
    let actions: Vec<&str> = history.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["批量修改责任人", "修改优先级"]);
    let commented = app
        .post(
            &format!("{issues}/{a}/comments/"),
            ADMIN_TOKEN,
            json!({"message": "looked at it"}),
        )
        .expect(201);
    assert_eq!(commented.data()["action"], "评论");
    assert_eq!(commented.data()["creator"], "admin");

    // The per-scan list: what each scan saw, in the per-scan document's shape.
    let per_scan = |scan_id: i64, query: &str| {
        app.get(
            &format!(
                "{}/codelint/scans/{scan_id}/issues/?{query}",
                analysis(&project)
            ),
            ADMIN_TOKEN,
        )
        .expect(200)
    };
    let first = per_scan(first_scan, "");
    assert_eq!(first.data()["count"], 2, "{}", first.body);
    let item = &first.data()["results"][0];
    for key in [
        "id",
        "repo_id",
        "project_id",
        "scan_time",
        "file_path",
        "line",
        "column",
        "checkrule_display_name",
        "checktool_name",
        "msg",
        "state",
        "resolution",
        "author",
        "author_email",
        "scan_open_id",
        "scan_fix_id",
        "scan_revision",
        "severity",
        "revision",
    ] {
        assert!(item.get(key).is_some(), "{key}: {item}");
    }
    assert_eq!(item["line"], 2);
    assert_eq!(per_scan(second_scan, "author=carol").data()["count"], 1);
    assert_eq!(
        per_scan(second_scan, "scan_open_id=999999").data()["count"],
        0
    );
    assert_eq!(
        per_scan(second_scan, &format!("scan_open_id={first_scan}")).data()["count"],
        2
    );
    app.get(
        &format!("{}/codelint/scans/999999/issues/", analysis(&project)),
        ADMIN_TOKEN,
    )
    .expect(404);
}

#[test]
fn only_team_members_triage_and_ids_of_another_project_are_not_found() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(&world, &[("a.txt", &marked("a"))], "plant");
    git(&world.repo_dir, &["branch", "dev"]);
    let main = lint_project(&app, &world, "main", "main-lint");
    let dev = lint_project(&app, &world, "dev", "dev-lint");
    scan(&app, &main);
    scan(&app, &dev);
    let a = id_of(&by_path(&app, &main), "a.txt");
    let dev_a = id_of(&by_path(&app, &dev), "a.txt");
    let member = app.create_user("member");
    let outsider = app.create_user("outsider");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member", "outsider"], "role": 2}),
    )
    .expect(200);
    app.post(
        &format!("{}/memberconf/", world.team_path()),
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    let issues = format!("{}/codelint/issues", analysis(&main));
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        (
            "PUT",
            format!("{issues}/{a}/resolution/"),
            Some(json!({"resolution": 2})),
        ),
        (
            "PUT",
            format!("{issues}/resolution/"),
            Some(json!({"issue_ids": [a], "resolution": 0})),
        ),
        (
            "PUT",
            format!("{issues}/{a}/severity/"),
            Some(json!({"severity": 2})),
        ),
        (
            "PUT",
            format!("{issues}/{a}/author/"),
            Some(json!({"author": "erin"})),
        ),
        (
            "PUT",
            format!("{issues}/author/"),
            Some(json!({"issue_ids": [a], "author": "fay"})),
        ),
        ("GET", format!("{issues}/authors/"), None),
        ("GET", format!("{issues}/{a}/comments/"), None),
        (
            "POST",
            format!("{issues}/{a}/comments/"),
            Some(json!({"message": "m"})),
        ),
    ];
    for (method, path, body) in &calls {
        let send = |token: &str| {
            let body = body.clone().map_or(Body::None, Body::Json);
            app.call(method, path, Some(token), body)
        };
        send(&outsider).expect(403);
        app.call(method, path, None, Body::None).expect(401);
        let status = send(&member).status;
        assert!(
            status == 200 || status == 201,
            "{method} {path} as a member: {status}"
        );
    }
    // The outsider gets the same 403 for a finding that does not exist.
    put(
        &app,
        &format!("{issues}/999999/resolution/"),
        &outsider,
        json!({"resolution": 2}),
    )
    .expect(403);
    // A finding of another project, named under this one, is not found.
    for path in [
        format!("{issues}/{dev_a}/resolution/"),
        format!("{issues}/{dev_a}/severity/"),
        format!("{issues}/{dev_a}/author/"),
    ] {
        put(
            &app,
            &path,
            &member,
            json!({"resolution": 2, "severity": 2, "author": "x"}),
        )
        .expect(404);
    }
    app.get(&format!("{issues}/{dev_a}/comments/"), &member)
        .expect(404);
    // In a batch, ids of another project are skipped, as TCA filters them.
    let bulk = put(
        &app,
        &format!("{issues}/resolution/"),
        &member,
        json!({"issue_ids": [dev_a, 999999], "resolution": 3}),
    )
    .expect(200);
    assert_eq!(bulk.data()["count"], 0);
    assert_eq!(state_of(&by_path(&app, &dev), "a.txt"), (1, 0));
}

#[test]
fn bad_triage_input_is_answered_with_400_envelopes_and_changes_nothing() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(&world, &[("a.txt", &marked("a"))], "plant");
    let project = lint_project(&app, &world, "main", "lint");
    scan(&app, &project);
    let a = id_of(&by_path(&app, &project), "a.txt");
    let issues = format!("{}/codelint/issues", analysis(&project));
    let one = format!("{issues}/{a}/resolution/");
    let bulk = format!("{issues}/resolution/");
    let huge: Vec<i64> = (1..=10_001).collect();
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "PUT",
            one.clone(),
            json!({"resolution": 9}),
            "参数异常，`Resolution` 值[9]错误",
        ),
        (
            "PUT",
            one.clone(),
            json!({}),
            "参数异常，`Resolution` 值[None]错误",
        ),
        (
            "PUT",
            one.clone(),
            json!({"resolution": 5}),
            "参数异常，`Resolution` 值[5]错误",
        ),
        (
            "PUT",
            one.clone(),
            json!({"resolution": "abc"}),
            "resolution A valid integer is required.",
        ),
        (
            "PUT",
            one.clone(),
            json!({"resolution": [2]}),
            "resolution A valid integer is required.",
        ),
        (
            "PUT",
            one.clone(),
            json!({"resolution": 2, "scope": 3}),
            "参数异常，`Scope` 值[3]错误",
        ),
        (
            "PUT",
            one.clone(),
            json!({"resolution": 2, "ignore_reason": "r".repeat(513)}),
            "ignore_reason Ensure this field has no more than 512 characters.",
        ),
        (
            "PUT",
            bulk.clone(),
            json!({"resolution": 2}),
            "参数异常, `issue_ids`不是list格式",
        ),
        (
            "PUT",
            bulk.clone(),
            json!({"issue_ids": 7, "resolution": 2}),
            "issue_ids Expected a list of items but got type \"number\".",
        ),
        (
            "PUT",
            bulk.clone(),
            json!({"issue_ids": ["x"], "resolution": 2}),
            "issue_ids A valid integer is required.",
        ),
        (
            "PUT",
            bulk.clone(),
            json!({"issue_ids": huge, "resolution": 2}),
            "issue_ids Ensure this field has no more than 10000 elements.",
        ),
        (
            "PUT",
            format!("{issues}/{a}/severity/"),
            json!({"severity": 0}),
            "参数异常，`Severity` 值[0]错误",
        ),
        (
            "PUT",
            format!("{issues}/{a}/severity/"),
            json!({"severity": "high"}),
            "severity A valid integer is required.",
        ),
        (
            "PUT",
            format!("{issues}/{a}/author/"),
            json!({"author": "  "}),
            "参数异常，责任人不可以为空",
        ),
        (
            "PUT",
            format!("{issues}/{a}/author/"),
            json!({"author": {"name": "x"}}),
            "author Not a valid string.",
        ),
        (
            "PUT",
            format!("{issues}/author/"),
            json!({"issue_ids": [a]}),
            "参数异常，责任人不可以为空",
        ),
        (
            "POST",
            format!("{issues}/{a}/comments/"),
            json!({}),
            "message This field is required.",
        ),
    ];
    for (method, path, body, msg) in &cases {
        let reply = app
            .call(method, path, Some(ADMIN_TOKEN), Body::Json(body.clone()))
            .expect(400);
        assert_eq!(reply.body["msg"], *msg, "{method} {path} {body}");
    }
    let not_json = app
        .call(
            "PUT",
            &one,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", b"{resolution".to_vec()),
        )
        .expect(400);
    assert!(not_json.body["msg"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error"));
    app.call("DELETE", &one, Some(ADMIN_TOKEN), Body::None)
        .expect(405);
    assert_eq!(state_of(&by_path(&app, &project), "a.txt"), (1, 0));
    let history = app
        .get(&format!("{issues}/{a}/comments/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(history.data()["count"], 0, "{}", history.body);
}
