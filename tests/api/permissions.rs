//! The 401/403/404 matrix (TCA_API.md §3.3) for every kind of caller on the records API.

use serde_json::{json, Value};

use crate::helpers::{Body, TestApp, World, ADMIN_TOKEN};

struct Cast {
    org_admin: String,
    team_admin: String,
    member: String,
    other_team_member: String,
    outsider: String,
}

fn cast(app: &TestApp, world: &World) -> Cast {
    let cast = Cast {
        org_admin: app.create_user("org_admin"),
        team_admin: app.create_user("team_admin"),
        member: app.create_user("member"),
        other_team_member: app.create_user("other_member"),
        outsider: app.create_user("outsider"),
    };
    let org = "/server/main/api/v3/orgs/acme/memberconf/";
    app.post(org, ADMIN_TOKEN, json!({"users": ["org_admin"], "role": 1}))
        .expect(200);
    app.post(
        org,
        ADMIN_TOKEN,
        json!({"users": ["team_admin", "member", "other_member"], "role": 2}),
    )
    .expect(200);
    let team = format!(
        "/server/main/api/v3/orgs/acme/teams/{}/memberconf/",
        world.team
    );
    app.post(
        &team,
        ADMIN_TOKEN,
        json!({"users": ["team_admin"], "role": 1}),
    )
    .expect(200);
    app.post(&team, ADMIN_TOKEN, json!({"users": ["member"], "role": 2}))
        .expect(200);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/other/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["other_member"], "role": 2}),
    )
    .expect(200);
    cast
}

/// One request: a name, a method, a path and a body that would succeed for an allowed caller.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    /// Expected status for: superuser, org admin, team admin, member, other-team member, outsider.
    expected: [u16; 6],
}

