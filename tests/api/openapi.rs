//! The OpenAPI document (issue 13): served anonymously under both prefixes, and schemathesis run
//! over it against a live server with real data finds no 5xx, no answer the document does not
//! describe and no answer outside the envelope.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{TestApp, World, ADMIN_TOKEN};

/// Where `.ci/run` installs schemathesis (a virtual environment, pinned).
const SCHEMATHESIS: &str = "/opt/codepup-schemathesis/bin/schemathesis";

fn document(app: &TestApp, path: &str) -> Value {
    let response = ureq::get(&format!("{}{path}", app.base))
        .call()
        .expect("the document is served without a token");
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_type(), "application/json");
    response.into_json().expect("the document is JSON")
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            operations.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    operations
}

#[test]
fn the_document_is_openapi_3_1_served_without_a_token_under_both_prefixes() {
    let app = TestApp::spawn();
    let served = document(&app, "/server/main/api/openapi.json");
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(document(&app, "/main/api/openapi.json"), served);
    let operations = operations(&served);
    // TCA's routes and codepup's own, each once per documented path.
    assert!(operations.len() > 200, "{} operations", operations.len());
    let mut ids: Vec<&str> = operations
        .iter()
        .map(|(_, _, operation)| operation["operationId"].as_str().expect("an id"))
        .collect();
    ids.sort_unstable();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
    for (method, path, operation) in &operations {
        assert!(
            !path.contains(':'),
            "{path}: actix's regex left in the path"
        );
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("404"),
            "{method} {path}: {operation}"
        );
        for name in path
            .split('{')
            .skip(1)
            .map(|rest| &rest[..rest.find('}').unwrap()])
        {
            let parameter = operation["parameters"]
                .as_array()
                .and_then(|all| all.iter().find(|p| p["name"] == name && p["in"] == "path"))
                .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"));
            let expected = if name.ends_with("_id") {
                "integer"
            } else {
                "string"
            };
            assert_eq!(
                parameter["schema"]["type"], expected,
                "{method} {path}: {name}"
            );
        }
    }
    // A few routes by hand, so a table that lost them fails here too.
    for (method, path) in [
        ("post", "/server/main/api/orgs/{org_sid}/teams/{team_name}/repos/{repo_id}/projects/{project_id}/scans/create/"),
        ("get", "/server/main/api/v3/orgs/{org_sid}/teams/{team_name}/repos/{repo_id}/projects/{project_id}/jobs/{job_id}/"),
        ("get", "/server/analysis/api/v3/orgs/{org_sid}/teams/{team_name}/repos/{repo_id}/projects/{project_id}/scans/"),
        ("post", "/server/credential/api/v3/login/get_oapassword_info/"),
        ("get", "/server/main/api/openapi.json"),
        ("get", "/healthz"),
    ] {
        assert!(served["paths"][path][method].is_object(), "{method} {path} missing");
    }
    // Anonymous routes say so; the rest need the token the document defines.
    let sign_in = &served["paths"]["/server/credential/api/v3/login/get_oapassword_info/"]["post"];
    assert_eq!(sign_in["security"], json!([{}]));
    assert_eq!(served["security"], json!([{"token": []}]));
    assert_eq!(
        served["components"]["securitySchemes"]["token"]["name"],
        "Authorization"
    );
}

#[test]
fn an_error_answer_matches_the_documented_error_envelope() {
    let app = TestApp::spawn();
    let served = document(&app, "/server/main/api/openapi.json");
    let error = &served["components"]["schemas"]["Error"];
    let required: Vec<&str> = error["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    let reply = app.post(
        "/server/main/api/v3/orgs/",
        ADMIN_TOKEN,
        json!({"org_sid": "x"}),
    );
    assert_eq!(reply.status, 400);
    for name in &required {
        assert!(
            reply.body.get(*name).is_some(),
            "{name} missing: {}",
            reply.body
        );
    }
    let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    for key in keys {
        assert!(error["properties"].get(key).is_some(), "{key} undocumented");
    }
}

/// schemathesis's configuration: the seeded ids for the path parameters, so operations reach
/// real records instead of 404s.
fn schemathesis_config(dir: &Path, world: &World, job_id: i64, scan_id: i64) -> std::path::PathBuf {
    let config = format!(
        r#"[parameters]
"path.org_sid" = "{org}"
"path.team_name" = "{team}"
"path.repo_id" = {repo}
"path.project_id" = {project}
"path.scheme_id" = {scheme}
"path.job_id" = {job_id}
"path.scan_id" = {scan_id}

# Deleting the seeded project would turn every later call into a 404: delete another id.
[[operations]]
include-operation-id-regex = "^delete_project"
parameters = {{ "path.project_id" = {other} }}
"#,
        org = world.org,
        team = world.team,
        repo = world.repo_id,
        project = world.project_id,
        scheme = world.scheme_id,
        other = world.project_id + 1000,
    );
    let path = dir.join("schemathesis.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    if !Path::new(SCHEMATHESIS).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have {SCHEMATHESIS} (.ci/run installs it)"
        );
        eprintln!("note: {SCHEMATHESIS} missing; the schemathesis run did not happen");
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let (job_id, scan_id) = app.start_scan(
        &world.project_path(),
        json!({"incr_scan": false, "async_flag": false}),
    );
    let work = tempfile::tempdir().unwrap();
    let config = schemathesis_config(work.path(), &world, job_id, scan_id);
    let output = Command::new(SCHEMATHESIS)
        .current_dir(work.path())
        .args(["--config-file", config.to_str().unwrap(), "run"])
        .arg(format!("{}/server/main/api/openapi.json", app.base))
        .args(["--url", &app.base])
        .args(["--header", &format!("Authorization: Token {ADMIN_TOKEN}")])
        // No 5xx, no status, media type or body the document does not describe (every JSON
        // body's schema is an envelope), 401 without the token, 405 for unlisted methods.
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth,unsupported_method"])
        // A rotated token would answer every later call with 401.
        .args(["--exclude-operation-id-regex", "^rotate_token"])
        // The budget: about a minute on two cores.
        .args(["--max-examples", "5", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--seed", "13"])
        .args(["--no-color"])
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
}
