//! Bad input never panics, never gets an HTML page, and changes nothing already stored.

use serde_json::json;

use crate::helpers::{Body, TestApp, World, ADMIN_TOKEN};

/// `Authorization` and `Host` lines of a raw request with the admin's token.
fn raw_auth() -> String {
    format!("Host: codepup\r\nAuthorization: Token {ADMIN_TOKEN}\r\nConnection: close\r\n")
}

fn org_count(app: &TestApp) -> usize {
    app.get("/server/main/api/v3/orgs/", ADMIN_TOKEN)
        .expect(200)
        .data()["results"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn malformed_and_non_object_bodies_get_envelopes_and_create_nothing() {
    let app = TestApp::spawn();
    let before = org_count(&app);
    let cases: [(&str, &[u8]); 5] = [
        ("application/json", b"{\"name\": "),
        ("application/json", b"[\"name\"]"),
        ("application/json", b"\"just a string\""),
        ("application/json", b"{\"name\": \"\xff\xfe\"}"),
        ("application/json", b"{\"name\": \"x\"} trailing"),
    ];
    for (content_type, bytes) in cases {
        let reply = app.call(
            "POST",
            "/server/main/api/v3/orgs/",
            Some(ADMIN_TOKEN),
            Body::Raw(content_type, bytes.to_vec()),
        );
        assert_eq!(
            reply.status,
            400,
            "{content_type} {:?}: {}",
            String::from_utf8_lossy(bytes),
            reply.body
        );
    }
    // DRF's text for a body that is no object, in the Chinese TCA answers with (TCA_API.md §2.3).
    let list = app
        .call(
            "POST",
            "/server/main/api/v3/orgs/",
            Some(ADMIN_TOKEN),
            Body::Json(json!([{"name": "x"}])),
        )
        .expect(400);
    assert_eq!(
        list.body["msg"],
        "non_field_errors 无效数据。期待为字典类型，得到的是 list 。"
    );
    assert_eq!(list.invalid_fields(), ["non_field_errors"]);
    let xml = app.call(
        "POST",
        "/server/main/api/v3/orgs/",
        Some(ADMIN_TOKEN),
        Body::Raw("text/xml", b"<org/>".to_vec()),
    );
    assert_eq!(xml.status, 415);
    assert_eq!(org_count(&app), before);
}

#[test]
fn wrong_types_are_named_in_invalid_fields() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let reply = app
        .post(
            &format!("{}/initscheme/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"name": ["x"], "lint_enabled": "maybe", "job_runtime_limit": "ten", "languages": "python", "cloc_scan_enabled": null}),
        )
        .expect(400);
    assert_eq!(
        reply.invalid_fields(),
        [
            "name",
            "languages",
            "lint_enabled",
            "cloc_scan_enabled",
            "job_runtime_limit"
        ]
    );
    assert_eq!(reply.body["msg"], "name Not a valid string.");
    assert_eq!(
        reply.body["invalid_fields"][2],
        json!({"field": "lint_enabled", "message": ["Must be a valid boolean."]})
    );
    let too_long = app
        .post(
            &format!("{}/initscheme/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"name": "x", "job_runtime_limit": 0}),
        )
        .expect(400);
    assert_eq!(too_long.invalid_fields(), ["job_runtime_limit"]);
    let missing = app
        .post("/server/main/api/v3/users/", ADMIN_TOKEN, json!({}))
        .expect(400);
    assert_eq!(missing.body["msg"], "username This field is required.");
    let schemes = app
        .get(&format!("{}/schemes/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(schemes.data()["count"], 1);
}

#[test]
fn unknown_routes_bad_ids_and_wrong_methods_get_envelopes() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    for path in [
        "/server/main/api/nothing/here/".to_string(),
        format!("{}/repos/abc/", world.team_path()),
        format!("{}/repos/99999999999999999999999/", world.team_path()),
        format!("{}/projects/1x/", world.repo_path()),
        "/assets/missing.js".to_string(),
    ] {
        let reply = app.get(&path, ADMIN_TOKEN);
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{path}: {}",
            reply.content_type
        );
    }
    let wrong = app
        .call(
            "DELETE",
            &format!("{}/", world.repo_path()),
            Some(ADMIN_TOKEN),
            Body::None,
        )
        .expect(405);
    assert_eq!(wrong.body["msg"], "方法 “DELETE” 不被允许。");
    // RFC 9110: a 405 lists the methods the resource takes (schemathesis checks it).
    assert_eq!(wrong.header("allow"), Some("GET"));
    let wrong = app
        .call(
            "PUT",
            "/server/main/api/v3/orgs/",
            Some(ADMIN_TOKEN),
            Body::Json(json!({})),
        )
        .expect(405);
    assert_eq!(wrong.header("allow"), Some("GET, POST"));
    let wrong = app.call("TRACE", "/", None, Body::None).expect(405);
    assert_eq!(wrong.header("allow"), Some("GET"));
    // A GET without the trailing slash is redirected to the slashed route, as in TCA.
    let redirect = app.get(&world.repo_path(), ADMIN_TOKEN).expect(301);
    assert_eq!(
        redirect.header("location"),
        Some(format!("{}/", world.repo_path()).as_str())
    );
}

#[test]
fn a_body_over_one_mebibyte_is_refused_with_413() {
    let app = TestApp::spawn();
    let before = org_count(&app);
    let huge = json!({"name": "x", "description": "d".repeat(1024 * 1024 + 10)});
    let reply = app
        .post("/server/main/api/v3/orgs/", ADMIN_TOKEN, huge)
        .expect(413);
    assert!(reply.body["msg"].as_str().unwrap().contains("1 MiB"));
    assert_eq!(org_count(&app), before);
}

#[test]
fn an_internal_error_is_a_500_envelope_that_shows_no_internals() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF; DROP TABLE projects;")
        .unwrap();
    let reply = app
        .get(&format!("{}/projects/", world.repo_path()), ADMIN_TOKEN)
        .expect(500);
    assert_eq!(
        reply.body,
        json!({"status_code": 500, "code": 1000, "msg": "internal error"})
    );
    let text = reply.body.to_string().to_lowercase();
    assert!(!text.contains("sql") && !text.contains("table"));
}

#[test]
fn local_repositories_must_lie_below_an_allowed_root() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let repos = format!("{}/repos/", world.team_path());
    let outside = tempfile::tempdir().unwrap();
    crate::helpers::make_git_repo(outside.path(), &[("a.txt", "a\n")]);
    let refused = app
        .post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": outside.path().to_str().unwrap()}),
        )
        .expect(400);
    assert!(
        refused.body["msg"]
            .as_str()
            .unwrap()
            .contains("--allow-local-repos"),
        "{}",
        refused.body
    );
    let escape = format!("{}/../../", world.repo_dir.to_str().unwrap());
    app.post(&repos, ADMIN_TOKEN, json!({"scm_url": escape}))
        .expect(400);
    for url in ["-uhttp://evil/x", "ext::sh -c id", "ftp://host/x", "fd::3"] {
        let reply = app
            .post(&repos, ADMIN_TOKEN, json!({"scm_url": url}))
            .expect(400);
        assert_eq!(reply.invalid_fields(), ["scm_url"], "{url}: {}", reply.body);
    }
    let inside =
        crate::helpers::make_git_repo(&app.repos_dir().join("inside"), &[("b.txt", "b\n")]);
    let accepted = app
        .post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": format!("file://{}", inside.display())}),
        )
        .expect(201);
    assert!(accepted.data()["scm_url"]
        .as_str()
        .unwrap()
        .starts_with("file:///"));
}

