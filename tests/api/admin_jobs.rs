//! The superuser's job pages of TCA's admin UI (tca-manage's `services/jobs.ts`): every job
//! (`v2/jobs/`), every task (`v2/jobs/tasks/`) and cancel by job id (`v2/jobs/<id>/cancel/`),
//! with TCA's filters (apps/job/api_filters/base.py) and serializers (apps/job/serializers/base.py).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{make_git_repo, team_path, Body, TestApp, World, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(30);
const JOBS: &str = "/server/main/api/v2/jobs/";
const TASKS: &str = "/server/main/api/v2/jobs/tasks/";

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {page}"))
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

/// The ids a superuser's list answers for `query`, checking `count` agrees.
#[track_caller]
fn listed(app: &TestApp, list: &str, query: &str) -> Vec<i64> {
    let page = app
        .get(&format!("{list}{query}"), ADMIN_TOKEN)
        .expect(200)
        .data()
        .clone();
    let found = ids(&page);
    assert_eq!(page["count"], json!(found.len()), "{query}: {page}");
    found
}

fn scan_sync(app: &TestApp, project: &str, body: Value) -> i64 {
    let mut body = body;
    body["async_flag"] = json!(false);
    let reply = app
        .post(&format!("{project}/scans/create/"), ADMIN_TOKEN, body)
        .expect(200);
    reply.data()["job"]["id"].as_i64().unwrap()
}

/// A second repository, `Other-Repo`, in team web with a project on `main`; returns its id
/// and the project's path.
fn second_repo(app: &TestApp) -> (i64, String) {
    let dir = make_git_repo(
        &app.repos_dir().join("Other-Repo"),
        &[("lib.sh", "echo hi\n")],
    );
    let repo = app
        .post(
            &format!("{}/repos/", team_path("acme", "web")),
            ADMIN_TOKEN,
            json!({"scm_url": dir.to_str().unwrap()}),
        )
        .expect(201);
    let repo_id = repo.data()["id"].as_i64().unwrap();
    let project = app
        .post(
            &format!("{}/repos/{repo_id}/projects/", team_path("acme", "web")),
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 1}),
        )
        .expect(201);
    (
        repo_id,
        format!(
            "{}/repos/{repo_id}/projects/{}",
            team_path("acme", "web"),
            project.data()["id"]
        ),
    )
}

fn add_member(app: &TestApp, username: &str, org_role: i64, team_role: Option<i64>) {
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": [username], "role": org_role}),
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
}

/// TCA's `JobSerializer` fields, in order.
const JOB_KEYS: [&str; 29] = [
    "id",
    "scan_id",
    "create_time",
    "waiting_time",
    "start_time",
    "execute_time",
    "save_time",
    "project",
    "end_time",
    "expire_time",
    "context_path",
    "task_num",
    "task_done",
    "tasks",
    "state",
    "result_code",
    "result_code_msg",
    "result_msg",
    "result_path",
    "remarks",
    "remarked_by",
    "code_line_num",
    "comment_line_num",
    "blank_line_num",
    "total_line_num",
    "efficient_comment_line_num",
    "filtered_efficient_comment_line_num",
    "created_from",
    "creator",
];

