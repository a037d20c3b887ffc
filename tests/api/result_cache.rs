//! The result cache of the in-process analyzers: shared by the projects of a repository, and
//! pruned of results no project's last scan uses.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

const QUICK: Duration = Duration::from_secs(60);

/// How many cached `analyzer` results the database holds for `path`.
fn cached(app: &TestApp, analyzer: &str, path: &str) -> i64 {
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM file_results WHERE analyzer LIKE ?1 || '@%' AND path = ?2",
        rusqlite::params![analyzer, path],
        |row| row.get(0),
    )
    .unwrap()
}

fn scan(app: &TestApp, project: &str, body: serde_json::Value) -> serde_json::Value {
    let (job, _) = app.start_scan(project, body);
    let detail = app.wait_for_job(project, job, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    detail
}

fn codecount_log(app: &TestApp, project: &str, detail: &serde_json::Value) -> String {
    let task = detail["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["task_name"] == "codecount")
        .unwrap_or_else(|| panic!("no codecount task: {detail}"));
    task_log(app, project, detail["id"].as_i64().unwrap(), &task["id"])
}

#[test]
fn a_second_project_on_a_repository_starts_with_the_results_of_the_first() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("lib.rs"), "fn main() {}\n// note\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "two files"]);
    let first = world.project_path();
    let detail = scan(&app, &first, json!({"incr_scan": false}));
    let log = codecount_log(&app, &first, &detail);
    assert!(
        log.contains("counted 2 files, reused the counts of 0"),
        "{log}"
    );

    let second =
        world.project_with_scheme(&app, "main", json!({"name": "c", "tools": ["codecount"]}));
    let again = scan(&app, &second, json!({"incr_scan": false}));
    let log = codecount_log(&app, &second, &again);
    assert!(
        log.contains("counted 0 files, reused the counts of 2"),
        "{log}"
    );
    for key in [
        "code_line_num",
        "comment_line_num",
        "blank_line_num",
        "total_line_num",
    ] {
        assert_eq!(detail[key], again[key], "{key}");
    }
}

#[test]
fn a_result_goes_when_no_project_uses_it_and_stays_while_one_does() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let first = world.project_path();
    let second =
        world.project_with_scheme(&app, "main", json!({"name": "c", "tools": ["codecount"]}));
    std::fs::write(world.repo_dir.join("gone.py"), "x = 1\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "more"]);
    scan(&app, &first, json!({"incr_scan": false}));
    scan(&app, &second, json!({"incr_scan": false}));
    assert_eq!(cached(&app, "codecount", "src/main.py"), 1);

    std::fs::write(world.repo_dir.join("src/main.py"), "print('changed')\n").unwrap();
    git(&world.repo_dir, &["rm", "-q", "gone.py"]);
    git(
        &world.repo_dir,
        &["commit", "-q", "-am", "change one, remove one"],
    );
    scan(&app, &first, json!({}));
    assert_eq!(
        cached(&app, "codecount", "src/main.py"),
        2,
        "the second project's last scan still uses the old blob's counts"
    );
    assert_eq!(cached(&app, "codecount", "gone.py"), 1);

    scan(&app, &second, json!({}));
    assert_eq!(
        cached(&app, "codecount", "src/main.py"),
        1,
        "the old blob's counts went"
    );
    assert_eq!(
        cached(&app, "codecount", "gone.py"),
        0,
        "a file no scan holds any more"
    );
}
