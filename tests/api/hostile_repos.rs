//! A hostile repository, or a hostile user of the local-repository root, must not make codepup
//! read or run anything outside what was allowed (issue 8, holes 1 and 2).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{git, has_tool, make_git_repo, task_log, tools, TestApp, World, ADMIN_TOKEN};
use crate::scans::stored_findings;

const QUICK: Duration = Duration::from_secs(30);

/// A project on `main` of the world's repository with a new scheme and `scan_path`; returns its
/// path (`.../projects/<id>`).
fn project(app: &TestApp, world: &World, scheme: Value, scan_path: &str) -> String {
    let created = app
        .post(
            &format!("{}/initscheme/", world.repo_path()),
            ADMIN_TOKEN,
            scheme,
        )
        .expect(201);
    let scheme_id = created.data()["scan_scheme"].as_i64().unwrap();
    let project = app
        .post(
            &format!("{}/projects/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"branch": "main", "scan_scheme_id": scheme_id, "scan_path": scan_path}),
        )
        .expect(201);
    format!("{}/projects/{}", world.repo_path(), project.data()["id"])
}

fn commit_all(repo: &Path, message: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
}

/// Every task log of a job, one after the other.
fn task_logs(app: &TestApp, project: &str, job_id: i64, detail: &Value) -> String {
    detail["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task_log(app, project, job_id, &task["id"]))
        .collect()
}

#[test]
fn an_incremental_scan_hands_tools_no_symlink_to_a_file_outside_the_checkout() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "reader",
        r#"["sh", "-c", "while IFS= read -r f; do echo \"== $f\"; cat -- \"$f\"; done < {files}"]"#,
        "changed_files_only = true",
    )]));
    let secret = app.dir.path().join("secret.txt");
    let marker = format!("TOP-SECRET-{}", std::process::id());
    std::fs::write(&secret, format!("{marker}\n")).unwrap();
    let world = World::build(&app);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "r", "tools": ["reader"]}));
    let (first, _) = app.start_scan(&project, json!({}));
    assert_eq!(app.wait_for_job(&project, first, QUICK)["result_code"], 0);

    std::fs::write(world.repo_dir.join("ok.sh"), "echo ok-file\n").unwrap();
    symlink(&secret, world.repo_dir.join("evil.sh")).unwrap();
    commit_all(
        &world.repo_dir,
        "a file and a symlink out of the repository",
    );
    let (second, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, second, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_logs(&app, &project, second, &detail);
    assert!(log.contains("== ok.sh") && log.contains("ok-file"), "{log}");
    assert!(!log.contains(&marker), "the secret was read: {log}");
    assert!(!log.contains("evil.sh"), "the symlink was listed: {log}");
    assert!(log.contains("1 files to scan"), "{log}");
}

#[test]
fn shellcheck_never_reads_a_symlinked_file_of_an_incremental_scan() {
    if !has_tool("shellcheck") {
        return;
    }
    let app = TestApp::spawn();
    let secret = app.dir.path().join("secret.sh");
    std::fs::write(&secret, "#!/bin/sh\necho $1 # TOP-SECRET\n").unwrap();
    let world = World::build(&app);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "sc", "lint_enabled": true, "languages": ["shell"], "tools": ["shellcheck"]}),
    );
    let (first, _) = app.start_scan(&project, json!({}));
    assert_eq!(app.wait_for_job(&project, first, QUICK)["result_code"], 0);

    std::fs::write(world.repo_dir.join("ok.sh"), "#!/bin/sh\necho $1\n").unwrap();
    symlink(&secret, world.repo_dir.join("evil.sh")).unwrap();
    commit_all(
        &world.repo_dir,
        "a script and a symlink out of the repository",
    );
    let (second, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, second, Duration::from_secs(120));
    assert_eq!(detail["result_code"], 0, "{detail}");
    let found = stored_findings(&app);
    assert!(
        found.iter().any(|f| f.0 == "SC2086" && f.1 == "ok.sh"),
        "the regular file is checked: {found:?}"
    );
    assert!(
        !found.iter().any(|f| f.1 == "evil.sh"),
        "the symlink's target was checked: {found:?}"
    );
}

