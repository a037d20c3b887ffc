//! Start-up: the first admin and its token file, reuse of the database, the CLI subcommands.

use std::process::Command;

use serde_json::json;

use crate::helpers::{TestApp, World, ADMIN_TOKEN};

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
        templates.data().as_array().unwrap().len(),
        2,
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
