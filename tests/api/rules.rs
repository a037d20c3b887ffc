//! Issue 11: the built-in checker's default rules, a scheme's rule configuration (on, off,
//! severity, for the checker and a real linter) and its path filters (TCA's `scandirs`), which
//! every tool and the line counter honour; a changed configuration closes findings in the next
//! scan.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{git, has_tool, Body, Reply, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(60);

fn commit(world: &World, files: &[(&str, String)]) {
    for (path, content) in files {
        let file = world.repo_dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "plant"]);
}

/// Runs an incremental scan (the client's usual ask) of `project` and waits for its success.
fn scan(app: &TestApp, project: &str) -> Value {
    let (job_id, _) = app.start_scan(project, json!({"incr_scan": true}));
    let detail = app.wait_for_job(project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    detail
}

/// `(tool, rule, path, line, severity)` of the project's open findings, sorted.
fn open_findings(app: &TestApp, project: &str) -> Vec<(String, String, String, i64, i64)> {
    let analysis = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let reply = app
        .get(
            &format!("{analysis}/codelint/issues/?state=1&limit=1000"),
            ADMIN_TOKEN,
        )
        .expect(200);
    let mut found: Vec<_> = reply.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["checktool_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                item["checkrule_display_name"].as_str().unwrap().to_string(),
                item["file_path"].as_str().unwrap().to_string(),
                item["line"].as_i64().unwrap(),
                item["severity"].as_i64().unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

fn rules_path(world: &World, scheme_id: i64, what: &str) -> String {
    format!("{}/schemes/{scheme_id}/{what}", world.repo_path())
}

fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Reply {
    app.call("PUT", path, Some(token), Body::Json(body))
}

fn finding(
    tool: &str,
    rule: &str,
    path: &str,
    line: i64,
    severity: i64,
) -> (String, String, String, i64, i64) {
    (tool.into(), rule.into(), path.into(), line, severity)
}

#[test]
fn the_default_template_reports_markers_and_secrets_and_leaves_style_to_the_scheme() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let marker = "<".repeat(7);
    let long = "z".repeat(130);
    commit(
        &world,
        &[
            ("merge.txt", format!("a\n{marker} HEAD\nb\n")),
            (
                "style.txt",
                format!("trailing  \n\tmixed\n    {long}\nno newline"),
            ),
        ],
    );
    let project = world.project_path();
    scan(&app, &project);
    assert_eq!(
        open_findings(&app, &project),
        [finding("codepup", "conflict-marker", "merge.txt", 2, 2)]
    );
    let scheme_id = world.scheme_of(&app, &project);
    let listed = app
        .get(&rules_path(&world, scheme_id, "checkrules/"), ADMIN_TOKEN)
        .expect(200);
    let states: Vec<(String, i64)> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            (
                rule["checkrule_real_name"].as_str().unwrap().to_string(),
                rule["state"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states.iter().filter(|(_, state)| *state == 1).count(),
        3,
        "{states:?}"
    );
    assert!(states.contains(&("long-line".into(), 2)), "{states:?}");

    // On: trailing whitespace; the marker becomes fatal. The next scan says so.
    put(
        &app,
        &rules_path(&world, scheme_id, "checkprofile/rules/modifystate/"),
        ADMIN_TOKEN,
        json!({"checktool": "codepup", "checkrules": ["trailing-whitespace"], "state": 1}),
    )
    .expect(200);
    put(
        &app,
        &rules_path(&world, scheme_id, "checkprofile/rules/modifyseverity/"),
        ADMIN_TOKEN,
        json!({"checktool": "codepup", "checkrules": ["conflict-marker"], "severity": 1}),
    )
    .expect(200);
    scan(&app, &project);
    assert_eq!(
        open_findings(&app, &project),
        [
            finding("codepup", "conflict-marker", "merge.txt", 2, 1),
            finding("codepup", "trailing-whitespace", "style.txt", 1, 4),
        ]
    );

    // Off again, and the marker off too: both close in the next scan, though no file changed.
    put(
        &app,
        &rules_path(&world, scheme_id, "checkprofile/rules/modifystate/"),
        ADMIN_TOKEN,
        json!({"checktool": "codepup", "checkrules": ["trailing-whitespace", "conflict-marker"], "state": 2}),
    )
    .expect(200);
    let detail = scan(&app, &project);
    assert_eq!(open_findings(&app, &project), []);
    let log = app
        .get(
            &format!("{project}/jobs/{}/log/", detail["id"]),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert!(
        log.body.as_str().unwrap().contains("full scan"),
        "{}",
        log.body
    );

    // Back to the defaults: the marker is on again.
    app.call(
        "DELETE",
        &rules_path(&world, scheme_id, "checkprofile/rules/delete/"),
        Some(ADMIN_TOKEN),
        Body::Json(json!({"checktool": "codepup", "checkrules": ["trailing-whitespace", "conflict-marker"]})),
    )
    .expect(200);
    scan(&app, &project);
    assert_eq!(
        open_findings(&app, &project),
        [finding("codepup", "conflict-marker", "merge.txt", 2, 2)]
    );
}

#[test]
fn a_linters_rules_are_turned_off_and_given_a_severity_by_the_scheme() {
    if !has_tool("ruff") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[(
            "app.py",
            format!(
                "import os\n\nprint(undefined_name)\nLONG = '{}'\n",
                "x".repeat(100)
            ),
        )],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "ruff", "lint_enabled": true, "languages": ["python"], "tools": ["ruff"]}),
    );
    scan(&app, &project);
    let first = open_findings(&app, &project);
    let rules: Vec<&str> = first.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(rules, ["F401", "F821"], "{first:?}");
    let scheme_id = world.scheme_of(&app, &project);
    put(
        &app,
        &rules_path(&world, scheme_id, "checkprofile/rules/modifystate/"),
        ADMIN_TOKEN,
        json!({"checktool": "ruff", "checkrules": ["F401"], "state": 2}),
    )
    .expect(200);
    put(
        &app,
        &rules_path(&world, scheme_id, "checkprofile/rules/modifyseverity/"),
        ADMIN_TOKEN,
        json!({"checktool": "ruff", "checkrules": ["F821"], "severity": 1}),
    )
    .expect(200);
    // E501 (line too long) is not in ruff's default selection: turned on, ruff runs it.
    put(
        &app,
        &rules_path(&world, scheme_id, "checkprofile/rules/modifystate/"),
        ADMIN_TOKEN,
        json!({"checktool": "ruff", "checkrules": ["E501"], "state": 1}),
    )
    .expect(200);
    scan(&app, &project);
    let after: Vec<(&str, i64)> = open_findings(&app, &project)
        .iter()
        .map(|f| {
            (
                if f.1 == "E501" {
                    "E501"
                } else if f.1 == "F821" {
                    "F821"
                } else {
                    "other"
                },
                f.4,
            )
        })
        .collect();
    assert_eq!(after, [("E501", 4), ("F821", 1)]);
    let listed = app
        .get(&rules_path(&world, scheme_id, "checkrules/"), ADMIN_TOKEN)
        .expect(200);
    let ruff: Vec<&Value> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| rule["checktool"] == "ruff")
        .collect();
    assert_eq!(ruff.len(), 3, "{}", listed.body);
}

