//! The scan engine end to end: real git repositories, real tool processes, real restarts.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    call_process, eventually, git, has_tool, make_git_repo, process_running, task_log, tools,
    TestApp, World, ADMIN_TOKEN,
};

const QUICK: Duration = Duration::from_secs(30);

/// A Python file tokei counts as 2 code, 1 comment and 1 blank line.
const PYTHON: &str = "def f():\n    # c\n    return 1\n\n";
/// A Rust file: 3 code, 2 comment, 0 blank.
const RUST: &str = "// one\nfn main() {\n    // two\n}\nfn x() {}\n";

/// A number unique to this test process, for tool command lines that tests look for among all
/// processes (several test runs may share a machine): `641` becomes `641.12345`, which `sleep`
/// still reads as seconds.
fn n(base: u32) -> String {
    format!("{base}.{:05}", std::process::id() % 100_000)
}

#[test]
fn an_async_scan_reaches_closed_with_the_line_counts_of_the_tree() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("src/main.py"), PYTHON).unwrap();
    std::fs::write(world.repo_dir.join("lib.rs"), RUST).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "code"]);
    let project = world.project_path();

    let (job_id, scan_id) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["scan_id"], scan_id);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert_eq!(detail["result_msg"], "success");
    assert_eq!(detail["code_line_num"], 5);
    assert_eq!(detail["comment_line_num"], 3);
    assert_eq!(detail["blank_line_num"], 1);
    assert_eq!(detail["total_line_num"], 9);
    // The default template runs codecount and the built-in checker.
    assert_eq!(detail["task_num"], 2);
    assert_eq!(detail["task_done"], 2);
    let task = &detail["tasks"][0];
    assert_eq!(
        (task["module"].as_str(), task["task_name"].as_str()),
        (Some("codemetric"), Some("codecount"))
    );
    assert_eq!(
        (
            task["state"].as_i64(),
            task["progress_rate"].as_i64(),
            task["result_code"].as_i64()
        ),
        (Some(2), Some(100), Some(0))
    );
    assert!(detail["end_time"].is_string() && detail["expire_time"].is_null());

    let counts = app
        .get(&format!("{project}/jobs/{job_id}/codecount/"), ADMIN_TOKEN)
        .expect(200);
    let languages = counts.data()["languages"].as_array().unwrap();
    let python = languages.iter().find(|l| l["name"] == "Python").unwrap();
    assert_eq!(python["files"], 1);
    assert_eq!(
        (
            python["code_line_num"].as_i64(),
            python["comment_line_num"].as_i64(),
            python["blank_line_num"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let rust = languages.iter().find(|l| l["name"] == "Rust").unwrap();
    assert_eq!(rust["code_line_num"], 3);

    let log = task_log(&app, &project, job_id, &task["id"]);
    assert!(log.contains("code 5 comment 3 blank 1 total 9"), "{log}");
    // The workspace is gone once the job is.
    assert!(eventually(QUICK, || std::fs::read_dir(
        app.data_dir().join("workspaces")
    )
    .unwrap()
    .next()
    .is_none()));
}

#[test]
fn a_synchronous_scan_answers_once_the_job_is_closed() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let reply = app
        .post(
            &format!("{}/scans/create/", world.project_path()),
            ADMIN_TOKEN,
            json!({"async_flag": false}),
        )
        .expect(200);
    let job = &reply.data()["job"];
    assert_eq!(job["state"], 2);
    assert_eq!(job["result_code"], 0);
    assert_eq!(job["result_msg"], "success");
    assert!(reply.data()["scan"]["id"].is_i64());
    let form = app
        .post_form(
            &format!("{}/scans/create/", world.project_path()),
            ADMIN_TOKEN,
            &[("async_flag", "false"), ("incr_scan", "true")],
        )
        .expect(200);
    assert_eq!(form.data()["job"]["result_code"], 1, "{}", form.body);
}

#[test]
fn scan_line_counts_cover_only_the_projects_scan_path() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::create_dir_all(world.repo_dir.join("sub")).unwrap();
    std::fs::write(world.repo_dir.join("sub/only.rs"), RUST).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "sub"]);
    let project = app
        .post(
            &format!("{}/projects/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"branch": "main", "scan_scheme_id": world.scheme_id, "scan_path": "/sub"}),
        )
        .expect(201);
    let project = format!("{}/projects/{}", world.repo_path(), project.data()["id"]);
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(
        (
            detail["code_line_num"].as_i64(),
            detail["total_line_num"].as_i64()
        ),
        (Some(3), Some(5)),
        "{detail}"
    );
}

