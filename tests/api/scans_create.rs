//! `scans/create` input: answers, TCA's boolean spellings, the unfinished-job refusal, bad
//! bodies.

use serde_json::json;

use crate::helpers::{Body, TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::{
    detail, gated, id_of, job_count, keys, listed, scan_as, scan_sync, NO_CHANGE_MSG, WAIT,
};

#[test]
fn an_async_scan_answers_exactly_the_job_and_scan_ids() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false})).expect(200);
    let job = reply.data()["job"]["id"].as_i64().unwrap();
    let scan = reply.data()["scan"]["id"].as_i64().unwrap();
    assert_eq!(
        reply.body.to_string(),
        json!({"data": {"job": {"id": job}, "scan": {"id": scan}}, "code": 0, "msg": "请求成功", "status_code": 200})
            .to_string(),
        "keys and order"
    );
    let closed = app.wait_for_job(&path, job, WAIT);
    assert_eq!(closed["result_code"], 0);
    assert_eq!(closed["scan_id"], scan);
}

#[test]
fn a_sync_scan_answers_once_the_job_is_closed_with_its_state_and_result() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let reply = scan_as(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false, "async_flag": false}),
    )
    .expect(200);
    let job = reply.data()["job"]["id"].as_i64().unwrap();
    let scan = reply.data()["scan"]["id"].as_i64().unwrap();
    assert_eq!(
        reply.body.to_string(),
        json!({
            "data": {
                "job": {"id": job, "state": 2, "result_code": 0, "result_msg": "success",
                        "gate": null},
                "scan": {"id": scan}
            },
            "code": 0, "msg": "请求成功", "status_code": 200
        })
        .to_string()
    );
    assert_eq!(detail(&app, &path, job)["state"], 2);
    let again = scan_sync(&app, ADMIN_TOKEN, &path, json!({}));
    assert_eq!(again["result_code"], 1);
    assert_eq!(again["result_msg"], NO_CHANGE_MSG);
}

#[test]
fn tcas_boolean_spellings_work_for_incr_scan_and_async_flag() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    // (body, expected result code); each is synchronous through another spelling of false.
    let cases = [
        (json!({"incr_scan": "off", "async_flag": "0"}), 0),
        (json!({"incr_scan": "yes", "async_flag": "off"}), 1),
        (json!({"incr_scan": 1, "async_flag": false}), 1),
        (json!({"incr_scan": "T", "async_flag": "F"}), 1),
        (json!({"incr_scan": "0", "async_flag": 0}), 0),
        (json!({"incr_scan": "on", "async_flag": "no"}), 1),
        (json!({"incr_scan": "False", "async_flag": "N"}), 0),
        (json!({"incr_scan": 0.0, "async_flag": "0.0"}), 0),
    ];
    for (body, expected) in cases {
        let reply = scan_as(&app, ADMIN_TOKEN, &path, body.clone()).expect(200);
        let job = &reply.data()["job"];
        assert_eq!(job["state"], 2, "{body} answers synchronously: {job}");
        assert_eq!(job["result_code"], expected, "{body}: {job}");
    }
    // True spellings of async_flag answer at once, with the ids only.
    for spelling in [json!("yes"), json!("T"), json!(1), json!("on"), json!(true)] {
        let reply = scan_as(
            &app,
            ADMIN_TOKEN,
            &path,
            json!({"async_flag": spelling.clone()}),
        )
        .expect(200);
        assert_eq!(keys(&reply.data()["job"]), ["id"], "{spelling}");
        let job = reply.data()["job"]["id"].as_i64().unwrap();
        assert_eq!(app.wait_for_job(&path, job, WAIT)["result_code"], 1);
    }
    // Forms spell them the same way.
    let form = app
        .post_form(
            &format!("{path}/scans/create/"),
            ADMIN_TOKEN,
            &[("incr_scan", "Y"), ("async_flag", "f")],
        )
        .expect(200);
    assert_eq!(form.data()["job"]["result_code"], 1, "{}", form.body);
}