#[test]
fn path_filters_keep_files_from_every_tool_and_from_the_line_count() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let marker = "<".repeat(7);
    commit(
        &world,
        &[
            ("src/a.py", format!("import os\n{marker} HEAD\n")),
            ("src/gen/b.py", format!("import os\n{marker} HEAD\n")),
            ("vendor/c.py", format!("import os\n{marker} HEAD\n")),
            ("docs/d.txt", format!("{marker} HEAD\n")),
        ],
    );
    let with_ruff = has_tool("ruff");
    let tools = if with_ruff {
        json!(["codepup", "ruff"])
    } else {
        json!(["codepup"])
    };
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "filtered", "lint_enabled": true, "languages": ["python"], "tools": tools}),
    );
    let scheme_id = world.scheme_of(&app, &project);
    let scandirs = rules_path(&world, scheme_id, "scandirs/");
    app.post(
        &scandirs,
        ADMIN_TOKEN,
        json!({"dir_path": "(src|vendor)/.*", "path_type": 2, "scan_type": 1}),
    )
    .expect(201);
    let bulk = app
        .post(
            &format!("{scandirs}bulkcreate/"),
            ADMIN_TOKEN,
            json!({"scandirs": [
                {"dir_path": "vendor/*", "path_type": 1, "scan_type": 2},
                {"dir_path": "*/gen/*", "path_type": 1, "scan_type": 2},
                {"dir_path": "vendor/*", "path_type": 1, "scan_type": 2},
            ]}),
        )
        .expect(200);
    assert!(
        bulk.data()["detail"]
            .as_str()
            .unwrap()
            .contains("2 path filters added, 1 skipped"),
        "{}",
        bulk.body
    );
    let listed = app.get(&scandirs, ADMIN_TOKEN).expect(200);
    assert_eq!(listed.data()["count"], 3, "{}", listed.body);

    let detail = scan(&app, &project);
    let found = open_findings(&app, &project);
    assert!(found.iter().all(|f| f.2 == "src/a.py"), "{found:?}");
    assert!(found.iter().any(|f| f.0 == "codepup"), "{found:?}");
    if with_ruff {
        assert!(found.iter().any(|f| f.0 == "ruff"), "{found:?}");
    }
    // The world's own src/main.py (one line) and src/a.py (two) are all the line count saw.
    assert_eq!(detail["total_line_num"], 3, "{detail}");

    // Filters cleared: the next scan takes every file and finds the rest.
    app.call(
        "DELETE",
        &format!("{scandirs}clear/"),
        Some(ADMIN_TOKEN),
        Body::None,
    )
    .expect(204);
    let detail = scan(&app, &project);
    let paths: std::collections::BTreeSet<String> = open_findings(&app, &project)
        .into_iter()
        .map(|f| f.2)
        .collect();
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        ["docs/d.txt", "src/a.py", "src/gen/b.py", "vendor/c.py"]
    );
    assert_eq!(detail["total_line_num"], 8, "{detail}");
}

