//! Retention (issue 9): a store with old and new jobs across projects, a dry run that deletes
//! nothing, one real pass (`codepup prune`, the real binary, on the server's file while a scan
//! runs), and exact checks of what remains; and the housekeeping thread's own pass.
//!
//! The fixture: jobs are made through the API with real scans, then backdated by writing their
//! times in the SQLite file directly (every closed job's `create_time` and `end_time` set 400
//! days back), and a bulk project gets 3,000 old closed jobs inserted straight into the file,
//! each with a task and a line count. Leftovers a crash would leave are planted as files: a
//! workspace of a closed job, a git cache of a repository that does not exist, a stale and a
//! fresh `tmp_pack_*` file, and a result-cache row no project refers to.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection};
use serde_json::json;

use crate::helpers::{eventually, git, process_running, tools, Body, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(60);

/// 400 days ago, in the stored form.
fn long_ago() -> String {
    codepup::clock::to_stored(time::OffsetDateTime::now_utc() - time::Duration::days(400))
}

fn db(app: &TestApp) -> Connection {
    let conn = Connection::open(app.data_dir().join("codepup.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

fn count(conn: &Connection, sql: &str) -> u64 {
    conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap() as u64
}

fn ids(conn: &Connection, sql: &str) -> Vec<i64> {
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Runs `codepup prune` on the app's data directory; returns its `kind count` lines.
fn prune(app: &TestApp, extra: &[&str]) -> BTreeMap<String, u64> {
    let output = Command::new(env!("CARGO_BIN_EXE_codepup"))
        .arg("prune")
        .args(extra)
        .args(["--retain-jobs", "2", "--data-dir"])
        .arg(app.data_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| {
            let (what, n) = line.split_once(' ')?;
            Some((what.to_string(), n.parse().ok()?))
        })
        .collect()
}

/// Commits `files` (content, or `None` to delete) to the world's repository.
fn commit(world: &World, files: &[(&str, Option<&str>)]) {
    for (path, content) in files {
        let file = world.repo_dir.join(path);
        match content {
            Some(content) => std::fs::write(file, content).unwrap(),
            None => std::fs::remove_file(file).unwrap(),
        }
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "change"]);
}

/// Scans and waits; returns the job id and its result code.
fn scan(app: &TestApp, project: &str, incremental: bool) -> (i64, i64) {
    let (job_id, _) = app.start_scan(project, json!({"incr_scan": incremental}));
    let detail = app.wait_for_job(project, job_id, QUICK);
    (job_id, detail["result_code"].as_i64().unwrap())
}

/// A scan that fails because the repository is gone for a moment (result code 112).
fn failed_scan(app: &TestApp, world: &World, project: &str) -> i64 {
    let away = world.repo_dir.with_extension("away");
    std::fs::rename(&world.repo_dir, &away).unwrap();
    let (job_id, code) = scan(app, project, false);
    std::fs::rename(&away, &world.repo_dir).unwrap();
    assert!((110..120).contains(&code), "{code}");
    job_id
}

fn conflict(name: &str) -> String {
    format!("a\n{} {name}\nb\n", "<".repeat(7))
}

/// The jobs of the world's project, named as in the test below.
struct History {
    j: Vec<i64>,
}

/// J0 fails; J1 opens X and Y; J2 fixes Y and opens Z; J3 fixes Z and is X's last sighting;
/// J4 (incremental, another file) is the last job with stored results; J5 (no change, code 1)
/// is the baseline; J6 and J7 fail and are the project's last two.
fn history(app: &TestApp, world: &World) -> History {
    let project = world.project_path();
    let mut j = vec![failed_scan(app, world, &project)];
    commit(
        world,
        &[
            ("x.txt", Some(&conflict("x"))),
            ("y.txt", Some(&conflict("y"))),
        ],
    );
    j.push(expect_ok(scan(app, &project, false), 0));
    commit(world, &[("y.txt", None), ("z.txt", Some(&conflict("z")))]);
    j.push(expect_ok(scan(app, &project, false), 0));
    commit(world, &[("z.txt", None), ("w.txt", Some("plain\n"))]);
    j.push(expect_ok(scan(app, &project, false), 0));
    commit(world, &[("w.txt", Some("plainer\n"))]);
    j.push(expect_ok(scan(app, &project, true), 0));
    j.push(expect_ok(scan(app, &project, true), 1));
    j.push(failed_scan(app, world, &project));
    j.push(failed_scan(app, world, &project));
    History { j }
}

#[track_caller]
fn expect_ok((job_id, code): (i64, i64), expected: i64) -> i64 {
    assert_eq!(code, expected, "job {job_id}");
    job_id
}

/// A finding's (state, scan_open, scan_fix) by the file it is in.
fn finding(conn: &Connection, path: &str) -> Option<(i64, Option<i64>, Option<i64>)> {
    conn.query_row(
        "SELECT state, scan_open, scan_fix FROM issues WHERE path = ?1",
        params![path],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .ok()
}

fn scan_of(conn: &Connection, job_id: i64) -> i64 {
    conn.query_row("SELECT scan_id FROM jobs WHERE id = ?1", [job_id], |row| {
        row.get(0)
    })
    .unwrap()
}

/// Plants the leftovers a crash leaves; returns the paths that must go and those that stay.
fn plant_leftovers(
    app: &TestApp,
    world: &World,
    closed_job: i64,
    running_job: i64,
) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let data = app.data_dir();
    let gone_workspace = data.join("workspaces").join(format!("job-{closed_job}"));
    std::fs::create_dir_all(gone_workspace.join("src")).unwrap();
    let live_workspace = data
        .join("workspaces")
        .join(format!("job-{running_job}.planted"));
    std::fs::write(&live_workspace, "in use").unwrap();
    let gone_cache = data.join("git").join("repo-999.git");
    std::fs::create_dir_all(gone_cache.join("objects")).unwrap();
    let packs = data
        .join("git")
        .join(format!("repo-{}.git", world.repo_id))
        .join("objects")
        .join("pack");
    let stale = packs.join("tmp_pack_killed");
    let fresh = packs.join("tmp_pack_running");
    for file in [&stale, &fresh] {
        std::fs::write(file, "PACK").unwrap();
    }
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 60 * 60))
        .unwrap();
    (
        vec![gone_workspace, gone_cache, stale],
        vec![
            live_workspace,
            fresh,
            packs.parent().unwrap().parent().unwrap().to_path_buf(),
        ],
    )
}

/// 3,000 old closed jobs of `project_id`, each with a task and a line count (fixture rows).
fn bulk_jobs(conn: &Connection, project_id: i64) {
    let old = long_ago();
    conn.execute_batch("BEGIN").unwrap();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO jobs (project_id, state, create_time, end_time, result_code, result_msg,
                           created_from, creator)
         SELECT ?1, 2, ?2, ?2, 301, 'fixture: cancelled long ago ' || printf('%.200c', 'x'), 'fixture', 'fixture' FROM n",
        params![project_id, old],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO tasks (job_id, module, task_name, state, create_time, result_msg)
         SELECT id, 'codemetric', 'codecount', 2, ?2, printf('%.300c', 'y') FROM jobs WHERE project_id = ?1",
        params![project_id, old],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO job_languages (job_id, language, files, code, comment, blank)
         SELECT id, 'Rust', 1, 2, 3, 4 FROM jobs WHERE project_id = ?1",
        params![project_id],
    )
    .unwrap();
    conn.execute_batch("COMMIT").unwrap();
}

fn project_id(path: &str) -> i64 {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

#[test]
fn a_pass_deletes_old_jobs_completely_and_keeps_what_is_still_needed_while_a_scan_runs() {
    let app = TestApp::spawn_with_tools(&tools(&[("sleeper", r#"["sleep", "917"]"#, "")]));
    let world = World::build(&app);
    let h = history(&app, &world);
    let counted = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "count", "lint_enabled": false}),
    );
    let k: Vec<i64> = (0..3)
        .map(|_| expect_ok(scan(&app, &counted, false), 0))
        .collect();
    let bulk =
        world.project_with_scheme(&app, "main", json!({"name": "bulk", "lint_enabled": false}));
    let slow =
        world.project_with_scheme(&app, "main", json!({"name": "slow", "tools": ["sleeper"]}));
    let conn = db(&app);
    let counted_refs = count(
        &conn,
        &format!(
            "SELECT COUNT(*) FROM project_file_results WHERE project_id = {}",
            project_id(&counted)
        ),
    );
    assert!(counted_refs > 0);
    app.call(
        "DELETE",
        &format!("{counted}/"),
        Some(ADMIN_TOKEN),
        Body::None,
    )
    .expect(204);
    conn.execute(
        "INSERT INTO file_results (repo_id, analyzer, path, blob, result) VALUES (?1, 'codecount@1', 'gone.rs', 'feed', '{}')",
        [world.repo_id],
    )
    .unwrap();
    conn.execute(
        "UPDATE jobs SET create_time = ?1, end_time = ?1 WHERE state = 2",
        [long_ago()],
    )
    .unwrap();
    bulk_jobs(&conn, project_id(&bulk));
    let bulk_ids = ids(
        &conn,
        &format!(
            "SELECT id FROM jobs WHERE project_id = {} ORDER BY id",
            project_id(&bulk)
        ),
    );
    let (running, _) = app.start_scan(&slow, json!({}));
    assert!(eventually(QUICK, || process_running("sleep 917")));
    let (must_go, must_stay) = plant_leftovers(&app, &world, h.j[0], running);
    let closed_logs: Vec<i64> = ids(&conn, "SELECT id FROM jobs WHERE state = 2")
        .into_iter()
        .filter(|id| {
            app.data_dir()
                .join("logs")
                .join(format!("job-{id}"))
                .is_dir()
        })
        .collect();
    let (x_scan, z_scan) = (scan_of(&conn, h.j[1]), scan_of(&conn, h.j[2]));
    assert_eq!(
        finding(&conn, "z.txt"),
        Some((2, Some(z_scan), Some(scan_of(&conn, h.j[3]))))
    );
    let jobs_before = count(&conn, "SELECT COUNT(*) FROM jobs");
    let j0_scan = scan_of(&conn, h.j[0]);
    // What hangs off the jobs that must go: J0, J2, K0 and all but the bulk project's last two.
    let mut doomed = vec![h.j[0], h.j[2], k[0]];
    doomed.extend(&bulk_ids[..bulk_ids.len() - 2]);
    let doomed_list = doomed
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let doomed_rows: BTreeMap<&str, u64> = ["tasks", "job_languages", "job_issues"]
        .into_iter()
        .map(|table| {
            (
                table,
                count(
                    &conn,
                    &format!("SELECT COUNT(*) FROM {table} WHERE job_id IN ({doomed_list})"),
                ),
            )
        })
        .collect();
    assert!(doomed_rows["job_issues"] > 0 && doomed_rows["tasks"] > 2998);
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let size_before = std::fs::metadata(app.data_dir().join("codepup.db"))
        .unwrap()
        .len();

    let dry = prune(&app, &["--dry-run"]);
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM jobs"),
        jobs_before,
        "a dry run deletes nothing"
    );
    assert!(must_go.iter().all(|path| path.exists()));
    let real = prune(&app, &[]);
    assert_eq!(dry, real, "the dry run counts what the pass then removes");
    let expected: BTreeMap<String, u64> = [
        ("jobs", 3 + 2998),
        ("fixed_findings", 1),
        ("result_cache", counted_refs + 1),
        ("logs", closed_logs.len() as u64),
        ("workspaces", 1),
        ("git_caches", 1),
        ("tmp_packs", 1),
    ]
    .into_iter()
    .map(|(what, n)| (what.to_string(), n))
    .collect();
    for (what, n) in &expected {
        assert_eq!(real[what], *n, "{what}: {real:?}");
    }
    for (what, table) in [
        ("tasks", "tasks"),
        ("line_counts", "job_languages"),
        ("sightings", "job_issues"),
    ] {
        assert_eq!(real[what], doomed_rows[table], "{what}: {real:?}");
    }

    let mut kept: Vec<i64> = vec![
        h.j[1], h.j[3], h.j[4], h.j[5], h.j[6], h.j[7], k[1], k[2], running,
    ];
    kept.extend(&bulk_ids[bulk_ids.len() - 2..]);
    kept.sort_unstable();
    assert_eq!(ids(&conn, "SELECT id FROM jobs ORDER BY id"), kept);
    for gone in [h.j[0], h.j[2], k[0], bulk_ids[0]] {
        for table in ["tasks", "job_languages", "job_issues"] {
            assert_eq!(
                count(
                    &conn,
                    &format!("SELECT COUNT(*) FROM {table} WHERE job_id = {gone}")
                ),
                0,
                "{table} of {gone}"
            );
        }
    }
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM task_progresses WHERE task_id NOT IN (SELECT id FROM tasks)"
        ),
        0
    );
    // X is open: its first sighting (J1) and last (J3) stay readable; Y, fixed, keeps its
    // sighting in J1 and its fix's scan row; Z, fixed and seen only by J2, is gone.
    assert_eq!(finding(&conn, "x.txt"), Some((1, Some(x_scan), None)));
    assert_eq!(
        finding(&conn, "y.txt"),
        Some((2, Some(x_scan), Some(z_scan)))
    );
    assert_eq!(finding(&conn, "z.txt"), None);
    assert_eq!(
        count(
            &conn,
            &format!("SELECT COUNT(*) FROM scans WHERE id = {z_scan}")
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            &format!("SELECT COUNT(*) FROM scans WHERE id = {}", j0_scan)
        ),
        0
    );
    let x_jobs = ids(&conn, "SELECT ji.job_id FROM job_issues ji JOIN issues i ON i.id = ji.issue_id WHERE i.path = 'x.txt' ORDER BY 1");
    assert_eq!(x_jobs, [h.j[1], h.j[3]]);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM file_results WHERE path = 'gone.rs'"
        ),
        0
    );
    assert!(
        count(
            &conn,
            "SELECT COUNT(*) FROM file_results WHERE path = 'x.txt'"
        ) > 0
    );

    for id in &closed_logs {
        assert!(
            !app.data_dir()
                .join("logs")
                .join(format!("job-{id}"))
                .exists(),
            "logs of {id}"
        );
    }
    assert!(app
        .data_dir()
        .join("logs")
        .join(format!("job-{running}"))
        .is_dir());
    assert!(must_go.iter().all(|path| !path.exists()), "{must_go:?}");
    assert!(must_stay.iter().all(|path| path.exists()), "{must_stay:?}");
    assert_eq!(
        count(
            &conn,
            &format!("SELECT state != 2 FROM jobs WHERE id = {running}")
        ),
        1
    );

    // The pages went back to the file system, and `check` finds nothing missing.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let size_after = std::fs::metadata(app.data_dir().join("codepup.db"))
        .unwrap()
        .len();
    assert!(size_after < size_before, "{size_after} < {size_before}");
    let again = prune(&app, &["--dry-run"]);
    assert!(
        again.values().all(|n| *n == 0),
        "a second pass finds nothing: {again:?}"
    );
    let check = Command::new(env!("CARGO_BIN_EXE_codepup"))
        .args(["check", "--data-dir"])
        .arg(app.data_dir())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn the_housekeeping_thread_runs_a_pass_after_start_and_counts_what_it_removed() {
    let mut app = TestApp::spawn_with(|config| {
        config.metrics_bind = Some("127.0.0.1:0".to_string());
    });
    let world = World::build(&app);
    let project = world.project_path();
    let (job_id, _) = app.start_scan(&project, json!({}));
    app.wait_for_job(&project, job_id, QUICK);
    let conn = db(&app);
    // 60 old closed jobs before the real one: the default keeps a project's last 50 closed
    // jobs, so the 11 oldest go (the real job is the baseline, and among the 50 anyway).
    bulk_jobs_before(&conn, world.project_id, 60);
    let cache = app.data_dir().join("git").join("repo-999.git");
    std::fs::create_dir_all(&cache).unwrap();
    app.config.retention.first_pass_after = Duration::ZERO;
    app.restart();
    let base = app.metrics_base().expect("a metrics listener");
    let scrape = || {
        ureq::get(&format!("{base}/metrics"))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    assert!(
        eventually(QUICK, || scrape()
            .contains("codepup_retention_passes_total 1")),
        "{}",
        scrape()
    );
    let text = scrape();
    for line in [
        "codepup_retention_removed_total{what=\"jobs\"} 11",
        "codepup_retention_removed_total{what=\"tasks\"} 11",
        "codepup_retention_removed_total{what=\"git_caches\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(!cache.exists());
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM jobs"), 50);
    assert_eq!(
        count(
            &conn,
            &format!("SELECT COUNT(*) FROM jobs WHERE id = {job_id}")
        ),
        1
    );
}

/// `n` old closed jobs of `project_id` with ids below every real job's (fixture rows, each
/// with a task), so the real jobs stay the project's latest.
fn bulk_jobs_before(conn: &Connection, project_id: i64, n: i64) {
    let old = long_ago();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
         INSERT INTO jobs (id, project_id, state, create_time, end_time, result_code, created_from, creator)
         SELECT -i, ?1, 2, ?2, ?2, 301, 'fixture', 'fixture' FROM n",
        params![project_id, old, n],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO tasks (job_id, module, task_name, state, create_time)
         SELECT id, 'codemetric', 'codecount', 2, ?1 FROM jobs WHERE id < 0",
        params![old],
    )
    .unwrap();
}

/// (project, closed jobs) pairs, by project.
type PerProject = Vec<(i64, i64)>;

/// Closed jobs per project as the job tallies count them, and as the jobs table holds them:
/// equal when every deleting transaction was whole (a stop rolls the one it interrupts back).
fn closed_jobs_counted_and_held(conn: &Connection) -> (PerProject, PerProject) {
    let pairs = |sql: &str| -> PerProject {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    (
        pairs(
            "SELECT project_id, SUM(n) FROM job_tallies WHERE period = 'A' AND state = 2
             GROUP BY project_id ORDER BY project_id",
        ),
        pairs(
            "SELECT project_id, COUNT(*) FROM jobs WHERE state = 2
             GROUP BY project_id ORDER BY project_id",
        ),
    )
}

/// A server stopped while its housekeeping pass deletes stops the pass where it is (the
/// shutdown does not wait for the pass to end), leaves every job whole or gone, and its next
/// start's pass finishes the work: exactly the project's last 50 closed jobs remain.
#[test]
fn a_server_stopped_during_a_pass_leaves_a_consistent_store_and_the_next_pass_finishes() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let (job_id, _) = app.start_scan(&project, json!({}));
    app.wait_for_job(&project, job_id, QUICK);
    let conn = db(&app);
    // Many transactions' worth of old jobs (each with a task: at most
    // `ROWS_PER_TRANSACTION` rows a transaction, and a pause after each).
    let old = 5_000;
    bulk_jobs_before(&conn, world.project_id, old);
    let total = count(&conn, "SELECT COUNT(*) FROM jobs");
    assert_eq!(total, old as u64 + 1);
    app.config.retention.first_pass_after = Duration::ZERO;
    app.restart();
    assert!(
        eventually(QUICK, || count(&conn, "SELECT COUNT(*) FROM jobs") < total),
        "the pass deletes"
    );
    app.stop();
    let left = count(&conn, "SELECT COUNT(*) FROM jobs");
    assert!(
        left > 50,
        "the stop ended the pass before its end: {left} jobs left"
    );
    let (counted, held) = closed_jobs_counted_and_held(&conn);
    assert_eq!(counted, held);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM tasks WHERE job_id NOT IN (SELECT id FROM jobs)"
        ),
        0
    );

    app.restart();
    assert!(
        eventually(Duration::from_secs(600), || count(
            &conn,
            "SELECT COUNT(*) FROM jobs"
        ) == 50),
        "the next pass finishes: {} jobs",
        count(&conn, "SELECT COUNT(*) FROM jobs")
    );
    let mut expected: Vec<i64> = (1..=49).map(|i| -i).collect();
    expected.push(job_id);
    expected.sort_unstable();
    assert_eq!(ids(&conn, "SELECT id FROM jobs ORDER BY id"), expected);
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM tasks"),
        49 + count(
            &conn,
            &format!("SELECT COUNT(*) FROM tasks WHERE job_id = {job_id}")
        )
    );
    let (counted, held) = closed_jobs_counted_and_held(&conn);
    assert_eq!(counted, held);
}