#[test]
fn incremental_scans_skip_an_unchanged_head_and_hand_tools_only_the_changed_files() {
    let app = TestApp::spawn_with_tools(&tools(&[("lister", r#"["cat", "{files}"]"#, "")]));
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("b.py"), PYTHON).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "b"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "listing", "tools": ["lister"]}),
    );

    // No baseline yet: a full scan hands every file to the tool.
    let (first, _) = app.start_scan(&project, json!({"incr_scan": true}));
    let detail = app.wait_for_job(&project, first, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, first, &detail["tasks"][1]["id"]);
    assert!(log.contains("src/main.py") && log.contains("b.py"), "{log}");

    // The same head again: nothing to do, code 1, and the counts still describe the tree.
    let (second, _) = app.start_scan(&project, json!({}));
    let same = app.wait_for_job(&project, second, QUICK);
    assert_eq!(same["result_code"], 1, "{same}");
    assert_eq!(
        same["result_msg"],
        "代码无变更，无需再次增量扫描。如有需要，请启动全量扫描。"
    );
    assert_eq!(same["total_line_num"], detail["total_line_num"]);
    assert_eq!(same["task_done"], same["task_num"]);

    // One changed file: only it is listed, and the job log says how many.
    std::fs::write(world.repo_dir.join("b.py"), format!("{PYTHON}x = 1\n")).unwrap();
    git(&world.repo_dir, &["commit", "-q", "-am", "change b"]);
    let (third, _) = app.start_scan(&project, json!({}));
    let changed = app.wait_for_job(&project, third, QUICK);
    assert_eq!(changed["result_code"], 0, "{changed}");
    let log = task_log(&app, &project, third, &changed["tasks"][1]["id"]);
    assert!(
        log.contains("b.py") && !log.contains("src/main.py"),
        "{log}"
    );
    assert!(log.contains("1 files to scan"), "{log}");
    let job_log = app
        .get(&format!("{project}/jobs/{third}/log/"), ADMIN_TOKEN)
        .expect(200);
    assert!(
        job_log.body.as_str().unwrap().contains("1 changed files"),
        "{}",
        job_log.body
    );
    assert_eq!(
        changed["total_line_num"].as_i64(),
        Some(detail["total_line_num"].as_i64().unwrap() + 1)
    );

    // A full scan at the same head runs anyway.
    let (fourth, _) = app.start_scan(&project, json!({"incr_scan": false}));
    assert_eq!(app.wait_for_job(&project, fourth, QUICK)["result_code"], 0);
}

