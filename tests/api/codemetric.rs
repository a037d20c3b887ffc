//! Code metrics (issue 11): lizard's cyclomatic complexity and jscpd's duplicate code on planted
//! code of known complexity and known copies, served on TCA's `codemetric/` paths; incremental
//! scans (`diff_ccn`, `change_type`); a missing tool's 204 with how to install it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{git, has_tool, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(60);

/// A Python function `name(x)` with exactly `branches` `if`s: lizard gives it `branches + 1`.
pub fn branchy(name: &str, branches: usize) -> String {
    let mut text = format!("def {name}(x):\n    total = 0\n");
    for branch in 0..branches {
        text.push_str(&format!(
            "    if x == {branch}:\n        total += {branch}\n"
        ));
    }
    text.push_str("    return total\n\n\n");
    text
}

/// Thirty lines that land in two files: one block of duplicate code.
pub fn copied_block() -> String {
    let mut text = String::from("def work(values, offset):\n    total = 0\n");
    for index in 0..30 {
        text.push_str(&format!(
            "    total = total + values[{index}] * {index} - offset\n"
        ));
    }
    text.push_str("    return total\n");
    text
}

/// Writes `files` and commits them; returns the new revision.
pub fn commit(world: &World, files: &[(&str, String)]) -> String {
    for (path, content) in files {
        let file = world.repo_dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "plant"]);
    git(&world.repo_dir, &["rev-parse", "HEAD"])
        .trim()
        .to_string()
}

fn metrics_project(app: &TestApp, world: &World) -> String {
    world.project_with_scheme(
        app,
        "main",
        json!({"name": "metrics", "cc_scan_enabled": true, "dup_scan_enabled": true,
               "languages": ["python"]}),
    )
}

pub fn analysis(project: &str) -> String {
    project.replacen("/server/main/api/", "/server/analysis/api/", 1)
}

