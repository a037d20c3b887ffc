//! Scheduled scans: `PUT`/`GET .../schedule/`, the scheduler thread, missed slots and the
//! schedule that turns itself off. The scheduler's clock is the test's (`Clock::adjustable`),
//! moved on instead of waited for.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp, World, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(60);

fn jobs(app: &TestApp, project: &str) -> Vec<Value> {
    app.get(&format!("{project}/jobs/"), ADMIN_TOKEN)
        .expect(200)
        .data()["results"]
        .as_array()
        .unwrap()
        .clone()
}

fn job_count(app: &TestApp, project: &str) -> i64 {
    app.get(&format!("{project}/jobs/"), ADMIN_TOKEN)
        .expect(200)
        .data()["count"]
        .as_i64()
        .unwrap()
}

fn put_schedule(app: &TestApp, project: &str, body: Value) -> crate::helpers::Reply {
    app.call(
        "PUT",
        &format!("{project}/schedule/"),
        Some(ADMIN_TOKEN),
        crate::helpers::Body::Json(body),
    )
}

#[test]
fn a_schedule_is_put_and_read_back_with_its_next_run_in_the_servers_offset() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let none = app
        .get(&format!("{project}/schedule/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(none.data()["cron"], Value::Null);
    assert_eq!(none.data()["enabled"], false);

    let put = put_schedule(
        &app,
        &project,
        json!({"cron": "0 3 * * *", "incr_scan": false}),
    )
    .expect(200);
    assert_eq!(put.data()["cron"], "0 3 * * *");
    assert_eq!(put.data()["incr_scan"], false);
    assert_eq!(put.data()["enabled"], true);
    assert_eq!(put.data()["tz_offset"], "+08:00");
    let next = put.data()["next_run_time"].as_str().unwrap();
    assert!(next.ends_with("T03:00:00+08:00"), "{next}");
    let got = app
        .get(&format!("{project}/schedule/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(got.data(), put.data());
    let record = app.get(&format!("{project}/"), ADMIN_TOKEN).expect(200);
    assert_eq!(record.data()["scan_schedule"]["cron"], "0 3 * * *");
}

#[test]
fn a_bad_cron_expression_is_a_400_naming_cron() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    for cron in [
        "61 * * * *",
        "0 0 3 * * *",
        "0 3 * *",
        "every day",
        "0 0 30 2 *",
        "",
    ] {
        let reply = put_schedule(&app, &project, json!({"cron": cron})).expect(400);
        assert_eq!(
            reply.invalid_fields(),
            vec!["cron"],
            "{cron:?}: {}",
            reply.body
        );
    }
    let reply = put_schedule(&app, &project, json!({"incr_scan": true})).expect(400);
    assert_eq!(reply.invalid_fields(), vec!["cron"]);
    let reply = put_schedule(&app, &project, json!({"cron": "61 * * * *"})).expect(400);
    assert!(
        reply.body["msg"].as_str().unwrap().starts_with("cron "),
        "{}",
        reply.body
    );
}

#[test]
fn a_due_schedule_starts_one_scan_from_the_schedule_and_a_disabled_one_none() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    put_schedule(
        &app,
        &project,
        json!({"cron": "*/5 * * * *", "incr_scan": false}),
    )
    .expect(200);
    app.config.schedule_clock.advance(6 * 60);
    assert!(
        eventually(WAIT, || job_count(&app, &project) == 1),
        "no scheduled scan"
    );
    let job_id = jobs(&app, &project)[0]["id"].as_i64().unwrap();
    let detail = app.wait_for_job(&project, job_id, WAIT);
    assert_eq!(detail["created_from"], "schedule");
    assert_eq!(detail["creator"], "schedule");
    assert_eq!(detail["result_code"], 0, "{detail}");
    let scans = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let scans = app.get(&format!("{scans}/scans/"), ADMIN_TOKEN).expect(200);
    assert_eq!(
        scans.data()["results"][0]["type"],
        2,
        "a full scan: {}",
        scans.body
    );
    let schedule = app
        .get(&format!("{project}/schedule/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(schedule.data()["last_job_id"], job_id);
    // Its next slot is in the (test clock's) future: no second run.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(job_count(&app, &project), 1);

    put_schedule(
        &app,
        &project,
        json!({"cron": "*/5 * * * *", "enabled": false}),
    )
    .expect(200);
    app.config.schedule_clock.advance(60 * 60);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(job_count(&app, &project), 1, "a disabled schedule ran");
}

#[test]
fn slots_missed_while_the_server_was_down_run_once_at_start_up() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    put_schedule(&app, &project, json!({"cron": "0 * * * *"})).expect(200);
    app.stop();
    // Five hourly slots pass while no server runs.
    app.config.schedule_clock.advance(5 * 3600 + 60);
    app.restart();
    assert!(
        eventually(WAIT, || job_count(&app, &project) == 1),
        "the missed run never came"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        job_count(&app, &project),
        1,
        "one run, not one per missed slot"
    );
    let schedule = app
        .get(&format!("{project}/schedule/"), ADMIN_TOKEN)
        .expect(200);
    assert!(
        schedule.data()["last_run_time"].is_string(),
        "{}",
        schedule.body
    );
    assert!(
        schedule.data()["next_run_time"].as_str().unwrap()
            > schedule.data()["last_run_time"].as_str().unwrap(),
        "{}",
        schedule.body
    );
}

#[test]
fn a_schedule_turns_itself_off_after_ten_scans_failed_in_git() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    // The repository goes away: every scan fails in git.
    std::fs::rename(&world.repo_dir, app.dir.path().join("gone")).unwrap();
    for _ in 0..10 {
        let reply = app
            .post(
                &format!("{project}/scans/create/"),
                ADMIN_TOKEN,
                json!({"async_flag": false}),
            )
            .expect(200);
        let result_code = reply.data()["job"]["result_code"].as_i64().unwrap();
        assert!((110..120).contains(&result_code), "{}", reply.body);
    }
    put_schedule(&app, &project, json!({"cron": "* * * * *"})).expect(200);
    app.config.schedule_clock.advance(120);
    assert!(
        eventually(WAIT, || {
            let schedule = app
                .get(&format!("{project}/schedule/"), ADMIN_TOKEN)
                .expect(200);
            schedule.data()["enabled"] == false
        }),
        "the schedule stayed on"
    );
    let schedule = app
        .get(&format!("{project}/schedule/"), ADMIN_TOKEN)
        .expect(200);
    let reason = schedule.data()["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("last 10 scans failed in git"), "{reason}");
    let record = app.get(&format!("{project}/"), ADMIN_TOKEN).expect(200);
    assert_eq!(
        record.data()["scan_schedule"]["disabled_reason"],
        json!(reason)
    );
    assert_eq!(job_count(&app, &project), 10, "no 11th scan");

    // Turning it on again clears the reason.
    let again = put_schedule(
        &app,
        &project,
        json!({"cron": "* * * * *", "enabled": true}),
    )
    .expect(200);
    assert_eq!(again.data()["disabled_reason"], Value::Null);
}