#[test]
fn force_create_is_refused_while_a_job_runs_and_a_forced_job_supersedes_the_older_one() {
    // The tool sleeps only while the checkout holds a file named `slow`.
    let app = TestApp::spawn_with_tools(&tools(&[(
        "maybe-slow",
        &format!(
            r#"["sh", "-c", "if [ -f slow ]; then exec sleep {}; fi"]"#,
            n(641)
        ),
        "",
    )]));
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("slow"), "").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "slow"]);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "s", "tools": ["maybe-slow"]}));

    let (first, first_scan) = app.start_scan(&project, json!({}));
    assert!(
        eventually(QUICK, || process_running(&format!("sleep {}", n(641)))),
        "the tool never started"
    );
    let refused = app
        .post(
            &format!("{project}/scans/create/"),
            ADMIN_TOKEN,
            json!({"force_create": false}),
        )
        .expect(400);
    assert_eq!(refused.body["code"], 300);
    let msg = refused.body["msg"].as_str().unwrap();
    assert!(
        msg.contains("还有未完成任务") && msg.ends_with(&format!("[{first_scan}]")),
        "{msg}"
    );
    let jobs = app
        .get(&format!("{project}/jobs/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(jobs.data()["count"], 1, "a refused scan created a job");

    git(&world.repo_dir, &["rm", "-q", "slow"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "fast"]);
    let (second, second_scan) = app.start_scan(&project, json!({"force_create": true}));
    let newer = app.wait_for_job(&project, second, QUICK);
    assert_eq!(newer["result_code"], 0, "{newer}");
    let older = app.wait_for_job(&project, first, QUICK);
    assert_eq!(older["result_code"], 2, "{older}");
    let redirect: Value = serde_json::from_str(older["result_msg"].as_str().unwrap()).unwrap();
    assert_eq!(
        redirect,
        json!({"job_id": second, "scan_id": second_scan, "msg": "plz check the other job's result"})
    );
    assert!(older["end_time"].is_string() && older["expire_time"].is_string());
    assert!(
        eventually(Duration::from_secs(2), || !process_running(&format!(
            "sleep {}",
            n(641)
        ))),
        "the superseded job's tool still runs"
    );
}

#[test]
fn cancelling_a_running_job_kills_its_tool_within_two_seconds() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "sleeper",
        &format!(r#"["sleep", "{}"]"#, n(642)),
        "",
    )]));
    let world = World::build(&app);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "slow", "tools": ["sleeper"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    assert!(
        eventually(QUICK, || process_running(&format!("sleep {}", n(642)))),
        "the tool never started"
    );
    let running = app
        .get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(running.data()["state"], 1, "{}", running.body);

    // The v3 path, as TCA's web UI calls it.
    let v3 = project.replacen("/server/main/api/", "/server/main/api/v3/", 1);
    let reply = app
        .post(
            &format!("{v3}/jobs/{job_id}/cancel/"),
            ADMIN_TOKEN,
            json!({"remarks": "enough"}),
        )
        .expect(200);
    assert_eq!(
        reply.body,
        json!({"data": {"msg": "取消成功"}, "code": 0, "msg": "取消成功", "status_code": 200})
    );
    assert!(
        eventually(Duration::from_secs(2), || !process_running(&format!(
            "sleep {}",
            n(642)
        ))),
        "the tool outlived the cancel"
    );

    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 301);
    assert_eq!(detail["result_msg"], "User( admin ) Canceled: enough . ");
    assert_eq!(detail["remarks"], "enough");
    assert_eq!(detail["remarked_by"], 1);
    assert!(detail["end_time"].is_string() && detail["expire_time"].is_string());
    let sleeper = &detail["tasks"][1];
    assert_eq!(
        (sleeper["state"].as_i64(), sleeper["result_code"].as_i64()),
        (Some(2), Some(301))
    );

    // Cancelling a closed job changes nothing; remarks are optional.
    let again = app
        .post(
            &format!("{project}/jobs/{job_id}/cancel/"),
            ADMIN_TOKEN,
            json!({}),
        )
        .expect(200);
    assert_eq!(again.data()["msg"], "任务已结束，无需取消");
    let unchanged = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(unchanged["result_msg"], detail["result_msg"]);
}

#[test]
fn a_job_over_its_schemes_runtime_limit_is_revoked_with_297() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "sleeper",
        &format!(r#"["sleep", "{}"]"#, n(643)),
        "",
    )]));
    let world = World::build(&app);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "slow", "tools": ["sleeper"], "job_runtime_limit": 1}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    assert!(eventually(QUICK, || process_running(&format!(
        "sleep {}",
        n(643)
    ))));
    let detail = app.wait_for_job(&project, job_id, Duration::from_secs(120));
    assert_eq!(detail["result_code"], 297, "{detail}");
    assert_eq!(detail["result_msg"], "Time out while Running");
    assert!(eventually(Duration::from_secs(2), || !process_running(
        &format!("sleep {}", n(643))
    )));
}

#[test]
fn a_tool_over_its_own_timeout_fails_its_task_with_202_and_the_job_with_it() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "sleeper",
        &format!(r#"["sleep", "{}"]"#, n(644)),
        "timeout = 1",
    )]));
    let world = World::build(&app);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "slow", "tools": ["sleeper"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 202, "{detail}");
    assert!(detail["result_msg"]
        .as_str()
        .unwrap()
        .contains("timeout of 1 seconds"));
    assert!(!process_running(&format!("sleep {}", n(644))));
}

