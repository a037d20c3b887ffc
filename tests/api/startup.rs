//! Start-up: the first admin and its token file, reuse of the database, the CLI subcommands.

use std::process::Command;

use serde_json::json;

use crate::helpers::{TestApp, World, ADMIN_TOKEN};

/// `codepup serve` on a free loopback port over `data`, its log (info and up) on a pipe, with
/// `args` after the data directory.
fn serve_logging_to_a_pipe(data: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_codepup"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .env("CODEPUP_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    command
}

fn codepup(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_codepup"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the codepup binary runs")
}

#[test]
fn the_first_start_writes_a_random_admin_token_once_and_later_starts_keep_it() {
    let mut app = TestApp::spawn_with(|config| config.admin_token = None);
    let path = app.data_dir().join("admin.token");
    let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
    assert_eq!(token.len(), 40);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let me = app
        .get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    assert_eq!(me.data()["username"], "admin");
    assert_eq!(me.data()["is_superuser"], true);

    app.config.admin_token = Some("a-different-token-that-must-be-ignored".into());
    app.restart();
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    app.get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    app.get(
        "/server/main/api/v3/authen/userinfo/",
        "a-different-token-that-must-be-ignored",
    )
    .expect(401);
}

#[test]
fn the_configured_admin_token_is_the_one_written() {
    let app = TestApp::spawn();
    let written = std::fs::read_to_string(app.data_dir().join("admin.token")).unwrap();
    assert_eq!(written.trim(), ADMIN_TOKEN);
}

#[test]
fn a_database_made_by_one_start_is_reused_by_the_next_with_nothing_lost() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    let bob = app.create_user("bob");
    let before = app
        .get(
            &format!("{}/projects/{}/", world.repo_path(), world.project_id),
            ADMIN_TOKEN,
        )
        .expect(200);

    app.restart();

    let after = app
        .get(
            &format!("{}/projects/{}/", world.repo_path(), world.project_id),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(before.body, after.body);
    app.get("/server/main/api/v3/authen/userinfo/", &bob)
        .expect(200);
    let templates = app
        .get("/server/main/api/orgs/acme/schemes/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        templates.data()["count"],
        3,
        "templates were duplicated: {}",
        templates.body
    );
    let org = app
        .post(
            "/server/main/api/v3/orgs/",
            ADMIN_TOKEN,
            json!({"name": "Second"}),
        )
        .expect(201);
    assert_eq!(org.data()["id"], 2);
}

#[test]
fn the_cli_makes_users_and_rotates_tokens_while_the_server_runs() {
    let app = TestApp::spawn();
    let data_dir = app.data_dir();
    let data_dir = data_dir.to_str().unwrap();

    let created = codepup(&[
        "user",
        "create",
        "carol",
        "--nickname",
        "Carol C",
        "--data-dir",
        data_dir,
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let me = app
        .get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    assert_eq!(me.data()["nickname"], "Carol C");
    assert_eq!(me.data()["is_superuser"], false);

    let again = codepup(&["user", "create", "carol", "--data-dir", data_dir]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let rotated = codepup(&["token", "rotate", "carol", "--data-dir", data_dir]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let new_token = String::from_utf8(rotated.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert_ne!(new_token, token);
    app.get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(401);
    app.get("/server/main/api/v3/authen/userinfo/", &new_token)
        .expect(200);

    let missing = codepup(&["token", "rotate", "nobody", "--data-dir", data_dir]);
    assert!(!missing.status.success());

    let superuser = codepup(&[
        "user",
        "create",
        "root2",
        "--superuser",
        "--data-dir",
        data_dir,
    ]);
    let root_token = String::from_utf8(superuser.stdout)
        .unwrap()
        .trim()
        .to_string();
    let me = app
        .get("/server/main/api/v3/authen/userinfo/", &root_token)
        .expect(200);
    assert_eq!(me.data()["is_superuser"], true);
}

#[test]
fn a_bad_setting_stops_the_binary_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_codepup"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .env("CODEPUP_TZ_OFFSET", "Mars/Olympus")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("CODEPUP_TZ_OFFSET"));
}

#[test]
fn a_scan_of_files_of_unknown_types_logs_no_tokei_warnings_by_default() {
    // Issue 8, hole 9: tokei warned "Unknown extension" for every such file of every scan.
    use std::io::{BufRead, BufReader};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let files: Vec<(String, &str)> = (0..20)
        .map(|i| (format!("data/file{i}.unknownext{i}"), "x\n"))
        .chain([("main.py".to_string(), "print('hi')\n")])
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    let repo = crate::helpers::make_git_repo(&repos.join("r"), &files);
    let mut server = serve_logging_to_a_pipe(&dir.path().join("data"), &["--allow-local-repos"])
        .arg(&repos)
        .spawn()
        .expect("the codepup binary runs");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (address_sender, address) = std::sync::mpsc::channel();
    let reader = {
        let log = Arc::clone(&log);
        let stderr = server.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap_or_default();
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let base = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = address_sender.send(base);
                }
                log.lock().unwrap().push(line);
            }
        })
    };
    let base = address
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server says where it listens");
    let call = |path: &str, body: serde_json::Value| -> serde_json::Value {
        let response = ureq::post(&format!("{base}/server/main/api/{path}"))
            .set("Authorization", &format!("Token {ADMIN_TOKEN}"))
            .send_json(body);
        match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.into_json().unwrap(),
            Err(error) => panic!("{path}: {error}"),
        }
    };
    call("v3/orgs/", json!({"name": "L", "org_sid": "l"}));
    call("v3/orgs/l/teams/", json!({"name": "t"}));
    call(
        "orgs/l/teams/t/repos/",
        json!({"scm_url": repo.to_str().unwrap()}),
    );
    call(
        "orgs/l/teams/t/repos/1/projects/",
        json!({"branch": "main", "global_scheme_id": 1}),
    );
    let job = call(
        "orgs/l/teams/t/repos/1/projects/1/scans/create/",
        json!({"incr_scan": false, "async_flag": false}),
    );
    assert_eq!(job["data"]["job"]["result_code"], 0, "{job}");
    server.kill().unwrap();
    server.wait().unwrap();
    reader.join().unwrap();

    let log = log.lock().unwrap();
    let warnings: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("Unknown extension"))
        .collect();
    assert!(
        warnings.is_empty(),
        "{} tokei warnings: {warnings:?}",
        warnings.len()
    );
    // Logging still runs at info level.
    assert!(
        log.iter().any(|line| line.contains(" INFO ")),
        "no info line: {log:?}"
    );
}

/// "listening on" promises a server that stops gracefully on SIGTERM: a supervisor (or a test)
/// that signals the moment it reads the line gets a clean exit, not the signal's default action.
#[test]
fn a_sigterm_right_after_listening_on_stops_the_server_gracefully() {
    use std::io::{BufRead, BufReader};

    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut server = serve_logging_to_a_pipe(&dir.path().join("data"), &[])
            .spawn()
            .expect("the codepup binary runs");
        let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
        let listening = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains("listening on "));
        assert!(listening, "round {round}: the server never said it listens");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = server.wait().unwrap();
        assert!(status.success(), "round {round}: {status:?}\n{rest:#?}");
    }
}
