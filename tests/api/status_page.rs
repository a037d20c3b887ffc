//! The status page: the read-only endpoints it lives on (recent jobs across projects, queue
//! health, visible projects), and the page itself in a real headless Chromium over WebDriver.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::{target_dir, Browser};
use crate::helpers::{
    eventually, make_git_repo, process_running, team_member, team_path, Body, TestApp, World,
    ADMIN_TOKEN,
};
use crate::notify_out::Receiver;

const QUICK: Duration = Duration::from_secs(30);
const JOBS: &str = "/server/main/api/v3/jobs/";
const SUMMARY: &str = "/server/main/api/v3/jobs/summary/";
const PROJECTS: &str = "/server/main/api/v3/projects/";

fn tools(entries: &[(&str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, command)| {
            format!("[[tool]]\nname = \"{name}\"\nmodule = \"codelint\"\ncommand = {command}\n")
        })
        .collect()
}

/// A second team `ops` in `acme` with its own repository and project; returns the project path.
fn ops_project(app: &TestApp) -> String {
    app.post(
        "/server/main/api/v3/orgs/acme/teams/",
        ADMIN_TOKEN,
        json!({"name": "ops"}),
    )
    .expect(201);
    let repo_dir = make_git_repo(&app.repos_dir().join("infra"), &[("run.sh", "echo hi\n")]);
    let repo = app
        .post(
            &format!("{}/repos/", team_path("acme", "ops")),
            ADMIN_TOKEN,
            json!({"scm_url": repo_dir.to_str().unwrap()}),
        )
        .expect(201);
    let repo_path = format!("{}/repos/{}", team_path("acme", "ops"), repo.data()["id"]);
    let project = app
        .post(
            &format!("{repo_path}/projects/"),
            ADMIN_TOKEN,
            json!({"branch": "main", "global_scheme_id": 1}),
        )
        .expect(201);
    format!("{repo_path}/projects/{}", project.data()["id"])
}

fn sync_scan(app: &TestApp, project: &str, body: Value) -> i64 {
    let mut body = body;
    body["async_flag"] = json!(false);
    let reply = app
        .post(&format!("{project}/scans/create/"), ADMIN_TOKEN, body)
        .expect(200);
    reply.data()["job"]["id"].as_i64().unwrap()
}

