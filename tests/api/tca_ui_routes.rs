//! The routes TCA's web UI calls on its scan flow besides the scan and job routes: the org's
//! repositories and nodes, a repository's admins, a scheme's lint and metric settings, the
//! branch overview's cards on the analysis paths, and the paths TCA's nginx leaves once it has
//! stripped `/server/`. Each pins the shape of the TCA view or serializer it cites.

use serde_json::{json, Value};

use crate::helpers::{TestApp, World, ADMIN_TOKEN};

const ANALYSIS: &str = "/server/analysis/api/v3/orgs/acme/teams/web/repos";

fn scan(app: &TestApp, world: &World) {
    app.post(
        &format!("{}/scans/create/", world.project_path()),
        ADMIN_TOKEN,
        json!({"async_flag": false}),
    )
    .expect(200);
}

#[test]
fn the_org_lists_its_repositories_with_their_team_and_counts_its_teams() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let outsider = app.create_user("outsider");
    // TCA's OrganizationSerializer: `team_count`, `repo_count`, `user_count`.
    let org = app
        .get("/server/main/api/v3/orgs/acme/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(org.data()["team_count"], 1);
    assert_eq!(org.data()["repo_count"], 1);
    let orgs = app
        .get("/server/main/api/v3/orgs/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(orgs.data()["count"], 1);
    assert_eq!(orgs.data()["results"][0]["repo_count"], 1);

    let repos = app
        .get("/server/main/api/v3/orgs/acme/repos/?limit=10", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(repos.data()["count"], 1);
    let repo = &repos.data()["results"][0];
    assert_eq!(repo["id"], world.repo_id);
    assert_eq!(repo["project_team"]["name"], "web");
    assert_eq!(repo["project_team"]["org_sid"], "acme");
    let none = app
        .get(
            "/server/main/api/v3/orgs/acme/repos/?scm_url_or_name=nothing-like-it",
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(none.data()["count"], 0);
    app.get("/server/main/api/v3/orgs/acme/repos/", &outsider)
        .expect(403);
    app.get("/server/main/api/v3/orgs/nope/repos/", ADMIN_TOKEN)
        .expect(404);
}

#[test]
fn the_one_node_is_this_server_and_there_are_no_node_tags() {
    let app = TestApp::spawn();
    World::build(&app);
    let nodes = app
        .get("/server/main/api/v3/orgs/acme/nodes/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(nodes.data()["count"], 1);
    let node = &nodes.data()["results"][0];
    assert_eq!(node["name"], "codepup");
    // TCA's Node.EnabledEnum: 1 active; Node.StateEnum: 0 free.
    assert_eq!(node["enabled"], 1);
    assert_eq!(node["state"], 0);
    assert_eq!(node["scan_workers"], 2);
    assert_eq!(node["scan_workers_alive"], 2);
    let tags = app
        .get("/server/main/api/v3/orgs/acme/nodes/tags/", ADMIN_TOKEN)
        .expect(200);
    assert_eq!(tags.data()["results"], json!([]));
    let outsider = app.create_user("outsider");
    app.get("/server/main/api/v3/orgs/acme/nodes/", &outsider)
        .expect(403);
}

#[test]
fn a_repository_names_its_admin_and_a_scheme_its_lint_and_metric_settings() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    // TCA's RepositoryMemberConfApiView answers `{admins: [UserSimpleSerializer]}`.
    let members = app
        .get(&format!("{}/memberconf/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    let admins = members.data()["admins"].as_array().unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0]["username"], "admin");

    // ScanSchemeLintConfSerializer and ScanSchemeMetricConfSerializer
    // (server/projects/main/apps/codeproj/serializers/v3.py).
    let scheme = format!("{}/schemes/{}", world.repo_path(), world.scheme_id);
    let lint = app
        .get(&format!("{scheme}/lintconf/"), ADMIN_TOKEN)
        .expect(200);
    for key in [
        "id",
        "enabled",
        "checkprofile",
        "scan_scheme",
        "build_cmd",
        "envs",
        "pre_cmd",
    ] {
        assert!(lint.data().get(key).is_some(), "lintconf lacks {key}");
    }
    assert_eq!(lint.data()["scan_scheme"], world.scheme_id);
    let metric = app
        .get(&format!("{scheme}/metricconf/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(metric.data()["cloc_scan_enabled"], true);
    assert_eq!(metric.data()["cc_scan_enabled"], false);
    assert_eq!(metric.data()["min_ccn"], 20);
    app.get(
        &format!("{}/schemes/999/lintconf/", world.repo_path()),
        ADMIN_TOKEN,
    )
    .expect(404);
}

#[test]
fn the_branch_overview_cards_answer_on_the_analysis_paths() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    scan(&app, &world);
    let project = format!("{ANALYSIS}/{}/projects/{}", world.repo_id, world.project_id);
    // ProjectOverviewLintScanLatestDetailView and ProjectMyOverviewDetailView
    // (server/projects/analysis/apps/codeproj/apis/v2.py).
    let latest = app
        .get(
            &format!("{project}/overview/lintscans/latest/"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(
        latest.data(),
        &json!({"lint_issue_num": 0, "lint_issue_severity_list": []})
    );
    let mine = app
        .get(&format!("{project}/overview/mine/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        mine.data(),
        &json!({"lint_issue_num": 0, "cyc_issue_num": 0, "dup_issue_num": 0})
    );
    // The default template measures neither complexity nor duplicate code; it counts lines.
    let counted = app
        .get(&format!("{project}/overview/clocscans/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(counted.data()["count"], 1, "{}", counted.body);
    for list in [
        "overview/lintscans/",
        "overview/cycscans/",
        "overview/dupscans/",
        "codemetric/ccissues/?limit=1",
    ] {
        let page = app
            .get(&format!("{project}/{list}"), ADMIN_TOKEN)
            .expect(200);
        assert_eq!(
            page.data(),
            &json!({"count": 0, "next": null, "previous": null, "results": []}),
            "{list}"
        );
    }
    let outsider = app.create_user("outsider");
    app.get(&format!("{project}/overview/mine/"), &outsider)
        .expect(403);
    app.get(
        &format!(
            "{ANALYSIS}/{}/projects/999/overview/lintscans/",
            world.repo_id
        ),
        ADMIN_TOKEN,
    )
    .expect(404);
}

#[test]
fn behind_tcas_stock_nginx_the_prefixes_without_server_answer_and_links_lead_back_through_it() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    scan(&app, &world);
    let jobs = app
        .get(
            &format!(
                "/main/api/orgs/acme/teams/web/repos/{}/projects/{}/jobs/?limit=1",
                world.repo_id, world.project_id
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(jobs.data()["count"], 1);
    let scans = app
        .get(
            &format!(
                "/analysis/api/v3/orgs/acme/teams/web/repos/{}/projects/{}/scans/",
                world.repo_id, world.project_id
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(scans.data()["count"], 1);
    let detail: Value = app
        .get(
            &format!(
                "/main/api/v3/orgs/acme/teams/web/repos/{}/projects/{}/jobs/{}/",
                world.repo_id,
                world.project_id,
                jobs.data()["results"][0]["id"]
            ),
            ADMIN_TOKEN,
        )
        .expect(200)
        .body;
    // The stock nginx strips `/server/` on the way in: links must carry it, or a client that
    // follows them reaches the web UI instead of the API (review).
    let log_url = detail["data"]["task_set"][0]["log_url"].as_str().unwrap();
    assert!(
        log_url.starts_with(&format!("{}/server/main/api/orgs/acme/", app.base)),
        "{log_url}"
    );
    let page = app
        .get(
            &format!(
                "/main/api/orgs/acme/teams/web/repos/{}/projects/{}/jobs/?limit=1&offset=1",
                world.repo_id, world.project_id
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    let previous = page.data()["previous"].as_str().unwrap();
    let wanted = format!(
        "{}/server/main/api/orgs/acme/teams/web/repos/{}/projects/{}/jobs/?limit=1",
        app.base, world.repo_id, world.project_id
    );
    assert_eq!(previous, wanted);
    app.get("/main/api/v3/nothing-here/", ADMIN_TOKEN)
        .expect(404);
}
