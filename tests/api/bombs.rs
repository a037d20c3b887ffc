//! Repositories built to make a scan expensive: a huge file, a path too long to open, more files
//! than a scan takes, a tree larger than its byte budget, a file made of flaws. Each scan ends
//! without reading what it must not, and says in its logs and task messages what it left out.
//! (Memory itself is measured by `tests/bench/bombs.py`, on the release binary.)

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, git, TestApp, World, ADMIN_TOKEN};

const QUICK: Duration = Duration::from_secs(60);

fn job_log(app: &TestApp, project: &str, job_id: i64) -> String {
    let reply = app
        .get(&format!("{project}/jobs/{job_id}/log/"), ADMIN_TOKEN)
        .expect(200);
    reply.body.as_str().unwrap().to_string()
}

fn task_log(app: &TestApp, project: &str, job_id: i64, task: &Value) -> String {
    let reply = app
        .get(
            &format!("{project}/jobs/{job_id}/tasks/{}/log/", task["id"]),
            ADMIN_TOKEN,
        )
        .expect(200);
    reply.body.as_str().unwrap().to_string()
}

/// The built-in checker's findings of a project, `(rule, path, state)`, sorted.
fn issues(app: &TestApp, project: &str) -> Vec<(String, String, i64)> {
    let analysis = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let reply = app
        .get(
            &format!("{analysis}/codelint/issues/?limit=100&state=1,2,3"),
            ADMIN_TOKEN,
        )
        .expect(200);
    let mut found: Vec<(String, String, i64)> = reply.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["checkrule_display_name"].as_str().unwrap().to_string(),
                item["file_path"].as_str().unwrap().to_string(),
                item["state"].as_i64().unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Stages a file of `size` bytes repeating `fill` at `path` in `repo`, streamed into git's
/// object store: it is never written to the work tree or held in memory.
fn stage_blob(repo: &Path, path: &str, size: usize, fill: &[u8]) {
    let mut child = Command::new("git")
        .current_dir(repo)
        .args(["hash-object", "-w", "--stdin"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        let chunk: Vec<u8> = fill.iter().copied().cycle().take(1 << 20).collect();
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            stdin.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let blob = String::from_utf8(output.stdout).unwrap().trim().to_string();
    git(
        repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},{path}"),
        ],
    );
}

#[test]
fn a_huge_file_of_newlines_is_never_read_and_a_large_one_is_counted_as_a_stream() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    // 200 MiB of newlines (a few hundred KiB once git compresses it), and a 6 MB Python file.
    stage_blob(&world.repo_dir, "big.txt", 200 << 20, b"\n");
    let mut mid = String::from("# c\n");
    mid.push_str(&"x = 1\n".repeat(1_000_000));
    mid.push('\n');
    std::fs::write(world.repo_dir.join("mid.py"), mid).unwrap();
    git(&world.repo_dir, &["add", "mid.py"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "bombs"]);
    let project = world.project_path();
    world.set_rules(&app, &project, "codepup", &["file-too-large"], true);

    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert_eq!(detail["result_msg"], "success");
    // src/main.py by tokei, mid.py line by line; big.txt not at all.
    assert_eq!(
        (
            detail["code_line_num"].as_i64(),
            detail["comment_line_num"].as_i64(),
            detail["blank_line_num"].as_i64()
        ),
        (Some(1_000_001), Some(1), Some(1)),
        "{detail}"
    );
    let log = job_log(&app, &project, job_id);
    assert!(
        log.contains("codecount: skipped 1 file over 64 MiB (not read, not counted): big.txt"),
        "{log}"
    );
    assert!(
        log.contains("codecount: counted 1 file over 4 MiB line by line") && log.contains("mid.py"),
        "{log}"
    );
    assert!(
        log.contains(
            "codepup: did not read 2 files over 4 MiB (file-too-large from the size alone): \
             big.txt, mid.py"
        ),
        "{log}"
    );
    let (count, check) = (&detail["tasks"][0], &detail["tasks"][1]);
    assert_eq!(
        count["result_msg"],
        "success; counted 1 file over 4 MiB line by line (blank, line comments, code); \
         skipped 1 file over 64 MiB (not read, not counted)"
    );
    assert!(
        check["result_msg"]
            .as_str()
            .unwrap()
            .starts_with("success; did not read 2 files over 4 MiB"),
        "{check}"
    );
    assert!(task_log(&app, &project, job_id, count).contains("big.txt"));
    // The checker still says what it would have said of them.
    assert_eq!(
        issues(&app, &project),
        [
            ("file-too-large".to_string(), "big.txt".to_string(), 1),
            ("file-too-large".to_string(), "mid.py".to_string(), 1)
        ]
    );
    // A repeat scan reuses the stream count and still leaves big.txt alone.
    let (again, _) = app.start_scan(&project, json!({"incr_scan": false}));
    let repeat = app.wait_for_job(&project, again, QUICK);
    assert_eq!(repeat["code_line_num"], 1_000_001, "{repeat}");
    assert!(job_log(&app, &project, again).contains("skipped 1 file over 64 MiB"));
}