#[test]
fn a_scan_path_that_became_a_symlink_closes_the_job_with_300_and_runs_no_tool() {
    let app = TestApp::spawn_with_tools(&tools(&[("where", r#"["sh", "-c", "pwd -P; ls"]"#, "")]));
    let outside = app.dir.path().join("outside");
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    std::fs::write(outside.join("outside-marker.txt"), "x\n").unwrap();
    std::fs::write(outside.join("sub/outside-marker.txt"), "x\n").unwrap();
    let world = World::build(&app);
    for dir in ["sub", "deep/sub"] {
        std::fs::create_dir_all(world.repo_dir.join(dir)).unwrap();
        std::fs::write(world.repo_dir.join(dir).join("inside.txt"), "i\n").unwrap();
    }
    commit_all(&world.repo_dir, "two scan paths");
    let scheme = |name: &str| json!({"name": name, "tools": ["where"]});
    let sub = project(&app, &world, scheme("s1"), "/sub");
    let deep = project(&app, &world, scheme("s2"), "/deep/sub");
    for project in [&sub, &deep] {
        let (job, _) = app.start_scan(project, json!({}));
        let detail = app.wait_for_job(project, job, QUICK);
        assert_eq!(detail["result_code"], 0, "{detail}");
        assert!(task_logs(&app, project, job, &detail).contains("inside.txt"));
    }

    // `sub` itself, and `deep` above the other scan path, become symlinks to a directory outside.
    git(&world.repo_dir, &["rm", "-r", "-q", "sub", "deep"]);
    symlink(&outside, world.repo_dir.join("sub")).unwrap();
    symlink(&outside, world.repo_dir.join("deep")).unwrap();
    std::fs::write(world.repo_dir.join("other.txt"), "o\n").unwrap();
    commit_all(&world.repo_dir, "scan paths out of the repository");
    for (project, scan_path) in [(&sub, "/sub"), (&deep, "/deep/sub")] {
        let (job, _) = app.start_scan(project, json!({}));
        let detail = app.wait_for_job(project, job, QUICK);
        assert_eq!(detail["result_code"], 300, "{scan_path}: {detail}");
        let message = detail["result_msg"].as_str().unwrap();
        assert!(
            message.contains(scan_path) && message.contains("not a directory"),
            "{message}"
        );
        let log = task_logs(&app, project, job, &detail);
        assert!(!log.contains("outside-marker"), "{scan_path}: {log}");
    }
}

/// `dir/.git` becomes a file that points git at `gitdir`.
fn git_file(dir: &Path, gitdir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(".git"), format!("gitdir: {}\n", gitdir.display())).unwrap();
}

#[test]
fn a_git_file_below_the_local_root_cannot_register_a_repository_outside_it() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let repos = format!("{}/repos/", world.team_path());
    let outside = tempfile::tempdir().unwrap();
    let outside_repo = make_git_repo(&outside.path().join("secret"), &[("s.txt", "s\n")]);

    // A `.git` file naming the outside repository, and a worktree of it, both below the root.
    let trojan = app.repos_dir().join("trojan");
    git_file(&trojan, &outside_repo.join(".git"));
    git(
        &outside_repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "wt",
            app.repos_dir().join("wt").to_str().unwrap(),
        ],
    );
    for dir in [&trojan, &app.repos_dir().join("wt")] {
        for url in [
            dir.display().to_string(),
            format!("file://{}", dir.display()),
        ] {
            let reply = app
                .post(&repos, ADMIN_TOKEN, json!({"scm_url": url}))
                .expect(400);
            assert_eq!(reply.invalid_fields(), ["scm_url"], "{url}: {}", reply.body);
            let message = reply.body["msg"].as_str().unwrap();
            assert!(message.contains("not below an allowed root"), "{message}");
        }
    }
    // A directory that is no repository at all is refused too (git would look further up).
    std::fs::create_dir_all(app.repos_dir().join("plain")).unwrap();
    let plain = app
        .post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": app.repos_dir().join("plain").to_str().unwrap()}),
        )
        .expect(400);
    assert_eq!(plain.invalid_fields(), ["scm_url"], "{}", plain.body);

    // A worktree of a repository below the root, and a bare repository, are fine.
    git(
        &world.repo_dir,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "wt",
            app.repos_dir().join("inside-wt").to_str().unwrap(),
        ],
    );
    git(
        &app.repos_dir(),
        &[
            "clone",
            "-q",
            "--bare",
            world.repo_dir.to_str().unwrap(),
            "bare.git",
        ],
    );
    for dir in ["inside-wt", "bare.git"] {
        app.post(
            &repos,
            ADMIN_TOKEN,
            json!({"scm_url": app.repos_dir().join(dir).to_str().unwrap()}),
        )
        .expect(201);
    }
}

#[test]
fn a_local_repository_that_points_outside_the_root_after_registration_fails_its_scans() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let project = world.project_path();
    let (first, _) = app.start_scan(&project, json!({}));
    assert_eq!(app.wait_for_job(&project, first, QUICK)["result_code"], 0);
    let outside = tempfile::tempdir().unwrap();
    let outside_repo = make_git_repo(
        &outside.path().join("secret"),
        &[("secret.py", "x = 1\ny = 2\n")],
    );

    // The registered directory's `.git` becomes a file naming a repository outside the root.
    let moved = app.repos_dir().join("demo-moved.git");
    std::fs::rename(world.repo_dir.join(".git"), &moved).unwrap();
    git_file(&world.repo_dir, &outside_repo.join(".git"));
    let (second, _) = app.start_scan(&project, json!({"incr_scan": false}));
    let detail = app.wait_for_job(&project, second, QUICK);
    assert_eq!(detail["result_code"], 114, "{detail}");
    let message = detail["result_msg"].as_str().unwrap();
    assert!(message.contains("not below an allowed root"), "{message}");
    // Nor can a new project read its branches.
    let reply = app.post(
        &format!("{}/projects/", world.repo_path()),
        ADMIN_TOKEN,
        json!({"branch": "main", "global_scheme_id": 1, "scan_path": "/src"}),
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body["msg"]
            .as_str()
            .unwrap()
            .contains("not below an allowed root"),
        "{}",
        reply.body
    );

    // The directory itself replaced by a symlink to the outside repository.
    std::fs::remove_dir_all(&world.repo_dir).unwrap();
    symlink(&outside_repo, &world.repo_dir).unwrap();
    let (third, _) = app.start_scan(&project, json!({"incr_scan": false}));
    let detail = app.wait_for_job(&project, third, QUICK);
    assert_eq!(detail["result_code"], 114, "{detail}");

    // Put back, the repository scans again.
    std::fs::remove_file(&world.repo_dir).unwrap();
    std::fs::create_dir_all(&world.repo_dir).unwrap();
    std::fs::rename(&moved, world.repo_dir.join(".git")).unwrap();
    let (fourth, _) = app.start_scan(&project, json!({"incr_scan": false}));
    let detail = app.wait_for_job(&project, fourth, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
}

