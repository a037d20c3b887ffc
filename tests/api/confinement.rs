//! Hostile repositories against confined tools: a repository's linter configuration and a
//! `tools.toml` command run the repository's code, which tries to read the admin token, write
//! into the data directory, connect to a listener on loopback, fork without end and allocate
//! 10 GB. Each attempt must fail, nothing outside the job's scratch space may change, and the
//! job must close with its findings or a clear tool error.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, git, has_tool, process_running, task_log, tools, TestApp, World};

const SLOW: Duration = Duration::from_secs(120);

/// A number unique to this test process, for the command lines of the processes the hostile
/// code leaves behind (several test runs may share a machine).
fn marker(base: u32) -> String {
    format!("{base}.{:05}", std::process::id() % 100_000)
}

/// Python that tries everything a hostile repository would, and says how each try went on
/// stderr (the task log) as `HOSTILE <what>: succeeded|refused <why>`.
fn hostile_python(app: &TestApp, port: u16, sleeper: &str) -> String {
    let data = app.data_dir();
    format!(
        r#"import os, socket, sys

def attempt(name, action):
    try:
        result = action()
        sys.stderr.write(f"HOSTILE {{name}}: succeeded {{result!r}}\n")
    except BaseException as error:
        sys.stderr.write(f"HOSTILE {{name}}: refused {{type(error).__name__}}\n")
    sys.stderr.flush()

def forks():
    made = 0
    while made < 2000:
        try:
            pid = os.fork()
        except OSError as error:
            return f"stopped after {{made}} ({{type(error).__name__}})"
        if pid == 0:
            try:
                os.execv("/bin/sleep", ["sleep", "{sleeper}"])
            finally:
                os._exit(0)
        made += 1
    return f"not stopped after {{made}}"

attempt("read-token", lambda: open("{token}").read())
attempt("list-data", lambda: os.listdir("{data}"))
attempt("write-data", lambda: open("{data}/pwned", "w").write("x"))
attempt("read-db", lambda: len(open("{data}/codepup.db", "rb").read()))
attempt("connect", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close())
attempt("alloc", lambda: len(bytearray(10 * 1024 ** 3)))
attempt("write-checkout", lambda: open("planted.py", "w").write("x = 1\n"))
attempt("write-home", lambda: open(os.path.join(os.environ["HOME"], "note"), "w").write("x"))
attempt("kill-server", lambda: os.kill({server_pid}, 0))
sys.stderr.write("HOSTILE uid: " + str(os.getuid()) + "\n")
sys.stderr.write("HOSTILE fds: " + ",".join(sorted(os.listdir("/proc/self/fd"), key=int)) + "\n")
sys.stderr.write("HOSTILE env: " + ",".join(sorted(os.environ)) + "\n")
sys.stderr.write("HOSTILE forks: " + forks() + "\n")
sys.stderr.flush()

def register(linter):
    pass
"#,
        token = data.join("admin.token").display(),
        data = data.display(),
        server_pid = std::process::id(),
    )
}

/// A listener the hostile code tries to reach; it must never see a connection.
fn listener() -> TcpListener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    listener
}

/// Every try refused but writing its own home; no connection, nothing new in the data
/// directory, no process left behind, and the server still answers.
fn assert_contained(app: &TestApp, log: &str, listener: &TcpListener, sleeper: &str) {
    for refused in [
        "read-token",
        "list-data",
        "write-data",
        "read-db",
        "connect",
        "alloc",
        "write-checkout",
        "kill-server",
    ] {
        assert!(
            log.contains(&format!("HOSTILE {refused}: refused")),
            "{refused} was not refused:\n{log}"
        );
    }
    assert!(log.contains("HOSTILE alloc: refused MemoryError"), "{log}");
    assert!(log.contains("HOSTILE write-home: succeeded"), "{log}");
    assert!(log.contains("HOSTILE forks: stopped after"), "{log}");
    let env_line = log
        .lines()
        .find(|line| line.starts_with("HOSTILE env: "))
        .unwrap();
    assert!(!env_line.contains("CODEPUP"), "{env_line}");
    assert!(
        env_line.contains("HOME") && env_line.contains("PATH"),
        "{env_line}"
    );
    if nix_is_root() {
        assert!(
            log.contains("HOSTILE uid: 65534"),
            "tools run as nobody: {log}"
        );
    }
    match listener.accept() {
        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection: {other:?}"),
    }
    assert!(!app.data_dir().join("pwned").exists());
    assert!(
        eventually(Duration::from_secs(5), || !process_running(&format!(
            "sleep {sleeper}"
        ))),
        "a forked child outlived its tool"
    );
    app.get(
        "/server/main/api/v3/jobs/summary/",
        crate::helpers::ADMIN_TOKEN,
    )
    .expect(200);
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0)
        .unwrap_or(false)
}

