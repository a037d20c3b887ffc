//! What TCA's web UI calls around a scan: the start button (`POST .../scans/`), the scan history
//! on the analysis paths, a job's scan-detail page (`.../jobs/<id>/`) and a task's detail with
//! its progress steps (`.../jobs/<id>/tasks/<id>/`). Shapes follow TCA's serializers, cited per
//! test.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::helpers::{git, Body, TestApp, World, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(30);

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// `.../projects/<id>` below `/server/main/api/v3/`, as TCA's UI calls it.
fn v3_project(world: &World) -> String {
    format!(
        "/server/main/api/v3/orgs/{}/teams/{}/repos/{}/projects/{}",
        world.org, world.team, world.repo_id, world.project_id
    )
}

/// The project's scan history below `/server/analysis/api/` (`v3/` or the v1 path).
fn scans_path(world: &World, v3: bool) -> String {
    format!(
        "/server/analysis/api/{}orgs/{}/teams/{}/repos/{}/projects/{}/scans/",
        if v3 { "v3/" } else { "" },
        world.org,
        world.team,
        world.repo_id,
        world.project_id
    )
}

/// Starts a scan through the UI's route and waits until it is closed; returns its job id.
fn scan_and_wait(app: &TestApp, world: &World, body: Value) -> i64 {
    let reply = app
        .post(&format!("{}/scans/", v3_project(world)), ADMIN_TOKEN, body)
        .expect(200);
    let job_id = reply.data()["job"]["id"].as_i64().unwrap();
    app.wait_for_job(&world.project_path(), job_id, WAIT);
    job_id
}

/// Whether `text` is a DRF duration: `[D ]HH:MM:SS[.ffffff]`.
fn is_drf_duration(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let clock = text.rsplit(' ').next().unwrap();
    let (whole, fraction) = clock.split_once('.').unwrap_or((clock, "000000"));
    let parts: Vec<&str> = whole.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
        && fraction.len() == 6
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// `2026-01-01T08:00:00[.ffffff]+08:00`
fn is_local_time(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        text.ends_with("+08:00")
            && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .is_ok()
    })
}

fn is_float_seconds(value: &Value) -> bool {
    // Python's str(float): `0.5`, `62.75`, and `9e-05` for very short times.
    value.as_str().is_some_and(|text| {
        (text.contains('.') || text.contains("e-")) && text.parse::<f64>().is_ok()
    })
}

/// A command tool `gate` that runs while a file exists, so a job stays RUNNING until the test
/// opens it.
struct Gate {
    dir: TempDir,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn hold_file(&self) -> PathBuf {
        self.dir.path().join("hold")
    }

    fn tools_toml(&self) -> String {
        format!(
            "[[tool]]\nname = \"gate\"\nmodule = \"codemetric\"\ncommand = [\"sh\", \"-c\", \"while [ -e '{}' ]; do sleep 0.05; done\"]\n",
            self.hold_file().display()
        )
    }

    fn close(&self) {
        std::fs::write(self.hold_file(), b"").unwrap();
    }

    fn open(&self) {
        let _ = std::fs::remove_file(self.hold_file());
    }
}

// --- The start button ----------------------------------------------------------------------------

/// TCA: `ProjectScanCreateApiView` at `v3/.../projects/<id>/scans/` (apps/codeproj/api_urls/v3.py),
/// the same `create_server_scan` as `scans/create/`; the UI's `createJob` posts `{incr_scan}`.
#[test]
fn the_ui_start_button_starts_a_scan_as_scans_create_does() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let start = format!("{}/scans/", v3_project(&world));

    let reply = app
        .post(&start, ADMIN_TOKEN, json!({"incr_scan": false}))
        .expect(200);
    assert_eq!(keys(reply.data()), ["job", "scan"]);
    assert_eq!(keys(&reply.data()["job"]), ["id"]);
    let job_id = reply.data()["job"]["id"].as_i64().unwrap();
    let done = app.wait_for_job(&world.project_path(), job_id, WAIT);
    assert_eq!(done["result_code"], 0, "{done}");
    assert_eq!(done["scan_id"], reply.data()["scan"]["id"]);
    assert_eq!(done["created_from"], "tca_web");

    // The same body rules: async_flag=false waits; an unchanged head is code 1; bad booleans
    // are 400; a form works.
    let again = app
        .post(&start, ADMIN_TOKEN, json!({"async_flag": false}))
        .expect(200);
    assert_eq!(again.data()["job"]["result_code"], 1);
    let bad = app
        .post(&start, ADMIN_TOKEN, json!({"incr_scan": "maybe"}))
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["incr_scan"]);
    app.post_form(&start, ADMIN_TOKEN, &[("async_flag", "false")])
        .expect(200);

    // The same permission: a plain team member may not start scans; a missing project is 404.
    let member = app.create_user("member");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/web/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    app.post(&start, &member, json!({})).expect(403);
    app.post(
        &start.replace(
            &format!("/projects/{}/", world.project_id),
            "/projects/999/",
        ),
        ADMIN_TOKEN,
        json!({}),
    )
    .expect(404);
    app.call("GET", &start, Some(ADMIN_TOKEN), Body::None)
        .expect(405);
}