#[test]
fn excluding_a_path_closes_its_findings_in_the_next_scan() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let marker = "<".repeat(7);
    commit(
        &world,
        &[
            ("keep.txt", format!("{marker} HEAD\n")),
            ("third_party/x.txt", format!("{marker} HEAD\n")),
        ],
    );
    let project = world.project_path();
    scan(&app, &project);
    assert_eq!(open_findings(&app, &project).len(), 2);
    let scheme_id = world.scheme_of(&app, &project);
    let created = app
        .post(
            &rules_path(&world, scheme_id, "scandirs/"),
            ADMIN_TOKEN,
            json!({"dir_path": "third_party/*"}),
        )
        .expect(201);
    assert_eq!(created.data()["path_type"], 1);
    assert_eq!(created.data()["scan_type"], 2);
    scan(&app, &project);
    assert_eq!(
        open_findings(&app, &project),
        [finding("codepup", "conflict-marker", "keep.txt", 1, 2)]
    );

    // A filter is read, changed and deleted on its own path.
    let one = rules_path(
        &world,
        scheme_id,
        &format!("scandirs/{}/", created.data()["id"]),
    );
    app.get(&one, ADMIN_TOKEN).expect(200);
    let changed = put(
        &app,
        &one,
        ADMIN_TOKEN,
        json!({"dir_path": "keep.txt", "scan_type": 2}),
    );
    assert_eq!(changed.expect(200).data()["dir_path"], "keep.txt");
    scan(&app, &project);
    assert_eq!(
        open_findings(&app, &project),
        [finding(
            "codepup",
            "conflict-marker",
            "third_party/x.txt",
            1,
            2
        )]
    );
    app.call("DELETE", &one, Some(ADMIN_TOKEN), Body::None)
        .expect(204);
    app.get(&one, ADMIN_TOKEN).expect(404);
}

