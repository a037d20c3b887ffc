//! The quality gate (issue 11): a scheme's thresholds, set through `initscheme/` and
//! `schemes/<id>/gateconf/`, judged when a job closes on real repositories with planted
//! problems (an error-severity finding, a secret, a complex function, a copy), served in the
//! job's details, the synchronous `scans/create` answer and the notification payload, and
//! `scripts/ci-gate.sh` run with bash against the real server.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::{target_dir, Browser};
use crate::codemetric::{branchy, commit, copied_block};
use crate::helpers::{git, has_tool, team_member, Body, TestApp, World, ADMIN_TOKEN};
use crate::notify_out::Receiver;

/// A project on a new scheme of the built-in checker with `gate` (thresholds) on top.
fn gated_project(app: &TestApp, world: &World, name: &str, gate: Value) -> String {
    let mut scheme = json!({"name": name, "lint_enabled": true, "tools": ["codepup"]});
    scheme
        .as_object_mut()
        .unwrap()
        .extend(gate.as_object().unwrap().clone());
    world.project_with_scheme(app, "main", scheme)
}

/// Scans with `async_flag=false`; returns the answer's job (id, result, gate).
fn scan(app: &TestApp, project: &str, incr_scan: bool) -> Value {
    let reply = app
        .post(
            &format!("{project}/scans/create/"),
            ADMIN_TOKEN,
            json!({"incr_scan": incr_scan, "async_flag": false}),
        )
        .expect(200);
    reply.data()["job"].clone()
}