pub fn scan(app: &TestApp, project: &str, body: Value) -> (i64, i64) {
    let (job_id, scan_id) = app.start_scan(project, body);
    let detail = app.wait_for_job(project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    (job_id, scan_id)
}

pub fn keys(item: &Value) -> Vec<&str> {
    item.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn planted_complexity_and_copies_are_served_on_tcas_codemetric_paths() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[
            (
                "src/branchy.py",
                branchy("branchy", 24) + &branchy("calm", 3),
            ),
            (
                "src/one.py",
                format!("def one():\n    return 1\n\n\n{}", copied_block()),
            ),
            (
                "src/two.py",
                format!("def two():\n    return 2\n\n\n{}", copied_block()),
            ),
        ],
    );
    let project = metrics_project(&app, &world);
    let (_, scan_id) = scan(&app, &project, json!({"incr_scan": false}));
    let metric = format!("{}/codemetric", analysis(&project));

    let issues = app
        .get(&format!("{metric}/ccissues/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        issues.data()["count"],
        1,
        "only branchy passes 20: {}",
        issues.body
    );
    let issue = &issues.data()["results"][0];
    // Pinned to CyclomaticComplexitySerializer (tca-src/server/projects/analysis/apps/
    // codemetric/serializers/cc.py: the model's fields less file_hash and unique_cc_hash).
    for field in [
        "id",
        "repo",
        "ccn",
        "file_path",
        "func_name",
        "func_param_num",
        "long_name",
        "change_type",
        "status",
        "is_latest",
        "language",
        "revision",
        "diff_ccn",
        "project",
        "scan_open",
        "scan_close",
        "start_line_no",
        "end_line_no",
    ] {
        assert!(keys(issue).contains(&field), "{field} missing: {issue}");
    }
    assert_eq!(issue["ccn"], 25);
    assert_eq!(issue["func_name"], "branchy");
    assert_eq!(issue["func_param_num"], 1);
    assert_eq!(issue["long_name"], "branchy( x )");
    assert_eq!(issue["file_path"], "src/branchy.py");
    assert_eq!(issue["language"], "python");
    assert_eq!(issue["change_type"], 1, "first measure: added");
    assert_eq!(issue["diff_ccn"], Value::Null);
    assert_eq!(issue["scan_open"], scan_id);
    assert_eq!(issue["repo"], world.repo_id);

    let files = app
        .get(&format!("{metric}/ccfiles/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(files.data()["count"], 1);
    let file = &files.data()["results"][0];
    assert_eq!(file["over_cc_func_count"], 1);
    assert_eq!(file["over_cc_sum"], 5);
    assert_eq!(file["over_func_cc"], 25);
    assert!(
        !keys(file).contains(&"file_hash"),
        "the serializer excludes it"
    );
    let of_file = app
        .get(
            &format!("{metric}/ccfiles/{}/ccissues/", file["id"]),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(of_file.data()["results"][0]["id"], issue["id"]);
    let per_scan = app
        .get(
            &format!("{metric}/scans/{scan_id}/ccissues/?ccn_gte=26"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(per_scan.data()["count"], 0, "{}", per_scan.body);

    let dup = app
        .get(&format!("{metric}/dupfiles/"), ADMIN_TOKEN)
        .expect(200);
    let names: Vec<&str> = dup.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["file_path"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["src/one.py", "src/two.py"], "{}", dup.body);
    let one = &dup.data()["results"][0];
    assert_eq!(one["block_num"], 1);
    assert!(one["duplicate_rate"].as_f64().unwrap() > 50.0, "{one}");
    let blocks = app
        .get(
            &format!("{metric}/dupfiles/{}/blocks/", one["id"]),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(blocks.data()["count"], 1);
    let block = &blocks.data()["results"][0];
    assert_eq!(block["duplicate_times"], 2);
    assert!(
        block["end_line_num"].as_i64().unwrap() >= 30 + block["start_line_num"].as_i64().unwrap(),
        "{block}"
    );
    let detail = app
        .get(&format!("{metric}/dupfiles/{}/", one["id"]), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(detail.data()["blocks"][0]["id"], block["id"]);

    let overview = app
        .get(&format!("{}/overview/", analysis(&project)), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        overview.data()["cyclomaticcomplexityscan"]["cc_open_num"],
        1,
        "{}",
        overview.body
    );
    assert_eq!(overview.data()["duplicatescan"]["duplicate_file_count"], 2);
    assert!(
        overview.data()["duplicatescan"]["duplicate_rate"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn an_incremental_scan_compares_each_function_with_its_last_measure() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[
            ("src/branchy.py", branchy("branchy", 24)),
            ("src/old.py", branchy("old", 22)),
        ],
    );
    let project = metrics_project(&app, &world);
    let (_, first_scan) = scan(&app, &project, json!({"incr_scan": false}));
    commit(
        &world,
        &[
            ("src/branchy.py", branchy("branchy", 26)),
            ("src/more.py", branchy("more", 20)),
        ],
    );
    scan(&app, &project, json!({"incr_scan": true}));
    let metric = format!("{}/codemetric", analysis(&project));
    let issues = app
        .get(&format!("{metric}/ccissues/"), ADMIN_TOKEN)
        .expect(200);
    let by_name = |name: &str| -> Value {
        issues.data()["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|issue| issue["func_name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing: {}", issues.body))
    };
    assert_eq!(issues.data()["count"], 3, "{}", issues.body);
    let worse = by_name("branchy");
    assert_eq!(
        (
            worse["ccn"].as_i64(),
            worse["diff_ccn"].as_i64(),
            worse["change_type"].as_i64()
        ),
        (Some(27), Some(2), Some(3))
    );
    let new = by_name("more");
    assert_eq!(
        (new["ccn"].as_i64(), new["change_type"].as_i64()),
        (Some(21), Some(1))
    );
    let kept = by_name("old");
    assert_eq!(
        (
            kept["ccn"].as_i64(),
            kept["diff_ccn"].as_i64(),
            kept["change_type"].as_i64()
        ),
        (Some(23), Some(0), Some(0)),
        "an unchanged file keeps its measure"
    );
    let earlier = app
        .get(
            &format!("{metric}/scans/{first_scan}/ccissues/?file_path=branchy"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(earlier.data()["results"][0]["ccn"], 25, "{}", earlier.body);
}

#[test]
fn a_missing_metrics_tool_closes_its_task_with_204_and_how_to_install_it() {
    let app = TestApp::spawn_with(|config| config.tools.path = "/nonexistent-bin".into());
    let world = World::build(&app);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "cc", "cc_scan_enabled": true, "languages": ["python"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 204, "{detail}");
    let message = detail["result_msg"].as_str().unwrap();
    assert!(
        message.contains("lizard") && message.contains("pip install lizard"),
        "{message}"
    );
}

#[test]
fn the_schemes_min_ccn_decides_and_the_repositorys_jscpd_configuration_changes_nothing() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    // A repository that would hide its copies from jscpd, and write its report elsewhere.
    let hostile = r#"{"ignore": ["**/*.py"], "minTokens": 100000, "reporters": ["console"], "output": "/tmp"}"#;
    commit(
        &world,
        &[
            (".jscpd.json", hostile.to_string()),
            ("package.json", format!(r#"{{"jscpd": {hostile}}}"#)),
            ("src/mid.py", branchy("mid", 12)),
            ("src/one.py", copied_block()),
            ("src/two.py", copied_block()),
        ],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "strict", "cc_scan_enabled": true, "dup_scan_enabled": true,
               "languages": ["python"], "min_ccn": 10}),
    );
    let scheme = app.get(&format!("{project}/"), ADMIN_TOKEN).expect(200);
    assert_eq!(
        scheme.data()["scan_scheme"]["min_ccn"],
        10,
        "{}",
        scheme.body
    );
    scan(&app, &project, json!({}));
    let metric = format!("{}/codemetric", analysis(&project));
    let issues = app
        .get(&format!("{metric}/ccissues/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(issues.data()["count"], 1, "{}", issues.body);
    assert_eq!(issues.data()["results"][0]["ccn"], 13);
    let dup = app
        .get(&format!("{metric}/dupfiles/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(dup.data()["count"], 2, "{}", dup.body);
    let overview = app
        .get(&format!("{}/overview/", analysis(&project)), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(overview.data()["cyclomaticcomplexityscan"]["min_ccn"], 10);
}

#[test]
fn metric_lists_answer_bad_filters_with_400_and_unknown_files_with_404() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let metric = format!("{}/codemetric", analysis(&world.project_path()));
    let empty = app
        .get(&format!("{metric}/ccissues/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(empty.data()["count"], 0, "no measure yet: {}", empty.body);
    let bad = app
        .get(&format!("{metric}/ccissues/?ccn_gte=lots"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["ccn_gte"]);
    let bad = app
        .get(&format!("{metric}/ccfiles/?worse=maybe"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["worse"]);
    let bad = app
        .get(
            &format!("{metric}/dupfiles/?duplicate_rate_gte=NaN"),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["duplicate_rate_gte"]);
    app.get(&format!("{metric}/dupfiles/99/"), ADMIN_TOKEN)
        .expect(404);
    app.get(&format!("{metric}/dupfiles/99/blocks/"), ADMIN_TOKEN)
        .expect(404);
    app.get(&format!("{metric}/ccfiles/99/ccissues/"), ADMIN_TOKEN)
        .expect(404);
    app.get(&format!("{metric}/scans/99/ccissues/"), ADMIN_TOKEN)
        .expect(404);
    let stranger = app.create_user("stranger");
    app.get(&format!("{metric}/ccissues/"), &stranger)
        .expect(403);
}

/// jscpd writes no report when no file has enough tokens to compare: a tree with nothing to
/// measure is a scan without copies, not a failed one.
#[test]
fn a_tree_too_small_for_jscpd_to_compare_scans_without_copies() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(&world, &[("src/hello.py", "print('hi')\n".to_string())]);
    let project = metrics_project(&app, &world);
    let (job_id, _) = scan(&app, &project, json!({}));
    let detail = app
        .get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
        .expect(200);
    let tasks = detail.data()["tasks"].as_array().unwrap().clone();
    let dup = tasks
        .iter()
        .find(|task| task["task_name"] == "jscpd")
        .unwrap_or_else(|| panic!("no jscpd task: {}", detail.body));
    assert_eq!(dup["result_code"], 0, "{dup}");
    let reply = app
        .get(
            &format!("{project}/jobs/{job_id}/tasks/{}/log/", dup["id"]),
            ADMIN_TOKEN,
        )
        .expect(200);
    let log = reply.body.as_str().unwrap();
    assert!(log.contains("nothing for jscpd to compare"), "{log}");
    let dup = app
        .get(
            &format!("{}/codemetric/dupfiles/", analysis(&project)),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(dup.data()["count"], 0, "{}", dup.body);
}