#[test]
fn a_server_without_local_roots_refuses_every_local_repository() {
    let app = TestApp::spawn_with(|config| config.local_repo_roots.clear());
    app.post(
        "/server/main/api/v3/orgs/",
        ADMIN_TOKEN,
        json!({"name": "A", "org_sid": "a"}),
    )
    .expect(201);
    app.post(
        "/server/main/api/v3/orgs/a/teams/",
        ADMIN_TOKEN,
        json!({"name": "t"}),
    )
    .expect(201);
    let repo = crate::helpers::make_git_repo(&app.repos_dir().join("r"), &[("x", "x\n")]);
    let reply = app
        .post(
            "/server/main/api/orgs/a/teams/t/repos/",
            ADMIN_TOKEN,
            json!({"scm_url": repo.to_str().unwrap()}),
        )
        .expect(400);
    let msg = reply.body["msg"].as_str().unwrap();
    assert!(
        msg.contains("not allowed") && msg.contains("CODEPUP_LOCAL_REPO_ROOTS"),
        "{msg}"
    );
}

#[test]
fn the_status_page_and_its_assets_are_served_with_their_types() {
    let app = TestApp::spawn();
    let index = app.call("GET", "/", None, Body::None).expect(200);
    assert!(index.content_type.starts_with("text/html"));
    assert!(index.body.as_str().unwrap().contains("codepup-status-page"));
    for path in codepup::web::asset_paths() {
        let reply = app
            .call("GET", &format!("/assets/{path}"), None, Body::None)
            .expect(200);
        assert_eq!(
            reply.content_type,
            codepup::web::content_type(&path),
            "{path}"
        );
    }
}