#[test]
fn a_path_too_long_to_open_is_left_out_and_a_deep_one_is_checked_out() {
    let app = TestApp::spawn_with_tools(
        "[[tool]]\nname = \"lister\"\nmodule = \"codelint\"\ncommand = [\"cat\", \"{files}\"]\n",
    );
    let world = World::build(&app);
    // 4,097 bytes: no system call takes it. 3,985 bytes in 1,990 directories: fine.
    let too_long = format!("{}deep.py", "a/".repeat(2045));
    let deep = format!("{}ok.py", "b/".repeat(1990));
    for path in [&too_long, &deep] {
        stage_blob(&world.repo_dir, path, 9, b"print(1)\n");
    }
    git(&world.repo_dir, &["commit", "-q", "-m", "deep"]);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "deep", "tools": ["lister"]}));

    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = job_log(&app, &project, job_id);
    assert!(
        log.contains("left out 1 file whose path is 4000 bytes or longer: a/a/a/")
            && log.contains("(4097 bytes)"),
        "{log}"
    );
    // Counted: src/main.py and ok.py; the tool was given those two and nothing else.
    assert_eq!(detail["code_line_num"], 2, "{detail}");
    let listed = task_log(&app, &project, job_id, &detail["tasks"][1]);
    assert!(
        listed.contains("ok.py") && listed.contains("src/main.py") && !listed.contains("deep.py"),
        "{listed}"
    );
    assert!(listed.contains("2 files to scan"), "{listed}");
    // The deep checkout is removed with the job.
    assert!(eventually(QUICK, || std::fs::read_dir(
        app.data_dir().join("workspaces")
    )
    .unwrap()
    .next()
    .is_none()));
}

#[test]
fn a_revision_with_more_files_than_a_scan_takes_fails_and_a_smaller_scan_path_passes() {
    let app = TestApp::spawn_with(|config| config.limits.max_scan_files = 50);
    let world = World::build(&app);
    for i in 0..60 {
        let dir = if i < 10 { "sub" } else { "many" };
        let file = world.repo_dir.join(dir).join(format!("f{i}.py"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "x = 1\n").unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "many"]);
    let project = world.project_path();

    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 300, "{detail}");
    let message = detail["result_msg"].as_str().unwrap();
    assert!(
        message.contains("more than 50 files below /") && message.contains("--max-scan-files"),
        "{message}"
    );

    let sub = app
        .post(
            &format!("{}/projects/", world.repo_path()),
            ADMIN_TOKEN,
            json!({"branch": "main", "scan_scheme_id": world.scheme_id, "scan_path": "/sub"}),
        )
        .expect(201);
    let sub = format!("{}/projects/{}", world.repo_path(), sub.data()["id"]);
    let (job_id, _) = app.start_scan(&sub, json!({}));
    let detail = app.wait_for_job(&sub, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert_eq!(detail["code_line_num"], 10);
}