#[test]
fn each_kind_of_caller_gets_the_status_tca_gives() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let cast = cast(&app, &world);
    let team = world.team_path();
    let repo = world.repo_path();
    let project = format!("{repo}/projects/{}/", world.project_id);
    let mut n = 0;
    let mut unique = |prefix: &str| {
        n += 1;
        format!("{prefix}{n}")
    };
    let cases = vec![
        Case {
            name: "read team",
            method: "GET",
            path: format!("{team}/"),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "list repos",
            method: "GET",
            path: format!("{team}/repos/"),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "read repo",
            method: "GET",
            path: format!("{repo}/"),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "list schemes",
            method: "GET",
            path: format!("{repo}/schemes/"),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "read project",
            method: "GET",
            path: project.clone(),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "list projects",
            method: "GET",
            path: format!("{repo}/projects/"),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "team members",
            method: "GET",
            path: format!("{team}/memberconf/"),
            body: None,
            expected: [200, 200, 200, 200, 403, 403],
        },
        Case {
            name: "templates",
            method: "GET",
            path: "/server/main/api/orgs/acme/schemes/".into(),
            body: None,
            expected: [200, 200, 200, 200, 200, 403],
        },
        Case {
            name: "read org",
            method: "GET",
            path: "/server/main/api/v3/orgs/acme/".into(),
            body: None,
            expected: [200, 200, 200, 200, 200, 403],
        },
        Case {
            name: "register repo",
            method: "POST",
            path: format!("{team}/repos/"),
            body: Some(json!({"scm_url": "http://git.example/x/REPLACE"})),
            expected: [201, 201, 201, 403, 403, 403],
        },
        Case {
            name: "make scheme",
            method: "POST",
            path: format!("{repo}/initscheme/"),
            body: Some(json!({"name": "REPLACE"})),
            expected: [201, 201, 201, 201, 403, 403],
        },
        Case {
            name: "make project",
            method: "POST",
            path: format!("{repo}/projects/"),
            body: Some(
                json!({"branch": "main", "global_scheme_id": 1, "custom_scheme_name": "REPLACE"}),
            ),
            expected: [201, 201, 201, 201, 403, 403],
        },
        Case {
            name: "team members change",
            method: "POST",
            path: format!("{team}/memberconf/"),
            body: Some(json!({"users": ["member"], "role": 2})),
            expected: [200, 200, 200, 403, 403, 403],
        },
        Case {
            name: "org members change",
            method: "POST",
            path: "/server/main/api/v3/orgs/acme/memberconf/".into(),
            body: Some(json!({"users": ["member"], "role": 2})),
            expected: [200, 200, 403, 403, 403, 403],
        },
        Case {
            name: "make team",
            method: "POST",
            path: "/server/main/api/v3/orgs/acme/teams/".into(),
            body: Some(json!({"name": "REPLACE"})),
            expected: [201, 201, 201, 201, 201, 403],
        },
    ];
    let callers = [
        ("superuser", ADMIN_TOKEN),
        ("org admin", cast.org_admin.as_str()),
        ("team admin", cast.team_admin.as_str()),
        ("member", cast.member.as_str()),
        ("other team member", cast.other_team_member.as_str()),
        ("outsider", cast.outsider.as_str()),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        for ((who, token), expected) in callers.iter().zip(case.expected) {
            let body = case.body.as_ref().map(|body| {
                let text = body.to_string().replace("REPLACE", &unique("n"));
                serde_json::from_str(&text).unwrap()
            });
            let reply = app.call(
                case.method,
                &case.path,
                Some(token),
                body.map_or(Body::None, Body::Json),
            );
            if reply.status != expected {
                failures.push(format!(
                    "{} as {who}: expected {expected}, got {} {}",
                    case.name, reply.status, reply.body
                ));
            }
            if reply.status == 403 {
                assert_eq!(reply.body["msg"], "您没有执行该操作的权限。");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn missing_objects_are_404_for_those_who_may_see_their_team_and_403_for_the_others() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let cast = cast(&app, &world);
    // An org or team that does not exist is 404 for everyone, the superuser included.
    for token in [ADMIN_TOKEN, cast.member.as_str(), cast.outsider.as_str()] {
        for path in [
            "/server/main/api/orgs/nosuch/teams/web/",
            "/server/main/api/orgs/acme/teams/nosuch/repos/",
        ] {
            let reply = app.get(path, token).expect(404);
            // TCA's 404 (TCA_API.md §2.3: DRF's `NotFound` through TCA's exception handler)
            // has these three keys and no other.
            assert_eq!(
                reply.body,
                json!({"status_code": 404, "code": 1000, "msg": "未找到。"})
            );
        }
    }
    // Below a team, only those who may see the team learn that an id is missing; everyone else
    // gets the 403 they would get for an id that exists (see jobs_permissions.rs).
    let below = [
        format!("{}/repos/999/", world.team_path()),
        format!("{}/projects/999/", world.repo_path()),
        "/server/main/api/orgs/acme/teams/other/repos/1/".to_string(),
    ];
    for path in &below {
        let reply = app.get(path, ADMIN_TOKEN).expect(404);
        assert_eq!(reply.body["msg"], "未找到。");
        app.get(path, &cast.outsider).expect(403);
    }
    app.get(&below[0], &cast.member).expect(404);
    app.get(&below[1], &cast.member).expect(404);
    app.get(&below[2], &cast.member).expect(403);
}

#[test]
fn requests_without_a_valid_token_get_401_with_a_challenge() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = format!("{}/", world.repo_path());
    let cases: [(Option<&str>, &str); 5] = [
        (None, "身份认证信息未提供。"),
        (Some("Bearer abc"), "身份认证信息未提供。"),
        (Some("Token"), "没有提供认证信息（认证令牌HTTP头无效）。"),
        (
            Some("Token a b"),
            "认证令牌字符串不应该包含空格（无效的认证令牌HTTP头）。",
        ),
        (
            Some("Token 0123456789abcdef0123456789abcdef01234567"),
            "认证令牌无效。",
        ),
    ];
    for (header, msg) in cases {
        let url = format!("{}{path}", app.base);
        let mut request = ureq::get(&url);
        if let Some(header) = header {
            request = request.set("Authorization", header);
        }
        let response = match request.call() {
            Err(ureq::Error::Status(_, response)) => response,
            other => panic!("expected 401 for {header:?}, got {other:?}"),
        };
        assert_eq!(response.status(), 401);
        assert_eq!(response.header("www-authenticate"), Some("Token"));
        let body: Value = response.into_json().unwrap();
        assert_eq!(body, json!({"status_code": 401, "code": 1000, "msg": msg}));
    }
    // The keyword is case-insensitive.
    let lower = ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("token {ADMIN_TOKEN}"))
        .call();
    assert_eq!(lower.unwrap().status(), 200);
}
