//! A repository's branch lists and changing or deleting a project, as TCA's UI and API
//! clients use them: `repos/<id>/branchnames/` and `branch/projects/` (apps/codeproj/apis/v3.py),
//! the v1 `repos/<id>/branches/` (apps/codeproj/apis/v1.py, `ScanBranchSerializer`), and
//! `PUT`/`DELETE .../projects/<id>/` (`ProjectDetailApiView`, `ProjectUpdatetSerializer`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, git, process_running, Body, TestApp, World, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(30);

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn add_member(app: &TestApp, username: &str, team_role: Option<i64>) -> String {
    let token = app.create_user(username);
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": [username], "role": 2}),
    )
    .expect(200);
    if let Some(role) = team_role {
        app.post(
            "/server/main/api/v3/orgs/acme/teams/web/memberconf/",
            ADMIN_TOKEN,
            json!({"users": [username], "role": role}),
        )
        .expect(200);
    }
    token
}

/// A scheme of the world's repository; returns its id.
fn scheme(app: &TestApp, world: &World, name: &str) -> i64 {
    app.post(
        &format!("{}/initscheme/", world.repo_path()),
        ADMIN_TOKEN,
        json!({"name": name}),
    )
    .expect(201)
    .data()["scan_scheme"]
        .as_i64()
        .unwrap()
}

/// A project of the world's repository on `branch` with scheme `scheme_id`, made by `token`.
fn project(app: &TestApp, world: &World, token: &str, branch: &str, scheme_id: i64) -> i64 {
    let reply = app.post(
        &format!("{}/projects/", world.repo_path()),
        token,
        json!({"branch": branch, "scan_scheme_id": scheme_id}),
    );
    assert!(reply.status == 200 || reply.status == 201, "{}", reply.body);
    reply.data()["id"].as_i64().unwrap()
}

/// The world (a project on `main`), a second scheme `lint` with projects on `main` and `dev`;
/// returns (world, lint scheme, project on main with lint, project on dev).
fn branched() -> (TestApp, World, i64, i64, i64) {
    let app = TestApp::spawn();
    let world = World::build(&app);
    git(&world.repo_dir, &["branch", "dev"]);
    let lint = scheme(&app, &world, "lint");
    let main_lint = project(&app, &world, ADMIN_TOKEN, "main", lint);
    let dev = project(&app, &world, ADMIN_TOKEN, "dev", world.scheme_id);
    (app, world, lint, main_lint, dev)
}

fn v3_repo(world: &World) -> String {
    world
        .repo_path()
        .replace("/server/main/api/", "/server/main/api/v3/")
}