/// The job's `gate` on both detail paths, which must agree.
fn gate_of(app: &TestApp, project: &str, job_id: &Value) -> Value {
    let detail = app
        .get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
        .expect(200);
    let scan_detail = app
        .get(&format!("{project}/jobs/{job_id}/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(detail.data()["gate"], scan_detail.data()["gate"]);
    detail.data()["gate"].clone()
}

fn failed(reasons: &[&str]) -> Value {
    json!({"passed": false, "reasons": reasons})
}

fn passed() -> Value {
    json!({"passed": true, "reasons": []})
}

fn conflict_marker() -> String {
    format!("a\n{} HEAD\nb\n", "<".repeat(7))
}

/// A GitHub token the built-in checker reports (never a real one).
fn planted_token() -> String {
    format!("token = \"ghp_{}\"\n", "a1B2c3D4e5".repeat(4))
}

#[test]
fn a_new_error_finding_fails_the_gate_for_that_revision_until_it_is_triaged() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    let project = gated_project(&app, &world, "strict", json!({"gate_max_new_errors": 0}));
    let clean = scan(&app, &project, false);
    assert_eq!(clean["result_code"], 0, "{clean}");
    assert_eq!(clean["gate"], passed());
    assert_eq!(gate_of(&app, &project, &clean["id"]), passed());

    commit(&world, &[("merge.txt", conflict_marker())]);
    let marked = scan(&app, &project, true);
    let one_error = failed(&["1 new finding of severity error or worse (at most 0 allowed)"]);
    assert_eq!(marked["result_code"], 0, "{marked}");
    assert_eq!(marked["gate"], one_error);
    // The same commit again: nothing to scan (code 1), and the same verdict, so a re-run CI
    // does not pass what failed; a full scan of it says the same.
    let again = scan(&app, &project, true);
    assert_eq!(again["result_code"], 1, "{again}");
    assert_eq!(again["gate"], one_error);
    let full = scan(&app, &project, false);
    assert_eq!(full["result_code"], 0, "{full}");
    assert_eq!(full["gate"], one_error);

    // A later commit that adds nothing new passes, though the finding is still open.
    commit(&world, &[("notes.txt", "more\n".to_string())]);
    assert_eq!(scan(&app, &project, true)["gate"], passed());

    // Thresholds changed later do not rewrite old verdicts; a restart keeps them.
    let scheme_id = world.scheme_of(&app, &project);
    let conf = format!("{}/schemes/{scheme_id}/gateconf/", world.repo_path());
    app.call(
        "PUT",
        &conf,
        Some(ADMIN_TOKEN),
        Body::Json(json!({"gate_max_new_errors": 5})),
    )
    .expect(200);
    app.restart();
    assert_eq!(gate_of(&app, &project, &marked["id"]), one_error);

    // Marked a false positive, the finding no longer counts for its revision.
    git(&world.repo_dir, &["reset", "-q", "--hard", "HEAD~1"]);
    app.call(
        "PUT",
        &conf,
        Some(ADMIN_TOKEN),
        Body::Json(json!({"gate_max_new_errors": 0})),
    )
    .expect(200);
    assert_eq!(scan(&app, &project, false)["gate"], one_error);
    let analysis = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let issues = app
        .get(&format!("{analysis}/codelint/issues/?state=1"), ADMIN_TOKEN)
        .expect(200);
    let issue_id = &issues.data()["results"][0]["id"];
    app.call(
        "PUT",
        &format!("{analysis}/codelint/issues/{issue_id}/resolution/"),
        Some(ADMIN_TOKEN),
        Body::Json(json!({"resolution": 3, "ignore_reason": "test data"})),
    )
    .expect(200);
    assert_eq!(scan(&app, &project, false)["gate"], passed());
}

#[test]
fn a_new_secret_fails_a_gate_that_allows_none_and_the_payload_says_so() {
    let app = TestApp::spawn_with(|config| config.webhook_allow_private = true);
    let world = World::build(&app);
    let project = gated_project(
        &app,
        &world,
        "secrets",
        json!({"gate_no_new_secrets": true}),
    );
    let receiver = Receiver::start(&[]);
    app.post(
        &format!("{project}/webhooks/"),
        ADMIN_TOKEN,
        json!({"url": receiver.url, "events": ["job.closed"], "format": "json"}),
    )
    .expect(201);
    // A conflict marker is an error, which this gate does not count.
    commit(&world, &[("merge.txt", conflict_marker())]);
    assert_eq!(scan(&app, &project, false)["gate"], passed());
    commit(&world, &[("config/app.ini", planted_token())]);
    let job = scan(&app, &project, true);
    assert_eq!(job["gate"], failed(&["1 new secret (none allowed)"]));
    let payloads: Vec<Value> = receiver
        .wait_for(2)
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(payloads[0]["gate"], passed());
    assert_eq!(payloads[1]["job"]["id"], job["id"]);
    assert_eq!(payloads[1]["gate"], job["gate"]);
}

#[test]
fn a_complex_function_and_a_copy_fail_the_gate_with_their_numbers() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(&world, &[("src/calm.py", branchy("calm", 3))]);
    let project = gated_project(
        &app,
        &world,
        "metrics",
        json!({"cc_scan_enabled": true, "dup_scan_enabled": true, "languages": ["python"],
               "gate_max_new_complex": 0, "gate_max_dup_rate": 5}),
    );
    let first = scan(&app, &project, false);
    assert_eq!(first["result_code"], 0, "{first}");
    assert_eq!(first["gate"], passed());

    commit(
        &world,
        &[
            ("src/branchy.py", branchy("branchy", 24)),
            ("src/one.py", copied_block()),
            ("src/two.py", copied_block()),
        ],
    );
    let job = scan(&app, &project, true);
    assert_eq!(job["result_code"], 0, "{job}");
    let reasons = job["gate"]["reasons"].as_array().unwrap();
    assert_eq!(job["gate"]["passed"], false, "{job}");
    assert_eq!(
        reasons[0],
        "1 new function over the complexity threshold 20 (at most 0 allowed)"
    );
    // The rate is jscpd's, as the overview serves it.
    let analysis = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let overview = app
        .get(&format!("{analysis}/overview/"), ADMIN_TOKEN)
        .expect(200);
    let rate = overview.data()["duplicatescan"]["duplicate_rate"]
        .as_f64()
        .unwrap_or_else(|| panic!("{}", overview.body));
    assert!(rate > 5.0, "{rate}");
    let shown = format!("{rate:.2}");
    let shown = shown.trim_end_matches('0').trim_end_matches('.');
    assert_eq!(
        reasons[1],
        format!("duplicate rate {shown}% (at most 5% allowed)")
    );
    assert_eq!(reasons.len(), 2, "{job}");
}

