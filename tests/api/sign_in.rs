//! Password sign-in as TCA's login page does it (`credential/api/v3/login/get_oapassword_info/`,
//! TCA's `server/projects/login/login/apis/v3.py` `OAInfoAPIView`), the `CodeDog` keyword, the
//! throttle on failures, password changes and the CLI.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use codepup::config::IpRange;

use crate::helpers::{Body, TestApp, ADMIN_TOKEN};

const SIGN_IN: &str = "/server/credential/api/v3/login/get_oapassword_info/";

fn create_user_with_password(app: &TestApp, username: &str, password: &str) {
    let reply = app
        .post(
            "/server/main/api/v3/users/",
            ADMIN_TOKEN,
            json!({"username": username, "password": password}),
        )
        .expect(201);
    assert_eq!(reply.data()["has_password"], json!(true));
}

fn sign_in(app: &TestApp, path: &str, username: &str, password: &str) -> crate::helpers::Reply {
    app.call(
        "POST",
        path,
        None,
        Body::Json(json!({"username": username, "password": password})),
    )
}

/// GET `path` with `Authorization: CodeDog <token>`, as TCA's web UI sends it.
fn get_as_codedog(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let url = format!("{}{path}", app.base);
    let response = match ureq::get(&url)
        .set("Authorization", &format!("CodeDog {token}"))
        .call()
    {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("GET {path}: {error}"),
    };
    (response.status(), response.into_json().unwrap())
}

#[test]
fn a_user_signs_in_with_a_password_and_the_token_works_as_codedog_and_token() {
    let app = TestApp::spawn();
    create_user_with_password(&app, "alice", "correct horse battery");
    let reply = sign_in(&app, SIGN_IN, "alice", "correct horse battery").expect(200);
    // TCA's OAInfoAPIView: `{access_token, isRegister: true}`, read by the login page.
    assert_eq!(reply.data()["isRegister"], json!(true));
    let token = reply.data()["access_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);

    let (status, body) = get_as_codedog(&app, "/server/main/api/v3/authen/userinfo/", &token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["username"], json!("alice"));
    // Behind TCA's stock nginx, `/server/` is stripped.
    let (status, body) = get_as_codedog(&app, "/main/api/v3/authen/userinfo/", &token);
    assert_eq!((status, &body["data"]["username"]), (200, &json!("alice")));
    let (status, body) = get_as_codedog(&app, "/credential/api/v3/login/user/", &token);
    assert_eq!((status, &body["data"]["uid"]), (200, &json!("alice")));
    // The same session token works with the `Token` keyword too.
    let me = app
        .get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    assert_eq!(me.data()["username"], json!("alice"));
    // And the stripped credential path signs in as well.
    sign_in(
        &app,
        "/credential/api/v3/login/get_oapassword_info/",
        "alice",
        "correct horse battery",
    )
    .expect(200);
}

#[test]
fn a_wrong_password_an_unknown_name_and_a_user_without_password_fail_alike() {
    let app = TestApp::spawn();
    create_user_with_password(&app, "alice", "correct horse battery");
    app.create_user("tokenonly");
    let wrong = sign_in(&app, SIGN_IN, "alice", "wrong horse battery").expect(400);
    let unknown = sign_in(&app, SIGN_IN, "nobody", "wrong horse battery").expect(400);
    let no_password = sign_in(&app, SIGN_IN, "tokenonly", "wrong horse battery").expect(400);
    // TCA's text (ParseError in OAInfoAPIView), the same for all three.
    assert_eq!(
        wrong.body["msg"],
        json!("登录失败，账户或密码错误或账户未注册")
    );
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, no_password.body);
    let (status, _) = get_as_codedog(
        &app,
        "/server/main/api/v3/authen/userinfo/",
        "0".repeat(40).as_str(),
    );
    assert_eq!(status, 401);
    let missing = app.call(
        "POST",
        SIGN_IN,
        None,
        Body::Json(json!({"username": "alice"})),
    );
    assert_eq!(missing.expect(400).invalid_fields(), vec!["password"]);
}

#[test]
fn repeated_failures_for_a_name_are_refused_with_429_even_with_the_right_password() {
    let app = TestApp::spawn();
    create_user_with_password(&app, "alice", "correct horse battery");
    create_user_with_password(&app, "bob", "another good one");
    for _ in 0..codepup::throttle::MAX_PER_NAME {
        sign_in(&app, SIGN_IN, "alice", "guess guess guess").expect(400);
    }
    let refused = sign_in(&app, SIGN_IN, "ALICE", "correct horse battery").expect(429);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= codepup::throttle::WINDOW.as_secs());
    assert!(refused.body["msg"]
        .as_str()
        .unwrap()
        .starts_with("请求超过了限速。"));
    // Another name from the same address still signs in.
    sign_in(&app, SIGN_IN, "bob", "another good one").expect(200);
}

