//! Who may list, start, see and cancel jobs: the status TCA gives each kind of caller.

use serde_json::json;

use crate::helpers::{make_git_repo, Body, TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::{add_member, cancel, detail, gated, id_of, job_count, scan_as, scan_sync};

#[test]
fn each_kind_of_caller_gets_the_status_tca_gives_on_the_job_endpoints() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let org_admin = app.create_user("org_admin");
    let team_admin = app.create_user("team_admin");
    let member = app.create_user("member");
    let other_member = app.create_user("other_member");
    let outsider = app.create_user("outsider");
    add_member(&app, "org_admin", 1, None);
    add_member(&app, "team_admin", 2, Some(("web", 1)));
    add_member(&app, "member", 2, Some(("web", 2)));
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    add_member(&app, "other_member", 2, Some(("other", 2)));

    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let callers: [(&str, Option<&str>); 7] = [
        ("superuser", Some(ADMIN_TOKEN)),
        ("org admin", Some(org_admin.as_str())),
        ("team admin", Some(team_admin.as_str())),
        ("member", Some(member.as_str())),
        ("other team member", Some(other_member.as_str())),
        ("outsider", Some(outsider.as_str())),
        ("nobody", None),
    ];
    // (name, method, path, expected status per caller, in the order above)
    let cases: [(&str, &str, String, [u16; 7]); 6] = [
        (
            "scans/create",
            "POST",
            format!("{path}/scans/create/"),
            [200, 200, 200, 403, 403, 403, 401],
        ),
        (
            "job list",
            "GET",
            format!("{path}/jobs/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "job detail",
            "GET",
            format!("{path}/jobs/{job}/detail/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "cancel",
            "POST",
            format!("{path}/jobs/{job}/cancel/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "codecount",
            "GET",
            format!("{path}/jobs/{job}/codecount/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "task log",
            "GET",
            format!("{path}/jobs/{job}/tasks/{task}/log/"),
            [200, 200, 200, 200, 403, 403, 401],
        ),
    ];
    let mut failures = Vec::new();
    let mut scans = 0;
    for (name, method, url, expected) in &cases {
        for ((who, token), expected) in callers.iter().zip(expected) {
            let body = match (*method, *name) {
                // Synchronous, so the next caller's scan finds no unfinished job.
                ("POST", "scans/create") => Body::Json(json!({"async_flag": false})),
                ("POST", _) => Body::Json(json!({"remarks": "r"})),
                _ => Body::None,
            };
            let reply = app.call(method, url, *token, body);
            if reply.status != *expected {
                failures.push(format!(
                    "{name} as {who}: expected {expected}, got {} {}",
                    reply.status, reply.body
                ));
            }
            match reply.status {
                403 => assert_eq!(reply.body["msg"], "您没有执行该操作的权限。"),
                401 => assert_eq!(reply.header("www-authenticate"), Some("Token")),
                200 if *name == "scans/create" => scans += 1,
                _ => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission mismatches:\n{}",
        failures.join("\n")
    );
    assert_eq!(job_count(&app, &path), 1 + scans);
}

#[test]
fn a_plain_team_member_may_cancel_a_running_job_but_not_start_one() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let member = app.create_user("member");
    add_member(app, "member", 2, Some(("web", 2)));
    let job = gated.held_job(json!({"incr_scan": false}));
    scan_as(app, &member, path, json!({"force_create": true})).expect(403);
    cancel(app, &member, path, job, "mine now").expect(200);
    let cancelled = detail(app, path, job);
    assert_eq!(cancelled["result_code"], 301);
    assert_eq!(
        cancelled["result_msg"],
        "User( member-nick ) Canceled: mine now . "
    );
    assert_eq!(cancelled["remarks"], "mine now");
    assert!(cancelled["remarked_by"].is_i64());
    assert_eq!(job_count(app, path), 1);
}

#[test]
fn a_repo_creator_who_is_only_a_team_member_may_start_scans_on_that_repo_only() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let carol = app.create_user("carol");
    add_member(&app, "carol", 2, Some(("web", 1)));
    let second = make_git_repo(&app.repos_dir().join("second"), &[("lib/a.py", "x = 1\n")]);
    let repo = app
        .post(
            &format!("{}/repos/", world.team_path()),
            &carol,
            json!({"scm_url": second.to_str().unwrap()}),
        )
        .expect(201);
    let repo_id = repo.data()["id"].as_i64().unwrap();
    // Demoted to a plain member of the team.
    add_member(&app, "carol", 2, Some(("web", 2)));
    app.post(
        &format!("{}/repos/", world.team_path()),
        &carol,
        json!({"scm_url": "http://git.example/x/y"}),
    )
    .expect(403);
    let repo_path = format!("{}/repos/{repo_id}", world.team_path());
    let project = app
        .post(
            &format!("{repo_path}/projects/"),
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 1}),
        )
        .expect(201);
    let own = format!("{repo_path}/projects/{}", project.data()["id"]);

    let job = scan_sync(&app, &carol, &own, json!({"incr_scan": false}));
    assert_eq!(job["result_code"], 0, "{job}");
    assert_eq!(detail(&app, &own, id_of(&job))["creator"], "carol-nick");
    scan_as(&app, &carol, &world.project_path(), json!({})).expect(403);
    assert_eq!(job_count(&app, &world.project_path()), 0);
    // Reading the world's project is still allowed: she is a team member.
    app.get(&format!("{}/jobs/", world.project_path()), &carol)
        .expect(200);
}

/// TCA's job, task and scan views run `RepositoryProjectDefaultPermission` (which checks the
/// caller against the team) before they look up the job (`apps/job/apis/v1_pt.py`), so a caller
/// outside the team gets the same 403 whether the id exists or not. codepup checks the team
/// before it looks up anything below it, repositories and projects included: ids of another
/// team's objects cannot be told from ids that exist nowhere.
#[test]
fn a_caller_outside_the_team_gets_the_same_403_for_ids_that_exist_and_ids_that_do_not() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let file = world.repo_dir.join("notes.txt");
    std::fs::write(file, "trailing  \n").unwrap();
    crate::helpers::git(&world.repo_dir, &["add", "-A"]);
    crate::helpers::git(&world.repo_dir, &["commit", "-q", "-m", "flaw"]);
    let path = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "lint", "lint_enabled": true, "tools": ["codepup"]}),
    );
    world.set_rules(&app, &path, "codepup", &["trailing-whitespace"], true);
    let member = app.create_user("member");
    let stranger = app.create_user("stranger");
    add_member(&app, "member", 2, Some(("web", 2)));
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    add_member(&app, "stranger", 2, Some(("other", 2)));

    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let analysis = path.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let analysis_v3 = path.replacen("/server/main/api/", "/server/analysis/api/v3/", 1);
    let scan = app
        .get(&format!("{analysis}/scans/"), &member)
        .expect(200)
        .data()["results"][0]["id"]
        .as_i64()
        .unwrap();
    let issue = app
        .get(&format!("{analysis}/codelint/issues/"), &member)
        .expect(200)
        .data()["results"][0]["id"]
        .as_i64()
        .unwrap();
    let repo = world.repo_path();
    let project = path.rsplit('/').next().unwrap();
    let team = world.team_path();
    // (method, a path whose ids all exist, the same path with one id that exists nowhere)
    let pairs: Vec<(&str, String, String)> = vec![
        (
            "GET",
            format!("{path}/jobs/{job}/"),
            format!("{path}/jobs/99999/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/detail/"),
            format!("{path}/jobs/99999/detail/"),
        ),
        (
            "POST",
            format!("{path}/jobs/{job}/cancel/"),
            format!("{path}/jobs/99999/cancel/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/codecount/"),
            format!("{path}/jobs/99999/codecount/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/log/"),
            format!("{path}/jobs/99999/log/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/sarif/"),
            format!("{path}/jobs/99999/sarif/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/tasks/{task}/"),
            format!("{path}/jobs/{job}/tasks/99999/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/tasks/{task}/log/"),
            format!("{path}/jobs/99999/tasks/{task}/log/"),
        ),
        (
            "GET",
            format!("{analysis}/scans/{scan}/"),
            format!("{analysis}/scans/99999/"),
        ),
        (
            "GET",
            format!("{analysis_v3}/scans/{scan}/"),
            format!("{analysis_v3}/scans/99999/"),
        ),
        (
            "GET",
            format!("{analysis}/codelint/issues/{issue}/"),
            format!("{analysis}/codelint/issues/99999/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/"),
            format!("{repo}/projects/99999/jobs/{job}/"),
        ),
        (
            "GET",
            format!("{path}/jobs/{job}/"),
            format!("{team}/repos/99999/projects/{project}/jobs/{job}/"),
        ),
        ("GET", format!("{path}/"), format!("{repo}/projects/99999/")),
        ("GET", format!("{repo}/"), format!("{team}/repos/99999/")),
    ];
    let mut failures = Vec::new();
    for (method, existing, missing) in &pairs {
        let body = || match *method {
            "POST" => Body::Json(json!({"remarks": "r"})),
            _ => Body::None,
        };
        let seen = app.call(method, existing, Some(&stranger), body());
        let unseen = app.call(method, missing, Some(&stranger), body());
        if (seen.status, &seen.body) != (403, &unseen.body) || unseen.status != 403 {
            failures.push(format!(
                "{method} {existing}: {} {}\n  {missing}: {} {}",
                seen.status, seen.body, unseen.status, unseen.body
            ));
        }
        // A member of the team still learns that the id is missing.
        let inside = app.call(method, missing, Some(&member), body());
        if inside.status != 404 {
            failures.push(format!("{method} {missing} as a member: {}", inside.status));
        }
    }
    assert!(failures.is_empty(), "ids leak:\n{}", failures.join("\n"));
}
