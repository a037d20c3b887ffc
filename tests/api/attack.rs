//! Attacks on tool confinement. A scanned repository is hostile: its linter configuration and the
//! scripts a `tools.toml` command runs are the attacker's code. Each test makes one attempt and
//! asserts the SAFE outcome, so a test that fails is an attack that got through.

use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{
    eventually, git, has_tool, make_git_repo, process_running, task_log, tools, TestApp, World,
    ADMIN_TOKEN,
};

const SLOW: Duration = Duration::from_secs(180);

/// A number unique to this test process, for the command lines of processes a tool leaves.
fn marker(base: u32) -> String {
    format!("{base}.{:05}", std::process::id() % 100_000)
}

/// Commits `files` (created with their parent directories) into `repo`.
fn commit(repo: &Path, files: &[(&str, &[u8])]) {
    for (path, bytes) in files {
        let file = repo.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "hostile"]);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Kills (SIGKILL, by pid) every process whose command line holds `needle`: cleanup of what an
/// attack left behind, before the test fails.
fn kill_processes_with(needle: &str) -> Vec<i32> {
    let mut killed = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .contains(needle)
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            killed.push(pid);
        }
    }
    killed
}

/// One column of every stored finding.
fn stored(app: &TestApp, sql: &str) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// A second repository in the world's team, with a project whose scheme is `scheme`; returns
/// the project's path.
fn other_project(app: &TestApp, world: &World, repo_dir: &Path, scheme: Value) -> String {
    let repo = app
        .post(
            &format!("{}/repos/", world.team_path()),
            ADMIN_TOKEN,
            json!({"scm_url": repo_dir.to_str().unwrap()}),
        )
        .expect(201);
    let repo_path = format!("{}/repos/{}", world.team_path(), repo.data()["id"]);
    let created = app
        .post(&format!("{repo_path}/initscheme/"), ADMIN_TOKEN, scheme)
        .expect(201);
    let scheme_id = created.data()["scan_scheme"].as_i64().unwrap();
    let project = app
        .post(
            &format!("{repo_path}/projects/"),
            ADMIN_TOKEN,
            json!({"branch": "main", "scan_scheme_id": scheme_id}),
        )
        .expect(201);
    format!("{repo_path}/projects/{}", project.data()["id"])
}

