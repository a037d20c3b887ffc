//! Job detail: every key in TCA's order, times in the configured offset, cancel with a remark,
//! 404s for jobs of other projects.

use serde_json::{json, Value};

use crate::helpers::{TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::{
    cancel, detail, gated, id_of, is_datetime, is_float_seconds, keys, listed, parse_time, query,
    scan_as, scan_sync, DETAIL_KEYS, NO_CHANGE_MSG, WAIT,
};

#[test]
fn job_detail_has_every_key_in_order_with_iso_times_and_float_second_durations() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let created = scan_as(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false})).expect(200);
    let full = created.data()["job"]["id"].as_i64().unwrap();
    let scan_id = created.data()["scan"]["id"].clone();
    app.wait_for_job(&path, full, WAIT);
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));

    let done = detail(&app, &path, full);
    let skipped = detail(&app, &path, incr);
    let repo = app
        .get(&format!("{}/", world.repo_path()), ADMIN_TOKEN)
        .expect(200);
    for job in [&done, &skipped] {
        assert_eq!(keys(job), DETAIL_KEYS, "{job}");
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
        assert_eq!(
            keys(&job["project"]["project_team"]),
            ["name", "display_name", "status", "org_sid"]
        );
        for field in ["create_time", "start_time", "end_time"] {
            assert!(
                is_datetime(&job[field], "+08:00"),
                "{field}: {}",
                job[field]
            );
        }
        for field in ["waiting_time", "execute_time", "save_time"] {
            assert!(is_float_seconds(&job[field]), "{field}: {}", job[field]);
        }
        assert_eq!(job["co_jobs"], json!([]));
        assert_eq!(job["state"], 2);
        assert_eq!(job["remarks"], Value::Null);
        assert_eq!(job["remarked_by"], Value::Null);
        assert_eq!(job["created_from"], "tca_web");
        assert_eq!(job["creator"], "admin");
        assert!(parse_time(&job["create_time"]) <= parse_time(&job["start_time"]));
        assert!(parse_time(&job["start_time"]) <= parse_time(&job["end_time"]));
        let project = &job["project"];
        assert_eq!(project["id"], world.project_id);
        assert_eq!(project["branch"], "main");
        assert_eq!(project["repo_id"], world.repo_id);
        assert_eq!(project["scan_scheme"], world.scheme_id);
        assert_eq!(project["repo_scm_url"], repo.data()["scm_url"]);
        assert_eq!(project["organization"]["org_sid"], "acme");
        assert_eq!(project["organization"]["name"], "Acme");
        assert_eq!(project["organization"]["status"], 1);
        assert_eq!(project["project_team"]["name"], "web");
        assert_eq!(project["project_team"]["org_sid"], "acme");
        assert_eq!(project["project_team"]["status"], 1);
    }

    assert_eq!(done["id"], full);
    assert_eq!(done["scan_id"], scan_id);
    assert_eq!(done["result_code"], 0);
    assert_eq!(done["result_code_msg"], "成功");
    assert_eq!(done["result_msg"], "success");
    assert_eq!(done["expire_time"], Value::Null);
    // The default template runs codecount and the built-in checker.
    assert_eq!(done["task_num"], 2);
    assert_eq!(done["task_done"], 2);
    assert_eq!(
        [
            &done["code_line_num"],
            &done["comment_line_num"],
            &done["blank_line_num"],
            &done["total_line_num"]
        ],
        [&json!(1), &json!(0), &json!(0), &json!(1)]
    );
    let tasks = done["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{done}");
    assert_eq!(tasks[1]["task_name"], "codepup");
    let task = &tasks[0];
    assert_eq!(
        keys(task),
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
    assert_eq!(task["module"], "codemetric");
    assert_eq!(task["task_name"], "codecount");
    assert_eq!(task["progress_rate"], 100);
    assert_eq!(task["state"], 2);
    assert_eq!(task["result_code"], 0);

    assert_eq!(skipped["result_code"], 1);
    assert_eq!(skipped["result_code_msg"], "无需扫描");
    assert_eq!(skipped["result_msg"], NO_CHANGE_MSG);
    assert!(
        is_datetime(&skipped["expire_time"], "+08:00"),
        "{}",
        skipped["expire_time"]
    );
    assert_eq!(skipped["code_line_num"], 1);
    assert!(skipped["scan_id"].as_i64().unwrap() > scan_id.as_i64().unwrap());
}

