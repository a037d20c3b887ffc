//! Issue 11's remaining code-metric views: the overview's trend lists (`overview/cycscans/`,
//! `dupscans/`, `clocscans/`), line counts per file, directory and language
//! (`codemetric/clocfiles/`, `clocs/`, `cloclangs/`), on `orgs/` and `v3/orgs/`, with TCA's
//! serializers' fields, permissions and bad input.

use serde_json::{json, Value};

use crate::codemetric::{analysis, branchy, commit, copied_block, keys, scan};
use crate::helpers::{has_tool, team_member, Body, TestApp, World, ADMIN_TOKEN};

fn results(reply: &crate::helpers::Reply) -> Vec<Value> {
    reply.data()["results"].as_array().unwrap().clone()
}

/// The line-count fields every cloc row has (`_ClocBase` and `ClocBase` of
/// tca-src/server/projects/analysis/apps/codemetric/models/codecount.py).
const CLOC_BASE: &[&str] = &[
    "code_line_num",
    "comment_line_num",
    "blank_line_num",
    "total_line_num",
    "add_code_line_num",
    "add_comment_line_num",
    "add_blank_line_num",
    "add_total_line_num",
    "mod_code_line_num",
    "mod_comment_line_num",
    "mod_blank_line_num",
    "mod_total_line_num",
    "del_code_line_num",
    "del_comment_line_num",
    "del_blank_line_num",
    "del_total_line_num",
    "project_id",
    "scan_id",
    "is_latest",
];

fn with_base(first: &[&str], rest: &[&str]) -> Vec<String> {
    first
        .iter()
        .chain(CLOC_BASE)
        .chain(rest)
        .map(|name| name.to_string())
        .collect()
}

