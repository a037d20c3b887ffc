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

/// Whether every process whose command line holds `needle` ended within 5 s; those left are
/// killed now (their pids come back for the failure message).
fn gone_or_killed(needle: &str) -> (bool, Vec<i32>) {
    let gone = eventually(Duration::from_secs(5), || !process_running(needle));
    let left = if gone {
        Vec::new()
    } else {
        kill_processes_with(needle)
    };
    (gone, left)
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

/// Commits `file` into a new world's repository, scans it with a scheme running `tool` alone
/// and returns the job's detail and the tool task's log.
fn scan_with_file(app: &TestApp, tool: &str, (path, bytes): (&str, &[u8])) -> (Value, String) {
    let world = World::build(app);
    commit(&world.repo_dir, &[(path, bytes)]);
    let project = world.project_with_scheme(app, "main", json!({"name": tool, "tools": [tool]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let log = task_log(app, &project, job_id, &detail["tasks"][1]["id"]);
    (detail, log)
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
    let (gone, left) = gone_or_killed(&format!("sleep {sleeper}"));
    assert!(
        gone,
        "the tool outlived its job (killed by the test now: pids {left:?})"
    );
}

// ---------------------------------------------------------------------------------------------
// Resources.
// ---------------------------------------------------------------------------------------------

/// Whether this server's tool runs get cgroups (root, a writable cgroupfs); in CI they must.
fn cgroups_in_force(app: &TestApp) -> bool {
    let summary = app
        .get("/server/main/api/v3/jobs/summary/", ADMIN_TOKEN)
        .expect(200);
    let description = summary.data()["tools"]["description"]
        .as_str()
        .unwrap()
        .to_string();
    let in_force = description.contains("memory limited per run");
    assert!(
        in_force || std::env::var_os("CI").is_none(),
        "CI runs as root with cgroups: {description}"
    );
    if !in_force {
        eprintln!("note: no cgroups here ({description}); skipped");
    }
    in_force
}

/// `memory_mb` was RLIMIT_AS alone, which counts one process. A tool that forks got it once per
/// process: six children of a 256 MiB tool each held 200 MiB at once. The run's cgroup holds
/// them together, and the run is stopped whole when they reach it.
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
    if !cgroups_in_force(&app) {
        return;
    }
    let (detail, log) = scan_with_file(&app, "hog", ("hog.py", hog.as_bytes()));
    let held = log.matches("child holds 200 MiB").count();
    assert!(
        held <= 1,
        "a tool limited to 256 MiB held {held} x 200 MiB at once:\n{log}"
    );
    assert_eq!(detail["result_code"], 201, "{detail}");
    let words = "hog reached its memory limit of 256 MiB (all its processes together";
    assert!(
        detail["result_msg"].as_str().unwrap().contains(words),
        "{detail}"
    );
    assert!(log.contains(words), "{log}");
}

/// A tool whose worker dies at the memory limit may wait for it for ever (a pool that waits on
/// a pipe): the run is stopped whole at the limit, its task fails saying so, and nothing of
/// it stays behind.
#[test]
fn a_tool_at_its_memory_limit_is_stopped_whole_and_its_task_says_why() {
    let sleeper = marker(703);
    let waiter = format!(
        r#"import os, subprocess, time
subprocess.Popen(["sleep", "{sleeper}"], start_new_session=True)
reader, writer = os.pipe()
for _ in range(2):
    if os.fork() == 0:
        block = bytearray(150 * 1024 * 1024)
        block[::4096] = b"x" * (len(block) // 4096)
        time.sleep(600)
        os._exit(0)
os.read(reader, 1)
print("the pool's answer came")
"#
    );
    let app = TestApp::spawn_with_tools(&tools(&[(
        "pool",
        r#"["python3", "pool.py"]"#,
        "[tool.limits]\nmemory_mb = 256",
    )]));
    if !cgroups_in_force(&app) {
        return;
    }
    let (detail, log) = scan_with_file(&app, "pool", ("pool.py", waiter.as_bytes()));
    assert_eq!(detail["result_code"], 201, "{detail}");
    let message = detail["result_msg"].as_str().unwrap();
    assert!(
        message.contains("pool reached its memory limit of 256 MiB"),
        "{detail}"
    );
    assert!(log.contains("reached its memory limit"), "{log}");
    assert!(!log.contains("the pool's answer came"), "{log}");
    let (gone, left) = gone_or_killed(&format!("sleep {sleeper}"));
    assert!(gone, "a process outlived its run (pids {left:?})");
}

/// Each run's cgroup is removed after it, whether it ended by itself or at its limit, and a
/// server killed with SIGKILL (which removes nothing) has its groups removed by the next server
/// that starts.
#[test]
fn no_tool_runs_cgroup_is_left_behind_after_runs_or_a_killed_server() {
    // Each child holds its 150 MiB until it is killed, so the two are held together.
    let hog = "import os, time\nfor _ in range(2):\n    if os.fork() == 0:\n        b = bytearray(150 << 20)\n        b[::4096] = b'x' * (len(b) // 4096)\n        time.sleep(600)\n        os._exit(0)\nos.wait(); os.wait()\n";
    let finished = RealServer::start(
        &tools(&[
            ("fine", r#"["true"]"#, ""),
            (
                "hog",
                r#"["python3", "hog.py"]"#,
                "[tool.limits]\nmemory_mb = 256",
            ),
        ]),
        &[("hog.py", hog.as_bytes())],
    );
    let bases = finished.cgroup_bases();
    if bases.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with cgroups"
        );
        eprintln!("note: no cgroups here; skipped");
        return;
    }
    let detail = finished.scan(json!({"name": "s", "tools": ["fine", "hog"]}));
    assert_eq!(detail["result_code"], 201, "{detail}");
    assert!(
        detail["result_msg"]
            .as_str()
            .unwrap()
            .contains("memory limit"),
        "{detail}"
    );
    assert_eq!(finished.cgroup_runs(), Vec::<PathBuf>::new());
    drop(finished);

    let sleeper = marker(704);
    let mut killed = RealServer::start(
        &tools(&[("nap", &format!(r#"["sleep", "{sleeper}"]"#), "")]),
        &[("a.txt", b"a\n")],
    );
    killed.start_scan(json!({"name": "s", "tools": ["nap"]}));
    assert!(
        eventually(SLOW, || process_running(&format!("sleep {sleeper}"))),
        "the tool never started"
    );
    let runs = killed.cgroup_runs();
    assert!(!runs.is_empty(), "a running tool has a cgroup of its own");
    let bases = killed.cgroup_bases();
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !process_running(&format!(
            "sleep {sleeper}"
        ))),
        "the tool outlived its server"
    );
    assert!(
        runs.iter().all(|run| run.exists()),
        "SIGKILL removes nothing"
    );
    let mut next = RealServer::start("", &[("a.txt", b"a\n")]);
    let left: Vec<&PathBuf> = bases.iter().filter(|base| base.exists()).collect();
    assert!(
        left.is_empty(),
        "the killed server's cgroups stayed: {left:?}"
    );
    // A server that stops removes its own. (Once it answers, it handles SIGTERM.)
    next.call("GET", "v3/jobs/summary/", Value::Null);
    let next_bases = next.cgroup_bases();
    assert!(!next_bases.is_empty());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(next.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = next.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let left: Vec<&PathBuf> = next_bases.iter().filter(|base| base.exists()).collect();
    assert!(
        left.is_empty(),
        "a stopped server's cgroups stayed: {left:?}"
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
        size <= (16 << 20) + 4096,
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
        r#"["python3", "-c", "import os\ntry:\n    os.ftruncate(2, 0)\nexcept OSError:\n    pass\nos.write(2, b'all is well\\n')"]"#,
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

// ---------------------------------------------------------------------------------------------
// Reports the server parses.
// ---------------------------------------------------------------------------------------------

/// SARIF message placeholders are filled one argument after the other, each in the text the
/// previous ones made: argument `i` may hold `{i+1}` twice, so the text doubles with every
/// argument. 24 arguments (a 300-byte log) make an 8 MiB message (and 32 MiB on the way); 40
/// would make a terabyte and kill the server.
#[test]
fn sarif_message_arguments_cannot_expand_a_message_without_bound() {
    let generate = r#"import json, sys
n = 24
arguments = ["{%d}{%d}" % (i + 1, i + 1) for i in range(n - 1)] + ["x"]
json.dump({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
    "results": [{"ruleId": "r", "message": {"text": "{0}", "arguments": arguments}}]}]}, sys.stdout)
"#;
    let app = TestApp::spawn_with_tools(&tools(&[(
        "expander",
        r#"["python3", "gen.py"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("gen.py", generate.as_bytes())]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "expander", "lint_enabled": true, "languages": ["python"],
               "tools": ["expander"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let lengths = stored(&app, "SELECT rule, path, length(message) FROM issues");
    let longest = lengths.iter().map(|(_, _, len)| *len).max().unwrap_or(0);
    assert!(
        longest <= 64 * 1024,
        "a 300-byte SARIF log made a {longest}-byte message: {detail}"
    );
}

/// Rules named by `ruleId` are looked up by a scan of the run's rules for every result: with
/// R rules and N results that is R x N comparisons. 30,000 of each (2 MB of SARIF) keep a scan
/// worker busy for seconds; a 256 MiB log of millions of each, for days, and nothing stops it
/// (the job's time limit closes the job, not the parse).
#[test]
fn sarif_results_are_read_in_time_linear_in_the_log() {
    let generate = r#"import json, sys
n = 30000
json.dump({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x",
    "rules": [{"id": "rule-%d" % i} for i in range(n)]}},
    "results": [{"ruleId": "nowhere"} for _ in range(n)]}]}, sys.stdout)
"#;
    let app = TestApp::spawn_with_tools(&tools(&[(
        "quadratic",
        r#"["python3", "gen.py"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("gen.py", generate.as_bytes())]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "quadratic", "lint_enabled": true, "languages": ["python"],
               "tools": ["quadratic"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = job_log(&app, &project, job_id);
    let took: u64 = log
        .lines()
        .find_map(|line| line.strip_prefix("task quadratic took "))
        .and_then(|rest| rest.trim_end_matches(" ms").parse().ok())
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        took < 10_000,
        "reading 30,000 results against 30,000 rules took {took} ms"
    );
}

/// A report path that is no file of the checkout, longer than any path can be, is stored and
/// served as it is: every listing of the project's findings carries it from then on.
#[test]
fn a_finding_path_longer_than_any_path_is_not_stored() {
    let generate = r#"import json, sys
json.dump({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
    "results": [{"ruleId": "r", "message": {"text": "m"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a" * (4 << 20)},
                                                     "region": {"startLine": 1}}}]}]}]}, sys.stdout)
"#;
    let app = TestApp::spawn_with_tools(&tools(&[(
        "longpath",
        r#"["python3", "gen.py"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("gen.py", generate.as_bytes())]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "longpath", "lint_enabled": true, "languages": ["python"],
               "tools": ["longpath"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    app.wait_for_job(&project, job_id, SLOW);
    let longest = stored(&app, "SELECT rule, message, length(path) FROM issues")
        .into_iter()
        .map(|(_, _, len)| len)
        .max()
        .unwrap_or(0);
    assert!(longest <= 4096, "a {longest}-byte finding path was stored");
}

/// Deeply nested JSON in a report fails its task cleanly (serde_json's depth limit) and the
/// server keeps serving.
#[test]
fn a_deeply_nested_report_fails_its_task_and_nothing_else() {
    let generate = r#"import sys
sys.stdout.write('{"version": "2.1.0", "runs": ' + "[" * 1000000 + "]" * 1000000 + "}")
"#;
    let app = TestApp::spawn_with_tools(&tools(&[(
        "nested",
        r#"["python3", "gen.py"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("gen.py", generate.as_bytes())]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "nested", "lint_enabled": true, "languages": ["python"],
               "tools": ["nested"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 211, "{detail}");
    app.get("/server/main/api/v3/jobs/summary/", ADMIN_TOKEN)
        .expect(200);
}

/// The fingerprint of a finding, as `domain::finding::fingerprints` makes it.
fn fingerprint(tool: &str, rule: &str, path: &str, text: &str, occurrence: u32) -> String {
    let input = format!("{tool}\0{rule}\0{path}\0{text}\0{occurrence}");
    let output = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..32].to_string()
}

/// Report paths that lead out of the checkout (`..`, absolute paths, `file://` URIs, a committed
/// symlink) name the admin token: the server computes fingerprints from the lines of the files
/// findings name, and must read none of these. A fingerprint made from an empty line proves it.
#[test]
fn finding_paths_out_of_the_checkout_never_make_the_server_read_there() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "paths",
        r#"["python3", "gen.py"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    let token = app.data_dir().join("admin.token");
    let token_path = token.to_str().unwrap();
    let uris = [
        "a.py".to_string(),
        "../../admin.token".to_string(),
        token_path.to_string(),
        format!("file://{token_path}"),
        "link.py".to_string(),
        "linkdir/admin.token".to_string(),
    ];
    let generate = format!(
        "import json, sys\nuris = {uris:?}\njson.dump({{'version': '2.1.0', 'runs': [{{'tool': {{'driver': {{'name': 'x'}}}}, 'results': [{{'ruleId': 'r', 'message': {{'text': 'm'}}, 'locations': [{{'physicalLocation': {{'artifactLocation': {{'uri': u}}, 'region': {{'startLine': 1}}}}}}]}} for u in uris]}}]}}, sys.stdout)\n"
    );
    std::os::unix::fs::symlink(&token, world.repo_dir.join("link.py")).unwrap();
    std::os::unix::fs::symlink(app.data_dir(), world.repo_dir.join("linkdir")).unwrap();
    commit(
        &world.repo_dir,
        &[("gen.py", generate.as_bytes()), ("a.py", b"import os\n")],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "paths", "lint_enabled": true, "languages": ["python"],
               "tools": ["paths"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let rows = stored(&app, "SELECT path, fingerprint, line FROM issues");
    // Only the finding on a file of the checkout is kept; the others name nothing scanned.
    assert_eq!(
        rows.iter().map(|row| row.0.as_str()).collect::<Vec<_>>(),
        ["a.py"],
        "{rows:?}"
    );
    for (path, stored_fingerprint, _) in &rows {
        let text = if path == "a.py" { "import os" } else { "" };
        // An absolute path and its file:// URI are one path: occurrences 1 and 2 of it.
        let unread: Vec<String> = (1..=2)
            .map(|occurrence| fingerprint("paths", "r", path, text, occurrence))
            .collect();
        assert!(
            unread.contains(stored_fingerprint),
            "the server read {path} for its fingerprint"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The real server's memory: a report small enough to pass every check makes it allocate
// gigabytes. These run the codepup binary itself, to measure its peak memory alone.
// ---------------------------------------------------------------------------------------------

/// A codepup binary serving on a data directory of its own.
struct RealServer {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
    repo: PathBuf,
    data: PathBuf,
}

impl RealServer {
    /// Starts the binary with `tools_toml` and a repository holding `files`.
    fn start(tools_toml: &str, files: &[(&str, &[u8])]) -> RealServer {
        RealServer::start_as(None, tools_toml, files)
    }

    /// The same, run as `uid` (through `setpriv`) when given: an unprivileged server, whose
    /// tools run as its own user.
    fn start_as(uid: Option<u32>, tools_toml: &str, files: &[(&str, &[u8])]) -> RealServer {
        let dir = tempfile::tempdir().unwrap();
        let repos = dir.path().join("repos");
        let repo = make_git_repo(&repos.join("r"), &[("src/main.py", "print('hi')\n")]);
        commit(&repo, files);
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("tools.toml"), tools_toml).unwrap();
        let mut command = match uid {
            None => Command::new(env!("CARGO_BIN_EXE_codepup")),
            Some(uid) => {
                let owner = format!("{uid}:{uid}");
                let status = Command::new("chown")
                    .args(["-R", &owner])
                    .arg(dir.path())
                    .status()
                    .unwrap();
                assert!(status.success());
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg(env!("CARGO_BIN_EXE_codepup"))
                    .env("HOME", dir.path());
                command
            }
        };
        let mut child = command
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "1",
                "--data-dir",
            ])
            .arg(&data)
            .arg("--allow-local-repos")
            .arg(&repos)
            .env("CODEPUP_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let base = listen_address(&mut child);
        RealServer {
            child,
            base,
            _dir: dir,
            repo,
            data,
        }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let request = ureq::request(method, &format!("{}/server/main/api/{path}", self.base))
            .set("Authorization", &format!("Token {ADMIN_TOKEN}"));
        let response = if method == "GET" {
            request.call()
        } else {
            request.send_json(body)
        };
        match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.into_json().unwrap(),
            Err(error) => panic!("{error}"),
        }
    }

    /// Peak resident memory of the server so far, KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }

    /// Scans the repository with `scheme`, waits for the job and returns its detail.
    fn scan(&self, scheme: Value) -> Value {
        let job = self.start_scan(scheme);
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let detail = self.call(
                "GET",
                &format!("orgs/k/teams/t/repos/1/projects/1/jobs/{job}/detail/"),
                Value::Null,
            );
            if detail["data"]["state"] == 2 {
                return detail["data"].clone();
            }
            assert!(Instant::now() < deadline, "{detail}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts a scan of the repository with `scheme` and returns the job's id.
    fn start_scan(&self, scheme: Value) -> i64 {
        self.call("POST", "v3/orgs/", json!({"name": "k", "org_sid": "k"}));
        self.call("POST", "v3/orgs/k/teams/", json!({"name": "t"}));
        self.call(
            "POST",
            "orgs/k/teams/t/repos/",
            json!({"scm_url": self.repo.to_str().unwrap()}),
        );
        let scheme = self.call("POST", "orgs/k/teams/t/repos/1/initscheme/", scheme);
        let scheme_id = scheme["data"]["scan_scheme"].clone();
        self.call(
            "POST",
            "orgs/k/teams/t/repos/1/projects/",
            json!({"branch": "main", "scan_scheme_id": scheme_id}),
        );
        let started = self.call(
            "POST",
            "orgs/k/teams/t/repos/1/projects/1/scans/create/",
            json!({}),
        );
        started["data"]["job"]["id"].as_i64().expect("a job")
    }

    /// The cgroups this server made for its tool runs (its bases, `codepup-<pid>-<n>`, in each
    /// hierarchy), found by walking the cgroup filesystem.
    fn cgroup_bases(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, prefix: &str, depth: u32, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
                if !is_dir {
                    continue;
                }
                if entry.file_name().to_string_lossy().starts_with(prefix) {
                    found.push(entry.path());
                } else if depth > 0 {
                    walk(&entry.path(), prefix, depth - 1, found);
                }
            }
        }
        let mut found = Vec::new();
        let prefix = format!("codepup-{}-", self.child.id());
        walk(Path::new("/sys/fs/cgroup"), &prefix, 8, &mut found);
        found
    }

    /// The run groups below this server's bases.
    fn cgroup_runs(&self) -> Vec<PathBuf> {
        self.cgroup_bases()
            .iter()
            .flat_map(|base| std::fs::read_dir(base).unwrap().flatten())
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .map(|entry| entry.path())
            .collect()
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A tree deeper than the test thread's stack can walk (std's remove_dir_all recurses):
        // `rm` removes any.
        let _ = Command::new("rm").arg("-rf").arg(self._dir.path()).status();
    }
}

/// Reads the server's log until it says where it listens, then keeps draining it.
fn listen_address(server: &mut Child) -> String {
    use std::io::{BufRead, BufReader};
    let stderr = server.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the server said where it listens")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            if let Some(address) = rest.split_whitespace().next() {
                break address.to_string();
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    address
}

/// The fingerprint step reads every file a finding names into a vector of lines, once per
/// distinct path *string*, and keeps them all until the last finding is done. `big.dat/`,
/// `big.dat//`, ... are distinct strings for one file, and a 16 MiB file of empty lines is
/// 16 M `String`s, 384 MiB. A pylint `init-hook` that writes the report itself, six findings
/// in a 1 KB report, takes the server past 2 GiB; sixty would take it past 20.
#[test]
fn one_file_named_many_ways_in_a_report_does_not_multiply_the_servers_memory() {
    if !has_tool("pylint") {
        return;
    }
    let hook = r#"[MAIN]
init-hook=import sys, json, os; out = [a[9:] for a in sys.argv if a.startswith("--output=")][0]; json.dump([{"type": "warning", "path": "big.dat" + "/" * i, "symbol": "s", "message": "m", "message-id": "W1", "line": 1, "column": 0} for i in range(6)], open(out, "w")); os._exit(0)
"#;
    let big = vec![b'\n'; 16 * 1024 * 1024];
    let server = RealServer::start(
        "",
        &[
            (".pylintrc", hook.as_bytes()),
            ("big.dat", &big),
            ("a.py", b"x = 1\n"),
        ],
    );
    let before = server.peak_kib();
    let detail = server.scan(
        json!({"name": "s", "lint_enabled": true, "languages": ["python"],
                                    "tools": ["pylint"], "cloc_scan_enabled": false}),
    );
    let grown = server.peak_kib().saturating_sub(before);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert!(
        grown < 1024 * 1024,
        "a 1 KB report of six findings grew the server's peak memory by {} MiB",
        grown >> 10
    );
}

/// Each SARIF result `{}` (3 bytes) becomes a `serde_json::Value`, a `Finding` with five
/// strings, a fingerprint and rows in the database. The 256 MiB cap on a report bounds bytes,
/// not findings: 600,000 empty results (1.8 MB) grow the server by hundreds of MiB, so a
/// report at the cap (85 million) needs tens of GiB.
#[test]
fn a_report_of_many_tiny_findings_does_not_take_the_servers_memory() {
    let generate = r#"import sys
sys.stdout.write('{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": ['
                 + ",".join(["{}"] * 600000) + "]}]}")
"#;
    let server = RealServer::start(
        &tools(&[("flood", r#"["python3", "gen.py"]"#, "format = \"sarif\"")]),
        &[("gen.py", generate.as_bytes())],
    );
    let before = server.peak_kib();
    let detail = server.scan(
        json!({"name": "s", "lint_enabled": true, "languages": ["python"],
                                    "tools": ["flood"], "cloc_scan_enabled": false}),
    );
    let grown = server.peak_kib().saturating_sub(before);
    assert!(
        grown < 128 * 1024,
        "a 1.8 MB report grew the server's peak memory by {} MiB: {detail}",
        grown >> 10
    );
}

// ---------------------------------------------------------------------------------------------
// The server acting on paths a tool controls.
// ---------------------------------------------------------------------------------------------

/// Before each linter run the server removes `<scratch>/tmp/<linter>-report.json`. The tool
/// user owns `<scratch>/tmp`, and an earlier tool of the job may have made it a symlink: the
/// server (root) then unlinks that name in any directory. shellcheck reads no report file, so
/// its task even succeeds.
#[test]
fn a_link_left_in_the_scratch_space_never_makes_the_server_delete_outside_it() {
    if !has_tool("shellcheck") {
        return;
    }
    let victim = tempfile::tempdir().unwrap();
    let precious = victim.path().join("shellcheck-report.json");
    std::fs::write(&precious, "the admin's file\n").unwrap();
    let link = format!(
        "[\"sh\", \"-c\", \"rm -rf \\\"$TMPDIR\\\" && ln -s {} \\\"$TMPDIR\\\" && echo linked\"]",
        victim.path().display()
    );
    let app = TestApp::spawn_with_tools(&tools(&[("linker", &link, "")]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("run.sh", b"#!/bin/sh\necho $1\n")]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "unlink", "lint_enabled": true, "languages": ["shell"],
               "tools": ["linker", "shellcheck"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let linker = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(linker.contains("linked"), "{linker}");
    assert!(
        precious.exists(),
        "the server deleted {} through the tool's link: {detail}",
        precious.display()
    );
}

// ---------------------------------------------------------------------------------------------
// Linter options and configuration.
// ---------------------------------------------------------------------------------------------

/// pylint pre-processes `--init-hook`, `--rcfile`, `--output` and `--load-plugins` in its whole
/// argument list before argparse sees `--`: a checked-out file named like one of them is an
/// option, whatever `--` says.
#[test]
fn a_file_named_like_a_pylint_option_stays_a_file() {
    if !has_tool("pylint") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    commit(
        &world.repo_dir,
        &[
            ("a.py", b"import os\n"),
            (
                // The hook writes a text its own name does not hold (the server logs the
                // command line, name and all).
                "--init-hook=import sys;sys.stderr.write('HOOK'+'-RAN');#.py",
                b"x = 1\n",
            ),
        ],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "named", "lint_enabled": true, "languages": ["python"],
               "tools": ["pylint"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(
        !log.contains("HOOK-RAN"),
        "a file name became pylint's --init-hook:\n{log}"
    );
}

/// ruff settings in the repository that name paths outside the checkout (`extend` to the admin
/// token, `cache-dir` and `output-file` in the data directory) reach nothing there: ruff runs
/// confined, and the report goes to the file on the command line.
#[test]
fn ruff_settings_that_name_the_data_directory_reach_nothing_there() {
    if !has_tool("ruff") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let data = app.data_dir();
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let extended = format!(
        "[tool.ruff]\nextend = \"{}\"\ncache-dir = \"{}\"\noutput-file = \"{}\"\n",
        data.join("admin.token").display(),
        data.join("ruff-cache").display(),
        data.join("ruff-out").display(),
    );
    // (ruff 0.17 has no `output-file` setting any more: a file that names it does not parse.)
    let redirected = format!(
        "[tool.ruff]\ncache-dir = \"{}\"\n",
        data.join("ruff-cache").display(),
    );
    for (name, pyproject) in [("extended", extended), ("redirected", redirected)] {
        commit(
            &world.repo_dir,
            &[
                ("pyproject.toml", pyproject.as_bytes()),
                ("a.py", b"import os\n"),
            ],
        );
        let project = world.project_with_scheme(
            &app,
            "main",
            json!({"name": name, "lint_enabled": true, "languages": ["python"],
                   "tools": ["ruff"]}),
        );
        let (job_id, _) = app.start_scan(&project, json!({"incr_scan": false}));
        let detail = app.wait_for_job(&project, job_id, SLOW);
        let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
        assert!(!log.contains(token.trim()), "{name}: {log}");
        assert!(!data.join("ruff-cache").exists(), "{name}");
        assert!(!data.join("ruff-out").exists(), "{name}");
        if name == "redirected" {
            assert_eq!(detail["result_code"], 0, "{detail}\n{log}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Network, signals, ptrace.
// ---------------------------------------------------------------------------------------------

/// Python that tries one thing per line and says `ATTACK <what>: succeeded|refused <why>`.
fn attempts(lines: &[(&str, String)]) -> String {
    let mut script = String::from(
        "import ctypes, os, socket, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         def attempt(name, action):\n    try:\n        result = action()\n        \
         sys.stderr.write(f'ATTACK {name}: succeeded {result!r}\\n')\n    \
         except BaseException as error:\n        \
         sys.stderr.write(f'ATTACK {name}: refused {type(error).__name__} {error}\\n')\n\
         def checked(result):\n    if result == -1:\n        \
         raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))\n    return result\n",
    );
    for (name, action) in lines {
        script.push_str(&format!("attempt({name:?}, lambda: {action})\n"));
    }
    script
}

/// TCP to the server's own listener and to another on loopback, UDP, ICMP and an abstract
/// Unix socket; signals, ptrace and `/proc` of the server. All refused.
#[test]
fn a_tool_reaches_no_socket_and_cannot_touch_the_server() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let abstract_name = format!("codepup-attack-{}", std::process::id());
    let abstract_listener = {
        use std::os::linux::net::SocketAddrExt;
        let address =
            std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind_addr(&address).unwrap();
        listener.set_nonblocking(true).unwrap();
        listener
    };
    let server = std::process::id();
    let app = TestApp::spawn_with_tools(&tools(&[("prober", r#"["python3", "probe.py"]"#, "")]));
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let script = attempts(&[
        (
            "tcp-server",
            format!("socket.create_connection(('127.0.0.1', {port}), timeout=3).close()"),
        ),
        (
            "tcp-listener",
            format!(
                "socket.create_connection(('127.0.0.1', {}), timeout=3).close()",
                tcp.local_addr().unwrap().port()
            ),
        ),
        (
            "udp",
            format!(
                "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {}))",
                udp.local_addr().unwrap().port()
            ),
        ),
        (
            "icmp",
            "socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).sendto(b'\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00', ('127.0.0.1', 0))".to_string(),
        ),
        (
            "abstract-unix",
            format!("socket.socket(socket.AF_UNIX).connect('\\0{abstract_name}')"),
        ),
        ("signal-server", format!("os.kill({server}, 0)")),
        ("pidfd-server", format!("os.pidfd_open({server})")),
        (
            "ptrace-server",
            format!("checked(libc.ptrace(16, {server}, None, None))"),
        ),
        ("environ-server", format!("open('/proc/{server}/environ').read()")),
        ("fds-server", format!("os.listdir('/proc/{server}/fd')")),
        ("root-server", format!("os.listdir('/proc/{server}/root')")),
        ("cwd-server", format!("os.listdir('/proc/{server}/cwd')")),
        ("mem-server", format!("open('/proc/{server}/mem', 'rb')")),
    ]);
    let world = World::build(&app);
    commit(&world.repo_dir, &[("probe.py", script.as_bytes())]);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "probe", "tools": ["prober"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    let tried = log
        .lines()
        .filter(|line| line.starts_with("ATTACK "))
        .count();
    assert_eq!(tried, 13, "{log}");
    for line in log.lines().filter(|line| line.starts_with("ATTACK ")) {
        assert!(line.contains(": refused "), "{line}\n{log}");
    }
    assert!(matches!(tcp.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
    let mut buffer = [0u8; 16];
    assert!(matches!(udp.recv_from(&mut buffer), Err(e) if e.kind() == ErrorKind::WouldBlock));
    assert!(matches!(abstract_listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock));
}

/// A Unix socket with a path the tool user may write: Landlock controls those only from ABI 9
/// (Linux 7.1), and the README says so. Any such socket on the machine (the D-Bus system bus, a
/// container runtime's socket with loose modes, an agent's socket in /tmp) is reachable.
#[test]
fn a_tool_cannot_connect_to_a_pathname_unix_socket() {
    use std::os::unix::fs::PermissionsExt;
    // Where services keep their sockets (the test's own temporary directory holds the server's
    // data, which the tool must reach, so /tmp stays visible in this test).
    let dir = tempfile::Builder::new().tempdir_in("/run").unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let app = TestApp::spawn_with_tools(&tools(&[("prober", r#"["python3", "probe.py"]"#, "")]));
    let script = attempts(&[(
        "unix-path",
        format!(
            "socket.socket(socket.AF_UNIX).connect({:?})",
            path.to_str().unwrap()
        ),
    )]);
    let world = World::build(&app);
    commit(&world.repo_dir, &[("probe.py", script.as_bytes())]);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "probe", "tools": ["prober"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(log.contains("ATTACK unix-path"), "{log}");
    let accepted = listener.accept();
    assert!(
        matches!(accepted, Err(ref e) if e.kind() == ErrorKind::WouldBlock),
        "the tool connected to {}:\n{log}",
        path.display()
    );
}

/// The tools of a job share the scratch directory, their `HOME`: a tool without network plants
/// a `.pth` file in the user site-packages there (`~/.local/lib/pythonX.Y/site-packages`), and
/// the next Python tool of the job, one the admin allowed the network, runs it at start-up. The
/// repository's code borrows the network of a tool it should never have reached.
#[test]
fn a_tool_without_network_cannot_plant_code_in_a_later_tool_that_has_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let planter = format!(
        r#"import os, site, sys
packages = site.getusersitepackages()
os.makedirs(packages, exist_ok=True)
with open(os.path.join(packages, "zz-planted.pth"), "w") as pth:
    pth.write("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3).close(); print('planted code ran with the network')\n")
print("planted in", packages)
"#
    );
    let app = TestApp::spawn_with_tools(&tools(&[
        ("planter", r#"["python3", "plant.py"]"#, ""),
        (
            "online",
            r#"["/usr/bin/python3", "-c", "print('the online tool ran')"]"#,
            "network = true",
        ),
    ]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("plant.py", planter.as_bytes())]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "planted", "tools": ["planter", "online"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let planted = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(planted.contains("planted in"), "{planted}");
    let online = task_log(&app, &project, job_id, &detail["tasks"][2]["id"]);
    assert!(online.contains("the online tool ran"), "{online}");
    let accepted = listener.accept();
    assert!(
        matches!(accepted, Err(ref e) if e.kind() == ErrorKind::WouldBlock),
        "code planted by a tool without network connected out through the next tool:\n{online}"
    );
}

/// `/proc` is the host's, and codepup runs git with the repository URL on its command line: a
/// URL that carries credentials (`https://user:token@host/...`, which the API hides by showing
/// `scm_url` without them) is readable in `/proc/<git>/cmdline` by every tool running at that
/// moment, whichever team's job it belongs to. Here another team member registers such a
/// repository while a hostile repository's tool watches.
#[test]
fn a_tool_never_sees_the_credentials_of_another_repository_being_fetched() {
    // A "git server" that takes the connection and never answers: git waits, its command line
    // in view.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let secret = format!("token-{}", std::process::id());
    let scraper = r#"import os, time
deadline = time.time() + 30
seen = set()
while time.time() < deadline and not seen:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "@127.0.0.1" in cmdline:
            seen.add(cmdline)
    time.sleep(0.02)
for cmdline in seen:
    print("SAW", cmdline)
print("scraped")
"#;
    let app = TestApp::spawn_with_tools(&tools(&[("scraper", r#"["python3", "scrape.py"]"#, "")]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("scrape.py", scraper.as_bytes())]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "scraper", "tools": ["scraper"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    assert!(
        eventually(SLOW, || process_running("python3 scrape.py")),
        "the scraper never started"
    );
    // Another team's repository, registered with credentials in its URL; making its project
    // runs `git ls-remote` on it.
    let base = app.base.clone();
    let team = world.team_path();
    let url = format!("http://builder:{secret}@127.0.0.1:{port}/team/private.git");
    let registering = std::thread::spawn(move || {
        let post = |path: &str, body: Value| {
            let response = ureq::post(&format!("{base}{path}"))
                .set("Authorization", &format!("Token {ADMIN_TOKEN}"))
                .send_json(body);
            match response {
                Ok(r) | Err(ureq::Error::Status(_, r)) => r.into_json::<Value>().unwrap(),
                Err(error) => panic!("{error}"),
            }
        };
        let repo = post(&format!("{team}/repos/"), json!({"scm_url": url}));
        let repo_id = repo["data"]["id"].clone();
        post(
            &format!("{team}/repos/{repo_id}/projects/"),
            json!({"branch": "main", "global_scheme_id": 1}),
        );
    });
    let detail = app.wait_for_job(&project, job_id, SLOW);
    drop(silent);
    let _ = registering.join();
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(log.contains("scraped"), "{log}");
    assert!(
        !log.contains(&secret),
        "a tool read another repository's credentials from git's command line:\n{log}"
    );
}

/// Not a tool at all, but the same attacker: the line counter reads every blob whole into
/// memory (`read_blobs` allocates each blob's size), through a queue of up to 256 blobs. One
/// 48 MiB blob of Python (a few hundred KB in the pack) under 17 names is read 17 times, and
/// git's reader runs ahead of the counter, so they pile up in the queue: the server grows by
/// most of 17 x 48 MiB. 256 names of a larger blob take tens of GiB.
#[test]
fn one_large_blob_under_many_names_does_not_take_the_servers_memory() {
    let server = RealServer::start("", &[("big.py", &b"x = 1\n".repeat(8 << 20))]);
    let blob = git(&server.repo, &["rev-parse", ":big.py"]);
    for copy in 0..16 {
        git(
            &server.repo,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{blob},copy{copy:02}.py"),
            ],
        );
    }
    git(&server.repo, &["commit", "-q", "-m", "copies"]);
    let before = server.peak_kib();
    let detail = server.scan(json!({"name": "s", "tools": []}));
    let grown = server.peak_kib().saturating_sub(before);
    assert_eq!(detail["result_code"], 0, "{detail}");
    assert!(
        grown < 256 * 1024,
        "counting one 48 MiB blob under 17 names grew the server's peak memory by {} MiB",
        grown >> 10
    );
}

/// The `#!` widening above, on a server that does not run as root (its tools run as its own
/// user, and only Landlock keeps them from the data directory): the repository's script reads
/// the admin token, and so owns the server.
#[test]
fn an_unprivileged_servers_tool_cannot_read_the_admin_token_through_its_shebang() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("note: not root, so this test cannot start a server as another user; skipped");
        return;
    }
    // The tool runs in `workspaces/job-1`.
    let script = b"#!/tmp/../bin/sh\necho token: $(cat ../../admin.token)\n";
    let server = RealServer::start_as(
        Some(65534),
        &tools(&[("script", r#"["./check.sh"]"#, "")]),
        &[("check.sh", script)],
    );
    // The repository belongs to the server's user now: git (as root) is told it may work in it.
    let trusted = ["-c", "safe.directory=*"];
    git(
        &server.repo,
        &[&trusted[..], &["update-index", "--chmod=+x", "check.sh"]].concat(),
    );
    git(
        &server.repo,
        &[&trusted[..], &["commit", "-q", "-m", "executable"]].concat(),
    );
    let detail = server.scan(json!({"name": "s", "tools": ["script"]}));
    let log = std::fs::read_to_string(server.data.join(format!(
        "logs/job-{}/task-{}.log",
        detail["id"], detail["tasks"][1]["id"]
    )))
    .unwrap();
    assert!(log.contains("token:"), "{detail}\n{log}");
    assert!(
        !log.contains(ADMIN_TOKEN),
        "the repository's script read the admin token:\n{log}"
    );
}

#[cfg(target_arch = "x86_64")]
const SYS_ADD_KEY_AND_KEYCTL: (i64, i64) = (248, 250);
#[cfg(target_arch = "aarch64")]
const SYS_ADD_KEY_AND_KEYCTL: (i64, i64) = (217, 219);

/// The supervisor changes the user but keeps the server's session keyring, and a process
/// possesses the keys of its session keyring: a tool reads whatever the server (or whoever
/// started it: a login session, a Kerberos `KEYRING:` cache) keeps there. Landlock does not
/// cover keyctl(2).
#[test]
#[allow(unsafe_code)]
fn a_tool_cannot_read_the_servers_session_keyring() {
    extern "C" {
        fn syscall(number: i64, ...) -> i64;
    }
    let (add_key, keyctl) = SYS_ADD_KEY_AND_KEYCTL;
    let payload = format!("keyring-secret-{}", std::process::id());
    // A session keyring of this thread's own, which the server's threads started below
    // inherit, holding a key the way an agent would.
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL), and add_key(2) with NUL-terminated
    // strings and a buffer of the length given.
    let key = unsafe {
        assert!(syscall(keyctl, 1i64, std::ptr::null::<u8>()) > 0);
        syscall(
            add_key,
            c"user".as_ptr(),
            c"codepup-attack".as_ptr(),
            payload.as_ptr(),
            payload.len(),
            -3i64,
        )
    };
    assert!(key > 0, "add_key failed");
    let reader = format!(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         key = libc.syscall({keyctl}, 10, ctypes.c_int(-3), b'user', b'codepup-attack', 0)\n\
         buf = ctypes.create_string_buffer(256)\n\
         n = libc.syscall({keyctl}, 11, key, buf, 256)\n\
         print('KEY', key, n, buf.raw[:max(n, 0)].decode())\n"
    );
    let app = TestApp::spawn_with_tools(&tools(&[("keys", r#"["python3", "keys.py"]"#, "")]));
    let world = World::build(&app);
    commit(&world.repo_dir, &[("keys.py", reader.as_bytes())]);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "keys", "tools": ["keys"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(log.contains("KEY "), "{log}");
    assert!(
        !log.contains(&payload),
        "a tool read a key of the server's session keyring:\n{log}"
    );
}

/// A tool nests directories 30,000 deep in its scratch space. When the job ends, the server
/// removes the scratch directory with `std::fs::remove_dir_all`, which recurses once per level
/// on the scan worker's 2 MiB stack (and holds a descriptor per level): the worker overflows
/// its stack and the whole server aborts; the job is re-queued at the next start and does it
/// again.
#[test]
fn a_deep_tree_in_the_scratch_space_neither_crashes_the_server_nor_stays_behind() {
    let deep = "import os\nos.chdir(os.environ['HOME'])\nfor _ in range(30000):\n    os.mkdir('d')\n    os.chdir('d')\nprint('nested 30000 deep')\n";
    let mut server = RealServer::start(
        &tools(&[("nester", r#"["python3", "deep.py"]"#, "")]),
        &[("deep.py", deep.as_bytes())],
    );
    let detail = server.scan(json!({"name": "s", "tools": ["nester"]}));
    assert_eq!(detail["result_code"], 0, "{detail}");
    let scratch = server.data.join("workspaces/job-1.scratch");
    // `rm -rf` of a tree 30,000 deep takes a second on a quiet machine and over a minute on a
    // loaded one: the wait is generous.
    let deadline = Instant::now() + Duration::from_secs(180);
    let exited = loop {
        let exited = server.child.try_wait().unwrap();
        if exited.is_some() || !scratch.exists() || Instant::now() > deadline {
            break exited;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        exited.is_none(),
        "the server died removing the tool's scratch space: {exited:?}"
    );
    assert!(!scratch.exists(), "the scratch space stayed behind");
}