#[test]
fn failing_and_missing_tools_close_the_job_with_their_codes() {
    let app = TestApp::spawn_with_tools(&tools(&[
        ("fails", r#"["sh", "-c", "echo broken >&2; exit 3"]"#, ""),
        ("absent", r#"["no-such-linter-anywhere", "{files}"]"#, ""),
        ("after", r#"["true"]"#, ""),
    ]));
    let world = World::build(&app);
    let failing = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "f", "tools": ["fails", "after"]}),
    );
    let (job_id, _) = app.start_scan(&failing, json!({}));
    let detail = app.wait_for_job(&failing, job_id, QUICK);
    assert_eq!(detail["result_code"], 211, "{detail}");
    assert!(
        detail["result_msg"]
            .as_str()
            .unwrap()
            .starts_with("fails: fails exited with"),
        "{detail}"
    );
    let codes: Vec<i64> = detail["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["result_code"].as_i64().unwrap())
        .collect();
    assert_eq!(
        codes,
        [0, 211, 299],
        "the other task is cancelled with 299, as in TCA"
    );
    assert!(task_log(&app, &failing, job_id, &detail["tasks"][1]["id"]).contains("broken"));

    let missing =
        world.project_with_scheme(&app, "main", json!({"name": "m", "tools": ["absent"]}));
    let (job_id, _) = app.start_scan(&missing, json!({}));
    let detail = app.wait_for_job(&missing, job_id, QUICK);
    assert_eq!(detail["result_code"], 204, "{detail}");
    assert!(
        detail["result_msg"]
            .as_str()
            .unwrap()
            .contains("no-such-linter-anywhere not found on PATH"),
        "{detail}"
    );
}

#[test]
fn schemes_that_run_nothing_or_lint_without_a_linter_are_configuration_errors() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let nothing = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "none", "cloc_scan_enabled": false}),
    );
    let (job_id, _) = app.start_scan(&nothing, json!({}));
    assert_eq!(
        app.wait_for_job(&nothing, job_id, QUICK)["result_code"],
        312
    );
    let lint = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "lint", "lint_enabled": true, "languages": ["python"]}),
    );
    let (job_id, _) = app.start_scan(&lint, json!({}));
    assert_eq!(app.wait_for_job(&lint, job_id, QUICK)["result_code"], 321);
    let no_language = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "nolang", "lint_enabled": true}),
    );
    let (job_id, _) = app.start_scan(&no_language, json!({}));
    assert_eq!(
        app.wait_for_job(&no_language, job_id, QUICK)["result_code"],
        311
    );
}

#[test]
fn a_repository_that_disappeared_fails_the_scan_with_an_scm_code_and_gits_message() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::remove_dir_all(&world.repo_dir).unwrap();
    let (job_id, _) = app.start_scan(&world.project_path(), json!({}));
    let detail = app.wait_for_job(&world.project_path(), job_id, QUICK);
    assert_eq!(detail["result_code"], 112, "{detail}");
    let msg = detail["result_msg"].as_str().unwrap();
    assert!(
        msg.contains("does not exist") || msg.contains("does not appear to be a git repository"),
        "{detail}"
    );
    assert_eq!(detail["result_code_msg"], "SCM信息不存在");
}