// --- A job's scan-detail page ----------------------------------------------------------------------

/// TCA: `ProjectJobDetailSerializer` (apps/codeproj/serializers/base.py): `exclude =
/// ['result_path']`, so `id`, the declared fields, then every Job column in model order
/// (apps/job/models/base.py), then the foreign keys.
const PROJECT_JOB_KEYS: [&str; 40] = [
    "id",
    "task_set",
    "result_code_msg",
    "waiting_time",
    "execute_time",
    "project",
    "context_path",
    "scan_id",
    "state",
    "initialized_time",
    "start_time",
    "closing_time",
    "end_time",
    "expire_time",
    "last_beat_time",
    "result_code",
    "result_msg",
    "create_time",
    "expected_end_time",
    "task_num",
    "task_done",
    "remarks",
    "code_line_num",
    "comment_line_num",
    "blank_line_num",
    "total_line_num",
    "filtered_code_line_num",
    "filtered_comment_line_num",
    "filtered_blank_line_num",
    "filtered_total_line_num",
    "efficient_comment_line_num",
    "filtered_efficient_comment_line_num",
    "created_from",
    "async_flag",
    "client_flag",
    "creator",
    "ext_field",
    "archived",
    "remarked_by",
    "gate",
];

/// TCA: `ProjectTaskBriefSerializer`: declared fields first, `exclude = ['exec_tags',
/// 'progress_rate']`.
const TASK_BRIEF_KEYS: [&str; 24] = [
    "id",
    "result_code_msg",
    "waiting_time",
    "execute_time",
    "params_path",
    "result_path",
    "task_name",
    "node",
    "module",
    "private",
    "result_code",
    "result_msg",
    "create_version",
    "execute_version",
    "start_time",
    "end_time",
    "state",
    "create_time",
    "register_time",
    "log_url",
    "last_beat_time",
    "job",
    "tag",
    "processes",
];