#[test]
fn heads_actix_cannot_parse_get_its_bare_answer_and_a_closed_connection() {
    // Issue 8, hole 6. actix-http's HTTP/1 decoder refuses these while reading the request head,
    // before any codepup code (handler, extractor or middleware) runs, and answers them itself
    // with no body. README.md ("What actix answers itself") lists them; this test keeps that
    // list true.
    let app = TestApp::spawn();
    let auth = raw_auth();
    let jobs = "/server/main/api/v3/jobs/";
    let long = "a".repeat(70_000);
    let huge = "a".repeat(140_000);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "a control byte in a header value",
            format!("GET {jobs} HTTP/1.1\r\n{auth}X-Bad: a\x01b\r\n\r\n").into_bytes(),
            400,
        ),
        (
            "a space in a header name",
            format!("GET {jobs} HTTP/1.1\r\n{auth}X Bad: b\r\n\r\n").into_bytes(),
            400,
        ),
        (
            "raw non-ASCII in the path",
            format!("GET /server/main/api/orgs/\u{e9}/ HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            400,
        ),
        (
            "a raw byte 0xff in the query",
            [
                format!("GET {jobs}?creator=").as_bytes(),
                b"\xff",
                format!(" HTTP/1.1\r\n{auth}\r\n").as_bytes(),
            ]
            .concat(),
            400,
        ),
        (
            "a URL over 64 KiB",
            format!("GET {jobs}?creator={long} HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            400,
        ),
        (
            "a request head over 128 KiB",
            format!("GET {jobs} HTTP/1.1\r\n{auth}X-Big: {huge}\r\n\r\n").into_bytes(),
            431,
        ),
        (
            "a Content-Length that is not a number",
            format!("POST /server/main/api/v3/orgs/ HTTP/1.1\r\n{auth}Content-Length: ten\r\n\r\n")
                .into_bytes(),
            400,
        ),
        (
            "HTTP/1.1 without a Host",
            format!("GET {jobs} HTTP/1.1\r\nAuthorization: Token {ADMIN_TOKEN}\r\n\r\n")
                .into_bytes(),
            400,
        ),
    ];
    for (what, request, status) in cases {
        let reply = app.raw(&request);
        assert_eq!(reply.status, status, "{what}: {reply:?}");
        assert_eq!(
            reply.header("content-length"),
            Some("0"),
            "{what}: {reply:?}"
        );
        assert_eq!(
            reply.header("connection"),
            Some("close"),
            "{what}: {reply:?}"
        );
        assert!(reply.body.is_empty(), "{what}: {reply:?}");
    }
    // The server goes on serving.
    let reply = app.raw(format!("GET {jobs} HTTP/1.1\r\n{auth}\r\n").as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.envelope();
}

#[test]
fn odd_bytes_that_reach_codepup_get_envelopes() {
    // The neighbours of the cases above that actix lets through: they reach codepup, and every
    // answer is an envelope.
    let app = TestApp::spawn();
    let auth = raw_auth();
    let jobs = "/server/main/api/v3/jobs/";
    let just_under = "a".repeat(60_000);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "bytes over 0x7f in a header value",
            [
                format!("GET {jobs} HTTP/1.1\r\n{auth}X-Other: ").as_bytes(),
                b"\xff\xfe",
                b"\r\n\r\n",
            ]
            .concat(),
            200,
        ),
        (
            "bytes over 0x7f in the token",
            [
                format!(
                    "GET {jobs} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Token "
                )
                .as_bytes(),
                b"\xff\xfe",
                b"\r\n\r\n",
            ]
            .concat(),
            401,
        ),
        (
            "percent-encoded non-UTF-8 in the path",
            format!("GET /server/main/api/orgs/%FF/teams/ HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            404,
        ),
        (
            "percent-encoded non-ASCII in the path",
            format!("GET /server/main/api/orgs/%C3%A9/teams/ HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            404,
        ),
        (
            "percent-encoded non-UTF-8 in the query",
            format!("GET {jobs}?limit=%FF&creator=%C3 HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            200,
        ),
        (
            "a URL just under 64 KiB",
            format!("GET {jobs}?creator={just_under} HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            200,
        ),
        (
            "an absolute-form target",
            format!("GET http://codepup{jobs} HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            200,
        ),
        (
            "the asterisk target",
            format!("OPTIONS * HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            404,
        ),
        (
            "a method no route has",
            format!("BREW {jobs} HTTP/1.1\r\n{auth}\r\n").into_bytes(),
            405,
        ),
    ];
    for (what, request, status) in cases {
        let reply = app.raw(&request);
        assert_eq!(reply.status, status, "{what}: {reply:?}");
        reply.envelope();
    }
}

/// A `multipart/form-data` body as curl `-F` sends it: text parts, and file parts with a
/// `filename`.
fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "------------------------d74496d66958873e";
    let mut body = String::new();
    for (name, file_name, value) in parts {
        body.push_str(&format!("--{boundary}\r\n"));
        match file_name {
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )),
        }
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

#[test]
fn multipart_text_fields_read_as_a_form_and_file_parts_are_refused() {
    // Issue 13: TCA's views parse multipart/form-data (DRF's MultiPartParser); codepup said 415.
    let app = TestApp::spawn();
    let before = org_count(&app);
    let (content_type, body) = multipart(&[("name", None, "Multi"), ("org_sid", None, "multi")]);
    let created = app
        .call(
            "POST",
            "/server/main/api/v3/orgs/",
            Some(ADMIN_TOKEN),
            Body::Raw(&content_type, body),
        )
        .expect(201);
    assert_eq!(created.data()["org_sid"], "multi", "{}", created.body);
    assert_eq!(created.data()["name"], "Multi");

    // A repeated key is a list, as in a urlencoded form.
    app.create_user("ann");
    app.create_user("bob");
    let (content_type, body) = multipart(&[
        ("users", None, "ann"),
        ("users", None, "bob"),
        ("role", None, "2"),
    ]);
    app.call(
        "POST",
        "/server/main/api/v3/orgs/multi/memberconf/",
        Some(ADMIN_TOKEN),
        Body::Raw(&content_type, body),
    )
    .expect(200);
    let members = app
        .get("/server/main/api/v3/orgs/multi/memberconf/", ADMIN_TOKEN)
        .expect(200);
    let text = members.body.to_string();
    assert!(
        text.contains("\"ann\"") && text.contains("\"bob\""),
        "{text}"
    );

    // A file part: a 400 naming the field, and nothing made.
    let (content_type, body) = multipart(&[
        ("name", None, "Files"),
        ("org_sid", Some("org.txt"), "files"),
    ]);
    let refused = app
        .call(
            "POST",
            "/server/main/api/v3/orgs/",
            Some(ADMIN_TOKEN),
            Body::Raw(&content_type, body),
        )
        .expect(400);
    assert_eq!(refused.invalid_fields(), ["org_sid"], "{}", refused.body);
    // No boundary, or a body that is not what the boundary says: 400 envelopes.
    for (content_type, body) in [
        ("multipart/form-data", b"name=x".to_vec()),
        (
            "multipart/form-data; boundary=zzz",
            b"--zzz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nunterminated".to_vec(),
        ),
    ] {
        app.call(
            "POST",
            "/server/main/api/v3/orgs/",
            Some(ADMIN_TOKEN),
            Body::Raw(content_type, body),
        )
        .expect(400);
    }
    // The body limit holds for multipart too.
    let big = "x".repeat(1024 * 1024);
    let (content_type, body) = multipart(&[("name", None, &big), ("org_sid", None, "big")]);
    app.call(
        "POST",
        "/server/main/api/v3/orgs/",
        Some(ADMIN_TOKEN),
        Body::Raw(&content_type, body),
    )
    .expect(413);
    assert_eq!(org_count(&app), before + 1);
}