#[test]
fn the_admin_job_list_shows_every_job_newest_first_in_tcas_job_serializer_for_superusers_only() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let (_, other) = second_repo(&app);
    let first = scan_sync(&app, &world.project_path(), json!({"incr_scan": false}));
    let second = scan_sync(&app, &other, json!({"incr_scan": false}));

    let page = app.get(JOBS, ADMIN_TOKEN).expect(200);
    assert_eq!(ids(page.data()), [second, first]);
    let job = &page.data()["results"][1];
    assert_eq!(keys(job), JOB_KEYS, "{job}");
    assert_eq!(
        keys(&job["project"]),
        [
            "id",
            "branch",
            "repo_id",
            "scan_scheme",
            "repo_scm_url",
            "organization",
            "project_team"
        ]
    );
    assert_eq!(
        keys(&job["project"]["organization"]),
        ["org_sid", "name", "certificated", "status", "level"]
    );
    assert_eq!(job["project"]["id"], world.project_id);
    assert_eq!(job["project"]["repo_id"], world.repo_id);
    assert_eq!(job["project"]["project_team"]["name"], "web");
    assert_eq!(job["context_path"], Value::Null);
    assert_eq!(job["result_code"], 0);
    assert_eq!(job["result_code_msg"], "成功");
    for field in ["waiting_time", "execute_time", "save_time"] {
        let text = job[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {job}"));
        assert!(
            text.parse::<f64>().is_ok() && text.contains('.'),
            "{field}: {text}"
        );
    }
    let tasks = job["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        keys(&tasks[0]),
        [
            "id",
            "module",
            "task_name",
            "progress_rate",
            "state",
            "result_code",
            "result_msg",
            "result_path"
        ]
    );
    assert_eq!(tasks[0]["progress_rate"], 100);

    // The bare /api prefix answers too; its links lead through the prefix the proxy stripped.
    let bare = app.get("/api/v2/jobs/?limit=1", ADMIN_TOKEN).expect(200);
    assert_eq!(ids(bare.data()), [second]);
    assert!(bare.data()["next"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/server/main/api/v2/jobs/?", app.base)));

    // Superusers only (TCA: IsAdminUser), even an org admin is refused.
    let org_admin = app.create_user("org_admin");
    add_member(&app, "org_admin", 1, None);
    let member = app.create_user("member");
    add_member(&app, "member", 2, Some(2));
    for list in [JOBS, TASKS] {
        app.get(list, &org_admin).expect(403);
        app.get(list, &member).expect(403);
        app.call("GET", list, None, Body::None).expect(401);
        // 403 comes before a bad filter is looked at.
        app.get(&format!("{list}?state=x"), &member).expect(403);
    }
}

#[test]
fn the_admin_job_list_takes_tcas_job_filter_set() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let (other_repo, other) = second_repo(&app);
    let own = world.project_path();
    let full = scan_sync(
        &app,
        &own,
        json!({"incr_scan": false, "created_from": "Web_UI"}),
    );
    let incr = scan_sync(&app, &own, json!({}));
    let elsewhere = scan_sync(&app, &other, json!({"incr_scan": false}));
    let alice = app.create_user("alice");
    add_member(&app, "alice", 2, Some(1));
    let by_alice = app
        .post(
            &format!("{own}/scans/create/"),
            &alice,
            json!({"async_flag": false, "incr_scan": false}),
        )
        .expect(200)
        .data()["job"]["id"]
        .as_i64()
        .unwrap();

    let everything = vec![by_alice, elsewhere, incr, full];
    assert_eq!(listed(&app, JOBS, ""), everything);
    let cases: Vec<(String, Vec<i64>)> = vec![
        (format!("?repo={other_repo}"), vec![elsewhere]),
        (
            format!("?repo={}", world.repo_id),
            vec![by_alice, incr, full],
        ),
        (
            format!("?project={}", world.project_id),
            vec![by_alice, incr, full],
        ),
        // scm_url: a substring of the repository's URL, any case.
        ("?scm_url=other-REPO".to_string(), vec![elsewhere]),
        (
            "?scm_url=repos/demo".to_string(),
            vec![by_alice, incr, full],
        ),
        ("?result_code_gte=1".to_string(), vec![incr]),
        (
            "?result_code_lte=0".to_string(),
            vec![by_alice, elsewhere, full],
        ),
        ("?state=2".to_string(), everything.clone()),
        ("?state=0,1".to_string(), vec![]),
        ("?creator=ALICE".to_string(), vec![by_alice]),
        ("?created_from=web_ui".to_string(), vec![full]),
        ("?result_msg=变更".to_string(), vec![incr]),
        ("?end_time_gte=2000-01-01".to_string(), everything.clone()),
        ("?end_time_lte=2000-01-01".to_string(), vec![]),
        ("?create_time_gte=2999-01-01".to_string(), vec![]),
        (
            "?repo=&scm_url=&end_time_gte=".to_string(),
            everything.clone(),
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(&app, JOBS, &query), expected, "{query}");
    }
    // end_time_gte at a job's own end includes it.
    let end = app
        .get(&format!("{own}/jobs/{incr}/detail/"), ADMIN_TOKEN)
        .expect(200)
        .data()["end_time"]
        .as_str()
        .unwrap()
        .to_string();
    let at_end = serde_urlencoded::to_string([("end_time_gte", end.as_str())]).unwrap();
    assert!(listed(&app, JOBS, &format!("?{at_end}")).contains(&incr));

    let bad = app
        .get(
            &format!("{JOBS}?scm_url=x&end_time_lte=soon&repo=abc&project=1.2.3"),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(bad.body["msg"], "repo Enter a number.");
    assert_eq!(bad.invalid_fields(), ["repo", "project", "end_time_lte"]);
}

#[test]
fn cancel_by_job_id_is_for_the_superuser_and_the_jobs_team_and_says_when_the_job_had_ended() {
    let gate = tempfile::tempdir().unwrap();
    let hold = gate.path().join("hold");
    let tools = format!(
        "[[tool]]\nname = \"gate\"\nmodule = \"codemetric\"\ncommand = [\"sh\", \"-c\", \"while [ -e '{}' ]; do sleep 0.05; done\"]\n",
        hold.display()
    );
    let app = TestApp::spawn_with_tools(&tools);
    let world = World::build(&app);
    let gated =
        world.project_with_scheme(&app, "main", json!({"name": "gated", "tools": ["gate"]}));
    let member = app.create_user("member");
    add_member(&app, "member", 2, Some(2));
    let outsider = app.create_user("outsider");
    add_member(&app, "outsider", 2, None);

    std::fs::write(&hold, b"").unwrap();
    let held = |app: &TestApp| {
        let (job_id, _) = app.start_scan(&gated, json!({"incr_scan": false, "force_create": true}));
        app.wait_for_detail(&gated, job_id, WAIT, |d| d["state"] == 1);
        job_id
    };
    let cancel = |token: &str, job_id: i64, body: Value| {
        app.post(&format!("{JOBS}{job_id}/cancel/"), token, body)
    };

    let first = held(&app);
    cancel(&outsider, first, json!({"remarks": "no"})).expect(403);
    let done = cancel(
        ADMIN_TOKEN,
        first,
        json!({"remarks": "from the admin page"}),
    )
    .expect(200);
    assert_eq!(done.data(), &json!({"msg": "取消成功"}));
    assert_eq!(done.body["msg"], "取消成功");
    let closed = app.wait_for_job(&gated, first, WAIT);
    assert_eq!(closed["result_code"], 301);
    assert_eq!(
        closed["result_msg"],
        "User( admin ) Canceled: from the admin page . "
    );
    assert_eq!(closed["remarks"], "from the admin page");

    // A member of the job's team may cancel it too (TCA: view permission on its repository).
    let second = held(&app);
    cancel(&member, second, json!({})).expect(200);
    assert_eq!(app.wait_for_job(&gated, second, WAIT)["result_code"], 301);
    std::fs::remove_file(&hold).unwrap();

    // An ended job is left as it is; a missing job is 404, before the body is read.
    let ended = cancel(ADMIN_TOKEN, first, json!({})).expect(200);
    assert_eq!(ended.data()["msg"], "任务已结束，无需取消");
    cancel(ADMIN_TOKEN, 99_999, json!({"force": "nonsense"})).expect(404);
    cancel(ADMIN_TOKEN, first, json!({"force": "nonsense"})).expect(400);
    app.call(
        "POST",
        &format!("{JOBS}{first}/cancel/"),
        None,
        Body::Json(json!({})),
    )
    .expect(401);
}

/// TCA's `TaskSerializer`: `fields = "__all__"`, the Task model's columns then its relations.
const TASK_KEYS: [&str; 23] = [
    "id",
    "module",
    "task_name",
    "params_path",
    "private",
    "result_code",
    "result_msg",
    "result_path",
    "create_version",
    "execute_version",
    "start_time",
    "end_time",
    "state",
    "create_time",
    "register_time",
    "log_url",
    "progress_rate",
    "last_beat_time",
    "job",
    "tag",
    "node",
    "exec_tags",
    "processes",
];

#[test]
fn the_admin_task_list_shows_every_task_with_tcas_task_filter_set_and_a_job_filter() {
    let app = TestApp::spawn_with_tools(
        "[[tool]]\nname = \"fails\"\nmodule = \"codelint\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    let world = World::build(&app);
    let own = world.project_path();
    let ok_job = scan_sync(
        &app,
        &own,
        json!({"incr_scan": false, "created_from": "api"}),
    );
    let failing = world.project_with_scheme(&app, "main", json!({"name": "f", "tools": ["fails"]}));
    let failed_job = scan_sync(&app, &failing, json!({"incr_scan": false}));

    let page = app.get(TASKS, ADMIN_TOKEN).expect(200);
    let tasks = page.data()["results"].as_array().unwrap().clone();
    // Newest first: the failing job's two tasks, then the first job's two.
    assert_eq!(page.data()["count"], 4);
    let jobs: Vec<i64> = tasks.iter().map(|t| t["job"].as_i64().unwrap()).collect();
    assert_eq!(jobs, [failed_job, failed_job, ok_job, ok_job]);
    for task in &tasks {
        assert_eq!(keys(task), TASK_KEYS, "{task}");
        assert_eq!(task["exec_tags"], json!([]));
        assert_eq!(task["create_version"], env!("CARGO_PKG_VERSION"));
        let log_url = task["log_url"].as_str().unwrap();
        let below = log_url.strip_prefix(&app.base).unwrap();
        app.get(below, ADMIN_TOKEN).expect(200);
    }
    let fails = tasks.iter().find(|t| t["task_name"] == "fails").unwrap();
    assert_eq!(fails["result_code"], 211);
    assert_eq!(fails["module"], "codelint");

    let task_ids = |query: &str| listed(&app, TASKS, query);
    let all = task_ids("");
    assert_eq!(task_ids(&format!("?job={ok_job}")), all[2..]);
    assert_eq!(
        task_ids("?task_name=fails"),
        [fails["id"].as_i64().unwrap()]
    );
    assert_eq!(task_ids("?task_name=fail"), Vec::<i64>::new(), "exact");
    assert_eq!(task_ids("?result_code_gte=100").len(), 1);
    assert_eq!(task_ids("?state=2").len(), 4);
    assert_eq!(task_ids("?state=0,1").len(), 0);
    assert_eq!(task_ids("?created_from=api"), all[2..]);
    assert_eq!(task_ids("?result_msg=EXITED").len(), 1);
    assert_eq!(task_ids("?start_time_gte=2000-01-01").len(), 4);
    assert_eq!(task_ids("?start_time_lte=2000-01-01").len(), 0);
    assert_eq!(task_ids("?end_time_lte=2999-01-01").len(), 4);
    assert_eq!(task_ids("?create_time_gte=2999-01-01").len(), 0);

    // codepup has no exec tags or nodes: no value names one.
    let bad = app
        .get(&format!("{TASKS}?state=x&tag=1&job=y"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(
        bad.body["msg"],
        "tag Select a valid choice. That choice is not one of the available choices."
    );
    assert_eq!(bad.invalid_fields(), ["tag", "state", "job"]);
    app.get(&format!("{TASKS}?node=2"), ADMIN_TOKEN).expect(400);
}