/// Commits `files` into the world's repository.
fn commit(world: &World, files: &[(&str, &str)]) {
    for (path, text) in files {
        std::fs::write(world.repo_dir.join(path), text).unwrap();
    }
    git(&world.repo_dir, &["add", "-A"]);
    git(&world.repo_dir, &["commit", "-q", "-m", "hostile"]);
}

/// Scans a repository whose `.pylintrc` is `rc`, with the hostile module as `evil.py`.
fn pylint_runs_the_repositorys_code_confined(rc: &str, base: u32) {
    if !has_tool("pylint") {
        return;
    }
    // Few processes, so the fork attempt ends quickly and leaves room for other tests' tools.
    let app = TestApp::spawn_with_tools("[limits]\nprocesses = 64\n");
    let world = World::build(&app);
    let listener = listener();
    let sleeper = marker(base);
    let evil = hostile_python(&app, listener.local_addr().unwrap().port(), &sleeper);
    commit(
        &world,
        &[
            (".pylintrc", rc),
            ("evil.py", &evil),
            ("a.py", "import os\n"),
        ],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "hostile", "lint_enabled": true, "languages": ["python"],
               "tools": ["pylint"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(
        log.contains("HOSTILE read-token"),
        "the hook never ran:\n{log}"
    );
    assert_contained(&app, &log, &listener, &sleeper);
    // pylint still did its work: the job closed with its findings.
    assert_eq!(detail["result_code"], 0, "{detail}\n{log}");
    let rules = stored_rules(&app);
    assert!(
        rules.contains(&("W0611".to_string(), "a.py".to_string())),
        "{rules:?}"
    );
}

/// (rule, path) of every finding stored.
fn stored_rules(app: &TestApp) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(app.data_dir().join("codepup.db")).unwrap();
    let mut stmt = conn.prepare("SELECT rule, path FROM issues").unwrap();
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_pylintrc_init_hook_runs_confined() {
    pylint_runs_the_repositorys_code_confined(
        "[MAIN]\ninit-hook=import sys; sys.path.insert(0, \".\"); import evil\n",
        651,
    );
}

#[test]
fn a_pylintrc_load_plugins_module_runs_confined() {
    pylint_runs_the_repositorys_code_confined(
        "[MAIN]\ninit-hook=import sys; sys.path.insert(0, \".\")\nload-plugins=evil\n",
        652,
    );
}

#[test]
fn a_tools_toml_command_runs_the_repositorys_code_confined_and_network_is_opt_in() {
    let listener = listener();
    let port = listener.local_addr().unwrap().port();
    let open_listener = self::listener();
    let open_port = open_listener.local_addr().unwrap().port();
    let connect = format!(
        "import socket; socket.create_connection(('127.0.0.1', {open_port}), timeout=3).close(); print('connected')"
    );
    let app = TestApp::spawn_with_tools(&format!(
        "[limits]\nprocesses = 64\n{}",
        tools(&[
            ("hostile", r#"["python3", "evil.py"]"#, ""),
            (
                "online",
                &format!("[\"python3\", \"-c\", {:?}]", connect),
                "network = true",
            ),
        ])
    ));
    let world = World::build(&app);
    let sleeper = marker(653);
    commit(
        &world,
        &[("evil.py", &hostile_python(&app, port, &sleeper))],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "hostile", "tools": ["hostile", "online"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert_contained(&app, &log, &listener, &sleeper);
    // A tool whose definition says `network = true` reaches the listener.
    let online = task_log(&app, &project, job_id, &detail["tasks"][2]["id"]);
    assert!(online.contains("connected"), "{online}");
    open_listener.set_nonblocking(false).unwrap();
    let _ = open_listener.accept().unwrap();
}

#[test]
fn a_tool_over_its_cpu_or_file_size_limit_fails_its_task_with_a_clear_message() {
    let app = TestApp::spawn_with_tools(&tools(&[
        (
            "spinner",
            r#"["python3", "-c", "while True: pass"]"#,
            "[tool.limits]\ncpu_seconds = 1",
        ),
        (
            "filler",
            r#"["sh", "-c", "head -c 3000000 /dev/zero > $HOME/big"]"#,
            "[tool.limits]\nfile_size_mb = 1",
        ),
    ]));
    let world = World::build(&app);
    for (tool, code, words) in [
        ("spinner", 202, "CPU-time limit of 1 s"),
        ("filler", 201, "file-size limit of 1 MiB"),
    ] {
        let project =
            world.project_with_scheme(&app, "main", json!({"name": tool, "tools": [tool]}));
        let (job_id, _) = app.start_scan(&project, json!({}));
        let detail: Value = app.wait_for_job(&project, job_id, SLOW);
        assert_eq!(detail["result_code"], code, "{detail}");
        let message = detail["result_msg"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{detail}");
    }
}

#[test]
fn ruff_with_fix_true_in_the_repository_reports_every_finding_and_changes_no_file() {
    if !has_tool("ruff") {
        return;
    }
    let app = TestApp::spawn_with_tools(&tools(&[("hasher", r#"["sha256sum", "main.py"]"#, "")]));
    let world = World::build(&app);
    let source = "import os\nimport sys\n\nprint(1)\n";
    commit(
        &world,
        &[
            (
                "pyproject.toml",
                "[tool.ruff]\nfix = true\nunsafe-fixes = true\n",
            ),
            ("main.py", source),
        ],
    );
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "fixer", "lint_enabled": true, "languages": ["python"],
               "tools": ["ruff", "hasher"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let unused = stored_rules(&app)
        .into_iter()
        .filter(|(rule, path)| rule == "F401" && path == "main.py")
        .count();
    assert_eq!(unused, 2, "both unused imports are findings");
    // The checkout the next tool saw is the committed file.
    let hasher = task_log(&app, &project, job_id, &detail["tasks"][2]["id"]);
    let expected = sha256_hex(source.as_bytes());
    assert!(hasher.contains(&expected), "main.py changed:\n{hasher}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    let output = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}

/// A server that does not run as root confines its tools too: the supervisor makes a user
/// namespace to own the PID and network namespaces. Run here as `nobody` through `setpriv`.
#[test]
fn an_unprivileged_supervisor_confines_its_tool_with_a_user_namespace() {
    if !nix_is_root() {
        eprintln!("note: not root, so this test cannot become another user; skipped");
        return;
    }
    use std::os::unix::fs::chown;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (checkout, scratch, secret) = (root.join("ck"), root.join("scratch"), root.join("secret"));
    for path in [&checkout, &scratch] {
        std::fs::create_dir_all(path).unwrap();
    }
    std::fs::write(checkout.join("a.txt"), "committed\n").unwrap();
    std::fs::write(&secret, "token\n").unwrap();
    let helper = root.join("codepup");
    std::fs::copy(env!("CARGO_BIN_EXE_codepup"), &helper).unwrap();
    for path in [
        root,
        &checkout,
        &scratch,
        &secret,
        &helper,
        &checkout.join("a.txt"),
    ] {
        chown(path, Some(65534), Some(65534)).unwrap();
    }
    let script = format!(
        "echo pid $$; id -u; cat a.txt; cat {secret} || echo secret-refused; \
         echo x > {scratch}/w && echo scratch-written; echo x > a.txt || echo checkout-refused",
        secret = secret.display(),
        scratch = scratch.display()
    );
    let report = root.join("report.json");
    let spec = json!({
        "program": "/bin/sh", "args": ["-c", script], "cwd": checkout,
        "env": [["PATH", "/usr/bin:/bin"]],
        "read": ["/usr", "/lib", "/lib64", "/bin", "/proc", checkout],
        "write": [scratch], "network": false,
        "limits": {"memory_mb": 1024, "cpu_seconds": 10, "processes": 64, "file_size_mb": 10,
                   "open_files": 256, "wall_seconds": 60},
        "user": null, "require_landlock": true, "report": report,
        "output": {"stdout": 1 << 20, "stderr": 1 << 20, "stdout_is_log": true},
    });
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&helper)
        .arg("sandbox-exec")
        .arg(spec.to_string())
        .output()
        .expect("setpriv (util-linux) runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["code"], 0, "{report} {stdout}");
    for layer in ["pid-namespace", "network-namespace", "landlock"] {
        assert!(
            report["confined_by"]
                .as_array()
                .unwrap()
                .contains(&json!(layer)),
            "{report}"
        );
    }
    // The tool is PID 2: PID 1 is codepup's own init.
    for line in [
        "pid 2",
        "65534",
        "committed",
        "secret-refused",
        "scratch-written",
        "checkout-refused",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line}: {stdout}");
    }
    assert_eq!(
        std::fs::read_to_string(checkout.join("a.txt")).unwrap(),
        "committed\n"
    );
}

/// The process limit counts one tool run's processes: a tool that forks until its limit stops
/// it does not leave another job's tool, running as the same user, unable to start a process.
#[test]
fn one_tools_fork_bomb_does_not_starve_another_jobs_tool() {
    let sleeper = marker(654);
    let bomb = format!(
        "import os, time\nn = 0\ntry:\n    while n < 2000:\n        if os.fork() == 0:\n            os.execv('/bin/sleep', ['sleep', '{sleeper}'])\n        n += 1\nexcept OSError:\n    pass\nprint('bomb made', n)\ntime.sleep(30)\n"
    );
    let forker = "import os\nn = 0\nfor _ in range(20):\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n    os.waitpid(pid, 0)\n    n += 1\nprint('forked', n)\n";
    let app = TestApp::spawn_with_tools(&format!(
        "[limits]\nprocesses = 64\n{}",
        tools(&[
            ("bomb", r#"["python3", "bomb.py"]"#, ""),
            ("forker", r#"["python3", "forker.py"]"#, ""),
        ])
    ));
    let world = World::build(&app);
    commit(&world, &[("bomb.py", &bomb), ("forker.py", forker)]);
    let bombing =
        world.project_with_scheme(&app, "main", json!({"name": "bomb", "tools": ["bomb"]}));
    let forking =
        world.project_with_scheme(&app, "main", json!({"name": "forker", "tools": ["forker"]}));
    let (bomb_job, _) = app.start_scan(&bombing, json!({}));
    assert!(
        eventually(SLOW, || process_count(&format!("sleep {sleeper}")) >= 50),
        "the bomb never reached its limit"
    );
    let (job_id, _) = app.start_scan(&forking, json!({}));
    let detail = app.wait_for_job(&forking, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &forking, job_id, &detail["tasks"][1]["id"]);
    assert!(log.contains("forked 20"), "{log}");
    app.post(
        &format!("{bombing}/jobs/{bomb_job}/cancel/"),
        crate::helpers::ADMIN_TOKEN,
        json!({}),
    )
    .expect(200);
    assert!(eventually(Duration::from_secs(5), || !process_running(
        &format!("sleep {sleeper}")
    )));
}

/// How many processes have `needle` in their command line.
fn process_count(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| {
            String::from_utf8_lossy(cmdline)
                .replace('\0', " ")
                .contains(needle)
        })
        .count()
}

/// A `tools.toml` command may name a script of the repository by a relative path: it is found
/// in the checkout (the tool's working directory) and runs confined like any tool.
#[test]
fn a_tool_command_may_run_a_script_of_the_repository_by_its_relative_path() {
    let app = TestApp::spawn_with_tools(&tools(&[("script", r#"["./check.sh"]"#, "")]));
    let world = World::build(&app);
    let script = world.repo_dir.join("check.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"ran in $(pwd) as $(id -u)\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    commit(&world, &[]);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "script", "tools": ["script"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(
        log.contains("ran in ") && log.contains("workspaces/job-"),
        "{log}"
    );
}

/// Scans run below the requests that queue them: the scan workers, and the tools they start, at
/// `scan_nice` (10 here), the server's other threads at the normal priority.
#[test]
fn scan_workers_and_their_tools_run_at_the_scan_niceness_and_requests_do_not() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "niceness",
        r#"["sh", "-c", "echo niceness=$(nice)"]"#,
        "",
    )]));
    let world = World::build(&app);
    commit(&world, &[("readme.txt", "scanned at a lower priority\n")]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "niceness", "tools": ["niceness"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let log = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    let niceness = |stat: &str| -> i64 {
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        fields[16].parse().unwrap()
    };
    // Niceness adds to what the server inherited (0 unless the tests run under `nice`).
    let own = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let scans = (niceness(&own) + 10).min(19);
    assert!(log.contains(&format!("niceness={scans}")), "{log}");
    let mut workers = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue; // the thread ended
        };
        if stat.contains("(scan-worker-") {
            workers += 1;
            assert_eq!(niceness(&stat), scans, "{stat}");
        }
    }
    assert!(workers >= 2, "the app's two scan workers were not found");
}

/// A report too large to read fails its task instead of filling the server's memory.
#[test]
fn a_report_over_256_mib_fails_its_task_and_the_server_reads_none_of_it() {
    let app = TestApp::spawn_with_tools(&tools(&[(
        "flood",
        r#"["head", "-c", "269484032", "/dev/zero"]"#,
        "format = \"sarif\"",
    )]));
    let world = World::build(&app);
    let project =
        world.project_with_scheme(&app, "main", json!({"name": "flood", "tools": ["flood"]}));
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 211, "{detail}");
    assert!(
        detail["result_msg"]
            .as_str()
            .unwrap()
            .contains("over the 256 MiB codepup reads"),
        "{detail}"
    );
}

/// A tool may leave links in its scratch directory; the server never follows them: not to
/// hand a directory to the tool user when it makes the scratch space for the next tool, nor to
/// read a report.
#[test]
fn links_a_tool_leaves_in_its_scratch_space_never_lead_the_server_out_of_it() {
    // The tool learns the logs directory's path from its command line: the worst case.
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("data").join("logs");
    let app = TestApp::spawn_with(|config| {
        config.data_dir = logs.parent().unwrap().to_path_buf();
        let tools_file = dir.path().join("tools.toml");
        let link = format!(
            "[\"sh\", \"-c\", \"rm -rf \\\"$HOME\\\" && ln -s {} \\\"$HOME\\\" && echo linked\"]",
            logs.display()
        );
        std::fs::write(
            &tools_file,
            tools(&[("linker", &link, ""), ("after", r#"["true"]"#, "")]),
        )
        .unwrap();
        config.tools_file = Some(tools_file);
    });
    let world = World::build(&app);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "links", "tools": ["linker", "after"]}),
    );
    use std::os::unix::fs::MetadataExt;
    let before = std::fs::metadata(&logs).unwrap();
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 0, "{detail}");
    let linker = task_log(&app, &project, job_id, &detail["tasks"][1]["id"]);
    assert!(linker.contains("linked"), "{linker}");
    let after = std::fs::metadata(&logs).unwrap();
    assert_eq!(
        (after.uid(), after.gid(), after.mode()),
        (before.uid(), before.gid(), before.mode()),
        "the logs directory changed hands"
    );
}

/// pylint's `init-hook` plants a link to the admin token where pylint's report goes, and exits
/// before writing one: the server must not read the token as the report.
#[test]
fn a_link_planted_where_a_report_goes_is_not_read() {
    if !has_tool("pylint") {
        return;
    }
    let app = TestApp::spawn();
    let world = World::build(&app);
    let token = app.data_dir().join("admin.token");
    let rc = format!(
        "[MAIN]\ninit-hook=import os; os.symlink(\"{}\", os.path.join(os.environ[\"TMPDIR\"], \"pylint-report.json\")); os._exit(1)\n",
        token.display()
    );
    commit(&world, &[(".pylintrc", &rc), ("a.py", "x = 1\n")]);
    let project = world.project_with_scheme(
        &app,
        "main",
        json!({"name": "planted", "lint_enabled": true, "languages": ["python"],
               "tools": ["pylint"]}),
    );
    let (job_id, _) = app.start_scan(&project, json!({}));
    let detail = app.wait_for_job(&project, job_id, SLOW);
    assert_eq!(detail["result_code"], 211, "{detail}");
    let message = detail["result_msg"].as_str().unwrap();
    assert!(message.contains("printed nothing"), "{detail}");
}