#[test]
fn the_scan_detail_page_gets_tcas_project_job_detail_with_drf_durations_and_task_logs() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let job_id = scan_and_wait(&app, &world, json!({"incr_scan": false}));
    let reply = app
        .get(
            &format!("{}/jobs/{job_id}/", v3_project(&world)),
            ADMIN_TOKEN,
        )
        .expect(200);
    let job = reply.data();
    assert_eq!(keys(job), PROJECT_JOB_KEYS, "{job}");
    assert_eq!(
        keys(&job["project"]),
        [
            "id",
            "branch",
            "repo_id",
            "scan_scheme",
            "repo_scm_url",
            "scan_path"
        ]
    );
    assert_eq!(job["id"], job_id);
    assert_eq!(job["project"]["id"], world.project_id);
    assert_eq!(job["project"]["scan_scheme"], world.scheme_id);
    assert_eq!(job["project"]["scan_path"], "/");
    assert_eq!(job["state"], 2);
    assert_eq!(job["result_code"], 0);
    assert_eq!(job["result_code_msg"], "成功");
    assert_eq!(job["async_flag"], true);
    assert_eq!(job["client_flag"], false);
    assert_eq!(job["context_path"], Value::Null);
    assert_eq!(job["creator"], "admin");
    for field in ["waiting_time", "execute_time"] {
        assert!(is_drf_duration(&job[field]), "{field}: {}", job[field]);
    }
    for field in [
        "create_time",
        "initialized_time",
        "start_time",
        "closing_time",
        "end_time",
        "expected_end_time",
    ] {
        assert!(is_local_time(&job[field]), "{field}: {}", job[field]);
    }
    // The default scheme's limit is 600 minutes from the moment a worker took the job.
    let parse = |value: &Value| {
        time::OffsetDateTime::parse(
            value.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let limit = parse(&job["expected_end_time"]) - parse(&job["create_time"]);
    assert!(
        limit >= time::Duration::minutes(600) && limit < time::Duration::minutes(601),
        "{limit}"
    );

    let tasks = job["task_set"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{job}");
    for task in tasks {
        assert_eq!(keys(task), TASK_BRIEF_KEYS, "{task}");
        assert_eq!(task["job"], job_id);
        assert_eq!(task["state"], 2);
        assert_eq!(task["result_code"], 0);
        assert_eq!(task["node"], Value::Null);
        assert_eq!(task["tag"], Value::Null);
        assert_eq!(task["processes"], json!([]));
        assert_eq!(task["create_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(task["execute_version"], env!("CARGO_PKG_VERSION"));
        for field in ["waiting_time", "execute_time"] {
            assert!(is_drf_duration(&task[field]), "{field}: {}", task[field]);
        }
        // log_url is where the task's log is served, below the host the client used.
        let log_url = task["log_url"].as_str().unwrap();
        let below = log_url.strip_prefix(&app.base).unwrap_or_else(|| {
            panic!("{log_url} is not below {}", app.base);
        });
        assert_eq!(
            below,
            format!(
                "{}/jobs/{job_id}/tasks/{}/log/",
                world.project_path(),
                task["id"]
            )
        );
        let log = app.get(below, ADMIN_TOKEN).expect(200);
        assert!(log.content_type.starts_with("text/plain"));
        assert!(log.body.as_str().unwrap().contains("files to scan"));
    }
    assert_eq!(
        [&tasks[0]["task_name"], &tasks[1]["task_name"]],
        ["codecount", "codepup"]
    );

    // Under the bare /api prefix, the links keep it.
    let bare = app
        .get(
            &format!(
                "/api/v3/orgs/acme/teams/web/repos/{}/projects/{}/jobs/{job_id}/",
                world.repo_id, world.project_id
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert!(bare.data()["task_set"][0]["log_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/server/main/api/orgs/acme/", app.base)));
}

// --- A task's detail -----------------------------------------------------------------------------

/// TCA: `TaskDetailSerializer` (apps/codeproj/serializers/base.py): the brief's declared fields,
/// then `taskprogress_set` and `tag`; `exclude = ['exec_tags', 'processes', 'progress_rate']`.
const TASK_DETAIL_KEYS: [&str; 24] = [
    "id",
    "result_code_msg",
    "waiting_time",
    "execute_time",
    "params_path",
    "result_path",
    "task_name",
    "node",
    "taskprogress_set",
    "tag",
    "module",
    "private",
    "result_code",
    "result_msg",
    "create_version",
    "execute_version",
    "start_time",
    "end_time",
    "state",
    "create_time",
    "register_time",
    "log_url",
    "last_beat_time",
    "job",
];

fn task_detail(app: &TestApp, world: &World, job_id: i64, task: &Value) -> Value {
    app.get(
        &format!("{}/jobs/{job_id}/tasks/{task}/", v3_project(world)),
        ADMIN_TOKEN,
    )
    .expect(200)
    .data()
    .clone()
}

fn steps(task: &Value) -> Vec<(i64, String)> {
    task["taskprogress_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["progress_rate"].as_i64().unwrap(),
                step["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_task_detail_has_its_versions_log_url_and_the_progress_steps_with_their_times() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let job_id = scan_and_wait(&app, &world, json!({"incr_scan": false}));
    let job = app
        .get(
            &format!("{}/jobs/{job_id}/", v3_project(&world)),
            ADMIN_TOKEN,
        )
        .expect(200);
    let brief = &job.data()["task_set"][0];
    let task = task_detail(&app, &world, job_id, &brief["id"]);
    assert_eq!(keys(&task), TASK_DETAIL_KEYS, "{task}");
    assert_eq!(task["task_name"], "codecount");
    assert_eq!(task["module"], "codemetric");
    assert_eq!(task["log_url"], brief["log_url"]);
    assert_eq!(task["create_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(task["result_code_msg"], "成功");
    // Counting starts (10), then the task closes (100).
    assert_eq!(
        steps(&task),
        [
            (10, "running".to_string()),
            (100, "done: success".to_string())
        ]
    );
    let mut last = String::new();
    for step in task["taskprogress_set"].as_array().unwrap() {
        assert_eq!(
            keys(step),
            [
                "id",
                "message",
                "create_time",
                "progress_rate",
                "task",
                "node"
            ]
        );
        assert_eq!(step["task"], task["id"]);
        assert!(is_local_time(&step["create_time"]), "{step}");
        let at = step["create_time"].as_str().unwrap().to_string();
        assert!(at >= last, "steps in time order: {task}");
        last = at;
    }

    // Another job's task, a missing task and a non-numeric id are 404.
    let other = scan_and_wait(&app, &world, json!({"incr_scan": false}));
    for path in [
        format!("{}/jobs/{other}/tasks/{}/", v3_project(&world), brief["id"]),
        format!("{}/jobs/{job_id}/tasks/99999/", v3_project(&world)),
        format!("{}/jobs/{job_id}/tasks/x/", v3_project(&world)),
    ] {
        app.get(&path, ADMIN_TOKEN).expect(404);
    }
}

#[test]
fn a_failing_tool_and_a_cancel_show_in_the_progress_steps() {
    let gate = Gate::new();
    let tools = format!(
        "{}[[tool]]\nname = \"fails\"\nmodule = \"codelint\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n",
        gate.tools_toml()
    );
    let app = TestApp::spawn_with_tools(&tools);
    let world = World::build(&app);
    let failing =
        world.project_with_scheme(&app, "main", json!({"name": "failing", "tools": ["fails"]}));
    let (job_id, _) = app.start_scan(&failing, json!({"incr_scan": false}));
    let job = app.wait_for_job(&failing, job_id, WAIT);
    assert_eq!(job["result_code"], 211, "{job}");
    let task_id = &job["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["task_name"] == "fails")
        .unwrap()["id"];
    let task = app
        .get(
            &format!(
                "/server/main/api/v3{}/jobs/{job_id}/tasks/{task_id}/",
                failing.trim_start_matches("/server/main/api")
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    let last = steps(task.data()).pop().unwrap();
    assert_eq!(last.0, 100);
    assert!(last.1.starts_with("failed (211): "), "{}", task.body);

    // A cancelled job's running task closes with a step that says so.
    let gated =
        world.project_with_scheme(&app, "main", json!({"name": "gated", "tools": ["gate"]}));
    gate.close();
    let (held, _) = app.start_scan(&gated, json!({"incr_scan": false}));
    // The job runs codecount before the gate: wait until the gate's own task runs.
    let gate_of = |detail: &Value| -> Value {
        // Null until the job has its tasks.
        detail["tasks"]
            .as_array()
            .and_then(|tasks| tasks.iter().find(|task| task["task_name"] == "gate"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let running = app.wait_for_detail(&gated, held, WAIT, |d| gate_of(d)["state"] == 1);
    let gate_task = gate_of(&running)["id"].clone();
    let task_path = format!(
        "/server/main/api/v3{}/jobs/{held}/tasks/{gate_task}/",
        gated.trim_start_matches("/server/main/api")
    );
    let before = app.get(&task_path, ADMIN_TOKEN).expect(200);
    assert_eq!(before.data()["state"], 1);
    assert_eq!(before.data()["end_time"], Value::Null);
    assert_eq!(before.data()["execute_version"], env!("CARGO_PKG_VERSION"));
    app.post(
        &format!("{gated}/jobs/{held}/cancel/"),
        ADMIN_TOKEN,
        json!({"remarks": "enough"}),
    )
    .expect(200);
    gate.open();
    let after = app.get(&task_path, ADMIN_TOKEN).expect(200);
    let (rate, message) = steps(after.data()).pop().unwrap();
    assert!(
        rate < 100,
        "a revoke keeps the task's last rate: {}",
        after.body
    );
    assert!(
        message.starts_with("failed (301): Job revoked: User( admin ) Canceled: enough"),
        "{message}"
    );
    assert!(is_drf_duration(&after.data()["execute_time"]));
}

// --- The scan history ------------------------------------------------------------------------------

/// TCA's analysis server: `ScanSerializer` (apps/codeproj/serializers/scan.py), its
/// `Meta.fields` in order.
const SCAN_KEYS: [&str; 26] = [
    "id",
    "repo_id",
    "project_id",
    "job_gid",
    "scan_time",
    "state",
    "type",
    "current_revision",
    "result_code",
    "result_msg",
    "create_time",
    "creator",
    "execute_time",
    "waiting_time",
    "total_time",
    "status",
    "text",
    "url",
    "description",
    "lintscan",
    "duplicatescan",
    "cyclomaticcomplexityscan",
    "clocscan",
    "result_code_msg",
    "daily_save",
    "job_archived",
];

#[test]
fn the_scan_history_lists_each_scan_newest_first_with_its_job_revision_and_times() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let head = git(&world.repo_dir, &["rev-parse", "HEAD"]);
    let full = scan_and_wait(&app, &world, json!({"incr_scan": false}));
    let incr = scan_and_wait(&app, &world, json!({}));

    for v3 in [true, false] {
        let page = app.get(&scans_path(&world, v3), ADMIN_TOKEN).expect(200);
        let page = page.data();
        assert_eq!(page["count"], 2, "{page}");
        assert_eq!(keys(page), ["count", "next", "previous", "results"]);
        let scans = page["results"].as_array().unwrap();
        assert_eq!(
            scans
                .iter()
                .map(|s| s["job_gid"].clone())
                .collect::<Vec<_>>(),
            [json!(incr), json!(full)]
        );
        for scan in scans {
            assert_eq!(keys(scan), SCAN_KEYS, "{scan}");
            assert_eq!(scan["repo_id"], world.repo_id);
            assert_eq!(scan["project_id"], world.project_id);
            assert_eq!(scan["state"], 2);
            assert_eq!(scan["current_revision"], head.as_str());
            assert_eq!(scan["creator"], "admin");
            assert_eq!(scan["url"], "");
            assert_eq!(scan["daily_save"], false);
            assert_eq!(scan["status"], scan["result_code"]);
            assert_eq!(scan["text"], scan["result_code_msg"]);
            assert_eq!(scan["description"], scan["result_msg"]);
            for field in ["create_time", "scan_time"] {
                assert!(is_local_time(&scan[field]), "{field}: {}", scan[field]);
            }
            for field in ["execute_time", "waiting_time", "total_time"] {
                assert!(is_float_seconds(&scan[field]), "{field}: {}", scan[field]);
            }
            let total: f64 = scan["total_time"].as_str().unwrap().parse().unwrap();
            let parts: f64 = ["waiting_time", "execute_time"]
                .iter()
                .map(|f| scan[*f].as_str().unwrap().parse::<f64>().unwrap())
                .sum();
            assert!((total - parts).abs() < 1e-6, "{scan}");
        }
        assert_eq!(scans[0]["type"], 1, "incremental");
        assert_eq!(scans[0]["result_code"], 1);
        assert_eq!(scans[0]["result_code_msg"], "无需扫描");
        assert_eq!(scans[1]["type"], 2, "full");
        assert_eq!(scans[1]["result_code"], 0);
        assert_eq!(scans[1]["result_code_msg"], "成功");
        assert_eq!(scans[1]["result_msg"], "success");

        // One scan by its id.
        let one = app
            .get(
                &format!("{}{}/", scans_path(&world, v3), scans[1]["id"]),
                ADMIN_TOKEN,
            )
            .expect(200);
        assert_eq!(one.data(), &scans[1]);
    }

    // The job detail's scan_id is the scan's id.
    let detail = app
        .get(
            &format!("{}/jobs/{full}/detail/", world.project_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    let page = app.get(&scans_path(&world, true), ADMIN_TOKEN).expect(200);
    assert_eq!(page.data()["results"][1]["id"], detail.data()["scan_id"]);

    // Pagination as everywhere.
    let first = app
        .get(
            &format!("{}?limit=1", scans_path(&world, true)),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(first.data()["results"].as_array().unwrap().len(), 1);
    assert!(first.data()["next"]
        .as_str()
        .unwrap()
        .ends_with("/scans/?limit=1&offset=1"));
}

#[test]
fn a_running_scan_has_no_result_code_yet_and_a_scan_of_another_project_is_404() {
    let gate = Gate::new();
    let app = TestApp::spawn_with_tools(&gate.tools_toml());
    let world = World::build(&app);
    let gated =
        world.project_with_scheme(&app, "main", json!({"name": "gated", "tools": ["gate"]}));
    gate.close();
    let (job_id, scan_id) = app.start_scan(&gated, json!({"incr_scan": false}));
    app.wait_for_detail(&gated, job_id, WAIT, |d| d["state"] == 1);
    let history = format!(
        "/server/analysis/api/v3{}/scans/",
        gated.trim_start_matches("/server/main/api")
    );
    let running = app
        .get(&format!("{history}{scan_id}/"), ADMIN_TOKEN)
        .expect(200);
    let scan = running.data();
    assert_eq!(scan["job_gid"], job_id);
    assert_eq!(scan["state"], 1);
    assert_eq!(scan["result_code"], Value::Null);
    assert_eq!(scan["result_code_msg"], Value::Null);
    assert_eq!(scan["status"], Value::Null);
    assert!(is_float_seconds(&scan["execute_time"]), "{scan}");
    gate.open();
    app.wait_for_job(&gated, job_id, WAIT);
    let closed = app
        .get(&format!("{history}{scan_id}/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(closed.data()["state"], 2);
    assert_eq!(closed.data()["result_code"], 0);

    // The scan belongs to the gated project, not to the world's own one.
    app.get(
        &format!("{}{scan_id}/", scans_path(&world, true)),
        ADMIN_TOKEN,
    )
    .expect(404);
    app.get(&format!("{}x/", scans_path(&world, true)), ADMIN_TOKEN)
        .expect(404);
}

// --- Who may ---------------------------------------------------------------------------------------

/// TCA: `ProjectTeamOperationPermission` for the job and task detail, `RepositoryDefaultPermission`
/// for starting a scan (apps/codeproj/permissions.py); the analysis server lets team members
/// read the history.
#[test]
fn each_kind_of_caller_gets_tcas_status_on_the_scan_pages() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let member = app.create_user("member");
    let outsider = app.create_user("outsider");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member", "outsider"], "role": 2}),
    )
    .expect(200);
    app.post(
        "/server/main/api/v3/orgs/acme/teams/web/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["member"], "role": 2}),
    )
    .expect(200);
    let job_id = scan_and_wait(&app, &world, json!({"incr_scan": false}));
    let job = app
        .get(
            &format!("{}/jobs/{job_id}/", v3_project(&world)),
            ADMIN_TOKEN,
        )
        .expect(200);
    let task_id = &job.data()["task_set"][0]["id"];
    let scan_id = app
        .get(&scans_path(&world, true), ADMIN_TOKEN)
        .expect(200)
        .data()["results"][0]["id"]
        .clone();
    let pages = [
        format!("{}/jobs/{job_id}/", v3_project(&world)),
        format!("{}/jobs/{job_id}/tasks/{task_id}/", v3_project(&world)),
        scans_path(&world, true),
        format!("{}{scan_id}/", scans_path(&world, true)),
        scans_path(&world, false),
    ];
    for page in &pages {
        app.get(page, &member).expect(200);
        app.get(page, &outsider).expect(403);
        app.call("GET", page, None, Body::None).expect(401);
        // A team of another org is 404 for everyone.
        app.get(&page.replace("/orgs/acme/", "/orgs/nope/"), ADMIN_TOKEN)
            .expect(404);
    }
    // Non-superusers see null, not a path, where TCA shows paths to staff only.
    let seen = app
        .get(&format!("{}/jobs/{job_id}/", v3_project(&world)), &member)
        .expect(200);
    assert_eq!(seen.data()["context_path"], Value::Null);
    assert_eq!(seen.data()["task_set"][0]["params_path"], Value::Null);
}