#[test]
fn no_thresholds_mean_no_gate_and_an_unmeasured_one_fails_saying_why() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let plain = world.project_path();
    let job = scan(&app, &plain, false);
    assert_eq!(job["result_code"], 0, "{job}");
    assert_eq!(job["gate"], Value::Null);
    let detail = app
        .get(&format!("{plain}/jobs/{}/detail/", job["id"]), ADMIN_TOKEN)
        .expect(200);
    assert!(detail.data().as_object().unwrap().contains_key("gate"));
    assert_eq!(detail.data()["gate"], Value::Null);

    // The duplicate rate is asked for, but the scheme does not look for copies.
    let project = gated_project(&app, &world, "unmeasured", json!({"gate_max_dup_rate": 10}));
    let job = scan(&app, &project, false);
    assert_eq!(
        job["gate"],
        failed(&[
            "duplicate rate not measured: the scheme does not look for duplicate code \
                  (dup_scan_enabled) (at most 10% allowed)"
        ])
    );
}

#[test]
fn thresholds_are_validated_shown_on_the_scheme_and_changed_by_team_admins() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let init = format!("{}/initscheme/", world.repo_path());
    let bad = app
        .post(
            &init,
            ADMIN_TOKEN,
            json!({"name": "bad", "gate_max_new_errors": -1, "gate_no_new_secrets": "maybe",
                   "gate_max_new_complex": "many", "gate_max_dup_rate": 101}),
        )
        .expect(400);
    let mut fields = bad.invalid_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "gate_max_dup_rate",
            "gate_max_new_complex",
            "gate_max_new_errors",
            "gate_no_new_secrets"
        ]
    );
    let created = app
        .post(
            &init,
            ADMIN_TOKEN,
            json!({"name": "good", "gate_max_new_errors": 2, "gate_max_dup_rate": 2.5}),
        )
        .expect(201);
    let scheme_id = created.data()["scan_scheme"].as_i64().unwrap();
    let scheme_path = format!("{}/schemes/{scheme_id}/", world.repo_path());
    let scheme = app.get(&scheme_path, ADMIN_TOKEN).expect(200);
    assert_eq!(scheme.data()["gate_max_new_errors"], 2);
    assert_eq!(scheme.data()["gate_no_new_secrets"], false);
    assert_eq!(scheme.data()["gate_max_new_complex"], Value::Null);
    assert_eq!(scheme.data()["gate_max_dup_rate"], 2.5);

    let conf = format!("{scheme_path}gateconf/");
    for body in [
        json!({"gate_max_dup_rate": "NaN"}),
        json!({"gate_max_dup_rate": [1]}),
        json!({"gate_max_new_errors": 1.5}),
        json!({"gate_max_new_complex": 1_000_001}),
    ] {
        let refused = app
            .call("PUT", &conf, Some(ADMIN_TOKEN), Body::Json(body.clone()))
            .expect(400);
        assert_eq!(
            refused.invalid_fields().len(),
            1,
            "{body}: {}",
            refused.body
        );
    }
    // A form: an empty value unsets, other fields stay.
    let changed = app
        .call(
            "PUT",
            &conf,
            Some(ADMIN_TOKEN),
            Body::Form(&[("gate_max_dup_rate", ""), ("gate_no_new_secrets", "on")]),
        )
        .expect(200);
    assert_eq!(
        changed.data().clone(),
        json!({"scan_scheme": scheme_id, "min_ccn": 20, "gate_max_new_errors": 2,
               "gate_no_new_secrets": true, "gate_max_new_complex": null,
               "gate_max_dup_rate": null})
    );
    // JSON null unsets too.
    app.call(
        "PUT",
        &conf,
        Some(ADMIN_TOKEN),
        Body::Json(json!({"gate_max_new_errors": null, "gate_max_new_complex": 0})),
    )
    .expect(200);
    let shown = app.get(&conf, ADMIN_TOKEN).expect(200);
    assert_eq!(shown.data()["gate_max_new_errors"], Value::Null);
    assert_eq!(shown.data()["gate_max_new_complex"], 0);

    // A team member sees the thresholds; only a team admin changes them.
    let member = team_member(&app, "bob", "web");
    app.get(&conf, &member).expect(200);
    app.call(
        "PUT",
        &conf,
        Some(&member),
        Body::Json(json!({"gate_max_new_errors": 9})),
    )
    .expect(403);
    let missing = format!("{}/schemes/999/gateconf/", world.repo_path());
    app.get(&missing, ADMIN_TOKEN).expect(404);
}