#[test]
fn a_job_interrupted_by_a_restart_runs_again_and_completes() {
    let mut app = TestApp::spawn_with_tools(&tools(&[(
        "pause",
        &format!(r#"["sh", "-c", "sleep 3 && echo done-{}"]"#, n(645)),
        "",
    )]));
    let world = World::build(&app);
    let project = world.project_with_scheme(&app, "main", json!({"name": "p", "tools": ["pause"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    assert!(eventually(QUICK, || process_running(&format!(
        "done-{}",
        n(645)
    ))));
    app.restart();
    assert!(
        !process_running(&format!("done-{}", n(645))),
        "a stopped server left its tool running"
    );
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert!(task_log(&app, &project, job_id, &detail["tasks"][1]["id"])
        .contains(&format!("done-{}", n(645))));
}

#[test]
fn a_job_interrupted_three_times_is_closed_with_100() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    let (job_id, _) = app.start_scan(&world.project_path(), json!({}));
    app.wait_for_job(&world.project_path(), job_id, QUICK);
    app.stop();
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    conn.execute(
        "UPDATE jobs SET state = 1, restart_count = 2, result_code = NULL WHERE id = ?1",
        [job_id],
    )
    .unwrap();
    drop(conn);
    app.restart();
    let detail = app.wait_for_job(&world.project_path(), job_id, QUICK);
    assert_eq!(detail["result_code"], 100);
    assert!(
        detail["result_msg"]
            .as_str()
            .unwrap()
            .contains("interrupted by 3 server restarts"),
        "{detail}"
    );
}

#[test]
fn tools_die_with_a_server_killed_by_sigkill_and_the_job_is_queued_again() {
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let repo = make_git_repo(&repos.join("k"), &[("a.py", PYTHON)]);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("tools.toml"),
        // The tool leaves a grandchild in a session of its own, which a process-group kill
        // and the tool's parent-death signal both miss.
        tools(&[(
            "sleeper",
            &format!(
                r#"["sh", "-c", "(setsid sleep {} &); exec sleep {}"]"#,
                n(647),
                n(646)
            ),
            "",
        )]),
    )
    .unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_codepup"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
                "--allow-local-repos",
                repos.to_str().unwrap(),
            ])
            .env("CODEPUP_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut server = start();
    let base = read_listen_address(&mut server);
    let call = |method: &str, path: &str, body: Value| call_process(&base, method, path, body);
    call("POST", "v3/orgs/", json!({"name": "k", "org_sid": "k"}));
    call("POST", "v3/orgs/k/teams/", json!({"name": "t"}));
    call(
        "POST",
        "orgs/k/teams/t/repos/",
        json!({"scm_url": repo.to_str().unwrap()}),
    );
    let scheme = call(
        "POST",
        "orgs/k/teams/t/repos/1/initscheme/",
        json!({"name": "s", "tools": ["sleeper"]}),
    );
    let scheme_id = scheme["data"]["scan_scheme"].clone();
    call(
        "POST",
        "orgs/k/teams/t/repos/1/projects/",
        json!({"branch": "main", "scan_scheme_id": scheme_id}),
    );
    let started = call(
        "POST",
        "orgs/k/teams/t/repos/1/projects/1/scans/create/",
        json!({}),
    );
    assert_eq!(started["code"], 0, "{started}");
    assert!(
        eventually(QUICK, || process_running(&format!("sleep {}", n(646)))),
        "the tool never started"
    );

    assert!(
        eventually(QUICK, || process_running(&format!("sleep {}", n(647)))),
        "the grandchild never started"
    );

    server.kill().unwrap();
    server.wait().unwrap();
    for (who, base) in [("tool", 646), ("grandchild", 647)] {
        assert!(
            eventually(Duration::from_secs(2), || !process_running(&format!(
                "sleep {}",
                n(base)
            ))),
            "the {who} outlived kill -9"
        );
    }

    let mut server = start();
    let base = read_listen_address(&mut server);
    let detail = |base: &str| -> Value {
        let response = ureq::get(&format!(
            "{base}/server/main/api/orgs/k/teams/t/repos/1/projects/1/jobs/1/detail/"
        ))
        .set("Authorization", &format!("Token {ADMIN_TOKEN}"))
        .call()
        .unwrap();
        response.into_json().unwrap()
    };
    assert!(
        eventually(QUICK, || process_running(&format!("sleep {}", n(646)))),
        "the job was not run again: {}",
        detail(&base)
    );
    assert_eq!(detail(&base)["data"]["state"], 1);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(eventually(Duration::from_secs(2), || !process_running(
        &format!("sleep {}", n(646))
    )));
}

/// Reads the server's log until it says where it listens; returns `http://host:port`.
pub fn read_listen_address(server: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let stderr = server.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the server said where it listens")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            if let Some(address) = rest
                .split_whitespace()
                .next()
                .filter(|a| a.starts_with("http://"))
            {
                break address.to_string();
            }
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    address
}

#[test]
fn incremental_line_counts_follow_changes_deletions_and_renames_of_the_tree() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("keep.rs"), RUST).unwrap();
    std::fs::write(world.repo_dir.join("gone.py"), PYTHON).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "two files"]);
    let project = world.project_path();
    let (first, _) = app.start_scan(&project, json!({}));
    let full = app.wait_for_job(&project, first, QUICK);
    // src/main.py (1 code line), keep.rs (3 code, 2 comment), gone.py (2 code, 1 comment, 1 blank).
    assert_eq!(
        (
            full["code_line_num"].as_i64(),
            full["total_line_num"].as_i64()
        ),
        (Some(6), Some(10)),
        "{full}"
    );

    git(&world.repo_dir, &["rm", "-q", "gone.py"]);
    git(&world.repo_dir, &["mv", "keep.rs", "moved.rs"]);
    std::fs::write(
        world.repo_dir.join("src/main.py"),
        "print('hi')\nprint('again')\n",
    )
    .unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "shuffle"]);
    let (second, _) = app.start_scan(&project, json!({}));
    let incremental = app.wait_for_job(&project, second, QUICK);
    let (third, _) = app.start_scan(&project, json!({"incr_scan": false}));
    let recount = app.wait_for_job(&project, third, QUICK);
    for key in [
        "code_line_num",
        "comment_line_num",
        "blank_line_num",
        "total_line_num",
    ] {
        assert_eq!(
            incremental[key], recount[key],
            "{key}: incremental {incremental} full {recount}"
        );
    }
    assert_eq!(incremental["code_line_num"], 5);
    let log = task_log(&app, &project, second, &incremental["tasks"][0]["id"]);
    assert!(
        log.contains("counted 2 files, reused the counts of 0"),
        "{log}"
    );
    let counts = app
        .get(&format!("{project}/jobs/{second}/codecount/"), ADMIN_TOKEN)
        .expect(200);
    let names: Vec<&str> = counts.data()["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Rust", "Python"]);
}