fn ids(reply: &Value) -> Vec<i64> {
    reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn recent_jobs_cover_every_visible_project_newest_first_with_place_times_and_actions() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let ops = ops_project(&app);
    let web_job = sync_scan(&app, &world.project_path(), json!({"incr_scan": false}));
    let ops_job = sync_scan(&app, &ops, json!({"created_from": "nightly"}));

    let all = app.get(JOBS, ADMIN_TOKEN).expect(200);
    assert_eq!(all.data()["count"], 2);
    assert_eq!(ids(all.data()), vec![ops_job, web_job]);
    let job = &all.data()["results"][1];
    assert_eq!(
        job["project"],
        json!({
            "id": world.project_id,
            "branch": "main",
            "repo_id": world.repo_id,
            "repo_name": "demo",
            "repo_scm_url": format!("file://{}", world.repo_dir.display()),
            "org_sid": "acme",
            "team_name": "web",
        })
    );
    assert_eq!(job["state"], 2);
    assert_eq!(job["result_code"], 0);
    assert_eq!(job["result_code_msg"], "成功");
    assert_eq!(job["result_msg"], "success");
    assert_eq!(
        (job["task_num"].as_i64(), job["task_done"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(job["total_line_num"], 1);
    assert_eq!(job["code_line_num"], 1);
    assert_eq!(job["incr_scan"], false);
    assert_eq!(job["created_from"], "tca_web");
    assert!(job["creator"].is_string());
    for field in ["create_time", "start_time", "end_time"] {
        assert!(
            job[field].as_str().is_some_and(|t| t.ends_with("+08:00")),
            "{field}: {job}"
        );
    }
    for field in ["waiting_time", "execute_time"] {
        assert!(
            job[field]
                .as_str()
                .is_some_and(|t| t.parse::<f64>().is_ok()),
            "{field}: {job}"
        );
    }
    // The superuser may scan again; nothing is left to cancel.
    assert_eq!(
        (job["can_scan"].as_bool(), job["can_cancel"].as_bool()),
        (Some(true), Some(false))
    );
    // The same keys and times as the job's detail.
    let detail = app
        .get(
            &format!("{}/jobs/{web_job}/detail/", world.project_path()),
            ADMIN_TOKEN,
        )
        .expect(200);
    for field in [
        "create_time",
        "start_time",
        "end_time",
        "waiting_time",
        "execute_time",
    ] {
        assert_eq!(job[field], detail.data()[field], "{field}");
    }
    // The `/api` prefix answers too.
    let short = app.get("/api/v3/jobs/", ADMIN_TOKEN).expect(200);
    assert_eq!(ids(short.data()), vec![ops_job, web_job]);
}

#[test]
fn a_team_member_sees_only_their_teams_jobs_and_projects_and_may_not_scan_them() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let ops = ops_project(&app);
    let web_job = sync_scan(&app, &world.project_path(), json!({}));
    sync_scan(&app, &ops, json!({}));
    let alice = team_member(&app, "alice", "web");
    let bob = team_member(&app, "bob", "ops");
    let carol = app.create_user("carol");

    let seen = app.get(JOBS, &alice).expect(200);
    assert_eq!(ids(seen.data()), vec![web_job]);
    let job = &seen.data()["results"][0];
    assert_eq!(job["project"]["team_name"], "web");
    assert_eq!(job["can_scan"], false, "a plain member may not start scans");
    let bobs = app.get(JOBS, &bob).expect(200);
    assert_eq!(bobs.data()["count"], 1);
    assert_eq!(bobs.data()["results"][0]["project"]["team_name"], "ops");
    let nothing = app.get(JOBS, &carol).expect(200);
    assert_eq!(nothing.data()["count"], 0);
    assert_eq!(nothing.data()["results"], json!([]));

    let projects = app.get(PROJECTS, &alice).expect(200);
    assert_eq!(projects.data()["count"], 1);
    assert_eq!(
        &projects.data()["results"],
        &json!([{
            "id": world.project_id,
            "branch": "main",
            "repo_id": world.repo_id,
            "repo_name": "demo",
            "repo_scm_url": format!("file://{}", world.repo_dir.display()),
            "org_sid": "acme",
            "team_name": "web",
            "can_scan": false,
            "can_triage": true,
        }])
    );
    assert_eq!(
        app.get(PROJECTS, &carol).expect(200).data()["results"],
        json!([])
    );
    let everything = app.get(PROJECTS, ADMIN_TOKEN).expect(200);
    let teams: Vec<&str> = everything.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|project| project["team_name"].as_str().unwrap())
        .collect();
    assert_eq!(teams, vec!["ops", "web"]);
    assert!(everything.data()["results"][0]["can_scan"]
        .as_bool()
        .unwrap());
    let second = app
        .get(&format!("{PROJECTS}?limit=1&offset=1"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(second.data()["count"], 2);
    assert_eq!(second.data()["results"][0]["team_name"], "web");
    assert!(second.data()["next"].is_null() && second.data()["previous"].is_string());

    // An org admin sees every team of the org without being in any.
    let dora = app.create_user("dora");
    app.post(
        "/server/main/api/v3/orgs/acme/memberconf/",
        ADMIN_TOKEN,
        json!({"users": ["dora"], "role": 1}),
    )
    .expect(200);
    let doras = app.get(JOBS, &dora).expect(200);
    assert_eq!(doras.data()["count"], 2);
    assert_eq!(doras.data()["results"][0]["can_scan"], true);

    let summary = app.get(SUMMARY, &carol).expect(200);
    assert_eq!(summary.data()["closed_last_24h"], 0);
    assert_eq!(
        app.get(SUMMARY, &alice).expect(200).data()["closed_last_24h"],
        1
    );
}

#[test]
fn recent_jobs_take_the_project_job_lists_filters_and_pagination() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let ops = ops_project(&app);
    let first = sync_scan(&app, &world.project_path(), json!({"incr_scan": false}));
    let second = sync_scan(&app, &ops, json!({"created_from": "Nightly-Job"}));
    let third = sync_scan(&app, &world.project_path(), json!({}));

    let query = |text: &str| app.get(&format!("{JOBS}?{text}"), ADMIN_TOKEN).expect(200);
    assert_eq!(ids(query("created_from=nightly").data()), vec![second]);
    assert_eq!(ids(query("result_code_gte=1").data()), vec![third]);
    assert_eq!(ids(query("result_code_lte=0").data()), vec![second, first]);
    assert_eq!(ids(query("state=0,1").data()), Vec::<i64>::new());
    assert_eq!(ids(query("state=2").data()).len(), 3);
    assert_eq!(
        ids(query("create_time_gte=2999-01-01").data()),
        Vec::<i64>::new()
    );

    let page = query("limit=1&offset=1&state=2");
    assert_eq!(page.data()["count"], 3);
    assert_eq!(ids(page.data()), vec![second]);
    let next = page.data()["next"].as_str().unwrap();
    assert!(
        next.ends_with("/server/main/api/v3/jobs/?limit=1&offset=2&state=2"),
        "{next}"
    );
    let previous = page.data()["previous"].as_str().unwrap();
    assert!(
        previous.ends_with("/server/main/api/v3/jobs/?limit=1&state=2"),
        "{previous}"
    );
    assert_eq!(query("offset=5").data()["results"], json!([]));

    let bad = app
        .get(
            &format!("{JOBS}?state=running&result_code_gte=x"),
            ADMIN_TOKEN,
        )
        .expect(400);
    let mut fields = bad.invalid_fields();
    fields.sort();
    assert_eq!(fields, vec!["result_code_gte", "state"]);
}

#[test]
fn the_status_endpoints_need_a_valid_token() {
    let app = TestApp::spawn();
    for path in [JOBS, SUMMARY, PROJECTS, "/api/v3/jobs/summary/"] {
        let reply = app.call("GET", path, None, Body::None).expect(401);
        assert_eq!(reply.header("WWW-Authenticate"), Some("Token"), "{path}");
        app.call("GET", path, Some("not-a-token"), Body::None)
            .expect(401);
    }
    app.call("POST", JOBS, Some(ADMIN_TOKEN), Body::None)
        .expect(405);
}

#[test]
fn the_summary_counts_waiting_running_and_recently_failed_jobs() {
    let app = TestApp::spawn_with_tools(&tools(&[
        ("sleeper", r#"["sleep", "651"]"#),
        ("failer", r#"["false"]"#),
    ]));
    let world = World::build(&app);
    let empty = app.get(SUMMARY, ADMIN_TOKEN).expect(200);
    let mut counts = empty.data().clone();
    let tools = counts.as_object_mut().unwrap().remove("tools").unwrap();
    assert_eq!(
        counts,
        json!({"waiting": 0, "running": 0, "closed_last_24h": 0, "failed_last_24h": 0,
                "oldest_waiting_age": null})
    );
    // How tools run here: this kernel (like CI's) enforces Landlock.
    assert_eq!(tools["confined"], true, "{tools}");
    assert_eq!(tools["refused"], false, "{tools}");
    assert!(tools["description"]
        .as_str()
        .unwrap()
        .contains("Landlock on"));

    let failing =
        world.project_with_scheme(&app, "main", json!({"name": "fails", "tools": ["failer"]}));
    let failed = sync_scan(&app, &failing, json!({}));
    let slow =
        world.project_with_scheme(&app, "main", json!({"name": "slow", "tools": ["sleeper"]}));
    // Two workers: two jobs run, the third waits.
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(app.start_scan(&slow, json!({"force_create": true})).0);
        if jobs.len() < 3 {
            let job_id = *jobs.last().unwrap();
            app.wait_for_detail(&slow, job_id, QUICK, |detail| detail["state"] == 1);
        }
    }
    let summary = app.get(SUMMARY, ADMIN_TOKEN).expect(200);
    assert_eq!(summary.data()["running"], 2, "{}", summary.body);
    assert_eq!(summary.data()["waiting"], 1);
    assert_eq!(summary.data()["closed_last_24h"], 1);
    assert_eq!(summary.data()["failed_last_24h"], 1);
    assert!(summary.data()["oldest_waiting_age"]
        .as_i64()
        .is_some_and(|age| age >= 0));

    let failed_job = app
        .get(&format!("{JOBS}?result_code_gte=100"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(ids(failed_job.data()), vec![failed]);
    let running = app.get(&format!("{JOBS}?state=1"), ADMIN_TOKEN).expect(200);
    assert!(running.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|job| job["can_cancel"] == true && job["end_time"].is_null()));
    for job_id in jobs {
        app.post(
            &format!("{slow}/jobs/{job_id}/cancel/"),
            ADMIN_TOKEN,
            json!({}),
        )
        .expect(200);
    }
    assert!(eventually(QUICK, || !process_running("sleep 651")));
}

#[test]
fn in_a_real_browser_a_person_signs_in_scans_follows_the_job_and_its_log_and_cancels_a_long_one() {
    let Some(browser) = Browser::start_or_note("the browser test") else {
        return;
    };
    let tools_toml = tools(&[("sleeper", r#"["sleep", "652"]"#)]);
    // The notification receiver listens on loopback.
    let app = TestApp::spawn_with(move |config| {
        let path = config.data_dir.parent().unwrap().join("tools.toml");
        std::fs::write(&path, tools_toml).unwrap();
        config.tools_file = Some(path);
        config.webhook_allow_private = true;
    });
    let world = World::build(&app);
    // A finding for the built-in checker, in a file tokei does not count.
    std::fs::write(world.repo_dir.join("notes.zzz"), "trailing \n").unwrap();
    crate::helpers::git(&world.repo_dir, &["add", "-A"]);
    crate::helpers::git(
        &world.repo_dir,
        &["commit", "-q", "-m", "trailing whitespace"],
    );
    world.set_rules(
        &app,
        &world.project_path(),
        "codepup",
        &["trailing-whitespace"],
        true,
    );
    browser.screenshot_on_failure("status-page-failure.png", || {
        drive_the_page(&browser, &app, &world)
    });
}

fn drive_the_page(browser: &Browser, app: &TestApp, world: &World) {
    let slow =
        world.project_with_scheme(app, "main", json!({"name": "slow", "tools": ["sleeper"]}));
    let slow_id = slow.rsplit('/').next().unwrap().to_string();
    browser.open(&format!("{}/", app.base));
    // Set after the load: still there at the end means the page never reloaded.
    browser.run("window.__noReload = true; return true;");

    // A bad token says so plainly, and the page stays signed out.
    browser.type_into("#token-input", "not-a-real-token");
    browser.click("#sign-in-button");
    let error = browser.wait_for(
        "the bad-token message",
        QUICK,
        "const e = document.getElementById('sign-in-error'); return !e.hidden && e.textContent;",
    );
    assert!(error.as_str().unwrap().contains("not accepted"), "{error}");
    assert_eq!(
        browser.run("return document.getElementById('app').hidden"),
        true
    );

    browser.type_into("#token-input", ADMIN_TOKEN);
    browser.click("#sign-in-button");
    browser.wait_for(
        "the signed-in view",
        QUICK,
        "return !document.getElementById('app').hidden && document.getElementById('whoami').textContent",
    );
    browser.wait_for(
        "the queue health",
        QUICK,
        "return document.getElementById('h-waiting').textContent === '0'",
    );
    assert_eq!(
        browser.run("return localStorage.getItem('codepup.token')"),
        ADMIN_TOKEN
    );

    // Scan now, from the project list; the job reaches CLOSED on the page without a reload.
    browser.click(&format!(
        "li[data-project-id='{}'] button.scan[data-incremental='false']",
        world.project_id
    ));
    let job_id = browser.wait_for(
        "the new job in the list",
        QUICK,
        "const row = document.querySelector('#jobs-body tr'); return row && Number(row.dataset.jobId)",
    );
    let closed = browser.wait_for(
        "the job CLOSED",
        QUICK,
        &format!(
            "const row = document.querySelector(\"tr[data-job-id='{job_id}']\");
             return row && row.dataset.state === '2' && row.innerText"
        ),
    );
    let closed = closed.as_str().unwrap();
    assert!(
        closed.contains("CLOSED") && closed.contains("0 success"),
        "{closed}"
    );
    assert!(closed.contains("2/2"), "{closed}");
    let detail = app.wait_for_job(&world.project_path(), job_id.as_i64().unwrap(), QUICK);
    assert_eq!(detail["result_code"], 0);

    // The job's page: its task, the log's text, the line counts by language.
    browser.click(&format!("tr[data-job-id='{job_id}'] td.c-repo"));
    let log = browser.wait_for(
        "the task log",
        QUICK,
        "const log = document.getElementById('jv-log'); return log.textContent.includes('total 1') && log.textContent",
    );
    assert!(log.as_str().unwrap().contains("code 1"), "{log}");
    let tasks = browser.run("return document.getElementById('jv-tasks').innerText");
    assert!(
        tasks.as_str().unwrap().contains("codecount") && tasks.as_str().unwrap().contains("100%"),
        "{tasks}"
    );
    browser.wait_for(
        "the Python line counts",
        QUICK,
        "return document.getElementById('jv-languages').innerText.includes('Python')",
    );
    browser.wait_for(
        "the job's findings",
        QUICK,
        "return document.getElementById('jv-findings').innerText.includes('trailing-whitespace')",
    );
    // From the job's page of the issue list, not from the whole SARIF export.
    let fetched = browser.run(
        "return performance.getEntriesByType('resource').map((entry) => entry.name).join(' ')",
    );
    let fetched = fetched.as_str().unwrap();
    assert!(
        fetched.contains("/codelint/issues/?job_id=") && !fetched.contains("/sarif/"),
        "{fetched}"
    );

    // A long job: scan the slow project, then cancel it with the row's button.
    browser.click(&format!(
        "li[data-project-id='{slow_id}'] button.scan[data-incremental='false']"
    ));
    assert!(
        eventually(QUICK, || process_running("sleep 652")),
        "the slow tool never started"
    );
    let recent = app.get(&format!("{JOBS}?limit=1"), ADMIN_TOKEN).expect(200);
    let slow_job = recent.data()["results"][0]["id"].as_i64().unwrap();
    browser.wait_for(
        "the running job",
        QUICK,
        &format!(
            "const row = document.querySelector(\"tr[data-job-id='{slow_job}']\");
             return row && row.innerText.includes('RUNNING')"
        ),
    );
    browser.run("window.scrollTo(0, 0); return true;");
    browser.screenshot(&target_dir().join("status-page-1366x768.png"));
    browser.click(&format!("tr[data-job-id='{slow_job}'] button.cancel"));
    let cancelled = app.wait_for_job(&slow, slow_job, QUICK);
    assert_eq!(cancelled["result_code"], 301, "{cancelled}");
    assert!(eventually(QUICK, || !process_running("sleep 652")));
    let row = browser.wait_for(
        "the cancelled job CLOSED",
        QUICK,
        &format!(
            "const row = document.querySelector(\"tr[data-job-id='{slow_job}']\");
             return row && row.dataset.state === '2' && row.innerText"
        ),
    );
    assert!(row.as_str().unwrap().contains("301"), "{row}");
    assert_eq!(
        browser.run(&format!(
            "return document.querySelector(\"tr[data-job-id='{slow_job}'] button.cancel\").hidden"
        )),
        true
    );
    assert_eq!(browser.run("return window.__noReload === true"), true);

    drive_the_project_view(browser, app, world);

    // A phone-width window: one card per job, nothing wider than the screen.
    browser
        .send("POST", "/window/rect", json!({"width": 390, "height": 844}))
        .expect("the window narrows");
    browser.wait_for(
        "no horizontal overflow",
        QUICK,
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth",
    );
    browser.screenshot(&target_dir().join("status-page-phone.png"));
}

/// The project's automation: a schedule set from the page, the repository's push webhook made
/// and pinged, a notification webhook added from the page that gets a scan's close, a team
/// webhook shown beside it, a redelivery and a delete.
fn drive_the_project_view(browser: &Browser, app: &TestApp, world: &World) {
    let receiver = Receiver::start(&[]);
    let team_receiver = Receiver::start(&[]);
    app.post(
        &format!("{}/webhooks/", world.team_path()),
        ADMIN_TOKEN,
        json!({"url": team_receiver.url, "events": ["findings.new"], "format": "slack"}),
    )
    .expect(201);
    let project = format!("li[data-project-id='{}']", world.project_id);
    browser.click(&format!("{project} button.open-project"));
    browser.wait_for(
        "the empty schedule",
        QUICK,
        "return document.getElementById('pv-schedule').textContent === 'No schedule.'",
    );
    // The schedule, set from the page.
    browser.type_into("#pv-cron", "0 3 * * *");
    browser.click("#pv-schedule-save");
    let schedule = browser.wait_for(
        "the schedule with its next run",
        QUICK,
        "const t = document.getElementById('pv-schedule').textContent; return t.includes('next run') && t",
    );
    assert!(
        schedule.as_str().unwrap().starts_with("0 3 * * *"),
        "{schedule}"
    );
    let stored = app
        .get(&format!("{}/schedule/", world.project_path()), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(stored.data()["cron"], "0 3 * * *");
    assert!(stored.data()["next_run_time"].as_str().is_some());

    // The push webhook: made from the page (its secret shown once), then pinged by "GitHub".
    browser.click("#pv-hook-make");
    let secret = browser.wait_for(
        "the new push webhook's secret",
        QUICK,
        "const box = document.getElementById('pv-hook-secret'); return !box.hidden && box.textContent",
    );
    let secret = secret.as_str().unwrap().to_string();
    let hook_url = secret
        .split(" URL ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let hook_secret = secret.rsplit(" secret ").next().unwrap();
    let ping = json!({"zen": "Design for failure.", "hook_id": 1});
    let body = ping.to_string();
    let signature = format!(
        "sha256={}",
        codepup::hooks::forge::sign(hook_secret, body.as_bytes())
    );
    ureq::post(hook_url)
        .set("Content-Type", "application/json")
        .set("X-GitHub-Event", "ping")
        .set("X-GitHub-Delivery", "page-ping-1")
        .set("X-Hub-Signature-256", &signature)
        .send_string(&body)
        .expect("the ping is accepted");
    browser.wait_for(
        "the ping among the push webhook's deliveries",
        QUICK,
        "return document.getElementById('pv-hook-deliveries').innerText.includes('ping: the hook works')",
    );
    assert!(browser
        .run("return document.getElementById('pv-hook').textContent")
        .as_str()
        .unwrap()
        .starts_with("On: "));

    // A notification webhook added from the page; the team's shows beside it.
    browser.type_into("#pv-wh-url", &receiver.url);
    browser.type_into("#pv-wh-secret", "page-secret");
    browser.click("#pv-wh-add");
    browser.wait_for(
        "the project's webhook and the team's",
        QUICK,
        &format!(
            "const t = document.getElementById('pv-webhooks').innerText;
             return t.includes('{}') && t.includes('project · json · job.closed · signed')
                 && t.includes('team · slack · findings.new')",
            receiver.url
        ),
    );
    // A scan's close reaches the receiver, and the page shows the delivery and its answer.
    browser.click(&format!("{project} button.scan[data-incremental='false']"));
    let got = receiver.wait_for(1);
    assert_eq!(got[0].header("X-Codepup-Event"), Some("job.closed"));
    assert!(got[0].header("X-Codepup-Signature-256").is_some());
    let card = "div.webhook[data-webhook-id] tr.delivery";
    browser.wait_for(
        "the delivered notification",
        QUICK,
        &format!(
            "const row = document.querySelector(\"{card}\");
             return row && row.innerText.includes('delivered') && row.innerText.includes('HTTP 200')"
        ),
    );
    // The notification's link opens its job on the page.
    let link = got[0].json()["links"]["status_page"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(link.starts_with(&app.base), "{link}");
    browser.open(&link);
    browser.wait_for(
        "the job the notification links to",
        QUICK,
        &format!(
            "const view = document.getElementById('job-view');
             return !view.hidden && document.getElementById('jv-title').textContent.startsWith('Job #{} ')
                 && document.getElementById('jv-result').textContent.startsWith('0 success')",
            got[0].json()["job"]["id"]
        ),
    );
    // Redelivered from the page: the receiver gets the same body again.
    browser.click(&format!("{card} button.redeliver"));
    let got = receiver.wait_for(2);
    assert_eq!(got[1].body, got[0].body);
    browser.wait_for(
        "two deliveries on the card",
        QUICK,
        &format!("return document.querySelectorAll(\"{card}\").length === 2"),
    );
    browser.run("document.getElementById('project-view').scrollIntoView(); return true;");
    browser.screenshot(&target_dir().join("status-page-project-view.png"));
    // Deleted from the page; the team's stays (managed at the team level).
    let project_card = browser
        .run("return document.querySelector('div.webhook button.delete').closest('div.webhook').dataset.webhookId");
    browser.click(&format!(
        "div.webhook[data-webhook-id='{}'] button.delete",
        project_card.as_str().unwrap()
    ));
    browser.wait_for(
        "only the team's webhook",
        QUICK,
        "const t = document.getElementById('pv-webhooks').innerText;
         return !t.includes('project · json') && t.includes('team · slack')",
    );
    let listed = app
        .get(&format!("{}/webhooks/", world.project_path()), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(listed.data()["results"], json!([]));
}
