//! The job list: TCA's item keys, its filters (times, result codes, substrings, states,
//! projects) and the order of checks before query values are read.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::helpers::{Body, TestApp, World, ADMIN_TOKEN};
use crate::jobs_api::{
    add_member, cancel, detail, four_jobs, id_of, ids, job_count, keys, list, listed, parse_time,
    query, scan_sync, three_closed_jobs, ITEM_KEYS, NO_CHANGE_MSG,
};

#[test]
fn the_job_list_shows_the_newest_job_first_with_tcas_item_keys_in_order() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let full = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let again = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": true}),
    ));

    let page = list(&app, &path, "");
    assert_eq!(ids(&page), [again, incr, full]);
    assert_eq!(page["count"], 3);
    for item in page["results"].as_array().unwrap() {
        assert_eq!(keys(item), ITEM_KEYS, "{item}");
        assert_eq!(item["state"], 2);
        assert_eq!(item["efficient_comment_line_num"], Value::Null);
        assert_eq!(item["filtered_efficient_comment_line_num"], Value::Null);
        // The world's repository is one line of Python; a no-change scan describes the same tree.
        assert_eq!(item["code_line_num"], 1, "{item}");
        assert_eq!(item["comment_line_num"], 0, "{item}");
        assert_eq!(item["blank_line_num"], 0, "{item}");
        assert_eq!(item["total_line_num"], 1, "{item}");
    }
    let results = &page["results"];
    assert_eq!(results[2]["result_code"], 0);
    assert_eq!(results[2]["result_msg"], "success");
    assert_eq!(results[1]["result_code"], 1);
    assert_eq!(results[1]["result_msg"], NO_CHANGE_MSG);
    assert_eq!(results[0]["result_code"], 1);
}

#[test]
fn time_filters_take_offsets_and_read_naive_times_and_dates_in_the_servers_offset() {
    let jobs = three_closed_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    let all = vec![by_alice, incr, full];
    let middle = jobs.created[1].as_str().unwrap();
    assert!(middle.ends_with("+08:00"), "{middle}");

    // With the offset, `+` sent as %2B.
    let gte = |value: &str| listed(app, path, &query(&[("create_time_gte", value)]));
    let lte = |value: &str| listed(app, path, &query(&[("create_time_lte", value)]));
    assert_eq!(gte(middle), [by_alice, incr], "gte is inclusive");
    assert_eq!(lte(middle), [incr, full], "lte is inclusive");
    let both = query(&[("create_time_gte", middle), ("create_time_lte", middle)]);
    assert_eq!(listed(app, path, &both), [incr]);

    // The same moment in UTC selects the same jobs.
    let utc = parse_time(&jobs.created[1])
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap();
    assert!(utc.ends_with('Z'), "{utc}");
    assert_eq!(gte(&utc), [by_alice, incr], "{utc}");

    // Without an offset the time is read as +08:00; read as UTC it would be 8 hours later.
    let naive = &middle[..middle.len() - "+08:00".len()];
    assert_eq!(gte(naive), [by_alice, incr], "{naive}");
    assert_eq!(lte(naive), [incr, full], "{naive}");

    // A date alone is that day's midnight in +08:00.
    let date = &middle[..10];
    let midnight = OffsetDateTime::parse(&format!("{date}T00:00:00+08:00"), &Rfc3339).unwrap();
    let next_midnight = midnight + time::Duration::days(1);
    let times: Vec<(i64, OffsetDateTime)> = [full, incr, by_alice]
        .into_iter()
        .zip(jobs.created.iter().map(parse_time))
        .collect();
    let expect = |keep: &dyn Fn(OffsetDateTime) -> bool| -> Vec<i64> {
        let mut kept: Vec<i64> = times
            .iter()
            .filter(|(_, t)| keep(*t))
            .map(|(id, _)| *id)
            .collect();
        kept.reverse();
        kept
    };
    assert_eq!(gte(date), expect(&|t| t >= midnight), "gte {date}");
    assert_eq!(lte(date), expect(&|t| t <= midnight), "lte {date}");
    let next_date = next_midnight.to_offset(UtcOffset::from_hms(8, 0, 0).unwrap());
    let next_date = format!(
        "{:04}-{:02}-{:02}",
        next_date.year(),
        u8::from(next_date.month()),
        next_date.day()
    );
    assert_eq!(
        lte(&next_date),
        expect(&|t| t <= next_midnight),
        "lte {next_date}"
    );

    // Far bounds.
    assert_eq!(gte("2999-12-31T23:59:59+08:00"), Vec::<i64>::new());
    assert_eq!(lte("2999-12-31T23:59:59+08:00"), all);
    assert_eq!(gte("2000-01-01T00:00:00+08:00"), all);
    assert_eq!(lte("2000-01-01T00:00:00+08:00"), Vec::<i64>::new());
    assert_eq!(gte("2000-01-01"), all);
    assert_eq!(lte("2000-01-01"), Vec::<i64>::new());
}

