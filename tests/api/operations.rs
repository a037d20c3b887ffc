//! What an operator relies on: health and readiness without a token, request ids, the
//! Prometheus scrape on its own listener, and a graceful stop that lets running jobs finish.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{eventually, tools, Body, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(30);

#[test]
fn health_and_readiness_answer_without_a_token_and_requests_carry_an_id() {
    let app = TestApp::spawn();
    let health = app.call("GET", "/healthz", None, Body::None).expect(200);
    assert_eq!(health.data()["status"], "ok");
    let ready = app.call("GET", "/readyz", None, Body::None).expect(200);
    assert_eq!(ready.data()["status"], "ready", "{}", ready.body);
    assert_eq!(ready.data()["scan_workers"], 2);
    // A fresh id when the client sends none, the client's own when it is plain.
    let id = health.header("X-Request-Id").unwrap().to_string();
    assert_eq!(id.len(), 16, "{id}");
    let response = ureq::get(&format!("{}/healthz", app_base(&app)))
        .set("X-Request-Id", "client-id.42")
        .call()
        .unwrap();
    assert_eq!(response.header("X-Request-Id"), Some("client-id.42"));
    let response = ureq::get(&format!("{}/healthz", app_base(&app)))
        .set("X-Request-Id", "no spaces please")
        .call()
        .unwrap();
    assert_ne!(response.header("X-Request-Id"), Some("no spaces please"));
}

fn app_base(app: &TestApp) -> String {
    app.base.clone()
}

#[test]
fn metrics_count_requests_jobs_and_tool_runs_on_their_own_listener() {
    let app = TestApp::spawn_with(|config| {
        config.metrics_bind = Some("127.0.0.1:0".to_string());
        let tools_file = config.data_dir.parent().unwrap().join("tools.toml");
        std::fs::write(&tools_file, tools(&[("ok", r#"["true"]"#, "")])).unwrap();
        config.tools_file = Some(tools_file);
    });
    let world = World::build(&app);
    let project = world.project_with_scheme(&app, "main", json!({"name": "m", "tools": ["ok"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let base = app.metrics_base().expect("a metrics listener");
    let scrape = || ureq::get(&format!("{base}/metrics")).call().unwrap();
    assert!(scrape()
        .header("Content-Type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    // The worker records the job's duration just after the close the test waited for.
    assert!(eventually(QUICK, || scrape()
        .into_string()
        .unwrap()
        .contains("codepup_job_seconds_count 1")));
    let text = scrape().into_string().unwrap();
    for expected in [
        "codepup_jobs_closed_total{class=\"success\"} 1",
        "codepup_tool_runs_total{tool=\"ok\",outcome=\"exit_0\"} 1",
        "codepup_jobs{state=\"waiting\"} 0",
        "codepup_queue_oldest_waiting_seconds 0",
        "codepup_job_seconds_count 1",
        "codepup_phase_seconds_count{phase=\"source\"} 1",
        "codepup_task_seconds_count{tool=\"codecount\"} 1",
        "codepup_http_request_seconds_count",
        "/detail/\",status=\"200\"}",
        "codepup_database_bytes",
        "codepup_git_cache_bytes",
    ] {
        assert!(text.contains(expected), "{expected} missing from\n{text}");
    }
    // The API's listener does not serve it.
    app.call("GET", "/metrics", Some(ADMIN_TOKEN), Body::None)
        .expect(404);
}

#[test]
fn a_graceful_stop_lets_a_running_job_finish_and_a_short_grace_leaves_it_for_the_next_start() {
    let tools_text = tools(&[("nap", r#"["sleep", "2"]"#, "")]);
    let mut app = TestApp::spawn_with(|config| {
        config.shutdown_grace = Duration::from_secs(30);
        let tools_file = config.data_dir.parent().unwrap().join("tools.toml");
        std::fs::write(&tools_file, &tools_text).unwrap();
        config.tools_file = Some(tools_file);
    });
    let world = World::build(&app);
    let project = world.project_with_scheme(&app, "main", json!({"name": "g", "tools": ["nap"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    assert!(eventually(QUICK, || app
        .get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
        .expect(200)
        .data()["state"]
        == 1));
    app.stop();
    // The stop waited for the job, which closed with its result.
    let db = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let (state, code): (i64, i64) = db
        .query_row(
            "SELECT state, result_code FROM jobs WHERE id = ?1",
            [job_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((state, code), (2, 0));

    // No grace: the tool is stopped and the job runs again at the next start.
    app.config.shutdown_grace = Duration::ZERO;
    app.config.tools_file = {
        let path = app.data_dir().parent().unwrap().join("tools.toml");
        std::fs::write(&path, tools(&[("nap", r#"["sleep", "5"]"#, "")])).unwrap();
        Some(path)
    };
    app.restart();
    let (second, _) = app.start_scan(&project, json!({"incr_scan": false}));
    assert!(
        eventually(QUICK, || app
            .get(&format!("{project}/jobs/{second}/detail/"), ADMIN_TOKEN)
            .expect(200)
            .data()["state"]
            == 1),
        "{}",
        app.get(&format!("{project}/jobs/{second}/detail/"), ADMIN_TOKEN)
            .body
    );
    app.restart();
    let detail = app.wait_for_job(&project, second, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
}

/// Runs the real binary's subcommand on a data directory.
fn codepup(args: &[&str], data: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_codepup"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

#[test]
fn a_backup_taken_under_write_load_restores_to_a_server_that_serves_every_job_it_holds() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let backup = app.dir.path().join("backup.db");
    std::thread::scope(|scope| {
        // Writers: scans started as fast as one client can, while the backup runs.
        let writer = scope.spawn(|| {
            let mut started = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                app.post(
                    &format!("{project}/scans/create/"),
                    ADMIN_TOKEN,
                    json!({"incr_scan": false, "force_create": true}),
                )
                .expect(200);
                started += 1;
            }
            started
        });
        std::thread::sleep(Duration::from_millis(300));
        let output = codepup(&["backup", backup.to_str().unwrap()], &app.data_dir());
        assert!(output.status.success(), "{output:?}");
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(writer.join().unwrap() > 0);
    });
    // A second backup to the same file is refused rather than overwriting it.
    let again = codepup(&["backup", backup.to_str().unwrap()], &app.data_dir());
    assert!(!again.status.success());

    let check = codepup(&["check"], &app.data_dir());
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let jobs: Vec<i64> = {
        let db = rusqlite::Connection::open(&backup).unwrap();
        let mut stmt = db.prepare("SELECT id FROM jobs").unwrap();
        let ids = stmt.query_map([], |row| row.get(0)).unwrap();
        ids.map(Result::unwrap).collect()
    };
    assert!(!jobs.is_empty());
    let restored = TestApp::spawn_with(|config| {
        std::fs::create_dir_all(&config.data_dir).unwrap();
        std::fs::copy(&backup, config.data_dir.join("codepup.db")).unwrap();
    });
    for job_id in jobs {
        restored
            .get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
            .expect(200);
    }
}

#[test]
fn check_reports_a_missing_log_and_fails() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let (job_id, _) = app.start_scan(&project, json!({}));
    app.wait_for_job(&project, job_id, QUICK);
    let log = app
        .data_dir()
        .join("logs")
        .join(format!("job-{job_id}"))
        .join("job.log");
    assert!(log.is_file());
    std::fs::remove_file(&log).unwrap();
    let check = codepup(&["check"], &app.data_dir());
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success(), "{stdout}");
    assert!(
        stdout.contains("missing log") && stdout.contains("job.log"),
        "{stdout}"
    );
}