#[test]
fn a_new_scan_while_a_job_is_unfinished_is_refused_with_code_300_unless_forced() {
    let gated = gated();
    let (app, path) = (&gated.app, gated.path.as_str());
    let project_id = path.rsplit('/').next().unwrap();
    let first = gated.held_job(json!({"incr_scan": false}));
    let first_scan = detail(app, path, first)["scan_id"].as_i64().unwrap();

    for body in [
        json!({}),
        json!({"force_create": false}),
        json!({"force_create": "off"}),
        json!({"force_create": "0"}),
        json!({"force_create": 0}),
    ] {
        let refused = scan_as(app, ADMIN_TOKEN, path, body.clone()).expect(400);
        assert_eq!(
            refused.body,
            json!({
                "status_code": 400,
                "code": 300,
                "msg": format!("当前项目分支[{project_id}]main还有未完成任务，编号为: [{first_scan}]")
            }),
            "{body}"
        );
    }
    assert_eq!(job_count(app, path), 1);

    let mut scans = vec![first_scan];
    for spelling in [json!("yes"), json!(1), json!("T"), json!("on"), json!(true)] {
        let reply = scan_as(
            app,
            ADMIN_TOKEN,
            path,
            json!({"force_create": spelling.clone()}),
        )
        .expect(200);
        scans.push(reply.data()["scan"]["id"].as_i64().unwrap());
    }
    let form = app
        .post_form(
            &format!("{path}/scans/create/"),
            ADMIN_TOKEN,
            &[("force_create", "1")],
        )
        .expect(200);
    scans.push(form.data()["scan"]["id"].as_i64().unwrap());
    assert_eq!(job_count(app, path), 7);
    let refused = scan_as(app, ADMIN_TOKEN, path, json!({})).expect(400);
    let listed_scans: Vec<String> = scans.iter().map(i64::to_string).collect();
    assert_eq!(
        refused.body["msg"],
        format!(
            "当前项目分支[{project_id}]main还有未完成任务，编号为: [{}]",
            listed_scans.join(", ")
        )
    );
}

#[test]
fn bad_booleans_in_scans_create_are_400_naming_the_field_and_create_no_job() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    scan_sync(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false}));
    let before = job_count(&app, &path);
    for field in ["incr_scan", "async_flag", "force_create"] {
        for bad in [
            json!("maybe"),
            json!(null),
            json!([]),
            json!(2),
            json!({}),
            json!(""),
        ] {
            let body = json!({ field: bad });
            let reply = scan_as(&app, ADMIN_TOKEN, &path, body.clone());
            assert_eq!(reply.status, 400, "{body}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), [field], "{body}: {}", reply.body);
            let msg = reply.body["msg"].as_str().unwrap();
            assert!(msg.starts_with(&format!("{field} ")), "{body}: {msg}");
            if !bad.is_null() {
                assert_eq!(msg, format!("{field} Must be a valid boolean."), "{body}");
            }
        }
        let form = app
            .post_form(
                &format!("{path}/scans/create/"),
                ADMIN_TOKEN,
                &[(field, "maybe")],
            )
            .expect(400);
        assert_eq!(form.invalid_fields(), [field]);
    }
    let several = scan_as(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": "maybe", "async_flag": [], "force_create": 2, "created_from": "ok"}),
    )
    .expect(400);
    let mut named = several.invalid_fields();
    named.sort();
    assert_eq!(named, ["async_flag", "force_create", "incr_scan"]);
    assert_eq!(job_count(&app, &path), before, "no job for a bad body");
}