fn job_log(app: &TestApp, project: &str, job_id: i64) -> String {
    let reply = app
        .get(&format!("{project}/jobs/{job_id}/log/"), ADMIN_TOKEN)
        .expect(200);
    reply.body.as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// Files: what a tool may read.
// ---------------------------------------------------------------------------------------------

/// `paths::installation_of` adds the prefix of the interpreter a program's `#!` line names (and
/// the base of a `pyvenv.cfg` beside it) to what the tool may read. When the program is the
/// repository's own script, the repository chooses that path: `#!/tmp/../bin/sh` makes the
/// "prefix" `/tmp/..`, which is `/`, and no hidden path starts with `/tmp/..`, so nothing is cut
/// out of it. The tool then reads, as the tool user, everything others may read: here another
/// job's checkout (another repository's private source) in the data directory.
#[test]
fn a_repository_script_cannot_widen_what_it_may_read_with_its_shebang_or_pyvenv_cfg() {
    let holder = marker(701);
    let app = TestApp::spawn_with_tools(&tools(&[
        ("holder", &format!(r#"["sleep", "{holder}"]"#), ""),
        ("plain", r#"["sh", "./check.sh"]"#, ""),
        ("shebang", r#"["./check.sh"]"#, ""),
        ("venv", r#"["venv/bin/check"]"#, ""),
    ]));
    let world = World::build(&app);
    // The victim: another repository, whose job keeps its checkout while its tool runs.
    let secret = format!("VICTIM-SOURCE-{}", std::process::id());
    let victim_repo = make_git_repo(
        &app.repos_dir().join("victim"),
        &[("secret.txt", &format!("{secret}\n"))],
    );
    let victim = other_project(
        &app,
        &world,
        &victim_repo,
        json!({"name": "victim", "tools": ["holder"]}),
    );
    // The attacker: its scripts look for the other jobs' checkouts beside their own
    // (the tool runs in `workspaces/job-N`).
    let reader =
        "for n in 1 2 3 4 5 6 7 8 9; do cat ../job-$n/secret.txt 2>/dev/null; done; echo looked\n";
    commit(
        &world.repo_dir,
        &[
            ("check.sh", format!("#!/tmp/../bin/sh\n{reader}").as_bytes()),
            ("venv/bin/check", format!("#!/bin/sh\n{reader}").as_bytes()),
            ("venv/pyvenv.cfg", b"home = /tmp/../bin\n"),
        ],
    );
    make_executable(&world.repo_dir.join("check.sh"));
    make_executable(&world.repo_dir.join("venv/bin/check"));
    commit(&world.repo_dir, &[]);
    let attacker = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "attacker", "tools": ["plain", "shebang", "venv"]}),
    );
    let (victim_job, _) = app.start_scan(&victim, json!({}));
    assert!(
        eventually(SLOW, || process_running(&format!("sleep {holder}"))),
        "the victim's tool never started"
    );
    let (job_id, _) = app.start_scan(&attacker, json!({}));
    let detail = app.wait_for_job(&attacker, job_id, SLOW);
    app.post(
        &format!("{victim}/jobs/{victim_job}/cancel/"),
        ADMIN_TOKEN,
        json!({}),
    )
    .expect(200);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let logs: Vec<String> = (1..=3)
        .map(|task| task_log(&app, &attacker, job_id, &detail["tasks"][task]["id"]))
        .collect();
    // The same script run by `sh` is confined: the victim's checkout is out of reach.
    assert!(logs[0].contains("looked"), "{}", logs[0]);
    assert!(!logs[0].contains(&secret), "plain: {}", logs[0]);
    let mut leaked = Vec::new();
    for (how, log) in [("#! line", &logs[1]), ("pyvenv.cfg", &logs[2])] {
        assert!(log.contains("looked"), "{log}");
        if log.contains(&secret) {
            leaked.push(format!("through its {how}:\n{log}"));
        }
    }
    assert!(
        leaked.is_empty(),
        "the repository's script read another job's checkout {}",
        leaked.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Processes: living longer than the job.
// ---------------------------------------------------------------------------------------------

/// The tool is PID 1 of its namespace, but what ends it is a parent-death signal and the
/// server's kill of the supervisor's process group. A tool may clear its own parent-death
/// signal (`prctl(PR_SET_PDEATHSIG, 0)`) and leave the group (`setsid`): killed on its timeout,
/// its supervisor dies and it lives on, with everything it started, after its job closed.
#[test]
fn a_tool_that_clears_its_parent_death_signal_does_not_outlive_its_job() {
    let sleeper = marker(702);
    let escape = format!(
        "import ctypes, os; ctypes.CDLL(None).prctl(1, 0); os.setsid(); os.execv('/bin/sleep', ['sleep', '{sleeper}'])"
    );
    let app = TestApp::spawn_with_tools(&tools(&[(
        "survivor",
        &format!("[\"python3\", \"-c\", {escape:?}]"),
        "timeout = 2",
    )]));
    let world = World::build(&app);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "survivor", "tools": ["survivor"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 202, "{detail}");
    let gone = eventually(Duration::from_secs(5), || {
        !process_running(&format!("sleep {sleeper}"))
    });
    let left = if gone {
        Vec::new()
    } else {
        kill_processes_with(&format!("sleep {sleeper}"))
    };
    assert!(
        gone,
        "the tool outlived its job (killed by the test now: pids {left:?})"
    );
}

// ---------------------------------------------------------------------------------------------
// Resources.
// ---------------------------------------------------------------------------------------------

/// `memory_mb` is RLIMIT_AS, which counts one process. A tool that forks gets it once per
/// process: six children of a 256 MiB tool each hold 200 MiB at once.
#[test]
fn a_tools_memory_limit_holds_for_all_its_processes_together() {
    let hog = r#"import os, time
kids = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(200 * 1024 * 1024)
            block[::4096] = b"x" * (len(block) // 4096)
            os.write(1, b"child holds 200 MiB\n")
            time.sleep(3)
            os._exit(0)
        except MemoryError:
            os.write(1, b"child refused\n")
            os._exit(1)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
print("done")
"#;
    let app = TestApp::spawn_with_tools(&format!(
        "[limits]\nmemory_mb = 256\nprocesses = 64\n{}",
        tools(&[("hog", r#"["python3", "hog.py"]"#, "")])
    ));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("hog.py", hog.as_bytes())]);
    let project = world.project_with_scheme(&app, "main", json!({"name": "hog", "tools": ["hog"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(log.contains("done"), "{log}");
    let held = log.matches("child holds 200 MiB").count();
    assert!(
        held <= 1,
        "a tool limited to 256 MiB held {held} x 200 MiB at once:\n{log}"
    );
}

/// A tool writes without end to its stdout, which is its task log: the log is kept after the
/// job, so each task may leave up to `file_size_mb` (1 GiB by default) on the server's disk.
#[test]
fn a_tools_output_in_its_task_log_is_bounded() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "chatty",
        r#"["head", "-c", "67108864", "/dev/zero"]"#,
        "",
    )]));
    let world = World::build(&app);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "chatty", "tools": ["chatty"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let task_id = detail["tasks"][1]["id"].as_i64().unwrap();
    let log = app
        .data_dir()
        .join(format!("logs/job-{job_id}/task-{task_id}.log"));
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(
        size <= 16 << 20,
        "64 MiB of tool output became a task log of {} MiB, kept for good",
        size >> 20
    );
}

/// The task log is the tool's stderr, opened by the server (O_APPEND does not stop
/// `ftruncate`): a tool erases what the server wrote there before it, here the header and the
/// command line the server logged.
#[test]
fn a_tool_cannot_erase_what_the_server_wrote_in_its_task_log() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "eraser",
        r#"["python3", "-c", "import os; os.ftruncate(2, 0); os.write(2, b'all is well\\n')"]"#,
        "",
    )]));
    let world = World::build(&app);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "eraser", "tools": ["eraser"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(log.contains("all is well"), "{log}");
    assert!(
        log.contains("files to scan") && log.contains("$ python3"),
        "the tool erased the server's lines from its task log:\n{log}"
    );
}