#[test]
fn hostile_filters_and_rule_changes_are_refused_cleanly_and_change_nothing() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let scheme_id = world.scheme_of(&app, &project);
    let scandirs = rules_path(&world, scheme_id, "scandirs/");
    for body in [
        json!({"dir_path": "a["}),
        json!({"dir_path": "(", "path_type": 2}),
        json!({"dir_path": "(a{1,100}){1,100}(b{1,100}){1,100}", "path_type": 2}),
        json!({"dir_path": "x".repeat(513)}),
        json!({"dir_path": "a\u{0}b"}),
        json!({"dir_path": "a\nb"}),
        json!({"dir_path": "/etc/*"}),
        json!({"dir_path": ""}),
        json!({"dir_path": ["a"]}),
        json!({"dir_path": "a/*", "path_type": 3}),
        json!({"dir_path": "a/*", "scan_type": 0}),
        json!({"dir_path": "a/*", "scan_type": "exclude"}),
        json!({}),
    ] {
        let reply = app.post(&scandirs, ADMIN_TOKEN, body.clone()).expect(400);
        assert!(!reply.invalid_fields().is_empty(), "{body}: {}", reply.body);
    }
    let reply = app
        .post(
            &format!("{scandirs}bulkcreate/"),
            ADMIN_TOKEN,
            json!({"scandirs": [{"dir_path": "ok/*"}, {"dir_path": "(", "path_type": 2}]}),
        )
        .expect(400);
    assert!(
        reply.body["msg"].as_str().unwrap().contains("item 1"),
        "{}",
        reply.body
    );
    app.post(
        &format!("{scandirs}bulkcreate/"),
        ADMIN_TOKEN,
        json!({"scandirs": "a"}),
    )
    .expect(400);
    assert_eq!(
        app.get(&scandirs, ADMIN_TOKEN).expect(200).data()["count"],
        0
    );
    app.post(&scandirs, ADMIN_TOKEN, json!({"dir_path": "a/*"}))
        .expect(201);
    app.post(&scandirs, ADMIN_TOKEN, json!({"dir_path": "a/*"}))
        .expect(400);

    let state = rules_path(&world, scheme_id, "checkprofile/rules/modifystate/");
    for body in [
        json!({"checktool": "rm", "checkrules": ["x"], "state": 2}),
        json!({"checktool": "codecount", "checkrules": ["x"], "state": 2}),
        json!({"checktool": "codepup", "checkrules": ["no-such-rule"], "state": 2}),
        json!({"checktool": "ruff", "checkrules": ["F401; rm -rf /"], "state": 2}),
        json!({"checktool": "ruff", "checkrules": ["--select=ALL"], "state": 1}).clone(),
        json!({"checktool": "ruff", "checkrules": [], "state": 2}),
        json!({"checktool": "ruff", "checkrules": ["F401"], "state": 3}),
        json!({"checktool": "ruff", "checkrules": ["F401"]}),
    ] {
        put(&app, &state, ADMIN_TOKEN, body.clone()).expect(400);
    }
    let listed = app
        .get(&rules_path(&world, scheme_id, "checkrules/"), ADMIN_TOKEN)
        .expect(200);
    assert!(
        listed
            .data()
            .as_array()
            .unwrap()
            .iter()
            .all(|rule| rule["configured"] == false),
        "{}",
        listed.body
    );

    // A team member reads; only a team admin changes. Another repository's scheme is not here.
    let member = app.create_user("member");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    app.post(
        &format!("{}/memberconf/", world.team_path()),
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    app.get(&scandirs, &member).expect(200);
    app.post(&scandirs, &member, json!({"dir_path": "b/*"}))
        .expect(403);
    put(
        &app,
        &state,
        &member,
        json!({"checktool": "ruff", "checkrules": ["F401"], "state": 2}),
    )
    .expect(403);
    app.get(&rules_path(&world, 1, "scandirs/"), ADMIN_TOKEN)
        .expect(404);
}

#[test]
fn a_tool_that_reads_the_whole_checkout_loses_its_findings_in_filtered_out_files() {
    let results: Vec<Value> = ["src/ok.py", "vendor/lib.py"]
        .iter()
        .map(|uri| {
            json!({"ruleId": "FAKE1", "level": "error", "message": {"text": "planted"},
                   "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                  "region": {"startLine": 1}}}]})
        })
        .collect();
    let sarif = json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "fake", "rules": [{"id": "FAKE1"}]}},
                  "results": results}]
    });
    let app = TestApp::spawn_with_tools(
        "[[tool]]\nname = \"fake-sarif\"\nmodule = \"codelint\"\n\
         command = [\"cat\", \"report.sarif\"]\nformat = \"sarif\"\n",
    );
    let world = World::build(&app);
    commit(
        &world,
        &[
            ("src/ok.py", "x = 1\n".to_string()),
            ("vendor/lib.py", "y = 2\n".to_string()),
            ("report.sarif", sarif.to_string()),
        ],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "sarif", "lint_enabled": true, "languages": ["python"], "tools": ["fake-sarif"]}),
    );
    scan(&app, &project);
    assert_eq!(open_findings(&app, &project).len(), 2);
    let scheme_id = world.scheme_of(&app, &project);
    app.post(
        &rules_path(&world, scheme_id, "scandirs/"),
        ADMIN_TOKEN,
        json!({"dir_path": "vendor/*"}),
    )
    .expect(201);
    scan(&app, &project);
    assert_eq!(
        open_findings(&app, &project),
        [finding("fake-sarif", "FAKE1", "src/ok.py", 1, 2)]
    );
}