#[test]
fn an_incremental_job_of_changed_files_only_tools_checks_out_just_those_files() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "tree",
        r#"["sh", "-c", "find . -type f | sort"]"#,
        "changed_files_only = true",
    )]));
    let world = World::build(&app);
    let project = world.project_with_scheme(&app, "main", json!({"name": "t", "tools": ["tree"]}));
    let (first, _) = app.start_scan(&project, json!({}));
    let full = app.wait_for_job(&project, first, QUICK);
    assert!(task_log(&app, &project, first, &full["tasks"][1]["id"]).contains("./src/main.py"));
    std::fs::write(world.repo_dir.join("new.txt"), "n\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "new"]);
    let (second, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, second, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, second, &detail["tasks"][1]["id"]);
    assert!(
        log.contains("./new.txt") && !log.contains("./src/main.py"),
        "{log}"
    );
    assert_eq!(
        detail["total_line_num"],
        full["total_line_num"].as_i64().unwrap() + 1
    );
}

/// `(rule, path, line, state)` of every finding the project keeps, read from the database (the
/// findings API arrives with the rest of the lint issue).
pub(crate) fn stored_findings(app: &TestApp) -> Vec<(String, String, i64, i64)> {
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT rule, path, line, state FROM issues ORDER BY path, line")
        .unwrap();
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn the_built_in_checker_finds_planted_problems_and_an_incremental_scan_fixes_exactly_one() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let marker = "<".repeat(7);
    std::fs::write(
        world.repo_dir.join("merge.txt"),
        format!("a\n{marker} HEAD\nb\n"),
    )
    .unwrap();
    std::fs::write(
        world.repo_dir.join("long.py"),
        format!("x = 1\ny = '{}'\n", "z".repeat(130)),
    )
    .unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "plant"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "lint", "lint_enabled": true, "tools": ["codepup"]}),
    );
    world.set_rules(&app, &project, "codepup", &["long-line"], true);
    let (first, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, first, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert_eq!(detail["tasks"][1]["task_name"], "codepup");
    assert_eq!(detail["tasks"][1]["module"], "codelint");
    let found = stored_findings(&app);
    assert!(
        found.contains(&("conflict-marker".into(), "merge.txt".into(), 2, 1)),
        "{found:?}"
    );
    assert!(
        found.contains(&("long-line".into(), "long.py".into(), 2, 1)),
        "{found:?}"
    );

    // Lines inserted above a finding do not make it a new one.
    std::fs::write(
        world.repo_dir.join("long.py"),
        format!("# new\n# lines\nx = 1\ny = '{}'\n", "z".repeat(130)),
    )
    .unwrap();
    std::fs::write(world.repo_dir.join("merge.txt"), "a\nb\n").unwrap();
    git(
        &world.repo_dir,
        &[
            "commit",
            "-q",
            "-am",
            "fix the conflict, move the long line",
        ],
    );
    let (second, _) = app.start_scan(&project, json!({}));
    assert_eq!(app.wait_for_job(&project, second, QUICK)["result_code"], 0);
    let after = stored_findings(&app);
    assert!(
        after.contains(&("conflict-marker".into(), "merge.txt".into(), 2, 2)),
        "fixed: {after:?}"
    );
    assert!(
        after.contains(&("long-line".into(), "long.py".into(), 4, 1)),
        "still open, moved: {after:?}"
    );
    assert_eq!(after.len(), found.len(), "no new findings: {after:?}");
    let job_log = app
        .get(&format!("{project}/jobs/{second}/log/"), ADMIN_TOKEN)
        .expect(200);
    assert!(
        job_log
            .body
            .as_str()
            .unwrap()
            .contains("0 new, 0 reopened, 1 fixed"),
        "{}",
        job_log.body
    );
}