#[test]
fn the_overviews_trend_lists_serve_each_measure_newest_first_with_tcas_fields() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let first_revision = commit(
        &world,
        &[
            ("src/branchy.py", branchy("branchy", 24)),
            ("src/one.py", copied_block()),
            ("src/two.py", format!("X = 1\n\n\n{}", copied_block())),
        ],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "metrics", "cc_scan_enabled": true, "dup_scan_enabled": true,
               "languages": ["python"]}),
    );
    let (first_job, first_scan) = scan(&app, &project, json!({"incr_scan": false}));
    let second_revision = commit(&world, &[("src/more.py", branchy("more", 30))]);
    let (second_job, second_scan) = scan(&app, &project, json!({"incr_scan": false}));
    let overview = format!("{}/overview", analysis(&project));

    // CyclomaticComplexityScanSerializer (codemetric/serializers/cc.py): the model's fields
    // with scan_revision, scan_time, default_summary, custom_summary, url, ccfile_url.
    let cyc = app
        .get(&format!("{overview}/cycscans/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(cyc.data()["count"], 2, "{}", cyc.body);
    let rows = results(&cyc);
    assert_eq!(
        keys(&rows[0]),
        [
            "id",
            "scan_revision",
            "scan_time",
            "default_summary",
            "custom_summary",
            "url",
            "ccfile_url",
            "created_time",
            "creator",
            "modified_time",
            "modifier",
            "deleted_time",
            "deleter",
            "last_revision",
            "diff_cc_num",
            "cc_open_num",
            "cc_average_of_lines",
            "cc_fix_num",
            "worse_cc_file_num",
            "min_ccn",
            "code_line_num",
            "scan"
        ]
    );
    assert_eq!(rows[0]["id"], second_job, "newest first");
    assert_eq!(rows[0]["scan"], second_scan);
    assert_eq!(rows[1]["scan"], first_scan);
    assert_eq!(rows[0]["scan_revision"], second_revision);
    assert_eq!(rows[0]["last_revision"], first_revision);
    assert_eq!(rows[1]["last_revision"], Value::Null);
    assert_eq!(rows[0]["cc_open_num"], 2);
    assert_eq!(rows[0]["min_ccn"], 20);
    let summary = &rows[0]["default_summary"];
    assert_eq!(summary["over_cc_func_count"], 2.0);
    assert_eq!(summary["diff_over_cc_func_count"], 1.0);
    // branchy 25 and more 31: 5 + 11 over the threshold, on average 28.
    assert_eq!(summary["over_cc_sum"], 16.0);
    assert_eq!(summary["over_cc_func_average"], 28.0);
    let lines = rows[0]["code_line_num"].as_f64().unwrap();
    assert!(lines > 0.0);
    assert_eq!(rows[0]["cc_average_of_lines"], json!(16.0 * 1000.0 / lines));
    assert!(rows[0]["scan_time"].as_str().unwrap().ends_with("+08:00"));

    // DuplicateScanSerializer (serializers/duplicate.py): the model's fields and the summary
    // of files by duplicate rate.
    let dup = app
        .get(&format!("{overview}/dupscans/"), ADMIN_TOKEN)
        .expect(200);
    let rows = results(&dup);
    assert_eq!(rows.len(), 2);
    for field in [
        "id",
        "scan_revision",
        "scan_time",
        "default_summary",
        "custom_summary",
        "url",
        "last_revision",
        "duplicate_file_count",
        "duplicate_block_count",
        "duplicate_line_count",
        "diff_duplicate_block_count",
        "diff_duplicate_line_count",
        "close_issue_count",
        "new_issue_count",
        "reopen_issue_count",
        "ignored_issue_count",
        "duplicate_rate",
        "unique_duplicate_line_count",
        "total_duplicate_line_count",
        "total_line_count",
        "scan",
    ] {
        assert!(
            keys(&rows[0]).contains(&field),
            "{field} missing: {}",
            rows[0]
        );
    }
    assert_eq!(rows[1]["duplicate_file_count"], 2);
    let risk = &rows[1]["default_summary"]["exhi_risk"];
    assert_eq!(
        risk["file_count"], 2,
        "both copies are most of their files: {risk}"
    );
    assert_eq!(risk["range"], json!([0.2, 1.0]));
    // The second scan's copies are compared with the first's.
    let blocks = |row: &Value| row["duplicate_block_count"].as_i64().unwrap();
    assert_eq!(
        rows[0]["diff_duplicate_block_count"],
        blocks(&rows[0]) - blocks(&rows[1]),
        "{}",
        rows[0]
    );
    assert_eq!(
        rows[1]["diff_duplicate_block_count"],
        Value::Null,
        "nothing before it"
    );
    let exhi = |row: &Value| {
        row["default_summary"]["exhi_risk"]["file_count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(
        rows[0]["default_summary"]["exhi_risk"]["diff"]["diff_file_count"],
        exhi(&rows[0]) - exhi(&rows[1])
    );

    // ClocScanSerializer (serializers/codecount.py).
    let cloc = app
        .get(&format!("{overview}/clocscans/"), ADMIN_TOKEN)
        .expect(200);
    let rows = results(&cloc);
    assert_eq!(rows.len(), 2);
    let mut expected = vec!["id", "scan_revision", "scan_time", "url", "last_revision"];
    expected.extend(&CLOC_BASE[..16]);
    expected.push("scan");
    assert_eq!(keys(&rows[0]), expected);
    assert_eq!(rows[0]["id"], second_job);
    assert_eq!(rows[1]["id"], first_job);
    assert_eq!(rows[0]["code_line_num"].as_f64().unwrap(), lines);

    // Times filter the list; a time nobody can read is a 400 naming the field.
    let later = app
        .get(
            &format!("{overview}/cycscans/?scan_time_after=2999-01-01"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(later.data()["count"], 0);
    let earlier = app
        .get(
            &format!("{overview}/clocscans/?scan_time_before=2999-01-01%2000:00:00&limit=1"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(earlier.data()["count"], 2);
    assert_eq!(results(&earlier).len(), 1);
    let bad = app
        .get(
            &format!("{overview}/dupscans/?scan_time_after=soon"),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["scan_time_after"]);

    // TCA's web UI calls v3: the codemetric lists answer there too.
    let v3 = analysis(&project).replacen("/api/orgs/", "/api/v3/orgs/", 1);
    let cc = app
        .get(&format!("{v3}/codemetric/ccissues/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(cc.data()["count"], 2, "{}", cc.body);
}

#[test]
fn line_counts_are_served_per_file_directory_and_language() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world,
        &[
            (
                "src/lib/deep.py",
                "# a comment\nx = 1\n\ny = 2\n".to_string(),
            ),
            ("src/util.py", "a = 1\n".to_string()),
            ("README.md", "# title\n\ntext\n".to_string()),
        ],
    );
    let project = world.project_path();
    let metric = format!("{}/codemetric", analysis(&project));
    let empty = app
        .get(&format!("{metric}/clocfiles/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(empty.data()["count"], 0, "nothing counted yet");
    let (_, scan_id) = scan(&app, &project, json!({"incr_scan": false}));

    // ClocFileSerializer: the ClocFile model's fields (codemetric/models/codecount.py).
    let files = app
        .get(&format!("{metric}/clocfiles/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(files.data()["count"], 4, "{}", files.body);
    let rows = results(&files);
    let paths: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{}/{}",
                row["dir_path"].as_str().unwrap(),
                row["file_name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        paths,
        [
            "/README.md",
            "src/lib/deep.py",
            "src/main.py",
            "src/util.py"
        ]
    );
    let deep = &rows[1];
    assert_eq!(
        keys(deep),
        with_base(
            &["id"],
            &[
                "dir_path",
                "file_name",
                "business_names",
                "subscribers",
                "language",
                "change_type"
            ]
        )
    );
    assert_eq!(deep["code_line_num"], 2);
    assert_eq!(deep["comment_line_num"], 1);
    assert_eq!(deep["blank_line_num"], 1);
    assert_eq!(deep["total_line_num"], 4);
    assert_eq!(deep["language"], "Python");
    assert_eq!(deep["scan_id"], scan_id);
    assert_eq!(deep["is_latest"], true);
    let one = app
        .get(&format!("{metric}/clocfiles/{}/", deep["id"]), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(one.data(), deep);
    app.get(&format!("{metric}/clocfiles/12345/"), ADMIN_TOKEN)
        .expect(404);
    let filtered = app
        .get(
            &format!("{metric}/clocfiles/?file_path=src/&limit=1&offset=1"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(filtered.data()["count"], 3);
    assert_eq!(results(&filtered)[0]["file_name"], "main.py");
    let added = app
        .get(
            &format!("{metric}/clocfiles/?change_type=add,mod"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(
        added.data()["count"],
        0,
        "codepup counts trees, not changes"
    );
    let bad = app
        .get(
            &format!("{metric}/clocfiles/?change_type=add,grow"),
            ADMIN_TOKEN,
        )
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["change_type"]);

    // ClocDirFileListView: a directory's subdirectories and files, and its sums.
    let root = app
        .get(&format!("{metric}/clocs/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(root.data()["dirs"]["count"], 1, "{}", root.body);
    let src = &root.data()["dirs"]["results"][0];
    assert_eq!(
        keys(src),
        with_base(&["id"], &["parent_path", "dir_path", "file_num"])
    );
    assert_eq!(src["dir_path"], "src");
    assert_eq!(src["file_num"], 3);
    assert_eq!(root.data()["files"]["results"][0]["file_name"], "README.md");
    assert_eq!(root.data()["info"]["file_num"], 4);
    let inner = app
        .get(&format!("{metric}/clocs/?path=src"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(inner.data()["dirs"]["results"][0]["dir_path"], "src/lib");
    assert_eq!(inner.data()["dirs"]["results"][0]["parent_path"], "src");
    assert_eq!(inner.data()["files"]["count"], 2);
    assert_eq!(inner.data()["info"]["code_line_num"], 4);
    let nowhere = app
        .get(&format!("{metric}/clocs/?path=nowhere/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(nowhere.data()["info"]["file_num"], 0);

    // ClocLanguageSerializer.
    let langs = app
        .get(&format!("{metric}/cloclangs/"), ADMIN_TOKEN)
        .expect(200);
    let rows = results(&langs);
    let python = rows.iter().find(|row| row["name"] == "Python").unwrap();
    assert_eq!(keys(python), with_base(&["id"], &["name", "file_num"]));
    assert_eq!(python["file_num"], 3);
    assert_eq!(python["code_line_num"], 4);
}

#[test]
fn metric_views_refuse_outsiders_before_any_lookup_and_need_a_token() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let member = team_member(&app, "member", "web");
    let outsider = org_member_outside_the_team(&app);
    let base = analysis(&world.project_path());
    let v3 = base.replacen("/api/orgs/", "/api/v3/orgs/", 1);
    let missing = base.replacen(
        &format!("/projects/{}", world.project_id),
        "/projects/999999",
        1,
    );
    for root in [&base, &v3, &missing] {
        for route in [
            "overview/cycscans/",
            "overview/dupscans/",
            "overview/clocscans/",
            "codemetric/clocfiles/",
            "codemetric/clocfiles/7/",
            "codemetric/clocs/",
            "codemetric/cloclangs/",
            "codemetric/ccissues/",
            "codemetric/ccfiles/7/",
            "codemetric/ccissues/7/",
            "codemetric/ccissues/history/?scan_id=7",
            "codemetric/dupfiles/7/history/",
            "codemetric/dupfiles/7/blocks/7/",
            "codemetric/dupfiles/7/blocks/7/related/",
        ] {
            let path = format!("{root}/{route}");
            app.get(&path, &outsider).expect(403);
            app.call("GET", &path, None, Body::None).expect(401);
            let status = app.get(&path, &member).status;
            let expected = if root == &missing || route.contains('7') {
                404
            } else {
                200
            };
            assert_eq!(status, expected, "{path} as a member");
        }
    }
    // Bad query values are 400 envelopes for members, after the permission check.
    app.get(
        &format!("{base}/overview/clocscans/?scan_time_before=13/45/2020"),
        &outsider,
    )
    .expect(403);
    let bad = app
        .get(
            &format!("{base}/overview/clocscans/?scan_time_before=13/45/2020"),
            &member,
        )
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["scan_time_before"]);
    app.get(
        &format!("{base}/codemetric/clocfiles/?offset=99999999999999999999"),
        &member,
    )
    .expect(400);
}

/// A project measuring complexity and copies, scanned twice over planted code: its path.
fn measured_twice(app: &TestApp, world: &World) -> (String, i64, i64) {
    commit(
        world,
        &[
            ("src/branchy.py", branchy("branchy", 24)),
            ("src/one.py", copied_block()),
            ("src/two.py", format!("X = 1\n\n\n{}", copied_block())),
        ],
    );
    let project = world.project_with_scheme(
        app,
        "main",
        json!({"name": "metrics", "cc_scan_enabled": true, "dup_scan_enabled": true,
               "languages": ["python"]}),
    );
    let (_, first_scan) = scan(app, &project, json!({"incr_scan": false}));
    commit(world, &[("src/note.py", "Y = 2\n".to_string())]);
    let (_, second_scan) = scan(app, &project, json!({"incr_scan": false}));
    (project, first_scan, second_scan)
}

#[test]
fn complexity_and_duplicate_details_and_histories_follow_tcas_views() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let (project, first_scan, second_scan) = measured_twice(&app, &world);
    let metric = format!("{}/codemetric", analysis(&project));

    // CCIssueDetailView: DetailedCyclomaticComplexitySerializer (fields "__all__" and detail).
    let issue = results(
        &app.get(&format!("{metric}/ccissues/"), ADMIN_TOKEN)
            .expect(200),
    )[0]
    .clone();
    let detail = app
        .get(&format!("{metric}/ccissues/{}/", issue["id"]), ADMIN_TOKEN)
        .expect(200);
    let detail = detail.data();
    assert_eq!(keys(detail)[..2], ["id", "detail"]);
    for field in [
        "file_hash",
        "unique_cc_hash",
        "scan_revision",
        "scan_open",
        "ccn",
    ] {
        assert!(keys(detail).contains(&field), "{field} missing: {detail}");
    }
    assert!(
        !keys(detail).contains(&"repo"),
        "not a field of that serializer"
    );
    assert_eq!(detail["ccn"], 25);
    assert_eq!(detail["detail"]["start_line_no"], issue["start_line_no"]);
    assert_eq!(detail["detail"]["scan_revision"], issue["scan_revision"]);
    // CCFileDetailView: CyclomaticComplexityFileSerializer.
    let file = results(
        &app.get(&format!("{metric}/ccfiles/"), ADMIN_TOKEN)
            .expect(200),
    )[0]
    .clone();
    let one = app
        .get(&format!("{metric}/ccfiles/{}/", file["id"]), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(one.data(), &file);

    // CCIssueHistoryListView: one scan's functions, the scan named in the query.
    let history = app
        .get(
            &format!("{metric}/ccissues/history/?scan_id={first_scan}"),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(history.data()["count"], 1);
    assert_eq!(results(&history)[0]["scan_open"], first_scan);
    assert_ne!(
        results(&history)[0]["id"],
        issue["id"],
        "the first scan's own row"
    );
    for query in ["", "?scan_id=", "?scan_id=abc"] {
        let refused = app
            .get(&format!("{metric}/ccissues/history/{query}"), ADMIN_TOKEN)
            .expect(400);
        assert_eq!(refused.body["msg"], "请指定扫描任务编号", "{query}");
    }
    app.get(
        &format!("{metric}/ccissues/history/?scan_id=999"),
        ADMIN_TOKEN,
    )
    .expect(404);

    // DupFileHistoryListView: the file's measures, oldest first.
    let dup = results(
        &app.get(&format!("{metric}/dupfiles/?file_path=one.py"), ADMIN_TOKEN)
            .expect(200),
    )[0]
    .clone();
    let history = app
        .get(
            &format!("{metric}/dupfiles/{}/history/", dup["id"]),
            ADMIN_TOKEN,
        )
        .expect(200);
    let scans: Vec<&Value> = history.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["scan"])
        .collect();
    assert_eq!(scans, [&json!(first_scan), &json!(second_scan)]);

    // DupBlockDetailView and RelatedDupBlockListView.
    let block = results(
        &app.get(
            &format!("{metric}/dupfiles/{}/blocks/", dup["id"]),
            ADMIN_TOKEN,
        )
        .expect(200),
    )[0]
    .clone();
    assert!(
        !keys(&block).contains(&"block_hash"),
        "DuplicateBlockSerializer excludes it"
    );
    let path = format!("{metric}/dupfiles/{}/blocks/{}/", dup["id"], block["id"]);
    let detail = app.get(&path, ADMIN_TOKEN).expect(200);
    let detail = detail.data();
    assert_eq!(detail["duplicate_file"]["file_path"], "src/one.py");
    assert!(!keys(detail).contains(&"block_hash"));
    let related = detail["related_blocks"].as_array().unwrap();
    assert_eq!(related.len(), 1, "{detail}");
    assert_eq!(related[0]["duplicate_file"]["file_path"], "src/two.py");
    assert!(related[0]["block_hash"].is_string());
    let page = app
        .get(&format!("{path}related/?limit=1"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(page.data()["count"], 1);
    assert_eq!(results(&page)[0]["id"], related[0]["id"]);
    // A block named under another file, or ids that do not exist, are not found.
    let other = related[0]["duplicate_file"]["id"].clone();
    for missing in [
        format!("{metric}/dupfiles/{other}/blocks/{}/", block["id"]),
        format!("{metric}/dupfiles/{}/blocks/999999/related/", dup["id"]),
        format!("{metric}/dupfiles/999999/history/"),
        format!("{metric}/ccissues/999999/"),
        format!("{metric}/ccfiles/999999/"),
    ] {
        app.get(&missing, ADMIN_TOKEN).expect(404);
    }
}

fn put(app: &TestApp, path: &str, token: &str, body: Value) -> crate::helpers::Reply {
    app.call("PUT", path, Some(token), Body::Json(body))
}

#[test]
fn team_members_mark_complexity_findings_and_later_scans_keep_the_marks() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let member = team_member(&app, "member", "web");
    let outsider = org_member_outside_the_team(&app);
    let (project, _, _) = measured_twice(&app, &world);
    let metric = format!("{}/codemetric", analysis(&project));
    let list = |query: &str| {
        app.get(&format!("{metric}/ccissues/{query}"), &member)
            .expect(200)
    };
    let issue = results(&list(""))[0].clone();
    assert_eq!(
        issue["status"], 1,
        "needs attention until someone says otherwise"
    );

    // CCIssueStatusBulkUpdateView: {ccissue_ids, status}; ids of nothing are skipped.
    let status = format!("{metric}/ccissues/status/");
    put(
        &app,
        &status,
        &outsider,
        json!({"ccissue_ids": [issue["id"]], "status": 2}),
    )
    .expect(403);
    let done = put(
        &app,
        &status,
        &member,
        json!({"ccissue_ids": [issue["id"], 999999], "status": 2}),
    )
    .expect(200);
    assert_eq!(done.data(), &json!({"msg": "success", "count": 1}));
    assert_eq!(list("?status=2").data()["count"], 1);
    assert_eq!(list("?status=1").data()["count"], 0);
    let marked = &results(&list(""))[0];
    assert_eq!(marked["status"], 2);
    assert_eq!(marked["modifier"], "member");
    assert_ne!(marked["modified_time"], marked["created_time"]);
    for (body, msg) in [
        (
            json!({"ccissue_ids": [issue["id"]], "status": 3}),
            "参数异常，`Status` 值[3]错误",
        ),
        (
            json!({"ccissue_ids": [issue["id"]]}),
            "参数异常，`Status` 值[None]错误",
        ),
        (json!({"status": 1}), "参数异常, `issue_ids`不是list格式"),
    ] {
        let refused = put(&app, &status, &member, body).expect(400);
        assert_eq!(refused.body["msg"], msg);
    }
    let not_a_list = put(
        &app,
        &status,
        &member,
        json!({"ccissue_ids": 5, "status": 1}),
    )
    .expect(400);
    assert_eq!(not_a_list.invalid_fields(), ["ccissue_ids"]);
    let wrong = put(
        &app,
        &status,
        &member,
        json!({"ccissue_ids": [issue["id"]], "status": "x"}),
    )
    .expect(400);
    assert_eq!(wrong.invalid_fields(), ["status"]);
    app.get(&format!("{metric}/ccissues/?status=one"), &member)
        .expect(400);

    // CCIssueAuthorUpdateView: answers the row with its author.
    let author = format!("{metric}/ccissues/{}/author/", issue["id"]);
    put(&app, &author, &outsider, json!({"author": "member"})).expect(403);
    put(
        &app,
        &format!("{metric}/ccissues/999999/author/"),
        &outsider,
        json!({"author": "member"}),
    )
    .expect(403);
    put(
        &app,
        &format!("{metric}/ccissues/999999/author/"),
        &member,
        json!({"author": "member"}),
    )
    .expect(404);
    let refused = put(&app, &author, &member, json!({"author": ""})).expect(400);
    assert_eq!(refused.body["msg"], "参数异常，责任人不可以为空");
    let changed = put(&app, &author, &member, json!({"author": "member"})).expect(200);
    assert_eq!(changed.data()["author"], "member");
    assert_eq!(changed.data()["id"], issue["id"]);
    assert_eq!(list("?author=member").data()["count"], 1);
    assert_eq!(list("?author=nobody").data()["count"], 0);

    // mine/ counts the caller's functions that need attention.
    let mine = || {
        app.get(&format!("{}/overview/mine/", analysis(&project)), &member)
            .expect(200)
            .data()["cyc_issue_num"]
            .clone()
    };
    assert_eq!(mine(), 0, "status 2: needs no attention");
    put(
        &app,
        &status,
        &member,
        json!({"ccissue_ids": [issue["id"]], "status": 1}),
    )
    .expect(200);
    assert_eq!(mine(), 1);

    // A later measure of the same function keeps its marks.
    commit(&world, &[("src/later.py", "Z = 3\n".to_string())]);
    put(
        &app,
        &status,
        &member,
        json!({"ccissue_ids": [issue["id"]], "status": 2}),
    )
    .expect(200);
    let (_, third_scan) = scan(&app, &project, json!({"incr_scan": false}));
    let latest = &results(&list(""))[0];
    assert_eq!(latest["scan_open"], third_scan);
    assert_ne!(latest["id"], issue["id"]);
    assert_eq!(latest["status"], 2);
    assert_eq!(latest["author"], "member");
}

/// A file holding one conflict marker (a finding the checker reports by default), made unique
/// by `tag`.
fn marked(tag: &str) -> String {
    format!("{tag}\n{} HEAD\n", "<".repeat(7))
}

/// A project whose scheme runs the built-in checker, scanned once after `files` were
/// committed: the project's URL and the scan's id.
fn scanned_by_the_checker(app: &TestApp, files: &[(&str, String)]) -> (String, i64) {
    let world = World::build(app);
    commit(&world, files);
    let project = world.project_with_scheme(
        app,
        "main",
        json!({"name": "lint", "lint_enabled": true, "tools": ["codepup"]}),
    );
    let (_, scan_id) = scan(app, &project, json!({"incr_scan": false}));
    (project, scan_id)
}

#[test]
fn findings_download_as_csv_with_tcas_columns_and_count_by_rule() {
    let app = TestApp::spawn();
    let (project, scan_id) = scanned_by_the_checker(
        &app,
        &[
            ("a.txt", marked("a")),
            ("b.txt", marked("b,\"quoted\"")),
            ("c.txt", marked("c")),
        ],
    );
    let issues = format!("{}/codelint/issues", analysis(&project));
    let list = app
        .get(&format!("{issues}/?limit=10"), ADMIN_TOKEN)
        .expect(200);
    let ids: Vec<i64> = results(&list)
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{}", list.body);
    put(
        &app,
        &format!("{issues}/{}/resolution/", ids[0]),
        ADMIN_TOKEN,
        json!({"resolution": 2, "ignore_reason": "legacy"}),
    )
    .expect(200);

    // ProjectIssueDownloadView with IssueResource's headers and values.
    let download = get_download(&app, &format!("{issues}/download/"));
    assert_eq!(download.status, 200);
    assert_eq!(
        download.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let disposition = download.header("content-disposition").unwrap().to_string();
    let project_id = project.rsplit('/').next().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=Project_{project_id}_issue_data.csv")
    );
    let text = download.body.as_str().unwrap().to_string();
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        [
            "问题ID",
            "文件",
            "规则名",
            "规则realname",
            "出错信息",
            "状态",
            "处理方法",
            "负责人",
            "严重级别",
            "版本号",
            "项目ID",
            "发现版本时间",
            "扫描ID",
            "是否提单",
            "链接"
        ]
    );
    assert_eq!(rows.len(), 4, "{text}");
    let first = &rows[1];
    assert_eq!(first[0], ids[0].to_string(), "newest first, as the list");
    assert_eq!(first[5], "已处理");
    assert_eq!(first[6], "无需修复");
    assert_eq!(first[10], project_id);
    assert_eq!(first[12], scan_id.to_string());
    assert!(
        first[14].ends_with(&format!("/codelint/issues/{}/", ids[0])),
        "{}",
        first[14]
    );
    assert!(rows[1..].iter().all(|row| row.len() == 15));
    // The issue list's filters apply: the won't-fix findings alone, or the open ones.
    let wontfix = get_download(&app, &format!("{issues}/download/?resolution=2"));
    assert_eq!(parse_csv(wontfix.body.as_str().unwrap()).len(), 2);
    let open = get_download(&app, &format!("{issues}/download/?state=1"));
    assert_eq!(parse_csv(open.body.as_str().unwrap()).len(), 3);
    let bad = app
        .get(&format!("{issues}/download/?state=9"), ADMIN_TOKEN)
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["state"]);

    // ProjectIssueCheckRuleNumView: every rule, with its open findings.
    let rules = app
        .get(&format!("{issues}/checkrules/"), ADMIN_TOKEN)
        .expect(200);
    let rules = rules.data().as_array().unwrap().clone();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(
        keys(&rules[0]),
        ["checkrule_display_name", "num", "active_num"]
    );
    assert_eq!(rules[0]["num"], 3);
    assert_eq!(rules[0]["active_num"], 2);
    assert_eq!(
        rules[0]["checkrule_display_name"],
        results(&list)[0]["checkrule_display_name"]
    );

    // Permissions as every project route: 403 for an org member outside the team, 401 without
    // a token.
    let outsider = org_member_outside_the_team(&app);
    for route in ["download/", "checkrules/"] {
        app.get(&format!("{issues}/{route}"), &outsider).expect(403);
        app.call("GET", &format!("{issues}/{route}"), None, Body::None)
            .expect(401);
    }
}

#[test]
fn a_download_of_more_findings_than_one_piece_holds_writes_each_finding_once_newest_first() {
    let app = TestApp::spawn();
    // 1,350 findings, more than the download's piece of 1,000 (and at most 1,000 a file, the
    // checker's cap): each line a conflict marker of its own.
    let file = |name: &str| {
        let lines: Vec<String> = (0..450)
            .map(|n| format!("{} {name}{n}", "<".repeat(7)))
            .collect();
        lines.join("\n")
    };
    let files = [
        ("a.txt", file("a")),
        ("b.txt", file("b")),
        ("c.txt", file("c")),
    ];
    let (project, _) = scanned_by_the_checker(&app, &files);
    let issues = format!("{}/codelint/issues", analysis(&project));
    let list = app
        .get(&format!("{issues}/?limit=1"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(list.data()["count"], 1350, "{}", list.body);
    let newest = results(&list)[0]["id"].as_i64().unwrap();

    let download = get_download(&app, &format!("{issues}/download/"));
    assert_eq!(download.status, 200);
    let rows = parse_csv(download.body.as_str().unwrap());
    let ids: Vec<i64> = rows[1..]
        .iter()
        .map(|row| row[0].parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 1350);
    assert_eq!(ids[0], newest);
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "each finding once, newest first"
    );
    assert!(rows[1..].iter().all(|row| row.len() == 15));
}

/// The admin's download at `url` (`.../issues/download/...`).
fn get_download(app: &TestApp, url: &str) -> crate::helpers::Reply {
    app.call("GET", url, Some(ADMIN_TOKEN), Body::None)
}

/// A CSV text's records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// A member of the org `acme` who is in none of its teams: their token.
fn org_member_outside_the_team(app: &TestApp) -> String {
    let outsider = app.create_user("outsider");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["outsider"], "role": 2}),
    )
    .expect(200);
    outsider
}

#[test]
fn duplicate_code_issues_take_a_state_and_an_owner_and_runs_close_and_reopen_them() {
    if !has_tool("lizard") || !has_tool("jscpd") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let member = team_member(&app, "member", "web");
    let outsider = org_member_outside_the_team(&app);
    let (project, _, _) = measured_twice(&app, &world);
    let metric = format!("{}/codemetric", analysis(&project));
    let file = |name: &str| {
        results(
            &app.get(&format!("{metric}/dupfiles/?file_path={name}"), &member)
                .expect(200),
        )[0]
        .clone()
    };
    let (one, two) = (file("one.py"), file("two.py"));
    // DuplicateFileSerializer nests DuplicateIssueSerializer: {id, state, owner}.
    assert_eq!(keys(&one["issue"]), ["id", "state", "owner"]);
    assert_eq!(one["issue"]["state"], 1);
    assert_eq!(one["issue"]["owner"], Value::Null);
    let issue = |file: &Value| format!("{metric}/dupissues/{}", file["issue"]["id"]);

    // DupIssueStateUpdateView and DupIssueOwnerUpdateView answer {id, state, owner}.
    put(
        &app,
        &format!("{}/state/", issue(&two)),
        &outsider,
        json!({"state": 2}),
    )
    .expect(403);
    let ignored = put(
        &app,
        &format!("{}/state/", issue(&two)),
        &member,
        json!({"state": 2}),
    )
    .expect(200);
    assert_eq!(
        ignored.data(),
        &json!({"id": two["issue"]["id"], "state": 2, "owner": null})
    );
    let refused = put(
        &app,
        &format!("{}/state/", issue(&two)),
        &member,
        json!({"state": 9}),
    )
    .expect(400);
    assert_eq!(refused.body["msg"], "State 值错误");
    let owner = format!("{}/owner/", issue(&one));
    let refused = put(&app, &owner, &member, json!({"owner": ""})).expect(400);
    assert_eq!(refused.body["msg"], "责任人不可以为空");
    let owned = put(&app, &owner, &member, json!({"owner": "member"})).expect(200);
    assert_eq!(owned.data()["owner"], "member");
    let refused = put(&app, &owner, &member, json!({"owner": "member"})).expect(400);
    assert_eq!(refused.body["msg"], "新责任人不可以与原责任人相同");
    put(
        &app,
        &format!("{metric}/dupissues/999999/state/"),
        &member,
        json!({"state": 2}),
    )
    .expect(404);
    put(
        &app,
        &format!("{metric}/dupissues/999999/state/"),
        &outsider,
        json!({"state": 2}),
    )
    .expect(403);
    let mine = app
        .get(&format!("{}/overview/mine/", analysis(&project)), &member)
        .expect(200);
    assert_eq!(mine.data()["dup_issue_num"], 1);
    // dupfiles/ filters by the issue's state and owner (MetricDupFileFilterSet's
    // `issue__state`, `issue__owner`, per codemetric-api.md).
    let count = |query: &str| {
        app.get(&format!("{metric}/dupfiles/?{query}"), &member)
            .expect(200)
            .data()["count"]
            .clone()
    };
    assert_eq!(count("issue__state=2"), 1);
    assert_eq!(count("issue__state=1,2"), 2);
    assert_eq!(count("issue__owner=member"), 1);
    let bad = app
        .get(&format!("{metric}/dupfiles/?issue__state=open"), &member)
        .expect(400);
    assert_eq!(bad.invalid_fields(), ["issue__state"]);

    // DupIssueCommentListView: who changed what, newest first.
    put(
        &app,
        &format!("{}/state/", issue(&two)),
        &member,
        json!({"state": 1}),
    )
    .expect(200);
    put(
        &app,
        &format!("{}/state/", issue(&two)),
        &member,
        json!({"state": 2}),
    )
    .expect(200);
    let comments = app
        .get(&format!("{}/comments/", issue(&two)), &member)
        .expect(200);
    let comments = results(&comments);
    assert_eq!(comments.len(), 3);
    assert_eq!(
        keys(&comments[0]),
        [
            "id",
            "project_id",
            "issue_id",
            "action",
            "message",
            "created_time",
            "creator"
        ]
    );
    assert_eq!(comments[0]["message"], "未处理 -> 可忽略");
    assert_eq!(comments[2]["message"], "未处理 -> 可忽略");
    assert_eq!(comments[0]["creator"], "member");
    app.get(&format!("{}/comments/", issue(&two)), &outsider)
        .expect(403);

    // A run without the copies closes the open issue and leaves the ignored one; a run with
    // them again reopens it.
    let state_of = |file: &Value| {
        let history = app
            .get(
                &format!("{metric}/dupfiles/{}/history/", file["id"]),
                &member,
            )
            .expect(200);
        results(&history)[0]["issue"]["state"].clone()
    };
    commit(&world, &[("src/two.py", "X = 1\n".to_string())]);
    scan(&app, &project, json!({"incr_scan": false}));
    assert_eq!(state_of(&one), 3, "no copies left: closed");
    assert_eq!(state_of(&two), 2, "ignored stays ignored");
    commit(
        &world,
        &[("src/two.py", format!("X = 1\n\n\n{}", copied_block()))],
    );
    scan(&app, &project, json!({"incr_scan": false}));
    assert_eq!(state_of(&one), 1, "copies again: reopened");
    assert_eq!(
        file("one.py")["issue"]["owner"],
        "member",
        "the owner stays"
    );
}