#[test]
fn changing_a_password_needs_the_old_one_and_ends_the_sessions() {
    let app = TestApp::spawn();
    create_user_with_password(&app, "alice", "correct horse battery");
    let session = sign_in(&app, SIGN_IN, "alice", "correct horse battery").expect(200);
    let session = session.data()["access_token"].as_str().unwrap().to_string();
    let change = "/server/main/api/v3/authen/userinfo/password/";
    let put = |body: Value| app.call("PUT", change, Some(&session), Body::Json(body));
    let refused = put(json!({"password": "a new one at last"})).expect(400);
    assert_eq!(refused.invalid_fields(), vec!["old_password"]);
    let short = put(json!({"password": "short", "old_password": "correct horse battery"}));
    assert_eq!(short.expect(400).invalid_fields(), vec!["password"]);
    put(json!({"password": "a new one at last", "old_password": "correct horse battery"}))
        .expect(200);
    app.get("/server/main/api/v3/authen/userinfo/", &session)
        .expect(401);
    sign_in(&app, SIGN_IN, "alice", "correct horse battery").expect(400);
    sign_in(&app, SIGN_IN, "alice", "a new one at last").expect(200);
}

#[test]
fn the_ui_can_rename_the_caller_through_userinfo() {
    let app = TestApp::spawn();
    let token = app.create_user("alice");
    let reply = app
        .call(
            "PUT",
            "/server/main/api/v3/authen/userinfo/",
            Some(&token),
            Body::Json(json!({"nickname": "Alice A."})),
        )
        .expect(200);
    assert_eq!(reply.data()["nickname"], json!("Alice A."));
    let me = app
        .get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    assert_eq!(me.data()["nickname"], json!("Alice A."));
}

fn codepup_cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codepup"))
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_cli_makes_a_user_with_a_password_and_changes_it_while_the_server_runs() {
    let app = TestApp::spawn();
    let made = codepup_cli(
        &app,
        &["user", "create", "carol", "--password"],
        "first password\n",
    );
    assert!(made.status.success(), "{made:?}");
    let token = String::from_utf8(made.stdout).unwrap().trim().to_string();
    app.get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    sign_in(&app, SIGN_IN, "carol", "first password").expect(200);

    let changed = codepup_cli(&app, &["user", "password", "carol"], "second password\n");
    assert!(changed.status.success(), "{changed:?}");
    sign_in(&app, SIGN_IN, "carol", "first password").expect(400);
    sign_in(&app, SIGN_IN, "carol", "second password").expect(200);

    let short = codepup_cli(&app, &["user", "password", "carol"], "short\n");
    assert!(!short.status.success());
    let unknown = codepup_cli(&app, &["user", "password", "nobody"], "long enough\n");
    assert!(!unknown.status.success());
}

/// A sign-in with a wrong password for `username`, sent through a proxy at 127.0.0.1 with
/// these forwarding headers; the status.
fn fail_through_proxy(app: &TestApp, username: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = ureq::post(&format!("{}{SIGN_IN}", app.base));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    match request.send_json(json!({"username": username, "password": "wrong wrong wrong"})) {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn a_client_behind_a_trusted_proxy_cannot_pick_the_address_its_failures_count_against() {
    // Review: the client's own `Forwarded` or the first `X-Forwarded-For` entry (which nginx's
    // `proxy_add_x_forwarded_for` keeps as the client sent it) named the address, so a new
    // made-up address each try was never throttled.
    let app = TestApp::spawn_with(|config| {
        config.trusted_proxies = vec![IpRange::parse("127.0.0.0/8").unwrap()];
    });
    for n in 0..codepup::throttle::MAX_PER_ADDRESS {
        let spoofed = format!("10.0.{}.{}", n / 250, n % 250 + 1);
        let headers = [
            ("Forwarded", format!("for={spoofed}")),
            ("X-Forwarded-For", format!("{spoofed}, 203.0.113.7")),
        ];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(fail_through_proxy(&app, &format!("user{n}"), &headers), 400);
    }
    let last = [("X-Forwarded-For", "10.9.9.9, 203.0.113.7")];
    assert_eq!(fail_through_proxy(&app, "someone", &last), 429);
    // The proxy's own address is not the client's: another client behind it still gets in line.
    let other = [("X-Forwarded-For", "198.51.100.1")];
    assert_eq!(fail_through_proxy(&app, "someone", &other), 400);
}