#[test]
fn files_past_the_byte_budget_are_left_out_largest_first_and_keep_their_findings_open() {
    let mut app = TestApp::spawn();
    let world = World::build(&app);
    // big.txt (700 bytes, one finding) is the largest; small.txt (400 bytes) is clean.
    let big = format!("a \n{}", "b\n".repeat(348));
    assert_eq!(big.len(), 699);
    std::fs::write(world.repo_dir.join("big.txt"), format!("{big}\n")).unwrap();
    std::fs::write(world.repo_dir.join("small.txt"), "c\n".repeat(200)).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "sizes"]);
    let project = world.project_path();
    world.set_rules(&app, &project, "codepup", &["trailing-whitespace"], true);
    let (first, _) = app.start_scan(&project, json!({}));
    assert_eq!(app.wait_for_job(&project, first, QUICK)["result_code"], 0);
    let open = vec![("trailing-whitespace".to_string(), "big.txt".to_string(), 1)];
    assert_eq!(issues(&app, &project), open);

    app.config.limits.max_scan_bytes = 500;
    app.restart();
    let (second, _) = app.start_scan(&project, json!({"incr_scan": false}));
    let detail = app.wait_for_job(&project, second, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = job_log(&app, &project, second);
    assert!(
        log.contains(
            "left out 1 file to keep the scan within 500 bytes of files (--max-scan-bytes), \
             largest first: big.txt (700 bytes)"
        ),
        "{log}"
    );
    // Counted: src/main.py (code) and small.txt (plain text: comments), not big.txt.
    assert_eq!(detail["code_line_num"], 1, "{detail}");
    assert_eq!(detail["comment_line_num"], 200, "{detail}");
    // Not looked at, so not fixed.
    assert_eq!(issues(&app, &project), open);
}

#[test]
fn a_file_made_of_flaws_keeps_a_thousand_findings() {
    let app = TestApp::spawn();
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("flaws.txt"), " \n".repeat(5000)).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "flaws"]);
    let project = world.project_path();
    world.set_rules(&app, &project, "codepup", &["trailing-whitespace"], true);
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert!(
        job_log(&app, &project, job_id)
            .contains("codepup: kept the first 1000 findings of 1 file with more: flaws.txt"),
        "{detail}"
    );
    let analysis = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let reply = app
        .get(&format!("{analysis}/codelint/issues/?limit=1"), ADMIN_TOKEN)
        .expect(200);
    assert_eq!(reply.data()["count"], 1000);
}

#[test]
fn blame_skips_files_over_the_check_size_and_names_the_authors_of_the_rest() {
    let results: Vec<Value> = ["big.txt", "small.py"]
        .iter()
        .map(|uri| {
            json!({"ruleId": "FAKE1", "level": "error", "message": {"text": "planted"},
                   "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                  "region": {"startLine": 2}}}]})
        })
        .collect();
    let sarif = json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "fake", "rules": [{"id": "FAKE1"}]}},
                  "results": results}]
    });
    let app = TestApp::spawn_with(|config| {
        let path = config.data_dir.parent().unwrap().join("tools.toml");
        std::fs::write(
            &path,
            "[[tool]]\nname = \"fake-sarif\"\nmodule = \"codelint\"\n\
             command = [\"cat\", \"report.sarif\"]\nformat = \"sarif\"\n",
        )
        .unwrap();
        config.tools_file = Some(path);
        config.limits.max_check_file_size = 1024;
    });
    let world = World::build(&app);
    std::fs::write(world.repo_dir.join("big.txt"), "line\n".repeat(500)).unwrap();
    std::fs::write(world.repo_dir.join("small.py"), "x = 1\ny = 2\n").unwrap();
    std::fs::write(world.repo_dir.join("report.sarif"), sarif.to_string()).unwrap();
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "planted"]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "blamed", "tools": ["fake-sarif"], "blame_enabled": true}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, QUICK);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = job_log(&app, &project, job_id);
    assert!(
        log.contains("blame: skipped 1 file over 1 KiB: big.txt"),
        "{log}"
    );
    let analysis = project.replacen("/server/main/api/", "/server/analysis/api/", 1);
    let reply = app
        .get(
            &format!("{analysis}/codelint/issues/?limit=10"),
            ADMIN_TOKEN,
        )
        .expect(200);
    let mut authors: Vec<(String, Value)> = reply.data()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["file_path"].as_str().unwrap().to_string(),
                item["author"].clone(),
            )
        })
        .collect();
    authors.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        authors,
        [
            ("big.txt".to_string(), Value::Null),
            ("small.py".to_string(), json!("Test Author"))
        ]
    );
}