#[test]
fn a_cancelled_job_closes_with_301_and_records_the_remark_and_who() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let job = gated.held_job(json!({"incr_scan": false}));
    let running = detail(app, path, job);
    assert_eq!(running["state"], 1);
    assert_eq!(running["result_code"], Value::Null);
    assert_eq!(running["result_code_msg"], Value::Null);
    assert_eq!(running["end_time"], Value::Null);
    assert!(is_float_seconds(&running["execute_time"]), "{running}");

    let reply = cancel(app, ADMIN_TOKEN, path, job, "not needed").expect(200);
    assert_eq!(
        reply.body,
        json!({"data": {"msg": "取消成功"}, "code": 0, "msg": "取消成功", "status_code": 200})
    );
    let cancelled = detail(app, path, job);
    assert_eq!(cancelled["state"], 2);
    assert_eq!(cancelled["result_code"], 301);
    assert_eq!(cancelled["result_code_msg"], "用户取消");
    assert_eq!(
        cancelled["result_msg"],
        "User( admin ) Canceled: not needed . "
    );
    assert_eq!(cancelled["remarks"], "not needed");
    assert!(cancelled["remarked_by"].is_i64(), "{cancelled}");
    for field in ["create_time", "start_time", "end_time", "expire_time"] {
        assert!(
            is_datetime(&cancelled[field], "+08:00"),
            "{field}: {}",
            cancelled[field]
        );
    }
    for field in ["waiting_time", "execute_time", "save_time"] {
        assert!(
            is_float_seconds(&cancelled[field]),
            "{field}: {}",
            cancelled[field]
        );
    }
    // The gate task was stopped with the job.
    let tasks = cancelled["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{cancelled}");
    assert!(tasks.iter().all(|task| task["state"] == 2), "{cancelled}");
    assert_eq!(tasks[1]["task_name"], "gate");
    assert_eq!(tasks[1]["result_code"], 301);
    // Cancelling again changes nothing.
    cancel(app, ADMIN_TOKEN, path, job, "again").expect(200);
    assert_eq!(detail(app, path, job)["remarks"], "not needed");
}

#[test]
fn a_job_of_another_project_a_missing_job_and_a_non_numeric_job_id_are_404() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let other = world.project_with_scheme(&app, "main", json!({"name": "other"}));
    let other_job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &other,
        json!({"incr_scan": false}),
    ));
    detail(&app, &other, other_job);

    for url in [
        format!("{other}/jobs/{job}/detail/"),
        format!("{path}/jobs/{other_job}/detail/"),
        format!("{path}/jobs/999999/detail/"),
        format!("{other}/jobs/{job}/codecount/"),
        format!("{path}/jobs/abc/detail/"),
        format!("{path}/jobs/1x/detail/"),
        format!("{path}/jobs/99999999999999999999999/detail/"),
    ] {
        let reply = app.get(&url, ADMIN_TOKEN);
        assert_eq!(reply.status, 404, "{url}: {}", reply.body);
        assert!(
            reply.content_type.starts_with("application/json"),
            "{url}: {}",
            reply.content_type
        );
        assert_eq!(reply.body["msg"], "未找到。", "{url}");
    }
    cancel(&app, ADMIN_TOKEN, &other, job, "").expect(404);
    assert_eq!(detail(&app, &path, job)["result_code"], 0);
}

#[test]
fn a_server_configured_for_minus_0530_shows_every_job_time_in_minus_0530() {
    let app = TestApp::spawn_with(|config| {
        config.tz_offset = codepup::config::parse_offset("-05:30").unwrap();
    });
    let world = World::build(&app);
    let path = world.project_path();
    let full = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let full_detail = detail(&app, &path, full);
    let incr_detail = detail(&app, &path, incr);
    for (job, fields) in [
        (&full_detail, &["create_time", "start_time", "end_time"][..]),
        (
            &incr_detail,
            &["create_time", "start_time", "end_time", "expire_time"][..],
        ),
    ] {
        for field in fields {
            assert!(
                is_datetime(&job[*field], "-05:30"),
                "{field}: {}",
                job[*field]
            );
        }
    }
    // Naive filter times are read in -05:30 too.
    let created = incr_detail["create_time"].as_str().unwrap();
    let naive = &created[..created.len() - "-05:30".len()];
    assert_eq!(
        listed(&app, &path, &query(&[("create_time_gte", naive)])),
        [incr]
    );
    assert_eq!(
        listed(&app, &path, &query(&[("create_time_lte", naive)])),
        [incr, full]
    );
    assert_eq!(
        listed(&app, &path, &query(&[("create_time_gte", created)])),
        [incr]
    );
}