#[test]
fn a_null_boolean_in_scans_create_gets_tcas_not_null_message() {
    // TCA_API.md §2.3 and §4.1: `null` -> 400 `incr_scan 该字段不能为 null。`.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let mut wrong = Vec::new();
    for field in ["incr_scan", "force_create", "async_flag"] {
        let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({ field: null })).expect(400);
        let expected = format!("{field} 该字段不能为 null。");
        if reply.body["msg"] != expected.as_str() {
            wrong.push(format!("expected {expected:?}, got {}", reply.body["msg"]));
        }
    }
    assert_eq!(job_count(&app, &path), 0);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_long_or_blank_created_from_or_an_unreadable_body_is_400_and_creates_no_job() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let create = format!("{path}/scans/create/");
    let long = "c".repeat(33);
    let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({"created_from": long})).expect(400);
    assert_eq!(reply.invalid_fields(), ["created_from"]);
    let form = app
        .post_form(&create, ADMIN_TOKEN, &[("created_from", long.as_str())])
        .expect(400);
    assert_eq!(form.invalid_fields(), ["created_from"]);
    // TCA's serializer field allows no blank (review): "" or spaces are a 400, not `tca_web`.
    for blank in ["", "   "] {
        let reply = scan_as(&app, ADMIN_TOKEN, &path, json!({"created_from": blank})).expect(400);
        assert_eq!(reply.invalid_fields(), ["created_from"], "{blank:?}");
    }
    let malformed = app
        .call(
            "POST",
            &create,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", b"{\"incr_scan\": ".to_vec()),
        )
        .expect(400);
    assert!(
        malformed.body["msg"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error"),
        "{}",
        malformed.body
    );
    let list_body = app
        .call(
            "POST",
            &create,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", b"[1]".to_vec()),
        )
        .expect(400);
    assert_eq!(list_body.invalid_fields(), ["non_field_errors"]);
    let wrong_type = app.call(
        "POST",
        &create,
        Some(ADMIN_TOKEN),
        Body::Raw("text/plain", b"incr_scan=false".to_vec()),
    );
    assert_eq!(wrong_type.status, 415, "{}", wrong_type.body);
    assert_eq!(job_count(&app, &path), 0, "no job for a bad body");

    // Exactly 32 characters is fine, and stored as sent.
    let fits = "d".repeat(32);
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"created_from": fits}),
    ));
    assert_eq!(detail(&app, &path, job)["created_from"], fits.as_str());
    assert_eq!(job_count(&app, &path), 1);
}

#[test]
fn an_empty_form_is_a_full_scan_while_an_empty_json_body_or_no_body_is_incremental() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let create = format!("{path}/scans/create/");
    let first = scan_sync(&app, ADMIN_TOKEN, &path, json!({"incr_scan": false}));
    assert_eq!(first["result_code"], 0);

    // `{}`: incr_scan missing from JSON means incremental; same head, so nothing to scan.
    let (json_job, _) = app.start_scan(&path, json!({}));
    assert_eq!(app.wait_for_job(&path, json_job, WAIT)["result_code"], 1);
    // No body at all: the same.
    let no_body = app
        .call("POST", &create, Some(ADMIN_TOKEN), Body::None)
        .expect(200);
    let no_body = no_body.data()["job"]["id"].as_i64().unwrap();
    assert_eq!(app.wait_for_job(&path, no_body, WAIT)["result_code"], 1);
    let blank_json = app
        .call(
            "POST",
            &create,
            Some(ADMIN_TOKEN),
            Body::Raw("application/json", Vec::new()),
        )
        .expect(200);
    let blank_json = blank_json.data()["job"]["id"].as_i64().unwrap();
    assert_eq!(app.wait_for_job(&path, blank_json, WAIT)["result_code"], 1);

    // An empty form: a missing boolean is false (the HTML checkbox rule), so a full scan.
    let form = app.post_form(&create, ADMIN_TOKEN, &[]).expect(200);
    assert_eq!(
        keys(&form.data()["job"]),
        ["id"],
        "a form without async_flag stays asynchronous"
    );
    let form_job = form.data()["job"]["id"].as_i64().unwrap();
    let closed = app.wait_for_job(&path, form_job, WAIT);
    assert_eq!(closed["result_code"], 0, "{closed}");
    assert_eq!(closed["result_msg"], "success");
    // A form that says incremental is incremental.
    let incr_form = app
        .post_form(
            &create,
            ADMIN_TOKEN,
            &[("incr_scan", "true"), ("async_flag", "false")],
        )
        .expect(200);
    assert_eq!(incr_form.data()["job"]["result_code"], 1);
    assert_eq!(
        listed(&app, &path, "?result_code_lte=0"),
        [form_job, id_of(&first)]
    );
}