#[test]
fn result_code_filters_are_inclusive_and_take_decimals_truncated_and_exponents() {
    // Django reads the value as a Decimal and the integer field's `get_prep_value` truncates
    // it (`int(Decimal('0.5'))` is 0), so `0.5` means 0 and `301.5` means 301 (review).
    let (jobs, cancelled) = four_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    assert_eq!(
        detail(app, path, cancelled)["result_code"],
        301,
        "the fixture's cancelled job"
    );
    let cases: [(&str, Vec<i64>); 12] = [
        (
            "?result_code_gte=0.5",
            vec![cancelled, by_alice, incr, full],
        ),
        ("?result_code_lte=0.5", vec![full]),
        ("?result_code_gte=1e2", vec![cancelled]),
        ("?result_code_lte=1e2", vec![by_alice, incr, full]),
        ("?result_code_gte=1&result_code_lte=1", vec![by_alice, incr]),
        (
            "?result_code_gte=301&result_code_lte=301.0",
            vec![cancelled],
        ),
        ("?result_code_gte=0", vec![cancelled, by_alice, incr, full]),
        (
            "?result_code_gte=-1.5",
            vec![cancelled, by_alice, incr, full],
        ),
        ("?result_code_lte=-0.5", vec![full]),
        ("?result_code_gte=301.5", vec![cancelled]),
        ("?result_code_gte=1e400", vec![]),
        (
            "?result_code_lte=1e400",
            vec![cancelled, by_alice, incr, full],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(app, path, query), expected, "{query}");
    }
}

#[test]
fn result_msg_created_from_and_creator_filters_are_case_insensitive_substrings() {
    let (jobs, cancelled) = four_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    let cancelled_detail = detail(app, path, cancelled);
    assert_eq!(cancelled_detail["created_from"], "tca_web");
    assert_eq!(detail(app, path, by_alice)["creator"], "alice-nick");
    let cases: Vec<(&str, &str, Vec<i64>)> = vec![
        ("result_msg", "SUCCESS", vec![full]),
        ("result_msg", "Succ", vec![full]),
        ("result_msg", "无需再次增量", vec![by_alice, incr]),
        ("result_msg", "canceled", vec![cancelled]),
        ("result_msg", "CANCELED: NOT NEEDED", vec![cancelled]),
        // `%` and `_` are literal characters, not LIKE wildcards.
        ("result_msg", "su%s", vec![]),
        ("result_msg", "succ_ss", vec![]),
        ("result_msg", "nothing like this", vec![]),
        ("created_from", "CLIENT", vec![by_alice, incr]),
        ("created_from", "web", vec![cancelled, full]),
        ("created_from", "b_u", vec![full]),
        ("created_from", "tca_web", vec![cancelled]),
        ("created_from", "tc__web", vec![]),
        ("created_from", "x_y", vec![]),
        ("creator", "ALICE", vec![by_alice]),
        ("creator", "Nick", vec![by_alice]),
        ("creator", "dmi", vec![cancelled, incr, full]),
        ("creator", "bob", vec![]),
    ];
    for (field, value, expected) in cases {
        assert_eq!(
            listed(app, path, &query(&[(field, value)])),
            expected,
            "{field}={value}"
        );
    }
    // Filters combine.
    let combined = query(&[("created_from", "client"), ("creator", "admin")]);
    assert_eq!(listed(app, path, &combined), [incr]);
}