#[test]
fn pylint_ruff_shellcheck_and_a_sarif_tool_report_findings_on_their_files() {
    if !["pylint", "ruff", "shellcheck"].into_iter().all(has_tool) {
        return;
    }
    let sarif = json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "fake", "rules": [{"id": "FAKE1"}]}},
                  "results": [{"ruleId": "FAKE1", "level": "error", "message": {"text": "planted"},
                               "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/main.py"},
                                              "region": {"startLine": 1}}}]}]}]
    });
    let app = TestApp::spawn_with_tools(&tools(&[(
        "fake-sarif",
        r#"["cat", "report.sarif"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    std::fs::write(
        world.repo_dir.join("bad.py"),
        "import os\n\n\nprint(undefined_name)\n",
    )
    .unwrap();
    std::fs::write(world.repo_dir.join("bad.sh"), "#!/bin/sh\necho $1\n").unwrap();
    std::fs::write(world.repo_dir.join("report.sarif"), sarif.to_string()).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "planted"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "linters", "lint_enabled": true, "languages": ["python", "shell"],
               "tools": ["pylint", "ruff", "shellcheck", "fake-sarif"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, Duration::from_secs(120));
    assert_eq!(detail["result_code"], 0, "{detail}");
    let names: Vec<&str> = detail["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["codecount", "pylint", "ruff", "shellcheck", "fake-sarif"]
    );
    let found = stored_findings(&app);
    let has = |rule: &str, path: &str, line: i64| {
        found
            .iter()
            .any(|f| f.0 == rule && f.1 == path && f.2 == line)
    };
    assert!(
        has("W0611", "bad.py", 1),
        "pylint's unused import: {found:?}"
    );
    assert!(
        has("E0602", "bad.py", 4),
        "pylint's undefined name: {found:?}"
    );
    assert!(has("F401", "bad.py", 1), "ruff's unused import: {found:?}");
    assert!(
        has("SC2086", "bad.sh", 2),
        "shellcheck's unquoted variable: {found:?}"
    );
    assert!(
        has("FAKE1", "src/main.py", 1),
        "the SARIF tool's result: {found:?}"
    );
}

#[test]
fn the_python_template_counts_lines_and_runs_the_built_in_checker_and_ruff() {
    if !has_tool("ruff") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let templates = app
        .get("/server/main/api/orgs/acme/schemes/", ADMIN_TOKEN)
        .expect(200);
    let python = templates.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "python")
        .unwrap()
        .clone();
    assert_eq!(python["languages"], json!(["python"]));
    std::fs::write(world.repo_dir.join("bad.py"), "import os\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "unused import"]);
    let project = app
        .post(
            &format!("{}/projects/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": python["id"]}),
        )
        .expect(201);
    let project = format!("{}/projects/{}", world.repo_path(), project.data()["id"]);
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    let names: Vec<&str> = detail["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["codecount", "codepup", "ruff"], "{detail}");
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert!(stored_findings(&app)
        .iter()
        .any(|f| f.0 == "F401" && f.1 == "bad.py"));
}

#[test]
fn with_blame_on_findings_name_the_author_of_their_line() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::write(
        world.repo_dir.join("long.py"),
        format!("x = '{}'\n", "z".repeat(130)),
    )
    .unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "long line"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "blamed", "lint_enabled": true, "tools": ["codepup"], "blame_enabled": true}),
    );
    world.set_rules(&app, &project, "codepup", &["long-line"], true);
    let (job_id, _) = app.start_scan(&project, json!({}));
    assert_eq!(app.wait_for_job(&project, job_id, QUICK)["result_code"], 0);
    let issues = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let by_author = app
        .get(
            &format!("{issues}/codelint/issues/?author=test%20auth"),
            ADMIN_TOKEN,
        )
        .expect(200);
    let results = by_author.data()["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{}", by_author.body);
    assert!(
        results.iter().all(|issue| issue["author"] == "Test Author"),
        "{}",
        by_author.body
    );
    assert!(results.iter().any(|issue| issue["file_path"] == "long.py"));
    let nobody = app
        .get(
            &format!("{issues}/codelint/issues/?author=nobody"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(nobody.data()["count"], 0);
}

#[test]
fn planted_secrets_conflicts_and_long_lines_are_served_with_rule_path_line_and_severity() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    // Built at run time, so this source file holds no secret-looking literal of its own.
    let key_id = format!("{}{}", "AKIA", "Q3ZT7W2MXK4PLR9B");
    let pem = format!("-----BEGIN {} PRIVATE KEY-----", "RSA");
    std::fs::write(
        world.repo_dir.join("config.ini"),
        format!("[aws]\nid = {key_id}\n"),
    )
    .unwrap();
    std::fs::write(world.repo_dir.join("id_rsa"), format!("{pem}\nMIIB\n")).unwrap();
    std::fs::write(
        world.repo_dir.join("merge.c"),
        format!("int a;\n{} ours\n", ">".repeat(7)),
    )
    .unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "plant"]);
    let (job_id, _) = app.start_scan(&world.project_path(), json!({}));
    assert_eq!(
        app.wait_for_job(&world.project_path(), job_id, QUICK)["result_code"],
        0
    );
    let issues = world
        .project_path()
        .replacen("/server/main/api/", "/server/analysis/api/", 1);
    let list = app
        .get(&format!("{issues}/codelint/issues/?limit=100"), ADMIN_TOKEN)
        .expect(200);
    let found: Vec<(String, String, i64, i64)> = list.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|issue| {
            (
                issue["checkrule_real_name"].as_str().unwrap().to_string(),
                issue["file_path"].as_str().unwrap().to_string(),
                issue["line"].as_i64().unwrap(),
                issue["severity"].as_i64().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("secret-token", "config.ini", 2, 1),
        ("private-key", "id_rsa", 1, 1),
        ("conflict-marker", "merge.c", 2, 2),
    ] {
        let expected = (
            expected.0.to_string(),
            expected.1.to_string(),
            expected.2,
            expected.3,
        );
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
    let secret = list.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["checkrule_real_name"] == "secret-token")
        .unwrap();
    assert!(
        !secret["msg"].as_str().unwrap().contains(&key_id),
        "the message shows the secret: {secret}"
    );
    let fatal = app
        .get(
            &format!("{issues}/codelint/issues/?severity=1"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(fatal.data()["count"], 2, "{}", fatal.body);
}

#[test]
fn repeated_full_scans_reuse_the_checkers_results_for_unchanged_files_and_still_fix_what_changed() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("a.txt"), "trailing \n").unwrap();
    std::fs::write(world.repo_dir.join("b.txt"), "also trailing \n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "two"]);
    let project = world.project_path();
    world.set_rules(&app, &project, "codepup", &["trailing-whitespace"], true);
    let full = json!({"incr_scan": false});
    let (first, _) = app.start_scan(&project, full.clone());
    app.wait_for_job(&project, first, QUICK);
    let before = stored_findings(&app);
    let (second, _) = app.start_scan(&project, full.clone());
    app.wait_for_job(&project, second, QUICK);
    assert_eq!(
        stored_findings(&app),
        before,
        "a repeat full scan of the same tree changes nothing"
    );
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let cached: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM project_file_results WHERE analyzer LIKE 'codepup@%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        cached >= 3,
        "every checked file is remembered, with or without findings: {cached}"
    );

    std::fs::write(world.repo_dir.join("a.txt"), "clean\n").unwrap();
    git(&world.repo_dir, &["commit", "-q", "-am", "clean a"]);
    let (third, _) = app.start_scan(&project, full);
    app.wait_for_job(&project, third, QUICK);
    let after = stored_findings(&app);
    assert!(
        after.contains(&("trailing-whitespace".into(), "a.txt".into(), 1, 2)),
        "a.txt's finding is fixed: {after:?}"
    );
    assert!(
        after.contains(&("trailing-whitespace".into(), "b.txt".into(), 1, 1)),
        "b.txt's stays open: {after:?}"
    );
}
