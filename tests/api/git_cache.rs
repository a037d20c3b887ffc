//! The repository cache seen through scans: one bare repository per repository holding only the
//! branches projects scan, without tags, fetched only when the remote head is new to it. The job
//! log shows every git command a scan ran, so the tests read what was fetched from it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{git, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(30);

/// The job's log (what the worker wrote, including the `$ git ...` lines).
fn job_log(app: &TestApp, project: &str, job_id: i64) -> String {
    let reply = app
        .get(&format!("{project}/jobs/{job_id}/log/"), ADMIN_TOKEN)
        .expect(200);
    reply.body.as_str().unwrap().to_string()
}

/// Scans `project` and waits for the job; returns its id, result code and log.
fn scan(app: &TestApp, project: &str, incremental: bool) -> (i64, i64, String) {
    let (job_id, _) = app.start_scan(project, json!({"incr_scan": incremental}));
    let detail = app.wait_for_job(project, job_id, QUICK);
    let code = detail["result_code"].as_i64().unwrap();
    (job_id, code, job_log(app, project, job_id))
}

fn cache_of(app: &TestApp, world: &World) -> PathBuf {
    app.data_dir()
        .join("git")
        .join(format!("repo-{}.git", world.repo_id))
}

/// The refs the cache holds, one per line.
fn refs(cache: &std::path::Path) -> String {
    git(cache, &["for-each-ref", "--format=%(refname)"])
}

#[test]
fn a_scan_fetches_its_branch_alone_without_tags_and_again_only_when_the_head_moved() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let repo = &world.repo_dir;
    git(repo, &["tag", "v1"]);
    git(repo, &["checkout", "-q", "-b", "other"]);
    std::fs::write(repo.join("other.py"), "x = 1\n").unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "other"]);
    git(repo, &["tag", "-a", "-m", "v2", "v2"]);
    git(repo, &["checkout", "-q", "main"]);
    let project = world.project_path();

    let (_, code, log) = scan(&app, &project, false);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("$ git clone --bare --single-branch --no-tags --branch main"),
        "{log}"
    );
    // A local repository's objects are hard-linked into the new cache, so only its refs say
    // what it took: the branch, no tags, not the other branch.
    let cache = cache_of(&app, &world);
    assert_eq!(refs(&cache), "refs/heads/main");

    // A repeated full scan at the same head asks the remote and fetches nothing.
    let (_, code, log) = scan(&app, &project, false);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("$ git ls-remote") && !log.contains("$ git fetch"),
        "{log}"
    );

    // A one-file commit is fetched, and the incremental scan sees just that file.
    std::fs::write(repo.join("src/main.py"), "print('hi')\nprint(2)\n").unwrap();
    git(repo, &["commit", "-q", "-am", "two"]);
    let (_, code, log) = scan(&app, &project, true);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("$ git fetch"), "{log}");
    assert!(log.contains("1 changed files"), "{log}");
    assert_eq!(refs(&cache), "refs/heads/main");
}

#[test]
fn a_branch_deleted_from_the_remote_fails_the_next_scan_with_the_not_found_code() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    git(&world.repo_dir, &["branch", "feature"]);
    let project = world.project_with_scheme(&app, "feature", json!({"name": "feature"}));
    let (_, code, log) = scan(&app, &project, false);
    assert_eq!(code, 0, "{log}");

    git(&world.repo_dir, &["branch", "-D", "feature"]);
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 112, "{detail}");
    let msg = detail["result_msg"].as_str().unwrap();
    assert!(
        msg.starts_with("branch feature does not exist in "),
        "{msg}"
    );
    // The cache forgets it too; the other project's branch is untouched.
    assert_eq!(refs(&cache_of(&app, &world)), "");
    let (_, code, log) = scan(&app, &world.project_path(), false);
    assert_eq!(code, 0, "{log}");
}

#[test]
fn a_force_push_whose_baseline_the_cache_no_longer_holds_gives_a_full_scan() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let (_, code, log) = scan(&app, &project, true);
    assert_eq!(code, 0, "{log}");

    // The scanned head is rewritten away. The cache never drops objects by itself, so it still
    // holds the old head; a cache made anew (lost, or restored from a backup, which leaves
    // caches out) does not.
    std::fs::write(world.repo_dir.join("src/main.py"), "print('rewritten')\n").unwrap();
    git(
        &world.repo_dir,
        &["commit", "-q", "-a", "--amend", "-m", "rewritten"],
    );
    std::fs::remove_dir_all(cache_of(&app, &world)).unwrap();
    // A new cache of a local repository hard-links its objects: the rewritten-away commit
    // must be gone from the repository itself.
    git(
        &world.repo_dir,
        &["reflog", "expire", "--expire=now", "--all"],
    );
    git(&world.repo_dir, &["gc", "-q", "--prune=now"]);
    let (_, code, log) = scan(&app, &project, true);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("is no longer in the repository: full scan"),
        "{log}"
    );
    assert!(log.contains("full scan: "), "{log}");
}

#[test]
fn projects_on_two_branches_of_one_repository_share_one_cache() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    git(&world.repo_dir, &["checkout", "-q", "-b", "dev"]);
    std::fs::write(world.repo_dir.join("dev.py"), "y = 2\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "dev"]);
    git(&world.repo_dir, &["checkout", "-q", "main"]);
    let dev = world.project_with_scheme(&app, "dev", json!({"name": "dev"}));

    let (_, code, log) = scan(&app, &world.project_path(), false);
    assert_eq!(code, 0, "{log}");
    let (_, code, log) = scan(&app, &dev, false);
    assert_eq!(code, 0, "{log}");
    // The main branch's clone hard-linked the local repository's objects, dev's among them.
    assert!(
        log.contains("$ git fetch") || log.contains("(in the cache already)"),
        "{log}"
    );
    let caches: Vec<String> = std::fs::read_dir(app.data_dir().join("git"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(caches, [format!("repo-{}.git", world.repo_id)]);
    assert_eq!(
        refs(&cache_of(&app, &world)),
        "refs/heads/dev\nrefs/heads/main"
    );
    // Each project's next scan at an unchanged head still fetches nothing.
    let (_, code, log) = scan(&app, &world.project_path(), false);
    assert_eq!(code, 0, "{log}");
    assert!(!log.contains("$ git fetch"), "{log}");
}