#[test]
fn ssh_urls_whose_host_or_user_would_be_an_option_are_refused_at_registration() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    let repos = format!("{}/repos/", world.team_path());
    for url in [
        "ssh://-oProxyCommand=touch@host/x/y",
        "ssh://[-oProxyCommand=touch]/x/y",
        "ssh://[-oProxyCommand=touch]:22/x/y",
        "ssh://git@[-oProxyCommand=touch]/x/y",
        "ssh://git@-oProxyCommand=touch/x/y",
        "git@[-oProxyCommand=touch]:x/y",
        "[-oProxyCommand=touch]:x/y",
        "git+ssh://-oProxyCommand=touch@host/x/y",
    ] {
        let reply = app
            .post(&repos, ADMIN_TOKEN, json!({"scm_url": url}))
            .expect(400);
        assert_eq!(reply.invalid_fields(), ["scm_url"], "{url}: {}", reply.body);
    }
}

/// A file named with a newline would read as two paths in `{files}`: it is left out there (and
/// the job log says so), and `{files0}`, NUL-separated, has every name.
#[test]
fn a_name_with_a_newline_is_left_out_of_files_and_kept_in_files0() {
    let app = TestApp::spawn_with_tools(&tools(&[
        ("lines", r#"["cat", "{files}"]"#, ""),
        (
            "nuls",
            r#"["sh", "-c", "tr '\\000' '|' < \"$0\"", "{files0}"]"#,
            "",
        ),
    ]));
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("two\nlines.py"), "x = 1\n").unwrap();
    std::fs::write(world.repo_dir.join("plain.py"), "y = 2\n").unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "names"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "names", "tools": ["lines", "nuls"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, Duration::from_secs(60));
    assert_eq!(detail["result_code"], 0, "{detail}");
    let lines = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(lines.contains("plain.py"), "{lines}");
    assert!(!lines.contains("lines.py"), "{lines}");
    let nuls = task_log(&app, &project, job_id, &detail["tasks"][2]["id"]);
    assert!(
        nuls.contains("two\nlines.py|") && nuls.contains("plain.py|"),
        "{nuls}"
    );
    let job_log = app
        .get(&format!("{project}/jobs/{job_id}/log/"), ADMIN_TOKEN)
        .expect(200);
    assert!(
        job_log
            .body
            .as_str()
            .unwrap()
            .contains("left 1 names with a newline out of {files}"),
        "{}",
        job_log.body
    );
}

/// A name that is not UTF-8 (vim keeps Latin-1 ones) is counted and checked under its escaped
/// name, and a tool is given the name as it is on disk.
#[test]
fn a_name_that_is_not_utf8_is_counted_and_checked() {
    use std::os::unix::ffi::OsStrExt;
    let app = TestApp::spawn_with_tools(&tools(&[("lister", r#"["cat", "{files}"]"#, "")]));
    let world = World::build(&app);
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.py");
    std::fs::write(
        world.repo_dir.join(name),
        "a = 1\n<<<<<<< HEAD\nb = 2\n=======\nb = 3\n>>>>>>> other\n",
    )
    .unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "latin-1"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "names", "lint_enabled": true, "languages": ["python"],
               "tools": ["codepup", "lister"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, Duration::from_secs(60));
    assert_eq!(detail["result_code"], 0, "{detail}");
    let escaped = "caf\u{FFFD}E9.py";
    let found = stored_findings(&app);
    assert!(
        found.iter().any(|finding| finding.1 == escaped),
        "the conflict marker in {escaped}: {found:?}"
    );
    let job_log = app
        .get(&format!("{project}/jobs/{job_id}/log/"), ADMIN_TOKEN)
        .expect(200);
    assert!(
        job_log
            .body
            .as_str()
            .unwrap()
            .contains("not UTF-8: counted and checked"),
        "{}",
        job_log.body
    );
    // The tool is given the name as it is on disk.
    let listed = task_log(&app, &project, job_id, &detail["tasks"][2]["id"]);
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("caf") && line.ends_with(".py")),
        "{listed}"
    );
    // The file's six lines are in the counts.
    let total = detail["total_line_num"].as_i64().unwrap();
    assert!(total >= 6, "{detail}");
}
