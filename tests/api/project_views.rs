//! The status page's project views (issue 11): codepup's `trends/` series, read from what each
//! job's close stored, and, in a real headless Chromium, the trend charts drawn from it, the
//! findings browser's filters and pages, and triage from the page (one finding and a batch)
//! with the overview's counts following.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::{target_dir, Browser};
use crate::helpers::{git, has_tool, team_member, Body, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(60);

/// A Python function with `branches` `if`s: lizard gives it `branches + 1`.
fn branchy(branches: usize) -> String {
    let mut text = String::from("def busy(x):\n    total = 0\n");
    for branch in 0..branches {
        text.push_str(&format!(
            "    if x == {branch}:\n        total += {branch}\n"
        ));
    }
    text + "    return total\n"
}

/// Thirty lines that, in two files, make one block of duplicate code.
fn copied_block() -> String {
    let mut text = String::from("def work(values, offset):\n    total = 0\n");
    for index in 0..30 {
        text.push_str(&format!(
            "    total = total + values[{index}] * {index} - offset\n"
        ));
    }
    text + "    return total\n"
}

fn private_key() -> String {
    format!(
        "-----BEGIN RSA PRIVATE {}\nMIIEowIBAAKCAQEAnot-a-real-key\n-----END RSA PRIVATE KEY-----\n",
        "KEY-----"
    )
}

fn commit(world: &World, write: &[(&str, String)], remove: &[&str]) {
    for (path, content) in write {
        let file = world.repo_dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    for path in remove {
        std::fs::remove_file(world.repo_dir.join(path)).unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "change"]);
}

fn full_scan(app: &TestApp, project: &str) -> i64 {
    let (job_id, _) = app.start_scan(project, json!({"incr_scan": false}));
    let detail = app.wait_for_job(project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    job_id
}

/// A project that runs the built-in checker (trailing whitespace on), lizard (threshold 5) and
/// jscpd, scanned after each of three commits:
/// 1. a conflict marker (error), two lines with trailing whitespace (info), a Python block;
/// 2. a private key (fatal), a third such line, a function of complexity 7, a copy of the block;
/// 3. the conflict marker removed.
///
/// Open after each: error 1 info 2; fatal 1 error 1 info 3; fatal 1 info 3.
fn scanned_project(app: &TestApp, world: &World) -> (String, Vec<i64>) {
    let project = world.project_with_scheme(
        app,
        "main",
        json!({"name": "everything", "lint_enabled": true, "tools": ["codepup"],
               "cc_scan_enabled": true, "dup_scan_enabled": true, "min_ccn": 5}),
    );
    world.set_rules(app, &project, "codepup", &["trailing-whitespace"], true);
    let mut jobs = Vec::new();
    commit(
        world,
        &[
            ("notes.txt", "a \nb \n".into()),
            ("conflict.txt", "<<<<<<< HEAD\n".into()),
            // jscpd writes no report for a tree without a file it can measure (job code 211).
            ("src/one.py", copied_block()),
        ],
        &[],
    );
    jobs.push(full_scan(app, &project));
    commit(
        world,
        &[
            ("notes.txt", "a \nb \nc \n".into()),
            ("keys/id.pem", private_key()),
            ("src/busy.py", branchy(6)),
            ("src/two.py", copied_block()),
        ],
        &[],
    );
    jobs.push(full_scan(app, &project));
    commit(world, &[], &["conflict.txt"]);
    jobs.push(full_scan(app, &project));
    (project, jobs)
}

fn metrics_installed() -> bool {
    has_tool("lizard") && has_tool("jscpd")
}

fn analysis(project: &str) -> String {
    project.replacen("/server/main/api/", "/server/analysis/api/", 1)
}

#[test]
fn trends_give_each_scan_its_lines_findings_complexity_and_duplicates_oldest_first() {
    if !metrics_installed() {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let (project, jobs) = scanned_project(&app, &world);
    let trends = app
        .get(&format!("{project}/trends/"), ADMIN_TOKEN)
        .expect(200);
    let points = trends.data()["results"].as_array().unwrap().clone();
    assert_eq!(trends.data()["limit"], 100);
    let ids: Vec<i64> = points
        .iter()
        .map(|p| p["job_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, jobs);
    let open: Vec<Value> = points.iter().map(|p| p["lint"]["open"].clone()).collect();
    assert_eq!(
        open,
        vec![
            json!({"fatal": 0, "error": 1, "warning": 0, "info": 2}),
            json!({"fatal": 1, "error": 1, "warning": 0, "info": 3}),
            json!({"fatal": 1, "error": 0, "warning": 0, "info": 3}),
        ]
    );
    let churn = |key: &str| -> Vec<i64> {
        points
            .iter()
            .map(|p| p["lint"][key].as_i64().unwrap())
            .collect()
    };
    assert_eq!(churn("opened"), vec![3, 2, 0]);
    assert_eq!(churn("fixed"), vec![0, 0, 1]);
    assert_eq!(churn("open_total"), vec![3, 5, 4]);
    let over: Vec<i64> = points
        .iter()
        .map(|p| p["cc"]["cc_open_num"].as_i64().unwrap())
        .collect();
    assert_eq!(over, vec![0, 1, 1]);
    assert_eq!(points[2]["cc"]["min_ccn"], 5);
    assert_eq!(points[0]["dup"]["duplicate_rate"].as_f64(), Some(0.0));
    // The same numbers the job records and the overview give.
    let overview = app
        .get(&format!("{}/overview/", analysis(&project)), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(
        points[2]["dup"]["duplicate_rate"],
        overview.data()["duplicatescan"]["duplicate_rate"]
    );
    assert!(points[2]["dup"]["duplicate_rate"].as_f64().unwrap() > 0.0);
    for (point, job_id) in points.iter().zip(&jobs) {
        let detail = app
            .get(&format!("{project}/jobs/{job_id}/detail/"), ADMIN_TOKEN)
            .expect(200);
        assert_eq!(
            point["lines"]["total_line_num"],
            detail.data()["total_line_num"]
        );
        assert_eq!(point["scan_type"], 2);
    }

    // The last two, still oldest first; a limit that is no number is the default.
    let last_two = app
        .get(&format!("{project}/trends/?limit=2"), ADMIN_TOKEN)
        .expect(200);
    let ids: Vec<&Value> = last_two.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["job_id"])
        .collect();
    assert_eq!(ids, vec![&json!(jobs[1]), &json!(jobs[2])]);
    let odd = app
        .get(&format!("{project}/trends/?limit=lots"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(odd.data()["limit"], 100);

    // A triage shows from the next scan on: the key marked a false positive, then a scan.
    let key = app
        .get(
            &format!(
                "{}/codelint/issues/?checkrule_display_name=private-key",
                analysis(&project)
            ),
            ADMIN_TOKEN,
        )
        .expect(200);
    let key_id = &key.data()["results"][0]["id"];
    app.call(
        "PUT",
        &format!(
            "{}/codelint/issues/{key_id}/resolution/",
            analysis(&project)
        ),
        Some(ADMIN_TOKEN),
        Body::Json(json!({"resolution": 3, "ignore_reason": "test key"})),
    )
    .expect(200);
    let unchanged = app
        .get(&format!("{project}/trends/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(unchanged.data()["results"][2]["lint"]["open"]["fatal"], 1);
    commit(&world, &[("README", "read me\n".into())], &[]);
    let fourth = full_scan(&app, &project);
    let trends = app
        .get(&format!("{project}/trends/"), ADMIN_TOKEN)
        .expect(200);
    let last = &trends.data()["results"][3];
    assert_eq!(last["job_id"], fourth);
    assert_eq!(
        last["lint"]["open"],
        json!({"fatal": 0, "error": 0, "warning": 0, "info": 3})
    );
}

#[test]
fn trends_leave_out_failed_jobs_show_null_for_what_a_scan_did_not_measure_and_need_the_team() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    // The world's project counts lines only.
    let (job_id, _) = app.start_scan(&project, json!({"incr_scan": false}));
    app.wait_for_job(&project, job_id, QUICK);
    let trends = app
        .get(&format!("{project}/trends/"), ADMIN_TOKEN)
        .expect(200);
    let points = trends.data()["results"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{}", trends.body);
    assert_eq!(points[0]["job_id"], job_id);
    assert_eq!(points[0]["lines"]["code_line_num"], 1);
    assert!(points[0]["cc"].is_null() && points[0]["dup"].is_null());
    // An incremental scan of the same head stores nothing new (code 1): no point.
    let (again, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, again, QUICK);
    assert_eq!(detail["result_code"], 1, "{detail}");
    let trends = app
        .get(&format!("{project}/trends/"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(trends.data()["results"].as_array().unwrap().len(), 1);

    let outsider = app.create_user("mallory");
    app.get(&format!("{project}/trends/"), &outsider)
        .expect(403);
    let member = team_member(&app, "alice", "web");
    app.get(&format!("{project}/trends/"), &member).expect(200);
    app.get(
        &format!("{}/projects/999/trends/", world.repo_path()),
        ADMIN_TOKEN,
    )
    .expect(404);
}

#[test]
fn in_a_real_browser_a_project_shows_its_trends_and_its_findings_can_be_filtered_and_triaged() {
    let Some(browser) = Browser::start_or_note("the project views' browser test") else {
        return;
    };
    if !metrics_installed() {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let (project, jobs) = scanned_project(&app, &world);
    browser.screenshot_on_failure("status-page-views-failure.png", || {
        drive_the_trends(&browser, &app, &project, &jobs);
        drive_the_findings_browser(&browser, &app, &project);
        drive_a_project_of_one_scan(&browser, &app, &world);
    });
}

/// `[value of each point of series `key` in chart `chart`]` and their titles.
fn chart_points(browser: &Browser, chart: &str, series: &str) -> Value {
    browser.run(&format!(
        "return [...document.querySelectorAll(\"figure[data-chart='{chart}'] circle.pt[data-series='{series}']\")]
             .map((dot) => [Number(dot.dataset.jobId), Number(dot.dataset.value), dot.querySelector('title').textContent]);"
    ))
}

fn drive_the_trends(browser: &Browser, app: &TestApp, project: &str, jobs: &[i64]) {
    let project_id = project.rsplit('/').next().unwrap();
    browser.open(&format!("{}/", app.base));
    browser.type_into("#token-input", ADMIN_TOKEN);
    browser.click("#sign-in-button");
    browser.click(&format!(
        "li[data-project-id='{project_id}'] button.open-project"
    ));
    browser.wait_for(
        "the trend charts",
        QUICK,
        "return document.querySelectorAll('#pv-trends figure svg').length === 5",
    );
    let expect = |chart: &str, series: &str, label: &str, values: [i64; 3]| {
        let points = chart_points(browser, chart, series);
        let points = points.as_array().unwrap();
        assert_eq!(points.len(), 3, "{chart}/{series}: {points:?}");
        for ((point, job_id), value) in points.iter().zip(jobs).zip(values) {
            assert_eq!(point[0], json!(job_id), "{chart}/{series}: {point}");
            assert_eq!(point[1], json!(value), "{chart}/{series}: {point}");
            let title = point[2].as_str().unwrap();
            assert!(
                title.starts_with(&format!("job #{job_id} · "))
                    && title.ends_with(&format!(" · {label}: {value}")),
                "{title}"
            );
        }
    };
    expect("open", "fatal", "fatal", [0, 1, 1]);
    expect("open", "error", "error", [1, 1, 0]);
    expect("open", "info", "info", [2, 3, 3]);
    expect("churn", "new", "new", [3, 2, 0]);
    expect("churn", "fixed", "fixed", [0, 0, 1]);
    expect("cc", "over", "over the threshold", [0, 1, 1]);
    let lines = chart_points(browser, "lines", "code");
    assert_eq!(lines.as_array().unwrap().len(), 3);
    let rates = chart_points(browser, "dup", "rate");
    assert_eq!(rates[0][1], 0);
    assert!(rates[2][2].as_str().unwrap().ends_with('%'), "{rates}");
    // Axes with their labels, and a legend naming each severity.
    let text = browser.run(
        "const f = document.querySelector(\"figure[data-chart='open']\");
         return [f.querySelector('figcaption').textContent, f.querySelector('.legend').textContent,
                 [...f.querySelectorAll('text.x-label')].map((t) => t.textContent).join(' '),
                 f.querySelectorAll('text.y-label').length];",
    );
    assert_eq!(text[0], "Open findings by severity");
    assert_eq!(text[1], "fatalerrorwarninginfo");
    assert_eq!(
        text[2],
        format!("#{} #{} #{}", jobs[0], jobs[1], jobs[2]),
        "{text}"
    );
    assert!(text[3].as_i64().unwrap() >= 2, "{text}");
    browser.run("document.getElementById('project-view').scrollIntoView(); return true;");
    browser.screenshot(&target_dir().join("status-page-trends.png"));
}

/// The findings rows' ids and their status text, as the page shows them.
fn rows(browser: &Browser) -> Vec<(i64, String)> {
    let found = browser.run(
        "return [...document.querySelectorAll('#fb-body tr.finding')]
             .map((row) => [Number(row.dataset.issueId), row.querySelector('td.status').textContent]);",
    );
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_i64().unwrap(),
                row[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn wait_rows(browser: &Browser, what: &str, n: usize) {
    browser.wait_for(
        what,
        QUICK,
        &format!(
            "return document.querySelectorAll('#fb-body tr.finding').length === {n}
                 && document.getElementById('fb-range').textContent.endsWith(' of {n}')"
        ),
    );
}

fn filter(browser: &Browser, severity: &str, state: &str, resolution: &str, rule: &str) {
    browser.run(&format!(
        "document.getElementById('fb-severity').value = '{severity}';
         document.getElementById('fb-state').value = '{state}';
         document.getElementById('fb-resolution').value = '{resolution}';
         document.getElementById('fb-rule').value = '{rule}';
         return true;"
    ));
    browser.click("#fb-apply");
}

fn open_count(app: &TestApp, project: &str) -> Value {
    app.get(
        &format!("{}/overview/lintscans/latest/", analysis(project)),
        ADMIN_TOKEN,
    )
    .expect(200)
    .data()["lint_issue_num"]
        .clone()
}

fn wait_open_text(browser: &Browser, text: &str) {
    browser.wait_for(
        text,
        QUICK,
        &format!("return document.getElementById('fb-open').textContent === '{text}'"),
    );
}

/// After a triage: the list shows `rows` findings, and the page's open counts and the API's
/// say `open` ("N (fatal ...)").
fn counts_follow(browser: &Browser, app: &TestApp, project: &str, rows: usize, open: &str) {
    wait_rows(browser, "the list after the change", rows);
    wait_open_text(browser, &format!("Open findings: {open}"));
    let total: i64 = open.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(open_count(app, project), total);
}

fn drive_the_findings_browser(browser: &Browser, app: &TestApp, project: &str) {
    // Open findings first: the key, and three lines with trailing whitespace.
    wait_open_text(
        browser,
        "Open findings: 4 (fatal 1 · error 0 · warning 0 · info 3)",
    );
    wait_rows(browser, "the four open findings", 4);
    filter(browser, "", "", "", "");
    wait_rows(browser, "every finding, the fixed marker too", 5);
    assert!(rows(browser).iter().any(|(_, status)| status == "fixed"));
    filter(browser, "1", "1", "", "private");
    wait_rows(browser, "the private key", 1);
    filter(browser, "4", "1", "", "");
    wait_rows(browser, "the three info findings", 3);

    // One finding, from its history row: a false positive with a reason.
    let (first, _) = rows(browser)[0].clone();
    browser.click(&format!("tr[data-issue-id='{first}'] button.history"));
    browser.wait_for(
        "the empty history",
        QUICK,
        &format!("const row = document.querySelector(\"tr[data-history-of='{first}']\"); return row && row.textContent.includes('No history')"),
    );
    browser.type_into(
        &format!("tr[data-history-of='{first}'] input.reason"),
        "test data",
    );
    browser.click(&format!(
        "tr[data-history-of='{first}'] button[data-resolution='3']"
    ));
    counts_follow(
        browser,
        app,
        project,
        2,
        "3 (fatal 1 · error 0 · warning 0 · info 2)",
    );
    filter(browser, "4", "2", "3", "");
    wait_rows(browser, "the false positive", 1);
    assert_eq!(rows(browser), vec![(first, "false positive".to_string())]);
    let history = browser.wait_for(
        "the triage in the history",
        QUICK,
        &format!("const row = document.querySelector(\"tr[data-history-of='{first}']\"); return row && row.textContent.includes('reason: test data') && row.textContent"),
    );
    assert!(history.as_str().unwrap().contains("admin"), "{history}");

    // A batch: every open info finding on the page, won't fix.
    filter(browser, "4", "1", "", "");
    wait_rows(browser, "two open info findings", 2);
    browser.click("#fb-all");
    browser.wait_for(
        "two selected",
        QUICK,
        "return document.getElementById('fb-selected').textContent === '2 selected'",
    );
    browser.type_into("#fb-reason", "legacy");
    browser.click("#fb-batch button[data-resolution='2']");
    counts_follow(
        browser,
        app,
        project,
        0,
        "1 (fatal 1 · error 0 · warning 0 · info 0)",
    );
    filter(browser, "", "2", "2", "");
    wait_rows(browser, "the two won't fix", 2);
    browser.run("document.getElementById('fb-open').scrollIntoView(); return true;");
    browser.screenshot(&target_dir().join("status-page-findings.png"));

    // Reopened from the page: open again, and counted.
    let (reopen, _) = rows(browser)[0].clone();
    browser.click(&format!("tr[data-issue-id='{reopen}'] button.history"));
    browser.click(&format!(
        "tr[data-history-of='{reopen}'] button[data-resolution='0']"
    ));
    wait_rows(browser, "one won't fix left", 1);
    wait_open_text(
        browser,
        "Open findings: 2 (fatal 1 · error 0 · warning 0 · info 1)",
    );
    let issue = app
        .get(
            &format!("{}/codelint/issues/{reopen}/", analysis(project)),
            ADMIN_TOKEN,
        )
        .expect(200);
    assert_eq!(
        (
            issue.data()["state"].as_i64(),
            issue.data()["resolution"].as_i64()
        ),
        (Some(1), Some(0))
    );
}

/// A project of one scan that counts lines and runs the checker only: one point, centred, one
/// job label, and the metrics it does not measure said so.
fn drive_a_project_of_one_scan(browser: &Browser, app: &TestApp, world: &World) {
    let job_id = full_scan(app, &world.project_path());
    browser.click(&format!(
        "li[data-project-id='{}'] button.open-project",
        world.project_id
    ));
    browser.wait_for(
        "the one scan's charts",
        QUICK,
        &format!(
            "return document.getElementById('pv-title').textContent.endsWith('project {}')
                 && document.querySelectorAll('#pv-trends figure svg').length === 3",
            world.project_id
        ),
    );
    let lines = chart_points(browser, "lines", "code");
    assert_eq!(lines.as_array().unwrap().len(), 1, "{lines}");
    assert_eq!(lines[0][0], job_id);
    let shown = browser.run(
        "const f = (id) => document.querySelector(`figure[data-chart='${id}']`);
         return [[...f('lines').querySelectorAll('text.x-label')].map((t) => t.textContent),
                 f('lines').querySelector('circle.pt').getAttribute('cx'),
                 f('dup').textContent, f('cc').textContent];",
    );
    assert_eq!(shown[0], json!([format!("#{job_id}")]));
    // The middle of the plot: 44 + (360 - 44 - 12) / 2.
    assert_eq!(shown[1], "196.0");
    assert!(shown[2]
        .as_str()
        .unwrap()
        .ends_with("Not measured by these scans."));
    assert!(shown[3]
        .as_str()
        .unwrap()
        .ends_with("Not measured by these scans."));
}