#[test]
fn branchnames_lists_the_branches_that_have_projects_once_each_and_filters_by_substring() {
    let (app, world, _, _, _) = branched();
    let page = app
        .get(
            &format!("{}/branchnames/?offset=0&limit=500", v3_repo(&world)),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(keys(page.data()), ["count", "next", "previous", "results"]);
    assert_eq!(page.data()["count"], 2);
    assert_eq!(
        page.data()["results"],
        json!([{"branch": "dev"}, {"branch": "main"}])
    );
    let dev = app
        .get(
            &format!("{}/branchnames/?branch=DE", world.repo_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(dev.data()["results"], json!([{"branch": "dev"}]));
    let first = app
        .get(
            &format!("{}/branchnames/?limit=1", world.repo_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(first.data()["count"], 2);
    assert_eq!(first.data()["results"], json!([{"branch": "dev"}]));
    assert!(first.data()["next"]
        .as_str()
        .unwrap()
        .ends_with("/branchnames/?limit=1&offset=1"));
}

#[test]
fn the_v1_branch_list_gives_each_branch_with_the_schemes_of_its_projects() {
    let (app, world, lint, main_lint, dev) = branched();
    let page = app
        .get(&format!("{}/branches/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(page.data()["count"], 2);
    let branches = page.data()["results"].as_array().unwrap();
    for branch in branches {
        assert_eq!(keys(branch), ["branch", "schemes"]);
    }
    assert_eq!(
        branches[0],
        json!({"branch": "dev", "schemes": [
            {"project_id": dev, "scan_scheme_id": world.scheme_id, "scan_scheme_name": "default"}
        ]})
    );
    assert_eq!(
        branches[1],
        json!({"branch": "main", "schemes": [
            {"project_id": world.project_id, "scan_scheme_id": world.scheme_id, "scan_scheme_name": "default"},
            {"project_id": main_lint, "scan_scheme_id": lint, "scan_scheme_name": "lint"}
        ]})
    );
    // scheme_status keeps branches with a project of a scheme in that status; TCA ignores a
    // value that is not a number.
    let retired = app
        .get(
            &format!("{}/branches/?scheme_status=2", world.repo_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(retired.data()["count"], 0);
    let ignored = app
        .get(
            &format!("{}/branches/?scheme_status=x", world.repo_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(ignored.data()["count"], 2);
}

#[test]
fn branch_projects_lists_a_branchs_projects_with_active_schemes_and_needs_the_branch() {
    let (app, world, _, main_lint, dev) = branched();
    let path = format!("{}/branch/projects/", v3_repo(&world));
    let main = app
        .get(&format!("{path}?branch=main&scheme_status=1"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        main.data(),
        &json!([
            {"id": world.project_id, "branch": "main", "scan_scheme__name": "default"},
            {"id": main_lint, "branch": "main", "scan_scheme__name": "lint"}
        ])
    );
    let on_dev = app
        .get(&format!("{path}?branch=dev"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        on_dev.data(),
        &json!([{"id": dev, "branch": "dev", "scan_scheme__name": "default"}])
    );
    let none = app
        .get(&format!("{path}?branch=nope"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(none.data(), &json!([]));
    let retired = app
        .get(&format!("{path}?branch=main&scheme_status=2"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(retired.data(), &json!([]));

    let missing = app.get(&path, ADMIN_TOKEN).expect(400);
    assert_eq!(missing.body["msg"], "branch 分支名称筛选项必填");
    assert_eq!(missing.invalid_fields(), ["branch"]);
    let bad = app
        .get(&format!("{path}?branch=main&scheme_status=x"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["scheme_status"]);
}

#[test]
fn the_branch_lists_are_for_the_team_404_for_other_repositories_and_checked_before_input() {
    let (app, world, _, _, _) = branched();
    let member = add_member(&app, "member", Some(2));
    let outsider = add_member(&app, "outsider", None);
    for list in ["branchnames/", "branches/", "branch/projects/?branch=main"] {
        let path = format!("{}/{list}", world.repo_path());
        app.get(&path, &member).expect(200);
        app.get(&path, &outsider).expect(403);
        app.call("GET", &path, None, Body::None).expect(401);
        app.get(
            &path.replace(&format!("/repos/{}/", world.repo_id), "/repos/999/"),
            ADMIN_TOKEN,
        )
        .expect(404);
    }
    // An outsider learns nothing from a missing branch either.
    app.get(
        &format!("{}/branch/projects/", world.repo_path()),
        &outsider,
    )
    .expect(403);
}

// --- Changing a project ----------------------------------------------------------------------------

fn put(app: &TestApp, path: &str, token: &str, body: Value) -> crate::helpers::Reply {
    app.call("PUT", path, Some(token), Body::Json(body))
}

#[test]
fn put_changes_a_projects_status_and_scheme_but_never_its_branch() {
    let (app, world, lint, main_lint, _) = branched();
    let path = format!("{}/", world.project_path());

    let inactive = put(&app, &path, ADMIN_TOKEN, json!({"status": 2})).expect(200);
    assert_eq!(inactive.data()["status"], 2);
    assert_eq!(inactive.data()["id"], world.project_id);
    assert_eq!(
        keys(inactive.data()),
        keys(app.get(&path, ADMIN_TOKEN).expect(200).data())
    );
    assert_eq!(app.get(&path, ADMIN_TOKEN).expect(200).data()["status"], 2);
    // PATCH does the same, as in TCA's RetrieveUpdateDestroyAPIView.
    let patched = app.call(
        "PATCH",
        &path,
        Some(ADMIN_TOKEN),
        Body::Json(json!({"status": 2})),
    );
    assert_eq!(patched.expect(200).data()["status"], 2);
    // Form bodies too, as TCA's parsers take them.
    let form = app.call(
        "PUT",
        &path,
        Some(ADMIN_TOKEN),
        Body::Form(&[("status", "1")]),
    );
    assert_eq!(form.expect(200).data()["status"], 1);

    // Another scheme of the repository: the project now scans with it.
    let third = scheme(&app, &world, "third");
    let moved = put(&app, &path, ADMIN_TOKEN, json!({"scan_scheme_id": third})).expect(200);
    assert_eq!(moved.data()["scan_scheme"]["id"], third);
    assert_eq!(moved.data()["branch"], "main");
    // ... but not the scheme another project already scans that branch with.
    let taken = put(&app, &path, ADMIN_TOKEN, json!({"scan_scheme_id": lint})).expect(400);
    assert_eq!(taken.invalid_fields(), ["scan_scheme_id"]);
    assert!(taken.body["msg"]
        .as_str()
        .unwrap()
        .contains(&main_lint.to_string()));
    // A template is not a scheme of this repository.
    put(&app, &path, ADMIN_TOKEN, json!({"scan_scheme_id": 1})).expect(400);

    // TCA's choices and rule: an archived project stays archived.
    let bad = put(&app, &path, ADMIN_TOKEN, json!({"status": 9})).expect(400);
    assert_eq!(bad.body["msg"], "status \"9\" is not a valid choice.");
    put(&app, &path, ADMIN_TOKEN, json!({"status": 5})).expect(200);
    let archived = put(&app, &path, ADMIN_TOKEN, json!({"status": 1})).expect(400);
    assert_eq!(archived.body["msg"], "cd_error 归档项目无法更新状态");
    put(&app, &path, ADMIN_TOKEN, json!({"status": 2})).expect(200);

    // The branch and path are fixed.
    let fixed = put(
        &app,
        &path,
        ADMIN_TOKEN,
        json!({"branch": "dev", "scan_path": "/src", "status": "x"}),
    )
    .expect(400);
    let mut named = fixed.invalid_fields();
    named.sort();
    assert_eq!(named, ["branch", "scan_path", "status"]);
    let after = app.get(&path, ADMIN_TOKEN).expect(200);
    assert_eq!(after.data()["branch"], "main");
    assert_eq!(after.data()["scan_path"], "/");
    assert_eq!(after.data()["status"], 2);
    assert_eq!(after.data()["scan_scheme"]["id"], third);
}

/// TCA: `RepositoryProjectDefaultPermission` for PUT and DELETE: team and org admins, the
/// repository's creator, the project's creator; plain members may only read.
#[test]
fn only_admins_and_the_projects_creator_may_change_or_delete_it() {
    let (app, world, lint, _, _) = branched();
    let member = add_member(&app, "member", Some(2));
    let team_admin = add_member(&app, "team_admin", Some(1));
    let outsider = add_member(&app, "outsider", None);
    git(&world.repo_dir, &["branch", "mine"]);
    let own = project(&app, &world, &member, "mine", lint);
    let own_path = format!("{}/projects/{own}/", world.repo_path());
    let path = format!("{}/", world.project_path());

    put(&app, &path, &member, json!({"status": 2})).expect(403);
    app.call("DELETE", &path, Some(&member), Body::None)
        .expect(403);
    put(&app, &path, &outsider, json!({"status": 2})).expect(403);
    put(&app, &path, &team_admin, json!({"status": 2})).expect(200);
    // 403 before the body is looked at; for a caller outside the team, 403 before the project
    // is looked up.
    put(&app, &path, &member, json!({"status": "x"})).expect(403);
    put(
        &app,
        &path.replace(
            &format!("/projects/{}/", world.project_id),
            "/projects/999/",
        ),
        &outsider,
        json!({}),
    )
    .expect(403);
    // A member of the team, who may not change it, learns that it is missing.
    put(
        &app,
        &path.replace(
            &format!("/projects/{}/", world.project_id),
            "/projects/999/",
        ),
        &member,
        json!({}),
    )
    .expect(404);
    app.call("PUT", &path, None, Body::Json(json!({})))
        .expect(401);

    // The member made this one, so they may change and delete it.
    put(&app, &own_path, &member, json!({"status": 2})).expect(200);
    let deleted = app
        .call("DELETE", &own_path, Some(&member), Body::None)
        .expect(204);
    assert_eq!(deleted.body, Value::String(String::new()));
}

// --- Deleting a project ----------------------------------------------------------------------------

#[test]
fn deleting_a_project_cancels_its_jobs_hides_it_and_frees_its_branch_and_scheme() {
    let gate = tempfile::tempdir().unwrap();
    let hold = gate.path().join("hold");
    let app = TestApp::spawn_with_tools(&format!(
        "[[tool]]\nname = \"gate\"\nmodule = \"codemetric\"\ncommand = [\"sh\", \"-c\", \"while [ -e '{}' ]; do sleep 0.05; done\"]\n",
        hold.display()
    ));
    let world = World::build(&app);
    let gated_scheme = app
        .post(
            &format!("{}/initscheme/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"name": "gated", "tools": ["gate"]}),
        )
        .expect(201)
        .data()["scan_scheme"]
        .as_i64()
        .unwrap();
    let gated = project(&app, &world, ADMIN_TOKEN, "main", gated_scheme);
    let gated_path = format!("{}/projects/{gated}", world.repo_path());
    std::fs::write(&hold, b"").unwrap();
    let (running, _) = app.start_scan(&gated_path, json!({"incr_scan": false}));
    app.wait_for_detail(&gated_path, running, WAIT, |d| d["state"] == 1);
    let needle = hold.display().to_string();
    assert!(eventually(WAIT, || process_running(&needle)));
    let (waiting, _) = app.start_scan(&gated_path, json!({"force_create": true}));

    let deleted = app
        .call(
            "DELETE",
            &format!("{gated_path}/"),
            Some(ADMIN_TOKEN),
            Body::None,
        )
        .expect(204);
    assert_eq!(deleted.body, Value::String(String::new()));

    // Its jobs were cancelled through the cancel path: 301, and the gate's tool was stopped
    // although the gate is still closed.
    let admin_list = app
        .get(
            &format!("/server/main/api/v2/jobs/?project={gated}"),
            ADMIN_TOKEN,
        )
        .expect(200);
    let jobs = admin_list.data()["results"].as_array().unwrap();
    assert_eq!(
        jobs.len(),
        2,
        "the admin list keeps a deleted project's jobs"
    );
    for job in jobs {
        assert!([json!(running), json!(waiting)].contains(&job["id"]));
        assert_eq!(job["state"], 2, "{job}");
        assert_eq!(job["result_code"], 301, "{job}");
        assert_eq!(
            job["result_msg"],
            "User( admin ) Canceled: project deleted . "
        );
    }
    assert!(
        eventually(WAIT, || !process_running(&needle)),
        "the gate's tool still runs"
    );
    std::fs::remove_file(&hold).unwrap();

    // The project is gone for every route that names it.
    for gone in [
        format!("{gated_path}/"),
        format!("{gated_path}/jobs/"),
        format!("{gated_path}/jobs/{running}/detail/"),
    ] {
        app.get(&gone, ADMIN_TOKEN).expect(404);
    }
    app.post(
        &format!("{gated_path}/scans/create/"),
        ADMIN_TOKEN,
        json!({}),
    )
    .expect(404);
    app.call(
        "DELETE",
        &format!("{gated_path}/"),
        Some(ADMIN_TOKEN),
        Body::None,
    )
    .expect(404);
    let listed = app
        .get(&format!("{}/projects/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(listed.data()["count"], 1);
    let on_main = app
        .get(
            &format!("{}/branch/projects/?branch=main", world.repo_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(on_main.data().as_array().unwrap().len(), 1);

    // The same branch, scheme and path make a new project.
    let again = project(&app, &world, ADMIN_TOKEN, "main", gated_scheme);
    assert_ne!(again, gated);
}