/// Runs `scripts/ci-gate.sh` with bash against `project`; (exit code, stdout).
fn run_ci_script(app: &TestApp, project: &str) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ci-gate.sh");
    let output = Command::new("bash")
        .arg(script)
        .env("CODEPUP_PROJECT_URL", format!("{}{project}", app.base))
        .env("CODEPUP_TOKEN", ADMIN_TOKEN)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.code().unwrap_or(-1),
        format!("{stdout}{stderr}"),
    )
}

#[test]
fn the_ci_script_passes_a_clean_commit_and_fails_one_the_gate_refuses() {
    if !has_tool("curl") || !has_tool("jq") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = gated_project(&app, &world, "ci", json!({"gate_max_new_errors": 0}));
    let (code, output) = run_ci_script(&app, &project);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("quality gate passed"), "{output}");

    commit(&world, &[("merge.txt", conflict_marker())]);
    let (code, output) = run_ci_script(&app, &project);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("quality gate failed:"), "{output}");
    assert!(
        output.contains("  1 new finding of severity error or worse (at most 0 allowed)"),
        "{output}"
    );
    // Run again on the same commit: still refused.
    let (code, output) = run_ci_script(&app, &project);
    assert_eq!(code, 1, "{output}");

    // A project without a gate passes on the scan's result alone; a refused request fails.
    let (code, output) = run_ci_script(&app, &world.project_path());
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("no quality gate"), "{output}");
    let (code, output) = run_ci_script(&app, &format!("{}/projects/999", world.repo_path()));
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("no scan:"), "{output}");
}

#[test]
fn the_readme_shows_the_ci_script_as_it_is() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let script = std::fs::read_to_string(format!("{root}/scripts/ci-gate.sh")).unwrap();
    // The lines that run: the README leaves the script's header comments out.
    let code = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let start = readme
        .find("#!/usr/bin/env bash\nset -euo pipefail\nanswer=")
        .expect("the README shows the script");
    let end = start + readme[start..].find("```").unwrap();
    assert_eq!(code(&readme[start..end]), code(&script));
}

#[test]
fn the_status_pages_job_view_shows_the_verdict() {
    let Some(browser) = Browser::start() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have /usr/bin/chromium and /usr/bin/chromedriver (.ci/run installs them)"
        );
        eprintln!("note: chromium or chromedriver missing; the browser test did not run");
        return;
    };
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = gated_project(&app, &world, "page", json!({"gate_max_new_errors": 0}));
    commit(&world, &[("merge.txt", conflict_marker())]);
    let job = scan(&app, &project, false);
    let project_id = project.rsplit('/').next().unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        browser.open(&format!("{}/", app.base));
        browser.run(&format!(
            "localStorage.setItem('codepup.token', '{ADMIN_TOKEN}'); return true;"
        ));
        // A notification's link: the page signs in with the stored token and opens the job.
        browser.open("about:blank");
        browser.open(&format!(
            "{}/#job=acme/web/{}/{project_id}/{}",
            app.base, world.repo_id, job["id"]
        ));
        let shown = browser.wait_for(
            "the job's verdict",
            Duration::from_secs(60),
            "const gate = document.getElementById('jv-gate');
             return gate && gate.textContent.startsWith('failed') && gate.textContent",
        );
        assert_eq!(
            shown,
            "failed: 1 new finding of severity error or worse (at most 0 allowed)"
        );
        assert_eq!(
            browser.run("return document.getElementById('jv-gate').className"),
            "state tone-failed"
        );
    }));
    if let Err(panic) = outcome {
        browser.screenshot(&target_dir().join("gate-failure.png"));
        std::panic::resume_unwind(panic);
    }
}