#[test]
fn the_state_filter_takes_a_comma_separated_list_of_states() {
    let jobs = three_closed_jobs();
    let (app, path) = (&jobs.gated.app, jobs.gated.path.as_str());
    let (full, incr, by_alice) = (jobs.full, jobs.incr, jobs.by_alice);
    let running = jobs.gated.held_job(json!({"incr_scan": false}));

    let cases: [(&str, Vec<i64>); 7] = [
        ("?state=1", vec![running]),
        ("?state=2", vec![by_alice, incr, full]),
        ("?state=0,2", vec![by_alice, incr, full]),
        ("?state=%201,%202", vec![running, by_alice, incr, full]),
        ("?state=2,1", vec![running, by_alice, incr, full]),
        ("?state=0", vec![]),
        ("?state=0,3,4,5", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(app, path, query), expected, "{query}");
    }
    cancel(app, ADMIN_TOKEN, path, running, "").expect(200);
    assert_eq!(listed(app, path, "?state=1"), Vec::<i64>::new());
    assert_eq!(
        listed(app, path, "?state=2"),
        [running, by_alice, incr, full]
    );
}

#[test]
fn bad_filter_values_are_400_naming_each_bad_field_never_500() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let cases = [
        ("?result_code_gte=abc", "result_code_gte"),
        ("?result_code_lte=1.2.3", "result_code_lte"),
        ("?result_code_gte=NaN", "result_code_gte"),
        // Django's DecimalField takes `inf` as a Decimal and refuses it as not finite.
        ("?result_code_lte=inf", "result_code_lte"),
        ("?result_code_gte=-Infinity", "result_code_gte"),
        ("?create_time_gte=2020/01/01", "create_time_gte"),
        ("?create_time_lte=2020-01-01%2010", "create_time_lte"),
        ("?create_time_lte=1577836800", "create_time_lte"),
        ("?state=abc", "state"),
        ("?state=1,,2", "state"),
        ("?state=1,", "state"),
        ("?state=,1", "state"),
        ("?state=1.5", "state"),
        // An unencoded `+08:00` arrives as a space, and is refused.
        (
            "?create_time_gte=2020-01-01T00:00:00+08:00",
            "create_time_gte",
        ),
    ];
    for (query, field) in cases {
        let reply = app.get(&format!("{path}/jobs/{query}"), ADMIN_TOKEN);
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.invalid_fields(), [field], "{query}: {}", reply.body);
        assert!(
            reply.body["msg"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field} ")),
            "{query}: {}",
            reply.body
        );
    }
    let number = app
        .get(&format!("{path}/jobs/?result_code_gte=abc"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(number.body["msg"], "result_code_gte Enter a number.");
    assert_eq!(
        number.body["invalid_fields"],
        json!([{"field": "result_code_gte", "message": ["Enter a number."]}])
    );
    let date = app
        .get(
            &format!("{path}/jobs/?create_time_gte=2020/01/01"),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(date.body["msg"], "create_time_gte Enter a valid date/time.");

    // Several bad values at once are all named.
    let several = app
        .get(
            &format!(
                "{path}/jobs/?state=x&result_code_gte=abc&create_time_lte=2020/01/01&result_code_lte=&create_time_gte=2020-01-01"
            ),
            ADMIN_TOKEN,
        )
        .expect(400);
    let mut named = several.invalid_fields();
    named.sort();
    assert_eq!(
        named,
        ["create_time_lte", "result_code_gte", "state"],
        "{}",
        several.body
    );
}

#[test]
fn datetimes_out_of_range_after_their_offset_or_with_multibyte_zones_are_400_never_500() {
    // Issue 8, hole 4: both crashed the handler (a time past year 9999 once moved to UTC, and a
    // string slice inside `é`). TCA answers an HTML 500 for them.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project_jobs = format!("{}/jobs/", world.project_path());
    let cases = [
        "create_time_gte=9999-12-31T23:59:59-23:00",
        "create_time_lte=9999-12-31T23:59:59-00:01",
        "create_time_gte=0001-01-01T00:00:00%2B00:01",
        "create_time_gte=2020-01-01T10:00%2Ba%C3%A9b",
        "create_time_lte=2020-01-01T10:00-%C3%A9%C3%A9",
        "create_time_gte=2020-01-01T10:00:00.%C3%A9",
        "create_time_gte=%C3%A9%C3%A9%C3%A9%C3%A9-01-01",
        "create_time_gte=01/02/%C3%A9%C3%A9",
    ];
    for list in [project_jobs.as_str(), "/server/main/api/v3/jobs/"] {
        for query in cases {
            let field = query.split('=').next().unwrap();
            let reply = app.get(&format!("{list}?{query}"), ADMIN_TOKEN);
            assert_eq!(reply.status, 400, "{list}?{query}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), [field], "{query}: {}", reply.body);
            assert_eq!(
                reply.body["msg"],
                format!("{field} Enter a valid date/time."),
                "{query}"
            );
        }
        // The last moments that fit still filter.
        for query in [
            "create_time_lte=9999-12-31T23:59:59.999999Z",
            "create_time_lte=9999-12-31T23:59:59%2B23:00",
            "create_time_gte=0001-01-01T00:00:00-23:00",
        ] {
            app.get(&format!("{list}?{query}"), ADMIN_TOKEN).expect(200);
        }
    }
}

#[test]
fn empty_filter_values_mean_no_filter() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let full = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let incr = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let everything = "?state=&result_code_gte=&result_code_lte=&create_time_gte=&create_time_lte=&result_msg=&created_from=&creator=";
    assert_eq!(listed(&app, &path, everything), [incr, full]);
    assert_eq!(listed(&app, &path, "?state=%20"), [incr, full]);
    // Unknown parameters are ignored; a repeated parameter takes its last value.
    assert_eq!(
        listed(&app, &path, "?ordering=id&page=3&nothing=x"),
        [incr, full]
    );
    assert_eq!(listed(&app, &path, "?state=abc&state=2"), [incr, full]);
    assert_eq!(
        listed(&app, &path, "?result_code_gte=1&result_code_gte="),
        [incr, full]
    );
}

/// TCA's `JobFilterSetV3` (apps/job/api_filters/v3.py) filters by `project`, a NumberFilter.
#[test]
fn the_project_filter_keeps_that_projects_jobs_and_a_non_number_is_400() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let other = world.project_with_scheme(&app, "main", json!({"name": "other"}));
    let job = id_of(&scan_sync(&app, ADMIN_TOKEN, &path, json!({})));
    let other_job = id_of(&scan_sync(&app, ADMIN_TOKEN, &other, json!({})));
    let own = world.project_id;
    let other_id: i64 = other.rsplit('/').next().unwrap().parse().unwrap();

    assert_eq!(listed(&app, &path, &format!("?project={own}")), [job]);
    assert_eq!(listed(&app, &path, &format!("?project={own}.0")), [job]);
    assert!(listed(&app, &path, &format!("?project={other_id}")).is_empty());
    // Truncated, as Django's integer field does with the Decimal.
    assert_eq!(listed(&app, &path, &format!("?project={own}.5")), [job]);
    assert_eq!(listed(&app, &path, "?project="), [job]);
    // The cross-project list takes it too.
    let recent = app
        .get(
            &format!("/server/main/api/v3/jobs/?project={other_id}"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(ids(recent.data()), [other_job]);

    let bad = app
        .get(&format!("{path}/jobs/?project=abc&state=x"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.body["msg"], "project Enter a number.");
    assert_eq!(bad.invalid_fields(), ["project", "state"]);
}

#[test]
fn query_values_are_checked_only_after_401_404_and_403() {
    // ARCHITECTURE.md's order of checks: 401; 404 for the org and team; 403 outside the team;
    // 404 for what lies below it; 403 for the action; 400 (TCA's permission classes run before
    // its filters too).
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let job = id_of(&scan_sync(
        &app,
        ADMIN_TOKEN,
        &path,
        json!({"incr_scan": false}),
    ));
    let task = detail(&app, &path, job)["tasks"][0]["id"].as_i64().unwrap();
    let outsider = app.create_user("outsider");
    let other = app.create_user("other_member");
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "other"}),
    )
    .expect(201);
    add_member(&app, "other_member", 2, Some(("other", 2)));
    let missing = format!("{}/projects/999", world.repo_path());

    let cases: Vec<(String, Option<&str>, u16)> = vec![
        (format!("{path}/jobs/?state=abc"), None, 401),
        (
            format!("{path}/jobs/?state=abc"),
            Some(outsider.as_str()),
            403,
        ),
        (format!("{path}/jobs/?state=abc"), Some(other.as_str()), 403),
        (
            format!("{path}/jobs/?result_code_gte=x&create_time_gte=y"),
            Some(outsider.as_str()),
            403,
        ),
        (format!("{missing}/jobs/?state=abc"), Some(ADMIN_TOKEN), 404),
        (
            format!("{path}/jobs/?offset=9223372036854775808"),
            Some(outsider.as_str()),
            403,
        ),
        (
            format!("{missing}/jobs/?offset=9223372036854775808"),
            Some(ADMIN_TOKEN),
            404,
        ),
        // The team comes before what lies below it: a caller outside it cannot tell a missing
        // project from another team's.
        (
            format!("{missing}/jobs/?state=abc"),
            Some(outsider.as_str()),
            403,
        ),
        (
            format!("{path}/jobs/{job}/tasks/{task}/log/?offset=abc"),
            Some(outsider.as_str()),
            403,
        ),
        (
            format!("{path}/jobs/{job}/tasks/999/log/?offset=-1"),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            format!("{path}/jobs/{job}/log/?offset=abc"),
            Some(other.as_str()),
            403,
        ),
    ];
    let mut failures = Vec::new();
    for (url, token, expected) in cases {
        let reply = app.call("GET", &url, token, Body::None);
        if reply.status != expected {
            failures.push(format!(
                "GET {url} as {}: expected {expected}, got {} {}",
                match token {
                    None => "nobody",
                    Some(t) if t == ADMIN_TOKEN => "superuser",
                    Some(t) if t == outsider => "outsider",
                    Some(_) => "other-team member",
                },
                reply.status,
                reply.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "wrong order of checks:\n{}",
        failures.join("\n")
    );
}

#[test]
fn an_unreadable_scans_create_body_is_checked_only_after_404_and_403() {
    // The same order for bodies: TCA's DRF parses `request.data` in the view, after the
    // permission classes, so a caller who may not scan gets 403 whatever the body holds.
    let app = TestApp::spawn();
    let world = World::build(&app);
    let path = world.project_path();
    let outsider = app.create_user("outsider");
    let member = app.create_user("member");
    add_member(&app, "member", 2, Some(("web", 2)));
    let missing = format!("{}/projects/999", world.repo_path());
    let malformed = || Body::Raw("application/json", b"{\"incr_scan\": ".to_vec());
    let cases: Vec<(String, &str, Body, u16)> = vec![
        (path.clone(), "outsider", malformed(), 403),
        (path.clone(), "member", malformed(), 403),
        (
            path.clone(),
            "outsider",
            Body::Raw("text/plain", b"x".to_vec()),
            403,
        ),
        (
            path.clone(),
            "outsider",
            Body::Json(json!({"incr_scan": "maybe"})),
            403,
        ),
        (missing.clone(), "superuser", malformed(), 404),
    ];
    let mut failures = Vec::new();
    for (project, who, body, expected) in cases {
        let token = match who {
            "outsider" => outsider.as_str(),
            "member" => member.as_str(),
            _ => ADMIN_TOKEN,
        };
        let reply = app.call(
            "POST",
            &format!("{project}/scans/create/"),
            Some(token),
            body,
        );
        if reply.status != expected {
            failures.push(format!(
                "POST {project}/scans/create/ as {who}: expected {expected}, got {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert_eq!(job_count(&app, &path), 0);
    assert!(
        failures.is_empty(),
        "wrong order of checks:\n{}",
        failures.join("\n")
    );
}
