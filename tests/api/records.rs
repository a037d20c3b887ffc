//! The records API's success shapes: users, orgs, teams, members, repos, schemes, projects.

use serde_json::{json, Value};

use crate::helpers::{make_git_repo, team_path, TestApp, World, ADMIN_TOKEN};

fn keys(value: &Value) -> Vec<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn a_superuser_creates_users_whose_token_is_shown_once_and_can_be_rotated() {
    let app = TestApp::spawn();
    let created = app
        .post(
            "/server/main/api/v3/users/",
            ADMIN_TOKEN,
            json!({"username": "dave", "nickname": "Dave"}),
        )
        .expect(201);
    assert_eq!(created.data()["username"], "dave");
    assert_eq!(created.data()["nickname"], "Dave");
    let token = created.data()["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);

    let me = app
        .get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(200);
    assert_eq!(
        me.data(),
        &json!({"username": "dave", "nickname": "Dave", "is_superuser": false, "status": 1})
    );
    assert!(
        !me.body.to_string().contains(&token),
        "userinfo must not show the token"
    );

    let duplicate = app
        .post(
            "/server/main/api/v3/users/",
            ADMIN_TOKEN,
            json!({"username": "dave"}),
        )
        .expect(400);
    assert_eq!(duplicate.invalid_fields(), ["username"]);
    app.post(
        "/server/main/api/v3/users/",
        &token,
        json!({"username": "eve"}),
    )
    .expect(403);

    let rotated = app
        .call(
            "PUT",
            "/server/main/api/v3/authen/userinfo/token/",
            Some(&token),
            crate::helpers::Body::None,
        )
        .expect(200);
    let new_token = rotated.data()["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    app.get("/server/main/api/v3/authen/userinfo/", &token)
        .expect(401);
    app.get("/server/main/api/v3/authen/userinfo/", new_token)
        .expect(200);
}

#[test]
fn orgs_are_created_listed_and_read_by_their_members() {
    let app = TestApp::spawn();
    let frank = app.create_user("frank");
    let org = app
        .post(
            "/server/main/api/v3/orgs/",
            &frank,
            json!({"name": "Frank's", "description": "d"}),
        )
        .expect(201);
    assert_eq!(
        keys(org.data()),
        [
            "id",
            "org_sid",
            "name",
            "description",
            "status",
            "level",
            "certificated",
            "owner",
            "created_time"
        ]
    );
    let org_sid = org.data()["org_sid"].as_str().unwrap().to_string();
    assert_eq!(org_sid.len(), 8);
    assert_eq!(org.data()["owner"], "frank");
    assert_eq!(org.data()["status"], 1);
    assert!(org.data()["created_time"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));

    app.post(
        "/server/main/api/v3/orgs/",
        ADMIN_TOKEN,
        json!({"name": "Admin's", "org_sid": "admins"}),
    )
    .expect(201);
    let taken = app
        .post(
            "/server/main/api/v3/orgs/",
            &frank,
            json!({"name": "x", "org_sid": "admins"}),
        )
        .expect(400);
    assert_eq!(taken.body["code"], 1061);

    let mine = app.get("/server/main/api/v3/orgs/", &frank).expect(200);
    let sids: Vec<&str> = mine.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["org_sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, [org_sid.as_str()]);
    let all = app
        .get("/server/main/api/v3/orgs/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(all.data()["count"], 2);
    // TCA's OrganizationSerializer (server/projects/main/apps/authen/serializers/base_org.py)
    // counts active teams, their repositories and members.
    let acme = app
        .get(&format!("/server/main/api/v3/orgs/{org_sid}/"), &frank)
        .expect(200);
    assert_eq!(
        (
            &acme.data()["team_count"],
            &acme.data()["repo_count"],
            &acme.data()["user_count"]
        ),
        (&json!(0), &json!(0), &json!(1))
    );

    app.get(&format!("/server/main/api/v3/orgs/{org_sid}/"), &frank)
        .expect(200);
    app.get("/server/main/api/v3/orgs/admins/", &frank)
        .expect(403);
    app.get("/server/main/api/v3/orgs/nosuch/", &frank)
        .expect(404);
}

#[test]
fn org_and_team_members_are_added_by_role_and_listed() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    app.create_user("gina");
    app.create_user("hank");
    app.create_user("ivan");
    let members = app
        .post(
            "/server/main/api/v3/orgs/acme/memberconf/",
            ADMIN_TOKEN,
            json!({"users": ["gina", "hank"], "role": 2}),
        )
        .expect(200);
    let usernames = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(usernames(&members.data()["admins"]), ["admin"]);
    assert_eq!(usernames(&members.data()["users"]), ["gina", "hank"]);
    let listed = app
        .get("/server/main/api/v3/orgs/acme/memberconf/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(listed.data(), members.data());

    let unknown = app
        .post(
            "/server/main/api/v3/orgs/acme/memberconf/",
            ADMIN_TOKEN,
            json!({"users": ["gina", "zed"], "role": 2}),
        )
        .expect(400);
    assert!(unknown.body["msg"].as_str().unwrap().contains("zed"));

    let team_members = format!(
        "/server/main/api/v3/orgs/acme/teams/{}/memberconf/",
        world.team
    );
    let team = app
        .post(
            &team_members,
            ADMIN_TOKEN,
            json!({"users": ["gina"], "role": 1}),
        )
        .expect(200);
    assert_eq!(usernames(&team.data()["admins"]), ["admin", "gina"]);
    let outsider = app
        .post(
            &team_members,
            ADMIN_TOKEN,
            json!({"users": ["ivan"], "role": 2}),
        )
        .expect(400);
    assert!(
        outsider.body["msg"].as_str().unwrap().contains("ivan"),
        "{}",
        outsider.body
    );
    let listed = app.get(&team_members, ADMIN_TOKEN).expect(200);
    assert_eq!(listed.data(), team.data());
}

#[test]
fn teams_are_created_listed_read_and_unique_per_org() {
    let app = TestApp::spawn();
    app.post(
        "/server/main/api/v3/orgs/",
        ADMIN_TOKEN,
        json!({"name": "Acme", "org_sid": "acme"}),
    )
    .expect(201);
    let team = app
        .post(
            "/server/main/api/v3/orgs/acme/teams/",
            ADMIN_TOKEN,
            json!({"name": "web-app", "display_name": "Web App"}),
        )
        .expect(201);
    assert_eq!(
        keys(team.data()),
        [
            "id",
            "name",
            "display_name",
            "description",
            "status",
            "org_sid",
            "created_time"
        ]
    );
    assert_eq!(team.data()["display_name"], "Web App");
    let duplicate = app
        .post(
            "/server/main/api/v3/orgs/acme/teams/",
            ADMIN_TOKEN,
            json!({"name": "web-app"}),
        )
        .expect(400);
    assert_eq!(duplicate.body["code"], 1021);
    let bad = app
        .post(
            "/server/main/api/v3/orgs/acme/teams/",
            ADMIN_TOKEN,
            json!({"name": "web app"}),
        )
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["name"]);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "api"}),
    )
    .expect(201);
    let list = app
        .get("/server/main/api/v3/orgs/acme/teams/", ADMIN_TOKEN)
        .expect(200);
    let names: Vec<&str> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web-app", "api"]);
    let one = app
        .get("/server/main/api/v3/orgs/acme/teams/web-app/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(one.data(), team.data());
    app.get("/server/main/api/v3/orgs/acme/teams/nope/", ADMIN_TOKEN)
        .expect(404);
}

#[test]
fn repositories_are_normalised_unique_per_team_listed_and_paginated() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let repos = format!("{}/repos/", world.team_path());
    let remote = app
        .post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": "https://GitHub.com/Tencent/CodeAnalysis.git", "scm_type": "git"}),
        )
        .expect(201);
    assert_eq!(
        remote.data()["scm_url"],
        "http://github.com/Tencent/CodeAnalysis"
    );
    assert_eq!(remote.data()["name"], "CodeAnalysis");
    assert_eq!(
        keys(remote.data()),
        [
            "id",
            "name",
            "scm_url",
            "scm_type",
            "branch_count",
            "scheme_count",
            "job_count",
            "created_time",
            "recent_active",
            "created_from",
            "creator",
            "scm_auth",
            "project_team",
            "ssh_url"
        ]
    );
    assert_eq!(
        remote.data()["project_team"],
        json!({"name": "web", "display_name": "web", "status": 1, "org_sid": "acme"})
    );
    assert_eq!(remote.data()["creator"]["username"], "admin");

    let again = app
        .post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": "git@github.com:Tencent/CodeAnalysis.git"}),
        )
        .expect(400);
    assert_eq!(again.body["code"], 1040);
    let svn = app
        .post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": "http://svn.example/x", "scm_type": "svn"}),
        )
        .expect(400);
    assert_eq!(svn.invalid_fields(), ["scm_type"]);

    for n in 0..3 {
        app.post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": format!("http://git.example/group/tool-{n}")}),
        )
        .expect(201);
    }
    let detail = app
        .get(&format!("{}/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(detail.data()["branch_count"], 1);
    assert_eq!(detail.data()["scheme_count"], 1);
    assert_eq!(detail.data()["job_count"], 0);

    let filtered = app
        .get(&format!("{repos}?scm_url_or_name=TOOL"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(filtered.data()["count"], 3);
    let exact = app
        .get(
            &format!("{repos}?scm_url=https%3A%2F%2Fgithub.com%2FTencent%2FCodeAnalysis.git"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(exact.data()["count"], 1);

    // Five repositories, two per page: follow `next` to the end, then `previous` back.
    let mut url = format!("{}{repos}?limit=2&scm_url_or_name=", app.base);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let path = url.strip_prefix(&app.base).unwrap().to_string();
        let page = app.get(&path, ADMIN_TOKEN).expect(200);
        assert_eq!(page.data()["count"], 5);
        for repo in page.data()["results"].as_array().unwrap() {
            seen.push(repo["id"].as_i64().unwrap());
        }
        pages += 1;
        match page.data()["next"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{}/server/main/api/", app.base)),
                    "{next}"
                );
                url = next.to_string();
            }
            None => {
                let previous = page.data()["previous"].as_str().unwrap();
                assert!(previous.contains("limit=2&offset=2"), "{previous}");
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "pages overlap or are not newest first");
    assert_eq!(seen.len(), 5);
}

#[test]
fn scheme_templates_and_repository_schemes_are_served() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let templates = app
        .get("/server/main/api/orgs/acme/schemes/", ADMIN_TOKEN)
        .expect(200);
    // Paginated, as TCA's `ScanSchemeTemplateListApiView` (a DRF ListAPIView) answers.
    assert_eq!(templates.data()["previous"], Value::Null);
    let default = &templates.data()["results"][0];
    assert_eq!(default["id"], 1);
    assert_eq!(default["name"], "default");
    assert_eq!(default["cloc_scan_enabled"], true);
    assert_eq!(default["repo"], Value::Null);

    let created = app
        .post(
            &format!("/server/main/api/v3/orgs/acme/teams/web/repos/{}/initscheme/", world.repo_id),
            ADMIN_TOKEN,
            json!({"name": "strict", "languages": ["Python", "go"], "tools": ["codecount"], "job_runtime_limit": 30}),
        )
        .expect(201);
    let scheme_id = created.data()["scan_scheme"].as_i64().unwrap();
    assert_eq!(created.data(), &json!({"scan_scheme": scheme_id}));

    let scheme = app
        .get(
            &format!("{}/schemes/{scheme_id}/", world.repo_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(scheme.data()["languages"], json!(["python", "go"]));
    assert_eq!(scheme.data()["job_runtime_limit"], 30);
    assert_eq!(scheme.data()["cloc_scan_enabled"], true);
    assert_eq!(scheme.data()["lint_enabled"], false);
    assert_eq!(
        scheme.data()["default_flag"],
        false,
        "the copied template was the repo's first scheme"
    );
    let list = app
        .get(&format!("{}/schemes/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    let ids: Vec<i64> = list.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [world.scheme_id, scheme_id]);

    let clash = app
        .post(
            &format!("{}/initscheme/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"name": "strict"}),
        )
        .expect(400);
    assert_eq!(clash.invalid_fields(), ["name"]);
    let unknown_tool = app
        .post(
            &format!("{}/initscheme/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"name": "x", "tools": ["rm -rf"]}),
        )
        .expect(400);
    assert_eq!(unknown_tool.invalid_fields(), ["tools"]);
    app.get(&format!("{}/schemes/999/", world.repo_path()), ADMIN_TOKEN)
        .expect(404);
    // A template is not one of the repository's schemes.
    app.get(&format!("{}/schemes/1/", world.repo_path()), ADMIN_TOKEN)
        .expect(404);
}

#[test]
fn projects_check_the_branch_are_idempotent_and_nest_repo_and_scheme() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    crate::helpers::git(&world.repo_dir, &["branch", "release/1.0"]);
    let projects = format!("{}/projects/", world.repo_path());

    let first = app
        .get(&format!("{projects}{}/", world.project_id), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        keys(first.data()),
        [
            "id",
            "branch",
            "repo",
            "scan_scheme",
            "scan_path",
            "status",
            "created_from",
            "creator",
            "project_key",
            "scm_initial_revision",
            "created_time",
            // codepup's: the project's schedule (issue 10).
            "scan_schedule"
        ]
    );
    // TCA's ProjectSerializer on CDBaseModelSerializer (server/projects/main/apps/codeproj/
    // serializers/base.py): `creator` is a UserSimpleSerializer object, `created_time` a
    // StringRelatedField (Python's str() of the datetime), `project_key` the SHA-256 of
    // `repo_id#scheme_id#branch#scan_path` (models/base.py, `gen_project_key`).
    assert_eq!(first.data()["creator"]["username"], "admin");
    let created = first.data()["created_time"].as_str().unwrap();
    assert_eq!(created.as_bytes()[10], b' ', "{created}");
    assert!(created.ends_with("+08:00"), "{created}");
    let key = first.data()["project_key"].as_str().unwrap();
    assert_eq!(key.len(), 64);
    assert_eq!(
        key,
        codepup::domain::project::project_key(
            codepup::domain::ids::RepoId(world.repo_id),
            codepup::domain::ids::SchemeId(world.scheme_id),
            "main",
            "/"
        )
    );
    assert_eq!(first.data()["repo"]["id"], world.repo_id);
    assert_eq!(first.data()["scan_scheme"]["refer_scheme"], 1);
    assert_eq!(
        first.data()["scm_initial_revision"].as_str().unwrap().len(),
        40
    );

    let again = app
        .post(
            &projects,
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 1}),
        )
        .expect(200);
    assert_eq!(again.data()["id"], world.project_id);
    let same_scheme = app
        .post(
            &projects,
            ADMIN_TOKEN,
            json!({"branch": "main", "scan_scheme_id": world.scheme_id, "scan_path": "/"}),
        )
        .expect(200);
    assert_eq!(same_scheme.data()["id"], world.project_id);

    let release = app
        .post(&projects, ADMIN_TOKEN, json!({"branch": "release/1.0", "scan_scheme_id": world.scheme_id, "scan_path": "/src/"}))
        .expect(201);
    assert_eq!(release.data()["scan_path"], "/src");

    let missing = app
        .post(
            &projects,
            ADMIN_TOKEN,
            json!({"branch": "nope", "global_scheme_id": 1}),
        )
        .expect(400);
    assert_eq!(missing.invalid_fields(), ["branch"]);
    assert!(
        missing.body["msg"].as_str().unwrap().contains("\"nope\""),
        "{}",
        missing.body
    );
    let both = app
        .post(
            &projects,
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 1, "scan_scheme_id": world.scheme_id}),
        )
        .expect(400);
    assert_eq!(both.invalid_fields(), ["scan_scheme_id"]);
    app.post(&projects, ADMIN_TOKEN, json!({"branch": "main"}))
        .expect(400);
    let no_template = app
        .post(
            &projects,
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 99}),
        )
        .expect(400);
    assert_eq!(no_template.invalid_fields(), ["global_scheme_id"]);

    let all = app.get(&projects, ADMIN_TOKEN).expect(200);
    assert_eq!(all.data()["count"], 2);
    let by_branch = app
        .get(&format!("{projects}?branch=release/1.0"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(by_branch.data()["count"], 1);
    let by_scheme = app
        .get(
            &format!("{projects}?scan_scheme={}&status=1", world.scheme_id),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(by_scheme.data()["count"], 2);
    let bad = app
        .get(&format!("{projects}?scan_scheme=abc"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["scan_scheme"]);
}

#[test]
fn every_route_also_answers_under_the_bare_api_prefix_and_v3() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let suffix = format!(
        "orgs/acme/teams/web/repos/{}/projects/{}/",
        world.repo_id, world.project_id
    );
    let full = app
        .get(&format!("/server/main/api/{suffix}"), ADMIN_TOKEN)
        .expect(200);
    let bare = app.get(&format!("/api/{suffix}"), ADMIN_TOKEN).expect(200);
    let v3 = app
        .get(&format!("/server/main/api/v3/{suffix}"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(full.body, bare.body);
    assert_eq!(full.body, v3.body);
}

#[test]
fn form_bodies_work_like_json_bodies() {
    let app = TestApp::spawn();
    let repo = make_git_repo(&app.repos_dir().join("formed"), &[("a.sh", "echo hi\n")]);
    app.post_form(
        "/server/main/api/v3/orgs/",
        ADMIN_TOKEN,
        &[("name", "Form Org"), ("org_sid", "form")],
    )
    .expect(201);
    app.post_form(
        "/server/main/api/v3/orgs/form/teams/",
        ADMIN_TOKEN,
        &[("name", "t")],
    )
    .expect(201);
    let created = app
        .post_form(
            &format!("{}/repos/", team_path("form", "t")),
            ADMIN_TOKEN,
            &[("scm_url", repo.to_str().unwrap()), ("scm_type", "git")],
        )
        .expect(201);
    let repo_id = created.data()["id"].as_i64().unwrap();
    let scheme = app
        .post_form(
            &format!("{}/repos/{repo_id}/initscheme/", team_path("form", "t")),
            ADMIN_TOKEN,
            &[
                ("name", "s"),
                ("languages", "python"),
                ("languages", "shell"),
                ("lint_enabled", "on"),
                ("job_runtime_limit", "15"),
            ],
        )
        .expect(201);
    let scheme_id = scheme.data()["scan_scheme"].as_i64().unwrap();
    let read = app
        .get(
            &format!(
                "{}/repos/{repo_id}/schemes/{scheme_id}/",
                team_path("form", "t")
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(read.data()["languages"], json!(["python", "shell"]));
    assert_eq!(read.data()["lint_enabled"], true);
    assert_eq!(read.data()["job_runtime_limit"], 15);
    let scheme_id_text = scheme_id.to_string();
    app.post_form(
        &format!("{}/repos/{repo_id}/projects/", team_path("form", "t")),
        ADMIN_TOKEN,
        &[("branch", "main"), ("scan_scheme_id", &scheme_id_text)],
    )
    .expect(201);
    app.create_user("jill");
    let members = app
        .post_form(
            "/server/main/api/v3/orgs/form/memberconf/",
            ADMIN_TOKEN,
            &[("users", "jill"), ("role", "2")],
        )
        .expect(200);
    assert_eq!(members.data()["users"][0]["username"], "jill");
}

#[test]
fn a_repositorys_recent_active_names_the_project_of_the_job_that_started_last() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let (job, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job, std::time::Duration::from_secs(60));
    let repo = app
        .get(&format!("{}/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    let recent = &repo.data()["recent_active"];
    assert_eq!(
        recent["id"], world.project_id,
        "TCA puts the project's id here: {recent}"
    );
    assert_eq!(recent["branch_name"], "main");
    assert_eq!(
        recent["active_time"], detail["start_time"],
        "{recent} {detail}"
    );
    assert_eq!(repo.data()["scheme_count"], 1);
}
